"""The export formats: name → writer module (imported only when that format is exported), file extension."""

from importlib import import_module

# name: (module, extension of a single-file result, what it is)
FORMATS = {
    "json": ("json_native", "json", "Quorum JSON: tasks with data, annotations, consensus, predictions"),
    "jsonl": ("jsonl", "jsonl", "Quorum JSON Lines, one task per line"),
    "csv": ("csv_table", "csv", "one row per task"),
    "label_studio": ("label_studio", "json", "Label Studio JSON export (re-importable)"),
    "coco": ("coco", "json", "COCO object detection (boxes and polygons)"),
    "voc": ("voc", "zip", "Pascal VOC XML, one file per image"),
    "yolo": ("yolo", "zip", "YOLO: classes.txt, labels/<split>/*.txt, data.yaml"),
    "conll2003": ("conll", "conll", "CoNLL-2003 BIO tags for spans"),
    "spacy": ("spacy_docbin", "spacy", "spaCy DocBin of span annotations"),
    "parquet": ("parquet", "parquet", "Hugging Face datasets-compatible Parquet"),
    "tfrecord": ("tfrecord", "tfrecord", "TFRecord of tf.train.Example"),
}


# Formats that can only carry some control types: the export is refused (400) for a schema without one.
NEEDS = {
    "coco": {"bbox", "polygon"}, "voc": {"bbox", "polygon"}, "yolo": {"bbox", "polygon"},
    "conll2003": {"spans"}, "spacy": {"spans", "choices"},
}


def unfit(name: str, spec) -> str | None:
    """Why the format cannot carry this (compiled) spec's labels, or None."""
    needs = NEEDS.get(name)
    if needs and not any(control.type in needs for control in spec.controls.values()):
        return f"the {name} format needs a {' or '.join(sorted(needs))} control, and this schema has none"
    return None


def writer(name: str):
    """The writer module of a format (its heavy libraries load only now)."""
    module, _, _ = FORMATS[name]
    return import_module(f"{__name__}.{module}")

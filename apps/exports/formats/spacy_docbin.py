"""spaCy DocBin files of a snapshot's text spans and document choices, ready for `spacy train`.

Each task is one `Doc` of the text field, tokenized by `spacy.blank(options.extra.get("lang", "en"))` (no model is
loaded). Every span of every spans control over that field is kept in `doc.spans["sc"]` (one span per label, so
overlaps survive); `doc.ents` gets the non-overlapping subset `spacy.util.filter_spans` picks (the longer wins,
then the earlier), first label only. Character offsets that fall inside tokens are expanded to whole tokens.
Whole-task choices go to `doc.cats` (1.0 for chosen labels, 0.0 for the others of the control; with several choices
controls the keys are `<control>:<label>`). `doc.user_data["task_id"]` names the task.

One file per split (`train.spacy`…, `export.spacy` without splits). A DocBin is serialized whole, so a split is
cut into files of `options.extra["docs_per_file"]` docs (default 10,000) to bound memory: a split that needs
more than one is written as `train-000.spacy`, `train-001.spacy`… (spaCy reads a directory of them as one corpus).
"""

from collections.abc import Iterable

import spacy
from spacy.tokens import DocBin
from spacy.util import filter_spans

from apps.exports.formats.conll import spans_of, text_span_controls
from apps.exports.records import Options, Output, Record
from apps.projects.label_spec import compile_spec

DOCS_PER_FILE = 10_000


def _choice_controls(spec) -> list:
    return [c for c in compile_spec(spec).controls.values() if c.type == "choices" and not c.per_region]


def _label_order(spec, control) -> list[str]:
    """A control's selectable labels in the order the spec lists them (depth first for a tree)."""
    raw = compile_spec(spec).spec["controls"][control.name].get("labels", [])
    order, stack = [], list(reversed(raw))
    while stack:
        label = stack.pop()
        if label["value"] in control.labels:
            order.append(label["value"])
        stack.extend(reversed(label.get("children") or []))
    return order


def _chosen(result: list, control) -> set[str]:
    """The labels a result picks with a whole-task choices control (a path counts as its last step)."""
    picked = set()
    for item in result or ():
        if not isinstance(item, dict) or item.get("from_name") != control.name:
            continue
        for entry in (item.get("value") or {}).get(control.label_key) or []:
            picked.add(entry[-1] if isinstance(entry, list) and entry else entry)
    return {label for label in picked if isinstance(label, str)}


def _text_field(spans, choices) -> str:
    if spans:
        return spans[0].field
    for control in choices:
        if control.target in ("text", None):
            return control.field
    raise ValueError("a spaCy DocBin needs a spans or choices control over a text field")


class _Split:
    """The docs of one split, written out `limit` at a time."""

    def __init__(self, name: str, output: Output, limit: int):
        self.name, self.output, self.limit = name, output, limit
        self.docs = DocBin(store_user_data=True)
        self.files = 0

    def add(self, doc) -> None:
        if len(self.docs) >= self.limit:  # only now is it known that the split needs several files
            self._flush(f"{self.name}-{self.files:03d}.spacy")
        self.docs.add(doc)

    def _flush(self, name: str) -> None:
        self.output.write(name, self.docs.to_bytes())
        self.docs = DocBin(store_user_data=True)
        self.files += 1

    def close(self) -> None:
        self._flush(f"{self.name}.spacy" if self.files == 0 else f"{self.name}-{self.files:03d}.spacy")


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    nlp = spacy.blank(options.extra.get("lang", "en"))
    limit = int(options.extra.get("docs_per_file", DOCS_PER_FILE))
    spans_controls, choice_controls = text_span_controls(spec), _choice_controls(spec)
    field = _text_field(spans_controls, choice_controls)
    spans_controls = [c for c in spans_controls if c.field == field]
    categories = [(c, _label_order(spec, c)) for c in choice_controls]
    prefixed = len(categories) > 1
    splits: dict[str, _Split] = {}
    counts = {"docs": 0, "ents": 0, "spans": 0, "splits": {}}
    for record in records:
        text = record.data.get(field)
        doc = nlp.make_doc(text if isinstance(text, str) else "")
        group = []
        for control in spans_controls:
            for start, end, labels in spans_of(record.result, control, doc.text):
                for label in labels:
                    span = doc.char_span(start, end, label=label, alignment_mode="expand")
                    if span is not None:
                        group.append((span, label == labels[0]))
        group.sort(key=lambda pair: (pair[0].start_char, pair[0].end_char, pair[0].label_))
        doc.spans["sc"] = [span for span, _ in group]
        doc.ents = filter_spans([span for span, first in group if first])
        for control, labels in categories:
            chosen = _chosen(record.result, control)
            for label in labels:
                doc.cats[f"{control.name}:{label}" if prefixed else label] = 1.0 if label in chosen else 0.0
        doc.user_data["task_id"] = record.task_id
        name = record.split or "export"
        if name not in splits:
            splits[name] = _Split(name, output, limit)
        splits[name].add(doc)
        counts["docs"] += 1
        counts["ents"] += len(doc.ents)
        counts["spans"] += len(group)
        counts["splits"][name] = counts["splits"].get(name, 0) + 1
    if not splits:
        splits["export"] = _Split("export", output, limit)
    for split in splits.values():
        split.close()
    return counts


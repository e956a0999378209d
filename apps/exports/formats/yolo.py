"""YOLO export (Ultralytics layout): `classes.txt`, `labels/<split>/<stem>.txt`, `data.yaml`.

* `classes.txt`: one label per line, the box and polygon labels in the spec's order; a line's class is its
  0-based index there.
* `labels/<split>/<stem>.txt`, one per image (empty for an image without regions), one line per region and label
  in result order, numbers normalized to 0..1 with 6 decimals. Records without a split go to `train`.
  By default (`options.extra["yolo_task"] = "detect"`) every region is a box line
  `class x_center y_center width height`: polygons and rotated boxes give the axis-aligned box around their
  points. With `"segment"`, every region is a polygon line `class x1 y1 x2 y2 …` (YOLO segmentation; boxes as
  their four corners clockwise from the top-left), since Ultralytics reads a file as all boxes or all polygons.
* `data.yaml`: `path: .`, `train`/`val`/`test: images/<split>` for the splits present, `nc`, `names`.
* With `include_media`, the images go under `images/<split>/<stem>.<ext>`, next to their label files' names.
* `<stem>` is `<task id>_<the image's base name without extension>` (coco.stem).

Normalized coordinates are the percent values / 100, so only rotated boxes need the image's pixel size (where
from: see coco.py); a task with a rotated box and no known size is left out (`skipped_no_size`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from apps.exports.formats.coco import (
    ImageLayout,
    check_media_options,
    copy_media,
    image_size,
    split_name,
    stem,
)
from apps.exports.records import Options, Output, Record

TASKS = ("detect", "segment")
SPLIT_ORDER = ("train", "val", "test")


def _number(value: float) -> str:
    return f"{value:.6f}"


def _line(class_index: int, shape, task: str) -> str:
    if task == "segment":
        numbers = [coordinate for point in shape.points for coordinate in point]
    else:
        x_min, y_min, x_max, y_max = shape.bounds()
        numbers = [(x_min + x_max) / 2, (y_min + y_max) / 2, x_max - x_min, y_max - y_min]
    return " ".join([str(class_index), *map(_number, numbers)])


def _yaml_string(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar.
    return json.dumps(value, ensure_ascii=False)


def data_yaml(splits: Iterable[str], names: list[str]) -> bytes:
    lines = ["path: ."]
    lines += [f"{split}: {_yaml_string(f'images/{split}')}" if split not in SPLIT_ORDER
              else f"{split}: images/{split}" for split in splits]
    lines.append(f"nc: {len(names)}")
    lines.append("names:" if names else "names: {}")
    lines += [f"  {index}: {_yaml_string(name)}" for index, name in enumerate(names)]
    return ("\n".join(lines) + "\n").encode()


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    task = (options.extra or {}).get("yolo_task", "detect")
    if task not in TASKS:
        raise ValueError(f"yolo_task is one of {', '.join(TASKS)}, not {task!r}")
    layout = ImageLayout(spec)
    check_media_options(options)
    class_of = {label: index for index, label in enumerate(layout.labels)}
    counts = {"images": 0, "labels": 0, "skipped_no_image": 0, "skipped_no_size": 0, "regions_ignored": 0,
              "media": 0, "media_missing": 0}
    splits: set[str] = set()
    for record in records:
        reference = layout.reference(record)
        if reference is None:
            counts["skipped_no_image"] += 1
            continue
        size = None
        if layout.needs_size(record.result):
            size = image_size(record, reference, options)
            if size is None:
                counts["skipped_no_size"] += 1
                continue
        split = split_name(record.split, "train")
        splits.add(split)
        name = stem(record.task_id, reference)
        if options.include_media:
            copied = copy_media(output, f"images/{split}", name, reference, options)
            counts["media" if copied else "media_missing"] += 1
        regions = layout.regions(record.result, size)
        counts["regions_ignored"] += regions.ignored
        counts["labels"] += len(regions.shapes)
        lines = "".join(_line(class_of[shape.label], shape, task) + "\n" for shape in regions.shapes)
        output.write(f"labels/{split}/{name}.txt", lines.encode())
        counts["images"] += 1
    output.write("classes.txt", "".join(f"{label}\n" for label in layout.labels).encode())
    ordered = [split for split in SPLIT_ORDER if split in splits] + sorted(splits - set(SPLIT_ORDER))
    output.write("data.yaml", data_yaml(ordered or ["train"], layout.labels))
    return counts

"""Pascal VOC export: one `Annotations/<stem>.xml` per image, `ImageSets/Main/<split>.txt` listing the stems.

* `<stem>` is `<task id>_<the image's base name without extension>` (coco.stem).
* Each XML: `folder` (JPEGImages), `filename` (the copied image's name, or the reference's base name without
  media), `path` (the task's image reference as stored), `source/database` (Quorum), `size`
  {width, height, depth 3}, `segmented` 0, then one `object` per region and label in result order:
  `name`, `pose` Unspecified, `truncated` 0, `difficult` 0, `bndbox` {xmin, ymin, xmax, ymax} in whole pixels
  (rounded half up, 0-based edges, clipped to the image). Polygons and rotated boxes give the axis-aligned box around
  their points.
* The split file is the record's split, or `default.txt` without one.
* With `include_media`, the images go under `JPEGImages/<stem>.<ext>`.
Tasks without an image or a size are left out and counted, as in coco.py, which also says where sizes come from.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from apps.exports.formats.coco import (
    ImageLayout,
    basename,
    check_media_options,
    copy_media,
    image_size,
    split_name,
    stem,
)
from apps.exports.records import Options, Output, Record

MEDIA_FOLDER = "JPEGImages"
# Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value) -> str:
    return _NOT_XML.sub("", str(value))


def _add(parent: ET.Element, tag: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = _text(text)
    return element


def _pixel(fraction: float, limit: int) -> int:
    return min(max(math.floor(fraction * limit + 0.5), 0), limit)  # half up, as people round


def _document(*, filename: str, reference: str, width: int, height: int, shapes) -> bytes:
    root = ET.Element("annotation")
    _add(root, "folder", MEDIA_FOLDER)
    _add(root, "filename", filename)
    _add(root, "path", reference)
    _add(_add(root, "source"), "database", "Quorum")
    size = _add(root, "size")
    _add(size, "width", width)
    _add(size, "height", height)
    _add(size, "depth", 3)
    _add(root, "segmented", 0)
    for shape in shapes:
        x_min, y_min, x_max, y_max = shape.bounds()
        element = _add(root, "object")
        _add(element, "name", shape.label)
        _add(element, "pose", "Unspecified")
        _add(element, "truncated", 0)
        _add(element, "difficult", 0)
        box = _add(element, "bndbox")
        _add(box, "xmin", _pixel(x_min, width))
        _add(box, "ymin", _pixel(y_min, height))
        _add(box, "xmax", _pixel(x_max, width))
        _add(box, "ymax", _pixel(y_max, height))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode").encode() + b"\n"


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    layout = ImageLayout(spec)
    check_media_options(options)
    counts = {"images": 0, "objects": 0, "skipped_no_image": 0, "skipped_no_size": 0, "regions_ignored": 0,
              "media": 0, "media_missing": 0}
    for record in records:
        reference = layout.reference(record)
        if reference is None:
            counts["skipped_no_image"] += 1
            continue
        size = image_size(record, reference, options)
        if size is None:
            counts["skipped_no_size"] += 1
            continue
        name = stem(record.task_id, reference)
        filename = basename(reference) or name
        if options.include_media:
            copied = copy_media(output, MEDIA_FOLDER, name, reference, options)
            counts["media" if copied else "media_missing"] += 1
            if copied:
                filename = copied.rsplit("/", 1)[-1]
        regions = layout.regions(record.result, size)
        counts["regions_ignored"] += regions.ignored
        counts["objects"] += len(regions.shapes)
        width, height = round(size[0]), round(size[1])
        output.write(f"Annotations/{name}.xml",
                     _document(filename=filename, reference=reference, width=width, height=height,
                               shapes=regions.shapes))
        output.write(f"ImageSets/Main/{split_name(record.split, 'default')}.txt", f"{name}\n".encode())
        counts["images"] += 1
    return counts

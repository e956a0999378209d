"""COCO object detection export: `export.json` with images, box and polygon annotations and categories.

Also the home of what the three image formats (COCO, Pascal VOC, YOLO) share: which image of a task the boxes
and polygons are drawn on, its size in pixels, its regions as shapes, the file names made from its reference
and the copy of its bytes into the archive. (voc.py and yolo.py import these; they would move to a module of
their own if a fourth image format came.)

What `export.json` holds, and the choices made:

* `images`: `{id, file_name, width, height}` (+ `split` when the snapshot has one). The id is the task id.
  `file_name` is the task's image reference (URL or storage key) as stored, or, with `include_media`, the
  archive path of the copied image (`images/<task id>_<name>.<ext>`; the result is then a zip with
  `export.json` at its root). An image whose bytes `options.media` cannot give keeps its reference and is
  counted in `media_missing`; `include_media` without `options.media` is a ValueError.
* `annotations`: one per labelled region and label (a region with two labels gives two), ids from 1 in record
  order. `bbox` is `[x, y, width, height]` in pixels, `segmentation` is always one polygon of flattened pixel
  points: a polygon's own points, a box's four corners clockwise from its top-left as drawn (so every
  annotation has a mask, and `annToMask` works on boxes too). `area` is the area of that polygon.
  A rotated box (Label Studio turns it clockwise about its top-left corner) gives the axis-aligned box around
  its four corners as `bbox`, the rotated corners as `segmentation` and `attributes.rotation` in degrees.
  Per-region classifications (choices, textarea, rating with `per_region`) go in `attributes` by control name.
  Pixel values are rounded to 3 decimals and clipped to the image.
* `categories`: the labels of the box and polygon controls in the spec's order (a label shared by two
  controls is one category), ids from 1.
* Keypoints, and regions drawn on a second image object of the same task, are not exported (counted in
  `regions_ignored`). A task without an image reference, or whose size cannot be found, is left out and
  counted (`skipped_no_image`, `skipped_no_size`).

Image size, per task: `original_width`/`original_height` of any result item, else the task meta's
`width`/`height` (or `image_width`/`image_height`), else `options.image_size(reference)`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from apps.exports.records import Batched, Options, Output, Record
from apps.projects.label_spec import compile_spec

DRAWING_TYPES = ("bbox", "polygon")  # controls whose regions these formats carry
# Result types of per-region classifications, and where their value sits.
ATTRIBUTE_KEYS = {"choices": "choices", "taxonomy": "taxonomy", "textarea": "text", "rating": "rating"}
SPOOL_BYTES = 8 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,5}")
MAX_STEM_NAME = 64
# The magic numbers of the image types an export may carry, for references without an extension (/media/12).
_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


# --- what the image formats share --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A labelled region in fractions of the image (0..1, x to the right, y down), clipped to it."""

    label: str
    kind: str  # "box" | "polygon"
    points: tuple[tuple[float, float], ...]  # a box: its 4 corners clockwise from the top-left as drawn
    rotation: float = 0.0  # degrees, boxes only
    attributes: dict = field(default_factory=dict)

    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of the points."""
        xs = [x for x, _ in self.points]
        ys = [y for _, y in self.points]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Regions:
    shapes: list[Shape]
    ignored: int  # keypoints, regions on another image object, labels the spec does not have


class ImageLayout:
    """What the image formats take from a label spec: the image object boxes and polygons are drawn on, the
    task data key holding its reference, those controls and the category names in the spec's order."""

    def __init__(self, spec):
        compiled = compile_spec(spec)
        drawing = [control for control in compiled.controls.values() if control.type in DRAWING_TYPES]
        data = compiled.spec.get("data", {})
        if drawing:
            self.to = drawing[0].to
        else:
            self.to = next((name for name, entry in data.items() if entry.get("type") == "image"), None)
        self.field = data.get(self.to, {}).get("field", self.to) if self.to else None
        self.controls = {control.name: control for control in drawing if control.to == self.to}
        labels: dict[str, None] = {}
        for name in self.controls:
            for label in compiled.spec["controls"][name].get("labels", []):
                labels.setdefault(label["value"], None)
        self.labels = list(labels)
        self._known = frozenset(self.labels)

    def reference(self, record: Record) -> str | None:
        """The task's image: a URL or a storage key."""
        value = record.data.get(self.field) if self.field and isinstance(record.data, dict) else None
        return value if isinstance(value, str) and value else None

    def needs_size(self, result: list) -> bool:
        """Whether a region needs the pixel size to be placed (a rotated box: percent of the width and of the
        height differ in scale)."""
        return any(_rotation(item.get("value") or {}) for item in self._drawn(result))

    def regions(self, result: list, size: tuple[float, float] | None) -> Regions:
        """The task's boxes and polygons as shapes, in result order (`size` is needed for rotated boxes)."""
        result = [item for item in result or () if isinstance(item, dict)]
        drawn = list(self._drawn(result))
        ids = {item["id"] for item in drawn if isinstance(item.get("id"), str)}
        attributes: dict[str, dict] = {}
        for item in result:
            key = ATTRIBUTE_KEYS.get(item.get("type"))
            if key and item.get("id") in ids and isinstance(item.get("value"), dict) and key in item["value"]:
                attributes.setdefault(item["id"], {})[str(item.get("from_name"))] = item["value"][key]
        ignored = sum(1 for item in result if _is_region(item)) - len(drawn)
        shapes = []
        for item in drawn:
            control = self.controls[item["from_name"]]
            value = item["value"]
            labels = value.get(control.label_key) or []
            for label in labels:
                if label not in self._known:
                    ignored += 1
                    continue
                extra = dict(attributes.get(item.get("id"), {}))
                if control.type == "bbox":
                    rotation = _rotation(value)
                    if rotation:
                        extra["rotation"] = value.get("rotation")
                    shapes.append(Shape(label, "box", _box_corners(value, size), rotation, extra))
                else:
                    points = tuple((_clip(x / 100), _clip(y / 100)) for x, y in value["points"])
                    shapes.append(Shape(label, "polygon", points, 0.0, extra))
        return Regions(shapes, ignored)

    def _drawn(self, result):
        for item in result or ():
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                continue
            control = self.controls.get(item.get("from_name"))
            if control is None or item.get("type") != control.result_type:
                continue
            if item.get("to_name", self.to) != self.to:
                continue
            yield item


def _is_region(item: dict) -> bool:
    return isinstance(item, dict) and str(item.get("type", "")).endswith("labels")


def _rotation(value: dict) -> float:
    rotation = value.get("rotation") or 0
    return float(rotation % 360) if isinstance(rotation, int | float) else 0.0


def _clip(fraction: float) -> float:
    # Written so that -0.0 becomes 0.0 (the same bytes for the same box).
    return 0.0 if fraction <= 0 else 1.0 if fraction >= 1 else float(fraction)


def _box_corners(value: dict, size: tuple[float, float] | None) -> tuple[tuple[float, float], ...]:
    x, y, w, h = value["x"] / 100, value["y"] / 100, value["width"] / 100, value["height"] / 100
    rotation = _rotation(value)
    if not rotation:
        corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    else:
        if size is None:
            raise ValueError("a rotated box needs the image size")
        width, height = size
        angle = math.radians(rotation)
        cos, sin = math.cos(angle), math.sin(angle)
        pw, ph = w * width, h * height
        # In pixels about the top-left corner; y grows downwards, so this turns clockwise as seen.
        corners = tuple((x + (dx * cos - dy * sin) / width, y + (dx * sin + dy * cos) / height)
                        for dx, dy in ((0, 0), (pw, 0), (pw, ph), (0, ph)))
    return tuple((_clip(cx), _clip(cy)) for cx, cy in corners)


def _positive(value) -> float | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return value
    return None


def _pair(width, height) -> tuple[float, float] | None:
    width, height = _positive(width), _positive(height)
    return (width, height) if width and height else None


def image_size(record: Record, reference: str | None, options: Options) -> tuple[float, float] | None:
    """The image's (width, height) in pixels: from the result, else the task meta, else the stored image."""
    for item in record.result or ():
        if isinstance(item, dict) and (size := _pair(item.get("original_width"), item.get("original_height"))):
            return size
    meta = record.meta if isinstance(record.meta, dict) else {}
    for width_key, height_key in (("width", "height"), ("image_width", "image_height")):
        if size := _pair(meta.get(width_key), meta.get(height_key)):
            return size
    if reference and options.image_size is not None:
        found = options.image_size(reference)
        if found:
            return _pair(*found)
    return None


def basename(reference: str) -> str:
    """The last part of a reference's path (URL-decoded for URLs)."""
    path = unquote(urlsplit(reference).path) if "://" in reference else reference.split("?", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]


def stem(task_id: int, reference: str | None) -> str:
    """A safe, unique file stem for a task's image: `<task id>_<its base name without extension>`."""
    name = basename(reference or "")
    base, dot, extension = name.rpartition(".")
    name = base if dot and base else name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).strip("._-")[:MAX_STEM_NAME].rstrip("._-")
    return f"{task_id}_{safe}" if safe else str(task_id)


def extension(reference: str, content: bytes) -> str:
    """The image's file extension: from its reference, else from its first bytes, else none."""
    name = basename(reference)
    if "." in name:
        suffix = "." + name.rsplit(".", 1)[1].lower()
        if _EXTENSION.fullmatch(suffix):
            return ".jpg" if suffix == ".jpeg" else suffix
    for magic, suffix in _MAGIC:
        if content.startswith(magic):
            return suffix
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return ".webp"
    return ""


def split_name(split: str, default: str) -> str:
    """A record's split as a file or folder name."""
    return _UNSAFE.sub("_", split).strip("._-") or default


def check_media_options(options: Options) -> None:
    if options.include_media and options.media is None:
        raise ValueError("include_media needs options.media to read the images")


def copy_media(output: Output, folder: str, stem_: str, reference: str, options: Options) -> str | None:
    """Copies the task's image into the archive as `<folder>/<stem><ext>`; its name, or None without bytes."""
    content = options.media(reference)
    if not content:
        return None
    content = bytes(content)
    name = f"{folder}/{stem_}{extension(reference, content)}"
    output.write(name, content)
    return name


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# --- COCO ----------------------------------------------------------------------------------------------------


def _pixels(value: float) -> float:
    value = round(value, 3)
    return value + 0.0  # -0.0 → 0.0


def _polygon_area(points: list[tuple[float, float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


class _Array:
    """A JSON array written item by item into a spooled temporary file."""

    def __init__(self):
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.batch = Batched(self.file)
        self.count = 0

    def add(self, item: dict) -> None:
        self.batch.write((b",\n" if self.count else b"\n") + dumps(item))
        self.count += 1

    def copy_to(self, out) -> None:
        self.batch.flush()
        self.file.seek(0)
        while chunk := self.file.read(1024 * 1024):
            out.write(chunk)
        out.write(b"\n" if self.count else b"")


def _info(options: Options) -> dict:
    year = int(options.created_at[:4]) if options.created_at[:4].isdigit() else None
    return {"description": options.project_name, "version": str(options.schema_version), "year": year,
            "contributor": "Quorum", "url": "", "date_created": options.created_at}


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    layout = ImageLayout(spec)
    check_media_options(options)
    category_ids = {label: index for index, label in enumerate(layout.labels, 1)}
    counts = {"images": 0, "annotations": 0, "skipped_no_image": 0, "skipped_no_size": 0, "regions_ignored": 0,
              "media": 0, "media_missing": 0}
    images, annotations = _Array(), _Array()
    try:
        for record in records:
            reference = layout.reference(record)
            if reference is None:
                counts["skipped_no_image"] += 1
                continue
            size = image_size(record, reference, options)
            if size is None:
                counts["skipped_no_size"] += 1
                continue
            width, height = size
            file_name = reference
            if options.include_media:
                copied = copy_media(output, "images", stem(record.task_id, reference), reference, options)
                counts["media" if copied else "media_missing"] += 1
                file_name = copied or reference
            image = {"id": record.task_id, "file_name": file_name, "width": round(width), "height": round(height)}
            if record.split:
                image["split"] = record.split
            images.add(image)
            regions = layout.regions(record.result, size)
            counts["regions_ignored"] += regions.ignored
            for shape in regions.shapes:
                # Rounded first, so that bbox, area and segmentation agree to the last digit.
                points = [(_pixels(x * width), _pixels(y * height)) for x, y in shape.points]
                xs, ys = [x for x, _ in points], [y for _, y in points]
                annotation = {
                    "id": annotations.count + 1,
                    "image_id": record.task_id,
                    "category_id": category_ids[shape.label],
                    "bbox": [min(xs), min(ys), _pixels(max(xs) - min(xs)), _pixels(max(ys) - min(ys))],
                    "area": _pixels(_polygon_area(points)),
                    "iscrowd": 0,
                    "segmentation": [[coordinate for point in points for coordinate in point]],
                }
                if shape.attributes:
                    annotation["attributes"] = shape.attributes
                annotations.add(annotation)
        counts["images"], counts["annotations"] = images.count, annotations.count
        categories = [{"id": index, "name": label, "supercategory": ""} for label, index in category_ids.items()]
        out = output.open("export.json")
        out.write(b'{"info":' + dumps(_info(options)) + b',"licenses":[],\n"images":[')
        images.copy_to(out)
        out.write(b'],\n"annotations":[')
        annotations.copy_to(out)
        out.write(b'],\n"categories":' + dumps(categories) + b"}\n")
    finally:
        images.file.close()
        annotations.file.close()
    return counts

"""The COCO, Pascal VOC and YOLO writers, read back with each format's own reader.

The quokka fixture holds one real image, its Label Studio regions (percent) and imgaug's own pixel annotations
of the same image, which the exported pixel geometry is checked against.
"""

import copy
import dataclasses
import io
import json
import math
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO

from apps.exports.formats import coco, voc, writer, yolo
from apps.exports.records import Options, Output, Record, records_of
from apps.projects.label_spec import SchemaMismatch, normalize_spec, validate_result

QUOKKA_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "quokka"
QUOKKA_IMAGE = QUOKKA_DIR / "quokka.jpg"
QUOKKA_RESULT = json.loads((QUOKKA_DIR / "annotations.json").read_text())
IMGAUG = json.loads((QUOKKA_DIR / "imgaug_quokka_annotations.json").read_text())
QUOKKA_SIZE = (960, 643)
KEYPOINT_NAMES = ["ear_tip_left", "ear_tip_right", "eye_left", "eye_right", "nose", "paw_left", "paw_right"]

SPEC = normalize_spec({
    "data": {"image": {"type": "image", "field": "img"}},
    "controls": {
        "box": {"type": "bbox", "to": "image", "multiple": True,
                "labels": [{"value": "quokka"}, {"value": "wallaby"}, {"value": "kangaroo"}]},
        "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}, {"value": "rock"}]},
        "keypoints": {"type": "keypoints", "to": "image", "labels": [{"value": name} for name in KEYPOINT_NAMES]},
        "age": {"type": "choices", "to": "image", "per_region": True,
                "labels": [{"value": "adult"}, {"value": "joey"}]},
    },
})
CATEGORIES = ["quokka", "wallaby", "kangaroo", "rock"]  # box labels, then the polygon's new one


def box(region_id, label, x, y, width, height, *, rotation=0, size=(1000, 500), labels=None):
    item = {"id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels",
            "value": {"x": x, "y": y, "width": width, "height": height, "rotation": rotation,
                      "rectanglelabels": labels or [label]}}
    if size:
        item["original_width"], item["original_height"] = size
    return item


def polygon(region_id, label, points, size=(1000, 500)):
    return {"id": region_id, "from_name": "polygon", "to_name": "image", "type": "polygonlabels",
            "original_width": size[0], "original_height": size[1],
            "value": {"points": points, "polygonlabels": [label]}}


def record(task_id, result, *, image="s3://bucket/photos/quokka.jpg", split="", meta=None):
    validate_result(SPEC, result, {"img": image})
    return Record(task_id=task_id, data={"img": image}, meta=meta or {}, split=split, result=result, chosen=None)


def synthetic():
    """Tasks with several boxes and labels over train and val, on a 1000×500 image."""
    return [
        record(11, [box("a", "quokka", 10, 20, 30, 40), box("b", "wallaby", 50, 50, 25, 10),
                    box("c", None, 0, 0, 100, 100, labels=["kangaroo", "quokka"])],
               image="https://cdn.example/a/one.png", split="train"),
        record(12, [box("d", "kangaroo", 12.5, 2.5, 5, 7.5),
                    polygon("e", "rock", [[60, 60], [80, 60], [80, 90], [60, 90]])],
               image="https://cdn.example/b/two.png?sig=x", split="val"),
        record(13, [], image="https://cdn.example/b/three.png", split="val", meta={"width": 1000, "height": 500}),
    ]


def quokka_record(task_id=5, *, sizes=True, split=""):
    result = copy.deepcopy(QUOKKA_RESULT)
    if not sizes:
        for item in result:
            del item["original_width"], item["original_height"]
    result.append({"id": "box0", "from_name": "age", "to_name": "image", "type": "choices",
                   "value": {**QUOKKA_RESULT[0]["value"], "choices": ["adult"]}})
    return record(task_id, result, image="/media/quokka.jpg", split=split)


def options(**overrides):
    return Options(project_id=1, project_name="Quokkas", schema_version=3, created_at="2024-05-01T00:00:00Z",
                   **overrides)


def export(module, records, **option_overrides):
    stream = io.BytesIO()
    output = Output(stream)
    counts = module.write(records_of(iter(records)), spec=SPEC, output=output, options=options(**option_overrides))
    kind = output.finish()
    return counts, kind, stream.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def load_coco(data: bytes, tmp_path) -> COCO:
    path = tmp_path / "export.json"
    path.write_bytes(data)
    return COCO(str(path))


def pillow_size(ref):
    assert ref == "/media/quokka.jpg"
    with Image.open(QUOKKA_IMAGE) as image:  # reads the header only
        return image.size


def quokka_media(ref):
    return QUOKKA_IMAGE.read_bytes() if ref == "/media/quokka.jpg" else None


# --- the registry -------------------------------------------------------------------------------------------


def test_the_registry_finds_the_writers():
    assert writer("coco") is coco and writer("voc") is voc and writer("yolo") is yolo


# --- COCO ----------------------------------------------------------------------------------------------------


def test_coco_quokka_matches_imgaugs_pixel_annotations(tmp_path):
    counts, kind, data = export(coco, [quokka_record()])
    assert kind == "file"
    assert counts["images"] == 1 and counts["annotations"] == 2
    assert counts["regions_ignored"] == 7  # the keypoints
    dataset = load_coco(data, tmp_path)
    assert dataset.getImgIds() == [5]
    assert dataset.loadImgs(5)[0] == {"id": 5, "file_name": "/media/quokka.jpg", "width": 960, "height": 643}
    assert [category["name"] for category in dataset.loadCats(dataset.getCatIds())] == CATEGORIES
    assert dataset.getCatIds() == [1, 2, 3, 4]
    box_ann, polygon_ann = dataset.loadAnns(dataset.getAnnIds(imgIds=[5]))
    assert (box_ann["id"], polygon_ann["id"]) == (1, 2)
    assert box_ann["category_id"] == polygon_ann["category_id"] == 1
    assert box_ann["iscrowd"] == polygon_ann["iscrowd"] == 0

    truth = IMGAUG["bounding_boxes"][0]
    x, y, width, height = box_ann["bbox"]
    assert (x, y, x + width, y + height) == pytest.approx((truth["x1"], truth["y1"], truth["x2"], truth["y2"]),
                                                          abs=0.01)
    assert box_ann["area"] == pytest.approx(402 * 592, abs=1)
    assert box_ann["segmentation"] == [pytest.approx([x, y, x + width, y, x + width, y + height, x, y + height])]
    assert box_ann["attributes"] == {"age": ["adult"]}

    points = [(point["x"], point["y"]) for point in IMGAUG["polygons"][0]["keypoints"]]
    flat = polygon_ann["segmentation"][0]
    assert list(zip(flat[::2], flat[1::2], strict=True)) == [pytest.approx(point, abs=0.01) for point in points]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert polygon_ann["bbox"] == pytest.approx([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)], abs=0.01)
    assert "attributes" not in polygon_ann

    for annotation in (box_ann, polygon_ann):
        mask = dataset.annToMask(annotation)
        assert mask.shape == (643, 960)
        assert mask.sum() == pytest.approx(annotation["area"], rel=0.01)


def test_coco_synthetic_tasks_ids_categories_and_labels(tmp_path):
    counts, _, data = export(coco, synthetic())
    assert counts == {"images": 3, "annotations": 6, "skipped_no_image": 0, "skipped_no_size": 0,
                      "regions_ignored": 0, "media": 0, "media_missing": 0}
    dataset = load_coco(data, tmp_path)
    assert dataset.getImgIds() == [11, 12, 13]
    assert [image["split"] for image in dataset.loadImgs([11, 12, 13])] == ["train", "val", "val"]
    assert dataset.getAnnIds(imgIds=[13]) == []  # a task without regions is still an image
    annotations = dataset.loadAnns(dataset.getAnnIds())
    assert [a["id"] for a in annotations] == [1, 2, 3, 4, 5, 6]
    names = {category["id"]: category["name"] for category in dataset.dataset["categories"]}
    assert [(a["image_id"], names[a["category_id"]]) for a in annotations] == [
        (11, "quokka"), (11, "wallaby"), (11, "kangaroo"), (11, "quokka"), (12, "kangaroo"), (12, "rock")]
    assert annotations[0]["bbox"] == [100, 100, 300, 200]
    assert annotations[0]["area"] == 60000
    assert annotations[2]["bbox"] == annotations[3]["bbox"] == [0, 0, 1000, 500]  # one region, two labels
    assert annotations[4]["bbox"] == pytest.approx([125, 12.5, 50, 37.5])
    assert annotations[5]["bbox"] == [600, 300, 200, 150]
    assert annotations[5]["area"] == 30000
    assert dataset.annToMask(annotations[5]).sum() == pytest.approx(30000, rel=0.02)
    assert dataset.dataset["info"]["year"] == 2024 and dataset.dataset["info"]["version"] == "3"


def test_coco_rotated_box_is_its_bounding_box_and_rotated_corners(tmp_path):
    # 100×100 px at (500, 50) turned 90° clockwise about its top-left corner covers x 400..500, y 50..150.
    rotated = box("r", "quokka", 50, 10, 10, 20, rotation=90)
    _, _, data = export(coco, [record(1, [rotated])])
    dataset = load_coco(data, tmp_path)
    (annotation,) = dataset.loadAnns(dataset.getAnnIds())
    assert annotation["bbox"] == pytest.approx([400, 50, 100, 100])
    assert annotation["segmentation"][0] == pytest.approx([500, 50, 500, 150, 400, 150, 400, 50])
    assert annotation["area"] == pytest.approx(10000)
    assert annotation["attributes"] == {"rotation": 90}
    # 45°: a 100×100 px square becomes a diamond 141 px wide, half of whose bounding box it fills.
    diamond = box("d", "quokka", 50, 10, 10, 20, rotation=45)
    _, _, data = export(coco, [record(1, [diamond])])
    (annotation,) = load_coco(data, tmp_path).dataset["annotations"]
    side = 100 * math.sqrt(2)
    assert annotation["bbox"] == pytest.approx([500 - side / 2, 50, side, side], abs=0.01)
    assert annotation["area"] == pytest.approx(10000, abs=0.1)  # from corners rounded to 0.001 px


def test_image_size_from_a_stored_image_header_with_pillow(tmp_path):
    unsized = quokka_record(sizes=False)
    counts, _, data = export(coco, [unsized])
    assert counts["skipped_no_size"] == 1 and counts["images"] == 0
    assert load_coco(data, tmp_path).getImgIds() == []

    counts, _, data = export(coco, [unsized], image_size=pillow_size)
    assert counts["skipped_no_size"] == 0 and counts["images"] == 1
    dataset = load_coco(data, tmp_path)
    image = dataset.loadImgs(5)[0]
    assert (image["width"], image["height"]) == QUOKKA_SIZE
    truth = IMGAUG["bounding_boxes"][0]
    assert dataset.loadAnns(1)[0]["bbox"][:2] == pytest.approx([truth["x1"], truth["y1"]], abs=0.01)

    # The task meta comes before the stored image.
    meta_sized = dataclasses.replace(unsized, meta={"image_width": 480, "image_height": 321})
    _, _, data = export(coco, [meta_sized], image_size=pillow_size)
    assert load_coco(data, tmp_path).loadImgs(5)[0]["width"] == 480


def test_coco_with_media_is_a_zip_with_the_image_under_images(tmp_path):
    counts, kind, data = export(coco, [quokka_record(), record(8, [], image="https://gone.example/x.jpg",
                                                               meta={"width": 10, "height": 10})],
                                include_media=True, media=quokka_media)
    assert kind == "zip"
    assert (counts["media"], counts["media_missing"]) == (1, 1)
    files = members(data)
    assert sorted(files) == ["export.json", "images/5_quokka.jpg"]
    assert files["images/5_quokka.jpg"] == QUOKKA_IMAGE.read_bytes()
    dataset = load_coco(files["export.json"], tmp_path)
    assert dataset.loadImgs(5)[0]["file_name"] == "images/5_quokka.jpg"
    assert dataset.loadImgs(8)[0]["file_name"] == "https://gone.example/x.jpg"  # no bytes: the reference stays
    with pytest.raises(ValueError, match="media"):
        export(coco, [quokka_record()], include_media=True)


# --- Pascal VOC ----------------------------------------------------------------------------------------------


def bndbox(element):
    box_element = element.find("bndbox")
    return tuple(int(box_element.find(tag).text) for tag in ("xmin", "ymin", "xmax", "ymax"))


def test_voc_one_file_per_image_with_pixel_boxes():
    counts, kind, data = export(voc, synthetic() + [quokka_record(split="train")])
    assert kind == "zip" and counts["images"] == 4 and counts["objects"] == 8
    files = members(data)
    assert sorted(files) == ["Annotations/11_one.xml", "Annotations/12_two.xml", "Annotations/13_three.xml",
                             "Annotations/5_quokka.xml", "ImageSets/Main/train.txt", "ImageSets/Main/val.txt"]
    assert files["ImageSets/Main/train.txt"] == b"11_one\n5_quokka\n"
    assert files["ImageSets/Main/val.txt"] == b"12_two\n13_three\n"

    root = ET.fromstring(files["Annotations/11_one.xml"])
    assert [child.tag for child in root][:7] == ["folder", "filename", "path", "source", "size", "segmented",
                                                 "object"]
    assert root.findtext("filename") == "one.png"
    assert root.findtext("path") == "https://cdn.example/a/one.png"
    assert [root.findtext(f"size/{tag}") for tag in ("width", "height", "depth")] == ["1000", "500", "3"]
    objects = root.findall("object")
    assert [obj.findtext("name") for obj in objects] == ["quokka", "wallaby", "kangaroo", "quokka"]
    assert [[child.tag for child in obj] for obj in objects][0] == ["name", "pose", "truncated", "difficult",
                                                                    "bndbox"]
    assert objects[0].findtext("pose") == "Unspecified" and objects[0].findtext("difficult") == "0"
    assert [bndbox(obj) for obj in objects] == [(100, 100, 400, 300), (500, 250, 750, 300), (0, 0, 1000, 500),
                                                (0, 0, 1000, 500)]
    two = ET.fromstring(files["Annotations/12_two.xml"])
    assert two.findtext("filename") == "two.png"
    assert [bndbox(obj) for obj in two.findall("object")] == [(125, 13, 175, 50), (600, 300, 800, 450)]
    assert ET.fromstring(files["Annotations/13_three.xml"]).findall("object") == []

    quokka = ET.fromstring(files["Annotations/5_quokka.xml"])
    truth = IMGAUG["bounding_boxes"][0]
    assert bndbox(quokka.findall("object")[0]) == (truth["x1"], truth["y1"], truth["x2"], truth["y2"])
    points = IMGAUG["polygons"][0]["keypoints"]
    assert bndbox(quokka.findall("object")[1]) == (min(p["x"] for p in points), min(p["y"] for p in points),
                                                   max(p["x"] for p in points), max(p["y"] for p in points))


def test_voc_clips_to_the_image_and_defaults_the_split():
    # A 45° box at the right edge: a corner at x 1020.7 px, which the validator refuses, so the record is
    # built by hand (older data, or a size that was wrong).
    rotated = box("r", "quokka", 95, 50, 10, 10, rotation=45, size=(1000, 500))
    with pytest.raises(SchemaMismatch, match="outside"):
        validate_result(SPEC, [rotated])
    tilted = Record(task_id=3, data={"img": "k/pic.jpeg"}, meta={}, split="", result=[rotated], chosen=None)
    _, _, data = export(voc, [tilted])
    files = members(data)
    assert files["ImageSets/Main/default.txt"] == b"3_pic\n"
    # Corners (950, 250), (1020.7, 320.7), (985.4, 356.1), (914.6, 285.4) px.
    assert bndbox(ET.fromstring(files["Annotations/3_pic.xml"]).find("object")) == (915, 250, 1000, 356)


def test_voc_with_media_under_jpegimages():
    _, _, data = export(voc, [quokka_record()], include_media=True, media=quokka_media)
    files = members(data)
    assert files["JPEGImages/5_quokka.jpg"] == QUOKKA_IMAGE.read_bytes()
    assert ET.fromstring(files["Annotations/5_quokka.xml"]).findtext("filename") == "5_quokka.jpg"


# --- YOLO ----------------------------------------------------------------------------------------------------


def parse_labels(text: bytes):
    lines = []
    for line in text.decode().splitlines():
        class_index, *numbers = line.split()
        assert all(len(number.split(".")[1]) == 6 for number in numbers)
        lines.append((int(class_index), [float(number) for number in numbers]))
    return lines


def test_yolo_layout_classes_labels_and_data_yaml():
    counts, kind, data = export(yolo, synthetic())
    assert kind == "zip" and counts["images"] == 3 and counts["labels"] == 6
    files = members(data)
    assert sorted(files) == ["classes.txt", "data.yaml", "labels/train/11_one.txt", "labels/val/12_two.txt",
                             "labels/val/13_three.txt"]
    assert files["classes.txt"].decode().splitlines() == CATEGORIES
    config = yaml.safe_load(files["data.yaml"])
    assert config == {"path": ".", "train": "images/train", "val": "images/val", "nc": 4,
                      "names": dict(enumerate(CATEGORIES))}
    assert files["labels/val/13_three.txt"] == b""  # a background image

    lines = parse_labels(files["labels/train/11_one.txt"])
    assert [CATEGORIES[index] for index, _ in lines] == ["quokka", "wallaby", "kangaroo", "quokka"]
    expected = [(10, 20, 30, 40), (50, 50, 25, 10), (0, 0, 100, 100), (0, 0, 100, 100)]
    for (_, numbers), (x, y, width, height) in zip(lines, expected, strict=True):
        assert all(0 <= number <= 1 for number in numbers)
        assert numbers == pytest.approx([(x + width / 2) / 100, (y + height / 2) / 100, width / 100, height / 100],
                                        abs=1e-6)
    lines = parse_labels(files["labels/val/12_two.txt"])
    assert lines[0] == (2, pytest.approx([0.15, 0.0625, 0.05, 0.075], abs=1e-6))
    assert lines[1] == (3, pytest.approx([0.7, 0.75, 0.2, 0.3], abs=1e-6))  # the polygon's box


def test_yolo_quokka_and_segment_mode():
    _, _, data = export(yolo, [quokka_record()])
    (box_line, polygon_box_line) = parse_labels(members(data)["labels/train/5_quokka.txt"])
    value = QUOKKA_RESULT[0]["value"]
    assert box_line == (0, pytest.approx([(value["x"] + value["width"] / 2) / 100,
                                          (value["y"] + value["height"] / 2) / 100,
                                          value["width"] / 100, value["height"] / 100], abs=1e-6))
    points = IMGAUG["polygons"][0]["keypoints"]
    x_min, x_max = min(p["x"] for p in points) / 960, max(p["x"] for p in points) / 960
    y_min, y_max = min(p["y"] for p in points) / 643, max(p["y"] for p in points) / 643
    assert polygon_box_line == (0, pytest.approx([(x_min + x_max) / 2, (y_min + y_max) / 2, x_max - x_min,
                                                  y_max - y_min], abs=2e-5))

    _, _, data = export(yolo, [quokka_record()], extra={"yolo_task": "segment"})
    box_line, polygon_line = parse_labels(members(data)["labels/train/5_quokka.txt"])
    x, y, w, h = (value[key] / 100 for key in ("x", "y", "width", "height"))
    assert box_line == (0, pytest.approx([x, y, x + w, y, x + w, y + h, x, y + h], abs=1e-6))
    points = QUOKKA_RESULT[1]["value"]["points"]
    assert polygon_line == (0, pytest.approx([c / 100 for point in points for c in point], abs=1e-6))
    with pytest.raises(ValueError, match="yolo_task"):
        export(yolo, [quokka_record()], extra={"yolo_task": "obb"})


def test_yolo_needs_a_size_only_for_rotated_boxes():
    upright = Record(task_id=1, data={"img": "a.jpg"}, meta={}, split="test",
                     result=[box("u", "wallaby", 10, 10, 20, 20, size=None)], chosen=None)
    rotated = Record(task_id=2, data={"img": "b.jpg"}, meta={}, split="test",
                     result=[box("r", "wallaby", 50, 10, 10, 20, rotation=90, size=None)], chosen=None)
    counts, _, data = export(yolo, [upright, rotated])
    assert (counts["images"], counts["skipped_no_size"]) == (1, 1)
    files = members(data)
    assert "labels/test/2_b.txt" not in files
    assert yaml.safe_load(files["data.yaml"])["test"] == "images/test"
    counts, _, data = export(yolo, [upright, rotated], image_size=lambda ref: (1000, 500))
    assert counts["skipped_no_size"] == 0
    # The 90° turn of test_coco_rotated_box…: x 400..500, y 50..150 px on 1000×500.
    assert parse_labels(members(data)["labels/test/2_b.txt"]) == [(1, pytest.approx([0.45, 0.2, 0.1, 0.2],
                                                                                     abs=1e-6))]


def test_yolo_with_media_next_to_the_labels():
    _, _, data = export(yolo, [quokka_record(split="val")], include_media=True, media=quokka_media)
    files = members(data)
    assert files["images/val/5_quokka.jpg"] == QUOKKA_IMAGE.read_bytes()
    assert "labels/val/5_quokka.txt" in files


# --- all three -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [coco, voc, yolo])
def test_same_records_same_bytes(module):
    def records():
        return synthetic() + [quokka_record(split="val")]

    first = export(module, records(), include_media=True, media=quokka_media)
    second = export(module, records(), include_media=True, media=quokka_media)
    assert first == second
    assert export(module, records())[2] != export(module, records()[:-1])[2]


@pytest.mark.parametrize("module", [coco, voc, yolo])
def test_a_task_without_an_image_is_counted_not_written(module):
    blank = Record(task_id=9, data={"text": "no image"}, meta={}, split="", result=[], chosen=None)
    counts, _, _ = export(module, [blank])
    assert counts["skipped_no_image"] == 1 and counts["images"] == 0


def test_stems_are_safe_and_unique_per_task():
    assert coco.stem(12, "https://x.example/a b/Qu%C3%B6kka photo.JPEG?sig=1") == "12_Quokka_photo"
    assert coco.stem(3, "s3://bucket/../../etc/passwd") == "3_passwd"
    assert coco.stem(4, "/media/17") == "4_17"
    assert coco.stem(5, "data:image/png;base64,iVBORw0K") == "5_png_base64_iVBORw0K"
    assert coco.stem(6, "...") == "6"
    assert coco.extension("https://x/a.JPEG?x=1", b"") == ".jpg"
    assert coco.extension("/media/17", b"\x89PNG\r\n\x1a\n....") == ".png"

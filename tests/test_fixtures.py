"""The real sample data in tests/fixtures/ is complete and well-formed (later issues build on it)."""

import csv
import json
import struct
from collections import Counter
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_rotten_tomatoes_snippets_are_balanced_and_unique():
    rows = [json.loads(line) for line in (FIXTURES / "rotten_tomatoes.jsonl").read_text().splitlines()]
    assert Counter(r["label"] for r in rows) == {"fresh": 150, "rotten": 150}
    assert len({r["text"] for r in rows}) == 300
    assert all(40 <= len(r["text"]) <= 400 for r in rows)


def test_digits_images_match_their_labels():
    with (FIXTURES / "digits" / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert Counter(r["label"] for r in rows) == {str(d): 6 for d in range(10)}
    for row in rows:
        png = (FIXTURES / "digits" / row["file"]).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (32, 32)
        assert row["file"].endswith(f"_{row['label']}.png")


def test_quokka_regions_are_label_studio_shaped_and_inside_the_image():
    regions = json.loads((FIXTURES / "quokka" / "annotations.json").read_text())
    assert Counter(r["type"] for r in regions) == {"rectanglelabels": 1, "polygonlabels": 1, "keypointlabels": 7}
    for region in regions:
        assert region["to_name"] == "image" and region["original_width"] > 0
        value = region["value"]
        points = value.get("points") or [[value["x"], value["y"]]]
        assert all(0 <= x <= 100 and 0 <= y <= 100 for x, y in points)
    box = next(r["value"] for r in regions if r["type"] == "rectanglelabels")
    assert box["x"] + box["width"] <= 100 and box["y"] + box["height"] <= 100
    assert (FIXTURES / "quokka" / "quokka.jpg").read_bytes()[:2] == b"\xff\xd8"

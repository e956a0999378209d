"""Agreement and consensus of boxes, polygons, spans and keypoints drawn by several annotators of one task."""

import copy
import json
from pathlib import Path

import pytest

from apps.projects.label_spec import compile_spec, normalize_spec, validate_result
from apps.qa.geometry import box_iou
from apps.qa.regions import merge_regions, pairwise_agreement

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUOKKA = {region["id"]: region for region in json.loads((FIXTURES / "quokka" / "annotations.json").read_text())}
KEYPOINT_NAMES = ["ear_tip_left", "ear_tip_right", "eye_left", "eye_right", "nose", "paw_left", "paw_right"]
FOUNDING = ("Microsoft was founded by Bill Gates and Paul Allen on April 4, 1975, to develop and sell BASIC "
            "interpreters for the Altair 8800.")

SPEC = normalize_spec({
    "data": {"image": {"type": "image"}, "text": {"type": "text"}},
    "controls": {
        "box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}, {"value": "wallaby"}]},
        "tags": {"type": "bbox", "to": "image", "multiple": True, "labels": [{"value": "quokka"}, {"value": "joey"}]},
        "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
        "keypoints": {"type": "keypoints", "to": "image", "labels": [{"value": name} for name in KEYPOINT_NAMES]},
        "label": {"type": "spans", "to": "text", "labels": [{"value": "PER"}, {"value": "ORG"}]},
        "quality": {"type": "rating", "to": "image"},
    },
})
CONTROLS = compile_spec(SPEC).controls
BOX = QUOKKA["box0"]["value"]


def rectangle(region_id, label="quokka", *, name="box", dx=0.0, dy=0.0, dw=0.0, dh=0.0, **value):
    """The quokka fixture's box, moved and resized by a few percent (an annotator's jitter)."""
    geometry = {"x": BOX["x"] + dx, "y": BOX["y"] + dy, "width": BOX["width"] + dw, "height": BOX["height"] + dh,
                "rotation": 0, **value}
    labels = label if isinstance(label, list) else [label]
    return {"id": region_id, "from_name": name, "to_name": "image", "type": "rectanglelabels",
            "original_width": 960, "original_height": 643, "value": {**geometry, "rectanglelabels": labels}}


def entity(phrase, label, *, start=None, region_id=None):
    start = FOUNDING.index(phrase) if start is None else start
    return {"id": region_id or f"{label}{start}", "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(phrase), "text": phrase, "labels": [label]}}


JITTERED = [
    [rectangle("a0", dx=0.5, dy=-0.3, dw=-0.4, dh=0.2)],
    [rectangle("b0", dx=-0.6, dy=0.2, dw=0.8, dh=-0.5)],
    [rectangle("c0", dx=0.1, dy=0.1, dw=-0.2)],
]
STRAY = rectangle("d0", x=70, y=10, width=15, height=15)
RATED = {"id": "q", "from_name": "quality", "to_name": "image", "type": "rating", "value": {"rating": 3}}


def test_a_box_drawn_by_three_of_five_is_kept_and_a_single_annotators_box_dropped():
    results = [*JITTERED, [STRAY], [RATED]]  # the fifth annotator drew no box, only rated the image
    for result in results:
        validate_result(SPEC, result)
    consensus = merge_regions(results, [1.0] * 5, CONTROLS["box"])
    assert len(consensus.items) == 1
    item = consensus.items[0]
    value = item["value"]
    drawn = [result[0]["value"] for result in JITTERED]
    for key in ("x", "y", "width", "height"):
        assert value[key] == pytest.approx(sum(box[key] for box in drawn) / 3)
    assert value["rectanglelabels"] == ["quokka"] and value["rotation"] == 0
    assert (item["from_name"], item["to_name"], item["type"]) == ("box", "image", "rectanglelabels")
    assert box_iou(value, BOX) > 0.97
    validate_result(SPEC, consensus.items)
    # Kept: support 3/5 × mean IoU of the three; dropped: 1 − 1/5 agreed there is nothing there
    ious = [box_iou(drawn[0], drawn[1]), box_iou(drawn[0], drawn[2]), box_iou(drawn[1], drawn[2])]
    assert consensus.confidence == pytest.approx((0.6 * sum(ious) / 3 + 0.8) / 2)


def test_the_consensus_is_deterministic_and_its_ids_stable():
    results = [*JITTERED, [STRAY], []]
    first = merge_regions(results, [1.0] * 5, CONTROLS["box"])
    again = merge_regions(copy.deepcopy(results), [1.0] * 5, CONTROLS["box"])
    assert first == again
    region_id = first.items[0]["id"]
    assert isinstance(region_id, str) and len(region_id) == 10
    moved = [[rectangle("a0", dx=3)], *JITTERED[1:], [STRAY], []]
    assert merge_regions(moved, [1.0] * 5, CONTROLS["box"]).items[0]["id"] != region_id


def test_reliability_weights_move_the_merged_box_and_decide_what_is_kept():
    results = [*JITTERED, [STRAY], []]
    consensus = merge_regions(results, [3, 1, 1, 1, 1], CONTROLS["box"])
    drawn = [result[0]["value"] for result in JITTERED]
    assert consensus.items[0]["value"]["x"] == pytest.approx((3 * drawn[0]["x"] + drawn[1]["x"] + drawn[2]["x"]) / 5)
    # A single annotator holding most of the weight carries their box
    trusted = merge_regions(results, [0.1, 0.1, 0.1, 1.0, 0.1], CONTROLS["box"])
    assert [item["value"]["x"] for item in trusted.items] == [70]


def test_a_weight_share_of_exactly_half_is_kept():
    drawn = [JITTERED[0], JITTERED[1], [], []]
    assert len(merge_regions(drawn, [1, 1, 1, 1], CONTROLS["box"]).items) == 1
    assert merge_regions(drawn + [[]], [1, 1, 1, 1, 1], CONTROLS["box"]).items == []
    # (0.7 + 0.1) / 1.6 is 0.49999999999999994 in floating point: still half
    assert len(merge_regions([JITTERED[0], JITTERED[1], []], [0.7, 0.1, 0.8], CONTROLS["box"]).items) == 1
    assert merge_regions([JITTERED[0], JITTERED[1], []], [0.7, 0.1, 0.81], CONTROLS["box"]).items == []


def test_regions_of_different_labels_do_not_cluster():
    results = [[rectangle("a")], [rectangle("b")], [rectangle("c", "wallaby")]]
    consensus = merge_regions(results, [1, 1, 1], CONTROLS["box"])
    assert [item["value"]["rectanglelabels"] for item in consensus.items] == [["quokka"]]
    # quokka: support 2/3 with IoU 1; wallaby dropped with 1/3: 1 − 1/3 agreed
    assert consensus.confidence == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_a_cluster_holds_one_region_per_annotator():
    # The first annotator drew the quokka twice; the duplicate finds no second partner
    results = [[rectangle("a"), rectangle("a2", dx=0.2)], [rectangle("b")], [rectangle("c")]]
    consensus = merge_regions(results, [1, 1, 1], CONTROLS["box"])
    assert len(consensus.items) == 1
    assert consensus.items[0]["value"]["x"] == pytest.approx(BOX["x"])


def test_multi_label_regions_vote_their_labels():
    results = [[rectangle("a", ["quokka", "joey"], name="tags")], [rectangle("b", ["quokka"], name="tags")],
               [rectangle("c", ["quokka", "joey"], name="tags")], [rectangle("d", ["joey"], name="tags")]]
    consensus = merge_regions(results, [1, 1, 1, 1], CONTROLS["tags"])
    # One box; quokka (3 of 4) and joey (3 of 4) are both carried by at least half
    assert [item["value"]["rectanglelabels"] for item in consensus.items] == [["quokka", "joey"]]
    lone = merge_regions(results[:2] + [[rectangle("c", ["quokka"], name="tags")]], [1, 1, 1], CONTROLS["tags"])
    assert [item["value"]["rectanglelabels"] for item in lone.items] == [["quokka"]]


def test_rotations_average_on_the_circle():
    # 350° and 10° about the same corner average to 0°, not 180°
    results = [[rectangle("a", x=30, y=30, width=20, height=20, rotation=350)],
               [rectangle("b", x=30, y=30, width=20, height=20, rotation=10)]]
    for result in results:
        validate_result(SPEC, result)
    consensus = merge_regions(results, [1, 1], CONTROLS["box"])
    assert len(consensus.items) == 1
    assert consensus.items[0]["value"]["rotation"] == pytest.approx(0, abs=1e-6)


def polygon(region_id, points):
    return {"id": region_id, "from_name": "polygon", "to_name": "image", "type": "polygonlabels",
            "original_width": 960, "original_height": 643, "value": {"points": points, "polygonlabels": ["quokka"]}}


def square(dx):
    return [[10 + dx, 10], [20 + dx, 10], [20 + dx, 20], [10 + dx, 20]]


def test_polygons_merge_to_the_medoid():
    # IoU 0↔1 9/11, 0↔3 7/13, 1↔3 2/3: the square moved by 1 is closest to the others
    results = [[polygon("a", square(0))], [polygon("b", square(1))], [polygon("c", square(3))]]
    consensus = merge_regions(results, [1, 1, 1], CONTROLS["polygon"])
    assert [item["value"]["points"] for item in consensus.items] == [square(1)]
    validate_result(SPEC, consensus.items)
    # Between two, the medoid is the heavier annotator's
    two = [[polygon("a", square(0))], [polygon("b", square(1))]]
    assert merge_regions(two, [1, 3], CONTROLS["polygon"]).items[0]["value"]["points"] == square(1)
    assert merge_regions(two, [3, 1], CONTROLS["polygon"]).items[0]["value"]["points"] == square(0)


def test_the_quokka_outline_and_a_self_intersecting_polygon_merge_without_error():
    outline = QUOKKA["poly0"]["value"]["points"]
    bow_tie = [[10, 10], [20, 20], [20, 10], [10, 20]]
    results = [[polygon("a", outline), polygon("a2", bow_tie)],
               [polygon("b", [[x + 0.5, y] for x, y in outline])],
               [polygon("c", [[x, y + 0.3] for x, y in outline]), polygon("c2", [[x + 0.1, y] for x, y in bow_tie])]]
    consensus = merge_regions(results, [1, 1, 1], CONTROLS["polygon"])
    # The outline (3 of 3) is kept, and so are the two bow ties (2 of 3)
    assert len(consensus.items) == 2
    assert 0 < consensus.confidence < 1


def test_spans_take_the_exact_majority_else_the_medoid():
    results = [[entity("Bill Gates", "PER"), entity("Microsoft", "ORG")],
               [entity("Bill Gates", "PER"), entity("Microsof", "ORG")],
               [entity("Bill Gate", "PER"), entity("icrosoft", "ORG")]]
    for result in results:
        validate_result(SPEC, result, {"text": FOUNDING})
    consensus = merge_regions(results, [1, 1, 1], CONTROLS["label"])
    merged = sorted((item["value"]["start"], item["value"]["end"], item["value"]["text"], item["value"]["labels"][0])
                    for item in consensus.items)
    # PER: two of three drew 25–35 exactly; ORG: no two agree, and 0–9 overlaps the others most (8/9 each)
    assert merged == [(0, 9, "Microsoft", "ORG"), (25, 35, "Bill Gates", "PER")]
    validate_result(SPEC, consensus.items, {"text": FOUNDING})


def test_keypoints_merge_to_the_weighted_mean():
    nose = QUOKKA["kp4"]

    def at(region_id, dx):
        point = copy.deepcopy(nose)
        point["id"], point["value"]["x"] = region_id, nose["value"]["x"] + dx
        return point

    results = [[at("a", 0)], [at("b", 1)], [at("c", 2)]]
    consensus = merge_regions(results, [2, 1, 1], CONTROLS["keypoints"])
    assert len(consensus.items) == 1
    value = consensus.items[0]["value"]
    assert value["x"] == pytest.approx(nose["value"]["x"] + 0.75)
    assert (value["y"], value["keypointlabels"]) == (nose["value"]["y"], ["nose"])


def test_nothing_drawn_and_nothing_agreed():
    assert merge_regions([[], [RATED], []], [1, 1, 1], CONTROLS["box"]) == merge_regions([], [], CONTROLS["box"])
    empty = merge_regions([[], [RATED], []], [1, 1, 1], CONTROLS["box"])
    assert (empty.items, empty.confidence) == ([], 1.0)
    stray = merge_regions([[STRAY], [], [], [], []], [1] * 5, CONTROLS["box"])
    assert stray.items == [] and stray.confidence == pytest.approx(0.8)
    # Two boxes of one annotator each, out of three: both dropped, each with 2/3 agreeing on nothing
    scattered = merge_regions([[rectangle("a", x=0, y=0, width=10, height=10)], [STRAY], []], [1, 1, 1],
                              CONTROLS["box"])
    assert scattered.items == [] and scattered.confidence == pytest.approx(2 / 3)


def test_merge_regions_refuses_mismatched_weights_and_classification_controls():
    with pytest.raises(ValueError, match="2 weights for 3 annotators"):
        merge_regions([[], [], []], [1, 1], CONTROLS["box"])
    with pytest.raises(ValueError, match="does not draw regions"):
        merge_regions([[RATED]], [1], CONTROLS["quality"])
    # Zero or missing reliability: everyone counts the same
    assert len(merge_regions(JITTERED, [0, 0, 0], CONTROLS["box"]).items) == 1


def test_pairwise_agreement_is_the_mean_pairwise_f1():
    box = CONTROLS["box"]
    assert pairwise_agreement([], box) is None
    assert pairwise_agreement([JITTERED[0]], box) is None
    assert pairwise_agreement(JITTERED, box) == 1.0
    # Pairs: a–b 1, a–(nothing) 0, b–(nothing) 0
    assert pairwise_agreement([JITTERED[0], JITTERED[1], [RATED]], box) == pytest.approx(1 / 3)
    # One box matched, one extra: 2·1 / (1 + 2)
    assert pairwise_agreement([JITTERED[0], JITTERED[1] + [STRAY]], box) == pytest.approx(2 / 3)
    assert pairwise_agreement(JITTERED, box, iou_threshold=0.999) == 0.0


def test_pairwise_agreement_of_spans_and_keypoints():
    spans = [[entity("Bill Gates", "PER")], [entity("Gates", "PER")]]
    assert pairwise_agreement(spans, CONTROLS["label"]) == 0.0
    assert pairwise_agreement(spans, CONTROLS["label"], span_mode="overlap") == 1.0
    points = [[copy.deepcopy(QUOKKA[f"kp{index}"]) for index in range(7)] for _ in range(2)]
    assert pairwise_agreement(points, CONTROLS["keypoints"]) == pytest.approx(1.0)
    assert pairwise_agreement([points[0], points[1][:6]], CONTROLS["keypoints"]) == pytest.approx(6 / 7)

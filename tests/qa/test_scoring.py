"""Scoring an annotation against gold, per control type, on Label Studio template configs and realistic results."""

import copy
import json
import math
from pathlib import Path

import pytest

from apps.projects.label_spec import compile_spec, normalize_spec, validate_result
from apps.projects.label_studio import spec_from_label_config
from apps.qa.scoring import (
    ResultScore,
    score_bbox,
    score_choices,
    score_keypoints,
    score_polygon,
    score_rating,
    score_relations,
    score_result,
    score_spans,
    score_textarea,
)
from tests.projects.label_studio_templates import (
    NAMED_ENTITY_RECOGNITION,
    RATING,
    RELATION_EXTRACTION,
    RELATION_TASK,
    SPEECH_RECOGNITION,
    TAXONOMY,
    TEXT_CLASSIFICATION,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUOKKA_RESULT = json.loads((FIXTURES / "quokka" / "annotations.json").read_text())
QUOKKA = {region["id"]: region for region in QUOKKA_RESULT}
KEYPOINT_NAMES = ["ear_tip_left", "ear_tip_right", "eye_left", "eye_right", "nose", "paw_left", "paw_right"]

# The quokka fixture's own controls (from_name box, polygon, keypoints on "image").
QUOKKA_SPEC = normalize_spec({
    "data": {"image": {"type": "image"}},
    "controls": {
        "box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}, {"value": "wallaby"}]},
        "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
        "keypoints": {"type": "keypoints", "to": "image", "labels": [{"value": name} for name in KEYPOINT_NAMES]},
        "age": {"type": "choices", "to": "image", "per_region": True,
                "labels": [{"value": "adult"}, {"value": "joey"}]},
        "quality": {"type": "rating", "to": "image", "max": 5},
    },
})
CONTROLS = compile_spec(QUOKKA_SPEC).controls

# Configs copied from HumanSignal/label-studio label_studio/annotation_templates/<path>/config.yml, as in
# tests/projects/test_label_studio.py (which names the commits).
# The relation-extraction template's own sample task.
FOUNDING = RELATION_TASK["data"]["text"]
FOUNDING_RESULT = RELATION_TASK["result"]


def control_of(config: str, name: str):
    return compile_spec(spec_from_label_config(config)).controls[name]


def entity(text: str, phrase: str, label: str, *, region_id: str, start: int | None = None) -> dict:
    start = text.index(phrase) if start is None else start
    return {"id": region_id, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(phrase), "text": phrase, "labels": [label]}}


def rectangle(region_id: str, label: str = "quokka", **geometry) -> dict:
    value = {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0, **geometry, "rectanglelabels": [label]}
    return {"id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels",
            "original_width": 960, "original_height": 643, "value": value}


# --- choices -----------------------------------------------------------------------------------------


def choice_item(name, kind, entries, to="text"):
    return {"id": f"{name}-1", "from_name": name, "to_name": to, "type": kind, "value": {kind: entries}}


def test_single_choice_is_exact():
    control = control_of(TEXT_CLASSIFICATION, "sentiment")
    positive = [choice_item("sentiment", "choices", ["Positive"])]
    assert score_choices(positive, positive, control) == 1.0
    assert score_choices([choice_item("sentiment", "choices", ["Negative"])], positive, control) == 0.0
    assert score_choices([], positive, control) == 0.0
    assert score_choices([], [], control) == 1.0


def test_multiple_choices_score_the_jaccard_of_the_sets():
    control = compile_spec(normalize_spec({"data": {"image": {"type": "image"}}, "controls": {"tags": {
        "type": "choices", "to": "image", "multiple": True,
        "labels": [{"value": "Adult content"}, {"value": "Weapons"}, {"value": "Violence"}]}}})).controls["tags"]
    gold = [choice_item("tags", "choices", ["Weapons", "Violence"], to="image")]
    assert score_choices([choice_item("tags", "choices", ["Weapons"], to="image")], gold, control) == 0.5
    both = [choice_item("tags", "choices", ["Violence", "Weapons"], to="image")]  # order does not matter
    assert score_choices(both, gold, control) == 1.0
    wider = [choice_item("tags", "choices", ["Weapons", "Adult content"], to="image")]
    assert score_choices(wider, gold, control) == pytest.approx(1 / 3)


def test_taxonomy_paths_get_credit_for_their_common_prefix():
    control = control_of(TAXONOMY, "taxonomy")  # multiple, inner nodes selectable (Label Studio's default)
    gold = [choice_item("taxonomy", "taxonomy", [["Eukarya", "Human"], ["Archaea"]])]
    assert score_choices(gold, gold, control) == 1.0
    # Human↔Human 1 and Archaea↔Bacteria 0: an intersection of 1 over a union of 2 + 2 − 1
    other = [choice_item("taxonomy", "taxonomy", [["Eukarya", "Human"], ["Bacteria"]])]
    assert score_choices(other, gold, control) == pytest.approx(1 / 3)
    # Oppossum↔Human shares "Eukarya", one of two steps: 0.5 + 1 over 4 − 1.5
    sibling = [choice_item("taxonomy", "taxonomy", [["Eukarya", "Oppossum"], ["Archaea"]])]
    assert score_choices(sibling, gold, control) == pytest.approx(0.6)
    inner = [choice_item("taxonomy", "taxonomy", [["Eukarya"], ["Archaea"]])]
    assert score_choices(inner, gold, control) == pytest.approx(0.6)


NESTED = """<View><Image name="photo" value="$url"/>
  <Choices name="kind" toName="photo" allowNested="true">
    <Choice value="Animal"><Choice value="Cat"/><Choice value="Dog"/></Choice>
    <Choice value="Plant"/>
  </Choices></View>"""


def test_single_hierarchical_choice_scores_the_depth_of_the_common_prefix():
    control = control_of(NESTED, "kind")
    assert (control.hierarchical, control.multiple, control.result_type) == (True, False, "choices")
    cat = [choice_item("kind", "choices", [["Animal", "Cat"]], to="photo")]
    assert score_choices([choice_item("kind", "choices", [["Animal", "Dog"]], to="photo")], cat, control) == 0.5
    assert score_choices([choice_item("kind", "choices", [["Plant"]], to="photo")], cat, control) == 0.0
    # A bare label is the path to a top-level label
    assert score_choices([choice_item("kind", "choices", ["Plant"], to="photo")],
                         [choice_item("kind", "choices", [["Plant"]], to="photo")], control) == 1.0
    # Label Studio stores a picked inner node with the children it selects: one pick, "Animal"
    animal = [choice_item("kind", "choices", [["Animal"], ["Animal", "Cat"], ["Animal", "Dog"]], to="photo")]
    validate_result(spec_from_label_config(NESTED), animal)
    assert score_choices(animal, cat, control) == 0.5
    assert score_choices(animal, animal, control) == 1.0


# --- spans -------------------------------------------------------------------------------------------


def test_span_f1_exact_and_overlap_on_the_founding_of_microsoft():
    control = control_of(NAMED_ENTITY_RECOGNITION, "label")
    gold = [entity(FOUNDING, "Microsoft", "ORG", region_id="g1"),
            entity(FOUNDING, "Bill Gates", "PER", region_id="g2"),
            entity(FOUNDING, "Paul Allen", "PER", region_id="g3")]
    answer = [entity(FOUNDING, "Microsoft", "ORG", region_id="a1"),
              entity(FOUNDING, "Bill Gates", "PER", region_id="a2"),
              entity(FOUNDING, "Allen", "PER", region_id="a3")]
    spec = spec_from_label_config(NAMED_ENTITY_RECOGNITION)
    validate_result(spec, gold, {"ner": FOUNDING})
    validate_result(spec, answer, {"ner": FOUNDING})
    assert score_spans(answer, gold, control) == pytest.approx(2 / 3)  # 2 of 3 exact: 2·2 / (3 + 3)
    assert score_spans(answer, gold, control, mode="exact") == pytest.approx(2 / 3)
    assert score_spans(answer, gold, control, mode="overlap") == 1.0  # "Allen" overlaps "Paul Allen"
    assert score_spans(gold, gold, control) == 1.0


def test_spans_of_another_label_never_match():
    control = control_of(NAMED_ENTITY_RECOGNITION, "label")
    gold = [entity(FOUNDING, "Paul Allen", "PER", region_id="g")]
    as_org = [entity(FOUNDING, "Paul Allen", "ORG", region_id="a")]
    assert score_spans(as_org, gold, control) == 0.0
    assert score_spans(as_org, gold, control, mode="overlap") == 0.0


def test_overlapping_spans_match_one_to_one():
    control = control_of(NAMED_ENTITY_RECOGNITION, "label")
    gold = [entity(FOUNDING, "Bill Gates and Paul Allen", "PER", region_id="g")]
    # Two spans inside one gold span: one matches, the other is a false positive
    answer = [entity(FOUNDING, "Bill Gates", "PER", region_id="a1"),
              entity(FOUNDING, "Paul Allen", "PER", region_id="a2")]
    assert score_spans(answer, gold, control, mode="overlap") == pytest.approx(2 / 3)
    touching = [entity(FOUNDING, " on", "PER", region_id="a3", start=50)]  # starts where the gold span ends
    assert score_spans(touching, gold, control, mode="overlap") == 0.0


def test_span_edge_cases():
    control = control_of(NAMED_ENTITY_RECOGNITION, "label")
    gold = [entity(FOUNDING, "Microsoft", "ORG", region_id="g")]
    assert score_spans([], [], control) == 1.0
    assert score_spans([], gold, control) == 0.0
    assert score_spans(gold, [], control) == 0.0
    with pytest.raises(ValueError, match="span mode"):
        score_spans(gold, gold, control, mode="fuzzy")


def test_html_and_paragraph_spans():
    html = compile_spec(normalize_spec({"data": {"text": {"type": "html"}}, "controls": {"ner": {
        "type": "html_spans", "to": "text", "labels": [{"value": "Title"}, {"value": "Body"}]}}})).controls["ner"]

    def region(start_offset, end_offset, **extra):
        return {"id": f"h{start_offset}", "from_name": "ner", "to_name": "text", "type": "hypertextlabels",
                "value": {"start": "/div[1]/p[2]/text()[1]", "end": "/div[1]/p[4]/text()[3]",
                          "startOffset": start_offset, "endOffset": end_offset, "hypertextlabels": ["Body"], **extra}}

    assert score_spans([region(2, 81)], [region(2, 81)], html) == 1.0
    assert score_spans([region(3, 81)], [region(2, 81)], html) == 0.0
    # Without globalOffsets only the same span counts, even when overlap is asked for
    assert score_spans([region(3, 81)], [region(2, 81)], html, mode="overlap") == 0.0
    with_offsets = score_spans([region(3, 81, globalOffsets={"start": 13, "end": 200})],
                               [region(2, 81, globalOffsets={"start": 12, "end": 200})], html, mode="overlap")
    assert with_offsets == 1.0

    slots = compile_spec(normalize_spec({"data": {"dialogue": {"type": "paragraphs"}}, "controls": {"slot": {
        "type": "paragraph_spans", "to": "dialogue", "labels": [{"value": "Organization"}]}}})).controls["slot"]

    def slot(start, start_offset, end_offset):
        return {"id": f"s{start}{start_offset}", "from_name": "slot", "to_name": "dialogue", "type": "paragraphlabels",
                "value": {"start": start, "end": start, "startOffset": start_offset, "endOffset": end_offset,
                          "paragraphlabels": ["Organization"]}}

    assert score_spans([slot("1", 16, 28)], [slot(1, 16, 28)], slots) == 1.0  # "1" and 1 are one paragraph
    assert score_spans([slot(1, 16, 27)], [slot(1, 16, 28)], slots, mode="overlap") == 1.0
    assert score_spans([slot(0, 16, 28)], [slot(1, 16, 28)], slots, mode="overlap") == 0.0  # another paragraph


# --- boxes and polygons ------------------------------------------------------------------------------


def test_the_quokka_box_against_itself_and_shifted():
    gold = [QUOKKA["box0"]]
    validate_result(QUOKKA_SPEC, QUOKKA_RESULT)
    box = CONTROLS["box"]
    assert score_bbox(gold, gold, box) == 1.0
    shifted = copy.deepcopy(QUOKKA["box0"])
    shifted["value"]["x"] += shifted["value"]["width"] / 10  # IoU 0.9 / 1.1 ≈ 0.82
    assert score_bbox([shifted], gold, box) == 1.0
    assert score_bbox([shifted], gold, box, iou_threshold=0.85) == 0.0


def test_box_iou_threshold_is_inclusive():
    gold = [rectangle("g", width=20, height=20)]
    half = [rectangle("a", width=20, height=10)]  # IoU exactly 200 / 400
    assert score_bbox(half, gold, CONTROLS["box"], iou_threshold=0.5) == 1.0
    assert score_bbox(half, gold, CONTROLS["box"], iou_threshold=0.5000001) == 0.0


def test_boxes_of_different_labels_never_match():
    assert score_bbox([rectangle("a", "wallaby")], [rectangle("g", "quokka")], CONTROLS["box"]) == 0.0


def test_box_f1_counts_missed_and_extra_boxes():
    box = CONTROLS["box"]
    gold = [rectangle("g1"), rectangle("g2", x=60)]
    assert score_bbox([rectangle("a1")], gold, box) == pytest.approx(2 / 3)  # 1 match, 1 + 2 boxes
    assert score_bbox(gold + [rectangle("a3", y=70)], gold, box) == pytest.approx(4 / 5)
    assert score_bbox([], [], box) == 1.0
    assert score_bbox([], gold, box) == 0.0
    assert score_bbox(gold, [], box) == 0.0


def test_box_matching_is_hungarian_not_greedy():
    # a1 overlaps g2 most (0.82), but a1–g1 (0.54) and a2–g2 (0.67) pair both boxes above 0.5
    gold = [rectangle("g1", x=0, width=10, height=10), rectangle("g2", x=4, width=10, height=10)]
    answer = [rectangle("a1", x=3, width=10, height=10), rectangle("a2", x=6, width=10, height=10)]
    assert score_bbox(answer, gold, CONTROLS["box"]) == 1.0


def test_a_rotated_box_matches_its_footprint_in_pixels():
    # 96 px square at (480 px, 64.3 px) on the 960×643 quokka image, turned 90° clockwise: x 40–50 %
    side = 96 / 643 * 100
    turned = rectangle("a", x=50, y=10, width=10, height=side, rotation=90)
    footprint = rectangle("g", x=40, y=10, width=10, height=side)
    validate_result(QUOKKA_SPEC, [turned])
    assert score_bbox([turned], [footprint], CONTROLS["box"], iou_threshold=0.99) == 1.0
    unturned = rectangle("a", x=50, y=10, width=10, height=side)
    assert score_bbox([unturned], [footprint], CONTROLS["box"]) == 0.0


def polygon_region(region_id, points, label="quokka"):
    return {"id": region_id, "from_name": "polygon", "to_name": "image", "type": "polygonlabels",
            "value": {"points": points, "polygonlabels": [label]}}


def test_polygon_f1_with_the_quokka_outline_and_a_self_intersecting_polygon():
    polygon = CONTROLS["polygon"]
    gold = [QUOKKA["poly0"]]
    assert score_polygon(gold, gold, polygon) == 1.0
    moved = polygon_region("a", [[x + 1.5, y] for x, y in QUOKKA["poly0"]["value"]["points"]])
    assert score_polygon([moved], gold, polygon) == 1.0
    assert score_polygon([moved], gold, polygon, iou_threshold=0.99) == 0.0
    square = [polygon_region("g", [[10, 10], [20, 10], [20, 20], [10, 20]])]
    bow_tie = [polygon_region("a", [[10, 10], [20, 20], [20, 10], [10, 20]])]  # two lobes: IoU 0.5 with the square
    validate_result(QUOKKA_SPEC, bow_tie)
    assert score_polygon(bow_tie, square, polygon) == 1.0
    assert score_polygon(bow_tie, square, polygon, iou_threshold=0.6) == 0.0
    flat = [polygon_region("a", [[10, 10], [15, 15], [20, 20]])]
    assert score_polygon(flat, square, polygon) == 0.0
    assert score_polygon([], [], polygon) == 1.0


# --- keypoints, text, rating -------------------------------------------------------------------------


def quokka_points():
    return [copy.deepcopy(QUOKKA[f"kp{index}"]) for index in range(7)]


def test_keypoints_score_an_oks_like_similarity():
    keypoints = CONTROLS["keypoints"]
    gold = quokka_points()
    assert score_keypoints(gold, gold, keypoints) == 1.0
    moved = quokka_points()
    moved[4]["value"]["x"] += 5  # the nose, 5% of the image (= sigma) away
    assert score_keypoints(moved, gold, keypoints) == pytest.approx((6 + math.exp(-0.5)) / 7)
    assert score_keypoints(moved, gold, keypoints, sigma=0.1) == pytest.approx((6 + math.exp(-0.125)) / 7)
    assert score_keypoints(quokka_points()[:6], gold, keypoints) == pytest.approx(6 / 7)  # paw_right missed


def test_keypoints_of_another_name_do_not_count_and_extra_points_dilute():
    keypoints = CONTROLS["keypoints"]
    gold = quokka_points()
    swapped = quokka_points()
    swapped[2]["value"]["keypointlabels"], swapped[3]["value"]["keypointlabels"] = ["eye_right"], ["eye_left"]
    # Each eye is now named after the other: both are compared with the other eye's gold point
    left, right = gold[2]["value"], gold[3]["value"]
    apart = ((left["x"] - right["x"]) / 100) ** 2 + ((left["y"] - right["y"]) / 100) ** 2
    assert score_keypoints(swapped, gold, keypoints) == pytest.approx((5 + 2 * math.exp(-apart / 0.005)) / 7)
    second_nose = copy.deepcopy(gold[4])
    second_nose["id"], second_nose["value"]["x"] = "kp7", 90
    assert score_keypoints([second_nose] + quokka_points(), gold, keypoints) == pytest.approx(7 / 8)
    assert score_keypoints([], gold, keypoints) == 0.0
    assert score_keypoints([], [], keypoints) == 1.0


def transcript(*texts):
    return [{"id": "t1", "from_name": "transcription", "to_name": "audio", "type": "textarea",
             "value": {"text": list(texts)}}]


def test_textarea_scores_one_minus_the_character_error_rate():
    control = control_of(SPEECH_RECOGNITION, "transcription")
    gold = transcript("the quick brown fox")  # 19 characters
    assert score_textarea(gold, gold, control) == 1.0
    assert score_textarea(transcript("the quick brown fax"), gold, control) == pytest.approx(1 - 1 / 19)
    assert score_textarea(transcript("the quick brown"), gold, control) == pytest.approx(1 - 4 / 19)
    assert score_textarea(transcript("an entirely different and much longer sentence"), gold, control) == 0.0
    assert score_textarea([], gold, control) == 0.0
    # Several texts are joined with newlines: one substitution in "hello\nworld"
    assert score_textarea(transcript("hello world"), transcript("hello", "world"), control) == pytest.approx(1 - 1 / 11)
    assert score_textarea(transcript(""), transcript(""), control) == 1.0
    assert score_textarea(transcript("x"), transcript(""), control) == 0.0


def stars(value):
    return [{"id": "r1", "from_name": "rating", "to_name": "txt", "type": "rating", "value": {"rating": value}}]


def test_rating_scores_the_distance_over_the_scale():
    control = control_of(RATING, "rating")  # maxRating="10"
    assert control.max == 10
    assert score_rating(stars(8), stars(8), control) == 1.0
    assert score_rating(stars(5), stars(8), control) == pytest.approx(1 - 3 / 9)
    assert score_rating(stars(1), stars(10), control) == 0.0
    assert score_rating([], stars(8), control) == 0.0


# --- relations and whole results ---------------------------------------------------------------------


def test_relations_score_by_the_labels_they_link():
    spec = spec_from_label_config(RELATION_EXTRACTION)
    control = compile_spec(spec).controls["relations"]
    relations = [item for item in FOUNDING_RESULT if item["type"] == "relation"]
    assert score_relations(relations, relations, control, result=FOUNDING_RESULT, gold_result=FOUNDING_RESULT) == 1.0
    fewer = relations[:2]
    assert score_relations(fewer, relations, control, result=FOUNDING_RESULT,
                           gold_result=FOUNDING_RESULT) == pytest.approx(0.8)  # 2·2 / (2 + 3)
    # "left" is the same relation drawn from the other end
    reversed_ = [{**relations[0], "from_id": relations[0]["to_id"], "to_id": relations[0]["from_id"],
                  "direction": "left"}] + relations[1:]
    validate_result(spec, FOUNDING_RESULT[:4] + reversed_)
    assert score_relations(reversed_, relations, control, result=FOUNDING_RESULT, gold_result=FOUNDING_RESULT) == 1.0
    wrong_way = [{**relations[0], "from_id": relations[0]["to_id"], "to_id": relations[0]["from_id"]}]
    assert score_relations(wrong_way, relations[:1], control, result=FOUNDING_RESULT,
                           gold_result=FOUNDING_RESULT) == 0.0


def test_score_result_on_the_relation_extraction_sample():
    spec = spec_from_label_config(RELATION_EXTRACTION)
    validate_result(spec, FOUNDING_RESULT, {"text": FOUNDING})
    perfect = score_result(spec, FOUNDING_RESULT, FOUNDING_RESULT)
    assert perfect == ResultScore(score=1.0, per_control={"label": 1.0, "relations": 1.0})
    # The annotator missed the date and, with it, the relation to it
    answer = FOUNDING_RESULT[:3] + FOUNDING_RESULT[4:6]
    scored = score_result(spec, answer, FOUNDING_RESULT)
    assert scored.per_control == {"label": pytest.approx(6 / 7), "relations": pytest.approx(0.8)}
    assert scored.score == pytest.approx((6 / 7 + 0.8) / 2)


def test_score_result_averages_the_controls_either_side_has():
    answer = QUOKKA_RESULT + [{"id": "q", "from_name": "quality", "to_name": "image", "type": "rating",
                               "value": {"rating": 4}}]
    validate_result(QUOKKA_SPEC, answer)
    scored = score_result(QUOKKA_SPEC, answer, QUOKKA_RESULT)
    # The rating is only in the answer: gold says nothing there, so it scores 0
    assert scored.per_control == {"box": 1.0, "polygon": 1.0, "keypoints": 1.0, "quality": 0.0}
    assert scored.score == pytest.approx(0.75)
    assert score_result(QUOKKA_SPEC, [], []) == ResultScore(score=1.0, per_control={})
    assert score_result(compile_spec(QUOKKA_SPEC), [], QUOKKA_RESULT).score == 0.0


def test_span_mode_and_iou_threshold_reach_every_control():
    spec = spec_from_label_config(NAMED_ENTITY_RECOGNITION)
    gold = [entity(FOUNDING, "Paul Allen", "PER", region_id="g")]
    answer = [entity(FOUNDING, "Allen", "PER", region_id="a")]
    assert score_result(spec, answer, gold).score == 0.0
    assert score_result(spec, answer, gold, span_mode="overlap").score == 1.0
    shifted = copy.deepcopy(QUOKKA["box0"])
    shifted["value"]["x"] += shifted["value"]["width"] / 10
    assert score_result(QUOKKA_SPEC, [shifted], [QUOKKA["box0"]], iou_threshold=0.85).per_control == {"box": 0.0}


def age(region_id, value, x=10):
    return {"id": region_id, "from_name": "age", "to_name": "image", "type": "choices",
            "value": {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "choices": [value]}}


def test_per_region_choices_are_scored_through_the_boxes_they_classify():
    gold = [rectangle("g1"), rectangle("g2", x=60), age("g1", "adult"), age("g2", "joey", x=60)]
    # Same boxes, listed the other way round with other ids
    boxes = [rectangle("a2", x=60), rectangle("a1")]
    validate_result(QUOKKA_SPEC, gold)
    right = score_result(QUOKKA_SPEC, boxes + [age("a2", "joey", x=60), age("a1", "adult")], gold)
    assert right.per_control == {"box": 1.0, "age": 1.0}
    # The same two choices on the wrong boxes: each box's classification is wrong
    swapped = score_result(QUOKKA_SPEC, boxes + [age("a2", "adult", x=60), age("a1", "joey")], gold)
    assert swapped.per_control == {"box": 1.0, "age": 0.0}
    # A box that matched no gold box: its classification cannot be right
    stray = score_result(QUOKKA_SPEC, [rectangle("a1"), rectangle("a3", y=70), age("a1", "adult"),
                                       age("a3", "joey")], gold)
    assert stray.per_control["age"] == pytest.approx(0.5)
    # Without the boxes' pairing the choices pair with each other, whatever they classify
    assert score_choices([age("a2", "adult"), age("a1", "joey")], gold[2:], CONTROLS["age"]) == 1.0


def test_odd_but_valid_results_do_not_break_scoring():
    spec = spec_from_label_config(RELATION_EXTRACTION)
    # A relation without labels or direction (Microsoft → Bill Gates): the same key as gold's unlabelled
    # Microsoft → Paul Allen, both Organization → Person
    loose = FOUNDING_RESULT[:4] + [{"from_id": "a-ubmF-dP2", "to_id": "dQ_pmsrWsm", "type": "relation"}]
    validate_result(spec, loose)
    assert score_result(spec, loose, FOUNDING_RESULT).per_control == {"label": 1.0, "relations": 0.5}
    # Not valid (an id no region has), and still no exception
    dangling = FOUNDING_RESULT[:4] + [{"from_id": "a-ubmF-dP2", "to_id": "gone", "type": "relation"}]
    assert score_result(spec, dangling, FOUNDING_RESULT).per_control["relations"] == 0.0
    assert score_result(spec, None, FOUNDING_RESULT).score == 0.0
    assert score_result(spec, FOUNDING_RESULT, None).score == 0.0
    # Items without ids, a whole-task rating with an id, regions with two labels
    multi = normalize_spec({"data": {"image": {"type": "image"}}, "controls": {
        "box": {"type": "bbox", "to": "image", "multiple": True, "labels": [{"value": "quokka"}, {"value": "joey"}]},
        "quality": {"type": "rating", "to": "image", "max": 2}}})
    two_labels = {"from_name": "box", "to_name": "image", "type": "rectanglelabels",
                  "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["quokka", "joey"]}}
    one_label = copy.deepcopy(two_labels)
    one_label["value"]["rectanglelabels"] = ["joey"]
    quality = {"id": "q", "from_name": "quality", "to_name": "image", "type": "rating", "value": {"rating": 1}}
    validate_result(multi, [two_labels, quality])
    scored = score_result(multi, [one_label, quality], [two_labels, {**quality, "value": {"rating": 2}}])
    assert scored.per_control == {"box": pytest.approx(2 / 3), "quality": 0.0}

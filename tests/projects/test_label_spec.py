"""The label spec and the one result validator: every control type valid and invalid (with the JSON path
of the problem), spec errors, taxonomies, remaps, orphaned labels, and garbage that must only ever give
SpecError or SchemaMismatch. Real data: Rotten Tomatoes snippets and the quokka regions."""

import json
import math
import random
from copy import deepcopy
from pathlib import Path

import pytest

from apps.projects.label_spec import (
    SchemaMismatch,
    SpecError,
    compile_spec,
    normalize_spec,
    orphaned_labels,
    remap_result,
    result_labels,
    spec_labels,
    validate_data,
    validate_remap,
    validate_result,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REVIEWS = [json.loads(line)["text"] for line in (FIXTURES / "rotten_tomatoes.jsonl").read_text("utf-8").splitlines()]
QUOKKA = json.loads((FIXTURES / "quokka" / "annotations.json").read_text())
QUOKKA_POINTS = ["ear_tip_left", "ear_tip_right", "eye_left", "eye_right", "nose", "paw_left", "paw_right"]

# The spec of the design, with the audio field its transcript control needs.
RAW_SPEC = {
    "data": {"text": {"type": "text"}, "image": {"type": "image"}, "audio": {"type": "audio"}},
    "controls": {
        "sentiment": {"type": "choices", "to": "text", "multiple": False, "required": True,
                      "labels": [{"value": "positive", "hotkey": "1"}, {"value": "negative", "hotkey": "2"}]},
        "topic": {"type": "choices", "to": "text", "multiple": True,
                  "labels": [{"id": "animal", "value": "Animal", "children": [{"value": "Cat"}, {"value": "Dog"}]},
                             {"value": "Plant"}]},
        "entities": {"type": "spans", "to": "text", "labels": [{"value": "PER", "hotkey": "p"}, {"value": "ORG"}]},
        "objects": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]},
        "outline": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
        "pose": {"type": "keypoints", "to": "image", "labels": [{"value": "nose"}, {"value": "eye_left"}]},
        "transcript": {"type": "textarea", "to": "audio", "max_length": 20},
        "quality": {"type": "rating", "to": "image", "max": 5},
        "links": {"type": "relation", "labels": [{"value": "same_as"}]},
    },
}
SPEC = normalize_spec(RAW_SPEC)

# "La de Salma es una versión de Frida superficial, …": "Frida" comes after a non-ASCII character.
TEXT = next(text for text in REVIEWS if text.startswith("La de Salma"))
DATA = {"text": TEXT, "image": "s3://bucket/quokka.jpg", "audio": "uploads/clip.wav"}
SALMA = TEXT.index("Salma")
FRIDA = TEXT.index("Frida")


def span(start, end, labels, text=None, region_id="s1"):
    value = {"start": start, "end": end, "labels": labels}
    if text is not None:
        value["text"] = text
    return {"id": region_id, "from_name": "entities", "to_name": "text", "type": "labels", "value": value}


def choices(*values, region_id="c1"):
    return {"id": region_id, "from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": list(values)}}


def taxonomy(*paths):
    return {"id": "t1", "from_name": "topic", "to_name": "text", "type": "taxonomy",
            "value": {"taxonomy": [list(path) for path in paths]}}


def box(x=10, y=10, width=20, height=30, labels=("quokka",), **extra):
    value = {"x": x, "y": y, "width": width, "height": height, "rectanglelabels": list(labels)}
    return {"id": "b1", "from_name": "objects", "to_name": "image", "type": "rectanglelabels",
            "value": {**value, **extra}}


def polygon(points, **extra):
    return {"id": "p1", "from_name": "outline", "to_name": "image", "type": "polygonlabels",
            "value": {"points": points, "polygonlabels": ["quokka"], **extra}}


def keypoint(x=30, y=40, labels=("nose",), **extra):
    return {"id": "k1", "from_name": "pose", "to_name": "image", "type": "keypointlabels",
            "value": {"x": x, "y": y, "keypointlabels": list(labels), **extra}}


def textarea(texts):
    return {"id": "x1", "from_name": "transcript", "to_name": "audio", "type": "textarea", "value": {"text": texts}}


def rating(value):
    return {"id": "q1", "from_name": "quality", "to_name": "image", "type": "rating", "value": {"rating": value}}


def relation(from_id="s1", to_id="s2", **extra):
    return {"type": "relation", "from_id": from_id, "to_id": to_id, **extra}


def mismatch(result, data=DATA, spec=SPEC, **kwargs) -> SchemaMismatch:
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result, data, **kwargs)
    return caught.value


def spec_error(spec) -> SpecError:
    with pytest.raises(SpecError) as caught:
        normalize_spec(spec)
    return caught.value


# --- the spec ------------------------------------------------------------------------------------------


def test_the_spec_normalizes_with_defaults_and_ids():
    controls = SPEC["controls"]
    assert SPEC["data"]["text"] == {"type": "text", "field": "text"}
    assert controls["sentiment"]["required"] is True and controls["sentiment"]["multiple"] is False
    assert controls["sentiment"]["taxonomy"] is False
    assert controls["entities"]["required"] is False and controls["entities"]["multiple"] is False
    assert controls["topic"]["taxonomy"] is True
    animal = controls["topic"]["labels"][0]
    assert animal["id"] == "animal" and [c["id"] for c in animal["children"]] == ["cat", "dog"]
    assert controls["entities"]["labels"][0] == {"id": "per", "value": "PER", "hotkey": "p"}
    assert controls["transcript"]["max_length"] == 20
    assert controls["links"] == {"type": "relation", "required": False,
                                 "labels": [{"id": "same_as", "value": "same_as"}]}
    assert "to" not in controls["links"]
    assert normalize_spec(SPEC) == SPEC  # normalizing again changes nothing


def test_defaults_for_rating_max_and_textarea_length():
    spec = normalize_spec({"data": {"text": {"type": "text"}},
                           "controls": {"stars": {"type": "rating", "to": "text"},
                                        "notes": {"type": "textarea", "to": "text"}}})
    assert spec["controls"]["stars"] == {"type": "rating", "to": "text", "required": False, "max": 5}
    assert spec["controls"]["notes"]["max_length"] is None


def test_the_design_example_without_an_audio_field_is_refused():
    raw = deepcopy(RAW_SPEC)
    del raw["data"]["audio"]
    error = spec_error(raw)
    assert error.path == "$.controls.transcript.to"
    assert "'audio' is not a data field" in error.reason.replace('"', "'")


def test_derived_ids_are_slugs_deduplicated_around_given_ids():
    spec = normalize_spec({"data": {"t": {"type": "text"}}, "controls": {"c": {"type": "choices", "to": "t", "labels": [
        {"value": "A b"}, {"value": "A-B"}, {"value": "third", "id": "a-b-3"}, {"value": "a  b"}, {"value": "Кошка"},
        {"value": "???"},
    ]}}})
    ids = [label["id"] for label in spec["controls"]["c"]["labels"]]
    assert ids == ["a-b", "a-b-2", "a-b-3", "a-b-4", "label", "label-2"]


def test_previous_version_keeps_the_ids_of_unchanged_values():
    v1 = normalize_spec({"data": {"t": {"type": "text"}},
                         "controls": {"c": {"type": "choices", "to": "t", "labels": [{"value": "Cat"}]}}})
    raw_v2 = {"data": {"t": {"type": "text"}},
              "controls": {"c": {"type": "choices", "to": "t", "labels": [{"value": "cat!"}, {"value": "Cat"}]}}}
    assert [label["id"] for label in normalize_spec(raw_v2)["controls"]["c"]["labels"]] == ["cat", "cat-2"]
    v2 = normalize_spec(raw_v2, previous=v1)
    assert [label["id"] for label in v2["controls"]["c"]["labels"]] == ["cat-2", "cat"]


def _with(change):
    spec = deepcopy(RAW_SPEC)
    change(spec)
    return spec


def _set(path, value):
    def change(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


C = "controls"
SPEC_ERRORS = [
    ("unknown top key", _set(["control"], {}), "$.control", "unknown key"),
    ("no data", lambda s: s.pop("data"), "$.data", "missing"),
    ("no controls", _set([C], {}), "$.controls", "at least one control"),
    ("bad data type", _set(["data", "image", "type"], "video"), "$.data.image.type", "not a data type"),
    ("data typo", _set(["data", "image", "kind"], "image"), "$.data.image.kind", "unknown key"),
    ("unknown control type", _set([C, "quality", "type"], "lasso"), "$.controls.quality.type", "not a control type"),
    ("typo in a control key", _set([C, "sentiment", "mulitple"], True), "$.controls.sentiment.mulitple",
     "unknown key for a choices control"),
    ("max on choices", _set([C, "sentiment", "max"], 3), "$.controls.sentiment.max", "unknown key"),
    ("to on a relation", _set([C, "links", "to"], "text"), "$.controls.links.to", "unknown key"),
    ("missing to", lambda s: s[C]["entities"].pop("to"), "$.controls.entities.to", "missing"),
    ("to an unknown field", _set([C, "entities", "to"], "body"), "$.controls.entities.to", "not a data field"),
    ("spans over an image", _set([C, "entities", "to"], "image"), "$.controls.entities.to",
     "a spans control labels text fields"),
    ("bbox over text", _set([C, "objects", "to"], "text"), "$.controls.objects.to", "labels image fields"),
    ("keypoints over audio", _set([C, "pose", "to"], "audio"), "$.controls.pose.to", "labels image fields"),
    ("required not a bool", _set([C, "sentiment", "required"], "yes"), "$.controls.sentiment.required",
     "must be true or false"),
    ("multiple is 1", _set([C, "topic", "multiple"], 1), "$.controls.topic.multiple", "must be true or false"),
    ("no labels", lambda s: s[C]["objects"].pop("labels"), "$.controls.objects.labels", "missing"),
    ("empty labels", _set([C, "sentiment", "labels"], []), "$.controls.sentiment.labels", "at least one label"),
    ("labels on a rating", _set([C, "quality", "labels"], [{"value": "x"}]), "$.controls.quality.labels",
     "unknown key for a rating control"),
    ("bare string label", _set([C, "sentiment", "labels"], ["positive"]), "$.controls.sentiment.labels[0]",
     "not a bare string"),
    ("empty value", _set([C, "sentiment", "labels", 1, "value"], "  "), "$.controls.sentiment.labels[1].value",
     "non-empty string"),
    ("number value", _set([C, "sentiment", "labels", 1, "value"], 2), "$.controls.sentiment.labels[1].value",
     "non-empty string"),
    ("duplicate sibling", _set([C, "sentiment", "labels", 1, "value"], "positive"),
     "$.controls.sentiment.labels[1].value", "duplicate label value"),
    ("duplicate across taxonomy branches", _set([C, "topic", "labels", 1, "value"], "Cat"),
     "$.controls.topic.labels[1].value", "unique within a control, across all levels"),
    ("duplicate hotkey", _set([C, "sentiment", "labels", 1, "hotkey"], "1"), "$.controls.sentiment.labels[1].hotkey",
     "already used by 'positive'"),
    ("hotkeys are case-insensitive", _set([C, "entities", "labels", 1, "hotkey"], "P"),
     "$.controls.entities.labels[1].hotkey", "already used"),
    ("two-key hotkey", _set([C, "sentiment", "labels", 0, "hotkey"], "12"), "$.controls.sentiment.labels[0].hotkey",
     "invalid hotkey"),
    ("css in a color", _set([C, "objects", "labels", 0, "color"], "red; background: url(//x)"),
     "$.controls.objects.labels[0].color", "invalid color"),
    ("bad id", _set([C, "sentiment", "labels", 0, "id"], "a b"), "$.controls.sentiment.labels[0].id", "invalid id"),
    ("duplicate id", _set([C, "topic", "labels", 1, "id"], "animal"), "$.controls.topic.labels[1].id",
     "duplicate label id"),
    ("children on spans", _set([C, "entities", "labels", 0, "children"], [{"value": "x"}]),
     "$.controls.entities.labels[0].children", "only choices labels have children"),
    ("empty children", _set([C, "topic", "labels", 1, "children"], []), "$.controls.topic.labels[1].children",
     "non-empty array"),
    ("leafs_only not a boolean", _set([C, "topic", "leafs_only"], "no"), "$.controls.topic.leafs_only",
     "must be true or false"),
    ("per_region on spans", _set([C, "entities", "per_region"], True), "$.controls.entities.per_region",
     "unknown key for a spans control"),
    ("per_region not a boolean", _set([C, "transcript", "per_region"], 1), "$.controls.transcript.per_region",
     "must be true or false"),
    ("text_key on a text field", _set(["data", "text", "text_key"], "body"), "$.data.text.text_key",
     "only paragraphs fields"),
    ("html spans over plain text", _set([C, "entities", "type"], "html_spans"), "$.controls.entities.to",
     "a html_spans control labels html fields (or url)"),
    ("visible_when not an array", _set([C, "topic", "visible_when"], {"when": "choice-selected"}),
     "$.controls.topic.visible_when", "must be an array of conditions"),
    ("unknown condition", _set([C, "topic", "visible_when"], [{"when": "hovered"}]),
     "$.controls.topic.visible_when[0].when", '"hovered" is not a condition'),
    ("condition typo", _set([C, "topic", "visible_when"], [{"when": "choice-selected", "contol": "sentiment"}]),
     "$.controls.topic.visible_when[0].contol", "unknown key for a condition"),
    ("condition on an unknown control", _set([C, "topic", "visible_when"], [{"when": "choice-selected",
                                                                             "control": "mood"}]),
     "$.controls.topic.visible_when[0].control", '"mood" is not a control of this spec'),
    ("condition on the control itself", _set([C, "topic", "visible_when"], [{"when": "choice-unselected",
                                                                             "control": "topic"}]),
     "$.controls.topic.visible_when[0].control", "cannot depend on the control itself"),
    ("choice condition on a region control", _set([C, "topic", "visible_when"], [{"when": "choice-selected",
                                                                                  "control": "entities"}]),
     "$.controls.topic.visible_when[0].control", "'entities' is a spans control; a choice-selected condition "
                                                 "names a choices control"),
    ("region condition on a choices control", _set([C, "transcript", "visible_when"], [{"when": "region-selected",
                                                                                        "control": "sentiment"}]),
     "$.controls.transcript.visible_when[0].control", "names a region control"),
    ("condition value that is not a label", _set([C, "topic", "visible_when"], [
        {"when": "choice-selected", "control": "sentiment", "values": ["meh"]}]),
     "$.controls.topic.visible_when[0].values[0]", "\"meh\" is not a label of 'sentiment'"),
    ("condition value of no choices control", _set([C, "topic", "visible_when"], [
        {"when": "choice-selected", "values": ["quokka"]}]),
     "$.controls.topic.visible_when[0].values[0]", "not a label of any choices control"),
    ("no-region-selected with a control", _set([C, "topic", "visible_when"], [{"when": "no-region-selected",
                                                                               "control": "entities"}]),
     "$.controls.topic.visible_when[0].control", "takes no control or values"),
    ("rating max 0", _set([C, "quality", "max"], 0), "$.controls.quality.max", "from 1 to 100"),
    ("rating max true", _set([C, "quality", "max"], True), "$.controls.quality.max", "from 1 to 100"),
    ("textarea length as string", _set([C, "transcript", "max_length"], "10"), "$.controls.transcript.max_length",
     "must be an integer"),
    ("control name with a space", lambda s: s[C].update({"my control": s[C].pop("quality")}),
     '$.controls["my control"]', "invalid control name"),
]


@pytest.mark.parametrize("change,path,reason", [case[1:] for case in SPEC_ERRORS], ids=[c[0] for c in SPEC_ERRORS])
def test_spec_errors_name_the_path(change, path, reason):
    spec = deepcopy(RAW_SPEC)
    change(spec)
    error = spec_error(spec)
    assert error.path == path
    assert reason in error.reason
    assert str(error) == f"{path}: {error.reason}"


@pytest.mark.parametrize("spec", [None, [], "spec", 3, {"data": []}])
def test_a_spec_that_is_not_an_object_or_has_no_fields(spec):
    error = spec_error(spec)
    assert error.path in ("$", "$.data") and "must be" in error.reason


def test_hotkeys_with_modifiers_and_colors_are_kept():
    raw = _with(_set([C, "sentiment", "labels"], [{"value": "a", "hotkey": "ctrl+1", "color": "#ff8800"},
                                                   {"value": "b", "hotkey": "shift+1", "color": "rgba(0, 0, 0, 0.5)"}]))
    labels = normalize_spec(raw)["controls"]["sentiment"]["labels"]
    assert [(label["hotkey"], label["color"]) for label in labels] == [("ctrl+1", "#ff8800"),
                                                                       ("shift+1", "rgba(0, 0, 0, 0.5)")]


def test_a_taxonomy_too_deep_is_refused_without_recursion_trouble():
    node = {"value": "leaf"}
    for depth in range(5000):
        node = {"value": f"n{depth}", "children": [node]}
    error = spec_error({"data": {"t": {"type": "text"}}, "controls": {"c": {"type": "choices", "to": "t",
                                                                            "labels": [node]}}})
    assert "at most 20 levels deep" in error.reason
    assert error.path.startswith("$.controls.c.labels[0].children[0]")


# --- results: valid -----------------------------------------------------------------------------------------


def test_a_complete_result_of_every_control_type_passes():
    result = [
        choices("positive"),
        taxonomy(["Animal", "Cat"], ["Plant"]),
        span(SALMA, SALMA + 5, ["PER"], "Salma", region_id="s1"),
        span(FRIDA, FRIDA + 5, ["PER"], "Frida", region_id="s2"),
        relation("s1", "s2", direction="bi", labels=["same_as"]),
        box(rotation=0, origin="manual", original_width=960, original_height=643, image_rotation=0, score=0.93),
        polygon([[10, 10], [20, 10], [15, 20]], closed=True),
        keypoint(width=0.5),
        textarea(["hello", "world"]),
        rating(5),
    ]
    validate_result(SPEC, result, DATA, require_complete=True)
    validate_result(SPEC, result)  # without the task's data, offsets are not checked against it


def test_span_offsets_count_code_points_in_a_real_review():
    assert TEXT[FRIDA - 3:FRIDA] == "de " and "ó" in TEXT[:FRIDA]
    validate_result(SPEC, [span(FRIDA, FRIDA + 5, ["ORG"], "Frida")], DATA)
    assert mismatch([span(FRIDA + 1, FRIDA + 6, ["ORG"], "Frida")]).path == "$[0].value.text"


def test_a_span_can_reach_the_last_character():
    end = len(TEXT)
    validate_result(SPEC, [span(end - 10, end, ["ORG"], TEXT[-10:])], DATA)


def test_label_studio_keys_that_we_do_not_use_are_kept_and_ignored():
    region = box(original_width=960, original_height=643)
    region.update({"source": "$image", "item_index": 0, "readonly": False, "hidden": False, "parentID": None,
                   "meta": {"text": ["checked"]}})
    validate_result(SPEC, [region], DATA)


def test_multiple_allows_several_labels_per_region():
    spec = normalize_spec(_with(_set([C, "entities", "multiple"], True)))
    validate_result(spec, [span(SALMA, SALMA + 5, ["PER", "ORG"], "Salma")], DATA)
    assert mismatch([span(SALMA, SALMA + 5, ["PER", "PER"], "Salma")], spec=spec).reason == \
        "names the same label twice"


def test_quokka_regions_pass_against_a_matching_spec():
    spec = normalize_spec({"data": {"image": {"type": "image"}}, "controls": {
        "box": {"type": "bbox", "to": "image", "required": True, "labels": [{"value": "quokka"}]},
        "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
        "keypoints": {"type": "keypoints", "to": "image", "labels": [{"value": name} for name in QUOKKA_POINTS]},
    }})
    validate_result(spec, QUOKKA, {"image": "quokka.jpg"}, require_complete=True)
    assert result_labels(spec, QUOKKA) == {"box": {"quokka"}, "polygon": {"quokka"}, "keypoints": set(QUOKKA_POINTS)}
    polygon_points = QUOKKA[1]["value"]["points"]
    assert polygon_points[2] == polygon_points[3]  # the repeated vertex of the source is accepted
    wrong = deepcopy(QUOKKA)
    wrong[0]["value"]["x"] = 70  # 70 + 41.875 > 100
    error = mismatch(wrong, spec=spec)
    assert error.path == "$[0].value.width" and "right edge" in error.reason
    wrong = deepcopy(QUOKKA)
    wrong[5]["to_name"] = "img"
    assert mismatch(wrong, spec=spec).path == "$[5].to_name"


# --- results: invalid, per control type ------------------------------------------------------------------

INVALID = [
    # choices
    ("choices: two where one is allowed", [choices("positive", "negative")], "$[0].value.choices",
     "control 'sentiment' allows one choice, got 2"),
    ("choices: unknown label", [choices("Positive")], "$[0].value.choices[0]",
     '"Positive" is not a label of control \'sentiment\''),
    ("choices: a string, not a list", [{**choices(), "value": {"choices": "positive"}}], "$[0].value.choices",
     "must be an array"),
    ("choices: empty", [choices()], "$[0].value.choices", "at least one label"),
    ("choices: a number as label", [choices(1)], "$[0].value.choices[0]", "not a number (1)"),
    ("choices: twice for one control", [choices("positive"), choices("negative", region_id="c2")], "$[1]",
     "already has a result at $[0]"),
    # taxonomy
    ("taxonomy: partial path", [taxonomy(["Animal"])], "$[0].value.taxonomy[0]",
     'ends at "Animal", which is not a leaf: choose one of Cat, Dog'),
    ("taxonomy: unknown child", [taxonomy(["Animal", "Cow"])], "$[0].value.taxonomy[0][1]",
     '"Cow" is not a child of "Animal"'),
    ("taxonomy: leaf without its root", [taxonomy(["Cat"])], "$[0].value.taxonomy[0][0]",
     'its full path is ["Animal", "Cat"]'),
    ("taxonomy: past a leaf", [taxonomy(["Plant", "Tree"])], "$[0].value.taxonomy[0][1]",
     '"Plant" is a leaf'),
    ("taxonomy: flat list", [{**taxonomy(), "value": {"taxonomy": ["Animal", "Cat"]}}],
     "$[0].value.taxonomy[0]", "must be a path from the root"),
    ("taxonomy: answered as choices", [{**taxonomy(["Plant"]), "type": "choices"}], "$[0].type",
     "whose results are 'taxonomy'"),
    ("taxonomy: same path twice", [taxonomy(["Plant"], ["Plant"])], "$[0].value.taxonomy", "same path twice"),
    # spans
    ("spans: start after end", [span(10, 5, ["PER"])], "$[0].value.end", "must be greater than start (10)"),
    ("spans: empty span", [span(5, 5, ["PER"])], "$[0].value.end", "must be greater than start"),
    ("spans: past the text", [span(0, len(TEXT) + 1, ["PER"])], "$[0].value.end",
     f"past the end of the text of 'text' ({len(TEXT)} characters)"),
    ("spans: quoted text differs", [span(SALMA, SALMA + 5, ["PER"], "Selma")], "$[0].value.text",
     '"Selma" is not the text at'),
    ("spans: float offset", [span(1.0, 5, ["PER"])], "$[0].value.start", "must be an integer"),
    ("spans: negative start", [span(-1, 5, ["PER"])], "$[0].value.start", "must be 0 or more"),
    ("spans: missing end", [{**span(0, 1, ["PER"]), "value": {"start": 0, "labels": ["PER"]}}], "$[0].value.end",
     "missing"),
    ("spans: unknown label", [span(0, 3, ["LOC"])], "$[0].value.labels[0]", '"LOC" is not a label'),
    ("spans: two labels", [span(0, 3, ["PER", "ORG"])], "$[0].value.labels", "allows one label per region"),
    ("spans: no labels", [span(0, 3, [])], "$[0].value.labels", "at least one label"),
    # bbox
    ("bbox: x over 100", [box(x=101)], "$[0].value.x", "between 0 and 100"),
    ("bbox: x + width over 100", [box(x=90, width=20)], "$[0].value.width", "x + width = 110"),
    ("bbox: y + height over 100", [box(y=80, height=30)], "$[0].value.height", "bottom edge"),
    ("bbox: negative width", [box(width=-5)], "$[0].value.width", "greater than 0"),
    ("bbox: zero height", [box(height=0)], "$[0].value.height", "greater than 0"),
    ("bbox: NaN", [box(x=math.nan)], "$[0].value.x", "finite number, not a number (NaN)"),
    ("bbox: infinity", [box(y=math.inf)], "$[0].value.y", "finite number"),
    ("bbox: string coordinate", [box(x="10")], "$[0].value.x", 'not a string ("10")'),
    ("bbox: missing height", [{**box(), "value": {"x": 1, "y": 1, "width": 1, "rectanglelabels": ["quokka"]}}],
     "$[0].value.height", "missing"),
    ("bbox: rotation as string", [box(rotation="90")], "$[0].value.rotation", "angle in degrees"),
    ("bbox: rotated corner outside", [{**box(x=90, y=10, width=20, height=5, rotation=45),
                                       "original_width": 100, "original_height": 100}], "$[0].value.rotation",
     "corner outside the image"),
    ("bbox: wrong object", [{**box(), "to_name": "text"}], "$[0].to_name", "control 'objects' labels 'image'"),
    ("bbox: wrong label", [box(labels=["wallaby"])], "$[0].value.rectanglelabels[0]", '"wallaby" is not a label'),
    # polygon
    ("polygon: two points", [polygon([[1, 1], [2, 2]])], "$[0].value.points", "at least 3 points, got 2"),
    ("polygon: a point with one number", [polygon([[1, 1], [2], [3, 3]])], "$[0].value.points[1]",
     "must be an [x, y] pair"),
    ("polygon: outside the image", [polygon([[1, 1], [2, 2], [3, 120]])], "$[0].value.points[2][1]",
     "between 0 and 100"),
    ("polygon: points as object", [polygon({"x": 1})], "$[0].value.points", "array of [x, y] points"),
    ("polygon: closed as string", [polygon([[1, 1], [2, 2], [3, 3]], closed="yes")], "$[0].value.closed",
     "true or false"),
    # keypoints
    ("keypoints: negative x", [keypoint(x=-5)], "$[0].value.x", "between 0 and 100"),
    ("keypoints: negative width", [keypoint(width=-1)], "$[0].value.width", "from 0 to 100"),
    ("keypoints: missing y", [{**keypoint(), "value": {"x": 3, "keypointlabels": ["nose"]}}], "$[0].value.y",
     "missing"),
    ("keypoints: unknown point name", [keypoint(labels=["tail"])], "$[0].value.keypointlabels[0]",
     "labels: eye_left, nose"),
    # textarea
    ("textarea: a string, not a list", [textarea("hello")], "$[0].value.text", "array of strings"),
    ("textarea: too long", [textarea(["x" * 21])], "$[0].value.text[0]",
     "21 characters long; control 'transcript' allows at most 20"),
    ("textarea: a number among texts", [textarea(["ok", 3])], "$[0].value.text[1]", "must be a string"),
    ("textarea: empty list", [textarea([])], "$[0].value.text", "at least one text"),
    # rating
    ("rating: zero", [rating(0)], "$[0].value.rating", "from 1 to 5, not 0"),
    ("rating: above max", [rating(6)], "$[0].value.rating", "from 1 to 5, not 6"),
    ("rating: float", [rating(4.0)], "$[0].value.rating", "must be an integer"),
    ("rating: missing", [{**rating(1), "value": {}}], "$[0].value.rating", "missing"),
    # relation
    ("relation: missing from_id", [span(0, 3, ["PER"]), {"type": "relation", "to_id": "s1"}], "$[1].from_id",
     "missing"),
    ("relation: unknown region", [span(0, 3, ["PER"]), relation("s1", "nope")], "$[1].to_id",
     'no region of this result has the id "nope"'),
    ("relation: to itself", [span(0, 3, ["PER"]), relation("s1", "s1")], "$[1].to_id", "two different regions"),
    ("relation: unknown label", [span(0, 3, ["PER"]), span(5, 7, ["ORG"], region_id="s2"),
                                 relation(labels=["sibling_of"])], "$[2].labels[0]",
     '"sibling_of" is not a relation label (relation labels: same_as)'),
    ("relation: bad direction", [span(0, 3, ["PER"]), span(5, 7, ["ORG"], region_id="s2"),
                                 relation(direction="up")], "$[2].direction", "right, left, bi"),
    ("relation: id as number", [span(0, 3, ["PER"]), relation(1, "s1")], "$[1].from_id",
     "must be a region id"),
    # any region
    ("not an array", {"choices": ["positive"]}, "$", "must be an array of regions, not an object"),
    ("item not an object", [choices("positive"), "positive"], "$[1]", "must be a region object"),
    ("unknown control", [{**choices("positive"), "from_name": "mood"}], "$[0].from_name",
     '"mood" is not a control of this label schema'),
    ("missing from_name", [{"type": "choices", "value": {"choices": ["positive"]}}], "$[0].from_name", "missing"),
    ("type of another control", [{**choices("positive"), "type": "labels"}], "$[0].type",
     "does not match control 'sentiment'"),
    ("relation control as from_name", [{**choices("positive"), "from_name": "links"}], "$[0].type",
     "whose results are 'relation'"),
    ("duplicate region ids", [span(0, 3, ["PER"]), span(5, 7, ["ORG"])], "$[1].id",
     'duplicate region id "s1" (also at $[0])'),
    ("missing value", [{k: v for k, v in choices("positive").items() if k != "value"}], "$[0].value", "missing"),
    ("value not an object", [{**choices(), "value": ["positive"]}], "$[0].value", "must be an object"),
    ("score as string", [{**choices("positive"), "score": "high"}], "$[0].score", "must be a number"),
    ("negative image size", [box(), {**keypoint(), "original_width": -1}], "$[1].original_width",
     "size in pixels"),
    ("readonly as string", [{**choices("positive"), "readonly": "no"}], "$[0].readonly", "true or false"),
]


@pytest.mark.parametrize("result,path,reason", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_results_name_the_json_path(result, path, reason):
    error = mismatch(result)
    assert (error.path, reason in error.reason) == (path, True), error.reason
    assert error.as_details() == {"path": path, "reason": error.reason}


def test_every_control_type_has_at_least_three_invalid_cases():
    counts = {}
    for name, *_ in INVALID:
        counts[name.split(":")[0]] = counts.get(name.split(":")[0], 0) + 1
    for kind in ("choices", "taxonomy", "spans", "bbox", "polygon", "keypoints", "textarea", "rating", "relation"):
        assert counts.get(kind, 0) >= 3, kind


def test_relations_need_a_relation_control():
    spec = normalize_spec({"data": {"t": {"type": "text"}},
                           "controls": {"ner": {"type": "spans", "to": "t", "labels": [{"value": "PER"}]}}})
    result = [{"id": "a", "from_name": "ner", "to_name": "t", "type": "labels", "value": {"start": 0, "end": 1,
                                                                                         "labels": ["PER"]}},
              {"id": "b", "from_name": "ner", "to_name": "t", "type": "labels", "value": {"start": 2, "end": 3,
                                                                                         "labels": ["PER"]}},
              {"type": "relation", "from_id": "a", "to_id": "b"}]
    error = mismatch(result, spec=spec, data=None)
    assert error.path == "$[2].type" and "no relation control" in error.reason


def test_unlabelled_relations_pass_when_the_spec_has_a_relation_control():
    result = [span(0, 2, ["PER"], TEXT[:2]), span(3, 5, ["ORG"], TEXT[3:5], region_id="s2"),
              relation(labels=[]), relation("s2", "s1", direction="left")]
    validate_result(SPEC, result, DATA)


@pytest.mark.parametrize(
    "result,path",
    [
        ([box(x=True)], "$[0].value.x"),
        ([box(width=False)], "$[0].value.width"),
        ([polygon([[1, 1], [True, 2], [3, 3]])], "$[0].value.points[1][0]"),
        ([keypoint(y=True)], "$[0].value.y"),
        ([keypoint(width=True)], "$[0].value.width"),
        ([span(True, 3, ["PER"])], "$[0].value.start"),
        ([span(0, True, ["PER"])], "$[0].value.end"),
        ([rating(True)], "$[0].value.rating"),
        ([{**box(), "original_width": True}], "$[0].original_width"),
        ([{**choices("positive"), "score": False}], "$[0].score"),
    ],
)
def test_booleans_are_not_numbers(result, path):
    error = mismatch(result)
    assert error.path == path and "a boolean" in error.reason


# --- require_complete ------------------------------------------------------------------------------------


def test_required_controls_only_when_the_result_must_be_complete():
    draft = [span(SALMA, SALMA + 5, ["PER"], "Salma")]
    validate_result(SPEC, draft, DATA)  # a draft or a prediction may be partial
    error = mismatch(draft, require_complete=True)
    assert error.path == "$" and "control 'sentiment' is required" in error.reason
    validate_result(SPEC, draft + [choices("negative")], DATA, require_complete=True)


def test_a_required_region_control_and_a_required_relation():
    raw = _with(lambda s: (s[C]["objects"].update(required=True), s[C]["links"].update(required=True),
                           s[C]["sentiment"].update(required=False)))
    spec = normalize_spec(raw)
    assert "'objects' is required" in mismatch([], spec=spec, require_complete=True).reason
    two_spans = [span(0, 2, ["PER"], region_id="s1"), span(3, 5, ["ORG"], region_id="s2")]
    error = mismatch([box()] + two_spans, spec=spec, data=None, require_complete=True)
    assert "'links' is required" in error.reason
    validate_result(spec, [box()] + two_spans + [relation()], require_complete=True)


def test_validate_data_checks_the_fields_the_spec_needs():
    validate_data(SPEC, DATA)
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(SPEC, {"text": "x", "image": "", "audio": "a.wav"})
    assert caught.value.path == "$.image" and "non-empty string" in caught.value.reason
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(SPEC, {"text": "x", "image": "a.jpg"})
    assert caught.value.path == "$.audio" and "missing" in caught.value.reason
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(SPEC, {"text": 5, "image": "a.jpg", "audio": "a.wav"})
    assert caught.value.path == "$.text"


# --- labels in use, remaps, orphans ----------------------------------------------------------------------

FULL = [
    choices("positive"),
    taxonomy(["Animal", "Cat"], ["Plant"]),
    span(SALMA, SALMA + 5, ["PER"], "Salma", region_id="s1"),
    span(FRIDA, FRIDA + 5, ["ORG"], "Frida", region_id="s2"),
    relation("s1", "s2", labels=["same_as"]),
    box(),
    textarea(["hello"]),
]


def test_spec_labels_and_result_labels_use_taxonomy_leaves():
    labels = spec_labels(SPEC)
    assert labels["topic"] == {"Cat", "Dog", "Plant"}  # "Animal" is a node, not a selectable label
    assert labels["transcript"] == set() and labels["links"] == {"same_as"}
    assert result_labels(SPEC, FULL) == {
        "sentiment": {"positive"}, "topic": {"Cat", "Plant"}, "entities": {"PER", "ORG"}, "links": {"same_as"},
        "objects": {"quokka"}, "transcript": set(),
    }


def _new_spec(change):
    return normalize_spec(_with(change))


def test_remap_renames_merges_and_deletes_without_touching_the_input():
    new = _new_spec(lambda s: (
        s[C]["sentiment"].update(labels=[{"value": "good"}, {"value": "negative"}]),
        s[C]["entities"].update(labels=[{"value": "NAME"}]),
    ))
    before = deepcopy(FULL)
    remapped = remap_result(new, FULL, {"sentiment": {"positive": "good"}, "entities": {"PER": "NAME", "ORG": "NAME"}})
    assert FULL == before  # the input is untouched
    assert remapped[0]["value"]["choices"] == ["good"]
    assert [item["value"]["labels"] for item in remapped[2:4]] == [["NAME"], ["NAME"]]
    validate_result(new, remapped, DATA, require_complete=True)
    remapped[0]["value"]["choices"].append("x")  # and shares nothing with it
    assert FULL[0]["value"]["choices"] == ["positive"]


def test_merging_two_labels_of_one_region_keeps_one():
    spec = normalize_spec(_with(_set([C, "entities", "multiple"], True)))
    result = [span(SALMA, SALMA + 5, ["PER", "ORG"], "Salma")]
    assert remap_result(spec, result, {"entities": {"ORG": "PER"}})[0]["value"]["labels"] == ["PER"]


def test_deleting_a_label_drops_emptied_regions_and_their_relations():
    new = _new_spec(lambda s: s[C]["entities"].update(labels=[{"value": "ORG"}]))
    remapped = remap_result(new, FULL, {"entities": {"PER": None}})
    ids = [item.get("id") for item in remapped]
    assert "s1" not in ids and "s2" in ids
    assert not [item for item in remapped if item.get("type") == "relation"]  # it pointed to s1
    validate_result(new, remapped, DATA)


def test_deleting_one_of_several_choices_keeps_the_region():
    remapped = remap_result(SPEC, FULL, {"topic": {"Plant": None}})
    assert remapped[1]["value"]["taxonomy"] == [["Animal", "Cat"]]
    remapped = remap_result(SPEC, FULL, {"topic": {"Plant": None, "Cat": None}})
    assert all(item.get("from_name") != "topic" for item in remapped)


def test_taxonomy_remap_follows_the_new_tree():
    new = _new_spec(_set([C, "topic", "labels"], [
        {"value": "Animal", "children": [{"value": "Mammal", "children": [{"value": "Cat"}, {"value": "Dog"}]}]},
        {"value": "Flora", "children": [{"value": "Plant"}, {"value": "Fungus"}]},
    ]))
    assert orphaned_labels(SPEC, new, result_labels(SPEC, FULL), {}) == {}  # moved leaves are still there
    remapped = remap_result(new, FULL, {"topic": {"Cat": "Dog"}})
    assert remapped[1]["value"]["taxonomy"] == [["Animal", "Mammal", "Dog"], ["Flora", "Plant"]]
    validate_result(new, remapped, DATA)


def test_relation_labels_are_renamed_or_deleted():
    new = _new_spec(_set([C, "links", "labels"], [{"value": "identical"}]))
    remapped = remap_result(new, FULL, {"links": {"same_as": "identical"}})
    assert remapped[4]["labels"] == ["identical"]
    validate_result(new, remapped, DATA)
    remapped = remap_result(new, FULL, {"links": {"same_as": None}})
    assert not [item for item in remapped if item.get("type") == "relation"]


def test_a_whole_control_mapped_to_none_loses_its_items():
    remapped = remap_result(SPEC, FULL, {"transcript": None, "entities": None})
    assert {item.get("from_name") for item in remapped} == {"sentiment", "topic", "objects"}


def test_orphaned_labels_without_and_with_a_remap():
    in_use = result_labels(SPEC, FULL)
    renamed = _new_spec(lambda s: s[C]["sentiment"].update(labels=[{"value": "good"}, {"value": "negative"}]))
    assert orphaned_labels(SPEC, renamed, in_use, {}) == {"sentiment": ["positive"]}
    assert orphaned_labels(SPEC, renamed, in_use, {"sentiment": {"positive": "good"}}) == {}
    assert orphaned_labels(SPEC, renamed, in_use, {"sentiment": {"positive": None}}) == {}
    # a label nobody used may simply go
    assert orphaned_labels(SPEC, _new_spec(lambda s: s[C]["topic"]["labels"][0]["children"].pop()), in_use, {}) == {}


def test_removed_controls_in_use_are_orphaned_until_dropped():
    in_use = result_labels(SPEC, FULL)
    new = _new_spec(lambda s: (s[C].pop("entities"), s[C].pop("transcript")))
    assert orphaned_labels(SPEC, new, in_use, {}) == {"entities": ["ORG", "PER"], "transcript": []}
    assert orphaned_labels(SPEC, new, in_use, {"entities": {"ORG": None, "PER": None}, "transcript": None}) == {}


def test_a_changed_control_type_orphans_its_labels_whatever_the_remap():
    in_use = result_labels(SPEC, FULL)
    new = _new_spec(lambda s: s[C]["objects"].update(type="polygon"))
    assert orphaned_labels(SPEC, new, in_use, {"objects": {"quokka": "quokka"}}) == {"objects": ["quokka"]}
    assert orphaned_labels(SPEC, new, in_use, {"objects": {"quokka": None}}) == {}


def test_a_leaf_that_grows_children_is_orphaned():
    new = _new_spec(lambda s: s[C]["topic"]["labels"][1].update(children=[{"value": "Tree"}]))
    assert orphaned_labels(SPEC, new, result_labels(SPEC, FULL), {}) == {"topic": ["Plant"]}
    assert orphaned_labels(SPEC, new, result_labels(SPEC, FULL), {"topic": {"Plant": "Tree"}}) == {}


def test_relation_labels_may_move_to_another_relation_control():
    new = _new_spec(lambda s: (s[C].pop("links"), s[C].update(edges={"type": "relation",
                                                                      "labels": [{"value": "same_as"}]})))
    assert orphaned_labels(SPEC, new, result_labels(SPEC, FULL), {}) == {}
    validate_result(new, FULL, DATA)


@pytest.mark.parametrize(
    "remap,path,reason",
    [
        ({"sentiment": {"positive": "great"}}, "$.remap.sentiment.positive", '"great" is not a label of'),
        ({"sentiment": ["positive"]}, "$.remap.sentiment", "must be an object"),
        ({"sentiment": {"positive": 1}}, "$.remap.sentiment.positive", "not a label"),
        ({"gone": {"x": "positive"}}, "$.remap.gone.x", "no control 'gone'"),
        ("positive→good", "$.remap", "must be an object"),
    ],
)
def test_invalid_remaps_are_spec_errors(remap, path, reason):
    with pytest.raises(SpecError) as caught:
        validate_remap(SPEC, remap)
    assert caught.value.path == path and reason in caught.value.reason
    with pytest.raises(SpecError):
        orphaned_labels(SPEC, SPEC, {}, remap)


def test_compile_spec_is_cached_per_spec_object():
    assert compile_spec(SPEC) is compile_spec(SPEC)
    assert compile_spec(compile_spec(SPEC)) is compile_spec(SPEC)
    assert compile_spec(deepcopy(SPEC)) is not compile_spec(SPEC)


# --- Label Studio interop: inner-node picks, nested choices, UTF-16 offsets, per-region, html and paragraphs --


def _topic_spec(**options):
    return normalize_spec(_with(lambda s: s[C]["topic"].update(options)))


def test_hierarchical_choices_pick_leaves_only_unless_leafs_only_is_false():
    assert SPEC[C]["topic"]["leafs_only"] is True  # our default: a path ends at a leaf
    assert "not a leaf" in mismatch([taxonomy(["Animal"])]).reason
    open_tree = _topic_spec(leafs_only=False)
    validate_result(open_tree, [taxonomy(["Animal"], ["Animal", "Cat"], ["Plant"])], DATA)
    assert spec_labels(open_tree)["topic"] == {"Animal", "Cat", "Dog", "Plant"}
    assert result_labels(open_tree, [taxonomy(["Animal"])]) == {"topic": {"Animal"}}
    # still full paths from the root, still ending at a leaf at the latest
    assert mismatch([taxonomy(["Cat"])], spec=open_tree).path == "$[0].value.taxonomy[0][0]"
    error = mismatch([taxonomy(["Plant", "Tree"])], spec=open_tree)
    assert (error.path, '"Plant" is a leaf' in error.reason) == ("$[0].value.taxonomy[0][1]", True)
    # an inner node stays in use when the tree grows under it; under leafs_only it would be orphaned
    grown = normalize_spec(_with(lambda s: (s[C]["topic"].update(leafs_only=False),
                                            s[C]["topic"]["labels"][1].update(children=[{"value": "Tree"}]))))
    assert orphaned_labels(open_tree, grown, result_labels(open_tree, FULL), {}) == {}


def test_leafs_only_is_kept_for_hierarchical_choices_only():
    flat = normalize_spec(_with(_set([C, "sentiment", "leafs_only"], False)))
    assert "leafs_only" not in flat[C]["sentiment"]
    assert normalize_spec(_with(_set([C, "topic", "leafs_only"], False)))[C]["topic"]["leafs_only"] is False


# Label Studio's <Choices allowNested="true">: hierarchical choices whose results are paths under "choices".
NESTED = normalize_spec({"data": {"text": {"type": "text"}}, "controls": {"kind": {
    "type": "choices", "to": "text", "taxonomy": False, "leafs_only": False, "labels": [
        {"value": "Header 1", "children": [{"value": "Option 1.1"}, {"value": "Option 1.2"}]},
        {"value": "Header 2", "children": [{"value": "Option 2.1"}, {"value": "Option 2.2"}]},
        {"value": "Other"},
    ]}}})


def nested(*entries):
    return {"id": "n1", "from_name": "kind", "to_name": "text", "type": "choices",
            "value": {"choices": list(entries)}}


def test_nested_choices_answer_paths_under_choices():
    assert NESTED[C]["kind"]["taxonomy"] is False and compile_spec(NESTED).controls["kind"].result_type == "choices"
    validate_result(NESTED, [nested(["Header 1", "Option 1.1"])])
    # picking an inner node picks its children too: one choice, stored as three paths
    validate_result(NESTED, [nested(["Header 1"], ["Header 1", "Option 1.1"], ["Header 1", "Option 1.2"])])
    validate_result(NESTED, [nested(["Other"])])
    validate_result(NESTED, [nested("Other")])  # a bare label is the path to a top-level label
    assert result_labels(NESTED, [nested(["Header 1"], ["Header 1", "Option 1.1"])]) == {
        "kind": {"Header 1", "Option 1.1"}}


NESTED_INVALID = [
    ("two choices where one is allowed", [nested(["Header 1", "Option 1.1"], ["Header 2"])], "$[0].value.choices",
     "control 'kind' allows one choice, got 2"),
    ("a nested label without its path", [nested("Option 1.1")], "$[0].value.choices[0]",
     'is not a top-level label in choices \'kind\' (expected one of: Header 1, Header 2, Other); its full path is '
     '["Header 1", "Option 1.1"]'),
    ("a step that is not a child", [nested(["Header 1", "Option 2.1"])], "$[0].value.choices[0][1]",
     '"Option 2.1" is not a child of "Header 1"'),
    ("past a leaf", [nested(["Other", "More"])], "$[0].value.choices[0][1]", '"Other" is a leaf'),
    ("the same path twice", [nested(["Other"], "Other")], "$[0].value.choices", "names the same path twice"),
    ("an empty path", [nested([])], "$[0].value.choices[0]", "must be a label or a path from the root"),
    ("answered as a taxonomy", [{**nested(["Other"]), "type": "taxonomy"}], "$[0].type", "whose results are "
                                                                                           "'choices'"),
]


@pytest.mark.parametrize("result,path,reason", [case[1:] for case in NESTED_INVALID],
                         ids=[case[0] for case in NESTED_INVALID])
def test_invalid_nested_choices_name_the_json_path(result, path, reason):
    error = mismatch(result, spec=NESTED, data=None)
    assert (error.path, reason in error.reason) == (path, True), error.reason


def test_flat_choices_also_take_one_step_paths():
    validate_result(SPEC, [{**choices(), "value": {"choices": [["positive"]]}}], DATA)
    error = mismatch([{**choices(), "value": {"choices": [["positive", "very"]]}}])
    assert error.path == "$[0].value.choices[0][1]" and '"positive" is a leaf' in error.reason


def test_nested_choices_follow_the_new_tree_on_remap():
    new = normalize_spec({"data": {"text": {"type": "text"}}, "controls": {"kind": {
        "type": "choices", "to": "text", "taxonomy": False, "leafs_only": False, "labels": [
            {"value": "Header 1", "children": [{"value": "Option 1.2"}]},
            {"value": "Header 2", "children": [{"value": "Option 2.1"}, {"value": "Option 2.2"},
                                               {"value": "Other"}]}]}}})
    result = [nested(["Header 1", "Option 1.1"], ["Other"])]
    assert orphaned_labels(NESTED, new, result_labels(NESTED, result), {}) == {"kind": ["Option 1.1"]}
    remapped = remap_result(new, result, {"kind": {"Option 1.1": "Option 1.2"}})
    assert remapped[0]["value"]["choices"] == [["Header 1", "Option 1.2"], ["Header 2", "Other"]]
    assert remap_result(new, [nested("Other")], {})[0]["value"]["choices"] == [["Header 2", "Other"]]


# "Great film 😀😀 …": each emoji is one code point (Python) and two UTF-16 code units (JavaScript).
EMOJI_TEXT = "Great film \N{GRINNING FACE}\N{GRINNING FACE} with Salma Hayek, tender and funny"
EMOJI_DATA = {**DATA, "text": EMOJI_TEXT}


def _utf16_offset(text, offset):
    return len(text[:offset].encode("utf-16-le")) // 2


def test_span_offsets_in_utf16_code_units_match_the_quoted_text_after_an_emoji():
    start = EMOJI_TEXT.index("Salma")
    js_start = _utf16_offset(EMOJI_TEXT, start)
    assert js_start == start + 2
    validate_result(SPEC, [span(start, start + 5, ["PER"], "Salma")], EMOJI_DATA)  # code points: Python, spaCy
    validate_result(SPEC, [span(js_start, js_start + 5, ["PER"], "Salma")], EMOJI_DATA)  # older Label Studio
    # a span reaching the end, past it in code points
    end, js_end = len(EMOJI_TEXT), _utf16_offset(EMOJI_TEXT, len(EMOJI_TEXT))
    validate_result(SPEC, [span(js_end - 5, js_end, ["ORG"], "funny")], EMOJI_DATA)
    error = mismatch([span(js_end - 5, js_end, ["ORG"])], data=EMOJI_DATA)  # without a quote, code points
    assert error.path == "$[0].value.end" and f"({end} characters)" in error.reason
    # the emoji themselves
    smile = EMOJI_TEXT.index("\N{GRINNING FACE}")
    validate_result(SPEC, [span(smile, smile + 2, ["ORG"], "\N{GRINNING FACE}" * 2)], EMOJI_DATA)
    validate_result(SPEC, [span(smile, smile + 4, ["ORG"], "\N{GRINNING FACE}" * 2)], EMOJI_DATA)


def test_a_quote_matching_at_neither_count_is_refused():
    js_start = _utf16_offset(EMOJI_TEXT, EMOJI_TEXT.index("Salma"))
    error = mismatch([span(js_start, js_start + 5, ["PER"], "Selma")], data=EMOJI_DATA)
    shown = EMOJI_TEXT[js_start:js_start + 5]  # the message counts code points
    assert (error.path, shown) == ("$[0].value.text", "lma H")
    assert f'is not the text at {js_start}–{js_start + 5} of \'text\', which is "{shown}"' in error.reason
    smile = EMOJI_TEXT.index("\N{GRINNING FACE}")
    # UTF-16 offsets that cut an emoji in half never match
    assert mismatch([span(smile, smile + 1, ["ORG"], "\ud83d")], data=EMOJI_DATA).path == "$[0].value.text"


# perRegion: choices, a textarea and a rating for each box, repeating the box's id and geometry.
PER_REGION = normalize_spec({
    "data": {"image": {"type": "image"}, "text": {"type": "text"}},
    "controls": {
        "objects": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}, {"value": "wallaby"}]},
        "entities": {"type": "spans", "to": "text", "labels": [{"value": "PER"}]},
        "age": {"type": "choices", "to": "image", "per_region": True, "required": True,
                "labels": [{"value": "adult"}, {"value": "joey"}]},
        "note": {"type": "textarea", "to": "image", "per_region": True},
        "sure": {"type": "rating", "to": "image", "per_region": True, "max": 3},
        "quality": {"type": "rating", "to": "image"},
        "links": {"type": "relation", "labels": []},
    },
})
GEOMETRY = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0}


def region(region_id="b1", label="quokka", **geometry):
    return {"id": region_id, "from_name": "objects", "to_name": "image", "type": "rectanglelabels",
            "original_width": 960, "original_height": 643,
            "value": {**GEOMETRY, **geometry, "rectanglelabels": [label]}}


def per_region(name, kind, payload, region_id="b1", **extra):
    return {"id": region_id, "from_name": name, "to_name": "image", "type": kind,
            "value": {**GEOMETRY, **payload}, **extra}


def age(*values, region_id="b1"):
    return per_region("age", "choices", {"choices": list(values)}, region_id)


def test_per_region_items_share_their_region_id():
    assert PER_REGION[C]["age"]["per_region"] is True and "per_region" not in PER_REGION[C]["quality"]
    result = [region("b1"), age("joey"), per_region("note", "textarea", {"text": ["in the pouch"]}),
              per_region("sure", "rating", {"rating": 3}), region("b2", "wallaby", x=50), age("adult", region_id="b2"),
              {"type": "relation", "from_id": "b2", "to_id": "b1", "labels": []}]
    validate_result(PER_REGION, result, require_complete=True)
    assert result_labels(PER_REGION, result)["age"] == {"adult", "joey"}
    validate_result(PER_REGION, [], require_complete=True)  # no region, nothing to classify


def test_a_required_per_region_control_needs_every_region():
    error = mismatch([region("b1"), age("joey"), region("b2", x=50)], spec=PER_REGION, data=None,
                     require_complete=True)
    assert error.path == "$[2]" and 'required for every region of \'image\', and region "b2"' in error.reason
    validate_result(PER_REGION, [region("b1"), age("joey"), region("b2", x=50)])  # a draft may be partial


PER_REGION_INVALID = [
    ("no id", [region(), {k: v for k, v in age("joey").items() if k != "id"}], "$[1].id",
     "missing: control 'age' classifies regions"),
    ("id of no region", [region(), age("joey", region_id="b9")], "$[1].id",
     'no region of this result has the id "b9"; control \'age\' classifies regions'),
    ("id of a whole-task item", [{**rating(2), "id": "q1"}, age("joey", region_id="q1")], "$[1].id",
     "($[0] is not a region)"),
    ("region on another object", [span(0, 3, ["PER"], region_id="s1"), age("joey", region_id="s1")], "$[1].id",
     "region \"s1\" at $[0] is on 'text', but control 'age' classifies regions of 'image'"),
    ("twice for one region", [region(), age("joey"), age("adult")], "$[2]",
     "control 'age' already has a result for region \"b1\" at $[1]; it takes one per region"),
    ("an unknown choice", [region(), age("kitten")], "$[1].value.choices[0]", '"kitten" is not a label'),
    ("two choices", [region(), age("joey", "adult")], "$[1].value.choices", "allows one choice, got 2"),
    ("an empty text", [region(), per_region("note", "textarea", {"text": []})], "$[1].value.text",
     "at least one text"),
    ("a rating over max", [region(), per_region("sure", "rating", {"rating": 4})], "$[1].value.rating",
     "from 1 to 3"),
    ("id as a number", [region(), {**age("joey"), "id": 1}], "$[1].id", "must be a region id"),
    ("a region id used twice", [region(), region()], "$[1].id", 'duplicate region id "b1"'),
]


@pytest.mark.parametrize("result,path,reason", [case[1:] for case in PER_REGION_INVALID],
                         ids=[case[0] for case in PER_REGION_INVALID])
def test_invalid_per_region_results_name_the_json_path(result, path, reason):
    error = mismatch(result, spec=PER_REGION, data=None)
    assert (error.path, reason in error.reason) == (path, True), error.reason


def test_remap_drops_the_per_region_items_of_a_dropped_region():
    result = [region("b1"), age("joey"), region("b2", "wallaby", x=50), age("adult", region_id="b2"),
              {"type": "relation", "from_id": "b2", "to_id": "b1", "labels": []}]
    remapped = remap_result(PER_REGION, result, {"objects": {"quokka": None}})
    assert [(item["from_name"], item["id"]) for item in remapped] == [("objects", "b2"), ("age", "b2")]
    validate_result(PER_REGION, remapped, require_complete=True)
    # a per-region item losing its last label goes alone: its region and the relation stay
    remapped = remap_result(PER_REGION, result, {"age": {"joey": None}})
    assert [item.get("from_name", "relation") for item in remapped] == ["objects", "objects", "age", "relation"]


# html (Label Studio's HyperText) and paragraphs, with the region formats of HyperTextLabels and ParagraphLabels.
DIALOGUE = [{"author": "Mia", "text": "Don't you hate that? \N{GRINNING FACE} Hate what?"},
            {"author": "Vincent", "text": "Uncomfortable silences."}]
DOCUMENTS = normalize_spec({
    "data": {"page": {"type": "html"}, "dialogue": {"type": "paragraphs"}},
    "controls": {
        "parts": {"type": "html_spans", "to": "page", "labels": [{"value": "Title"}, {"value": "Body"}]},
        "ner": {"type": "spans", "to": "page", "labels": [{"value": "PER"}]},
        "slots": {"type": "paragraph_spans", "to": "dialogue", "multiple": True,
                  "labels": [{"value": "Person"}, {"value": "Feeling"}]},
    },
})
DOCUMENT_DATA = {"page": "<div><p>Intro</p><p>Body <b>text</b></p></div>", "dialogue": DIALOGUE}


def html_region(kind="hypertextlabels", name="parts", labels=("Body",), **value):
    key = "hypertextlabels" if kind == "hypertextlabels" else "labels"
    base = {"start": "/div[1]/p[2]/text()[1]", "end": "/div[1]/p[2]/b[1]/text()[1]", "startOffset": 0,
            "endOffset": 4, "globalOffsets": {"start": 5, "end": 14}, "text": "Body text"}
    value = {key: item for key, item in {**base, **value}.items() if item is not None}  # None: leave it out
    return {"id": "h1", "from_name": name, "to_name": "page", "type": kind, "value": {**value, key: list(labels)}}


def paragraph_region(start="0", end="0", start_offset=10, end_offset=14, text="hate", labels=("Feeling",), **extra):
    value = {"start": start, "end": end, "startOffset": start_offset, "endOffset": end_offset,
             "paragraphlabels": list(labels), **extra}
    if text is not None:
        value["text"] = text
    return {"id": "p1", "from_name": "slots", "to_name": "dialogue", "type": "paragraphlabels", "value": value}


def test_html_and_paragraph_regions_pass():
    assert DOCUMENTS["data"]["dialogue"] == {"type": "paragraphs", "field": "dialogue", "text_key": "text"}
    validate_data(DOCUMENTS, DOCUMENT_DATA)
    validate_result(DOCUMENTS, [
        html_region(),
        {**html_region("labels", "ner", ("PER",)), "id": "h2"},  # Label Studio's <Labels> over <HyperText>
        paragraph_region(),
        {**paragraph_region(0, 1, 6, 13, None, ("Person", "Feeling")), "id": "p2"},  # across two paragraphs
    ], DOCUMENT_DATA, require_complete=True)
    # the docs' example: integer indices, no text, no globalOffsets
    validate_result(DOCUMENTS, [paragraph_region(0, 1, 2, 5, None)], DOCUMENT_DATA)
    validate_result(DOCUMENTS, [html_region(globalOffsets=None, text=None)], DOCUMENT_DATA)
    # after the emoji, offsets in UTF-16 code units still match the quote
    hate = DIALOGUE[0]["text"].rindex("Hate")
    validate_result(DOCUMENTS, [paragraph_region(start_offset=hate, end_offset=hate + 4, text="Hate")],
                    DOCUMENT_DATA)
    js = _utf16_offset(DIALOGUE[0]["text"], hate)
    validate_result(DOCUMENTS, [paragraph_region(start_offset=js, end_offset=js + 4, text="Hate")], DOCUMENT_DATA)
    assert result_labels(DOCUMENTS, [html_region(), paragraph_region()]) == {"parts": {"Body"}, "slots": {"Feeling"}}


DOCUMENT_INVALID = [
    ("html: start not an xpath", [html_region(start="p[2]")], "$[0].value.start", "must be the XPath of the node"),
    ("html: missing end", [{**html_region(), "value": {"start": "/p[1]", "startOffset": 0, "endOffset": 1,
                                                         "hypertextlabels": ["Body"]}}],
     "$[0].value.end", "missing: the XPath"),
    ("html: negative offset", [html_region(startOffset=-1)], "$[0].value.startOffset", "must be 0 or more"),
    ("html: offset as string", [html_region(endOffset="4")], "$[0].value.endOffset", "must be an integer"),
    ("html: empty region in one node", [html_region(end="/div[1]/p[2]/text()[1]", startOffset=3, endOffset=3)],
     "$[0].value.endOffset", "greater than startOffset (3) within one node"),
    ("html: global offsets reversed", [html_region(globalOffsets={"start": 9, "end": 2})],
     "$[0].value.globalOffsets.end", "greater than start (9)"),
    ("html: text as a list", [html_region(text=["Body"])], "$[0].value.text", "must be the text of the region"),
    ("html: unknown label", [html_region(labels=["Footer"])], "$[0].value.hypertextlabels[0]",
     '"Footer" is not a label'),
    ("html: labels over html need xpaths too", [html_region("labels", "ner", ("PER",), start=0)],
     "$[0].value.start", "must be the XPath"),
    ("paragraphs: index as a word", [paragraph_region(start="first")], "$[0].value.start",
     "must be the index of the paragraph where the region starts"),
    ("paragraphs: end before start", [paragraph_region(start=1, end=0)], "$[0].value.end",
     "must be the start paragraph (1) or a later one, not 0"),
    ("paragraphs: past the last paragraph", [paragraph_region(end=2, text=None)], "$[0].value.end",
     "2 is past the last paragraph of 'dialogue' (2 paragraphs)"),
    ("paragraphs: offset past the paragraph", [paragraph_region(start=1, end=1, start_offset=0, end_offset=99,
                                                                text=None)],
     "$[0].value.endOffset", "99 is past the end of paragraph 1 of 'dialogue'"),
    ("paragraphs: empty region", [paragraph_region(start_offset=4, end_offset=4, text=None)],
     "$[0].value.endOffset", "greater than startOffset (4) within one paragraph"),
    ("paragraphs: quote differs", [paragraph_region(text="love")], "$[0].value.text",
     '"love" is not the text at 10–14 of paragraph 0 of \'dialogue\', which is "hate"'),
    ("paragraphs: no labels", [paragraph_region(labels=())], "$[0].value.paragraphlabels", "at least one label"),
]


@pytest.mark.parametrize("result,path,reason", [case[1:] for case in DOCUMENT_INVALID],
                         ids=[case[0] for case in DOCUMENT_INVALID])
def test_invalid_html_and_paragraph_regions_name_the_json_path(result, path, reason):
    error = mismatch(result, spec=DOCUMENTS, data=DOCUMENT_DATA)
    assert (error.path, reason in error.reason) == (path, True), error.reason


def test_paragraph_data_is_an_array_of_objects():
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(DOCUMENTS, {**DOCUMENT_DATA, "dialogue": "Mia: hello"})
    assert caught.value.path == "$.dialogue" and "array of paragraphs" in caught.value.reason
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(DOCUMENTS, {**DOCUMENT_DATA, "dialogue": [{"text": "hi"}, "hello"]})
    assert caught.value.path == "$.dialogue[1]"
    with pytest.raises(SchemaMismatch) as caught:
        validate_data(DOCUMENTS, {**DOCUMENT_DATA, "page": ["<p>"]})
    assert caught.value.path == "$.page" and "string of HTML" in caught.value.reason
    spoken = normalize_spec({"data": {"talk": {"type": "paragraphs", "text_key": "said"}}, "controls": {
        "slots": {"type": "paragraph_spans", "to": "talk", "labels": [{"value": "Feeling"}]}}})
    talk = {"talk": [{"who": "Mia", "said": "I hate that"}]}
    validate_result(spoken, [{**paragraph_region(start_offset=2, end_offset=6), "to_name": "talk"}], talk)


# visible_when: conditions that hide a control, and with it the demand for a required one.
CONDITIONAL = normalize_spec({"data": {"text": {"type": "text"}}, "controls": {
    "sentiment": {"type": "choices", "to": "text", "required": True,
                  "labels": [{"value": "positive"}, {"value": "negative"}]},
    "why": {"type": "choices", "to": "text", "required": True, "multiple": True,
            "visible_when": [{"when": "choice-selected", "control": "sentiment", "values": ["negative"]}],
            "labels": [{"value": "boring"}, {"value": "too long"}]},
    "praise": {"type": "textarea", "to": "text", "required": True,
               "visible_when": [{"when": "choice-unselected", "control": "sentiment", "values": ["negative"]}]},
    "entities": {"type": "spans", "to": "text", "labels": [{"value": "PER"}, {"value": "ORG"}]},
    "role": {"type": "choices", "to": "text", "per_region": True, "required": True,
             "visible_when": [{"when": "region-selected", "control": "entities", "values": ["PER"]}],
             "labels": [{"value": "actor"}, {"value": "director"}]},
    "hint": {"type": "textarea", "to": "text", "required": True, "visible_when": [{"when": "region-selected"}]},
}})


def cond(name, kind, value, region_id=None):
    item = {"from_name": name, "to_name": "text", "type": kind, "value": value}
    if region_id:
        item["id"] = region_id
    return item


def test_a_required_control_is_only_required_where_it_is_shown():
    positive = cond("sentiment", "choices", {"choices": ["positive"]})
    negative = cond("sentiment", "choices", {"choices": ["negative"]})
    praise = cond("praise", "textarea", {"text": ["a joy"]})
    why = cond("why", "choices", {"choices": ["boring"]})
    validate_result(CONDITIONAL, [positive, praise], require_complete=True)
    assert "'praise' is required" in mismatch([positive], spec=CONDITIONAL, data=None, require_complete=True).reason
    assert "'why' is required" in mismatch([negative], spec=CONDITIONAL, data=None, require_complete=True).reason
    validate_result(CONDITIONAL, [negative, why], require_complete=True)
    # a per-region control shown for PER regions only; the whole-task hint only while a region is selected
    person = cond("entities", "labels", {"start": 0, "end": 3, "labels": ["PER"]}, "e1")
    company = cond("entities", "labels", {"start": 4, "end": 7, "labels": ["ORG"]}, "e2")
    error = mismatch([negative, why, person, company], spec=CONDITIONAL, data=None, require_complete=True)
    assert error.path == "$[2]" and "'role' is required for every region" in error.reason
    role = cond("role", "choices", {"start": 0, "end": 3, "choices": ["actor"]}, "e1")
    validate_result(CONDITIONAL, [negative, why, person, company, role], require_complete=True)


# --- robustness -------------------------------------------------------------------------------------------

JUNK = [None, True, False, 0, -1, 1.5, 10**5000, -(10**400), math.nan, math.inf, -math.inf, -0.0, "", "x",
        "\ud800", "a" * 100_000, [], {}, [[]], [None], {"": None}, {"value": {}}, [[[[[]]]]], [1, 2, 3],
        {"x": math.nan}, ["positive"], [["Animal", "Cat"]], {"choices": ["positive"]}]


def _deep_list(depth):
    node = []
    for _ in range(depth):
        node = [node]
    return node


DEEP = _deep_list(10_000)


def _junk(rng):
    return rng.choice([DEEP, *(deepcopy(junk) for junk in JUNK)])


def _mutate(node, rng):
    """Replace, delete or add one thing somewhere inside `node` (a copy), returning the new root."""
    if rng.random() < 0.15 or not isinstance(node, dict | list) or not node:
        return _junk(rng)
    if isinstance(node, dict):
        key = rng.choice(list(node))
        action = rng.random()
        if action < 0.2:
            del node[key]
        elif action < 0.3:
            node[rng.choice(["id", "value", "type", "from_name", "to_name", "x", "labels", "start", "zz"])] = \
                _junk(rng)
        else:
            node[key] = _mutate(node[key], rng)
        return node
    position = rng.randrange(len(node))
    node[position] = _mutate(node[position], rng)
    return node


def test_garbage_results_only_ever_raise_schema_mismatch():
    rng = random.Random(20240607)
    for junk in JUNK + [_deep_list(100_000)]:
        for result in (junk, [junk], [choices("positive"), junk]):
            try:
                validate_result(SPEC, result, DATA, require_complete=True)
            except SchemaMismatch:
                pass
            result_labels(SPEC, result)
            remap_result(SPEC, result, {"entities": {"PER": None}, "links": {"same_as": None}})
    for _ in range(4000):
        result = _mutate(deepcopy(FULL + [polygon([[1, 1], [2, 2], [3, 3]]), keypoint(), rating(3)]), rng)
        data = _mutate(deepcopy(DATA), rng) if rng.random() < 0.2 else DATA
        try:
            validate_result(SPEC, result, data, require_complete=rng.random() < 0.5)
        except SchemaMismatch as error:
            assert error.path.startswith("$") and error.reason
        result_labels(SPEC, result)
        remap_result(SPEC, result, {"entities": {"PER": None}, "topic": {"Cat": "Dog"}, "transcript": None})


def test_garbage_specs_only_ever_raise_spec_error():
    rng = random.Random(7)
    for junk in JUNK:
        with pytest.raises(SpecError):
            normalize_spec(junk)
    for _ in range(3000):
        spec = _mutate(deepcopy(RAW_SPEC), rng)
        try:
            normalize_spec(spec)
        except SpecError as error:
            assert error.path.startswith("$") and error.reason


def test_garbage_results_against_the_label_studio_shapes_only_raise_schema_mismatch():
    rng = random.Random(31)
    cases = [
        (PER_REGION, [region("b1"), age("joey"), per_region("note", "textarea", {"text": ["x"]}),
                      region("b2", x=50), {"type": "relation", "from_id": "b2", "to_id": "b1"}], None),
        (DOCUMENTS, [html_region(), {**paragraph_region(), "id": "p1"}], DOCUMENT_DATA),
        (NESTED, [nested(["Header 1"], ["Header 1", "Option 1.1"])], None),
        (CONDITIONAL, [cond("sentiment", "choices", {"choices": ["negative"]}),
                       cond("entities", "labels", {"start": 0, "end": 3, "labels": ["PER"]}, "e1"),
                       cond("role", "choices", {"choices": ["actor"]}, "e1")], None),
    ]
    for spec, valid, data in cases:
        validate_result(spec, valid, data)
        for _ in range(1500):
            result = _mutate(deepcopy(valid), rng)
            try:
                validate_result(spec, result, data, require_complete=rng.random() < 0.5)
            except SchemaMismatch as error:
                assert error.path.startswith("$") and error.reason
            result_labels(spec, result)
            remap_result(spec, result, {"objects": {"quokka": None}, "age": {"joey": None}, "kind": {"Other": None}})

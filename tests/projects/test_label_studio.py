"""Label Studio labeling configs → our spec, with the real configs of Label Studio's templates, a result in
Label Studio's own format for each, and hostile or broken XML (entities, DTDs, malformed, unknown names)."""

import json
from pathlib import Path

import pytest

from apps.projects.label_spec import SchemaMismatch, SpecError, validate_result
from apps.projects.label_studio import spec_from_label_config

from .label_studio_templates import (
    DOCUMENT_RETRIEVAL,
    IMAGE_CLASSIFICATION,
    KEYPOINTS,
    NAMED_ENTITY_RECOGNITION,
    OBJECT_DETECTION,
    POLYGON_SEGMENTATION,
    RATING,
    RELATION_EXTRACTION,
    RELATION_TASK,
    SPEECH_RECOGNITION,
    TAXONOMY,
    TEXT_CLASSIFICATION,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUOKKA = {region["id"]: region for region in json.loads((FIXTURES / "quokka" / "annotations.json").read_text())}
REVIEWS = [json.loads(line)["text"] for line in (FIXTURES / "rotten_tomatoes.jsonl").read_text("utf-8").splitlines()]

# The configs below are copied from HumanSignal/label-studio, label_studio/annotation_templates/<path>/config.yml
# (the `config:` value), at the commit named; the docs config comes from docs/source/tags/rating.md.

# natural-language-processing/text-classification/config.yml @ 7219633341c085c7abe58bd5275c6e32a283c731

# natural-language-processing/named-entity-recognition/config.yml @ 6ec1e79e0ff5b6b3fc033d00dad5ccb6b9f014b4

# computer-vision/image-classification/config.yml @ 5daa24b4467b6334a4807463d736caa8386a7086

# computer-vision/object-detection-with-bounding-boxes/config.yml @ 3a0bc788d3b76b16209f43982cebdb432c6c68e3

# computer-vision/semantic-segmentation-with-polygons/config.yml @ 3a0bc788d3b76b16209f43982cebdb432c6c68e3

# computer-vision/keypoints/config.yml @ 90aa4ecd52e7482d9fb86e134bbb620fd0586f44

# audio-speech-processing/automatic-speech-recognition/config.yml @ 80e421cf10815d0b0564a31383ecabf5508d30a4

# natural-language-processing/taxonomy/config.yml @ 696836dcc719a0a5e85ed95c2e14220ba11fc73b

# natural-language-processing/relation-extraction/config.yml @ 7219633341c085c7abe58bd5275c6e32a283c731
# (the XML; its sample task, which follows in a comment there, is RELATION_TASK in label_studio_templates)

# ranking-and-scoring/document-retrieval/config.yml @ dc7d93f838b4c44ba5b3101afa51ca7da117c51b
# (it lists <Choice value="Two" /> twice)

# docs/source/tags/rating.md @ 1495ccc255810f5442686fb686445c4cbbcdb81f (the tag's example)


def values(control) -> list:
    return [label["value"] for label in control["labels"]]


def test_text_classification():
    spec = spec_from_label_config(TEXT_CLASSIFICATION)
    assert spec["data"] == {"text": {"type": "text", "field": "text"}}
    assert spec["controls"] == {"sentiment": {
        "type": "choices", "to": "text", "required": False, "multiple": False, "taxonomy": False,
        "labels": [{"id": "positive", "value": "Positive"}, {"id": "negative", "value": "Negative"},
                   {"id": "neutral", "value": "Neutral"}],
    }}
    data = {"text": "This is a great 3D movie that delivers everything almost right in your face."}
    result = [{"id": "f8Yx2Lk9aZ", "from_name": "sentiment", "to_name": "text", "type": "choices",
               "value": {"choices": ["Positive"]}, "origin": "manual"}]
    validate_result(spec, result, data, require_complete=True)
    result[0]["value"]["choices"] = ["Positive", "Neutral"]
    with pytest.raises(SchemaMismatch, match="allows one choice"):
        validate_result(spec, result, data)


def test_named_entity_recognition():
    spec = spec_from_label_config(NAMED_ENTITY_RECOGNITION)
    assert spec["data"] == {"text": {"type": "text", "field": "ner"}}  # object "text" reads the task's "ner"
    control = spec["controls"]["label"]
    assert (control["type"], control["to"], control["multiple"]) == ("spans", "text", False)
    assert [(label["value"], label["color"]) for label in control["labels"]] == [
        ("PER", "red"), ("ORG", "darkorange"), ("LOC", "orange"), ("MISC", "green")]
    review = next(text for text in REVIEWS if "James Bond" in text)
    start = review.index("James Bond")
    result = [{"id": "Bx1", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
               "value": {"start": start, "end": start + 10, "text": "James Bond", "labels": ["PER"]}}]
    validate_result(spec, result, {"ner": review})
    result[0]["value"]["end"] += 1
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result, {"ner": review})
    assert caught.value.path == "$[0].value.text"


def test_image_classification():
    spec = spec_from_label_config(IMAGE_CLASSIFICATION)
    assert spec["data"] == {"image": {"type": "image", "field": "image"}}
    control = spec["controls"]["choice"]
    assert (control["type"], control["to"], control["multiple"], control["required"]) == \
        ("choices", "image", False, False)
    assert [(label["id"], label["value"]) for label in control["labels"]] == [
        ("adult-content", "Adult content"), ("weapons", "Weapons"), ("violence", "Violence")]
    result = [{"id": "cls1", "from_name": "choice", "to_name": "image", "type": "choices",
               "value": {"choices": ["Weapons"]}}]
    validate_result(spec, result, {"image": "/data/upload/1/photo.jpg"})


def test_object_detection_with_bounding_boxes():
    spec = spec_from_label_config(OBJECT_DETECTION)
    control = spec["controls"]["label"]
    assert (control["type"], control["to"]) == ("bbox", "image")
    assert [(label["value"], label["color"]) for label in control["labels"]] == [("Airplane", "green"),
                                                                                  ("Car", "blue")]
    # The region of Label Studio's export documentation (docs/source/guide/export.md), on this template's names.
    result = [{"from_name": "label", "id": "Dx_aB91ISN", "source": "$image", "to_name": "image",
               "type": "rectanglelabels", "original_width": 960, "original_height": 643, "image_rotation": 0,
               "value": {"height": 10.458911419423693, "rectanglelabels": ["Airplane"], "rotation": 0,
                         "width": 12.4, "x": 50.8, "y": 5.869797225186766}}]
    validate_result(spec, result, {"image": "https://example.com/airplane.jpg"}, require_complete=True)
    quokka_box = {**QUOKKA["box0"], "from_name": "label",
                  "value": {**QUOKKA["box0"]["value"], "rectanglelabels": ["Car"]}}
    validate_result(spec, [quokka_box])


def test_semantic_segmentation_with_polygons():
    spec = spec_from_label_config(POLYGON_SEGMENTATION)
    control = spec["controls"]["label"]
    assert (control["type"], control["to"], values(control)) == ("polygon", "image", ["Airplane", "Car"])
    region = {**QUOKKA["poly0"], "from_name": "label",
              "value": {"points": QUOKKA["poly0"]["value"]["points"], "polygonlabels": ["Car"], "closed": True}}
    validate_result(spec, [region], {"image": "quokka.jpg"})
    region["value"]["points"] = region["value"]["points"][:2]
    with pytest.raises(SchemaMismatch, match="at least 3 points"):
        validate_result(spec, [region])


def test_keypoint_labeling():
    spec = spec_from_label_config(KEYPOINTS)
    assert spec["data"] == {"img-1": {"type": "image", "field": "img"}}
    control = spec["controls"]["kp-1"]
    assert (control["type"], control["to"], values(control)) == ("keypoints", "img-1", ["Face", "Nose"])
    nose = QUOKKA["kp4"]
    region = {**nose, "from_name": "kp-1", "to_name": "img-1",
              "value": {**nose["value"], "keypointlabels": ["Nose"]}}
    validate_result(spec, [region], {"img": "quokka.jpg"})
    region["to_name"] = "img"  # the data key is not the object's name
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, [region])
    assert caught.value.path == "$[0].to_name"


def test_automatic_speech_recognition():
    spec = spec_from_label_config(SPEECH_RECOGNITION)
    assert spec["data"] == {"audio": {"type": "audio", "field": "audio"}}
    assert spec["controls"] == {"transcription": {"type": "textarea", "to": "audio", "required": False,
                                                  "max_length": None}}
    result = [{"id": "tr1", "from_name": "transcription", "to_name": "audio", "type": "textarea",
               "value": {"text": ["the quick brown fox"]}}]
    validate_result(spec, result, {"audio": "s3://bucket/clip.wav"})


def test_taxonomy():
    spec = spec_from_label_config(TAXONOMY)
    control = spec["controls"]["taxonomy"]
    assert (control["type"], control["to"], control["taxonomy"], control["multiple"], control["leafs_only"]) == \
        ("choices", "text", True, True, False)
    assert values(control) == ["Archaea", "Bacteria", "Eukarya"]
    assert [child["value"] for child in control["labels"][2]["children"]] == ["Human", "Oppossum", "Extraterrestial"]
    result = [{"id": "tx1", "from_name": "taxonomy", "to_name": "text", "type": "taxonomy",
               "value": {"taxonomy": [["Eukarya", "Human"], ["Archaea"]]}}]
    validate_result(spec, result, {"text": "Hello"})
    # leafsOnly is false unless said: Label Studio then stores a picked inner node as its own path
    result[0]["value"]["taxonomy"] = [["Eukarya"], ["Bacteria"]]
    validate_result(spec, result)
    strict = spec_from_label_config(TAXONOMY.replace('toName="text">', 'toName="text" leafsOnly="true">'))
    assert strict["controls"]["taxonomy"]["leafs_only"] is True
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(strict, result)
    assert caught.value.path == "$[0].value.taxonomy[0]" and "not a leaf" in caught.value.reason


def test_relation_extraction_with_the_templates_own_sample():
    spec = spec_from_label_config(RELATION_EXTRACTION)
    assert spec["controls"]["relations"] == {"type": "relation", "required": False, "labels": [
        {"id": "orgfounded_by", "value": "org:founded_by"}, {"id": "orgfounded", "value": "org:founded"}]}
    assert values(spec["controls"]["label"]) == ["Organization", "Person", "Datetime"]
    validate_result(spec, RELATION_TASK["result"], RELATION_TASK["data"])
    broken = [dict(item) for item in RELATION_TASK["result"]]
    broken[4]["to_id"] = "missing"
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, broken)
    assert caught.value.path == "$[4].to_id"


def test_rating_from_the_tag_documentation():
    spec = spec_from_label_config(RATING)
    assert spec["data"] == {"txt": {"type": "text", "field": "text"}}
    assert spec["controls"]["rating"] == {"type": "rating", "to": "txt", "required": False, "max": 10}
    result = [{"id": "r1", "from_name": "rating", "to_name": "txt", "type": "rating", "value": {"rating": 8}}]
    validate_result(spec, result, {"text": "A film so tedious."})
    result[0]["value"]["rating"] = 11
    with pytest.raises(SchemaMismatch, match="from 1 to 10"):
        validate_result(spec, result)


def test_document_retrieval_required_multiple_and_a_repeated_choice():
    spec = spec_from_label_config(DOCUMENT_RETRIEVAL)
    assert list(spec["data"]) == ["query", "text1", "text2", "text3"]
    control = spec["controls"]["selection"]
    assert (control["required"], control["multiple"], values(control)) == (True, True, ["One", "Two"])
    result = [{"id": "d1", "from_name": "selection", "to_name": "query", "type": "choices",
               "value": {"choices": ["One", "Two"]}}]
    validate_result(spec, result, require_complete=True)
    with pytest.raises(SchemaMismatch, match="'selection' is required"):
        validate_result(spec, [], require_complete=True)


def test_nested_choices_hotkeys_aliases_tools_and_case():
    spec = spec_from_label_config("""
        <view>
          <image name="photo" value="$url"/>
          <Rectangle name="draw" toName="photo"/>
          <choices name="kind" toname="photo" choice="multiple" required="TRUE">
            <Choice value="Animal" hotkey="a"><Choice value="Cat" hotkey="c"/><Choice value="Dog" alias="dog"/></Choice>
            <Choice value="Plant" background="#00ff00"/>
          </choices>
          <Taxonomy name="one" toName="photo" maxUsages="1"><Choice value="x"/></Taxonomy>
        </view>""")
    kind = spec["controls"]["kind"]
    assert (kind["taxonomy"], kind["multiple"], kind["required"]) == (False, True, True)
    # Without allowNested, Label Studio shows and stores the top-level choices only
    assert [(c["value"], c.get("hotkey"), c.get("color")) for c in kind["labels"]] == [
        ("Animal", "a", None), ("Plant", None, "#00ff00")]
    nested = spec_from_label_config("""
        <View><Image name="photo" value="$url"/>
          <Choices name="kind" toName="photo" allowNested="true">
            <Choice value="Animal" hotkey="a"><Choice value="Cat" hotkey="c"/><Choice value="Dog" alias="dog"/></Choice>
          </Choices></View>""")
    animal = nested["controls"]["kind"]["labels"][0]
    assert [(c["value"], c.get("hotkey")) for c in animal["children"]] == [("Cat", "c"), ("dog", None)]
    assert spec["controls"]["one"]["multiple"] is False and spec["controls"]["one"]["taxonomy"] is True
    assert "draw" not in spec["controls"]  # the unlabelled drawing tool only enables drawing


def test_text_loaded_from_a_url_is_a_url_field():
    config = '<View><Text name="doc" value="$link" valueType="url"/><Choices name="c" toName="doc">' \
             '<Choice value="ok"/></Choices></View>'
    assert spec_from_label_config(config)["data"] == {"doc": {"type": "url", "field": "link"}}
    with pytest.raises(SpecError, match="spans control labels text"):
        spec_from_label_config(config.replace("<Choices", "<Labels").replace("</Choices>", "</Labels>")
                               .replace("<Choice ", "<Label "))


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<View><Text name="text" value="$text"/><Choices name="c" toName="text"><Choice value="&lol9;"/></Choices></View>"""


@pytest.mark.parametrize(
    "xml",
    [
        BILLION_LAUGHS,
        '<?xml version="1.0"?><!DOCTYPE View [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="&xxe;"/></Choices></View>',
        '<!DOCTYPE View SYSTEM "http://example.com/view.dtd"><View><Text name="t" value="$t"/></View>',
    ],
    ids=["billion laughs", "external entity", "external DTD"],
)
def test_entities_and_dtds_are_refused(xml):
    with pytest.raises(SpecError) as caught:
        spec_from_label_config(xml)
    assert caught.value.path == "<!DOCTYPE>" and "not allowed" in caught.value.reason


@pytest.mark.parametrize(
    "xml,path,reason",
    [
        ("<View><Choices", "line 1, column 7", "malformed XML: unclosed token"),
        ("<View><Text name='t' value='$t'></View>", "line 1, column 35", "malformed XML: mismatched tag"),
        ("", "<View>", "empty"),
        ("<Labels name='x' toName='t'/>", '<Labels name="x">', "starts with <View>"),
        ('<View><Text name="text" value="$text"/><Choices name="c" toName="txt"><Choice value="a"/></Choices></View>',
         '<Choices name="c">', 'toName="txt" names no object tag of this config (objects: text)'),
        ('<View><Image name="i" value="$i"/><BrushLabels name="b" toName="i"><Label value="a"/></BrushLabels></View>',
         '<BrushLabels name="b">', "<BrushLabels> is not supported by Quorum"),
        ('<View><Choices name="c"><Choice value="a"/></Choices><Text name="t" value="$t"/></View>',
         '<Choices name="c">', "needs toName"),
        ('<View><Text name="t" value="plain words"/></View>', '<Text name="t">', 'must name a task data field'),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t" value="$options"/></View>',
         '<Choices name="c">', "dynamic labels"),
        ('<View><Image name="i" value="$i"/><RectangleLabels name="b" toName="i" perRegion="true">'
         '<Label value="a"/></RectangleLabels></View>', '<RectangleLabels name="b">',
         "perRegion is for the controls that classify a region"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t" visibleWhen="sometimes"><Choice value="a"/>'
         '</Choices></View>', '<Choices name="c">', 'visibleWhen="sometimes" must be one of choice-selected'),
        ('<View><Text name="t" value="$t"/><View visibleWhen="choice-selected" whenTagName="mood">'
         '<TextArea name="why" toName="t"/></View></View>', '<TextArea name="why">',
         '"mood" is not a control of this spec'),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices>'
         '<TextArea name="why" toName="t" visibleWhen="choice-selected" whenTagName="c" whenChoiceValue="b"/>'
         '</View>', '<TextArea name="why">', "\"b\" is not a label of 'c'"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a" hotkey="1"/>'
         '<Choice value="b" hotkey="1"/></Choices></View>', '<Choices name="c">',
         "hotkey '1' is already used by 'a' in this control (at $.controls.c.labels[1].hotkey)"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a" hotkey="1"/>'
         '<Choice value="a" hotkey="2"/></Choices></View>', '<Choice value="a">', "already has the value 'a'"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t"></Choices></View>', '<Choices name="c">',
         "at least one label"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t" choice="some"><Choice value="a"/>'
         '</Choices></View>', '<Choices name="c">', 'choice="some"'),
        ('<View><Text name="t" value="$t"/><Rating name="r" toName="t" maxRating="ten"/></View>',
         '<Rating name="r">', "whole number"),
        ('<View><Text name="t" value="$t"/><Text name="t" value="$u"/></View>', '<Text name="t">', "also named"),
        ('<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Choice value="a"/></Labels></View>',
         '<Choice value="a">', "expected <Label>"),
    ],
)
def test_broken_configs_name_the_tag(xml, path, reason):
    with pytest.raises(SpecError) as caught:
        spec_from_label_config(xml)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_oversized_and_non_string_configs_are_refused():
    padding = "<Header value='x'/>" * (1024 * 1024 // 19 + 1)
    with pytest.raises(SpecError, match="larger than 1 MiB"):
        spec_from_label_config(f"<View>{padding}</View>")
    with pytest.raises(SpecError, match="string of XML"):
        spec_from_label_config(None)
    assert spec_from_label_config(IMAGE_CLASSIFICATION.encode())["controls"]["choice"]["type"] == "choices"


def test_deep_nesting_is_refused_without_recursion_trouble():
    xml = "<View>" * 5000 + "</View>" * 5000
    with pytest.raises(SpecError, match="nested more than 100 levels"):
        spec_from_label_config(xml)


def test_several_relations_tags_get_distinct_names():
    spec = spec_from_label_config('<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Label value="A"/>'
                                  '</Labels><Relations><Relation value="x"/></Relations><Relations/></View>')
    assert {name: values(c) for name, c in spec["controls"].items() if c["type"] == "relation"} == {
        "relations": ["x"], "relations_2": []}


# label-studio-frontend e2e/tests/nested-choices.test.js @ 1cd9d264b81e38f27704b53dd7decd64923567e7: the config and
# the results Label Studio serializes for it.
NESTED_CHOICES = """
<View>
  <Text name="text" value="$text"></Text>
  <Choices name="choices" toName="text" allownested="true" >
    <Choice value="Header 1">
      <Choice value="Option 1.1" />
      <Choice value="Option 1.2" />
    </Choice>
    <Choice value="Header 2">
      <Choice value="Option 2.1" />
      <Choice value="Option 2.2" />
      <Choice value="Option 2.3" />
    </Choice>
  </Choices>
</View>"""


def test_nested_choices_with_allow_nested_store_paths():
    spec = spec_from_label_config(NESTED_CHOICES)
    control = spec["controls"]["choices"]
    assert (control["taxonomy"], control["leafs_only"], control["multiple"]) == (False, False, False)
    item = {"id": "choices_test", "from_name": "choices", "to_name": "text", "type": "choices",
            "value": {"choices": [["Header 1", "Option 1.1"]]}}
    validate_result(spec, [item], {"text": "Some text"})
    # clicking "Header 1" selects it with its children: one choice, three paths
    item["value"]["choices"] = [["Header 1"], ["Header 1", "Option 1.1"], ["Header 1", "Option 1.2"]]
    validate_result(spec, [item], {"text": "Some text"})
    item["value"]["choices"] = [["Header 1", "Option 1.1"], ["Header 2", "Option 2.1"]]
    with pytest.raises(SchemaMismatch, match="allows one choice, got 2"):
        validate_result(spec, [item])
    item["value"]["choices"] = [["Option 1.1"]]
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, [item])
    assert caught.value.path == "$[0].value.choices[0][0]" and "its full path is" in caught.value.reason


# label-studio-frontend e2e/tests/taxonomy.test.js @ 012b6f3a71a0cda10cb2722d4e7348c7fa764731, "Taxonomy per region":
# the config, its three regions, and the taxonomy the scenario picks for the second one.
TAXONOMY_PER_REGION = """
<View>
  <Text name="text" value="$text"/>
  <Labels name="label" toName="text">
    <Label value="Label1" />
    <Label value="Label2" />
  </Labels>
  <Taxonomy name="taxonomy" toName="text" perRegion="true" whenLabelValue="Label2">
    <Choice value="a">
        <Choice value="ab" />
    </Choice>
    <Choice value="b"/>
    <Choice value="c"/>
  </Taxonomy>
</View>"""
TAXONOMY_PER_REGION_RESULT = [
    {"value": {"start": 0, "end": 4, "text": "Some", "labels": ["Label1"]},
     "id": "test_id_1", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual"},
    {"value": {"start": 5, "end": 9, "text": "text", "labels": ["Label2"]},
     "id": "test_id_2", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual"},
    {"value": {"start": 10, "end": 14, "text": "text", "labels": ["Label2"]},
     "id": "test_id_3", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual"},
    {"value": {"start": 5, "end": 9, "text": "text", "taxonomy": [["a", "ab"], ["c"]]},
     "id": "test_id_2", "from_name": "taxonomy", "to_name": "text", "type": "taxonomy", "origin": "manual"},
]


def test_taxonomy_per_region_with_when_label_value():
    spec = spec_from_label_config(TAXONOMY_PER_REGION)
    control = spec["controls"]["taxonomy"]
    assert (control["per_region"], control["visible_when"]) == (True, [{"when": "region-selected",
                                                                       "values": ["Label2"]}])
    data = {"text": "Some text text"}  # the scenario's "Some text etc." does not hold its third quote
    validate_result(spec, TAXONOMY_PER_REGION_RESULT, data, require_complete=True)
    broken = [dict(item) for item in TAXONOMY_PER_REGION_RESULT]
    broken[3]["id"] = "test_id_9"
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, broken, data)
    assert caught.value.path == "$[3].id" and 'no region of this result has the id "test_id_9"' in caught.value.reason
    # required: every Label2 region needs its taxonomy; the Label1 region does not
    required = spec_from_label_config(TAXONOMY_PER_REGION.replace('perRegion="true"',
                                                                  'perRegion="true" required="true"'))
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(required, TAXONOMY_PER_REGION_RESULT, data, require_complete=True)
    assert caught.value.path == "$[2]" and 'region "test_id_3" has no result' in caught.value.reason
    extra = {**TAXONOMY_PER_REGION_RESULT[3], "id": "test_id_3", "value": {"start": 10, "end": 14, "taxonomy": [["b"]]}}
    validate_result(required, TAXONOMY_PER_REGION_RESULT + [extra], data, require_complete=True)


# docs/source/templates/image_bbox.md @ b4bcc7d662a856a740e181bd4f9981dfdfd031dd, "Add descriptions to detected
# objects": its per-region View added to the object detection template.
DESCRIBED_OBJECTS = OBJECT_DETECTION.replace("</View>", """
  <View visibleWhen="region-selected">
    <Header value="Describe object" />
    <TextArea name="answer" toName="image" editable="true"
              perRegion="true" required="true" />
    <Choices name="choices" toName="image"
             perRegion="true">
      <Choice value="Correct"/>
      <Choice value="Broken"/>
    </Choices>
  </View>
</View>""")


def test_per_region_description_of_detected_objects():
    spec = spec_from_label_config(DESCRIBED_OBJECTS)
    assert spec["controls"]["answer"] == {"type": "textarea", "to": "image", "required": True, "max_length": None,
                                          "per_region": True, "visible_when": [{"when": "region-selected"}]}
    assert spec["controls"]["choices"]["per_region"] is True
    geometry = {"x": 50.8, "y": 5.869797225186766, "width": 12.4, "height": 10.458911419423693, "rotation": 0}
    sizes = {"original_width": 960, "original_height": 643, "image_rotation": 0}
    result = [
        {"id": "Dx_aB91ISN", "from_name": "label", "to_name": "image", "type": "rectanglelabels", **sizes,
         "value": {**geometry, "rectanglelabels": ["Airplane"]}},
        {"id": "Dx_aB91ISN", "from_name": "answer", "to_name": "image", "type": "textarea", **sizes,
         "value": {**geometry, "text": ["a jet on the apron"]}},
        {"id": "Dx_aB91ISN", "from_name": "choices", "to_name": "image", "type": "choices", **sizes,
         "value": {**geometry, "choices": ["Correct"]}},
    ]
    validate_result(spec, result, {"image": "airplane.jpg"}, require_complete=True)
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result[:1] + result[2:], require_complete=True)
    assert caught.value.path == "$[0]" and "'answer' is required for every region of 'image'" in caught.value.reason
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result + [result[2]])
    assert caught.value.path == "$[3]" and "one per region" in caught.value.reason


# structured-data-parsing/html-entity-recognition/config.yml @ d906828d3c1fd314a7867789a098319b84a1f839, with the
# region of docs/source/tags/hypertext.md @ 05028ddb8235966adebea4f28d332bdc9297125a ("Example JSON").
HTML_ENTITY_RECOGNITION = """
<View>
  <HyperTextLabels name="ner" toName="text">
    <Label value="Title" background="green"/>
    <Label value="Author" background="blue"/>
    <Label value="Body" background="yellow"/>
  </HyperTextLabels>

  <View style="border: 1px solid #CCC;
               border-radius: 10px;
               padding: 5px">
    <HyperText name="text" value="$html"/>
  </View>
</View>
"""


def test_html_entity_recognition():
    spec = spec_from_label_config(HTML_ENTITY_RECOGNITION)
    assert spec["data"] == {"text": {"type": "html", "field": "html"}}
    assert (spec["controls"]["ner"]["type"], values(spec["controls"]["ner"])) == ("html_spans",
                                                                                   ["Title", "Author", "Body"])
    region = {"id": "h1", "from_name": "ner", "to_name": "text", "type": "hypertextlabels",
              "value": {"start": "/div[1]/p[2]/text()[1]", "end": "/div[1]/p[4]/text()[3]", "startOffset": 2,
                        "endOffset": 81, "hypertextlabels": ["Body"]}}
    validate_result(spec, [region], {"html": "<div><p>…</p></div>"})
    region["value"]["start"] = 2
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, [region])
    assert caught.value.path == "$[0].value.start" and "XPath" in caught.value.reason
    # HyperText from a URL: a url field, the region's form is still checked
    linked = spec_from_label_config(HTML_ENTITY_RECOGNITION.replace('value="$html"', 'value="$html" valueType="url"'))
    assert linked["data"]["text"]["type"] == "url"


# conversational-ai/intent-classification-and-slot-filling/config.yml @ 7219633341c085c7abe58bd5275c6e32a283c731
SLOT_FILLING = """
<View>
  <ParagraphLabels name="entity_slot" toName="dialogue">
    <Label value="Person" />
    <Label value="Organization" />
    <Label value="Location" />
    <Label value="Datetime" />
    <Label value="Quantity" />
  </ParagraphLabels>
  <Paragraphs name="dialogue" value="$humanMachineDialogue" layout="dialogue" />
    <Choices name="intent" toName="dialogue"
         choice="single" showInLine="true">
        <Choice value="Greeting"/>
        <Choice value="Customer request"/>
        <Choice value="Small talk"/>
    </Choices>
</View>
"""


def test_intent_classification_and_slot_filling():
    spec = spec_from_label_config(SLOT_FILLING)
    assert spec["data"] == {"dialogue": {"type": "paragraphs", "field": "humanMachineDialogue", "text_key": "text"}}
    assert spec["controls"]["entity_slot"]["type"] == "paragraph_spans"
    data = {"humanMachineDialogue": [{"author": "Robot", "text": "Hello, how can I help?"},
                                     {"author": "Alice", "text": "Book a table at Chez Panisse for 7pm"}]}
    result = [
        {"id": "s1", "from_name": "entity_slot", "to_name": "dialogue", "type": "paragraphlabels",
         "value": {"start": "1", "end": "1", "startOffset": 16, "endOffset": 28, "text": "Chez Panisse",
                   "paragraphlabels": ["Organization"]}},
        {"id": "s2", "from_name": "entity_slot", "to_name": "dialogue", "type": "paragraphlabels",
         "value": {"start": 1, "end": 1, "startOffset": 33, "endOffset": 36, "paragraphlabels": ["Datetime"]}},
        {"id": "i1", "from_name": "intent", "to_name": "dialogue", "type": "choices",
         "value": {"choices": ["Customer request"]}},
    ]
    validate_result(spec, result, data)
    result[0]["value"]["text"] = "Chez Panisse!"
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result, data)
    assert caught.value.path == "$[0].value.text"
    keyed = spec_from_label_config(SLOT_FILLING.replace('layout="dialogue"', 'layout="dialogue" textKey="said"'))
    assert keyed["data"]["dialogue"]["text_key"] == "said"


def test_visible_when_and_controls_inside_a_choice_become_conditions():
    spec = spec_from_label_config("""
        <View>
          <Text name="text" value="$text"/>
          <Choices name="sentiment" toName="text" required="true">
            <Choice value="Positive"/>
            <Choice value="Negative">
              <Choices name="why" toName="text" required="true"><Choice value="Boring"/><Choice value="Long"/></Choices>
            </Choice>
          </Choices>
          <View visibleWhen="choice-selected" whenTagName="sentiment" whenChoiceValue="Positive">
            <TextArea name="praise" toName="text" required="true"/>
          </View>
          <Choices name="again" toName="text" visibleWhen="choice-unselected" whenTagName="sentiment"
                   whenChoiceValue="Positive" required="true"><Choice value="Yes"/></Choices>
        </View>""")
    controls = spec["controls"]
    assert values(controls["sentiment"]) == ["Positive", "Negative"]  # the nested Choices is a control, not a label
    assert controls["why"]["visible_when"] == [{"when": "choice-selected", "control": "sentiment",
                                                "values": ["Negative"]}]
    assert controls["praise"]["visible_when"] == [{"when": "choice-selected", "control": "sentiment",
                                                   "values": ["Positive"]}]
    assert controls["again"]["visible_when"] == [{"when": "choice-unselected", "control": "sentiment",
                                                  "values": ["Positive"]}]

    def item(name, kind, value):
        return {"id": name, "from_name": name, "to_name": "text", "type": kind, "value": value}

    negative = item("sentiment", "choices", {"choices": ["Negative"]})
    why = item("why", "choices", {"choices": ["Boring"]})
    again = item("again", "choices", {"choices": ["Yes"]})
    validate_result(spec, [negative, why, again], require_complete=True)
    with pytest.raises(SchemaMismatch, match="'why' is required"):
        validate_result(spec, [negative, again], require_complete=True)
    with pytest.raises(SchemaMismatch, match="'again' is required"):
        validate_result(spec, [negative, why], require_complete=True)
    positive = item("sentiment", "choices", {"choices": ["Positive"]})
    with pytest.raises(SchemaMismatch, match="'praise' is required"):
        validate_result(spec, [positive], require_complete=True)
    validate_result(spec, [positive, item("praise", "textarea", {"text": ["fun"]})], require_complete=True)

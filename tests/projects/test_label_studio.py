"""Label Studio labeling configs → our spec, with the real configs of Label Studio's templates, a result in
Label Studio's own format for each, and hostile or broken XML (entities, DTDs, malformed, unknown names)."""

import json
from pathlib import Path

import pytest

from apps.projects.label_spec import SchemaMismatch, SpecError, validate_result
from apps.projects.label_studio import spec_from_label_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUOKKA = {region["id"]: region for region in json.loads((FIXTURES / "quokka" / "annotations.json").read_text())}
REVIEWS = [json.loads(line)["text"] for line in (FIXTURES / "rotten_tomatoes.jsonl").read_text("utf-8").splitlines()]

# The configs below are copied from HumanSignal/label-studio, label_studio/annotation_templates/<path>/config.yml
# (the `config:` value), at the commit named; the docs config comes from docs/source/tags/rating.md.

# natural-language-processing/text-classification/config.yml @ 7219633341c085c7abe58bd5275c6e32a283c731
TEXT_CLASSIFICATION = """
<View>
  <Text name="text" value="$text"/>
  <View style="box-shadow: 2px 2px 5px #999;
               padding: 20px; margin-top: 2em;
               border-radius: 5px;">
    <Header value="Choose text sentiment"/>
    <Choices name="sentiment" toName="text"
             choice="single" showInLine="true">
      <Choice value="Positive"/>
      <Choice value="Negative"/>
      <Choice value="Neutral"/>
    </Choices>
  </View>
</View>


<!-- {
"data": {"text": "This is a great 3D movie that delivers everything almost right in your face."}

}
-->

"""

# natural-language-processing/named-entity-recognition/config.yml @ 6ec1e79e0ff5b6b3fc033d00dad5ccb6b9f014b4
NAMED_ENTITY_RECOGNITION = """
<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
    <Label value="LOC" background="orange"/>
    <Label value="MISC" background="green"/>
  </Labels>

  <Text name="text" value="$ner"/>
</View>
"""

# computer-vision/image-classification/config.yml @ 5daa24b4467b6334a4807463d736caa8386a7086
IMAGE_CLASSIFICATION = """
<View>
  <Image name="image" value="$image"/>
  <Choices name="choice" toName="image">
    <Choice value="Adult content"/>
    <Choice value="Weapons" />
    <Choice value="Violence" />
  </Choices>
</View>
"""

# computer-vision/object-detection-with-bounding-boxes/config.yml @ 3a0bc788d3b76b16209f43982cebdb432c6c68e3
OBJECT_DETECTION = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Airplane" background="green"/>
    <Label value="Car" background="blue"/>
  </RectangleLabels>
</View>
"""

# computer-vision/semantic-segmentation-with-polygons/config.yml @ 3a0bc788d3b76b16209f43982cebdb432c6c68e3
POLYGON_SEGMENTATION = """<View>

  <Header value="Select label and click the image to start"/>
  <Image name="image" value="$image" zoom="true"/>

  <PolygonLabels name="label" toName="image"
                 strokeWidth="3" pointSize="small"
                 opacity="0.9">
    <Label value="Airplane" background="red"/>
    <Label value="Car" background="blue"/>
  </PolygonLabels>

</View>
"""

# computer-vision/keypoints/config.yml @ 90aa4ecd52e7482d9fb86e134bbb620fd0586f44
KEYPOINTS = """
<View>
  <KeyPointLabels name="kp-1" toName="img-1">
    <Label value="Face" background="red" />
    <Label value="Nose" background="green" />
  </KeyPointLabels>
  <Image name="img-1" value="$img" />
</View>
"""

# audio-speech-processing/automatic-speech-recognition/config.yml @ 80e421cf10815d0b0564a31383ecabf5508d30a4
SPEECH_RECOGNITION = """
<View>
  <Audio name="audio" value="$audio" zoom="true" hotkey="ctrl+enter" />
  <Header value="Provide Transcription" />
  <TextArea name="transcription" toName="audio" rows="4" editable="true" maxSubmissions="1" />
</View>
"""

# natural-language-processing/taxonomy/config.yml @ 696836dcc719a0a5e85ed95c2e14220ba11fc73b
TAXONOMY = """<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="taxonomy" toName="text">
    <Choice value="Archaea" />
    <Choice value="Bacteria" />
    <Choice value="Eukarya">
      <Choice value="Human" />
      <Choice value="Oppossum" />
      <Choice value="Extraterrestial" />
    </Choice>
  </Taxonomy>
</View>

"""

# natural-language-processing/relation-extraction/config.yml @ 7219633341c085c7abe58bd5275c6e32a283c731
# (the XML; its sample task, which follows in a comment there, is RELATION_TASK below)
RELATION_EXTRACTION = """
<View>
   <Relations>
    <Relation value="org:founded_by"/>
    <Relation value="org:founded"/>
  </Relations>
  <Labels name="label" toName="text">
    <Label value="Organization" background="orange"/>
    <Label value="Person" background="green"/>
    <Label value="Datetime" background="blue"/>
  </Labels>

  <Text name="text" value="$text"/>
</View>
"""
RELATION_TASK = {
    "data": {"text": "Microsoft was founded by Bill Gates and Paul Allen on April 4, 1975, to develop and sell "
                     "BASIC interpreters for the Altair 8800."},
    "result": [
        {"value": {"start": 0, "end": 9, "text": "Microsoft", "labels": ["Organization"]},
         "id": "a-ubmF-dP2", "from_name": "label", "to_name": "text", "type": "labels"},
        {"value": {"start": 25, "end": 35, "text": "Bill Gates", "labels": ["Person"]},
         "id": "dQ_pmsrWsm", "from_name": "label", "to_name": "text", "type": "labels"},
        {"value": {"start": 40, "end": 50, "text": "Paul Allen", "labels": ["Person"]},
         "id": "IpmpOMj0vw", "from_name": "label", "to_name": "text", "type": "labels"},
        {"value": {"start": 54, "end": 67, "text": "April 4, 1975", "labels": ["Datetime"]},
         "id": "Q-zXcdacte", "from_name": "label", "to_name": "text", "type": "labels"},
        {"from_id": "a-ubmF-dP2", "to_id": "dQ_pmsrWsm", "type": "relation", "direction": "right",
         "labels": ["org:founded_by"]},
        {"from_id": "a-ubmF-dP2", "to_id": "IpmpOMj0vw", "type": "relation", "direction": "right", "labels": []},
        {"from_id": "a-ubmF-dP2", "to_id": "Q-zXcdacte", "type": "relation", "direction": "right",
         "labels": ["org:founded"]},
    ],
}

# ranking-and-scoring/document-retrieval/config.yml @ dc7d93f838b4c44ba5b3101afa51ca7da117c51b
# (it lists <Choice value="Two" /> twice)
DOCUMENT_RETRIEVAL = """<View>
  <Text name="query" value="$query" />
  <Header value="Select document related to the query:" />
  <View style="display: flex">
    <View style="width:50%">
      <Text name="text1" value="$text1" />
      <Text name="text2" value="$text2" />
      <Text name="text3" value="$text3" />
    </View>
    <View>
      <Choices name="selection" toName="query" required="true" choice="multiple">
        <Choice value="One" />
        <Choice value="Two" />
        <Choice value="Two" />
      </Choices>
    </View>
  </View>
</View>
"""

# docs/source/tags/rating.md @ 1495ccc255810f5442686fb686445c4cbbcdb81f (the tag's example)
RATING = """<View>
  <Text name="txt" value="$text" />
  <Rating name="rating" toName="txt" maxRating="10" icon="star" size="medium" />
</View>
"""


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
    assert (control["type"], control["to"], control["taxonomy"], control["multiple"]) == \
        ("choices", "text", True, True)
    assert values(control) == ["Archaea", "Bacteria", "Eukarya"]
    assert [child["value"] for child in control["labels"][2]["children"]] == ["Human", "Oppossum", "Extraterrestial"]
    result = [{"id": "tx1", "from_name": "taxonomy", "to_name": "text", "type": "taxonomy",
               "value": {"taxonomy": [["Eukarya", "Human"], ["Archaea"]]}}]
    validate_result(spec, result, {"text": "Hello"})
    result[0]["value"]["taxonomy"] = [["Eukarya"]]
    with pytest.raises(SchemaMismatch) as caught:
        validate_result(spec, result)
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
    assert (kind["taxonomy"], kind["multiple"], kind["required"]) == (True, True, True)
    assert kind["labels"][0]["hotkey"] == "a"
    assert [(c["value"], c.get("hotkey")) for c in kind["labels"][0]["children"]] == [("Cat", "c"), ("dog", None)]
    assert kind["labels"][1]["color"] == "#00ff00"
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
        ('<View><Image name="i" value="$i"/><TextArea name="c" toName="i" perRegion="true"/></View>',
         '<TextArea name="c">', "perRegion"),
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

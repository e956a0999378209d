"""Label Studio's own template configs (its labeling-config templates and tag docs), shared by the tests."""

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

OBJECT_DETECTION = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Airplane" background="green"/>
    <Label value="Car" background="blue"/>
  </RectangleLabels>
</View>
"""

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

KEYPOINTS = """
<View>
  <KeyPointLabels name="kp-1" toName="img-1">
    <Label value="Face" background="red" />
    <Label value="Nose" background="green" />
  </KeyPointLabels>
  <Image name="img-1" value="$img" />
</View>
"""

SPEECH_RECOGNITION = """
<View>
  <Audio name="audio" value="$audio" zoom="true" hotkey="ctrl+enter" />
  <Header value="Provide Transcription" />
  <TextArea name="transcription" toName="audio" rows="4" editable="true" maxSubmissions="1" />
</View>
"""

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

RATING = """<View>
  <Text name="txt" value="$text" />
  <Rating name="rating" toName="txt" maxRating="10" icon="star" size="medium" />
</View>
"""


# The relation-extraction template's own sample task (it follows the XML in a comment there).
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

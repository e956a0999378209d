"""The NLP export writers (CoNLL-2003, spaCy DocBin, Parquet, TFRecord), read back with each format's own reader."""

import dataclasses
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import spacy
from spacy.tokens import DocBin

from apps.exports.formats import conll, parquet, spacy_docbin, tfrecord, writer
from apps.exports.records import Annotation, Options, Output, Record
from apps.projects.label_spec import normalize_spec, validate_result

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rotten_tomatoes.jsonl"
OPTIONS = Options(project_id=3, project_name="News NER", schema_version=2, snapshot_id=5,
                  created_at="2025-02-03T04:05:06Z")

NER_SPEC = normalize_spec({
    "data": {"text": {"type": "text"}},
    "controls": {"entities": {"type": "spans", "to": "text",
                              "labels": [{"value": "PER"}, {"value": "ORG"}, {"value": "LOC"}]}},
})
REVIEW_SPEC = normalize_spec({
    "data": {"text": {"type": "text"}, "movie": {"type": "text"}},
    "controls": {"sentiment": {"type": "choices", "to": "text", "required": True,
                               "labels": [{"value": "fresh"}, {"value": "rotten"}]}},
})

# Hand-labelled news sentences: (split, text, [(start, end, quoted text, label)], expected CoNLL/ents entities).
EMOJI = "🎉🎉 Congratulations to Serena Williams, who trained in Compton!"
NEWS = [
    ("train", "Microsoft was founded by Bill Gates and Paul Allen in Albuquerque.",
     [(0, 9, "Microsoft", "ORG"), (25, 35, "Bill Gates", "PER"), (40, 50, "Paul Allen", "PER"),
      (54, 65, "Albuquerque", "LOC")],
     [("ORG", "Microsoft"), ("PER", "Bill Gates"), ("PER", "Paul Allen"), ("LOC", "Albuquerque")]),
    ("train", "Angela Merkel met Emmanuel Macron in Paris. The talks at the Élysée Palace lasted two hours.",
     [(0, 13, "Angela Merkel", "PER"), (18, 33, "Emmanuel Macron", "PER"), (37, 42, "Paris", "LOC"),
      (61, 74, "Élysée Palace", "LOC")],
     [("PER", "Angela Merkel"), ("PER", "Emmanuel Macron"), ("LOC", "Paris"), ("LOC", "Élysée Palace")]),
    # "Oxford" inside "University of Oxford" overlaps it: the longer span wins the BIO tags and doc.ents.
    ("val", "The University of Oxford is in Oxford.",
     [(4, 24, "University of Oxford", "ORG"), (18, 24, "Oxford", "LOC"), (31, 37, "Oxford", "LOC")],
     [("ORG", "University of Oxford"), ("LOC", "Oxford")]),
    ("test", EMOJI, [(22, 37, "Serena Williams", "PER"), (54, 61, "Compton", "LOC")],
     [("PER", "Serena Williams"), ("LOC", "Compton")]),
    # The same sentence as older Label Studio wrote it: offsets in UTF-16 code units (each emoji counts two).
    ("test", EMOJI, [(24, 39, "Serena Williams", "PER"), (56, 63, "Compton", "LOC")],
     [("PER", "Serena Williams"), ("LOC", "Compton")]),
    ("train", "Nobody is named in this sentence.", [], []),
    # A period inside an entity does not end the sentence; "Anheuser-Busch" is three regex tokens.
    ("val", "Anheuser-Busch is based in St. Louis. It brews beer.",
     [(0, 14, "Anheuser-Busch", "ORG"), (27, 36, "St. Louis", "LOC")],
     [("ORG", "Anheuser-Busch"), ("LOC", "St. Louis")]),
]


def annotation(id, result, author="annotator1@acme.test") -> Annotation:
    return Annotation(id=id, version=1, result=result, author=author, source="human", status="accepted",
                      lead_time_ms=5100, created_at="2025-02-01T09:00:00Z")


def entity(start, end, quote, label, region_id) -> dict:
    return {"id": region_id, "from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": quote, "labels": [label]}}


def news_records() -> list[Record]:
    records = []
    for position, (split, text, spans, _) in enumerate(NEWS):
        result = [entity(*span, f"r{position}-{n}") for n, span in enumerate(spans)]
        chosen = annotation(200 + position, result)
        records.append(Record(task_id=position + 1, data={"text": text}, meta={}, split=split, result=result,
                              chosen=chosen, annotations=(chosen,)))
    return records


def reviews() -> list[dict]:
    with FIXTURE.open() as lines:
        return [json.loads(line) for line in lines]


def review_records() -> list[Record]:
    records = []
    for position, review in enumerate(reviews()):
        result = [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                   "value": {"choices": [review["label"]]}}]
        chosen = annotation(1000 + position, result, author=f"annotator{position % 3 + 1}@acme.test")
        if position % 10 == 9:  # some tasks are still unlabelled
            result, chosen = [], None
        consensus = {"result": result, "confidence": 0.5 + (position % 5) / 10, "method": "majority"}
        records.append(Record(task_id=10 + position, data={"text": review["text"], "movie": review["movie"]},
                              meta={}, split=("train", "train", "train", "val", "test")[position % 5],
                              result=result, chosen=chosen, annotations=(chosen,) if chosen else (),
                              consensus=consensus if chosen else None))
    return records


def export(module, records, spec, **extra) -> dict[str, bytes]:
    """Run a writer as the export job does and unpack what it published: {file name: bytes}."""
    stream = io.BytesIO()
    output = Output(stream)
    options = Options(**{**OPTIONS.__dict__, "extra": extra})
    module.write(iter(records), spec=spec, output=output, options=options)
    names = sorted(output.files)
    if output.finish() == "file":
        return {names[0]: stream.getvalue()}
    with zipfile.ZipFile(io.BytesIO(stream.getvalue())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_hand_labelled_spans_are_valid_results():
    for record in news_records():
        validate_result(NER_SPEC, record.result, record.data)
    for record in review_records():
        validate_result(REVIEW_SPEC, record.result, record.data)


def test_the_registry_names_these_writers():
    assert writer("conll2003") is conll
    assert writer("spacy") is spacy_docbin
    assert writer("parquet") is parquet
    assert writer("tfrecord") is tfrecord


# --- CoNLL-2003 ------------------------------------------------------------------------------------------


def read_conll(data: bytes) -> list[list[list[tuple[str, str]]]]:
    """Documents → sentences → (token, tag); checks the 4-column layout as it goes."""
    documents = []
    for block in data.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        if lines == ["-DOCSTART- -X- -X- O"]:
            documents.append([])
            continue
        sentence = []
        for line in lines:
            token, pos, chunk, tag = line.split(" ")
            assert (pos, chunk) == ("-X-", "-X-")
            assert tag == "O" or tag[:2] in ("B-", "I-")
            sentence.append((token, tag))
        documents[-1].append(sentence)
    return documents


def entities_of(sentences) -> list[tuple[str, str]]:
    """(label, tokens joined by spaces) of every BIO entity; an I- without its B- is an error."""
    found = []
    for sentence in sentences:
        for token, tag in sentence:
            if tag.startswith("B-"):
                found.append((tag[2:], [token]))
            elif tag.startswith("I-"):
                assert found and found[-1][0] == tag[2:], f"I- tag without a B-: {token} {tag}"
                found[-1][1].append(token)
    return [(label, " ".join(tokens)) for label, tokens in found]


def spaced(text: str) -> str:
    """A quoted entity as the regex tokenizer splits it ("Élysée Palace" stays, "St. Louis" → "St . Louis")."""
    return " ".join(conll.TOKEN.findall(text))


def test_conll_tags_every_span_with_bio_per_split():
    files = export(conll, news_records(), NER_SPEC)
    assert sorted(files) == ["test.conll", "train.conll", "val.conll"]
    documents = {name: read_conll(data) for name, data in files.items()}
    assert [len(documents[name]) for name in ("train.conll", "val.conll", "test.conll")] == [3, 2, 2]
    expected = {"train.conll": [], "val.conll": [], "test.conll": []}
    for split, _, _, entities in NEWS:
        expected[f"{split}.conll"].append([(label, spaced(quote)) for label, quote in entities])
    for name, docs in documents.items():
        assert [entities_of(doc) for doc in docs] == expected[name]
    merkel = documents["train.conll"][1]
    assert len(merkel) == 2  # two sentences, split after "Paris ."
    assert merkel[0][-2:] == [("Paris", "B-LOC"), (".", "O")]
    oxford = documents["val.conll"][0][0]
    assert oxford[:5] == [("The", "O"), ("University", "B-ORG"), ("of", "I-ORG"), ("Oxford", "I-ORG"), ("is", "O")]
    for emoji in documents["test.conll"]:  # code-point and UTF-16 offsets tag the same tokens
        assert emoji[0][:5] == [("🎉", "O"), ("🎉", "O"), ("Congratulations", "O"), ("to", "O"),
                                ("Serena", "B-PER")]
    assert documents["test.conll"][0] == documents["test.conll"][1]
    assert all(tag == "O" for sentence in documents["train.conll"][2] for _, tag in sentence)
    brewer = documents["val.conll"][1]
    assert len(brewer) == 2  # "St ." does not end the first sentence, "Louis ." does
    assert brewer[0][:3] == [("Anheuser", "B-ORG"), ("-", "I-ORG"), ("Busch", "I-ORG")]
    assert brewer[0][-4:] == [("St", "B-LOC"), (".", "I-LOC"), ("Louis", "I-LOC"), (".", "O")]


def test_conll_writes_one_file_without_splits_and_one_set_per_spans_control():
    records = [dataclasses.replace(record, split="") for record in news_records()]
    files = export(conll, records, NER_SPEC)
    assert list(files) == ["export.conll"]
    assert len(read_conll(files["export.conll"])) == len(NEWS)

    spec = normalize_spec({
        "data": {"text": {"type": "text"}},
        "controls": {"entities": NER_SPEC["controls"]["entities"],
                     "roles": {"type": "spans", "to": "text", "labels": [{"value": "FOUNDER"}]}},
    })
    text = NEWS[0][1]
    result = [entity(0, 9, "Microsoft", "ORG", "a"),
              {**entity(25, 35, "Bill Gates", "FOUNDER", "b"), "from_name": "roles"}]
    validate_result(spec, result, {"text": text})
    record = Record(task_id=1, data={"text": text}, meta={}, split="train", result=result, chosen=None)
    files = export(conll, [record], spec)
    assert sorted(files) == ["entities/train.conll", "roles/train.conll"]
    assert entities_of(read_conll(files["entities/train.conll"])[0]) == [("ORG", "Microsoft")]
    assert entities_of(read_conll(files["roles/train.conll"])[0]) == [("FOUNDER", "Bill Gates")]


def test_conll_refuses_a_spec_without_text_spans():
    with pytest.raises(ValueError, match="spans control"):
        export(conll, review_records()[:3], REVIEW_SPEC)


# --- spaCy DocBin ----------------------------------------------------------------------------------------


def read_docbin(data: bytes) -> list:
    return list(DocBin().from_bytes(data).get_docs(spacy.blank("en").vocab))


def test_docbin_holds_entities_and_every_overlapping_span():
    files = export(spacy_docbin, news_records(), NER_SPEC)
    assert sorted(files) == ["test.spacy", "train.spacy", "val.spacy"]
    docs = {name: read_docbin(data) for name, data in files.items()}
    by_task = {doc.user_data["task_id"]: doc for split in docs.values() for doc in split}
    assert [doc.user_data["task_id"] for doc in docs["train.spacy"]] == [1, 2, 6]
    for position, (_, text, spans, entities) in enumerate(NEWS):
        doc = by_task[position + 1]
        assert doc.text == text
        assert [(ent.label_, ent.text) for ent in doc.ents] == entities
        assert sorted((span.label_, span.text) for span in doc.spans["sc"]) == sorted(
            (label, quote) for _, _, quote, label in spans)
    oxford = by_task[3]
    assert [(span.start_char, span.end_char, span.label_) for span in oxford.spans["sc"]] == [
        (4, 24, "ORG"), (18, 24, "LOC"), (31, 37, "LOC")]
    assert [(ent.start_char, ent.end_char) for ent in by_task[4].ents] == [(22, 37), (54, 61)]
    assert by_task[4].cats == {}


def test_docbin_expands_spans_inside_tokens_to_whole_tokens():
    text = "Shares of Volkswagen's rival fell."
    result = [entity(10, 18, "Volkswag", "ORG", "v")]  # a sloppy selection ending inside the token
    record = Record(task_id=1, data={"text": text}, meta={}, split="", result=result, chosen=None)
    (doc,) = read_docbin(export(spacy_docbin, [record], NER_SPEC)["export.spacy"])
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("Volkswagen", "ORG")]


def test_docbin_cats_for_text_classification():
    records = review_records()
    files = export(spacy_docbin, records, REVIEW_SPEC)
    assert sorted(files) == ["test.spacy", "train.spacy", "val.spacy"]
    docs = {doc.user_data["task_id"]: doc for data in files.values() for doc in read_docbin(data)}
    assert len(docs) == len(records)
    for record in records:
        doc = docs[record.task_id]
        assert doc.text == record.data["text"]
        chosen = record.result[0]["value"]["choices"][0] if record.result else None
        assert doc.cats == {"fresh": float(chosen == "fresh"), "rotten": float(chosen == "rotten")}
        assert not doc.ents


def test_docbin_cuts_a_large_split_into_numbered_files():
    records = review_records()[:40]  # 24 train, 8 val, 8 test
    files = export(spacy_docbin, records, REVIEW_SPEC, docs_per_file=10)
    assert sorted(files) == ["test.spacy", "train-000.spacy", "train-001.spacy", "train-002.spacy", "val.spacy"]
    train = [doc for name in ("train-000.spacy", "train-001.spacy", "train-002.spacy")
             for doc in read_docbin(files[name])]
    assert [doc.user_data["task_id"] for doc in train] == [r.task_id for r in records if r.split == "train"]
    assert [len(read_docbin(files[f"train-00{n}.spacy"])) for n in range(3)] == [10, 10, 4]


def test_docbin_uses_the_language_asked_for():
    record = Record(task_id=1, data={"text": "Angela Merkel besuchte gestern Paris."}, meta={}, split="",
                    result=[entity(0, 13, "Angela Merkel", "PER", "m"), entity(31, 36, "Paris", "LOC", "p")],
                    chosen=None)
    data = export(spacy_docbin, [record], NER_SPEC, lang="de")["export.spacy"]
    (doc,) = list(DocBin().from_bytes(data).get_docs(spacy.blank("de").vocab))
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("Angela Merkel", "PER"), ("Paris", "LOC")]


# --- Parquet ---------------------------------------------------------------------------------------------


def test_parquet_is_a_datasets_table_per_split():
    records = review_records()
    files = export(parquet, records, REVIEW_SPEC, rows_per_group=50)
    assert sorted(files) == ["test.parquet", "train.parquet", "val.parquet"]
    train = pq.ParquetFile(io.BytesIO(files["train.parquet"]))
    assert train.metadata.num_rows == 180 and train.metadata.num_row_groups == 4  # 50 + 50 + 50 + 30
    table = pq.read_table(io.BytesIO(files["train.parquet"]))
    assert table.column_names == ["id", "split", "text", "movie", "label", "label_id", "result", "annotator",
                                  "consensus_confidence"]
    assert [str(field.type) for field in table.schema] == ["int64", "string", "string", "string", "string",
                                                           "int64", "string", "string", "double"]
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["label_id"] == {"names": ["fresh", "rotten"], "_type": "ClassLabel"}
    assert features["id"] == {"dtype": "int64", "_type": "Value"}
    assert list(features) == table.column_names

    rows = {}
    for name in files:
        for row in pq.read_table(io.BytesIO(files[name])).to_pylist():
            assert f"{row['split']}.parquet" == name
            rows[row["id"]] = row
    assert len(rows) == len(records)
    for record in records:
        row = rows[record.task_id]
        assert (row["text"], row["movie"]) == (record.data["text"], record.data["movie"])
        assert json.loads(row["result"]) == record.result
        if record.chosen:
            label = record.result[0]["value"]["choices"][0]
            assert (row["label"], row["label_id"]) == (label, ["fresh", "rotten"].index(label))
            assert row["annotator"] == record.chosen.author
            assert row["consensus_confidence"] == pytest.approx(record.consensus["confidence"])
        else:
            assert (row["label"], row["label_id"], row["annotator"], row["consensus_confidence"]) == (
                None, -1, None, None)


def test_parquet_of_spans_keeps_the_result_as_json_and_has_no_label():
    files = export(parquet, news_records(), NER_SPEC)
    table = pq.read_table(io.BytesIO(files["val.parquet"]))
    assert table.column_names == ["id", "split", "text", "result", "annotator", "consensus_confidence"]
    row = table.to_pylist()[0]
    assert table.num_rows == 2 and row["text"] == "The University of Oxford is in Oxford."
    assert [item["value"]["text"] for item in json.loads(row["result"])] == ["University of Oxford", "Oxford",
                                                                              "Oxford"]


def test_parquet_reads_back_with_datasets(monkeypatch, tmp_path):
    # Offline, with its cache in the test's folder: the library must never reach for the hub.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    files = export(parquet, review_records(), REVIEW_SPEC)
    path = tmp_path / "train.parquet"
    path.write_bytes(files["train.parquet"])
    dataset = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "cache"))
    assert dataset.features["label_id"].names == ["fresh", "rotten"]
    assert dataset.num_rows == 180


# --- TFRecord --------------------------------------------------------------------------------------------


def masked_crc32c(data: bytes) -> int:
    import crc32c

    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % (1 << 32)


def read_tfrecords(data: bytes) -> list[bytes]:
    """TFRecord framing, both CRCs checked."""
    records, offset = [], 0
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        assert length_crc == masked_crc32c(header), "length CRC"
        payload = data[offset + 12:offset + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        assert payload_crc == masked_crc32c(payload), "data CRC"
        records.append(payload)
        offset += 16 + length
    assert offset == len(data)
    return records


def fields(message: bytes):
    """(field number, wire type, value) of a protobuf message: varints as ints, length-delimited as bytes."""
    offset = 0

    def varint():
        nonlocal offset
        value = shift = 0
        while True:
            byte = message[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while offset < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            length = varint()
            yield number, wire, message[offset:offset + length]
            offset += length
        elif wire == 5:
            yield number, wire, message[offset:offset + 4]
            offset += 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")


def decode_example(data: bytes) -> dict:
    """tf.train.Example → {name: list of bytes | ints | floats}."""
    (features,) = [value for number, _, value in fields(data) if number == 1]
    decoded = {}
    for number, _, entry in fields(features):
        assert number == 1
        parts = {n: value for n, _, value in fields(entry)}
        name = parts[1].decode()
        ((kind, _, payload),) = list(fields(parts[2]))
        values = list(fields(payload))
        if kind == 1:  # BytesList
            decoded[name] = [value for _, _, value in values]
        elif kind == 2:  # FloatList, packed
            packed = b"".join(value for _, _, value in values)
            decoded[name] = list(struct.unpack(f"<{len(packed) // 4}f", packed))
        else:  # Int64List, packed varints
            decoded[name] = [v for _, _, packed in values for v in _packed_varints(packed)]
    return decoded


def _packed_varints(packed: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in packed:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            values.append(value - (1 << 64) if value >= 1 << 63 else value)
            value = shift = 0
    return values


def test_crc32c_and_its_mask_match_the_published_check_values():
    import crc32c

    assert crc32c.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    assert tfrecord.frame(b"")[8:12] == struct.pack("<I", masked_crc32c(struct.pack("<Q", 0)))


# TensorFlow's TFRecord tutorial prints this serialization of
# {"feature0": int64 False, "feature1": int64 4, "feature2": bytes b"goat", "feature3": float 0.9876}.
TF_TUTORIAL_EXAMPLE = (b"\nR\n\x14\n\x08feature2\x12\x08\n\x06\n\x04goat"
                       b"\n\x14\n\x08feature3\x12\x08\x12\x06\n\x04[\xd3|?"
                       b"\n\x11\n\x08feature0\x12\x05\x1a\x03\n\x01\x00\n\x11\n\x08feature1\x12\x05\x1a\x03\n\x01\x04")


def test_the_hand_encoded_example_matches_tensorflows():
    ours = tfrecord.example({"feature0": False, "feature1": 4, "feature2": b"goat", "feature3": 0.9876})
    # TensorFlow's map order is its own; ours is sorted. The entries and the framing around them must be equal.
    (theirs_features,), (our_features,) = ([v for _, _, v in fields(m)] for m in (TF_TUTORIAL_EXAMPLE, ours))
    assert len(ours) == len(TF_TUTORIAL_EXAMPLE)
    assert sorted(v for _, _, v in fields(our_features)) == sorted(v for _, _, v in fields(theirs_features))
    assert decode_example(ours) == decode_example(TF_TUTORIAL_EXAMPLE) == {
        "feature0": [0], "feature1": [4], "feature2": [b"goat"], "feature3": [pytest.approx(0.9876)]}


def test_tfrecord_examples_decode_to_what_was_written():
    records = review_records()
    files = export(tfrecord, records, REVIEW_SPEC)
    assert sorted(files) == ["test.tfrecord", "train.tfrecord", "val.tfrecord"]
    examples = {}
    for name, data in files.items():
        for payload in read_tfrecords(data):
            example = decode_example(payload)
            assert example["split"] == [name.removesuffix(".tfrecord").encode()]
            examples[example["id"][0]] = example
    assert len(examples) == len(records)
    for record in records:
        example = examples[record.task_id]
        assert example["text"] == [record.data["text"].encode()]
        assert example["movie"] == [record.data["movie"].encode()]
        assert json.loads(example["result"][0]) == record.result
        if record.chosen:
            label = record.result[0]["value"]["choices"][0]
            assert example["label"] == [label.encode()]
            assert example["label_id"] == [["fresh", "rotten"].index(label)]
            assert example["annotator"] == [record.chosen.author.encode()]
            assert example["consensus_confidence"] == [pytest.approx(record.consensus["confidence"])]
        else:
            assert (example["label"], example["label_id"]) == ([b""], [-1])
            assert "annotator" not in example and "consensus_confidence" not in example


def test_tfrecord_of_spans_and_a_corrupt_record_is_detected():
    files = export(tfrecord, news_records(), NER_SPEC)
    payload = read_tfrecords(files["val.tfrecord"])[0]
    example = decode_example(payload)
    assert sorted(example) == ["annotator", "id", "result", "split", "text"]
    assert example["text"] == [b"The University of Oxford is in Oxford."]
    emoji = [decode_example(p) for p in read_tfrecords(files["test.tfrecord"])]
    assert [e["text"][0].decode() for e in emoji] == [EMOJI, EMOJI]
    corrupt = bytearray(files["val.tfrecord"])
    corrupt[20] ^= 0x01
    with pytest.raises(AssertionError, match="data CRC"):
        read_tfrecords(bytes(corrupt))


# --- every writer ----------------------------------------------------------------------------------------

CASES = [(conll, NER_SPEC, news_records), (spacy_docbin, NER_SPEC, news_records),
         (spacy_docbin, REVIEW_SPEC, review_records), (parquet, REVIEW_SPEC, review_records),
         (parquet, NER_SPEC, news_records), (tfrecord, REVIEW_SPEC, review_records),
         (tfrecord, NER_SPEC, news_records)]


@pytest.mark.parametrize(("module", "spec", "make"), CASES,
                         ids=[f"{m.__name__.rsplit('.', 1)[1]}-{make.__name__}" for m, _, make in CASES])
def test_the_same_records_give_the_same_bytes(module, spec, make):
    first, second = export(module, make(), spec), export(module, make(), spec)
    assert first.keys() == second.keys()
    for name in first:
        assert hashlib.sha256(first[name]).digest() == hashlib.sha256(second[name]).digest(), name


DIGESTS = """
import hashlib
from tests.exports import test_writers_nlp as t
for module, spec, make in t.CASES:
    files = t.export(module, make(), spec)
    print(hashlib.sha256(b"".join(name.encode() + data for name, data in sorted(files.items()))).hexdigest())
"""


@pytest.mark.slow
def test_another_process_with_another_hash_seed_gives_the_same_bytes():
    # DocBin keeps its strings in a set and Python salts string hashes per process: only a second process shows it.
    here = [hashlib.sha256(b"".join(name.encode() + data for name, data in sorted(export(m, make(), spec).items())))
            .hexdigest() for m, spec, make in CASES]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "config.settings"}
    script = "import django; django.setup()\n" + DIGESTS
    run = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == here


@pytest.mark.parametrize("module", [conll, spacy_docbin, parquet, tfrecord])
def test_an_empty_snapshot_is_one_empty_file(module):
    files = export(module, [], NER_SPEC)
    assert len(files) == 1
    (name,) = files
    assert name.startswith("export.")
    if module is parquet:
        assert pq.read_table(io.BytesIO(files[name])).num_rows == 0


class DigestSink(io.RawIOBase):
    def __init__(self, output: "DigestOutput", name: str):
        self.output, self.name = output, name

    def writable(self):
        return True

    def write(self, data):
        self.output.digests.setdefault(self.name, hashlib.sha256()).update(data)
        self.output.sizes[self.name] = self.output.sizes.get(self.name, 0) + len(data)
        return len(data)


class DigestOutput(Output):
    """Files that go straight to a digest, as a storage upload would: the writer's own memory is what's measured."""

    def __init__(self):
        super().__init__(io.BytesIO())
        self.digests: dict = {}
        self.sizes: dict[str, int] = {}

    def open(self, name):
        return DigestSink(self, name)


def many_records(count: int):
    for n in range(count):
        label = ("fresh", "rotten")[n % 2]
        result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
        yield Record(task_id=n + 1, data={"text": f"Review number {n}: a film worth {n % 7} stars.",
                                          "movie": f"movie_{n % 97}"},
                     meta={}, split=("train", "val", "test")[n % 3], result=result,
                     chosen=annotation(n + 1, result), consensus={"result": result, "confidence": 0.9})


@pytest.mark.parametrize("module", [parquet, tfrecord])
def test_100k_records_are_written_with_flat_memory(module):
    # Holding the 100,000 records takes about 140 MB and buffering every Parquet row about 38 MB; streaming in
    # row groups of 2,000 (three splits open at once) stays near 3 MB, and TFRecord keeps nothing.
    output = DigestOutput()
    options = Options(**{**OPTIONS.__dict__, "extra": {"rows_per_group": 2_000}})
    tracemalloc.start()
    try:
        counts = module.write(many_records(100_000), spec=REVIEW_SPEC, output=output, options=options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts["splits"] == {"train": 33_334, "val": 33_333, "test": 33_333}
    extension = module.__name__.rsplit(".", 1)[1]
    assert sorted(output.sizes) == [f"{split}.{extension}" for split in ("test", "train", "val")]
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"

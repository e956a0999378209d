"""The text export writers (Quorum JSON, JSON Lines, CSV, Label Studio JSON), read back with each format's reader."""

import csv
import dataclasses
import io
import json
import tracemalloc
from pathlib import Path

import orjson
import pytest

from apps.exports.formats import csv_table, json_native, jsonl, label_studio, writer
from apps.exports.records import Annotation, Options, Output, Record
from apps.projects.label_spec import compile_spec, normalize_spec, validate_result
from apps.tasks.import_formats import RowError, iter_records, normalize_task

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rotten_tomatoes.jsonl"
OPTIONS = Options(project_id=7, project_name="Reviews", schema_version=3, snapshot_id=11,
                  created_at="2025-01-02T03:04:05Z")
WRITERS = {"json": json_native, "jsonl": jsonl, "csv": csv_table, "label_studio": label_studio}

SPEC = normalize_spec({
    "data": {"text": {"type": "text"}},
    "controls": {
        "sentiment": {"type": "choices", "to": "text", "labels": [{"value": "fresh"}, {"value": "rotten"}]},
        "entities": {"type": "spans", "to": "text", "labels": [{"value": "PER"}, {"value": "MOVIE"}]},
        "genre": {"type": "choices", "to": "text", "taxonomy": True, "multiple": True,
                  "labels": [{"value": "Drama", "children": [{"value": "Crime"}, {"value": "War"}]},
                             {"value": "Comedy", "children": [{"value": "Satire"}]}]},
        "summary": {"type": "textarea", "to": "text"},
        "stars": {"type": "rating", "to": "text", "max": 5},
    },
})


def reviews(count: int) -> list[dict]:
    with FIXTURE.open() as lines:
        return [json.loads(line) for _, line in zip(range(count), lines, strict=False)]


def choice(control: str, *labels) -> dict:
    return {"from_name": control, "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}


def span(text: str, quote: str, label: str, region_id: str) -> dict:
    start = text.index(quote)
    return {"id": region_id, "from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(quote), "text": quote, "labels": [label]}}


def annotation(id, result, author="annotator1@acme.test", lead_time_ms=4200, **fields) -> Annotation:
    values = {"version": 1, "source": "human", "status": "accepted", "created_at": "2025-01-01T10:00:00Z"}
    values.update(fields)
    return Annotation(id=id, result=result, author=author, lead_time_ms=lead_time_ms, **values)


def sample_records() -> list[Record]:
    """Rotten Tomatoes snippets labelled with choices, an NER span, a taxonomy, a textarea and a rating."""
    records = []
    for position, review in enumerate(reviews(4)):
        text = review["text"]
        label = review["label"]
        first = annotation(100 + 2 * position, [choice("sentiment", label)])
        second = annotation(101 + 2 * position, [choice("sentiment", "fresh")], author="annotator2@acme.test",
                            lead_time_ms=None, status="submitted")
        records.append(Record(
            task_id=position + 1, data={"text": text}, meta={"movie": review["movie"]},
            split=("train", "train", "val", "test")[position], result=first.result, chosen=first,
            annotations=(first, second),
            consensus={"result": first.result, "confidence": 0.5 + position / 10, "method": "majority"},
            predictions=({"result": [choice("sentiment", "rotten")], "score": 0.75, "model_version": "nb-1"},),
            external_id=f"rt-{review['movie']}" if position % 2 else None, is_gold=position == 0,
            agreement=0.5,
        ))
    text = "Smoochy, the purple rhino played by Edward Norton, sings on."
    result = [
        choice("sentiment", "rotten"),
        span(text, "Edward Norton", "PER", "r1"),
        span(text, "Smoochy", "MOVIE", "r2"),
        {"from_name": "genre", "to_name": "text", "type": "taxonomy",
         "value": {"taxonomy": [["Comedy", "Satire"], ["Drama", "Crime"]]}},
        {"from_name": "summary", "to_name": "text", "type": "textarea", "value": {"text": ["A children's TV satire."]}},
        {"from_name": "stars", "to_name": "text", "type": "rating", "value": {"rating": 3}},
    ]
    rich = annotation(200, result, author="reviewer@acme.test", lead_time_ms=61_500, version=2, source="review")
    records.append(Record(task_id=9, data={"text": text, "extra": {"tags": ["kids", "tv"]}},
                          meta={"source": "=HYPERLINK(\"http://x\")", "batch": 3, "weight": 0.5},
                          split="", result=result, chosen=rich, annotations=(rich,)))
    # Labelled by consensus only: no chosen annotation, no annotations at all.
    records.append(Record(task_id=10, data={"text": "Plain and dull."}, meta={}, split="train",
                          result=[choice("sentiment", "rotten")], chosen=None,
                          consensus={"result": [choice("sentiment", "rotten")], "confidence": 0.67,
                                     "method": "dawid_skene"}))
    for record in records:
        for item in (record.chosen, *record.annotations):
            if item is not None:
                validate_result(SPEC, item.result, record.data)
    return records


def export(module, records, options=OPTIONS, spec=SPEC) -> tuple[bytes, dict]:
    output = Output(io.BytesIO())
    counts = module.write(iter(records), spec=spec, output=output, options=options)
    assert output.finish() == "file"
    return output.stream.getvalue(), counts


def test_the_registry_finds_the_writers():
    for name, module in WRITERS.items():
        assert writer(name) is module


# Quorum JSON and JSON Lines -----------------------------------------------------------------------------

TASK_KEYS = {"id", "external_id", "data", "meta", "split", "is_gold", "result", "annotation", "annotations",
             "consensus", "predictions", "agreement"}


def test_json_is_one_array_of_tasks_with_their_labels():
    records = sample_records()
    payload, counts = export(json_native, records)
    tasks = json.loads(payload)
    assert counts == {"tasks": 6, "annotations": 9, "predictions": 4}
    assert [task["id"] for task in tasks] == [1, 2, 3, 4, 9, 10]
    assert all(set(task) == TASK_KEYS for task in tasks)
    first = tasks[0]
    assert first["data"] == {"text": records[0].data["text"]}
    assert first["meta"] == {"movie": "death_to_smoochy"}
    assert (first["split"], first["is_gold"], first["external_id"]) == ("train", True, None)
    assert first["result"] == [choice("sentiment", "rotten")]
    assert first["annotation"] == {"id": 100, "version": 1, "author": "annotator1@acme.test", "source": "human",
                                   "status": "accepted", "lead_time_ms": 4200, "created_at": "2025-01-01T10:00:00Z"}
    assert [a["author"] for a in first["annotations"]] == ["annotator1@acme.test", "annotator2@acme.test"]
    assert first["annotations"][1]["result"] == [choice("sentiment", "fresh")]
    assert first["annotations"][1]["lead_time_ms"] is None
    assert first["consensus"]["method"] == "majority"
    assert first["predictions"] == [{"result": [choice("sentiment", "rotten")], "score": 0.75, "model_version": "nb-1"}]
    assert first["agreement"] == 0.5
    assert tasks[1]["external_id"] == "rt-ararat"
    rich = tasks[4]
    assert rich["data"]["extra"] == {"tags": ["kids", "tv"]}
    assert rich["result"][1]["value"] == {"start": 36, "end": 49, "text": "Edward Norton", "labels": ["PER"]}
    assert rich["annotation"]["version"] == 2
    consensus_only = tasks[5]
    assert consensus_only["annotation"] is None and consensus_only["annotations"] == []
    assert consensus_only["result"] == [choice("sentiment", "rotten")]
    # Keys are sorted at every level, so the bytes do not depend on dict order.
    assert payload == b"[\n" + b",\n".join(orjson.dumps(task, option=orjson.OPT_SORT_KEYS) for task in tasks) + b"\n]\n"


def test_json_of_no_records_is_an_empty_array():
    payload, counts = export(json_native, [])
    assert json.loads(payload) == [] and counts["tasks"] == 0


def test_jsonl_holds_the_same_objects_one_per_line():
    records = sample_records()
    lines = export(jsonl, records)[0].decode().splitlines()
    assert len(lines) == len(records)
    assert [json.loads(line) for line in lines] == json.loads(export(json_native, records)[0])


# CSV -----------------------------------------------------------------------------------------------


def read_csv(payload: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(payload.decode("utf-8"), newline="")))


def test_csv_has_one_row_per_task_with_readable_labels():
    payload, counts = export(csv_table, sample_records())
    assert counts["tasks"] == 6
    reader = csv.reader(io.StringIO(payload.decode(), newline=""))
    header = next(reader)
    assert header == ["id", "external_id", "split", "data.text", "meta.batch", "meta.movie", "meta.source",
                      "meta.weight", "sentiment", "entities", "genre", "summary", "stars", "annotator",
                      "annotation_id", "consensus_confidence", "agreement"]
    rows = read_csv(payload)
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "9", "10"]
    first = rows[0]
    assert first["sentiment"] == "rotten" and first["meta.movie"] == "death_to_smoochy"
    assert (first["annotator"], first["annotation_id"], first["consensus_confidence"]) == (
        "annotator1@acme.test", "100", "0.5")
    assert first["entities"] == first["genre"] == first["summary"] == first["stars"] == ""
    assert rows[1]["external_id"] == "rt-ararat" and rows[1]["split"] == "train"
    rich = rows[4]
    assert rich["genre"] == "Comedy/Satire|Drama/Crime"
    assert rich["summary"] == "A children's TV satire."
    assert rich["stars"] == "3"
    assert json.loads(rich["entities"]) == [
        {"start": 36, "end": 49, "text": "Edward Norton", "labels": ["PER"]},
        {"start": 0, "end": 7, "text": "Smoochy", "labels": ["MOVIE"]},
    ]
    assert rich["meta.source"] == "'=HYPERLINK(\"http://x\")"
    assert rich["annotator"] == "reviewer@acme.test" and rich["agreement"] == ""
    assert rows[5]["annotator"] == "" and rows[5]["annotation_id"] == "" and rows[5]["sentiment"] == "rotten"
    assert rows[5]["consensus_confidence"] == "0.67"


def test_csv_neutralises_formulas_and_keeps_numbers_numbers():
    spec = normalize_spec({"data": {"text": {"type": "text"}},
                           "controls": {"summary": {"type": "textarea", "to": "text"},
                                        "stars": {"type": "rating", "to": "text"}}})
    dangerous = ["=cmd", "+1", "-x", "@a", "\tx", "\rx"]
    records = [
        Record(task_id=i + 1, data={"text": value}, meta={"note": value, "count": 3, "share": 0.5}, split="",
               result=[{"from_name": "summary", "to_name": "text", "type": "textarea", "value": {"text": [value]}},
                       {"from_name": "stars", "to_name": "text", "type": "rating", "value": {"rating": 4}}],
               chosen=None, agreement=0.5)
        for i, value in enumerate(dangerous)
    ]
    payload, _ = export(csv_table, records, spec=spec)
    rows = read_csv(payload)
    for row, value in zip(rows, dangerous, strict=True):
        assert row["data.text"] == row["meta.note"] == row["summary"] == "'" + value
        assert (row["meta.count"], row["meta.share"], row["stars"], row["agreement"]) == ("3", "0.5", "4", "0.5")
    lines = payload.decode().split("\r\n")
    assert lines[0] == "id,external_id,split,data.text,meta.count,meta.note,meta.share,summary,stars,annotator," \
                       "annotation_id,consensus_confidence,agreement"
    # Numbers are written bare, never as quoted text.
    assert lines[1] == "1,,,'=cmd,3,'=cmd,0.5,'=cmd,4,,,,0.5"
    assert lines[2] == "2,,,'+1,3,'+1,0.5,'+1,4,,,,0.5"
    assert '"' not in lines[3] and lines[3].startswith("3,,,'-x,3,")


def test_csv_meta_columns_can_be_fixed_in_one_pass():
    options = Options(project_id=7, project_name="Reviews", schema_version=3,
                      extra={"meta_keys": ["weight", "movie"]})
    payload, _ = export(csv_table, sample_records(), options=options)
    rows = read_csv(payload)
    assert [key for key in rows[0] if key.startswith("meta")] == ["meta.weight", "meta.movie"]
    assert rows[0]["meta.movie"] == "death_to_smoochy" and rows[4]["meta.weight"] == "0.5"


def test_csv_meta_beyond_the_column_limit_goes_to_one_json_column(monkeypatch):
    monkeypatch.setattr(csv_table, "MAX_META_COLUMNS", 2)
    records = [Record(task_id=i, data={"text": "t"}, meta={f"k{i}": i, "a": "x"}, split="", result=[], chosen=None)
               for i in range(1, 5)]
    rows = read_csv(export(csv_table, records)[0])
    assert [key for key in rows[0] if key.startswith("meta")] == ["meta.a", "meta.k1", "meta"]
    assert [(row["meta.a"], row["meta.k1"], row["meta"]) for row in rows] == [
        ("x", "1", ""), ("x", "", '{"k2":2}'), ("x", "", '{"k3":3}'), ("x", "", '{"k4":4}')]


def test_csv_control_named_like_a_column_is_prefixed():
    spec = normalize_spec({"data": {"text": {"type": "text"}},
                           "controls": {"annotator": {"type": "choices", "to": "text", "labels": [{"value": "a"}]}}})
    record = Record(task_id=1, data={"text": "t"}, meta={}, split="", result=[choice("annotator", "a")],
                    chosen=annotation(5, [choice("annotator", "a")]))
    row = read_csv(export(csv_table, [record], spec=spec)[0])[0]
    assert (row["label.annotator"], row["annotator"]) == ("a", "annotator1@acme.test")


# Label Studio JSON ----------------------------------------------------------------------------------


def test_label_studio_json_has_label_studio_shape():
    tasks = json.loads(export(label_studio, sample_records())[0])
    first = tasks[0]
    assert set(first) == {"id", "data", "meta", "annotations", "predictions"}
    assert set(tasks[1]) == {"id", "data", "meta", "annotations", "predictions", "external_id"}
    assert first["annotations"][0] == {
        "id": 100, "completed_by": "annotator1@acme.test", "result": [choice("sentiment", "rotten")],
        "was_cancelled": False, "ground_truth": True, "created_at": "2025-01-01T10:00:00Z", "lead_time": 4.2,
        "updated_at": "2025-01-01T10:00:00Z"}
    assert first["annotations"][1]["lead_time"] is None
    assert tasks[1]["annotations"][0]["ground_truth"] is False
    assert tasks[4]["annotations"][0]["lead_time"] == 61.5
    assert first["predictions"] == [{"result": [choice("sentiment", "rotten")], "score": 0.75, "model_version": "nb-1"}]


def test_label_studio_json_reimports_through_our_importer():
    records = sample_records()
    payload, _ = export(label_studio, records)
    compiled = compile_spec(SPEC)
    imported = []
    for _, parsed in iter_records(io.BytesIO(payload), "json"):
        assert not isinstance(parsed, RowError), parsed
        task = normalize_task(parsed)
        assert not isinstance(task, RowError), task
        imported.append(task)
    assert len(imported) == len(records)
    for record, task in zip(records, imported, strict=True):
        assert task.data == record.data
        assert task.external_id == record.external_id
        expected_meta = record.meta if record.external_id else {**record.meta, "label_studio_id": record.task_id}
        assert task.meta == expected_meta
        assert [a["completed_by"] for a in task.annotations] == [a.author for a in record.annotations]
        assert [a["result"] for a in task.annotations] == [a.result for a in record.annotations]
        assert [(p["result"], p["score"], p["model_version"]) for p in task.predictions] == [
            (p["result"], p["score"], p["model_version"]) for p in record.predictions]
        for item in task.annotations + task.predictions:
            validate_result(compiled, item["result"], task.data)  # what the import checks next


# Every writer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_same_records_give_the_same_bytes(name):
    first, _ = export(WRITERS[name], sample_records())
    # The same records built again, with their dicts' keys in another order.
    shuffled = [dataclasses.replace(record, data=dict(reversed(record.data.items())),
                                    meta=dict(reversed(record.meta.items()))) for record in sample_records()]
    assert export(WRITERS[name], shuffled)[0] == first
    # Stable order is the records' order.
    assert export(WRITERS[name], list(reversed(sample_records())))[0] != first


def many_records(count: int):
    """Small records made one at a time, as the job's server-side cursor hands them over."""
    for i in range(count):
        result = [choice("sentiment", "fresh" if i % 3 else "rotten")]
        chosen = annotation(i, result)
        yield Record(task_id=i, data={"text": f"review number {i}, quite short"}, meta={"n": i % 7}, split="train",
                     result=result, chosen=chosen, annotations=(chosen,), agreement=1.0)


MEMORY_LIMIT = 50 * 1024 * 1024


def peak_memory(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_memory_measure_sees_a_list_of_all_records():
    """The bound below is meaningful: holding the 200,000 records at once would go over it (measured on a
    tenth of them, as tracemalloc makes every allocation slow)."""
    assert peak_memory(lambda: list(many_records(20_000))) * 10 > MEMORY_LIMIT


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_writers_stream_with_flat_memory(name):
    output = Output(io.BytesIO())
    counts = {}
    peak = peak_memory(lambda: counts.update(
        WRITERS[name].write(many_records(200_000), spec=SPEC, output=output, options=OPTIONS)))
    assert counts["tasks"] == 200_000
    assert peak < MEMORY_LIMIT, f"{name}: peak {peak / 2**20:.1f} MiB"
    output.finish()
    assert output.stream.getvalue().count(b"review number 199999, quite short") == 1

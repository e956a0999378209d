"""Reading uploads as task inputs: formats, Label Studio's task shape, row numbers of bad rows, memory."""

import hashlib
import io
import random
import tracemalloc
import unicodedata
from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from apps.tasks.import_formats import (
    FORMATS,
    ImportFormatError,
    RowError,
    TaskInput,
    content_hash,
    detect_format,
    iter_records,
    normalize_task,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BOM = b"\xef\xbb\xbf"


def records(payload: bytes, fmt: str, **options) -> list[tuple[int, dict | RowError]]:
    return list(iter_records(io.BytesIO(payload), fmt, **options))


def errors(result) -> list[tuple[int, str]]:
    return [(row, record.message) for row, record in result if isinstance(record, RowError)]


def good(result) -> list[tuple[int, dict]]:
    return [(row, record) for row, record in result if not isinstance(record, RowError)]


def rotten_tomatoes() -> bytes:
    return (FIXTURES / "rotten_tomatoes.jsonl").read_bytes()


def label_studio_export() -> list[dict]:
    """Two tasks as Label Studio 1.x exports them (JSON), the second with an image and real box regions."""
    regions = orjson.loads((FIXTURES / "quokka" / "annotations.json").read_bytes())
    box = next(region for region in regions if region["type"] == "rectanglelabels")
    sentiment = {"id": "r1", "from_name": "sentiment", "to_name": "text", "type": "choices",
                 "value": {"choices": ["Positive"]}, "origin": "manual"}
    return [
        {
            "id": 101, "inner_id": 1, "project": 7, "file_upload": "a1b2-reviews.json", "drafts": [],
            "created_at": "2025-03-01T10:00:00.000000Z", "updated_at": "2025-03-01T10:05:00.000000Z",
            "total_annotations": 2, "cancelled_annotations": 1, "total_predictions": 1, "meta": {"batch": "b1"},
            "data": {"text": "A tender, honest film about growing up."},
            "annotations": [
                {"id": 1, "completed_by": {"id": 3, "email": "ann@example.com"}, "result": [sentiment],
                 "was_cancelled": False, "ground_truth": False, "lead_time": 12.5,
                 "created_at": "2025-03-01T10:04:00.000000Z", "updated_at": "2025-03-01T10:04:00.000000Z"},
                {"id": 2, "completed_by": 4, "was_cancelled": True, "lead_time": 3.1},
            ],
            "predictions": [{"id": 9, "model_version": "sentiment-v2", "score": 0.87,
                             "result": [dict(sentiment, value={"choices": ["Negative"]})]}],
        },
        {
            "id": 102, "inner_id": 2, "project": 7, "data": {"image": "/data/upload/7/quokka.jpg"},
            "annotations": [{"id": 3, "completed_by": 3, "result": [box], "was_cancelled": False}],
            "predictions": [],
        },
    ]


# Format detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", "json"),
    ("application/json; charset=utf-8", "json"),
    ("Application/JSON;charset=UTF-8", "json"),
    ("application/x-ndjson", "jsonl"),
    ("application/x-ndjson; charset=utf-8", "jsonl"),
    ("application/jsonl", "jsonl"),
    ("application/x-jsonlines", "jsonl"),
    ("text/csv", "csv"),
    ("text/csv; charset=utf-8; header=present", "csv"),
])
def test_detect_format_by_content_type(content_type, expected):
    assert detect_format(content_type, None) == expected
    # The content type wins over a file name that says otherwise.
    assert detect_format(content_type, "tasks.txt") == expected


@pytest.mark.parametrize(("filename", "expected"), [
    ("tasks.json", "json"),
    ("export_project-7-at-2025-03-01.json", "json"),
    ("tasks.jsonl", "jsonl"),
    ("tasks.ndjson", "jsonl"),
    ("TASKS.CSV", "csv"),
    ("/home/ann/data/reviews.v2.csv", "csv"),
    ("C:\\Users\\ann\\reviews.csv", "csv"),
])
def test_detect_format_of_multipart_upload_by_extension(filename, expected):
    assert detect_format("multipart/form-data; boundary=----x1y2", filename) == expected


def test_detect_format_of_multipart_ignores_the_part_content_type_and_uses_the_name():
    # For multipart the extension decides, even when the caller passes the request's content type.
    assert detect_format("multipart/form-data", "tasks.csv") == "csv"
    # A file without a known type (the command, a browser's octet-stream) falls back to the name.
    assert detect_format("application/octet-stream", "tasks.jsonl") == "jsonl"
    assert detect_format(None, "tasks.jsonl") == "jsonl"


@pytest.mark.parametrize(("content_type", "filename"), [
    ("text/plain", None),
    ("application/xml", "tasks.xml"),
    ("multipart/form-data; boundary=x", "tasks.xlsx"),
    ("multipart/form-data; boundary=x", None),
    ("multipart/form-data; boundary=x", "json"),
    (None, None),
    ("", ""),
])
def test_detect_format_refuses_other_formats(content_type, filename):
    with pytest.raises(ImportFormatError, match="unsupported format"):
        detect_format(content_type, filename)


def test_iter_records_refuses_an_unknown_format_at_once():
    assert FORMATS == ("json", "jsonl", "csv")
    with pytest.raises(ImportFormatError, match="unsupported format"):
        iter_records(io.BytesIO(b"[]"), "xml")


def test_iter_records_needs_a_binary_stream():
    with pytest.raises(TypeError, match="binary stream"):
        list(iter_records(io.StringIO('{"text": "x"}\n'), "jsonl"))


# JSON Lines ---------------------------------------------------------------------------------------


def test_jsonl_real_reviews_become_tasks_with_line_numbers():
    expected = [orjson.loads(line) for line in rotten_tomatoes().splitlines()]
    result = records(rotten_tomatoes(), "jsonl")
    assert [row for row, _ in result] == list(range(1, 301))
    assert [record for _, record in result] == expected
    tasks = [normalize_task(record) for _, record in result]
    assert tasks[1] == TaskInput(data=expected[1], meta={}, external_id=None, annotations=[], predictions=[],
                                 gold=None)
    assert all(set(task.data) == {"text", "label", "movie"} for task in tasks)
    assert len({content_hash(task.data) for task in tasks}) == 300


def test_jsonl_with_bom_crlf_blank_lines_and_no_final_newline():
    payload = BOM + b'{"text": "one"}\r\n\r\n   \n{"text": "caf\xc3\xa9"}\r\n\n{"text": "last"}'
    assert records(payload, "jsonl") == [(1, {"text": "one"}), (4, {"text": "café"}), (6, {"text": "last"})]


def test_jsonl_bad_lines_are_reported_by_line_and_the_rest_is_kept():
    payload = b"\n".join([
        b'{"text": "first"}',
        b'{"text": "broken", }',
        b"42",
        b'["a", "list"]',
        b'{"text": "bad \xff byte"}',
        b"",
        b'{"text": "kept"}',
        b'{"text": "unterminated',
        b'{"text": "end"}',
    ]) + b"\n"
    result = records(payload, "jsonl")
    assert good(result) == [(1, {"text": "first"}), (7, {"text": "kept"}), (9, {"text": "end"})]
    messages = dict(errors(result))
    assert sorted(messages) == [2, 3, 4, 5, 8]
    assert messages[2].startswith("invalid JSON")
    assert messages[3] == "a task must be a JSON object, not a number"
    assert messages[4] == "a task must be a JSON object, not an array"
    assert messages[5] == "invalid UTF-8 at byte 15"
    assert messages[8].startswith("invalid JSON")


def test_jsonl_line_over_the_record_limit_is_a_row_error_and_reading_goes_on():
    payload = b'{"text": "a"}\n{"text": "' + b"x" * 5000 + b'"}\n{"text": "b"}\n'
    result = records(payload, "jsonl", chunk_size=1024, max_record_bytes=1024)
    assert result == [(1, {"text": "a"}), (2, RowError("record larger than 1024 bytes")), (3, {"text": "b"})]


def test_jsonl_accepts_django_uploaded_files():
    upload = SimpleUploadedFile("reviews.jsonl", rotten_tomatoes(), content_type="application/x-ndjson")
    assert len(list(iter_records(upload, detect_format(upload.content_type, upload.name)))) == 300
    spooled = TemporaryUploadedFile("reviews.jsonl", "application/octet-stream", 0, None)
    spooled.write(rotten_tomatoes())
    spooled.seek(0)
    try:
        assert len(list(iter_records(spooled, detect_format("multipart/form-data", spooled.name)))) == 300
    finally:
        spooled.close()


# JSON ---------------------------------------------------------------------------------------------


def test_json_array_elements_are_numbered_by_position():
    reviews = [orjson.loads(line) for line in rotten_tomatoes().splitlines()]
    payload = orjson.dumps(reviews, option=orjson.OPT_INDENT_2)
    result = records(payload, "json")
    assert [row for row, _ in result] == list(range(1, 301))
    assert [record for _, record in result] == reviews


def test_json_array_with_bom_and_label_studio_export():
    export = label_studio_export()
    result = records(BOM + orjson.dumps(export), "json")
    assert result == [(1, export[0]), (2, export[1])]


def test_json_single_object_is_one_task_at_row_1():
    assert records(b' {"text": "only one"} \n', "json") == [(1, {"text": "only one"})]
    task = label_studio_export()[0]
    assert records(BOM + orjson.dumps(task), "json") == [(1, task)]
    assert errors(records(b'{"text": "one"} {"text": "two"}', "json")) == [
        (1, "invalid JSON: unexpected content after document")
    ]


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", [(1, "empty document: expected a JSON array of tasks or one task object")]),
    (b" \n ", [(1, "empty document: expected a JSON array of tasks or one task object")]),
    (b'"text"', [(1, "expected a JSON array of tasks or one task object")]),
    (b"42", [(1, "expected a JSON array of tasks or one task object")]),
    (b"[]", []),
    (b" [ \n ] \n", []),
])
def test_json_documents_that_are_not_tasks(payload, expected):
    assert errors(records(payload, "json")) == expected


def test_json_array_bad_elements_are_row_errors_and_the_rest_is_kept():
    payload = (b'[{"text": "a"}, 7, "loose string", [1, 2], null, {"text": "b", "n": NaN},'
               b' {"text": "bad \xff byte"}, {"text": "c", }, {"text": "d"}]')
    result = records(payload, "json")
    assert good(result) == [(1, {"text": "a"}), (9, {"text": "d"})]
    assert errors(result) == [
        (2, "a task must be a JSON object, not a number"),
        (3, "a task must be a JSON object, not a string"),
        (4, "a task must be a JSON object, not an array"),
        (5, "a task must be a JSON object, not null"),
        (6, "invalid JSON: unexpected character, expected a JSON value"),
        (7, "invalid UTF-8 at byte 15"),
        (8, "invalid JSON: trailing comma is not allowed"),
    ]


@pytest.mark.parametrize(("payload", "expected_good", "expected_error"), [
    # Cut inside the third element: positions 1 and 2 are kept, 3 is where it broke.
    (b'[{"text": "a"}, {"text": "b"}, {"text": "c', 2, (3, "invalid JSON: the file ends inside this element")),
    (b'[{"text": "a"}, {"text": "b"}, {"text": {"x": [1, ', 2,
     (3, "invalid JSON: the file ends inside this element")),
    # Cut after a complete element: nothing is missing but the closing bracket.
    (b'[{"text": "a"}, {"text": "b"}', 2, (3, "invalid JSON: the file ends before the array is closed")),
    (b'[{"text": "a"}, {"text": "b"},\n', 2, (3, "invalid JSON: the file ends before the array is closed")),
    (b'[{"text": "a"} {"text": "b"}]', 1, (2, "invalid JSON: expected ',' between array elements")),
    (b'[{"text": "a"},, {"text": "b"}]', 1, (2, "invalid JSON: missing array element")),
    (b'[{"text": "a"}, {"text": "b"},]', 2, (3, "invalid JSON: missing array element")),
    (b'[{"text": "a"}}, {"text": "b"}]', 1, (2, "invalid JSON: unexpected '}' in the array")),
    (b'[{"text": "a"}] {"text": "b"}', 1, (2, "invalid JSON: unexpected data after the array")),
])
def test_json_array_broken_at_array_level_stops_at_the_position(payload, expected_good, expected_error):
    for chunk_size in (1, 5, 1 << 20):
        result = records(payload, "json", chunk_size=chunk_size)
        assert len(good(result)) == expected_good
        assert errors(result) == [expected_error]
        assert result[-1] == (expected_error[0], RowError(expected_error[1]))


def test_json_array_element_over_the_record_limit_is_skipped_without_holding_it():
    big = {"text": "x" * 3000, "nested": [{"a": "}]\\\"" * 200}]}
    payload = orjson.dumps([{"text": "a"}, big, {"text": "b"}])
    result = records(payload, "json", chunk_size=512, max_record_bytes=1024)
    assert result == [(1, {"text": "a"}), (2, RowError("record larger than 1024 bytes")), (3, {"text": "b"})]


def random_json(rng: random.Random, depth: int = 0):
    """A JSON value full of what trips a splitter: brackets and quotes in strings, escapes, unicode, nesting."""
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False, 0, -1.5e-7, 12345678901234])
    if kind in (1, 2, 3, 4):
        alphabet = ['"', "\\", "{", "}", "[", "]", ",", ":", " ", "\n", "a", "é", "😀", "\u2028", "\x00", "/"]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind in (5, 6):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_json_key(rng): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def random_json_key(rng: random.Random) -> str:
    return rng.choice(["text", "k}", 'q"', "b\\", "[", "ü", ""]) + str(rng.randrange(10))


def test_json_array_splitter_agrees_with_orjson_at_every_chunk_boundary():
    rng = random.Random(0)
    for _ in range(60):
        tasks = [{"data": random_json(rng)} | {random_json_key(rng): random_json(rng)} for _ in range(8)]
        indent = rng.choice([0, orjson.OPT_INDENT_2])
        payload = orjson.dumps(tasks, option=indent)
        for chunk_size in (1, 2, 3, 7, 64, 1 << 20):
            assert records(payload, "json", chunk_size=chunk_size) == list(enumerate(tasks, 1)), (payload, chunk_size)


def test_json_array_cut_anywhere_keeps_the_complete_elements_and_reports_the_next_position():
    rng = random.Random(1)
    tasks = [{"data": random_json(rng), "n": n} for n in range(6)]
    payload = orjson.dumps(tasks, option=orjson.OPT_INDENT_2)
    closing = [b'"n": %d\n  }' % n for n in range(6)]  # "n" is each element's last key
    ends = [payload.index(close) + len(close) for close in closing]
    assert len(payload) > 500
    for cut in range(1, len(payload)):
        prefix = payload[:cut]
        complete = sum(1 for end in ends if end <= cut)
        for chunk_size in (13, 1 << 20):
            result = records(prefix, "json", chunk_size=chunk_size)
            assert good(result) == list(enumerate(tasks[:complete], 1)), (cut, chunk_size)
            assert [row for row, _ in errors(result)] == [complete + 1], (cut, chunk_size)


# CSV ----------------------------------------------------------------------------------------------


CSV_SAMPLE = (
    b"text,label,meta.source,meta.batch,external_id\r\n"
    b"A tender film.,fresh,web,b1,rt-1\r\n"
    b'"Dull, slow, and ""clever"" only in its trailer.",rotten,,b1,\r\n'
    b"\r\n"
    b'"Two lines\r\nin one cell",,import\r\n'
    b"Caf\xc3\xa9 society,fresh,web,b2,42\r\n"
)


@pytest.mark.parametrize("bom", [b"", BOM])
def test_csv_columns_meta_prefix_and_external_id(bom):
    result = records(bom + CSV_SAMPLE, "csv")
    assert result == [
        (2, {"data": {"text": "A tender film.", "label": "fresh"}, "meta": {"source": "web", "batch": "b1"},
             "external_id": "rt-1"}),
        (3, {"data": {"text": 'Dull, slow, and "clever" only in its trailer.', "label": "rotten"},
             "meta": {"source": "", "batch": "b1"}, "external_id": None}),
        # Line 4 is blank; the record on lines 5-6 is row 5 and misses cells, which are empty.
        (5, {"data": {"text": "Two lines\r\nin one cell", "label": ""}, "meta": {"source": "import", "batch": ""},
             "external_id": None}),
        (7, {"data": {"text": "Café society", "label": "fresh"}, "meta": {"source": "web", "batch": "b2"},
             "external_id": "42"}),
    ]
    tasks = [normalize_task(record) for _, record in result]
    assert tasks[0] == TaskInput(data={"text": "A tender film.", "label": "fresh"},
                                 meta={"source": "web", "batch": "b1"}, external_id="rt-1",
                                 annotations=[], predictions=[], gold=None)
    assert tasks[1].external_id is None


def test_csv_of_real_reviews():
    reviews = [orjson.loads(line) for line in rotten_tomatoes().splitlines()]
    lines = ["text,label,movie"] + [
        ",".join('"' + str(review[key]).replace('"', '""') + '"' for key in ("text", "label", "movie"))
        for review in reviews
    ]
    result = records(("\n".join(lines) + "\n").encode(), "csv")
    # Four reviews have a line break in their text: a record is numbered by the line it starts on.
    starts, line = [], 2
    for review in reviews:
        starts.append(line)
        line += 1 + review["text"].count("\n")
    assert line == 2 + 300 + 5
    assert [row for row, _ in result] == starts
    assert [normalize_task(record).data for _, record in result] == reviews


def test_csv_bad_rows_are_reported_by_line_and_the_rest_is_kept():
    payload = (
        b"text,label\n"
        b"good one,fresh\n"
        b"too,many,cells\n"
        b"bad \xff byte,rotten\n"
        b",\n"  # every cell empty: skipped like a blank line
        b'"bad \xfe in a\nquoted cell",x\n'
        b"short\n"
        b"last,fresh\n"
    )
    result = records(payload, "csv")
    assert good(result) == [
        (2, {"data": {"text": "good one", "label": "fresh"}}),
        (8, {"data": {"text": "short", "label": ""}}),
        (9, {"data": {"text": "last", "label": "fresh"}}),
    ]
    assert errors(result) == [
        (3, "the row has 3 cells but the header has 2 columns"),
        (4, "invalid UTF-8 at byte 5 of line"),
        (6, "invalid UTF-8 at byte 6 of line"),
    ]


def test_csv_header_problems_stop_the_import_at_line_1():
    assert records(b"text,text\na,b\n", "csv") == [(1, RowError("duplicate column 'text'"))]
    assert records(b"meta.x,meta.x\na,b\n", "csv") == [(1, RowError("duplicate column 'meta.x'"))]
    assert records(b"text,meta.\na,b\n", "csv") == [(1, RowError("column 'meta.' names no meta field"))]
    assert records(b"te\xffxt\na\n", "csv") == [(1, RowError("invalid UTF-8 at byte 3 of line"))]
    assert records(b"", "csv") == records(BOM, "csv") == records(b"text,label\n", "csv") == []


def test_csv_with_old_mac_line_endings():
    assert records(b"text\rA\r\rB\r", "csv") == [(2, {"data": {"text": "A"}}), (4, {"data": {"text": "B"}})]


def test_csv_column_without_a_name_is_ignored():
    # pandas' to_csv writes its index under an empty header.
    assert records(b",text\n0,hello\n1,world\n", "csv") == [
        (2, {"data": {"text": "hello"}, "meta": {}, "external_id": None}),
        (3, {"data": {"text": "world"}, "meta": {}, "external_id": None}),
    ]


def test_csv_cell_over_the_size_limit_stops_the_import_at_its_row():
    # A quoted cell of many short lines: the line guard does not see it, the csv field limit does.
    cell = "\n".join(["y" * 100] * 30)
    payload = f'text,label\nfirst,fresh\n"{cell}",x\nnever read,rotten\n'.encode()
    result = records(payload, "csv", max_record_bytes=1024)
    assert result[0] == (2, {"data": {"text": "first", "label": "fresh"}})
    assert len(result) == 2 and result[1][0] == 3
    assert result[1][1].message.startswith("invalid CSV: field larger than field limit (1024)")


def test_csv_line_over_the_record_limit_is_a_row_error_and_reading_goes_on():
    payload = b"text\nshort\n" + b"z" * 5000 + b"\nafter\n"
    result = records(payload, "csv", chunk_size=1000, max_record_bytes=1000)
    assert result == [(2, {"data": {"text": "short"}}), (3, RowError("line longer than 1000 bytes")),
                      (4, {"data": {"text": "after"}})]


# Chunk boundaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "payload"), [
    ("jsonl", BOM + b'{"text": "caf\xc3\xa9 \\" }"}\r\n\n[1]\n{"bad": \xff}\n{"text": "x"}'),
    ("json", BOM + b'[\n {"text": "caf\xc3\xa9 \\" }{"},\n "s", {"a": [1, {"b": "]"}]}, {"text": "\xff"}]\n'),
    ("csv", BOM + CSV_SAMPLE + b"x\xff,y\r\nlast,row\r"),
])
def test_results_do_not_depend_on_where_chunks_end(fmt, payload):
    expected = records(payload, fmt)
    assert len(expected) >= 3
    for chunk_size in range(1, 40):
        assert records(payload, fmt, chunk_size=chunk_size) == expected, chunk_size


# Task shape ---------------------------------------------------------------------------------------


def test_plain_object_is_the_task_data():
    assert normalize_task({"text": "hi", "label": "fresh"}) == TaskInput(
        data={"text": "hi", "label": "fresh"}, meta={}, external_id=None, annotations=[], predictions=[], gold=None
    )
    # `data` that does not hold an object is just a field like any other.
    assert normalize_task({"data": "a string", "id": 4}).data == {"data": "a string", "id": 4}
    assert normalize_task({"meta": {"a": 1}, "annotations": 3}).data == {"meta": {"a": 1}, "annotations": 3}


def test_label_studio_export_shape():
    first, second = (normalize_task(task) for task in label_studio_export())
    source = label_studio_export()
    assert first.data == {"text": "A tender, honest film about growing up."}
    assert first.meta == {"batch": "b1", "label_studio_id": 101}
    assert first.external_id is None
    # The cancelled (skipped) annotation is dropped; the kept one stays whole for the importer.
    assert first.annotations == [source[0]["annotations"][0]]
    assert first.annotations[0]["completed_by"] == {"id": 3, "email": "ann@example.com"}
    assert first.annotations[0]["lead_time"] == 12.5
    assert first.predictions == source[0]["predictions"]
    assert first.gold is None
    assert second.data == {"image": "/data/upload/7/quokka.jpg"}
    assert second.meta == {"label_studio_id": 102}
    assert second.annotations[0]["result"][0]["type"] == "rectanglelabels"
    # The input is not modified.
    assert source[0]["meta"] == {"batch": "b1"}


def test_quorum_shape_with_external_id_meta_and_gold():
    task = normalize_task({
        "id": 55,
        "data": {"text": "x"},
        "meta": {"source": "crawl"},
        "external_id": "doc-7",
        "gold": {"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                             "value": {"choices": ["Positive"]}}]},
        "unknown_key": "ignored",
    })
    assert task.external_id == "doc-7"
    assert task.meta == {"source": "crawl"}  # an external id makes Label Studio's id irrelevant
    assert task.gold == [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                          "value": {"choices": ["Positive"]}}]
    assert normalize_task({"data": {"t": 1}, "external_id": 12}).external_id == "12"
    assert normalize_task({"data": {"t": 1}, "external_id": "é" * 255}).external_id == "é" * 255
    assert normalize_task({"data": {"t": 1}, "external_id": ""}).external_id is None
    assert normalize_task({"data": {"t": 1}, "gold": {"result": []}}).gold == []


def test_label_studio_before_1_0_completions_are_annotations():
    task = normalize_task({"data": {"t": 1}, "completions": [{"result": [], "lead_time": 2}]})
    assert task.annotations == [{"result": [], "lead_time": 2}]


@pytest.mark.parametrize(("task", "message"), [
    ({}, "a task needs at least one data field"),
    ({"data": {}}, "data must be a non-empty object"),
    ({"data": {"t": 1}, "meta": "x"}, "meta must be an object, not a string"),
    ({"data": {"t": 1}, "external_id": True}, "external_id must be a string or an integer, not a boolean"),
    ({"data": {"t": 1}, "external_id": 1.5}, "external_id must be a string or an integer, not a number"),
    ({"data": {"t": 1}, "external_id": ["a"]}, "external_id must be a string or an integer, not an array"),
    ({"data": {"t": 1}, "external_id": "x" * 256}, "external_id is longer than 255 characters"),
    ({"data": {"t": 1}, "annotations": {"result": []}}, "annotations must be an array, not an object"),
    ({"data": {"t": 1}, "annotations": [7]}, "annotations[0] must be an object, not a number"),
    ({"data": {"t": 1}, "annotations": [{"result": []}, {"completed_by": 1}]},
     "annotations[1].result must be an array"),
    ({"data": {"t": 1}, "annotations": [{"result": "Positive"}]}, "annotations[0].result must be an array"),
    ({"data": {"t": 1}, "predictions": [{"result": [], "score": "high"}]},
     "predictions[0].score must be a number, not a string"),
    ({"data": {"t": 1}, "predictions": [{"result": [], "score": True}]},
     "predictions[0].score must be a number, not a boolean"),
    ({"data": {"t": 1}, "predictions": [{"result": [], "model_version": 3}]},
     "predictions[0].model_version must be a string, not a number"),
    ({"data": {"t": 1}, "predictions": [{"score": 0.5}]}, "predictions[0].result must be an array"),
    ({"data": {"t": 1}, "gold": ["Positive"]}, 'gold must be {"result": [...]}'),
    ({"data": {"t": 1}, "gold": {"result": "Positive"}}, 'gold must be {"result": [...]}'),
    ({"data": {"t": 1}, "gold": {"choices": ["Positive"]}}, 'gold must be {"result": [...]}'),
])
def test_task_shape_errors(task, message):
    assert normalize_task(task) == RowError(message)


def test_prediction_score_and_model_version_are_optional():
    predictions = [{"result": [], "score": None}, {"result": [], "score": 1, "model_version": None}, {"result": []}]
    assert normalize_task({"data": {"t": 1}, "predictions": predictions}).predictions == predictions


def test_csv_record_with_only_meta_cells_has_no_data():
    (_, record), = records(b"text,meta.source\n,web\n", "csv")
    assert normalize_task(record) == TaskInput(data={"text": ""}, meta={"source": "web"}, external_id=None,
                                               annotations=[], predictions=[], gold=None)
    (_, record), = records(b"meta.source\nweb\n", "csv")
    assert normalize_task(record) == RowError("data must be a non-empty object")


# Content hash -------------------------------------------------------------------------------------


def test_content_hash_is_blake2b_128_of_the_sorted_compact_utf8_json():
    # Changing the canonical form would make every re-import after an upgrade create duplicates.
    data = {"text": "é", "a": [1, {"z": None, "b": True}]}
    canonical = '{"a":[1,{"b":true,"z":null}],"text":"é"}'.encode()
    assert content_hash(data) == hashlib.blake2b(canonical, digest_size=16).hexdigest()
    assert len(content_hash(data)) == 32


def test_content_hash_ignores_key_order_at_every_level():
    one = {"text": "hello", "meta": {"b": 1, "a": [{"y": 2, "x": 1}]}}
    two = {"meta": {"a": [{"x": 1, "y": 2}], "b": 1}, "text": "hello"}
    assert content_hash(one) == content_hash(two)


def test_content_hash_sees_every_change_of_text_and_type():
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    hashes = {content_hash({"text": value}) for value in ("café", decomposed, "cafe", "Café", "café ", 1, "1", 1.5)}
    assert len(hashes) == 8
    # Array order is content.
    assert content_hash({"tags": ["a", "b"]}) != content_hash({"tags": ["b", "a"]})


def test_content_hash_is_the_same_for_every_format_of_the_same_task():
    jsonl = records('{"text": "naïve 😀", "label": "x"}\n'.encode(), "jsonl")
    array = records('[{"label": "x", "text": "naïve 😀"}]'.encode(), "json")
    csv = records(BOM + "label,text\nx,naïve 😀\n".encode(), "csv")
    digests = {content_hash(normalize_task(result[0][1]).data) for result in (jsonl, array, csv)}
    assert len(digests) == 1


# Memory -------------------------------------------------------------------------------------------


def write_big_file(path: Path, fmt: str, target_bytes: int) -> int:
    """Write about target_bytes of review tasks, a batch at a time, and return how many tasks.

    Each task holds four reviews (~120 words), so that tracemalloc, which slows every allocation,
    has a quarter as many rows to follow.
    """
    reviews = [orjson.loads(line) for line in rotten_tomatoes().splitlines()]
    written = count = 0
    with path.open("wb") as out:
        if fmt == "json":
            out.write(b"[\n")
        elif fmt == "csv":
            out.write(b"text,label,movie,meta.n\n")
        while written < target_bytes:
            batch = []
            for review in reviews:
                count += 1
                task = dict(review, text=f"{review['text']} #{count} " * 4)
                if fmt == "csv":
                    batch.append(f'"{task["text"].replace(chr(34), chr(34) * 2)}",{task["label"]},{task["movie"]},'
                                 f"{count}\n".encode())
                else:
                    batch.append(orjson.dumps(task) + (b"\n" if fmt == "jsonl" else b",\n"))
            chunk = b"".join(batch)
            out.write(chunk)
            written += len(chunk)
        if fmt == "json":
            out.write(b'{"text": "end"}\n]\n')
            count += 1
    return count


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_memory_stays_flat_on_a_50_mb_file(tmp_path, fmt):
    path = tmp_path / f"big.{fmt}"
    expected = write_big_file(path, fmt, 50 * 1024 * 1024)
    assert path.stat().st_size > 50 * 1024 * 1024
    count = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for _row, record in iter_records(stream, fmt):
                task = normalize_task(record)
                content_hash(task.data)
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == expected
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"

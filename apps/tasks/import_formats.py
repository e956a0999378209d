"""Reads an uploaded byte stream (JSON array or object, JSONL, CSV) as task inputs, one record at a time.

No database and no Django here: the import service (API and `import_tasks`) feeds a binary stream to
`iter_records`, passes each record through `normalize_task` and `content_hash`, and inserts batches.
Everything is streamed in chunks, so memory does not grow with the file: at most one chunk plus one
record (capped at `MAX_RECORD_BYTES`) is held at a time.

Row numbers (API.md "Import errors"): JSONL and CSV give the 1-based line number (blank lines count,
the CSV header is line 1, a CSV record spanning several lines has the number of its first line); a
JSON array gives the 1-based position of the element; a single JSON object is row 1.

Text is UTF-8 whatever a `charset` parameter says; a UTF-8 byte order mark at the start is dropped.
"""

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson

FORMATS = ("json", "jsonl", "csv")

CHUNK_SIZE = 1 << 20
# A task bigger than this (a JSON element or document, a JSONL or CSV line, a CSV cell) is a row error, so a
# single huge record cannot make a worker hold the whole upload in memory.
MAX_RECORD_BYTES = 16 << 20

# Task.external_id's max_length: a longer one would fail the whole batch insert, so it is a row error.
EXTERNAL_ID_MAX_LENGTH = 255

_CONTENT_TYPES = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "text/csv": "csv",
}
_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

_BOM = b"\xef\xbb\xbf"
_JSON_WS = b" \t\r\n"
_QUOTE, _COMMA, _LBRACKET, _RBRACKET, _LBRACE, _RBRACE = b'",[]{}'  # as ints, what indexing bytes gives

# The JSON array splitter lets the regex engine skip whole strings and plain bytes in C and stops only
# at the bytes that change the structure. A string is complete when it ends in an unescaped quote; a
# string cut by the end of the buffer makes the skip stop at its opening quote.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_SKIP_TOP = re.compile(rb'[^"\[\]{},]*(?:' + _STRING + rb'[^"\[\]{},]*)*', re.DOTALL).match
_SKIP_NESTED = re.compile(rb'[^"\[\]{}]*(?:' + _STRING + rb'[^"\[\]{}]*)*', re.DOTALL).match
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL).match
_NEXT_ELEMENT = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*").match

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


class ImportFormatError(Exception):
    """The upload as a whole cannot be read (unknown format); no row was imported."""


class RowError:
    """One bad record: yielded in place of the record, the import goes on with the next one."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"RowError({self.message!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RowError) and other.message == self.message

    __hash__ = None


# Not frozen: a frozen dataclass costs three times as much to build (0.84 µs against 0.28 µs here),
# which is a tenth of the per-row budget of the import. Treat it as read-only.
@dataclass(slots=True)
class TaskInput:
    """A task as the import inserts it; `gold` is the gold result list, or None."""

    data: dict
    meta: dict
    external_id: str | None
    annotations: list
    predictions: list
    gold: list | None


def detect_format(content_type: str | None, filename: str | None) -> str:
    """The format of an upload: by its media type, or for multipart (and unknown types) by the file's extension."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "multipart/form-data" and media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    if filename:
        name = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
        dot = name.rfind(".")
        if dot > 0 and name[dot:] in _EXTENSIONS:
            return _EXTENSIONS[name[dot:]]
    raise ImportFormatError(
        f"unsupported format (content type {content_type!r}, file name {filename!r}): send JSON "
        "(application/json, .json), JSONL (application/x-ndjson, .jsonl, .ndjson) or CSV (text/csv, .csv)"
    )


def iter_records(
    stream: BinaryIO, fmt: str, *, chunk_size: int = CHUNK_SIZE, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[tuple[int, dict | RowError]]:
    """Yield `(row, record)` or `(row, RowError)` for each record of a binary stream, from its current position.

    A JSON or JSONL record is the task object as written; a CSV record is `{"data": {...}}`, with `meta`
    and `external_id` too when the header has such columns. Bad rows do not stop the iteration, except
    where the rest cannot be located: a JSON array malformed between elements or truncated, a CSV header
    that cannot be read, a CSV cell over the size limit end it with one RowError where it broke.
    """
    if fmt not in FORMATS:
        raise ImportFormatError(f"unsupported format {fmt!r}: use one of {', '.join(FORMATS)}")
    if chunk_size < 1 or max_record_bytes < 1:
        raise ValueError("chunk_size and max_record_bytes must be positive")
    chunks = _read_chunks(stream, min(chunk_size, max_record_bytes))
    if fmt == "jsonl":
        return _iter_jsonl(chunks, max_record_bytes)
    if fmt == "csv":
        return _iter_csv(chunks, max_record_bytes)
    return _iter_json(chunks, max_record_bytes)


def normalize_task(obj: dict) -> TaskInput | RowError:
    """A record as a TaskInput: Label Studio/Quorum shape when `data` holds an object, else the object is the data.

    Only shapes are checked here; results are validated against the project's label schema elsewhere.
    """
    if not isinstance(obj, dict):
        return RowError(f"a task must be a JSON object, not {_json_type(obj)}")
    data = obj.get("data")
    if not isinstance(data, dict):
        if not obj:
            return RowError("a task needs at least one data field")
        return TaskInput(obj, {}, None, [], [], None)
    return _normalize_task_shape(obj, data)


def content_hash(data: dict) -> str:
    """A stable digest of a task's data, for deduplication per project: 32 hex characters.

    Canonical form: orjson with sorted keys (at every level), no whitespace, UTF-8 without escaping,
    so key order does not matter and any change of text (including Unicode normalization) does.
    BLAKE2b with a 128-bit digest: strong enough that no collision will ever merge two tasks (2^64
    work even for someone trying), and a 32-character key keeps the (project, content_hash) unique
    index half the size of a SHA-256 one; it is what `Task.content_hash` stores. (SHA-256 is faster
    on CPUs with SHA extensions, 0.47 against 0.70 µs per 180-byte task here, but twice as wide.)
    """
    return content_digest(canonical_json(data))


def canonical_json(data: dict) -> bytes:
    """The canonical form `content_hash` digests; as jsonb it is the same value as `data` (jsonb keeps no key
    order), so the import stores these bytes and serializes each task once."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_digest(canonical: bytes) -> str:
    """`content_hash` of data whose canonical form is already made."""
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


# Reading ------------------------------------------------------------------------------------------


def _read_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Non-empty chunks of the stream, the first without a UTF-8 byte order mark."""
    read = stream.read
    head = b""
    while len(head) < len(_BOM):
        chunk = _checked(read(chunk_size))
        if not chunk:
            break
        head += chunk
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    if head:
        yield head
    while chunk := _checked(read(chunk_size)):
        yield chunk


def _checked(chunk):
    if isinstance(chunk, str):
        raise TypeError("iter_records needs a binary stream (open the file in 'rb' mode)")
    return chunk


def _json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _too_large(limit: int) -> RowError:
    return RowError(f"record larger than {limit} bytes")


def _json_error(raw: bytes, exc: orjson.JSONDecodeError, *, one_line: bool = False) -> RowError:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return RowError(f"invalid UTF-8 at byte {bad.start + 1}")
    return RowError(f"invalid JSON: {exc.msg}" + (f" at column {exc.colno}" if one_line else ""))


def _parse_task_bytes(raw: bytes, *, one_line: bool = False) -> dict | RowError:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _json_error(raw, exc, one_line=one_line)
    if type(obj) is not dict:
        return RowError(f"a task must be a JSON object, not {_json_type(obj)}")
    return obj


# JSON Lines ---------------------------------------------------------------------------------------


def _iter_jsonl(chunks: Iterable[bytes], max_record: int) -> Iterator[tuple[int, dict | RowError]]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    line_no = 0
    carry = b""  # the unterminated last line of the previous chunk
    skipping = False  # dropping the rest of a line longer than max_record
    for chunk in chunks:
        if skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            line_no += 1
            yield line_no, _too_large(max_record)
            chunk = chunk[newline + 1:]
            skipping = False
        elif carry:
            chunk = carry + chunk
        lines = chunk.split(b"\n")
        carry = lines.pop()
        if len(carry) > max_record:
            carry, skipping = b"", True
        # Chunks are at most max_record long, so only a line continued from the last chunk can be longer.
        if lines and len(lines[0]) > max_record:
            line_no += 1
            yield line_no, _too_large(max_record)
            del lines[0]
        for line in lines:
            line_no += 1
            try:
                obj = loads(line)
            except decode_error as exc:
                if line.strip():  # blank lines are skipped, but counted
                    yield line_no, _json_error(line, exc, one_line=True)
                continue
            if type(obj) is dict:
                yield line_no, obj
            else:
                yield line_no, RowError(f"a task must be a JSON object, not {_json_type(obj)}")
    if skipping:
        yield line_no + 1, _too_large(max_record)
    elif carry.strip():
        yield line_no + 1, _parse_task_bytes(carry, one_line=True)


# JSON ---------------------------------------------------------------------------------------------


def _iter_json(chunks: Iterable[bytes], max_record: int) -> Iterator[tuple[int, dict | RowError]]:
    chunks = iter(chunks)
    buf = b""
    for chunk in chunks:
        buf = chunk.lstrip(_JSON_WS)
        if buf:
            break
    if not buf:
        yield 1, RowError("empty document: expected a JSON array of tasks or one task object")
    elif buf[0] == _LBRACKET:
        yield from _iter_json_array(buf, chunks, max_record)
    elif buf[0] == _LBRACE:
        yield 1, _read_single_object(buf, chunks, max_record)
    else:
        yield 1, RowError("expected a JSON array of tasks or one task object")


def _read_single_object(buf: bytes, chunks: Iterator[bytes], max_record: int) -> dict | RowError:
    parts, size = [buf], len(buf)
    for chunk in chunks:
        size += len(chunk)
        if size > max_record:
            return _too_large(max_record)
        parts.append(chunk)
    return _parse_task_bytes(b"".join(parts))


def _iter_json_array(buf: bytes, chunks: Iterator[bytes], max_record: int) -> Iterator[tuple[int, dict | RowError]]:
    """Split a JSON array into its elements and parse each with orjson, holding one chunk plus one element.

    Tracks string state and bracket depth; an element whose brackets balance but which orjson rejects
    (a bad literal, invalid UTF-8, a trailing comma inside) is one bad row and the scan goes on; a
    fault between elements, or the end of the file inside the array, ends the scan with one RowError.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    skip_top, skip_nested, string_rest, next_element = _SKIP_TOP, _SKIP_NESTED, _STRING_REST, _NEXT_ELEMENT
    find = bytes.find
    pos = 1  # after the '['
    depth = 1  # 1 = between elements of the top-level array
    index = 0  # position of the last element begun
    expect_value = True  # after '[' or ',': an element must come next
    seg_start = 1  # start of the bytes since the last separator at depth 1 (a scalar element, whitespace)
    elem_start = 0  # start of the object or array element being scanned
    in_string = False  # a string was cut by the end of the buffer
    oversized = False  # the current element went over max_record: its bytes are dropped as they are read
    while True:
        size = len(buf)
        if in_string:
            end = string_rest(buf, pos).end()
            if end < size and buf[end] == _QUOTE:
                in_string = False
                pos = end + 1
                continue
            pos = end  # end of the buffer, or a backslash whose escaped byte is in the next chunk
        elif depth == 1:
            end = skip_top(buf, pos).end()
            if end < size:
                byte = buf[end]
                if byte == _COMMA or byte == _RBRACKET:
                    scalar = buf[seg_start:end].strip(_JSON_WS)
                    if scalar:
                        if not expect_value:
                            yield index + 1, RowError("invalid JSON: expected ',' between array elements")
                            return
                        index += 1
                        yield index, _scalar_element(scalar)
                    elif expect_value and (byte == _COMMA or index):
                        yield index + 1, RowError("invalid JSON: missing array element")
                        return
                    if byte == _RBRACKET:
                        if not _only_whitespace_left(buf, end + 1, chunks):
                            yield index + 1, RowError("invalid JSON: unexpected data after the array")
                        return
                    expect_value = True
                    pos = seg_start = end + 1
                    continue
                if byte == _LBRACE or byte == _LBRACKET:
                    if not expect_value or buf[seg_start:end].strip(_JSON_WS):
                        yield index + 1, RowError("invalid JSON: expected ',' between array elements")
                        return
                    index += 1
                    if byte == _LBRACE:
                        # Fast path for objects: try the next two '}' as the end of the element. The first
                        # slice that parses is the element (a JSON value ends where its parser stops, so no
                        # other slice from the same start is valid); else the scan below finds the end.
                        # Consecutive `}, {` elements are taken in this loop.
                        scanned = False
                        while True:
                            close = find(buf, b"}", end + 1)
                            attempts = 2
                            while close >= 0 and attempts:
                                try:
                                    obj = loads(buf[end:close + 1])
                                except decode_error:
                                    close = find(buf, b"}", close + 1)
                                    attempts -= 1
                                    continue
                                break
                            else:
                                break
                            yield index, obj
                            separator = next_element(buf, close + 1)
                            if separator is None:
                                expect_value = False
                                pos = seg_start = close + 1
                            else:
                                end = separator.end()
                                if end < size and buf[end] == _LBRACE:
                                    index += 1
                                    continue
                                expect_value = True
                                pos = seg_start = end
                            scanned = True
                            break
                        if scanned:
                            continue
                    elem_start = end
                    depth = 2
                    pos = end + 1
                    continue
                if byte == _QUOTE:
                    in_string = True
                    pos = end + 1
                    continue
                yield index + 1, RowError("invalid JSON: unexpected '}' in the array")
                return
            pos = end
        else:
            end = skip_nested(buf, pos).end()
            if end < size:
                byte = buf[end]
                pos = end + 1
                if byte == _QUOTE:
                    in_string = True
                    continue
                if byte == _LBRACE or byte == _LBRACKET:
                    depth += 1
                    continue
                depth -= 1
                if depth > 1:
                    continue
                if oversized:
                    oversized = False
                    yield index, _too_large(max_record)
                else:
                    raw = buf[elem_start:pos]
                    try:
                        obj = loads(raw)
                    except decode_error as exc:
                        yield index, _json_error(raw, exc)
                    else:
                        if type(obj) is dict:
                            yield index, obj
                        else:
                            yield index, RowError(f"a task must be a JSON object, not {_json_type(obj)}")
                expect_value = False
                seg_start = pos
                continue
            pos = end
        # The buffer is used up: keep what the current element or scalar needs, and read on.
        chunk = next(chunks, None)
        if chunk is None:
            if depth > 1 or buf[seg_start:pos].strip(_JSON_WS):
                yield index if depth > 1 else index + 1, RowError("invalid JSON: the file ends inside this element")
            else:
                yield index + 1, RowError("invalid JSON: the file ends before the array is closed")
            return
        if depth > 1:
            if not oversized and pos - elem_start > max_record:
                oversized = True
            keep = pos if oversized else elem_start
        else:
            if pos - seg_start > max_record:
                yield index + 1, _too_large(max_record)
                return
            if not buf[seg_start:pos].strip(_JSON_WS):
                seg_start = pos  # drop whitespace between elements
            keep = seg_start
        buf = buf[keep:] + chunk
        pos -= keep
        seg_start -= keep
        elem_start -= keep


def _scalar_element(raw: bytes) -> RowError:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _json_error(raw, exc)
    return RowError(f"a task must be a JSON object, not {_json_type(value)}")


def _only_whitespace_left(buf: bytes, pos: int, chunks: Iterator[bytes]) -> bool:
    if buf[pos:].strip(_JSON_WS):
        return False
    return all(not chunk.strip(_JSON_WS) for chunk in chunks)


# CSV ----------------------------------------------------------------------------------------------


def _iter_csv(chunks: Iterable[bytes], max_record: int) -> Iterator[tuple[int, dict | RowError]]:
    """Rows as `{"data", "meta", "external_id"}`: `meta.<key>` columns go to meta, `external_id` to external_id.

    Empty cells are kept as empty strings in data and meta (a CSV cannot tell empty from missing; the
    label schema decides whether a field may be empty); missing trailing cells are empty too. Rows whose
    cells are all empty are skipped like blank lines. Columns with an empty header name (a pandas index,
    a trailing comma) are ignored.
    """
    # A process-wide setting of the csv module (nothing else in Quorum reads CSV); larger cells are errors.
    csv.field_size_limit(max_record)
    bad_lines: dict[int, str] = {}  # line number -> why that line is unreadable
    reader = csv.reader(_csv_lines(chunks, max_record, bad_lines, lambda: reader.line_num + 1))
    columns = None
    last_line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # In practice a cell over the size limit, which may be a quoted cell whose lines would be
            # read as rows if we went on: stop here, as for a broken JSON array.
            yield last_line + 1, RowError(f"invalid CSV: {exc}; the rest of the file was not read")
            return
        row, last_line = last_line + 1, reader.line_num
        if bad_lines:
            reasons = [bad_lines.pop(line) for line in range(row, last_line + 1) if line in bad_lines]
            if reasons:
                yield row, RowError(reasons[0])
                if columns is None:
                    return
                continue
        if not any(cells):
            continue
        if columns is None:
            columns = _csv_columns(cells)
            if isinstance(columns, RowError):
                yield row, columns
                return
            names, width, plain = columns
            continue
        if len(cells) != width:
            if len(cells) > width:
                yield row, RowError(f"the row has {len(cells)} cells but the header has {width} columns")
                continue
            cells += [""] * (width - len(cells))
        if plain:
            yield row, {"data": dict(zip(names, cells, strict=True))}
            continue
        data, meta, external_id = {}, {}, None
        for (kind, key), value in zip(names, cells, strict=True):
            if kind == "data":
                data[key] = value
            elif kind == "meta":
                meta[key] = value
            elif kind == "external_id":
                external_id = value or None
        yield row, {"data": data, "meta": meta, "external_id": external_id}


def _csv_columns(header: list[str]):
    """(names, width, plain) from the header row: plain names when every column is a data field."""
    names, seen = [], set()
    for name in header:
        if name == "":
            target = ("ignored", "")
        elif name == "external_id":
            target = ("external_id", name)
        elif name.startswith("meta."):
            if not name[5:]:
                return RowError("column 'meta.' names no meta field")
            target = ("meta", name[5:])
        else:
            target = ("data", name)
        if target in seen and target[0] != "ignored":
            return RowError(f"duplicate column {name!r}")
        seen.add(target)
        names.append(target)
    if all(kind == "data" for kind, _ in names):
        return [key for _, key in names], len(names), True
    return names, len(names), False


def _csv_lines(chunks: Iterable[bytes], max_record: int, bad_lines: dict[int, str], next_line) -> Iterator[str]:
    """Decoded lines with their endings (\\n, \\r\\n or \\r, as a file opened with newline='' gives them).

    A line that is not UTF-8, or longer than max_record, is recorded in bad_lines under the number
    `next_line()` gives and replaced, so the reader goes on and the row holding it becomes a RowError.
    """
    carry = b""
    skipping = False
    for chunk in chunks:
        if skipping:
            end = _line_end(chunk)
            if end < 0:
                continue
            bad_lines[next_line()] = f"line longer than {max_record} bytes"
            yield "\n"
            chunk = chunk[end:]
            skipping = False
            if not chunk:
                continue
        elif carry:
            chunk = carry + chunk
        lines = chunk.splitlines(True)
        # Keep an unterminated last line, and a last '\r' whose '\n' may start the next chunk.
        carry = b"" if lines[-1][-1] == 0x0A else lines.pop()
        if len(carry) > max_record:
            carry, skipping = b"", True
        # Chunks are at most max_record long, so only a line continued from the last chunk can be longer.
        if lines and len(lines[0]) > max_record:
            bad_lines[next_line()] = f"line longer than {max_record} bytes"
            yield "\n"
            del lines[0]
        for line in lines:
            try:
                yield line.decode()
            except UnicodeDecodeError as exc:
                bad_lines[next_line()] = f"invalid UTF-8 at byte {exc.start + 1} of line"
                yield line.decode(errors="replace")
    if skipping:
        bad_lines[next_line()] = f"line longer than {max_record} bytes"
        yield "\n"
    elif carry:
        try:
            yield carry.decode()
        except UnicodeDecodeError as exc:
            bad_lines[next_line()] = f"invalid UTF-8 at byte {exc.start + 1} of line"
            yield carry.decode(errors="replace")


def _line_end(chunk: bytes) -> int:
    """Index just after the first line ending in chunk, or -1.

    Only used to find the end of an over-long line; a '\r\n' cut between two chunks there counts as two.
    """
    newline, carriage = chunk.find(b"\n"), chunk.find(b"\r")
    if carriage >= 0 and (newline < 0 or carriage < newline):
        return carriage + 2 if chunk[carriage + 1:carriage + 2] == b"\n" else carriage + 1
    return newline + 1 if newline >= 0 else -1


# Task shape ---------------------------------------------------------------------------------------


def _normalize_task_shape(obj: dict, data: dict) -> TaskInput | RowError:
    """The `{"data", "meta", "external_id", "annotations", "predictions", "gold"}` shape (Label Studio's)."""
    if not data:
        return RowError("data must be a non-empty object")
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        return RowError(f"meta must be an object, not {_json_type(meta)}")
    external_id = obj.get("external_id")
    if external_id is None or external_id == "":
        external_id = None
        # Label Studio's own task id is kept for reference only: re-imports dedupe by content.
        ls_id = obj.get("id")
        if ls_id is not None and not isinstance(ls_id, bool) and isinstance(ls_id, int | str):
            meta = {**meta, "label_studio_id": ls_id}
    elif isinstance(external_id, bool) or not isinstance(external_id, int | str):
        return RowError(f"external_id must be a string or an integer, not {_json_type(external_id)}")
    else:
        external_id = str(external_id)
        if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
            return RowError(f"external_id is longer than {EXTERNAL_ID_MAX_LENGTH} characters")
    raw_annotations = obj.get("annotations")
    if raw_annotations is None:
        raw_annotations = obj.get("completions")  # Label Studio before 1.0
    annotations = _result_objects(raw_annotations, "annotations")
    if isinstance(annotations, RowError):
        return annotations
    predictions = _result_objects(obj.get("predictions"), "predictions")
    if isinstance(predictions, RowError):
        return predictions
    gold = obj.get("gold")
    if gold is not None:
        if not isinstance(gold, dict) or not isinstance(gold.get("result"), list):
            return RowError('gold must be {"result": [...]}')
        gold = gold["result"]
    return TaskInput(data, meta, external_id, annotations, predictions, gold)


def _result_objects(items, field: str) -> list | RowError:
    """Annotations or predictions: objects with a `result` list, kept whole; cancelled annotations dropped."""
    if items is None:
        return []
    if not isinstance(items, list):
        return RowError(f"{field} must be an array, not {_json_type(items)}")
    kept = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return RowError(f"{field}[{i}] must be an object, not {_json_type(item)}")
        if field == "annotations" and item.get("was_cancelled"):
            continue  # a skip in Label Studio: no answer to import
        if not isinstance(item.get("result"), list):
            return RowError(f"{field}[{i}].result must be an array")
        if field == "predictions":
            score = item.get("score")
            if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
                return RowError(f"{field}[{i}].score must be a number, not {_json_type(score)}")
            model_version = item.get("model_version")
            if model_version is not None and not isinstance(model_version, str):
                return RowError(f"{field}[{i}].model_version must be a string, not {_json_type(model_version)}")
        kept.append(item)
    return kept

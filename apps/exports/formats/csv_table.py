"""CSV export: `export.csv`, one row per task with its data, meta, the chosen labels per control and who made them.

Columns: `id, external_id, split`, `data.<field>` for each data field of the spec (plus any names in
`options.extra["data_keys"]`), `meta.<key>`, one column per control named after it (`label.<name>` if
that name is already a column), then `annotator, annotation_id, consensus_confidence, agreement`.

Meta keys are open, yet the header comes first. With `options.extra["meta_keys"]` (a list) those are the
meta columns, in that order, and the export is one pass. Without it the records are spooled once to a
temporary file (a row's cells and its meta as one JSON line, so memory stays flat) while their meta keys are
collected; the meta columns are then every key seen, sorted, up to MAX_META_COLUMNS of them: keys beyond
that (a meta used as a free-form bag) go, as a JSON object, into one last `meta` column, so nothing is lost.

Controls read in a readable form: choices as labels joined by "|" (hierarchical ones as paths "a/b"),
taxonomy paths likewise, textarea as its text (several texts joined by newlines), rating as the number,
region and relation controls, and per-region classifications, as a JSON list of their items' values.
Cells go through `safe_cell`, so text a spreadsheet would run as a formula is quoted with ' and numbers
stay numbers. UTF-8 without a byte order mark, CRLF line ends (RFC 4180).
"""

import csv
import io
import tempfile
from collections.abc import Iterable

import orjson

from apps.exports.records import Options, Output, Record
from apps.projects.label_spec import CompiledControl, compile_spec
from apps.workforce.csv_export import safe_cell

FILE_NAME = "export.csv"
MAX_META_COLUMNS = 200
FLUSH_BYTES = 1 << 16
_JSON = orjson.OPT_SORT_KEYS
TAIL = ("annotator", "annotation_id", "consensus_confidence", "agreement")


def _json_text(value) -> str:
    return orjson.dumps(value, option=_JSON).decode()


def _plain(value):
    """A data or meta value as a cell: nested values as JSON text, scalars as they are."""
    return _json_text(value) if isinstance(value, dict | list) else value


def _path_text(entry) -> str:
    return "/".join(str(step) for step in entry) if isinstance(entry, list) else str(entry)


def _control_cell(control: CompiledControl, items: list):
    """The readable form of one control's items of a result."""
    if not items:
        return None
    if control.one_per_result:
        value = items[0].get("value") or {}
        if control.type == "choices":
            return "|".join(_path_text(entry) for entry in value.get(control.result_type) or ())
        if control.type == "textarea":
            return "\n".join(str(text) for text in value.get("text") or ())
        return value.get("rating")
    if control.type == "relation":
        return _json_text([{key: item[key] for key in ("from_id", "to_id", "direction", "labels") if key in item}
                           for item in items])
    return _json_text([item.get("value") for item in items])


class _Columns:
    def __init__(self, spec, options: Options):
        compiled = compile_spec(spec)
        fields = [entry.get("field", key) for key, entry in compiled.spec.get("data", {}).items()]
        self.data_keys = list(dict.fromkeys(fields + list(options.extra.get("data_keys") or ())))
        taken = {"id", "external_id", "split", *TAIL, *(f"data.{key}" for key in self.data_keys)}
        self.controls = list(compiled.controls.values())
        self.control_names = []
        for control in self.controls:
            name = control.name if control.name not in taken else f"label.{control.name}"
            taken.add(name)
            self.control_names.append(name)

    def head(self, record: Record) -> list:
        """Every cell but the meta ones, in column order: id…controls, then the tail."""
        by_control: dict[str, list] = {}
        for item in record.result:
            if isinstance(item, dict):
                by_control.setdefault(item.get("from_name"), []).append(item)
        chosen, consensus = record.chosen, record.consensus
        return [
            record.task_id, record.external_id, record.split,
            *(_plain(record.data.get(key)) for key in self.data_keys),
            *(_control_cell(control, by_control.get(control.name, [])) for control in self.controls),
            chosen.author if chosen else None,
            chosen.id if chosen else None,
            consensus.get("confidence") if consensus else None,
            record.agreement,
        ]

    def header(self, meta_keys: list, bag: bool) -> list:
        return ["id", "external_id", "split", *(f"data.{key}" for key in self.data_keys),
                *(f"meta.{key}" for key in meta_keys), *(["meta"] if bag else []), *self.control_names, *TAIL]


class _CsvOut:
    """csv.writer into a text buffer, flushed to the binary output as UTF-8 every FLUSH_BYTES."""

    def __init__(self, handle):
        self.handle, self.buffer = handle, io.StringIO()
        self.writer = csv.writer(self.buffer)

    def row(self, cells: list) -> None:
        self.writer.writerow([safe_cell(cell) for cell in cells])
        if self.buffer.tell() >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        self.handle.write(self.buffer.getvalue().encode("utf-8"))
        self.buffer.seek(0)
        self.buffer.truncate()


def _row(columns: _Columns, head: list, meta: dict, meta_keys: list, bag: bool) -> list:
    split = 3 + len(columns.data_keys)
    cells = head[:split] + [_plain(meta.get(key)) for key in meta_keys]
    if bag:
        known = set(meta_keys)
        rest = {key: value for key, value in meta.items() if key not in known}
        cells.append(_json_text(rest) if rest else None)
    return cells + head[split:]


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    columns = _Columns(spec, options)
    out = _CsvOut(output.open(FILE_NAME))
    counts = {"tasks": 0, "annotations": 0, "predictions": 0}

    def count(record: Record) -> None:
        counts["tasks"] += 1
        counts["annotations"] += len(record.annotations)
        counts["predictions"] += len(record.predictions)

    given = options.extra.get("meta_keys")
    if given is not None:
        meta_keys = [str(key) for key in given]
        out.row(columns.header(meta_keys, False))
        for record in records:
            count(record)
            out.row(_row(columns, columns.head(record), record.meta, meta_keys, False))
        out.flush()
        return counts

    seen: set[str] = set()
    overflow = False
    with tempfile.TemporaryFile() as spool:
        for record in records:
            count(record)
            for key in record.meta:
                if key not in seen:
                    if len(seen) < MAX_META_COLUMNS:
                        seen.add(key)
                    else:
                        overflow = True
            spool.write(orjson.dumps([columns.head(record), record.meta], option=orjson.OPT_APPEND_NEWLINE))
        meta_keys = sorted(seen)
        out.row(columns.header(meta_keys, overflow))
        spool.seek(0)
        for line in spool:
            head, meta = orjson.loads(line)
            out.row(_row(columns, head, meta, meta_keys, overflow))
    out.flush()
    return counts

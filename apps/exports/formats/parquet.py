"""Hugging Face datasets-style Parquet: one row per task, one file per split (`train.parquet`…, or `export.parquet`).

Columns: `id` (int64, the task), `split`, one string column per data field of the spec (text as is, anything else
as JSON text; a field named like one of our columns becomes `data_<name>`), then, when the spec has exactly one
whole-task single-choice control, `label` (the chosen label) and `label_id` (its index in the spec's label order,
-1 when unlabelled: a datasets `ClassLabel`), then `result` (the chosen result as JSON text), `annotator` (the
chosen annotation's author) and `consensus_confidence` (float64). The schema's `huggingface` metadata is what
`datasets` writes (`{"info": {"features": …}}`), so `datasets.Dataset.from_parquet` restores the ClassLabel.

Rows are written in row groups of `options.extra["rows_per_group"]` (default 10,000) through one ParquetWriter per
split, so memory stays flat. The bytes depend only on the records and the pyarrow version (`created_by`).
The row is the TFRecord writer's (`tfrecord.row_of`), so both formats carry the same columns.
"""

import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from apps.exports.formats.tfrecord import Layout, row_of
from apps.exports.records import Options, Output, Record

ROWS_PER_GROUP = 10_000


def _schema(layout: Layout) -> pa.Schema:
    fields = [("id", pa.int64(), {"dtype": "int64", "_type": "Value"}),
              ("split", pa.string(), {"dtype": "string", "_type": "Value"})]
    fields += [(column, pa.string(), {"dtype": "string", "_type": "Value"}) for column, _ in layout.data_columns]
    if layout.control is not None:
        fields += [("label", pa.string(), {"dtype": "string", "_type": "Value"}),
                   ("label_id", pa.int64(), {"names": layout.names, "_type": "ClassLabel"})]
    fields += [("result", pa.string(), {"dtype": "string", "_type": "Value"}),
               ("annotator", pa.string(), {"dtype": "string", "_type": "Value"}),
               ("consensus_confidence", pa.float64(), {"dtype": "float64", "_type": "Value"})]
    features = {name: feature for name, _, feature in fields}
    metadata = {"huggingface": json.dumps({"info": {"features": features}}, separators=(",", ":"))}
    return pa.schema([pa.field(name, kind) for name, kind, _ in fields], metadata=metadata)


class _Split:
    """The rows of one split, buffered column by column and written a row group at a time."""

    def __init__(self, name: str, schema: pa.Schema, output: Output, rows_per_group: int):
        self.schema, self.rows_per_group = schema, rows_per_group
        self.writer = pq.ParquetWriter(output.open(f"{name}.parquet"), schema, compression="snappy",
                                       write_statistics=True, use_dictionary=True)
        self.columns = {name: [] for name in schema.names}
        self.rows = 0

    def add(self, row: dict) -> None:
        for name, values in self.columns.items():
            values.append(row[name])
        self.rows += 1
        if len(self.columns["id"]) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self.columns["id"]:
            self.writer.write_table(pa.Table.from_pydict(self.columns, schema=self.schema))
            self.columns = {name: [] for name in self.schema.names}

    def close(self) -> None:
        self._flush()
        self.writer.close()


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    layout = Layout(spec)
    schema = _schema(layout)
    rows_per_group = int(options.extra.get("rows_per_group", ROWS_PER_GROUP))
    splits: dict[str, _Split] = {}
    counts = {"rows": 0, "labelled": 0, "splits": {}}
    for record in records:
        row = row_of(record, layout)
        counts["labelled"] += row.get("label") is not None
        name = record.split or "export"
        if name not in splits:
            splits[name] = _Split(name, schema, output, rows_per_group)
        splits[name].add(row)
        counts["rows"] += 1
        counts["splits"][name] = counts["splits"].get(name, 0) + 1
    if not splits:
        splits["export"] = _Split("export", schema, output, rows_per_group)  # an empty table with the schema
    for split in splits.values():
        split.close()
    return counts

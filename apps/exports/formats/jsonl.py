"""Quorum JSON Lines export: `export.jsonl`, the JSON export's task objects one per line."""

from collections.abc import Iterable

import orjson

from apps.exports.formats.json_native import task_object
from apps.exports.records import Batched, Options, Output, Record

FILE_NAME = "export.jsonl"


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    handle = Batched(output.open(FILE_NAME))
    tasks = annotations = predictions = 0
    for record in records:
        handle.write(orjson.dumps(task_object(record), option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))
        tasks += 1
        annotations += len(record.annotations)
        predictions += len(record.predictions)
    handle.flush()
    return {"tasks": tasks, "annotations": annotations, "predictions": predictions}

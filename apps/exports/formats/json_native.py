"""Quorum JSON export: `export.json`, one JSON array of task objects, streamed one task at a time."""

from collections.abc import Callable, Iterable

import orjson

from apps.exports.records import Annotation, Batched, Options, Output, Record

FILE_NAME = "export.json"
_OPTIONS = orjson.OPT_SORT_KEYS


def annotation_header(annotation: Annotation | None) -> dict | None:
    """An annotation without its result (the task's `result` holds the chosen labels)."""
    if annotation is None:
        return None
    return {
        "id": annotation.id,
        "version": annotation.version,
        "author": annotation.author,
        "source": annotation.source,
        "status": annotation.status,
        "lead_time_ms": annotation.lead_time_ms,
        "created_at": annotation.created_at,
    }


def annotation_object(annotation: Annotation) -> dict:
    return {**annotation_header(annotation), "result": annotation.result}


def task_object(record: Record) -> dict:
    """The Quorum shape of one task, shared by the JSON and JSON Lines exports."""
    return {
        "id": record.task_id,
        "external_id": record.external_id,
        "data": record.data,
        "meta": record.meta,
        "split": record.split,
        "is_gold": record.is_gold,
        "result": record.result,
        "annotation": annotation_header(record.chosen),
        "annotations": [annotation_object(annotation) for annotation in record.annotations],
        "consensus": record.consensus,
        "predictions": list(record.predictions),
        "agreement": record.agreement,
    }


def write_json_array(records: Iterable[Record], to_object: Callable[[Record], dict], handle) -> dict:
    """Stream records as a JSON array, one element per line; returns the counts."""
    tasks = annotations = predictions = 0
    handle = Batched(handle)
    handle.write(b"[")
    for record in records:
        handle.write(b"\n" if not tasks else b",\n")
        handle.write(orjson.dumps(to_object(record), option=_OPTIONS))
        tasks += 1
        annotations += len(record.annotations)
        predictions += len(record.predictions)
    handle.write(b"\n]\n" if tasks else b"]\n")
    handle.flush()
    return {"tasks": tasks, "annotations": annotations, "predictions": predictions}


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    return write_json_array(records, task_object, output.open(FILE_NAME))

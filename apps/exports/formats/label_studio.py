"""Label Studio JSON export: `export.json` in Label Studio's own shape, which our importer and Label Studio read back.

Each task is `{"id", "data", "meta", "annotations", "predictions"}`, plus `external_id` when the task has one
(Label Studio ignores unknown task keys; our importer then keeps the id instead of filing Quorum's task id
under `meta.label_studio_id`). Annotations carry the author's email as `completed_by` (null for a model or an
import without a member: re-imported, those are attributed to the importing user), `ground_truth` is the
task's gold flag, `lead_time` is in seconds, and `updated_at` is the version's `created_at` (each annotation
version is immutable). A consensus result that no included annotation holds has no place in this format.
"""

from collections.abc import Iterable

from apps.exports.formats.json_native import write_json_array
from apps.exports.records import Annotation, Options, Output, Record

FILE_NAME = "export.json"


def _annotation(annotation: Annotation, is_gold: bool) -> dict:
    lead_time = None if annotation.lead_time_ms is None else annotation.lead_time_ms / 1000
    return {
        "id": annotation.id,
        "completed_by": annotation.author,
        "result": annotation.result,
        "was_cancelled": False,
        "ground_truth": is_gold,
        "created_at": annotation.created_at,
        "lead_time": lead_time,
        "updated_at": annotation.created_at,
    }


def _prediction(prediction: dict) -> dict:
    return {
        "result": prediction.get("result", []),
        "score": prediction.get("score"),
        "model_version": prediction.get("model_version") or "",
    }


def task_object(record: Record) -> dict:
    task = {
        "id": record.task_id,
        "data": record.data,
        "meta": record.meta,
        "annotations": [_annotation(annotation, record.is_gold) for annotation in record.annotations],
        "predictions": [_prediction(prediction) for prediction in record.predictions],
    }
    if record.external_id is not None:
        task["external_id"] = record.external_id
    return task


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    return write_json_array(records, task_object, output.open(FILE_NAME))

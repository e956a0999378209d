"""Model predictions: one at a time or in bulk (all or nothing), checked against the label schema."""

import math

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import ApiError

from . import signals
from .annotations import checked_result, current_schema
from .models import Prediction, Task

MAX_BULK = 10_000
MAX_MODEL_VERSION = 100


def _invalid(where: str, reason: str):
    raise ApiError(f"{where}: {reason}", details={where: [reason]})


def _score(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _invalid(where, "must be a finite number or null")
    return float(value)


def _model_version(value, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_MODEL_VERSION:
        _invalid(where, f"must be a string of at most {MAX_MODEL_VERSION} characters")
    return value


def _checked_items(items) -> list[dict]:
    """The bulk body's items, shape-checked; 400 naming the first bad item (e.g. `[3].task`)."""
    if not isinstance(items, list):
        raise ApiError('send a JSON array of {"task", "result", "score", "model_version"}',
                       details={"non_field_errors": ["expected a JSON array"]})
    if len(items) > MAX_BULK:
        raise ApiError(f"at most {MAX_BULK} predictions per request (got {len(items)})",
                       details={"non_field_errors": [f"more than {MAX_BULK} items"]})
    checked = []
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict):
            _invalid(where, 'must be an object {"task", "result", "score", "model_version"}')
        task = item.get("task")
        if isinstance(task, bool) or not isinstance(task, int) or not 1 <= task < 2**63:
            _invalid(f"{where}.task", "must be a task id")
        if "result" not in item:
            _invalid(f"{where}.result", "required")
        checked.append({"task": task, "result": item["result"], "score": _score(item.get("score"), f"{where}.score"),
                        "model_version": _model_version(item.get("model_version"), f"{where}.model_version")})
    return checked


@transaction.atomic
def prediction_create(*, task: Task, actor, result, score: float | None = None, model_version: str = "",
                      request=None) -> Prediction:
    """One prediction for a task (a prediction may be partial: required controls are not demanded)."""
    project = current_schema(task.project)
    checked_result(project, result, task.data, complete=False)
    prediction = Prediction.objects.create(
        organization_id=task.organization_id, project_id=task.project_id, task=task, result=result,
        score=_score(score, "score"), model_version=_model_version(model_version, "model_version"),
        schema_version=project.schema_version, created_at=timezone.now(),
    )
    signals.predictions_added.send(sender=Prediction, project=project, scores=[(task.pk, prediction.score)])
    record(action="predictions.create", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, data={"created": 1, "prediction": prediction.pk, "model_version": model_version or ""},
           request=request)
    return prediction


@transaction.atomic
def predictions_bulk_create(*, project, actor, items, request=None) -> int:
    """Many predictions for tasks of `project`, all or nothing: a task outside the project is a 400 naming
    the item, a result that does not fit the schema a 422 whose path starts with the item (`[3].result…`)."""
    items = _checked_items(items)
    wanted = {item["task"] for item in items}
    data = dict(Task.objects.filter(organization_id=project.organization_id, project=project, pk__in=wanted)
                .values_list("pk", "data")) if wanted else {}
    for index, item in enumerate(items):
        if item["task"] not in data:
            _invalid(f"[{index}].task", f"no task {item['task']} in this project")
    project = current_schema(project)
    for index, item in enumerate(items):
        checked_result(project, item["result"], data[item["task"]], complete=False, path=f"[{index}].result")
    now = timezone.now()
    Prediction.objects.bulk_create([
        Prediction(organization_id=project.organization_id, project_id=project.pk, task_id=item["task"],
                   result=item["result"], score=item["score"], model_version=item["model_version"],
                   schema_version=project.schema_version, created_at=now)
        for item in items
    ], batch_size=2000)
    signals.predictions_added.send(sender=Prediction, project=project,
                                   scores=[(item["task"], item["score"]) for item in items])
    model_versions = sorted({item["model_version"] for item in items})
    record(action="predictions.create", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"created": len(items), "model_versions": model_versions[:20]},
           request=request)
    return len(items)

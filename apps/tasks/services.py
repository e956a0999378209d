"""Writes of the tasks app outside the bulk import."""

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record

from .models import Task


@transaction.atomic
def task_update(*, task: Task, actor, priority: int | None = None, meta: dict | None = None, request=None) -> Task:
    changes = {}
    if priority is not None:
        task.priority, changes["priority"] = priority, priority
    if meta is not None:
        task.meta, changes["meta"] = meta, True
    task.updated_at = timezone.now()
    task.save(update_fields=["priority", "meta", "updated_at"])
    record(action="task.update", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, data={"changed": sorted(changes)}, request=request)
    return task


@transaction.atomic
def task_delete(*, task: Task, actor, request=None) -> None:
    record(action="task.delete", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, before={"data": task.data, "meta": task.meta},
           data={"project": task.project_id}, request=request)
    task.delete()

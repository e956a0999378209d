"""Writes of the tasks app outside the bulk import."""

from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import ApiError

from .models import Task
from .queue import status_sql, tasks_reopened


@transaction.atomic
def task_update(*, task: Task, actor, priority: int | None = None, meta: dict | None = None, request=None) -> Task:
    changes = {}
    if priority is not None and priority > task.priority:  # it may now come before people's queue cursors
        tasks_reopened(project_id=task.project_id, task_ids=[task.pk])
        task.refresh_from_db(fields=["reopen_seq"])
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


BULK_ACTIONS = ("delete", "set_priority", "requeue", "mark_gold")


@transaction.atomic
def tasks_bulk(*, project, actor, action: str, tasks, priority: int | None = None, request=None) -> int:
    """Act on many tasks of one project at once; returns how many tasks it touched."""
    if action == "mark_gold":
        raise ApiError("marking gold needs an answer per task: use POST /projects/{id}/gold",
                       details={"action": ["mark_gold goes through the gold route"]})
    now = timezone.now()
    ids = list(tasks.values_list("id", flat=True))
    if action == "delete":
        count = len(ids)
        Task.objects.filter(pk__in=ids).delete()
    elif action == "set_priority":
        if priority is None:
            raise ApiError("set_priority needs a priority", details={"priority": ["required"]})
        raised = list(Task.objects.filter(pk__in=ids, priority__lt=priority).values_list("id", flat=True))
        count = Task.objects.filter(pk__in=ids).update(priority=priority, updated_at=now)
        tasks_reopened(project_id=project.pk, task_ids=raised)
    else:  # requeue: ask for one more annotation than the task has
        status = status_sql(target="GREATEST(tasks_task.target_annotations, tasks_task.annotations_count + 1)")
        if connection.vendor != "postgresql":
            status = status.replace("GREATEST(", "MAX(")
        count = Task.objects.filter(pk__in=ids).update(
            target_annotations=Greatest(F("target_annotations"), F("annotations_count") + 1),
            status=RawSQL(status, []), updated_at=now,
        )
        tasks_reopened(project_id=project.pk, task_ids=ids)
    record(action=f"tasks.bulk_{action}", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"count": count, "ids": ids[:1000], "priority": priority}, request=request)
    return count

"""Writes of the tasks app outside the bulk import."""

from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import ApiError

from . import events
from .models import Task
from .queue import reopen_bump, status_sql, tasks_reopened


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
    events.progress_changed(task.project_id)


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
        greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
        status = status_sql(target=f"{greatest}(tasks_task.target_annotations, tasks_task.annotations_count + 1)")
        count = Task.objects.filter(pk__in=ids).update(
            target_annotations=Greatest(F("target_annotations"), F("annotations_count") + 1),
            status=RawSQL(status, []), updated_at=now,
        )
        tasks_reopened(project_id=project.pk, task_ids=ids)
    record(action=f"tasks.bulk_{action}", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"count": count, "ids": ids[:1000], "priority": priority}, request=request)
    if action != "set_priority":
        events.progress_changed(project.pk)
    return count


def tasks_overlap_changed(*, project, before: int, after: int) -> int:
    """The project's overlap moved from `before` to `after`: every non-gold task wants that many more (or
    fewer, never below one) annotations; tasks that now want more return to the queue. Returns the count."""
    delta = int(after) - int(before)
    if not delta:
        return 0
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's two-argument max()
    target = f"{greatest}(1, tasks_task.target_annotations + {delta})"
    qs = Task.objects.filter(project=project, is_gold=False)
    count = qs.update(target_annotations=RawSQL(target, []), status=RawSQL(status_sql(target=target), []),
                      updated_at=timezone.now())
    if delta > 0:
        seq = reopen_bump(project.pk)
        qs.filter(annotations_count__lt=F("target_annotations")).update(reopen_seq=seq)
    events.progress_changed(project.pk)
    return count

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


# --- what quality control (qa) stores on tasks: gold answers, consensus, targets, flags -------------------------


@transaction.atomic
def task_gold_set(*, task: Task, result, actor, request=None) -> Task:
    """Make a task gold with `result` as its answer (checked against the current schema). A gold task leaves
    the ordinary queue: it is served by the gold mix, outside annotation targets."""
    from .annotations import checked_result, current_schema

    project = current_schema(task.project)
    checked_result(project, result, task.data)
    before = Task.objects.select_for_update().get(pk=task.pk)
    Task.objects.filter(pk=task.pk).update(is_gold=True, gold_result=result, updated_at=timezone.now())
    record(action="task.gold_set", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, before=before.gold_result, after=result, data={"project": task.project_id},
           request=request)
    task.refresh_from_db()
    return task


@transaction.atomic
def task_gold_unset(*, task: Task, actor, request=None) -> Task:
    """An ordinary task again: it returns to the queue if it still wants annotations."""
    before = Task.objects.select_for_update().get(pk=task.pk)
    Task.objects.filter(pk=task.pk).update(is_gold=False, gold_result=None, updated_at=timezone.now())
    tasks_reopened(project_id=task.project_id, task_ids=[task.pk])
    record(action="task.gold_unset", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, before=before.gold_result, data={"project": task.project_id}, request=request)
    task.refresh_from_db()
    events.progress_changed(task.project_id)
    return task


def task_consensus_set(*, task_id: int, result, confidence: float | None, method: str,
                       agreement: float | None) -> None:
    """Store a task's consensus (its result, posterior confidence and method) and its agreement."""
    Task.objects.filter(pk=task_id).update(consensus_result=result, consensus_confidence=confidence,
                                           consensus_method=method, agreement=agreement)


def tasks_consensus_bulk(*, rows: list[tuple]) -> int:
    """Many tasks' consensus at once: rows of (task_id, result, confidence, method, agreement)."""
    import json

    from apps.orgs.rows import fetch

    count = 0
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        if connection.vendor == "postgresql":
            values = ",".join(["(%s::bigint, %s::jsonb, %s::double precision, %s, %s::double precision)"] * len(chunk))
            params = [v for task_id, result, conf, method, agr in chunk
                      for v in (task_id, json.dumps(result), conf, method, agr)]
            fetch(f"UPDATE tasks_task t SET consensus_result = v.r, consensus_confidence = v.c, "
                   f"consensus_method = v.m, agreement = v.a FROM (VALUES {values}) AS v(id, r, c, m, a) "
                   f"WHERE t.id = v.id", params)
        else:
            for task_id, result, conf, method, agr in chunk:
                task_consensus_set(task_id=task_id, result=result, confidence=conf, method=method, agreement=agr)
        count += len(chunk)
    return count


def task_target_raise(*, task_id: int, max_target: int) -> bool:
    """Dynamic overlap: ask for one more annotation, up to `max_target`; the task returns to the queue.
    Returns whether the target rose."""
    from apps.orgs.rows import fetch

    status = status_sql(target="tasks_task.target_annotations + 1")
    rows = fetch(f"UPDATE tasks_task SET target_annotations = target_annotations + 1, status = {status}, "
                  f"updated_at = %s WHERE id = %s AND target_annotations < %s AND NOT is_gold RETURNING project_id",
                  [timezone.now(), task_id, max_target])
    if not rows:
        return False
    tasks_reopened(project_id=rows[0][0], task_ids=[task_id])
    return True


def annotation_route_to_review(*, annotation) -> None:
    """Send an accepted annotation to the review queue (a quality rule routes its author's work there)."""
    from apps.orgs.rows import fetch

    from .models import Annotation

    updated = Annotation.objects.filter(pk=annotation.pk, status=Annotation.Status.ACCEPTED).update(
        status=Annotation.Status.SUBMITTED)
    if updated:
        annotation.status = Annotation.Status.SUBMITTED
        fetch(f"UPDATE tasks_task SET status = {status_sql()} WHERE id = %s", [annotation.task_id])


def flag_raise(*, project_id: int, organization_id: int, kind: str, reason: str, task_id: int | None = None,
               annotator_id: int | None = None, raised_by=None):
    """A flag for the managers, about a task or an annotator; an open flag of the same kind about the same
    thing is not raised twice."""
    from .models import Flag

    existing = Flag.objects.filter(project_id=project_id, task_id=task_id, annotator_id=annotator_id, kind=kind,
                                   resolved_at__isnull=True).first()
    if existing is not None:
        return existing
    return Flag.objects.create(organization_id=organization_id, project_id=project_id, task_id=task_id,
                               annotator_id=annotator_id, kind=kind, reason=reason, raised_by=raised_by)


def flags_raise_for_tasks(*, project, kind: str, reasons: dict[int, str]) -> int:
    """One flag of `kind` on each task of `reasons` ({task id: reason}) that has no open one yet."""
    from .models import Flag

    if not reasons:
        return 0
    flagged = set(Flag.objects.filter(project=project, kind=kind, resolved_at__isnull=True,
                                      task_id__in=list(reasons)).values_list("task_id", flat=True))
    made = Flag.objects.bulk_create([
        Flag(organization_id=project.organization_id, project_id=project.pk, task_id=task_id, kind=kind,
             reason=reason) for task_id, reason in sorted(reasons.items()) if task_id not in flagged
    ], batch_size=2000)
    return len(made)


@transaction.atomic
def flag_resolve(*, flag, actor, request=None):
    if flag.resolved_at is None:
        flag.resolved_at, flag.resolved_by = timezone.now(), actor
        flag.save(update_fields=["resolved_at", "resolved_by"])
        record(action="flag.resolve", organization=flag.organization_id, actor=actor, object_type="flag",
               object_id=flag.pk, data={"task": flag.task_id, "kind": flag.kind}, request=request)
    return flag


def queue_cursors_rewind(*, organization_id: int, user_ids) -> int:
    """Someone's routing changed (a skill or pool gained): their queue cursors may have passed tasks they could
    not take then. Their cursors start again from the head; tasks they did are still never served twice (the
    queue checks their assignments), so only the first `next` after the change reads past their history."""
    from .models import QueueCursor

    ids = sorted(set(user_ids))
    if not ids:
        return 0
    deleted, _ = QueueCursor.objects.filter(project__organization_id=organization_id, annotator_id__in=ids).delete()
    return deleted

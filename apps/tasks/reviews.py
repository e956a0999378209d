"""The review gate (review_policy all | sample): reviewers lease submitted annotations and decide.

Locks go annotation → task → review here (submit only inserts annotations, so it never waits on one).
A rejected annotation sends its task back to the queue with one more annotation wanted.
"""

import zlib
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.orgs.errors import Conflict
from apps.orgs.rows import fetch, in_list

from . import events, signals
from .annotations import checked_result
from .models import Annotation, AnnotationVersion, Review, Task
from .queue import status_sql, tasks_reopened


def _refresh_status(task_ids) -> None:
    ids = sorted(set(task_ids))
    if ids:
        where, params = in_list("id", ids)
        fetch(f"UPDATE tasks_task SET status = {status_sql()} WHERE {where}", params)


def reviews_expire(*, project_id: int, now) -> int:
    """End review leases past their expiry; their annotations wait for a reviewer again."""
    rows = fetch(
        "UPDATE tasks_review SET status = 'expired' WHERE project_id = %s AND status = 'active' AND expires_at < %s "
        "RETURNING annotation_id",
        [project_id, now],
    )
    if rows:
        task_ids = Annotation.objects.filter(pk__in=[r[0] for r in rows]).values_list("task_id", flat=True)
        _refresh_status(task_ids)
    return len(rows)


@transaction.atomic
def review_next(*, project, reviewer) -> tuple[Review, bool] | None:
    """The reviewer's active review again, or a new lease on the oldest annotation awaiting review that is
    not their own; None when nothing waits. Returns (review, created)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        fetch("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"review:{project.pk}:{reviewer.pk}".encode()) - 2**31])
    reviews_expire(project_id=project.pk, now=now)
    current = Review.objects.filter(project=project, reviewer=reviewer, status=Review.Status.ACTIVE).first()
    if current is not None:
        return current, False
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    rows = fetch(
        "SELECT a.id, a.task_id FROM tasks_annotation a WHERE a.project_id = %s AND a.status = 'submitted' "
        "AND (a.author_id IS NULL OR a.author_id <> %s) "
        "AND NOT EXISTS (SELECT 1 FROM tasks_review r WHERE r.annotation_id = a.id AND r.status = 'active') "
        f"ORDER BY a.id LIMIT 1{lock}",
        [project.pk, reviewer.pk],
    )
    if not rows:
        return None
    annotation_id, task_id = rows[0]
    review = Review.objects.create(
        organization_id=project.organization_id, project=project, annotation_id=annotation_id, reviewer=reviewer,
        leased_at=now, expires_at=now + timedelta(seconds=project.settings["lease_seconds"]),
    )
    _refresh_status([task_id])
    return review, True


@transaction.atomic
def review_decide(*, review: Review, reviewer, decision: str, comment: str = "", result=None,
                  request=None) -> Review:
    """accept | reject | fix (the reviewer's result becomes a new version, source=review)."""
    now = timezone.now()
    annotation = Annotation.objects.select_for_update().select_related("task").get(pk=review.annotation_id)
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.status == Review.Status.DECIDED:
        if review.decision == decision:
            return review  # a retried decision
        raise Conflict(f"this review was already decided: {review.decision}", code="duplicate",
                       details={"decision": review.decision})
    if annotation.status != Annotation.Status.SUBMITTED:
        raise Conflict(f"the annotation is already {annotation.status}", code="duplicate",
                       details={"annotation_status": annotation.status})
    if review.status == Review.Status.EXPIRED and Review.objects.filter(
        annotation=annotation, status=Review.Status.ACTIVE
    ).exists():
        raise Conflict("your review lease expired and another reviewer took the annotation", code="lease_expired")
    task = annotation.task
    if decision == Review.Decision.FIX:
        checked_result(annotation.project, result, task.data)
        annotation.version += 1
        annotation.result = result
        AnnotationVersion.objects.create(
            annotation=annotation, version=annotation.version, result=result,
            schema_version=annotation.project.schema_version, author=reviewer, reason="review fix",
            source=Annotation.Source.REVIEW, created_at=now,
        )
        annotation.schema_version = annotation.project.schema_version
    annotation.status = Annotation.Status.REJECTED if decision == Review.Decision.REJECT else Annotation.Status.ACCEPTED
    annotation.updated_at = now
    annotation.save(update_fields=["status", "result", "version", "schema_version", "updated_at"])
    review.status, review.decision, review.comment, review.decided_at = Review.Status.DECIDED, decision, comment, now
    review.save(update_fields=["status", "decision", "comment", "decided_at"])
    if decision == Review.Decision.REJECT and not task.is_gold:
        fetch("UPDATE tasks_task SET target_annotations = target_annotations + 1, status = 'rejected', "
               "updated_at = %s WHERE id = %s", [now, task.pk])
        tasks_reopened(project_id=task.project_id, task_ids=[task.pk])
    else:
        fetch(f"UPDATE tasks_task SET status = {status_sql()}, updated_at = %s WHERE id = %s", [now, task.pk])
    task = Task.objects.get(pk=task.pk)
    record(action="review.decide", organization=review.organization_id, actor=reviewer, object_type="annotation",
           object_id=annotation.pk, data={"review": review.pk, "decision": decision, "task": task.pk},
           request=request)
    signals.review_decided.send(sender=Review, review=review, annotation=annotation, decision=decision)
    events.review_decided(review, annotation)
    events.task_updated(task)
    return review

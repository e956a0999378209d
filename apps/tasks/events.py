"""Live messages of the tasks app (API.md "Live updates"), always sent after commit.

Managers on /ws/projects/{id}/ get task, annotation, lease and progress events (ids and counters,
never task data); annotators on /ws/me/ get their lease and review events. Progress is coalesced to
at most one message per project per second: the first change in a window sends at once, later ones
schedule a single trailing message.
"""

from django.core.cache import cache
from django.db import transaction

from apps.live.groups import user_group
from apps.live.services import broadcast, broadcast_on_commit

PROGRESS_WINDOW_SECONDS = 1


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def task_updated(task) -> None:
    broadcast_on_commit(project_group(task.project_id), {
        "type": "task.updated", "project": task.project_id, "task": task.pk, "status": task.status,
        "annotations_count": task.annotations_count, "target_annotations": task.target_annotations,
        "in_flight": task.in_flight,
    })
    progress_changed(task.project_id)


def annotation_created(annotation, task) -> None:
    broadcast_on_commit(project_group(task.project_id), {
        "type": "annotation.created", "project": task.project_id, "task": task.pk, "annotation": annotation.pk,
        "author": annotation.author_id, "status": annotation.status, "source": annotation.source,
        "annotations_count": task.annotations_count, "target_annotations": task.target_annotations,
        "task_status": task.status,
    })
    progress_changed(task.project_id)


def lease_ended(*, user_id: int, project_id: int, task_id: int, assignment_id: int, kind: str) -> None:
    """kind: "lease.expired" or "lease.revoked"."""
    message = {"type": kind, "project": project_id, "task": task_id, "assignment": assignment_id}
    broadcast_on_commit(user_group(user_id), message)
    broadcast_on_commit(project_group(project_id), message)
    progress_changed(project_id)


def leases_expired_notify(expired) -> None:
    for assignment_id, task_id, user_id, project_id in expired:
        lease_ended(user_id=user_id, project_id=project_id, task_id=task_id, assignment_id=assignment_id,
                    kind="lease.expired")


def review_decided(review, annotation) -> None:
    if annotation.author_id is None:
        return
    broadcast_on_commit(user_group(annotation.author_id), {
        "type": "review.decided", "project": annotation.project_id, "task": annotation.task_id,
        "annotation": annotation.pk, "review": review.pk, "decision": review.decision, "comment": review.comment,
    })


def task_assigned(assignment) -> None:
    broadcast_on_commit(user_group(assignment.annotator_id), {
        "type": "task.assigned", "project": assignment.project_id, "assignment": assignment.pk,
    })


def progress_changed(project_id: int) -> None:
    transaction.on_commit(lambda: _progress_soon(project_id))


def _progress_soon(project_id: int) -> None:
    if cache.add(f"tasks:progress-sent:{project_id}", 1, timeout=PROGRESS_WINDOW_SECONDS):
        progress_broadcast(project_id)
    elif cache.add(f"tasks:progress-pending:{project_id}", 1, timeout=PROGRESS_WINDOW_SECONDS * 3):
        from .tasks import progress_broadcast_task

        progress_broadcast_task.apply_async(args=[project_id], countdown=PROGRESS_WINDOW_SECONDS)


def progress_broadcast(project_id: int) -> None:
    from .progress import progress_counts

    broadcast(project_group(project_id), {"type": "progress", "project": project_id,
                                          **progress_counts(project_id=project_id)})


def progress_trailing(project_id: int) -> None:
    """The trailing message of a window (run by Celery a window after the first skipped change)."""
    cache.delete(f"tasks:progress-pending:{project_id}")
    cache.set(f"tasks:progress-sent:{project_id}", 1, timeout=PROGRESS_WINDOW_SECONDS)
    progress_broadcast(project_id)

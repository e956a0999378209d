"""Live messages of the tasks app (API.md "Live updates"), always sent after commit.

Managers on /ws/projects/{id}/ get task, annotation, lease and progress events (ids and counters,
never task data or results, whatever the organization); annotators on /ws/me/ get their lease and
review events.

Progress is coalesced to at most one message per project per second: the first change in a window
is sent at once and opens the window (cache key `sent`, holding when it was opened); later changes in
the window schedule a single trailing message for the window's end (Celery task
`tasks.progress_broadcast`, guarded by the `pending` key). Every send, immediate or trailing, must
first open a window, which is what bounds the rate; whichever send opens it covers the changes
waiting before it. A process that knows a trailing message is scheduled for the open window asks Redis nothing
for the changes it makes before that window closes.
"""

import logging
import pickle
import time

from django.core.cache import cache

from apps.live.groups import user_group
from apps.live.services import broadcast, broadcast_on_commit, call_on_commit

from .models import Task

log = logging.getLogger(__name__)

PROGRESS_WINDOW_SECONDS = 1
# A trailing message lost with its worker must not block progress for long: after this, a change
# schedules a new one.
PROGRESS_PENDING_SECONDS = 10
# The trailing message runs this long after its window closes, so that clocks a few milliseconds
# apart (web process, worker, Redis) do not find the window still open.
TRAILING_MARGIN = 0.02


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def _task_message(task) -> dict:
    return {"type": "task.updated", "project": task.project_id, "task": task.pk, "status": task.status,
            "annotations_count": task.annotations_count, "target_annotations": task.target_annotations,
            "in_flight": task.in_flight}


def task_updated(task) -> None:
    """`task` (as stored now) changed status or counters."""
    broadcast_on_commit(project_group(task.project_id), _task_message(task))
    progress_changed(task.project_id)


def task_leased(task) -> None:
    """A slot of `task` was leased (queue or pin): the first one on an untouched task makes it in_progress."""
    if task.annotations_count == 0 and task.in_flight == 1 and task.status == Task.Status.IN_PROGRESS:
        task_updated(task)


def annotation_created(annotation, task) -> None:
    """A new annotation on `task` (as stored after counting it): annotation.created and task.updated."""
    group = project_group(task.project_id)
    broadcast_on_commit(group, {
        "type": "annotation.created", "project": task.project_id, "task": task.pk, "annotation": annotation.pk,
        "author": annotation.author_id, "status": annotation.status, "source": annotation.source,
        "annotations_count": task.annotations_count, "target_annotations": task.target_annotations,
        "task_status": task.status,
    })
    broadcast_on_commit(group, _task_message(task))
    progress_changed(task.project_id)


def lease_ended(*, user_id: int, project_id: int, task_id: int, assignment_id: int, kind: str) -> None:
    """kind: "lease.expired" or "lease.revoked"; to the lease holder and the project's managers."""
    message = {"type": kind, "project": project_id, "task": task_id, "assignment": assignment_id}
    broadcast_on_commit(user_group(user_id), message)
    broadcast_on_commit(project_group(project_id), message)
    progress_changed(project_id)


def leases_expired_notify(expired) -> None:
    """`expired`: [(assignment id, task id, annotator id, project id)] ended in this transaction."""
    if not expired:
        return
    for assignment_id, task_id, user_id, project_id in expired:
        message = {"type": "lease.expired", "project": project_id, "task": task_id, "assignment": assignment_id}
        broadcast_on_commit(user_group(user_id), message)
        broadcast_on_commit(project_group(project_id), message)
    # A task whose only lease expired is new again; its other changes (in_flight) are not news.
    for task in Task.objects.filter(pk__in={row[1] for row in expired}, status=Task.Status.NEW).only(
        "id", "project_id", "status", "annotations_count", "target_annotations", "in_flight"
    ):
        broadcast_on_commit(project_group(task.project_id), _task_message(task))
    for project_id in {row[3] for row in expired}:
        progress_changed(project_id)


def review_decided(review, annotation) -> None:
    if annotation.author_id is None:
        return
    broadcast_on_commit(user_group(annotation.author_id), {
        "type": "review.decided", "project": annotation.project_id, "task": annotation.task_id,
        "annotation": annotation.pk, "review": review.pk, "decision": review.decision, "comment": review.comment,
    })


def task_assigned(assignment) -> None:
    """A manager pinned a task to someone: they are told; the task may have become in_progress."""
    broadcast_on_commit(user_group(assignment.annotator_id), {
        "type": "task.assigned", "project": assignment.project_id, "assignment": assignment.pk,
    })
    task_leased(Task.objects.get(pk=assignment.task_id))


# --- progress ----------------------------------------------------------------------------------


def _sent_key(project_id: int) -> str:
    return f"tasks:progress-sent:{project_id}"


def _pending_key(project_id: int) -> str:
    return f"tasks:progress-pending:{project_id}"


def progress_changed(project_id: int) -> None:
    """The counts of `project_id` change in this transaction: a `progress` message follows its commit (on the
    live sender's thread, once for all the changes that queued up meanwhile)."""
    call_on_commit(("progress", project_id), lambda: _progress_soon(project_id))


def _open_window(project_id: int) -> bool:
    return cache.add(_sent_key(project_id), time.time(), timeout=PROGRESS_WINDOW_SECONDS)


# _progress_soon's two cache.add() calls (and the read of when the window opened) in one round trip. Values as
# Django's Redis cache stores them (a pickled float, a bare integer), so cache.get() and cache.add() read and write
# the same keys. Answers {1} opened, {2, opened} pending set, {0, milliseconds until the window closes}.
_SOON_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then return {1} end
if redis.call('SET', KEYS[2], 1, 'EX', ARGV[3], 'NX') then return {2, redis.call('GET', KEYS[1])} end
return {0, redis.call('PTTL', KEYS[1])}
"""
_soon_script = None

# Per project, until when this process knows that a trailing message is scheduled for the window open now: a
# change before then is covered by that message (it reads the counts after the window closes, so after this
# change's commit) and costs no round trip. Only the sender thread writes it (or, with sends inline, any thread:
# a lost update costs one more round trip, nothing else).
_trailing_until: dict[int, float] = {}


def _window_or_pending(project_id: int) -> tuple[int, float | None]:
    global _soon_script
    redis = cache.redis()
    if _soon_script is None:
        _soon_script = redis.register_script(_SOON_SCRIPT)
    now = time.time()
    answer = _soon_script(keys=[cache.make_key(_sent_key(project_id)), cache.make_key(_pending_key(project_id))],
                          args=[pickle.dumps(now, pickle.HIGHEST_PROTOCOL), PROGRESS_WINDOW_SECONDS,
                                PROGRESS_PENDING_SECONDS], client=redis)
    opened = None
    if answer[0] == 2 and answer[1]:
        opened = pickle.loads(answer[1])
        _trailing_until[project_id] = opened + PROGRESS_WINDOW_SECONDS
    elif answer[0] == 0 and len(answer) > 1 and answer[1] > 0:
        _trailing_until[project_id] = now + answer[1] / 1000
    return answer[0], opened


def _trailing_soon(project_id: int, opened: float | None = None) -> None:
    """Schedule the trailing message for just after the current window closes (`opened`, if known)."""
    from .tasks import progress_broadcast_task

    if opened is None:
        opened = cache.get(_sent_key(project_id))
    left = PROGRESS_WINDOW_SECONDS if opened is None else opened + PROGRESS_WINDOW_SECONDS - time.time()
    progress_broadcast_task.apply_async(args=[project_id],
                                        countdown=min(max(left, 0.0), PROGRESS_WINDOW_SECONDS) + TRAILING_MARGIN)


def _progress_soon(project_id: int) -> None:
    try:
        if getattr(cache, "redis", None) is not None:
            if time.time() < _trailing_until.get(project_id, 0.0) - TRAILING_MARGIN:
                return  # a trailing message of the open window will carry this change too
            step, opened = _window_or_pending(project_id)
            if step == 1:
                _progress_send(project_id)
            elif step == 2:
                _trailing_soon(project_id, opened)
        elif _open_window(project_id):
            _progress_send(project_id)
        elif cache.add(_pending_key(project_id), 1, timeout=PROGRESS_PENDING_SECONDS):
            _trailing_soon(project_id)
    except Exception:  # runs after the commit: a live update must never fail the request that caused it
        log.exception("progress update of project %s failed", project_id)


def progress_trailing(project_id: int) -> None:
    """The trailing message of a window (Celery runs it at the window's end).

    If another send opened the next window first, that send covered every change waiting before it and
    cleared `pending`: nothing is left to do. If `pending` is still set, the window is still the one this
    message was scheduled for (it ran early) or changes came after that send: wait for the window's end."""
    from .tasks import progress_broadcast_task

    if _open_window(project_id):
        _progress_send(project_id)
    elif cache.get(_pending_key(project_id)) is not None:
        if progress_broadcast_task.app.conf.task_always_eager:  # no timer to wait on: send, unthrottled
            _progress_send(project_id)
        else:
            _trailing_soon(project_id)


def _progress_send(project_id: int) -> None:
    """Send the counts of a window just opened. Changes that found `pending` set until now are covered
    by the counts read after it is cleared; from now on they schedule a new trailing message."""
    cache.delete(_pending_key(project_id))
    progress_broadcast(project_id)


def progress_broadcast(project_id: int) -> None:
    from .progress import progress_counts

    broadcast(project_group(project_id), {"type": "progress", "project": project_id,
                                          **progress_counts(project_id=project_id)})

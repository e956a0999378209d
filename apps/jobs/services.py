"""Starting jobs and recording their progress and outcome; every long job goes through here."""

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.live.groups import user_group
from apps.live.services import broadcast, broadcast_on_commit

from .models import Job

log = logging.getLogger(__name__)

LOST_GRACE = dt.timedelta(seconds=60)
QUEUED_MAX_AGE = dt.timedelta(hours=24)


def job_payload(job: Job) -> dict:
    return {"id": job.pk, "kind": job.kind, "status": job.status, "progress": job.progress,
            "message": job.message, "error": job.error or None}


def _send(job: Job, event_type: str, now: bool = False) -> None:
    if job.created_by_id is None:
        return
    message = {"type": event_type, "job": job_payload(job)}
    if now:
        broadcast(user_group(job.created_by_id), message)
    else:
        broadcast_on_commit(user_group(job.created_by_id), message)


def job_start(
    *,
    organization,
    created_by,
    kind: str,
    task,
    params: dict | None = None,
    dedupe_key: str = "",
    time_limit: int | None = None,
) -> Job:
    """Create a queued Job and send `task(job_id)` to the workers once the transaction commits.

    With a `dedupe_key`, a job with the same key that is still queued or running is returned instead.
    """
    time_limit = time_limit or settings.CELERY_TASK_TIME_LIMIT
    if dedupe_key:
        existing = Job.objects.filter(
            organization=organization, dedupe_key=dedupe_key, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            job = Job.objects.create(
                organization=organization, created_by=created_by, kind=kind, params=params or {},
                dedupe_key=dedupe_key, time_limit=time_limit,
            )
    except IntegrityError:
        # A concurrent identical request won the race: join its job.
        return Job.objects.get(organization=organization, dedupe_key=dedupe_key,
                               status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    soft_limit = max(1, time_limit - 30) if time_limit > 60 else max(1, time_limit - 1)
    transaction.on_commit(
        lambda: task.apply_async(
            args=[job.pk], task_id=f"job-{job.pk}", time_limit=time_limit, soft_time_limit=soft_limit
        )
    )
    return job


def job_begin(*, job_id: int) -> Job | None:
    """Mark the job running; None when it already finished (a redelivered message is a no-op)."""
    updated = Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.RUNNING, started_at=Coalesce(F("started_at"), timezone.now()), attempts=F("attempts") + 1
    )
    if not updated:
        return None
    job = Job.objects.get(pk=job_id)
    _send(job, "job.progress", now=True)
    return job


def job_set_progress(*, job_id: int, progress: float, message: str = "") -> None:
    progress = min(1.0, max(0.0, float(progress)))
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(progress=progress, message=message[:500])
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        _send(job, "job.progress", now=True)


def job_succeed(*, job_id: int, result=None) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        status=Job.Status.SUCCEEDED, progress=1.0, result=result, finished_at=timezone.now()
    )
    _send(Job.objects.get(pk=job_id), "job.finished", now=True)


def job_fail(*, job_id: int, error: str) -> None:
    Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    )
    _send(Job.objects.get(pk=job_id), "job.finished", now=True)


def jobs_reap_stale(*, now: dt.datetime | None = None) -> int:
    """Fail jobs whose worker is gone: running past their time limit, or queued for a day."""
    now = now or timezone.now()
    reaped = 0
    running = Job.objects.filter(status=Job.Status.RUNNING, started_at__isnull=False).only(
        "id", "started_at", "time_limit"
    )
    for job in running.iterator():
        if job.started_at + dt.timedelta(seconds=job.time_limit) + LOST_GRACE < now:
            job_fail(job_id=job.pk, error="lost: the worker stopped or the time limit passed")
            reaped += 1
    for job_id in Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - QUEUED_MAX_AGE).values_list(
        "id", flat=True
    ):
        job_fail(job_id=job_id, error="never started: no worker took it within a day")
        reaped += 1
    return reaped


class JobContext:
    """What a job's code gets: its Job and a throttled progress reporter."""

    def __init__(self, job: Job):
        self.job = job
        self.id = job.pk
        self.params = job.params
        self._last_report = 0.0

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_report >= 0.25:
            self._last_report = now
            job_set_progress(job_id=self.id, progress=fraction, message=message)

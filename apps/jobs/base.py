"""The Celery task base every long job uses: Job status, progress, time limits, idempotent reruns."""

import logging

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from .services import JobContext, job_begin, job_fail, job_succeed

log = logging.getLogger(__name__)


class JobTask(Task):
    """Declare with `@shared_task(base=JobTask, name=...)`; the function receives a JobContext.

    The message carries only the job id; parameters are read from the Job row. A job that already
    finished is not run again, so a redelivered message is harmless.
    """

    abstract = True
    acks_late = True
    ignore_result = True

    def __call__(self, job_id, *args, **kwargs):
        job = job_begin(job_id=job_id)
        if job is None:
            log.info("job %s already finished; message ignored", job_id)
            return None
        context = JobContext(job)
        try:
            result = self.run(context, *args, **kwargs)
        except SoftTimeLimitExceeded:
            job_fail(job_id=job_id, error="time limit exceeded")
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed", job_id, job.kind)
            job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        job_succeed(job_id=job_id, result=result)
        return None

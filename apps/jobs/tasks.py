"""Periodic housekeeping tasks of the jobs app."""

from celery import shared_task

from .services import jobs_reap_stale
from .worker import record_worker_heartbeat


@shared_task(name="jobs.reap_stale", ignore_result=True, time_limit=120, soft_time_limit=100)
def jobs_reap_stale_task():
    return jobs_reap_stale()


@shared_task(name="jobs.worker_heartbeat", ignore_result=True, time_limit=30, soft_time_limit=20)
def worker_heartbeat_task():
    record_worker_heartbeat()

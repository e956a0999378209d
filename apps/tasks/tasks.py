"""Celery tasks of the tasks app."""

from celery import shared_task
from django.core.files.storage import default_storage

from apps.accounts.models import User
from apps.jobs.base import JobTask
from apps.projects.models import Project

from .imports import tasks_import


@shared_task(base=JobTask, name="tasks.import")
def tasks_import_task(job):
    """An upload too large to import inside its request, spooled to storage first; progress by bytes read."""
    params = job.params
    project = Project.objects.get(pk=params["project"])
    actor = User.objects.get(pk=params["actor"])
    size = max(1, int(params.get("size") or 1))
    try:
        with default_storage.open(params["path"], "rb") as stream:

            def progress(report):
                job.progress(min(0.99, stream.tell() / size),
                             f"{report.created} created, {report.duplicates} duplicates, {report.errors_total} errors")

            return tasks_import(project=project, actor=actor, stream=stream, fmt=params["format"],
                                on_duplicate=params["on_duplicate"], return_ids=params["return_ids"],
                                source="file", progress=progress)
    finally:
        default_storage.delete(params["path"])


@shared_task(name="tasks.progress_broadcast", ignore_result=True, time_limit=30, soft_time_limit=25)
def progress_broadcast_task(project_id: int):
    """The trailing progress message of a one-second window (apps.tasks.events)."""
    from .events import progress_trailing

    progress_trailing(project_id)


@shared_task(name="tasks.expire_leases", ignore_result=True, time_limit=120, soft_time_limit=110)
def expire_leases_task():
    """Beat: end leases past their expiry in every project, in batches, and say so live."""
    from .queue import leases_expire_and_notify

    return leases_expire_and_notify()

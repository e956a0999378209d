"""Celery tasks of the exports app."""

from celery import shared_task

from apps.jobs.base import JobTask


@shared_task(base=JobTask, name="exports.run")
def export_run_task(job):
    """POST /projects/{id}/exports: write a snapshot in one format into storage."""
    from .models import Export
    from .services import export_failed, export_run

    export = Export.objects.select_related("snapshot", "project").get(pk=job.params["export"])
    try:
        return export_run(export=export, progress=job.progress)
    except Exception as exc:
        export_failed(export_id=export.pk, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(base=JobTask, name="exports.snapshot")
def snapshot_create_task(job):
    """POST /projects/{id}/snapshots for a large project."""
    from apps.accounts.models import User
    from apps.projects.models import Project

    from .snapshots import snapshot_create

    params = job.params
    snapshot = snapshot_create(project=Project.objects.get(pk=params["project"]),
                               actor=User.objects.filter(pk=params.get("actor")).first(), filter=params["filter"],
                               split=params["split"], seed=params["seed"], stratify=params["stratify"],
                               include_gold=params["include_gold"])
    return {"snapshot": snapshot.pk, "checksum": snapshot.checksum, "counts": snapshot.counts}

"""Celery tasks of the qa app."""

from celery import shared_task

from apps.jobs.base import JobTask
from apps.projects.models import Project

from .project_consensus import consensus_project


@shared_task(base=JobTask, name="qa.consensus")
def consensus_project_task(job):
    """POST /projects/{id}/consensus: the whole project's consensus, Dawid-Skene or majority vote."""
    project = Project.objects.get(pk=job.params["project"])
    return consensus_project(project=project, method=job.params.get("method", "auto"), progress=job.progress)


@shared_task(name="qa.refresh_annotators", ignore_result=True, time_limit=600, soft_time_limit=570)
def refresh_annotators_task():
    """Beat: median work times and outlier flags for the projects that had work in the last minutes."""
    from .outliers import projects_refresh

    return projects_refresh()

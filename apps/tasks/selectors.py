"""Reads of the tasks app, always through the caller's tenancy."""

from django.db.models import Exists, OuterRef

from apps.orgs.errors import NotFound
from apps.orgs.roles import READERS, REVIEWERS
from apps.orgs.tenancy import Tenancy
from apps.projects.selectors import projects_visible

from .models import Annotation, Prediction, Task


def tasks_visible(*, tenancy: Tenancy, project=None):
    """Managers, owners and viewers: every task of the projects they see; reviewers: the tasks of the
    projects open to them; annotators: only tasks leased to them (the queue of #4 adds those)."""
    projects = projects_visible(tenancy=tenancy)
    qs = Task.objects.filter(organization=tenancy.organization, project__in=projects.values("pk"))
    if project is not None:
        qs = qs.filter(project=project)
    if tenancy.role in READERS or tenancy.role in REVIEWERS:
        return qs
    return qs.none()


def access_task(*, tenancy: Tenancy, task_id) -> Task:
    task = tasks_visible(tenancy=tenancy).select_related("project").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    return task


def filter_tasks(qs, filters: dict):
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("is_gold") is not None:
        qs = qs.filter(is_gold=filters["is_gold"])
    if filters.get("has_prediction") is not None:
        has = Exists(Prediction.objects.filter(task=OuterRef("pk")))
        qs = qs.filter(has) if filters["has_prediction"] else qs.exclude(has)
    if filters.get("annotator"):
        qs = qs.filter(Exists(Annotation.objects.filter(task=OuterRef("pk"), author__memberships=filters["annotator"])))
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    return qs

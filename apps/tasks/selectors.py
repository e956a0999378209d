"""Reads of the tasks app, always through the caller's tenancy."""

import json
import re

from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from apps.orgs.errors import NotFound
from apps.orgs.roles import MANAGERS, READERS, REVIEWERS
from apps.orgs.rows import columns, fetch
from apps.orgs.tenancy import Tenancy
from apps.projects.models import Project
from apps.projects.selectors import projects_visible

from .models import Annotation, AnnotationVersion, Assignment, Prediction, Task


def tasks_visible(*, tenancy: Tenancy, project=None):
    """Managers, owners and viewers: every task of the projects they see; reviewers: the tasks of the
    projects open to them; annotators: only the tasks they hold or held an assignment on."""
    projects = projects_visible(tenancy=tenancy)
    qs = Task.objects.filter(organization=tenancy.organization, project__in=projects.values("pk"))
    if project is not None:
        qs = qs.filter(project=project)
    if tenancy.role in READERS or tenancy.role in REVIEWERS:
        return qs
    return qs.filter(Exists(Assignment.objects.filter(task=OuterRef("pk"), annotator=tenancy.user)
                            .exclude(status=Assignment.Status.PINNED)))


def annotations_visible(*, tenancy: Tenancy, project=None):
    """Readers and reviewers: the annotations of the projects they see; annotators: their own."""
    projects = projects_visible(tenancy=tenancy)
    qs = Annotation.objects.filter(organization=tenancy.organization, project__in=projects.values("pk"))
    if project is not None:
        qs = qs.filter(project=project)
    if tenancy.role in READERS or tenancy.role in REVIEWERS:
        return qs
    return qs.filter(author=tenancy.user)


def access_annotation(*, tenancy: Tenancy, annotation_id) -> Annotation:
    annotation = (annotations_visible(tenancy=tenancy).select_related("project", "task", "author")
                  .filter(pk=annotation_id).first())
    if annotation is None:
        raise NotFound("no such annotation")
    return annotation


def access_assignment(*, tenancy: Tenancy, assignment_id, own: bool = True) -> Assignment:
    """An assignment of the caller's (or, with own=False, any a manager may see in their projects)."""
    if own or tenancy.role not in MANAGERS:
        # The holder's own lease: granted when `next` leased it (checking project access again here would
        # cost the hot submit path a guardian lookup for nothing). The submit path: one hand-written statement.
        a, p, t = columns(Assignment, "a"), columns(Project, "p"), columns(Task, "t")
        rows = fetch(f"SELECT {a.sql}, {p.sql}, {t.sql} FROM tasks_assignment a "
                     f"JOIN projects_project p ON p.id = a.project_id JOIN tasks_task t ON t.id = a.task_id "
                     f"WHERE a.id = %s AND a.organization_id = %s AND a.annotator_id = %s AND p.deleted_at IS NULL",
                     [int(assignment_id), tenancy.organization.pk, tenancy.user.pk])
        if not rows:
            raise NotFound("no such assignment")
        assignment = a.build(rows[0])
        assignment.project, assignment.task = p.build(rows[0], a.width), t.build(rows[0], a.width + p.width)
        return assignment
    assignment = (Assignment.objects.select_related("project", "task")
                  .filter(organization=tenancy.organization, pk=assignment_id,
                          project__in=projects_visible(tenancy=tenancy).values("pk"))
                  .first())
    if assignment is None:
        raise NotFound("no such assignment")
    return assignment


def best_predictions(task_id: int) -> list[Prediction]:
    """The task's predictions, best first (highest score; unscored last); every `next` asks."""
    cols = columns(Prediction, "r")
    found = [cols.build(row) for row in fetch(f"SELECT {cols.sql} FROM tasks_prediction r WHERE r.task_id = %s",
                                              [task_id])]
    return sorted(found, key=lambda p: (p.score is None, -(p.score or 0), p.pk))


def access_task(*, tenancy: Tenancy, task_id) -> Task:
    if tenancy.role in READERS:
        # Every task of the organization's live projects (tasks_visible's rule for them); the attach path.
        t, p = columns(Task, "t"), columns(Project, "p")
        rows = fetch(f"SELECT {t.sql}, {p.sql} FROM tasks_task t JOIN projects_project p ON p.id = t.project_id "
                     f"WHERE t.id = %s AND t.organization_id = %s AND p.organization_id = %s "
                     f"AND p.deleted_at IS NULL", [int(task_id), tenancy.organization.pk, tenancy.organization.pk])
        if not rows:
            raise NotFound("no such task")
        task = t.build(rows[0])
        task.project = p.build(rows[0], t.width)
        return task
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
    if filters.get("agreement_lt") is not None:
        qs = qs.filter(agreement__lt=filters["agreement_lt"])
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    return qs


def access_review(*, tenancy: Tenancy, review_id):
    """A review the caller holds (managers: any review in the projects they see)."""
    from .models import Review

    qs = Review.objects.select_related("annotation", "project").filter(
        organization=tenancy.organization, pk=review_id,
        project__in=projects_visible(tenancy=tenancy).values("pk"),
    )
    if tenancy.role not in MANAGERS:
        qs = qs.filter(reviewer=tenancy.user)
    review = qs.first()
    if review is None:
        raise NotFound("no such review")
    return review


def annotation_versions(*, annotation: Annotation):
    """Every state of an annotation the caller may see (fetched with access_annotation), oldest first."""
    return AnnotationVersion.objects.select_related("author").filter(annotation=annotation).order_by("version")


def media_in_own_tasks(*, tenancy: Tenancy, media) -> bool:
    """Whether a task of the media's project that the caller holds or held an assignment on (not a mere pin)
    names the media in its data, by its storage key or by its /api/v1/media/{id} URL.

    A containment test on the data's JSON text, limited to the caller's own assignments in that project."""
    url = reverse("media-file", kwargs={"media_id": media.pk})
    key_forms = {json.dumps(media.key)[1:-1], json.dumps(media.key, ensure_ascii=False)[1:-1]}
    refers = Q(data_text__regex=rf"{re.escape(url.rstrip('/'))}([^0-9]|$)")
    for form in key_forms:
        refers |= Q(data_text__contains=form)
    return (Assignment.objects.filter(organization=tenancy.organization, project_id=media.project_id,
                                      annotator=tenancy.user)
            .exclude(status=Assignment.Status.PINNED)
            .annotate(data_text=Cast("task__data", TextField()))
            .filter(refers).exists())

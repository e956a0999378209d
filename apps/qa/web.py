"""Pages of the qa app: the reviewer view (the review queue of a project, beside the other annotators' work
and the consensus) and a project's quality page. Data comes from the REST API in static/js/manage/."""

from django.db.models import Count
from django.shortcuts import render

from apps.orgs.manage_web import page_context, page_for
from apps.orgs.roles import READERS, REVIEWERS
from apps.projects.models import Project
from apps.projects.selectors import projects_visible
from apps.projects.web import project_for_page, project_page_context
from apps.tasks.models import Annotation, Review

from .models import QualityRule


@page_for(REVIEWERS, section="review")
def review_projects(request, tenancy):
    """The projects I may review, with how many annotations wait for a reviewer in each."""
    projects = list(projects_visible(tenancy=tenancy).exclude(status=Project.Status.ARCHIVED).order_by("name"))
    ids = [p.pk for p in projects]
    waiting = dict(Annotation.objects.filter(project_id__in=ids, status=Annotation.Status.SUBMITTED)
                   .values_list("project_id").annotate(n=Count("id")).values_list("project_id", "n"))
    mine = dict(Review.objects.filter(project_id__in=ids, reviewer=tenancy.user, status=Review.Status.DECIDED)
                .values_list("project_id").annotate(n=Count("id")).values_list("project_id", "n"))
    rows = [{"project": p, "mode": (p.settings.get("review_policy") or {}).get("mode", "none"),
             "waiting": waiting.get(p.pk, 0), "decided_by_me": mine.get(p.pk, 0)} for p in projects]
    rows.sort(key=lambda row: (row["mode"] == "none" and not row["waiting"], row["project"].name))
    return render(request, "reviews/projects.html", page_context(tenancy, rows=rows))


@page_for(REVIEWERS, section="review")
def review_project(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    schema = project.current_schema
    return render(request, "reviews/review.html", page_context(
        tenancy, project=project, spec=schema.spec if schema else {"data": {}, "controls": {}},
        review_config={"project": project.pk, "media": "/app/tasks/TASK/media/FIELD/"}))


@page_for(READERS, section="projects")
def project_quality(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    rules = QualityRule.objects.filter(project=project).order_by("id")
    return render(request, "qa/manage_quality.html", project_page_context(tenancy, project, "quality", rules=rules))

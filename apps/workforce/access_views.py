"""HTTP API of the workforce's access: `GET /me/projects`, the projects open to the caller with their progress."""

from django.db.models import Count, Sum
from django.urls import re_path
from drf_spectacular.utils import extend_schema

from apps.orgs.api import OrgAPIView
from apps.orgs.pagination import CursorPage
from apps.orgs.roles import EVERYONE, WORKERS
from apps.projects.models import Project
from apps.projects.selectors import projects_visible
from apps.tasks import eligibility
from apps.tasks.models import Annotation, Assignment, ProgressCounter
from apps.tasks.progress import OPEN_STATUSES

from .access import prefetch_today, submitted_today
from .access_serializers import MyProjectSerializer


def _remaining(project_ids) -> dict[int, tuple[int, int]]:
    """{project id: (open tasks, annotations still needed)} from the progress counters, one query."""
    rows = (ProgressCounter.objects.filter(project_id__in=project_ids, status__in=OPEN_STATUSES)
            .values("project_id").annotate(tasks=Sum("tasks"), targets=Sum("targets"), done=Sum("annotations")))
    return {row["project_id"]: (row["tasks"] or 0, max(0, (row["targets"] or 0) - (row["done"] or 0)))
            for row in rows}


def _blocked(project, user, role) -> dict | None:
    if role not in WORKERS:
        return {"code": "permission_denied", "message": f"the {role} role does not annotate", "until": None}
    if project.status != Project.Status.ACTIVE:
        return {"code": "project_paused", "message": f"the project is {project.status}", "until": None}
    # The same question `next` asks: suspensions, daily caps, exams and whatever else plugs in.
    refusal = eligibility.refusal(project=project, user=user)
    if refusal is None:
        return None
    return {"code": refusal.code, "message": refusal.message, "until": refusal.until}


class MyProjectsView(OrgAPIView):
    """GET /me/projects: the projects open to the caller (managers and viewers: all), with their own progress
    and whether they may start now."""

    roles = {"GET": EVERYONE}
    pagination_class = CursorPage  # also tells the schema generator the list is paginated

    @extend_schema(responses=MyProjectSerializer(many=True))
    def get(self, request):
        user, role = request.user, self.tenancy.role
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            projects_visible(tenancy=self.tenancy).only("id", "name", "status", "settings", "organization_id"),
            request, view=self)
        ids = [project.pk for project in page]
        remaining = _remaining(ids)
        today = submitted_today(project_ids=ids, user=user)
        totals = dict(Annotation.objects.filter(project_id__in=ids, author_id=user.pk,
                                                assignment__kind=Assignment.Kind.QUEUE)
                      .values("project_id").annotate(n=Count("id")).values_list("project_id", "n"))
        prefetch_today(user=user, counts=today)
        rows = []
        for project in page:
            blocked = _blocked(project, user, role)
            tasks_left, annotations_left = remaining.get(project.pk, (0, 0))
            rows.append({
                "id": project.pk, "name": project.name, "status": project.status,
                "progress": {"tasks_remaining": tasks_left, "annotations_remaining": annotations_left,
                             "annotations_today": today.get(project.pk, 0),
                             "annotations_total": totals.get(project.pk, 0),
                             "daily_cap": (project.settings or {}).get("daily_cap")},
                "can_start": blocked is None, "blocked": blocked,
            })
        return paginator.get_paginated_response(MyProjectSerializer(rows, many=True).data)


urlpatterns = [
    re_path(r"^me/projects/?$", MyProjectsView.as_view(), name="me-projects"),
]

"""Browser pages of the annotator workspace: "my projects", the labeling view, and task media by storage key.

The pages are server-rendered shells; static/js/workspace/ talks to the REST API (next, submit, skip, draft,
heartbeat) with the session, so the browser and a pipeline go through the same services.
"""

import posixpath

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from rest_framework.exceptions import APIException

from apps.orgs.roles import MANAGERS, WORKERS
from apps.orgs.web import require_tenancy
from apps.projects.instructions import render_instructions
from apps.projects.models import Project
from apps.projects.selectors import access_project, projects_visible

from .models import Media
from .selectors import access_task


@login_required
def my_projects(request):
    """/app/: the projects open to me; the JS adds my progress from GET /api/v1/me/projects."""
    request.nav_section = "projects_mine"
    tenancy = require_tenancy(request)
    projects = projects_visible(tenancy=tenancy).exclude(status=Project.Status.ARCHIVED).order_by("name")
    return render(request, "tasks/my_projects.html", {
        "projects": projects.only("id", "name", "status"),
        "can_label": tenancy.role in WORKERS,
        "is_manager": tenancy.role in MANAGERS,
    })


@login_required
def label(request, project_id):
    """/app/label/<id>/: the labeling view; another organization's project, or one not open to me, is a 404."""
    request.nav_section = "projects_mine"
    tenancy = require_tenancy(request)
    try:
        project = access_project(tenancy=tenancy, project_id=project_id)
    except APIException as exc:
        raise Http404("no such project") from exc
    if tenancy.role not in WORKERS:
        raise Http404("your role does not annotate")
    schema = project.current_schema
    settings = project.settings or {}
    return render(request, "tasks/label.html", {
        "project": project,
        "spec": schema.spec if schema else {"data": {}, "controls": {}},
        "workspace": {
            "project": project.pk,
            "name": project.name,
            "lease_seconds": settings.get("lease_seconds"),
            "gold_feedback": bool(settings.get("gold_feedback")),
            "api": "/api/v1/",
            "media": reverse("web-task-media", kwargs={"task_id": 0, "field": "FIELD"}),
            "home": reverse("web-home"),
        },
        "instructions_html": render_instructions(project.instructions or ""),
    })


@login_required
def task_media(request, task_id, field):
    """The image or audio a task names by storage key (demo data, synced buckets): one of the project's media
    files goes through GET /api/v1/media/{id} (which checks access again); a bare key is served when it lies
    under the project's prefix or the demo fixtures. URLs in task data are used by the browser directly."""
    tenancy = require_tenancy(request)
    try:
        task = access_task(tenancy=tenancy, task_id=task_id)
    except APIException as exc:
        raise Http404("no such task") from exc
    value = (task.data or {}).get(field)
    if not isinstance(value, str) or not value:
        raise Http404("no such media")
    if value.startswith(("http://", "https://", "/")):
        return redirect(value)
    media = Media.objects.filter(organization=tenancy.organization, project_id=task.project_id, key=value).first()
    if media is not None:
        return redirect(reverse("media-file", kwargs={"media_id": media.pk}))
    key = posixpath.normpath(value)
    if key != value or not key.startswith((f"projects/{task.project_id}/", "demo/")) or not default_storage.exists(key):
        raise Http404("no such media")
    response = FileResponse(default_storage.open(key, "rb"), filename=posixpath.basename(key))
    response["Content-Disposition"] = f'inline; filename="{posixpath.basename(key)}"'
    response["Cache-Control"] = "private, max-age=300"
    return response

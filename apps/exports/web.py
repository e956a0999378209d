"""Manager page of the exports app: start an export (format, filter, split), follow its progress, download
it through its signed URL, and the project's frozen snapshots. The JS uses the exports API. Also the import
page's upload endpoint (see project_import_upload), here because this app may import every other."""

from django.shortcuts import render
from django.views.decorators.http import require_POST

from apps.orgs.manage_web import page_for
from apps.orgs.roles import MANAGERS
from apps.projects.web import project_for_page, project_page_context
from apps.tasks.views import ProjectImportView

from .formats import FORMATS
from .models import DatasetSnapshot


@page_for(MANAGERS, section="projects")
def project_exports(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    return render(request, "exports/manage_exports.html", project_page_context(
        tenancy, project, "exports", formats=sorted(FORMATS), filters=DatasetSnapshot.Filter.choices))


@require_POST
@page_for(MANAGERS, section="projects")
def project_import_upload(request, tenancy, project_id):
    """The import page's upload: POST /api/v1/projects/{id}/import itself, reached through a page URL.

    Called with a session, the API view's CSRF check reads request.POST through DRF's parsers, which have none
    for multipart (the view reads the upload itself), so a browser upload there fails with 415. Here Django's
    CSRF middleware has checked the token (X-CSRFToken) before the view runs, so the API view is told not
    to check again; it does everything else (project access, role, format, size limit, job for large files)."""
    request._dont_enforce_csrf_checks = True
    return ProjectImportView.as_view()(request, project_id=project_id)

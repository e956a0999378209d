"""Manager page of the exports app: start an export (format, filter, split), follow its progress, download
it through its signed URL, and the project's frozen snapshots. The JS uses the exports API."""

from django.shortcuts import render

from apps.orgs.manage_web import page_for
from apps.orgs.roles import MANAGERS
from apps.projects.web import project_for_page, project_page_context

from .formats import FORMATS
from .models import DatasetSnapshot


@page_for(MANAGERS, section="projects")
def project_exports(request, tenancy, project_id):
    project = project_for_page(tenancy, project_id)
    return render(request, "exports/manage_exports.html", project_page_context(
        tenancy, project, "exports", formats=sorted(FORMATS), filters=DatasetSnapshot.Filter.choices))

"""Manager pages of the workforce app: annotators (status, skills, pools), pools, skills, exams and the pay
ledger with statements, and one annotator's page. The JS uses the /workforce/ API."""

from django.shortcuts import render

from apps.orgs.manage_web import found_or_404, page_context, page_for
from apps.orgs.roles import MANAGERS

from .profiles import access_annotator


@page_for(MANAGERS, section="workforce")
def workforce(request, tenancy):
    return render(request, "workforce/manage_workforce.html", page_context(tenancy))


@page_for(MANAGERS, section="workforce")
def annotator(request, tenancy, member_id):
    membership = found_or_404(access_annotator, tenancy=tenancy, membership_id=member_id)
    return render(request, "workforce/manage_annotator.html", page_context(tenancy, member=membership))

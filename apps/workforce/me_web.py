"""Browser pages of an annotator's own numbers: my stats and my earnings (data from /api/v1/me/stats, /me/earnings)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.orgs.web import require_tenancy


@login_required
def my_stats(request):
    request.nav_section = "stats"
    require_tenancy(request)
    return render(request, "workforce/me_stats.html")


@login_required
def my_earnings(request):
    request.nav_section = "earnings"
    require_tenancy(request)
    return render(request, "workforce/me_earnings.html")

"""Manager pages of the orgs app (API tokens, the audit log) and the role check every manager page uses.

A page acts in the session's active organization (orgs.web.page_tenancy), as the API does. Who may open a
page is decided before any object is fetched: anonymous visitors go to the sign-in page, a signed-in user
without an active organization gets 404, a role the page is not for gets 403; then an object of another
organization, or one the caller may not see, is 404.
"""

from datetime import datetime, time
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.exceptions import APIException

from apps.audit.selectors import audit_events

from .roles import MANAGERS, Role, role_covers
from .tenancy import Tenancy
from .web import require_tenancy

AUDIT_PAGE_SIZE = 50


def page_for(roles, *, section: str):
    """Decorate a page view `view(request, tenancy, **kwargs)` open to `roles` of the active organization;
    `section` is the main navigation entry it lights (base.html)."""

    def decorate(view):
        @login_required
        @ensure_csrf_cookie  # the pages' JS sends it as X-CSRFToken
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            tenancy = require_tenancy(request)
            request.nav_section = section
            if tenancy.role not in roles:
                raise PermissionDenied(f"the {tenancy.role} role may not open this page")
            return view(request, tenancy, *args, **kwargs)

        return wrapper

    return decorate


def found_or_404(fetch, **kwargs):
    """Call an access function (`access_project(tenancy=…, project_id=…)`); its NotFound becomes a page 404."""
    try:
        return fetch(**kwargs)
    except APIException as exc:
        if getattr(exc, "status_code", None) == 404:
            raise Http404(str(exc)) from exc
        raise


def page_context(tenancy: Tenancy, **extra) -> dict:
    return {"tenancy": tenancy, "organization": tenancy.organization, "role": tenancy.role, **extra}


@page_for(frozenset(Role.values), section="tokens")
def tokens(request, tenancy):
    """Everyone manages their own tokens; managers and owners see and revoke the organization's."""
    grantable = [(value, label) for value, label in Role.choices if role_covers(tenancy.role, value)]
    return render(request, "orgs/manage_tokens.html", page_context(
        tenancy, grantable_roles=grantable, sees_all=tenancy.role in MANAGERS))


def _moment(text: str):
    """A date or date-time typed into a filter (the browser's date/datetime-local inputs), made aware."""
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


AUDIT_FILTERS = ("action_prefix", "object_type", "object_id", "actor_id", "since", "until")


@page_for(MANAGERS, section="audit")
def audit_log(request, tenancy):
    filters, errors = {}, {}
    for name in AUDIT_FILTERS:
        value = request.GET.get(name, "").strip()
        if value:
            filters[name] = value
    if "actor_id" in filters and not filters["actor_id"].isdigit():
        errors["actor_id"] = "an actor id is a number"
        filters.pop("actor_id")
    for name in ("since", "until"):
        if name in filters:
            parsed = _moment(filters[name])
            if parsed is None:
                errors[name] = "a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM"
                filters.pop(name)
            else:
                filters[name] = parsed
    events = audit_events(organization_id=tenancy.organization.pk, filters=filters).order_by("-id")
    page = Paginator(events.select_related("actor"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "orgs/manage_audit.html", page_context(
        tenancy, page=page, values={name: request.GET.get(name, "") for name in AUDIT_FILTERS},
        errors=errors, query=query.urlencode()))

"""Reads of the projects app, always through the caller's tenancy."""

from django.db.models import Q
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user

from apps.orgs.errors import NotFound
from apps.orgs.roles import READERS
from apps.orgs.rows import columns, fetch
from apps.orgs.tenancy import Tenancy

from . import access as access_rules
from .models import LabelSchemaVersion, Project


def projects_visible(*, tenancy: Tenancy):
    """Managers, owners and viewers see every project; reviewers and annotators those open to them.

    Open = not archived, and either open to every member (no pools, no skill filter in
    settings.access) or granted to the person with django-guardian's `projects.work_on_project`.
    """
    qs = Project.objects.filter(organization=tenancy.organization, deleted_at__isnull=True)
    if tenancy.role in READERS:
        return qs
    granted = get_objects_for_user(
        tenancy.user, "projects.work_on_project", klass=qs, accept_global_perms=False
    ).values("pk")
    open_to_all = Q(settings__access__pools=[]) & Q(settings__access__skill_filter="")
    live = qs.exclude(status=Project.Status.ARCHIVED)
    # Restricted projects the access rules open (pools, skill filters): asked per project, in Python, since
    # a skill filter is an expression; an organization has tens of projects, not millions.
    opened = [p.pk for p in live.exclude(open_to_all).exclude(pk__in=granted)
              if access_rules.opened_by_rules(user=tenancy.user, project=p)]
    return live.filter(open_to_all | Q(pk__in=granted) | Q(pk__in=opened))


def access_project(*, tenancy: Tenancy, project_id) -> Project:
    """One project the caller may see (the rule of `projects_visible`), else 404; the hot path of `next`
    and submit, so it asks guardian only for projects not open to everyone."""
    cols = columns(Project, "p")
    rows = fetch(f"SELECT {cols.sql} FROM {Project._meta.db_table} p WHERE p.id = %s AND p.organization_id = %s "
                 f"AND p.deleted_at IS NULL", [int(project_id), tenancy.organization.pk])
    project = cols.build(rows[0]) if rows else None
    if project is None or (tenancy.role not in READERS and not _open_to(tenancy.user, project)):
        raise NotFound("no such project")
    return project


def _open_to(user, project: Project) -> bool:
    if project.status == Project.Status.ARCHIVED:
        return False
    access = project.settings.get("access") or {}
    if access.get("pools") == [] and access.get("skill_filter") == "":
        return True
    return (ObjectPermissionChecker(user).has_perm("work_on_project", project)
            or access_rules.opened_by_rules(user=user, project=project))


def schema_versions(*, project: Project):
    return LabelSchemaVersion.objects.filter(project=project).order_by("-version")

"""Reads of the jobs app."""

from apps.orgs.errors import NotFound
from apps.orgs.roles import MANAGERS
from apps.orgs.tenancy import Tenancy

from .models import Job


def jobs_visible(*, tenancy: Tenancy):
    """Managers see the organization's jobs; everyone else the jobs they started."""
    qs = Job.objects.filter(organization=tenancy.organization)
    if tenancy.role not in MANAGERS:
        qs = qs.filter(created_by=tenancy.user)
    return qs


def access_job(*, tenancy: Tenancy, job_id) -> Job:
    job = jobs_visible(tenancy=tenancy).filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such job")
    return job

"""The organization every benchmark works in, created on first use in the bench database."""

from django.core.management import call_command

from apps.accounts.services import user_create
from apps.orgs.models import Organization
from apps.orgs.services import organization_create


def bench_organization():
    """Migrate the bench database and return (organization `bench`, its owner)."""
    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug="bench").first()
    if org is None:
        owner = user_create(email="owner@bench.test", password="bench-password-1")
        org = organization_create(slug="bench", name="Bench", owner=owner)
    return org, org.memberships.get(role="owner").user

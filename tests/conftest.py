"""Shared fixtures: two organizations with one member per role, and API clients acting as them."""

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from apps.orgs.models import Membership, Organization
from apps.orgs.roles import Role
from apps.orgs.services import token_create

from .factories import MembershipFactory, OrganizationFactory

ROLES = [Role.OWNER, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR, Role.VIEWER]


@dataclass
class Tenant:
    org: Organization
    members: dict[str, Membership] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def member(self, role) -> Membership:
        return self.members[str(role)]

    def user(self, role):
        return self.members[str(role)].user


def make_tenant(slug: str, *, phi: bool = False) -> Tenant:
    org = OrganizationFactory(slug=slug, name=slug.title(), phi=phi)
    tenant = Tenant(org=org)
    for role in ROLES:
        membership = MembershipFactory(organization=org, role=role, user__email=f"{role}@{slug}.test")
        tenant.members[str(role)] = membership
        _, secret = token_create(
            organization=org, actor=membership.user, actor_role=role, name=f"{role} token", role=role
        )
        tenant.secrets[str(role)] = secret
    return tenant


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("acme")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("globex")


@pytest.fixture
def api_client():
    return APIClient()


def token_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def as_role(tenant):
    """`as_role("manager")` → an APIClient using that member's API token."""

    def make(role) -> APIClient:
        return token_client(tenant.secrets[str(role)])

    return make


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture(scope="module")
def own_celery_queue():
    """Messages the module's work schedules (e.g. trailing progress) go to a queue of this process, deleted
    afterwards, so no worker of another test run takes them and none are left behind in Redis."""
    import os

    import redis
    from django.conf import settings

    from config.celery import app as celery_app

    queue = f"quorum-tests-{os.getpid()}-{id(object())}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        celery_app.conf.task_default_queue = previous
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")

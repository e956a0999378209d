"""Every /api/v1/ route, walked with another organization's ids, answers 404 and leaks nothing.

Routes come from the OpenAPI schema, so routes that later issues add are covered automatically;
a new route with a path parameter fails here until it gets an id source below.
"""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.exports.models import DatasetSnapshot, Export
from apps.jobs.models import Job
from apps.orgs.models import ApiToken
from apps.projects.services import project_create
from apps.qa.models import QualityRule, RuleFiring, Suspension
from apps.tasks.models import Annotation, Assignment, Flag, Media, Review, Task
from apps.workforce.models import (
    Appeal,
    BonusRule,
    Exam,
    LedgerEntry,
    OnboardingLink,
    Pool,
    PromotionProposal,
    PromotionRule,
    Skill,
)

from .conftest import make_tenant, session_client, token_client

# Path parameter → how to get the other organization's object for it (by route prefix).
ID_SOURCES = {
    "/api/v1/projects/{project_id}/gold/{task_id}/": lambda other: (other.project.pk, other.task.pk),
    "/api/v1/orgs/{slug}/": lambda other: other.org.slug,
    "/api/v1/members/{id}/": lambda other: other.member("annotator").pk,
    "/api/v1/tokens/{id}/": lambda other: ApiToken.objects.filter(organization=other.org).first().pk,
    "/api/v1/jobs/{id}/": lambda other: other.job.pk,
    "/api/v1/projects/{id}/": lambda other: other.project.pk,
    "/api/v1/projects/{project_id}/": lambda other: other.project.pk,
    "/api/v1/tasks/{id}/": lambda other: other.task.pk,
    "/api/v1/media/{media_id}/": lambda other: other.media.pk,
    "/api/v1/tasks/{task_id}/": lambda other: other.task.pk,
    "/api/v1/assignments/{assignment_id}/": lambda other: other.assignment.pk,
    "/api/v1/annotations/{annotation_id}/": lambda other: other.annotation.pk,
    "/api/v1/reviews/{review_id}/": lambda other: other.review.pk,
    "/api/v1/quality-rules/{rule_id}/": lambda other: other.rule.pk,
    "/api/v1/rule-firings/{firing_id}/": lambda other: other.firing.pk,
    "/api/v1/suspensions/{suspension_id}/": lambda other: other.suspension.pk,
    "/api/v1/flags/{flag_id}/": lambda other: other.flag.pk,
    "/api/v1/workforce/skills/{skill_id}/": lambda other: Skill.objects.get_or_create(
        organization=other.org, name="cross-tenant")[0].pk,
    "/api/v1/workforce/pools/{pool_id}/": lambda other: Pool.objects.get_or_create(
        organization=other.org, name="cross-tenant")[0].pk,
    "/api/v1/workforce/annotators/{member_id}/": lambda other: other.member("annotator").pk,
    "/api/v1/workforce/onboarding-links/{link_id}/": lambda other: OnboardingLink.objects.get_or_create(
        organization=other.org, key_hash=f"cross-tenant-{other.org.slug}",
        defaults={"expires_at": timezone.now() + timedelta(days=1)})[0].pk,
    "/api/v1/workforce/exams/{exam_id}/": lambda other: Exam.objects.get_or_create(
        organization=other.org, project=other.project, name="cross-tenant")[0].pk,
    "/api/v1/workforce/appeals/{appeal_id}/": lambda other: Appeal.objects.get_or_create(
        organization=other.org, suspension=other.suspension, annotator=other.user("annotator"),
        defaults={"message": "please"})[0].pk,
    "/api/v1/workforce/bonus-rules/{rule_id}/": lambda other: BonusRule.objects.get_or_create(
        organization=other.org, project=other.project, metric="gold_accuracy", threshold=0.9,
        defaults={"amount": "1.00"})[0].pk,
    "/api/v1/workforce/promotion-rules/{rule_id}/": lambda other: PromotionRule.objects.get_or_create(
        organization=other.org, project=other.project)[0].pk,
    "/api/v1/workforce/promotions/{proposal_id}/{action}/": lambda other: (PromotionProposal.objects.get_or_create(
        organization=other.org, annotator=other.user("annotator"), defaults={"reason": "top"})[0].pk, "confirm"),
    "/api/v1/snapshots/{snapshot_id}/": lambda other: _snapshot(other).pk,
    "/api/v1/exports/{export_id}/": lambda other: Export.objects.get_or_create(
        organization=other.org, project=other.project, snapshot=_snapshot(other), format="jsonl")[0].pk,
    "/api/v1/workforce/ledger/{entry_id}/": lambda other: LedgerEntry.objects.get_or_create(
        organization=other.org, annotator=other.user("annotator"), kind="bonus", note="cross-tenant",
        defaults={"amount": "1.0000", "currency": "USD"})[0].pk,
}

def _snapshot(tenant):
    return DatasetSnapshot.objects.get_or_create(organization=tenant.org, project=tenant.project,
                                                 defaults={"schema_version": 1, "checksum": ""})[0]


TEXT_SPEC = {"data": {"text": {"type": "text"}},
             "controls": {"label": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}

# Routes that do not act inside one organization, with the reason.
NOT_TENANT_SCOPED = {
    ("/api/v1/orgs/", "post"): "creates a new organization for the signed-in user",
    ("/api/v1/orgs/", "get"): "lists the caller's own organizations (checked below)",
}


def schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method in operations:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


@pytest.fixture
def two_tenants(db):
    mine, other = make_tenant("acme"), make_tenant("globex")
    with transaction.atomic():
        for tenant in (mine, other):
            tenant.job = Job.objects.create(organization=tenant.org, created_by=tenant.user("manager"), kind="t",
                                            time_limit=60)
            tenant.project = project_create(organization=tenant.org, actor=tenant.user("manager"), name="P",
                                            label_schema=TEXT_SPEC)
            tenant.task = Task.objects.create(organization=tenant.org, project=tenant.project, data={"text": "t"},
                                              content_hash="0" * 32)
            tenant.media = Media.objects.create(organization=tenant.org, project=tenant.project, name="a.png",
                                                key=f"projects/{tenant.project.pk}/a.png", content_type="image/png",
                                                size=1)
            annotator, reviewer = tenant.user("annotator"), tenant.user("reviewer")
            tenant.assignment = Assignment.objects.create(
                organization=tenant.org, project=tenant.project, task=tenant.task, annotator=annotator,
                status="active", leased_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1))
            tenant.annotation = Annotation.objects.create(
                organization=tenant.org, project=tenant.project, task=tenant.task, author=annotator,
                result=[], schema_version=1, status="submitted")
            tenant.review = Review.objects.create(
                organization=tenant.org, project=tenant.project, annotation=tenant.annotation, reviewer=reviewer,
                expires_at=timezone.now() + timedelta(hours=1))
            tenant.rule = QualityRule.objects.create(organization=tenant.org, project=tenant.project,
                                                     collector="gold_accuracy", op="<", threshold=0.5, action="warn")
            tenant.suspension = Suspension.objects.create(
                organization=tenant.org, project=tenant.project, annotator=annotator, reason="r", source="manager",
                until=timezone.now() + timedelta(hours=1))
            tenant.firing = RuleFiring.objects.create(organization=tenant.org, project=tenant.project,
                                                      rule=tenant.rule, annotator=annotator, value=0.1, samples=9,
                                                      action="warn")
            tenant.flag = Flag.objects.create(organization=tenant.org, project=tenant.project, task=tenant.task,
                                              kind="low_agreement")
    return mine, other


def _template(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def _url(path, value):
    """The path with the id source's value (a tuple gives one value per path parameter)."""
    values = value if isinstance(value, tuple) else (value,) * path.count("{")
    return _template(path).format(*values)


def test_every_route_with_ids_of_another_organization_is_404(two_tenants):
    mine, other = two_tenants
    owner = token_client(mine.secrets["owner"])
    walked = 0
    for path, method in schema_operations():
        if "{" not in path:
            continue
        source = next((fn for prefix, fn in ID_SOURCES.items() if path.startswith(prefix)), None)
        assert source is not None, f"add a cross-tenant id source for {path} to ID_SOURCES"
        url = _url(path, source(other))
        response = getattr(owner, method)(url, {}, format="json")
        assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code} {response.content!r}"
        assert response.json()["error"]["code"] == "not_found"
        assert other.org.slug not in response.content.decode().replace(url, "")
        walked += 1
    assert walked >= 8


def test_every_route_in_another_organization_by_header_is_404(two_tenants):
    mine, other = two_tenants
    clients = {
        "session": session_client(mine.user("owner")),
        "token": token_client(mine.secrets["owner"]),
    }
    walked = 0
    for path, method in schema_operations():
        if (path, method) in NOT_TENANT_SCOPED:
            continue
        source = next((fn for prefix, fn in ID_SOURCES.items() if path.startswith(prefix)), None)
        if path.startswith("/api/v1/orgs/"):
            continue  # the slug in the path names the organization; covered by the test above
        url = _url(path, source(mine)) if "{" in path else path
        for kind, client in clients.items():
            response = getattr(client, method)(url, {}, format="json", HTTP_X_ORGANIZATION=other.org.slug)
            assert response.status_code == 404, f"{kind} {method.upper()} {url}: {response.status_code}"
            walked += 1
    assert walked >= 12


def test_lists_never_show_another_organization(two_tenants):
    mine, other = two_tenants
    owner = token_client(mine.secrets["owner"])
    assert [o["slug"] for o in owner.get("/api/v1/orgs").json()["results"]] == ["acme"]
    members = owner.get("/api/v1/members?page_size=1000").json()["results"]
    assert {m["email"].split("@")[1] for m in members} == {"acme.test"}
    tokens = owner.get("/api/v1/tokens?page_size=1000").json()["results"]
    assert all(t["user"].endswith("@acme.test") for t in tokens)
    assert [j["id"] for j in owner.get("/api/v1/jobs").json()["results"]] == [mine.job.pk]
    assert [p["id"] for p in owner.get("/api/v1/projects").json()["results"]] == [mine.project.pk]
    audit = owner.get("/api/v1/audit?page_size=1000").json()["results"]
    assert audit and all("globex" not in (e["actor_label"] or "") for e in audit)


def test_a_token_works_only_in_its_own_organization(two_tenants):
    mine, other = two_tenants
    response = token_client(mine.secrets["manager"]).get("/api/v1/me", HTTP_X_ORGANIZATION="globex")
    assert response.status_code == 404

"""Workforce profiles: skills, pools, annotators (filters, CSV, suspensions through PATCH), onboarding links and
bulk invitations; every route's roles and tenant boundary."""

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.orgs.models import Membership
from apps.qa.models import AnnotatorStats, Suspension
from apps.workforce.models import AnnotatorProfile, AnnotatorSkill, OnboardingLink, Pool, Skill
from apps.workforce.profiles import profile_for
from tests.conftest import ROLES, make_tenant, session_client
from tests.factories import MembershipFactory
from tests.tasks.queue_support import make_project, next_task

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-passphrase-42"


def _actions(org, action):
    return AuditEvent.objects.filter(organization=org, action=action).count()


@pytest.fixture
def skill(tenant):
    return Skill.objects.create(organization=tenant.org, name="medical")


@pytest.fixture
def pool(tenant):
    return Pool.objects.create(organization=tenant.org, name="Night shift")


# --- role matrix ------------------------------------------------------------------------------------------------
# (method, path, body, roles allowed, what the others get). "{skill}", "{pool}", "{member}" (another member),
# "{self}" (the caller's own membership) and "{link}" are ids of the acting tenant. Another member's profile is
# invisible to non-managers (404), as /members/{id} is.

W = {"owner", "manager"}
R = {"owner", "manager", "viewer"}
ALL = {str(r) for r in ROLES}
MATRIX = [
    ("get", "/api/v1/workforce/skills", None, R, 403),
    ("post", "/api/v1/workforce/skills", {"name": "legal-{role}"}, W, 403),
    ("get", "/api/v1/workforce/skills/{skill}", None, R, 403),
    ("patch", "/api/v1/workforce/skills/{skill}", {"description": "by {role}"}, W, 403),
    ("delete", "/api/v1/workforce/skills/{skill}", None, W, 403),
    ("get", "/api/v1/workforce/pools", None, R, 403),
    ("post", "/api/v1/workforce/pools", {"name": "pool of {role}"}, W, 403),
    ("get", "/api/v1/workforce/pools/{pool}", None, R, 403),
    ("patch", "/api/v1/workforce/pools/{pool}", {"add": ["{member}"]}, W, 403),
    ("delete", "/api/v1/workforce/pools/{pool}", None, W, 403),
    ("get", "/api/v1/workforce/annotators", None, W, 403),
    ("get", "/api/v1/workforce/annotators/{member}", None, W, 404),
    ("patch", "/api/v1/workforce/annotators/{member}", {"languages": ["de"]}, W, 404),
    ("get", "/api/v1/workforce/annotators/{self}", None, ALL, 403),
    ("patch", "/api/v1/workforce/annotators/{self}", {"languages": ["de"]}, W, 403),
    ("get", "/api/v1/workforce/onboarding-links", None, W, 403),
    ("post", "/api/v1/workforce/onboarding-links", {"expires_days": 3}, W, 403),
    ("get", "/api/v1/workforce/onboarding-links/{link}", None, W, 403),
    ("delete", "/api/v1/workforce/onboarding-links/{link}", None, W, 403),
]
OK = {"get": 200, "post": 201, "patch": 200, "delete": 204}
CODES = {403: "permission_denied", 404: "not_found"}


def _objects(tenant, role="manager"):
    skill = Skill.objects.create(organization=tenant.org, name=f"skill-{Skill.objects.count()}")
    pool = Pool.objects.create(organization=tenant.org, name=f"pool {Pool.objects.count()}")
    link = OnboardingLink.objects.create(organization=tenant.org, key_hash=hashlib.sha256(
        f"k{OnboardingLink.objects.count()}{tenant.org.slug}".encode()).hexdigest(),
        expires_at=timezone.now() + dt.timedelta(days=1))
    member = MembershipFactory(organization=tenant.org, role="annotator")
    return {"skill": skill.pk, "pool": pool.pk, "link": link.pk, "member": member.pk,
            "self": tenant.member(role).pk}


def _fill(value, ids, role):
    if isinstance(value, str):
        if value.startswith("{") and value.strip("{}") in ids:
            return ids[value.strip("{}")]
        return value.format(role=role, **ids)
    if isinstance(value, list):
        return [_fill(v, ids, role) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids, role) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", [str(r) for r in ROLES])
@pytest.mark.parametrize(("method", "path", "body", "allowed", "denied"), MATRIX,
                         ids=[f"{row[0]} {row[1]}" for row in MATRIX])
def test_role_matrix(tenant, as_role, role, method, path, body, allowed, denied):
    ids = _objects(tenant, role)
    response = getattr(as_role(role), method)(_fill(path, ids, role), _fill(body, ids, role), format="json")
    if role in allowed:
        assert response.status_code == OK[method], response.content
    else:
        assert response.status_code == denied, response.content
        assert response.json()["error"]["code"] == CODES[denied]


OBJECT_ROUTES = [row for row in MATRIX if "{" in row[1] and "{self}" not in row[1]]


@pytest.mark.parametrize(("method", "path", "body", "allowed", "denied"), OBJECT_ROUTES,
                         ids=[f"{row[0]} {row[1]}" for row in OBJECT_ROUTES])
def test_other_organizations_objects_are_404(tenant, as_role, method, path, body, allowed, denied):
    globex = make_tenant("globex")
    theirs = _objects(globex)
    theirs["member"] = globex.member("annotator").pk
    body = _fill(body, _objects(tenant), "manager")
    for role in ("owner", "manager", "annotator"):
        response = getattr(as_role(role), method)(_fill(path, theirs, role), body, format="json")
        assert response.status_code == 404, (role, response.content)
        assert response.json()["error"]["code"] == "not_found"


def test_bulk_invitations_roles(tenant, as_role):
    for role in ROLES:
        response = as_role(role).generic("POST", "/api/v1/workforce/invitations/bulk", f"x-{role}@new.test",
                                         content_type="text/csv")
        assert response.status_code == (201 if role in W else 403), (role, response.content)


# --- skills -----------------------------------------------------------------------------------------------------


def test_skills_create_list_rename_delete(tenant, as_role, other_tenant):
    manager = as_role("manager")
    created = manager.post("/api/v1/workforce/skills", {"name": "medical", "description": "MDs"}, format="json")
    assert created.status_code == 201, created.content
    skill = created.json()
    assert skill["name"] == "medical" and skill["description"] == "MDs"
    Skill.objects.create(organization=other_tenant.org, name="legal")  # another organization's, not listed
    listed = as_role("viewer").get("/api/v1/workforce/skills/").json()["results"]
    assert [s["name"] for s in listed] == ["medical"]

    duplicate = manager.post("/api/v1/workforce/skills", {"name": "medical"}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "duplicate"
    assert "name" in duplicate.json()["error"]["details"]
    # The same name in another organization is fine.
    assert Skill.objects.filter(name="legal").count() == 1
    assert manager.post("/api/v1/workforce/skills", {"name": "legal"}, format="json").status_code == 201

    bad = manager.post("/api/v1/workforce/skills", {"name": "Not a slug!"}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["error"]["details"]

    clash = manager.patch(f"/api/v1/workforce/skills/{skill['id']}", {"name": "legal"}, format="json")
    assert clash.status_code == 409
    renamed = manager.patch(f"/api/v1/workforce/skills/{skill['id']}/", {"name": "radiology"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "radiology"
    assert _actions(tenant.org, "skill.create") == 2 and _actions(tenant.org, "skill.update") == 1

    profile = profile_for(organization=tenant.org, user=tenant.user("annotator"))
    AnnotatorSkill.objects.create(profile=profile, skill_id=skill["id"], level=50)
    assert manager.delete(f"/api/v1/workforce/skills/{skill['id']}").status_code == 204
    assert not Skill.objects.filter(pk=skill["id"]).exists()
    assert not AnnotatorSkill.objects.filter(profile=profile).exists()
    assert _actions(tenant.org, "skill.delete") == 1


def test_skills_csv(tenant, as_role, skill):
    response = as_role("manager").get("/api/v1/workforce/skills?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["name"] for row in rows] == ["medical"]


# --- pools ------------------------------------------------------------------------------------------------------


def test_pools_members_by_membership_id(tenant, as_role, other_tenant):
    manager = as_role("manager")
    annotator, reviewer = tenant.member("annotator"), tenant.member("reviewer")
    created = manager.post("/api/v1/workforce/pools", {"name": "Night shift", "members": [annotator.pk]},
                           format="json")
    assert created.status_code == 201, created.content
    pool = created.json()
    assert pool["members"] == [annotator.pk] and pool["member_count"] == 1
    assert Pool.objects.get(pk=pool["id"]).members.get().user == annotator.user

    assert manager.post("/api/v1/workforce/pools", {"name": "Night shift"}, format="json").status_code == 409
    assert manager.post("/api/v1/workforce/pools", {"name": ""}, format="json").json()["error"]["details"]["name"]

    url = f"/api/v1/workforce/pools/{pool['id']}"
    added = manager.patch(url, {"add": [reviewer.pk]}, format="json")
    assert added.status_code == 200 and added.json()["members"] == sorted([annotator.pk, reviewer.pk])
    removed = manager.patch(url, {"remove": [annotator.pk]}, format="json")
    assert removed.json()["members"] == [reviewer.pk]
    replaced = manager.patch(url, {"members": [annotator.pk], "name": "Day shift"}, format="json")
    assert replaced.json()["members"] == [annotator.pk] and replaced.json()["name"] == "Day shift"
    assert manager.get(url).json()["members"] == [annotator.pk]

    theirs = other_tenant.member("annotator").pk
    foreign = manager.patch(url, {"add": [theirs, 987654321]}, format="json")
    assert foreign.status_code == 400
    message = foreign.json()["error"]["details"]["add"][0]
    assert str(theirs) in message and "987654321" in message
    assert manager.get(url).json()["members"] == [annotator.pk]  # nothing changed
    bad = manager.post("/api/v1/workforce/pools", {"name": "x", "members": [theirs]}, format="json")
    assert bad.status_code == 400 and str(theirs) in bad.json()["error"]["details"]["members"][0]
    both = manager.patch(url, {"members": [annotator.pk], "add": [reviewer.pk]}, format="json")
    assert both.status_code == 400 and "members" in both.json()["error"]["details"]

    assert _actions(tenant.org, "pool.create") == 1 and _actions(tenant.org, "pool.update") == 3
    assert manager.delete(url).status_code == 204
    assert manager.get(url).status_code == 404
    assert _actions(tenant.org, "pool.delete") == 1


# --- annotators -------------------------------------------------------------------------------------------------


def test_annotators_list_makes_profiles_and_filters(tenant, as_role, skill, pool, django_assert_max_num_queries):
    manager = as_role("manager")
    assert not AnnotatorProfile.objects.filter(organization=tenant.org).exists()
    with django_assert_max_num_queries(14):
        listed = manager.get("/api/v1/workforce/annotators")
    assert listed.status_code == 200, listed.content
    rows = listed.json()["results"]
    assert {row["id"] for row in rows} == {m.pk for m in tenant.members.values()}
    assert AnnotatorProfile.objects.filter(organization=tenant.org).count() == len(ROLES)
    assert all(row["status"] == "active" and row["skills"] == {} for row in rows)

    annotator, reviewer = tenant.member("annotator"), tenant.member("reviewer")
    assert manager.patch(f"/api/v1/workforce/annotators/{annotator.pk}",
                         {"skills": {"medical": 80}, "pools": [pool.pk], "languages": ["de", "en"]},
                         format="json").status_code == 200
    assert manager.patch(f"/api/v1/workforce/annotators/{reviewer.pk}",
                         {"skills": {"medical": 40}, "languages": ["en"]}, format="json").status_code == 200

    def ids(query):
        response = manager.get(f"/api/v1/workforce/annotators?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"pool={pool.pk}") == {annotator.pk}
    assert ids("skill=medical&min_level=70") == {annotator.pk}
    assert ids("skill=medical&min_level=40") == {annotator.pk, reviewer.pk}
    assert ids("skill=medical") == {annotator.pk, reviewer.pk}
    assert len(ids("skill=medical&min_level=0")) == len(ROLES)  # a missing skill is level 0
    assert ids("language=de") == {annotator.pk}
    assert ids("language=en") == {annotator.pk, reviewer.pk}
    assert ids("status=suspended") == set()
    manager.patch(f"/api/v1/workforce/annotators/{reviewer.pk}", {"status": "banned", "reason": "spam"},
                  format="json")
    assert ids("status=banned") == {reviewer.pk}
    assert reviewer.pk not in ids("status=active")

    for query, field in [("skill=unknown", "skill"), ("pool=999999", "pool"), ("min_level=5", "min_level"),
                         ("skill=medical&min_level=101", "min_level"), ("status=asleep", "status")]:
        bad = manager.get(f"/api/v1/workforce/annotators?{query}")
        assert bad.status_code == 400 and field in bad.json()["error"]["details"], query


def test_annotators_csv(tenant, as_role, skill):
    manager = as_role("manager")
    annotator = tenant.member("annotator")
    manager.patch(f"/api/v1/workforce/annotators/{annotator.pk}",
                  {"skills": {"medical": 75}, "languages": ["de"], "notes": "=HYPERLINK(\"x\")"}, format="json")
    response = manager.get("/api/v1/workforce/annotators?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert set(rows) == {m.pk for m in tenant.members.values()}
    row = rows[annotator.pk]
    assert row["email"] == annotator.user.email and row["skill.medical"] == "75" and row["languages"] == "de"
    assert row["status"] == "active" and row["annotations"] == "0"
    assert row["notes"].startswith("'=")  # a spreadsheet does not run it
    assert rows[tenant.member("viewer").pk]["skill.medical"] == "0"


def test_annotator_detail_with_stats_and_suspensions(tenant, as_role, skill, pool):
    manager = as_role("manager")
    annotator = tenant.member("annotator")
    AnnotatorStats.objects.create(organization=tenant.org, project=None, annotator=annotator.user,
                                  annotations=30, gold_seen=10, gold_correct=8)
    patched = manager.patch(f"/api/v1/workforce/annotators/{annotator.pk}", {
        "skills": {"medical": 80}, "pools": [pool.pk], "languages": ["de"], "timezone": "Europe/Berlin",
        "notes": "careful worker"}, format="json")
    assert patched.status_code == 200, patched.content
    body = manager.get(f"/api/v1/workforce/annotators/{annotator.pk}").json()
    assert body["id"] == annotator.pk and body["email"] == annotator.user.email and body["role"] == "annotator"
    assert body["skills"] == {"medical": 80} and body["pools"] == [pool.pk]
    assert body["languages"] == ["de"] and body["timezone"] == "Europe/Berlin" and body["notes"] == "careful worker"
    assert body["status"] == "active" and body["suspensions"] == []
    stats = body["stats"]
    assert stats["annotations"] == 30 and stats["gold_seen"] == 10 and stats["gold_correct"] == 8
    assert stats["accuracy"] == pytest.approx(0.8)
    assert 0.4 < stats["accuracy_low"] < 0.8 < stats["accuracy_high"] < 1.0
    profile = AnnotatorProfile.objects.get(membership=annotator)
    assert profile.notes == "careful worker" and profile.timezone == "Europe/Berlin"
    assert _actions(tenant.org, "annotator_profile.update") == 1

    # The annotator reads their own profile, never the notes, and nobody else's.
    own = as_role("annotator").get(f"/api/v1/workforce/annotators/{annotator.pk}")
    assert own.status_code == 200 and "notes" not in own.json() and own.json()["skills"] == {"medical": 80}
    assert as_role("annotator").get(f"/api/v1/workforce/annotators/{tenant.member('reviewer').pk}").status_code \
        == 404
    assert as_role("annotator").patch(f"/api/v1/workforce/annotators/{annotator.pk}", {"notes": "me"},
                                      format="json").status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"skills": {"unknown": 50}}, "skills"),
    ({"skills": {"medical": 101}}, "skills"),
    ({"skills": {"medical": -1}}, "skills"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"pools": [987654]}, "pools"),
    ({"languages": ["not a language"]}, "languages"),
    ({"status": "sleeping"}, "status"),
    ({"status": "suspended", "until": "2001-01-01T00:00:00Z"}, "until"),
    ({"status": "banned", "until": "2999-01-01T00:00:00Z"}, "until"),
    ({"until": "2999-01-01T00:00:00Z"}, "until"),
    ({}, "non_field_errors"),
])
def test_annotator_patch_refuses_bad_input(tenant, as_role, skill, body, field):
    annotator = tenant.member("annotator")
    response = as_role("manager").patch(f"/api/v1/workforce/annotators/{annotator.pk}", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not AnnotatorSkill.objects.exists() and not Suspension.objects.exists()


def test_skill_of_another_organization_is_unknown(tenant, as_role, other_tenant):
    Skill.objects.create(organization=other_tenant.org, name="secret")
    response = as_role("manager").patch(f"/api/v1/workforce/annotators/{tenant.member('annotator').pk}",
                                        {"skills": {"secret": 10}}, format="json")
    assert response.status_code == 400 and "secret" in response.json()["error"]["details"]["skills"]


def test_skill_level_null_removes_it(tenant, as_role, skill):
    url = f"/api/v1/workforce/annotators/{tenant.member('annotator').pk}"
    manager = as_role("manager")
    assert manager.patch(url, {"skills": {"medical": 30}}, format="json").json()["skills"] == {"medical": 30}
    assert manager.patch(url, {"skills": {"medical": None}}, format="json").json()["skills"] == {}


def test_suspend_through_patch_stops_next_and_active_lets_back(tenant, as_role):
    manager, worker = as_role("manager"), as_role("annotator")
    annotator = tenant.member("annotator")
    project = make_project(manager, tasks=3)
    url = f"/api/v1/workforce/annotators/{annotator.pk}"

    suspended = manager.patch(url, {"status": "suspended", "reason": "too fast"}, format="json")
    assert suspended.status_code == 200, suspended.content
    body = suspended.json()
    assert body["status"] == "suspended" and len(body["suspensions"]) == 1
    until = dt.datetime.fromisoformat(body["suspensions"][0]["until"])
    assert dt.timedelta(hours=23) < until - timezone.now() <= dt.timedelta(hours=24)  # the default: 24 h
    refused = next_task(worker, project)
    assert refused.status_code == 403, refused.content
    error = refused.json()["error"]
    assert error["code"] == "suspended" and error["details"]["reason"] == "too fast" and error["details"]["until"]
    assert _actions(tenant.org, "suspension.create") == 1

    back = manager.patch(url, {"status": "active"}, format="json")
    assert back.status_code == 200 and back.json()["status"] == "active" and back.json()["suspensions"] == []
    assert next_task(worker, project).status_code == 200
    assert _actions(tenant.org, "suspension.lift") == 1
    assert Suspension.objects.get().lifted_at is not None

    later = (timezone.now() + dt.timedelta(days=3)).isoformat()
    manager.patch(url, {"status": "suspended", "until": later}, format="json")
    banned = manager.patch(url, {"status": "banned"}, format="json").json()
    # The ban replaces the suspension: one in force, with no end.
    assert banned["status"] == "banned" and [s["kind"] for s in banned["suspensions"]] == ["ban"]
    assert banned["suspensions"][0]["until"] is None
    assert next_task(worker, project).json()["error"]["code"] == "suspended"
    assert AnnotatorProfile.objects.get(membership=annotator).status == "banned"
    assert manager.patch(url, {"status": "active"}, format="json").json()["status"] == "active"
    assert next_task(worker, project).status_code in (200, 204)


def test_active_also_lifts_project_suspensions(tenant, as_role):
    manager, worker = as_role("manager"), as_role("annotator")
    annotator = tenant.member("annotator")
    project = make_project(manager, tasks=2)
    made = manager.post(f"/api/v1/projects/{project['id']}/suspensions",
                        {"annotator": annotator.pk, "reason": "rude", "kind": "ban"}, format="json")
    assert made.status_code == 201, made.content
    assert next_task(worker, project).status_code == 403
    detail = manager.get(f"/api/v1/workforce/annotators/{annotator.pk}").json()
    assert detail["status"] == "active" and len(detail["suspensions"]) == 1  # project-level: still active overall
    manager.patch(f"/api/v1/workforce/annotators/{annotator.pk}", {"status": "active"}, format="json")
    assert next_task(worker, project).status_code == 200


def test_manager_may_not_suspend_an_owner(tenant, as_role):
    response = as_role("manager").patch(f"/api/v1/workforce/annotators/{tenant.member('owner').pk}",
                                        {"status": "banned"}, format="json")
    assert response.status_code == 403 and not Suspension.objects.exists()


# --- onboarding links -------------------------------------------------------------------------------------------


def _link(client, **body):
    response = client.post("/api/v1/workforce/onboarding-links", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    return created, created["url"].split("/join/", 1)[1].strip("/")


def _signup(key, email):
    return Client().post(f"/join/{key}/", {"email": email, "name": "New Person", "password1": PASSWORD,
                                           "password2": PASSWORD})


def test_onboarding_link_signs_up_annotators_into_pools(tenant, as_role, pool):
    manager = as_role("manager")
    created, key = _link(manager, expires_days=7, max_uses=2, pools=[pool.pk])
    assert created["pools"] == [pool.pk] and created["uses"] == 0 and created["state"] == "active"
    link = OnboardingLink.objects.get(pk=created["id"])
    assert link.key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in link.key_hash
    listed = manager.get("/api/v1/workforce/onboarding-links").json()["results"]
    assert [row["id"] for row in listed] == [created["id"]] and "url" not in listed[0]
    assert key not in manager.get("/api/v1/workforce/onboarding-links").content.decode()
    assert _actions(tenant.org, "onboarding_link.create") == 1

    page = Client().get(f"/join/{key}/")
    assert page.status_code == 200 and tenant.org.name in page.content.decode()
    joined = _signup(key, "crowd1@example.test")
    assert joined.status_code == 302, joined.content.decode()
    membership = Membership.objects.get(organization=tenant.org, user__email="crowd1@example.test")
    assert membership.role == "annotator" and membership.status == "active"
    assert membership.invited_by == tenant.user("manager")
    assert list(pool.members.values_list("membership_id", flat=True)) == [membership.pk]
    assert _actions(tenant.org, "member.add") == 1 and _actions(tenant.org, "onboarding_link.use") == 1

    # The new member is signed in and works as an annotator of this organization.
    me = Client()
    me.force_login(membership.user)
    assert me.get("/api/v1/me").json()["role"] == "annotator"

    assert _signup(key, "crowd2@example.test").status_code == 302
    link.refresh_from_db()
    assert link.uses == 2
    used_up = _signup(key, "crowd3@example.test")
    assert used_up.status_code == 410 and b"used as many times" in used_up.content
    assert not Membership.objects.filter(user__email="crowd3@example.test").exists()
    assert Client().get(f"/join/{key}/").status_code == 410
    assert manager.get(f"/api/v1/workforce/onboarding-links/{link.pk}").json()["state"] == "used_up"


def test_onboarding_refuses_expired_revoked_and_unknown(tenant, as_role):
    manager = as_role("manager")
    expired, expired_key = _link(manager, expires_days=1)
    OnboardingLink.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = _signup(expired_key, "late@example.test")
    assert response.status_code == 410 and b"expired" in response.content

    revoked, revoked_key = _link(manager, expires_days=1)
    assert Client().get(f"/join/{revoked_key}/").status_code == 200
    assert manager.delete(f"/api/v1/workforce/onboarding-links/{revoked['id']}").status_code == 204
    assert manager.get(f"/api/v1/workforce/onboarding-links/{revoked['id']}").json()["state"] == "revoked"
    response = _signup(revoked_key, "gone@example.test")
    assert response.status_code == 410 and b"withdrawn" in response.content
    assert _actions(tenant.org, "onboarding_link.revoke") == 1

    assert Client().get("/join/not-a-key/").status_code == 404
    assert not Membership.objects.filter(user__email__in=["late@example.test", "gone@example.test"]).exists()

    bad = manager.post("/api/v1/workforce/onboarding-links", {"expires_days": 0, "pools": [424242]}, format="json")
    assert bad.status_code == 400 and "expires_days" in bad.json()["error"]["details"]
    bad = manager.post("/api/v1/workforce/onboarding-links", {"pools": [424242]}, format="json")
    assert bad.status_code == 400 and "424242" in bad.json()["error"]["details"]["pools"][0]
    assert manager.post("/api/v1/workforce/onboarding-links", {"max_uses": 0}, format="json").status_code == 400


def test_onboarding_signed_in_user_accepts_and_existing_email_must_sign_in(tenant, as_role, other_tenant, pool):
    _, key = _link(as_role("manager"), max_uses=5, pools=[pool.pk])
    outsider = other_tenant.user("manager")  # a user of another organization
    client = Client()
    client.force_login(outsider)
    confirm = client.get(f"/join/{key}/")
    assert confirm.status_code == 200 and outsider.email in confirm.content.decode()
    assert client.post(f"/join/{key}/").status_code == 302
    membership = Membership.objects.get(organization=tenant.org, user=outsider)
    assert membership.role == "annotator" and membership.status == "active"
    assert pool.members.filter(membership=membership).exists()
    # Their own organization's role is untouched.
    assert Membership.objects.get(organization=other_tenant.org, user=outsider).role == "manager"

    # Someone typing an existing account's email cannot take it over.
    taken = _signup(key, tenant.user("viewer").email)
    assert taken.status_code == 400 and b"sign in" in taken.content
    assert tenant.user("viewer").check_password("correct-horse-battery-staple")

    # An existing member keeps their role; the link only adds them to its pools and is not used up by it.
    viewer = Client()
    viewer.force_login(tenant.user("viewer"))
    assert viewer.post(f"/join/{key}/").status_code == 302
    assert tenant.member("viewer").__class__.objects.get(pk=tenant.member("viewer").pk).role == "viewer"
    assert OnboardingLink.objects.get().uses == 1


# --- bulk invitations -------------------------------------------------------------------------------------------


def test_bulk_invitations_from_csv_body(tenant, as_role, django_capture_on_commit_callbacks, mailoutbox):
    body = "\n".join([
        "name,email",
        "Ann,ann@new.test",
        "Bob,not-an-email",
        f"Vi,{tenant.user('viewer').email}",
        "Ann again,ANN@new.test",
        "",
        "Cy,cy@new.test",
    ])
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("manager").generic("POST", "/api/v1/workforce/invitations/bulk", body,
                                              content_type="text/csv")
    assert response.status_code == 201, response.content
    result = response.json()
    assert result["invited"] == 2
    assert result["skipped"] == [
        {"row": 3, "email": "not-an-email", "reason": "invalid email"},
        {"row": 4, "email": tenant.user("viewer").email, "reason": "already a member"},
        {"row": 5, "email": "ANN@new.test", "reason": "duplicate in file"},
    ]
    invited = Membership.objects.filter(organization=tenant.org, status="invited")
    assert sorted(invited.values_list("user__email", flat=True)) == ["ann@new.test", "cy@new.test"]
    assert set(invited.values_list("role", flat=True)) == {"annotator"}
    assert sorted(m.to[0] for m in mailoutbox) == ["ann@new.test", "cy@new.test"]
    assert _actions(tenant.org, "member.invite") == 2

    again = as_role("manager").generic("POST", "/api/v1/workforce/invitations/bulk", "ann@new.test",
                                       content_type="text/csv").json()
    assert again == {"invited": 0, "skipped": [{"row": 1, "email": "ann@new.test", "reason": "already invited"}]}


def test_bulk_invitations_from_multipart_file(tenant, as_role):
    upload = SimpleUploadedFile("people.csv", b"email\nd1@new.test\nd2@new.test\n", content_type="text/csv")
    response = as_role("owner").post("/api/v1/workforce/invitations/bulk", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json() == {"invited": 2, "skipped": []}
    assert Membership.objects.filter(organization=tenant.org, user__email__in=["d1@new.test", "d2@new.test"],
                                     role="annotator", status="invited").count() == 2


@pytest.mark.parametrize(("content_type", "body", "status", "field"), [
    ("text/csv", b"", 400, "file"),
    ("text/csv", b"\xff\xfe\x00bad", 400, "file"),
    ("application/json", b"{}", 415, None),
])
def test_bulk_invitations_refuse_bad_uploads(tenant, as_role, content_type, body, status, field):
    response = as_role("manager").generic("POST", "/api/v1/workforce/invitations/bulk", body,
                                          content_type=content_type)
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["error"]["details"]
    assert not Membership.objects.filter(organization=tenant.org, status="invited").exists()


def test_bulk_invitations_multipart_without_file(tenant, as_role):
    response = as_role("manager").post("/api/v1/workforce/invitations/bulk", {"other": "x"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["details"]


def test_session_user_of_two_organizations_lists_only_the_chosen_one(tenant, other_tenant):
    outsider = other_tenant.user("manager")
    MembershipFactory(organization=tenant.org, user=outsider, role="manager")
    client = session_client(outsider)
    rows = client.get("/api/v1/workforce/annotators", HTTP_X_ORGANIZATION="globex").json()["results"]
    assert {row["id"] for row in rows} == {m.pk for m in other_tenant.members.values()}

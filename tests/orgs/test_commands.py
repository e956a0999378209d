"""The command line: seed_demo, create_org, create_user and create_token (API.md "Command line")."""

import datetime as dt
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.orgs.models import ApiToken, Membership, Organization

from ..conftest import token_client
from ..factories import DEFAULT_PASSWORD, MembershipFactory, OrganizationFactory

DEMO_USERS = {
    "owner@demo.test": "owner",
    "manager@demo.test": "manager",
    "reviewer@demo.test": "reviewer",
    "annotator1@demo.test": "annotator",
    "annotator2@demo.test": "annotator",
    "annotator3@demo.test": "annotator",
    "viewer@demo.test": "viewer",
}


def run(name, *args):
    """Runs a command; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def only_line(stdout):
    """The secret a command printed: it must be alone on standard output (`X=$(manage.py …)`)."""
    lines = stdout.splitlines()
    assert len(lines) == 1 and lines[0].strip() == lines[0] and lines[0], stdout
    return lines[0]


def signs_in(email, password):
    user = authenticate(email=email, password=password)
    return user is not None and user.email == email


# --- seed_demo --------------------------------------------------------------------------------


def test_seed_demo_creates_the_demo_organization_and_prints_working_passwords(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out, _ = run("seed_demo")

    org = Organization.objects.get(slug="demo")
    members = dict(Membership.objects.filter(organization=org, status="active").values_list("user__email", "role"))
    assert members == DEMO_USERS

    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in DEMO_USERS:
            rows[parts[0]] = (parts[1], parts[2])
    assert {email: role for email, (role, _) in rows.items()} == DEMO_USERS
    for email, (_, password) in rows.items():
        assert signs_in(email, password), email
    assert len({password for _, password in rows.values()}) == len(DEMO_USERS)
    assert (tmp_path / "demo_credentials.txt").stat().st_mode & 0o777 == 0o600


def test_seed_demo_run_again_creates_nothing_and_says_so(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("seed_demo")
    users, memberships = User.objects.count(), Membership.objects.count()
    passwords = dict(User.objects.values_list("email", "password"))

    out, _ = run("seed_demo")

    assert "nothing created" in out
    assert "@demo.test" not in out  # no passwords printed again
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert dict(User.objects.values_list("email", "password")) == passwords


def test_seed_demo_completes_a_partly_seeded_organization(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("seed_demo")
    viewer = Membership.objects.get(user__email="viewer@demo.test")
    Membership.objects.filter(pk=viewer.pk).update(status=Membership.Status.REMOVED)

    out, _ = run("seed_demo")

    assert "created 1 member" in out and "viewer@demo.test" in out
    assert Membership.objects.get(pk=viewer.pk).status == Membership.Status.ACTIVE


# --- create_org -------------------------------------------------------------------------------


def test_create_org_prints_only_the_generated_password_on_stdout(db):
    out, err = run("create_org", "newco", "--name", "New Co", "--owner", "Boss@NewCo.test")

    password = only_line(out)
    assert password not in err
    assert "newco" in err and "boss@newco.test" in err
    org = Organization.objects.get(slug="newco")
    assert (org.name, org.phi) == ("New Co", False)
    owner = Membership.objects.get(organization=org)
    assert (owner.user.email, owner.role, owner.status) == ("boss@newco.test", "owner", "active")
    assert signs_in("boss@newco.test", password)


def test_create_org_with_phi_and_a_given_password(db):
    out, _ = run("create_org", "clinic", "--name", "Clinic", "--owner", "doc@clinic.test", "--phi",
                 "--password", "Given-password-123")
    assert out == ""  # nothing was generated, so nothing secret to print
    assert Organization.objects.get(slug="clinic").phi is True
    assert signs_in("doc@clinic.test", "Given-password-123")


def test_create_org_for_an_existing_user_keeps_their_password(db):
    existing = MembershipFactory().user
    out, _ = run("create_org", "second", "--name", "Second", "--owner", existing.email)
    assert out == ""
    assert Membership.objects.get(organization__slug="second").user == existing
    assert signs_in(existing.email, DEFAULT_PASSWORD)


def test_create_org_refuses_a_taken_slug(db):
    OrganizationFactory(slug="taken")
    with pytest.raises(CommandError, match="taken"):
        run("create_org", "taken", "--name", "Again", "--owner", "someone@example.test")
    assert not User.objects.filter(email="someone@example.test").exists()  # nothing half-made


# --- create_user ------------------------------------------------------------------------------


def test_create_user_prints_only_the_generated_password_on_stdout(tenant):
    out, err = run("create_user", "Newbie@Example.test", "--org", "acme", "--role", "reviewer")

    password = only_line(out)
    assert password not in err and "newbie@example.test" in err
    membership = Membership.objects.get(organization=tenant.org, user__email="newbie@example.test")
    assert (membership.role, membership.status) == ("reviewer", "active")
    assert signs_in("newbie@example.test", password)


def test_create_user_adds_an_existing_user_to_another_organization(tenant, other_tenant):
    existing = other_tenant.user("annotator")
    out, _ = run("create_user", existing.email, "--org", "acme", "--role", "viewer")
    assert out == ""
    assert Membership.objects.get(organization=tenant.org, user=existing).role == "viewer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x@example.test", "--org", "unknown", "--role", "annotator"], "unknown"),
        (["viewer@acme.test", "--org", "acme", "--role", "annotator"], "already a member"),
        (["x@example.test", "--org", "acme", "--role", "emperor"], "emperor"),
    ],
    ids=["unknown org", "already a member", "unknown role"],
)
def test_create_user_refuses_bad_input(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_user", *args)
    assert not User.objects.filter(email="x@example.test").exists()


# --- create_token -----------------------------------------------------------------------------


def test_create_token_prints_only_a_working_secret_for_a_new_service_account(tenant):
    out, err = run("create_token", "--org", "acme", "--role", "annotator", "--name", "nightly import")

    secret = only_line(out)
    assert secret not in err
    me = token_client(secret).get("/api/v1/me")
    assert me.status_code == 200
    body = me.json()
    assert (body["role"], body["organization"]["slug"]) == ("annotator", "acme")
    actor = User.objects.get(pk=body["id"])
    assert actor.is_service_account and actor.email not in {m.user.email for m in tenant.members.values()}
    assert Membership.objects.get(organization=tenant.org, user=actor).role == "annotator"


def test_two_tokens_act_as_two_distinct_service_accounts(tenant):
    first = only_line(run("create_token", "--org", "acme", "--role", "manager", "--name", "ci")[0])
    second = only_line(run("create_token", "--org", "acme", "--role", "manager", "--name", "ci")[0])
    ids = {token_client(secret).get("/api/v1/me").json()["id"] for secret in (first, second)}
    assert len(ids) == 2
    assert token_client(first).get("/api/v1/me").json()["role"] == "manager"


def test_create_token_for_a_member_acts_as_that_member(tenant):
    reviewer = tenant.user("reviewer")
    out, _ = run("create_token", "--org", "acme", "--role", "annotator", "--name", "laptop", "--user",
                 reviewer.email, "--expires-days", "30")

    body = token_client(only_line(out)).get("/api/v1/me").json()
    assert (body["id"], body["email"], body["role"]) == (reviewer.pk, reviewer.email, "annotator")
    token = ApiToken.objects.get(name="laptop")
    assert abs(token.expires_at - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "manager", "--user", "annotator@acme.test"], "annotator"),  # above the member's role
        (["--role", "annotator", "--user", "annotator@globex.test"], "not an active member"),
        (["--role", "annotator", "--user", "nobody@example.test"], "not an active member"),
        (["--role", "annotator", "--expires-days", "0"], "expires_days"),
        (["--role", "annotator", "--expires-days", "-5"], "expires_days"),
        (["--role", "annotator", "--org", "unknown"], "unknown"),
    ],
    ids=["role above the member's", "member elsewhere", "unknown user", "zero days", "negative days",
         "unknown org"],
)
def test_create_token_refuses_bad_input(tenant, other_tenant, args, message):
    tokens = ApiToken.objects.count()
    users = User.objects.count()
    if "--org" not in args:
        args = ["--org", "acme", *args]
    with pytest.raises(CommandError, match=message):
        run("create_token", "--name", "refused", *args)
    assert (ApiToken.objects.count(), User.objects.count()) == (tokens, users)


def test_seed_demo_adds_real_data_projects_once(db, settings, tmp_path):
    from apps.projects.models import Project
    from apps.tasks.models import Annotation, Task

    settings.VAR_DIR, settings.MEDIA_ROOT = tmp_path, tmp_path / "media"
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    projects = {p.name: p for p in Project.objects.filter(organization__slug="demo")}
    assert Task.objects.filter(project=projects["Movie reviews (Rotten Tomatoes)"]).count() == 300
    assert Task.objects.filter(project=projects["Handwritten digits"], is_gold=True).count() == 10
    assert Annotation.objects.filter(project=projects["Named entities"]).count() == 5
    quokka = Annotation.objects.get(project=projects["Quokka (boxes, polygons, keypoints)"])
    assert len(quokka.result) == 9
    assert (tmp_path / "media" / "demo" / "quokka" / "quokka.jpg").exists()
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    assert Project.objects.filter(organization__slug="demo").count() == 4
    assert Task.objects.count() == 366

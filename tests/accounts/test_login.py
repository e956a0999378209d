"""Signing in: allauth's login page, its audit trail, throttling, closed sign-up, argon2, MFA for PHI."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.orgs.models import Membership
from apps.orgs.services import token_create

from ..conftest import session_client, token_client
from ..factories import DEFAULT_PASSWORD, MembershipFactory, OrganizationFactory

BASE_DIR = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
TOO_MANY = b"Too many failed login attempts"


def sign_in(client, email, password=DEFAULT_PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def signed_in_as(client):
    response = client.get("/api/v1/me")
    return response.json()["email"] if response.status_code == 200 else None


@pytest.fixture
def fresh_rate_limits():
    """allauth keeps its counters in the cache (Redis here), which outlives a test database."""
    cache.clear()
    yield
    cache.clear()


# --- signing in and its audit trail -----------------------------------------------------------


def test_a_member_signs_in_and_each_of_their_organizations_records_it(db, fresh_rate_limits):
    first = MembershipFactory(role="manager")
    user = first.user
    second = MembershipFactory(user=user, role="annotator")
    left = MembershipFactory(user=user, status=Membership.Status.REMOVED)
    client = Client(REMOTE_ADDR="198.51.100.7")

    response = sign_in(client, user.email.upper())  # emails are case-insensitive
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(client) == user.email
    events = AuditEvent.objects.filter(action="auth.login")
    assert sorted(e.organization_id for e in events) == sorted([first.organization_id, second.organization_id])
    assert not events.filter(organization=left.organization).exists()
    assert {(e.actor_id, e.object_id, e.ip) for e in events} == {(user.pk, str(user.pk), "198.51.100.7")}


def test_a_wrong_password_is_refused_and_recorded_without_the_password(db, fresh_rate_limits):
    membership = MembershipFactory()
    user = membership.user
    client = Client()

    response = sign_in(client, user.email, "not-my-password")

    assert response.status_code == 200
    assert b"not correct" in response.content
    assert signed_in_as(client) is None
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert (event.organization_id, event.actor_id, event.object_id) == (membership.organization_id, None, str(user.pk))
    assert event.data == {"email": user.email}
    assert "not-my-password" not in json.dumps(event.data)
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_a_failed_sign_in_with_an_unknown_email_goes_to_the_platform_trail(db, fresh_rate_limits):
    MembershipFactory()

    response = sign_in(Client(), "nobody@example.test", "whatever-password")

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.organization_id is None
    assert event.data == {"email": "nobody@example.test"}


# --- throttling -------------------------------------------------------------------------------


def test_after_five_failures_for_one_email_even_the_right_password_is_refused(db, fresh_rate_limits):
    victim = MembershipFactory().user
    bystander = MembershipFactory().user
    attacker = Client(REMOTE_ADDR="203.0.113.1")
    for _ in range(5):
        response = sign_in(attacker, victim.email, "guess")
        assert response.status_code == 200 and TOO_MANY not in response.content
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 5

    # The account is locked for every address (per-email limit), not just the attacker's …
    owner = Client(REMOTE_ADDR="192.0.2.50")
    response = sign_in(owner, victim.email)
    assert response.status_code == 200 and TOO_MANY in response.content
    assert signed_in_as(owner) is None
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    # … while other people still sign in from elsewhere.
    other = Client(REMOTE_ADDR="192.0.2.51")
    assert sign_in(other, bystander.email).status_code == 302
    assert signed_in_as(other) == bystander.email


def test_after_five_failures_from_one_address_it_is_refused(db, fresh_rate_limits):
    member = MembershipFactory().user
    client = Client(REMOTE_ADDR="203.0.113.2")
    for n in range(5):
        sign_in(client, f"guess{n}@example.test", "guess")

    response = sign_in(client, member.email)

    assert TOO_MANY in response.content
    assert signed_in_as(client) is None


def test_too_many_sign_in_attempts_from_one_address_answer_429(db, fresh_rate_limits):
    # ACCOUNT_RATE_LIMITS["login"] = 30 per minute per address, whatever the outcome.
    client = Client(REMOTE_ADDR="203.0.113.3")
    statuses = [sign_in(client, f"someone{n}@example.test", "guess").status_code for n in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


# --- sign-up is by invitation only --------------------------------------------------------------


def test_sign_up_is_closed(db, fresh_rate_limits):
    client = Client()
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert b"Sign Up Closed" in page.content

    response = client.post("/accounts/signup/", {"email": "walk-in@example.test", "password1": "a-Long-pass-42!",
                                                 "password2": "a-Long-pass-42!"})
    assert b"Sign Up Closed" in response.content
    assert not User.objects.filter(email="walk-in@example.test").exists()
    assert signed_in_as(client) is None


# --- password hashing outside the test settings -----------------------------------------------


@pytest.mark.slow
def test_passwords_are_hashed_with_argon2_outside_the_test_suite(tmp_path):
    code = """
    import json
    import django
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from apps.accounts.services import user_create
    user = user_create(email="argon@example.test", password="a-Long-pass-42!")
    user.refresh_from_db()
    print(json.dumps({"first": settings.PASSWORD_HASHERS[0], "stored": user.password,
                      "checks": user.check_password("a-Long-pass-42!"), "wrong": user.check_password("nope")}))
    """
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings",
           "DJANGO_ENV": "development", "QUORUM_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["first"] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert shown["stored"].startswith("argon2$argon2id$")
    assert "a-Long-pass-42!" not in shown["stored"]
    assert (shown["checks"], shown["wrong"]) == (True, False)


# --- MFA in PHI organizations -----------------------------------------------------------------


@pytest.fixture
def phi_member(db):
    return MembershipFactory(organization=OrganizationFactory(phi=True), role="annotator")


def test_a_phi_member_without_totp_is_stopped_until_they_set_it_up(phi_member):
    user = phi_member.user
    api = session_client(user)
    response = api.get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"

    browser = Client()
    browser.force_login(user)
    page = browser.get("/")
    assert page.status_code == 302 and page["Location"] == reverse("mfa_activate_totp")

    TOTP.activate(user, generate_totp_secret())

    response = api.get("/api/v1/me")
    assert response.status_code == 200 and response.json()["email"] == user.email
    assert browser.get("/").status_code == 200


def test_api_tokens_of_a_phi_member_are_not_asked_for_totp(phi_member):
    _, secret = token_create(organization=phi_member.organization, actor=phi_member.user, actor_role="annotator",
                             name="pipeline", role="annotator")
    response = token_client(secret).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["organization"]["phi"] is True


@pytest.mark.parametrize("header", ["Basic Zm9vOmJhcg==", "Session please", "x", "Token not-a-real-secret"])
def test_an_authorization_header_is_no_way_around_the_totp_requirement(phi_member, header):
    api = session_client(phi_member.user)
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/me")
    if header.startswith("Token"):
        assert response.status_code == 401  # a token call stands on its token alone, never on the session
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "mfa_required"

    browser = Client(HTTP_AUTHORIZATION=header)
    browser.force_login(phi_member.user)
    page = browser.get("/")
    assert page.status_code == 302 and page["Location"] == reverse("mfa_activate_totp")


def test_members_of_other_organizations_are_not_asked_for_totp(db):
    user = MembershipFactory(organization=OrganizationFactory(phi=False)).user
    # A removed PHI membership no longer counts either.
    MembershipFactory(user=user, organization=OrganizationFactory(phi=True), status=Membership.Status.REMOVED)
    assert session_client(user).get("/api/v1/me").status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()


def _current_code(secret):
    counters = list(yield_hotp_counters_from_time())  # [now - tolerance, …, now + tolerance]
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def test_a_phi_member_can_set_up_totp_in_the_browser_and_is_then_asked_for_a_code(phi_member, fresh_rate_limits):
    user = phi_member.user
    browser = Client()
    assert sign_in(browser, user.email).status_code == 302

    # Every page sends them to the TOTP setup; allauth first asks for the password again (all of it
    # under /accounts/, which the PHI gate lets through), then shows the secret to enter in the app.
    page = browser.get("/", follow=True)
    chain = [url for url, _ in page.redirect_chain]
    assert chain[0] == reverse("mfa_activate_totp")
    assert chain[1].startswith(reverse("account_reauthenticate")) and page.status_code == 200
    assert signed_in_as(browser) is None  # the API stays closed to them meanwhile
    page = browser.post(chain[1], {"password": DEFAULT_PASSWORD}, follow=True)
    assert page.request["PATH_INFO"] == reverse("mfa_activate_totp") and page.status_code == 200
    secret = re.search(r'id="authenticator_secret"\s+value="([A-Z2-7]+)"', page.content.decode()).group(1)

    done = browser.post(reverse("mfa_activate_totp"), {"code": _current_code(secret)})
    assert done.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert browser.get("/").status_code == 200
    assert signed_in_as(browser) == user.email

    # Next time, the password alone does not sign them in.
    later = Client()
    response = sign_in(later, user.email)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert signed_in_as(later) is None
    response = later.post(reverse("mfa_authenticate"), {"code": _current_code(secret)})
    assert signed_in_as(later) == user.email

"""Joining by invitation: the emailed link, setting a password, existing accounts, used and expired links."""

import datetime as dt
import re

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.orgs.models import Invitation, Membership

from ..factories import DEFAULT_PASSWORD

NEW_PASSWORD = "Quokka-jumps-42-times"


@pytest.fixture
def invite(tenant, as_role, mailoutbox, django_capture_on_commit_callbacks):
    """`invite(email, role)` as the tenant's manager → (response body, invitation path from the email)."""

    def make(email, role="annotator"):
        sent_before = len(mailoutbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = as_role("manager").post("/api/v1/members", {"email": email, "role": role}, format="json")
        assert response.status_code == 201, response.content
        assert len(mailoutbox) == sent_before + 1
        message = mailoutbox[-1]
        assert message.to == [email.lower()]
        path = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", message.body).group(1)
        return response.json(), path

    return make


def test_inviting_answers_201_and_emails_a_link(tenant, invite, mailoutbox):
    body, path = invite("New.Person@Example.test", "reviewer")
    assert {k: body[k] for k in ("email", "role", "status")} == {
        "email": "new.person@example.test", "role": "reviewer", "status": "invited"}
    assert isinstance(body["id"], int)
    assert tenant.org.name in mailoutbox[0].subject
    assert "reviewer" in mailoutbox[0].body


def test_a_new_person_sets_a_password_and_joins(tenant, invite, as_role):
    body, path = invite("newbie@example.test", "annotator")
    browser = Client()

    page = browser.get(path)
    assert page.status_code == 200
    assert b"newbie@example.test" in page.content and b"Choose a password" in page.content

    response = browser.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"

    # Signed in, in the organization that invited them, with the invited role.
    me = browser.get("/api/v1/me").json()
    assert (me["email"], me["role"], me["organization"]["slug"]) == ("newbie@example.test", "annotator", "acme")
    member = as_role("manager").get(f"/api/v1/members/{body['id']}").json()
    assert member["status"] == "active" and member["joined_at"] is not None
    assert EmailAddress.objects.get(email="newbie@example.test").verified is True
    join = AuditEvent.objects.get(action="member.join", organization=tenant.org)
    assert (join.object_id, join.actor.email) == (str(body["id"]), "newbie@example.test")

    # The password they chose works on the ordinary sign-in page (the email counts as verified).
    cache.clear()
    again = Client()
    assert again.post("/accounts/login/", {"login": "newbie@example.test", "password": NEW_PASSWORD}).status_code == 302
    assert again.get("/api/v1/me").json()["email"] == "newbie@example.test"


def test_the_passwords_must_match_and_be_strong(invite):
    body, path = invite("careful@example.test")
    browser = Client()
    for password1, password2 in [(NEW_PASSWORD, NEW_PASSWORD + "x"), ("password", "password"), ("12345", "12345")]:
        response = browser.post(path, {"password1": password1, "password2": password2})
        assert response.status_code == 200
        assert response.context["form"].errors
    assert Membership.objects.get(pk=body["id"]).status == Membership.Status.INVITED
    assert browser.get("/api/v1/me").status_code == 401
    assert not AuditEvent.objects.filter(action="member.join").exists()


def test_a_link_works_only_once(invite):
    _, path = invite("once@example.test")
    assert Client().post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 302

    stranger = Client()
    page = stranger.get(path)
    assert page.status_code == 404 and b"Invitation not valid" in page.content
    response = stranger.post(path, {"password1": "Another-pass-77", "password2": "Another-pass-77"})
    assert response.status_code == 404
    assert stranger.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(action="member.join").count() == 1


def test_an_expired_link_is_refused(invite):
    body, path = invite("late@example.test")
    Invitation.objects.filter(membership_id=body["id"]).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    browser = Client()

    page = browser.get(path)
    assert page.status_code == 404 and b"Invitation not valid" in page.content
    assert browser.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 404
    assert Membership.objects.get(pk=body["id"]).status == Membership.Status.INVITED


def test_an_unknown_link_is_refused(db):
    page = Client().get("/invitations/not-a-real-key/")
    assert page.status_code == 404 and b"Invitation not valid" in page.content


def test_someone_with_an_account_signs_in_and_accepts_with_one_click(tenant, other_tenant, invite, as_role):
    existing = other_tenant.user("viewer")  # has a password already
    password_before = existing.password
    body, path = invite(existing.email, "reviewer")

    browser = Client()
    page = browser.get(path)
    assert page.status_code == 200
    assert b"Sign in as" in page.content and b"Choose a password" not in page.content
    # A stranger with the link cannot set this person's password.
    browser.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    existing.refresh_from_db()
    assert existing.password == password_before
    assert Membership.objects.get(pk=body["id"]).status == Membership.Status.INVITED

    # The page's sign-in link comes back to the invitation.
    cache.clear()
    login_url = re.search(r'href="(/accounts/login/\?next=[^"]+)"', page.content.decode()).group(1)
    signed_in = browser.post(login_url, {"login": existing.email, "password": DEFAULT_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == path

    confirm = browser.get(path)
    assert confirm.status_code == 200 and b"Accept" in confirm.content
    accepted = browser.post(path)
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    assert as_role("manager").get(f"/api/v1/members/{body['id']}").json()["status"] == "active"
    # Now in two organizations; the session acts in the one just joined.
    me = browser.get("/api/v1/me").json()
    assert (me["organization"]["slug"], me["role"]) == ("acme", "reviewer")
    assert {o["slug"] for o in me["organizations"]} == {"acme", "globex"}
    assert AuditEvent.objects.filter(action="member.join", organization=tenant.org,
                                     actor=existing).count() == 1


def test_signed_in_as_someone_else_the_invitation_cannot_be_accepted(tenant, other_tenant, invite):
    invited = other_tenant.user("viewer")
    body, path = invite(invited.email)
    intruder = Client()
    intruder.force_login(other_tenant.user("annotator"))

    page = intruder.get(path)
    assert page.status_code == 200 and b"Sign in as" in page.content
    response = intruder.post(path)
    assert response.status_code == 200 and b"Sign in as" in response.content

    assert Membership.objects.get(pk=body["id"]).status == Membership.Status.INVITED
    assert not AuditEvent.objects.filter(action="member.join").exists()
    assert Invitation.objects.get(membership_id=body["id"]).accepted_at is None

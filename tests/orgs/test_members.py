"""Members: invitations, role changes within the granter's power, removal, and the last owner."""

from apps.audit.models import AuditEvent
from apps.orgs.models import ApiToken, Membership


def test_invite_answers_the_documented_shape(tenant, as_role, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("manager").post(
            "/api/v1/members", {"email": "New.Person@Example.test", "role": "annotator"}, format="json"
        )
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("email", "role", "status")} == {
        "email": "new.person@example.test", "role": "annotator", "status": "invited"}
    assert len(mailoutbox) == 1 and "/invitations/" in mailoutbox[0].body


def test_inviting_an_existing_member_is_409(tenant, as_role):
    response = as_role("manager").post("/api/v1/members", {"email": "viewer@acme.test", "role": "annotator"},
                                       format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate"


def test_manager_cannot_invite_or_promote_owners(tenant, as_role):
    manager = as_role("manager")
    assert manager.post("/api/v1/members", {"email": "boss@x.test", "role": "owner"}, format="json").status_code == 403
    target = tenant.member("annotator").pk
    assert manager.patch(f"/api/v1/members/{target}", {"role": "owner"}, format="json").status_code == 403
    owner_id = tenant.member("owner").pk
    assert manager.patch(f"/api/v1/members/{owner_id}", {"role": "viewer"}, format="json").status_code == 403
    assert Membership.objects.get(pk=owner_id).role == "owner"


def test_role_change_is_audited_with_from_and_to(tenant, as_role):
    target = tenant.member("annotator")
    response = as_role("manager").patch(f"/api/v1/members/{target.pk}", {"role": "reviewer"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "reviewer"
    event = AuditEvent.objects.get(action="member.role_change", object_id=str(target.pk))
    assert event.data == {"from": "annotator", "to": "reviewer"}
    assert event.actor == tenant.user("manager") and event.via.startswith("qrm_")


def test_the_last_owner_cannot_leave_or_be_demoted(tenant, as_role):
    owner = tenant.member("owner")
    client = as_role("owner")
    assert client.patch(f"/api/v1/members/{owner.pk}", {"role": "manager"}, format="json").status_code == 409
    assert client.delete(f"/api/v1/members/{owner.pk}").status_code == 409
    client.post("/api/v1/members", {"email": "second@acme.test", "role": "owner"}, format="json")
    second = Membership.objects.get(user__email="second@acme.test")
    Membership.objects.filter(pk=second.pk).update(status="active")
    assert client.patch(f"/api/v1/members/{owner.pk}", {"role": "manager"}, format="json").status_code == 200


def test_removing_a_member_revokes_their_tokens_and_access(tenant, as_role):
    target = tenant.member("reviewer")
    response = as_role("manager").delete(f"/api/v1/members/{target.pk}")
    assert response.status_code == 200 and response.json()["status"] == "removed"
    assert ApiToken.objects.get(user=target.user).revoked_at is not None
    assert as_role("reviewer").get("/api/v1/me").status_code == 401
    # A removed person can be invited again; the membership id stays the same.
    again = as_role("manager").post("/api/v1/members", {"email": "reviewer@acme.test", "role": "annotator"},
                                    format="json")
    assert again.status_code == 201 and again.json()["id"] == target.pk


def test_unknown_role_is_400(tenant, as_role):
    response = as_role("manager").patch(f"/api/v1/members/{tenant.member('viewer').pk}", {"role": "god"},
                                        format="json")
    assert response.status_code == 400
    assert "role" in response.json()["error"]["details"]

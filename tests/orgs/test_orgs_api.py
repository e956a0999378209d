"""Organizations: created by signed-in users, changed by owners, deactivated and never deleted."""

from apps.audit.models import AuditEvent
from apps.orgs.models import Membership, Organization

from ..conftest import session_client
from ..factories import UserFactory


def test_signed_in_user_creates_an_organization_and_owns_it(db):
    user = UserFactory()
    client = session_client(user)
    response = client.post("/api/v1/orgs", {"slug": "lab", "name": "The Lab", "phi": True}, format="json")
    assert response.status_code == 201
    assert response.json() == {"slug": "lab", "name": "The Lab", "phi": True, "is_active": True,
                               "created_at": response.json()["created_at"]}
    assert Membership.objects.get(user=user, organization__slug="lab").role == "owner"
    assert AuditEvent.objects.filter(organization__slug="lab", action="org.create").exists()


def test_duplicate_slug_is_409(db, tenant):
    response = session_client(UserFactory()).post("/api/v1/orgs", {"slug": "acme"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate"


def test_invalid_slug_is_400(db):
    response = session_client(UserFactory()).post("/api/v1/orgs", {"slug": "no spaces!"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["error"]["details"]


def test_tokens_cannot_create_organizations(tenant, as_role):
    response = as_role("owner").post("/api/v1/orgs", {"slug": "other"}, format="json")
    assert response.status_code == 403
    assert not Organization.objects.filter(slug="other").exists()


def test_owner_renames_and_deactivates_but_data_stays(tenant, as_role):
    owner = as_role("owner")
    assert owner.patch("/api/v1/orgs/acme", {"name": "Acme Corp", "phi": True}, format="json").json()["phi"] is True
    response = owner.delete("/api/v1/orgs/acme")
    assert response.status_code == 200 and response.json()["is_active"] is False
    org = Organization.objects.get(slug="acme")
    assert org.deactivated_at is not None
    assert Membership.objects.filter(organization=org).count() == 5
    assert AuditEvent.objects.filter(organization=org, action="org.deactivate").count() == 1


def test_session_user_picks_organization_with_header(db):
    user = UserFactory()
    client = session_client(user)
    client.post("/api/v1/orgs", {"slug": "first"}, format="json")
    client.post("/api/v1/orgs", {"slug": "second"}, format="json")
    assert client.get("/api/v1/me").json()["organization"]["slug"] == "first"
    assert client.get("/api/v1/me", HTTP_X_ORGANIZATION="second").json()["organization"]["slug"] == "second"
    assert {o["slug"] for o in client.get("/api/v1/me").json()["organizations"]} == {"first", "second"}


def test_user_without_organization_is_told_so(db):
    response = session_client(UserFactory()).get("/api/v1/me")
    assert response.status_code == 403
    assert "not a member" in response.json()["error"]["message"]

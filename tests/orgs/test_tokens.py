"""API tokens: shown once, hashed, expiring, revocable, never above their user's role."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.orgs.models import ApiToken

from ..conftest import token_client


def test_create_shows_secret_once_and_stores_only_its_hash(tenant, as_role):
    response = as_role("manager").post("/api/v1/tokens", {"name": "pipeline", "role": "annotator",
                                                          "expires_days": 30}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "name", "role", "prefix", "expires_at", "secret"}
    secret = body["secret"]
    assert secret.startswith(body["prefix"]) and len(secret) > 40
    token = ApiToken.objects.get(pk=body["id"])
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().first())
    listed = as_role("manager").get("/api/v1/tokens").json()["results"]
    assert all("secret" not in item for item in listed)
    assert abs(dt.datetime.fromisoformat(body["expires_at"]) - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(
        minutes=1
    )
    me = token_client(secret).get("/api/v1/me").json()
    assert me["role"] == "annotator" and me["email"] == "manager@acme.test"
    assert AuditEvent.objects.filter(organization=tenant.org, action="token.create", object_id=str(token.pk)).exists()


@pytest.mark.parametrize(
    "holder,role,status",
    [("annotator", "reviewer", 403), ("reviewer", "manager", 403), ("manager", "owner", 403),
     ("viewer", "annotator", 403), ("owner", "owner", 201), ("reviewer", "annotator", 201)],
)
def test_a_token_never_has_more_power_than_its_user(tenant, as_role, holder, role, status):
    response = as_role(holder).post("/api/v1/tokens", {"name": "x", "role": role}, format="json")
    assert response.status_code == status


def test_expired_token_is_401(tenant):
    token = ApiToken.objects.get(user=tenant.user("annotator"))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = token_client(tenant.secrets["annotator"]).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "not_authenticated", "message": "token expired", "details": {}}
    assert response["WWW-Authenticate"] == "Token"


def test_revoked_token_stops_working(tenant, as_role):
    token = ApiToken.objects.get(user=tenant.user("reviewer"))
    assert as_role("reviewer").get("/api/v1/me").status_code == 200
    assert as_role("manager").delete(f"/api/v1/tokens/{token.pk}").status_code == 204
    response = as_role("reviewer").get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "token revoked"
    assert AuditEvent.objects.filter(action="token.revoke", object_id=str(token.pk)).count() == 1


def test_manager_cannot_revoke_an_owner_token(tenant, as_role):
    owner_token = ApiToken.objects.get(user=tenant.user("owner"))
    response = as_role("manager").delete(f"/api/v1/tokens/{owner_token.pk}")
    assert response.status_code == 403
    assert as_role("owner").get("/api/v1/me").status_code == 200


def test_last_used_is_written_at_most_once_a_minute(tenant, as_role, django_assert_max_num_queries):
    token = ApiToken.objects.get(user=tenant.user("viewer"))
    assert token.last_used_at is None
    client = as_role("viewer")
    client.get("/api/v1/me")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    for _ in range(3):
        client.get("/api/v1/me")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get("/api/v1/me")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_me_with_token_costs_few_queries(tenant, as_role, django_assert_max_num_queries):
    client = as_role("annotator")
    client.get("/api/v1/me")  # first use writes last_used_at
    with django_assert_max_num_queries(4):
        assert client.get("/api/v1/me").status_code == 200


def test_lowering_a_members_role_revokes_their_stronger_tokens(tenant, as_role):
    response = as_role("owner").patch(f"/api/v1/members/{tenant.member('manager').pk}", {"role": "annotator"},
                                      format="json")
    assert response.status_code == 200
    assert as_role("manager").get("/api/v1/me").status_code == 401


def test_service_account_tokens_are_distinct_members(tenant, as_role):
    made = [as_role("manager").post("/api/v1/tokens", {"name": "etl", "role": "annotator",
                                                      "service_account": True}, format="json").json()
            for _ in range(2)]
    users = {token_client(m["secret"]).get("/api/v1/me").json()["email"] for m in made}
    assert len(users) == 2 and all(u.endswith("@service.quorum.invalid") for u in users)
    assert as_role("annotator").post("/api/v1/tokens", {"name": "x", "role": "annotator", "service_account": True},
                                     format="json").status_code == 403


@pytest.mark.parametrize("body,field", [({"role": "annotator"}, "name"), ({"name": "x", "role": "chief"}, "role"),
                                        ({"name": "x", "role": "viewer", "expires_days": 0}, "expires_days")])
def test_invalid_token_requests_are_400_with_field(tenant, as_role, body, field):
    response = as_role("owner").post("/api/v1/tokens", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]


def test_deactivated_organization_tokens_stop_working(tenant, as_role):
    assert as_role("owner").delete(f"/api/v1/orgs/{tenant.org.slug}").status_code == 200
    assert as_role("annotator").get("/api/v1/me").status_code == 401

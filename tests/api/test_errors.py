"""The error envelope of API.md on every kind of failure, inside and outside DRF."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.orgs.middleware import ApiErrorMiddleware
from apps.orgs.throttling import ActorRateThrottle

from ..conftest import session_client


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_route_is_404_envelope(db, api_client, settings, debug):
    settings.DEBUG = debug
    assert_envelope(api_client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_unknown_page_is_html_404(db, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


def test_wrong_method_is_405(tenant, as_role):
    assert_envelope(as_role("owner").put("/api/v1/me", {}, format="json"), 405, "method_not_allowed")


def test_malformed_json_is_400(tenant, as_role):
    response = as_role("owner").post("/api/v1/tokens", "{not json", content_type="application/json")
    assert_envelope(response, 400, "validation_error")


def test_unsupported_media_type_is_415(tenant, as_role):
    response = as_role("owner").post("/api/v1/tokens", "name=x", content_type="text/plain")
    assert_envelope(response, 415, "unsupported_media_type")


def test_validation_error_names_fields(tenant, as_role):
    error = assert_envelope(as_role("owner").post("/api/v1/members", {"email": "nope"}, format="json"),
                            400, "validation_error")
    assert set(error["details"]) == {"email", "role"}


def test_throttled_is_429_with_retry_after(tenant, as_role, monkeypatch):
    cache.clear()
    monkeypatch.setitem(ActorRateThrottle.THROTTLE_RATES, "actor", "3/min")
    client = as_role("viewer")
    statuses = [client.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    error = assert_envelope(client.get("/api/v1/me"), 429, "throttled")
    assert 0 < error["details"]["retry_after"] <= 60
    # Throttling is per token: another member is not affected.
    assert as_role("manager").get("/api/v1/me").status_code == 200
    cache.clear()


def test_csrf_failure_on_session_write_is_403_envelope(tenant):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(tenant.user("owner"))
    response = client.post("/api/v1/tokens", {"name": "x", "role": "viewer"}, format="json")
    assert_envelope(response, 403, "permission_denied")


def test_unexpected_exception_under_api_is_500_envelope(db):
    request = RequestFactory().get("/api/v1/me")
    response = ApiErrorMiddleware(lambda r: None).process_exception(request, RuntimeError("boom"))
    assert response.status_code == 500
    assert b'"code": "server_error"' in response.content or b'"code":"server_error"' in response.content
    assert b"boom" not in response.content


def test_session_user_of_no_such_org_header_is_404(tenant):
    response = session_client(tenant.user("owner")).get("/api/v1/me", HTTP_X_ORGANIZATION="nope")
    assert_envelope(response, 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/members/abc", "/api/v1/tokens/99999999999999999999999",
                                  "/api/v1/jobs/-1", "/api/v1/members/1.5"])
def test_malformed_ids_are_404_not_500(tenant, as_role, path):
    for method in ("get", "patch", "delete"):
        assert_envelope(getattr(as_role("owner"), method)(path, {}, format="json"), 404, "not_found")


def test_bad_cursor_is_a_clean_error(tenant, as_role):
    response = as_role("owner").get("/api/v1/members?cursor=not-a-cursor")
    assert_envelope(response, 404, "not_found")


def test_page_size_is_capped_at_1000(tenant, as_role):
    from django.utils import timezone

    from apps.audit.models import AuditEvent

    AuditEvent.objects.bulk_create(
        AuditEvent(organization=tenant.org, at=timezone.now(), action="bulk.test", digest="0" * 64)
        for _ in range(1005)
    )
    body = as_role("owner").get("/api/v1/audit?action=bulk.test&page_size=100000").json()
    assert len(body["results"]) == 1000 and body["next"] is not None
    rest = as_role("owner").get(body["next"]).json()
    assert len(rest["results"]) == 5 and rest["next"] is None


@pytest.mark.parametrize("query", ["actor_id=abc", "since=yesterday", "actor_id=99999999999999999999999"])
def test_bad_filters_are_400_naming_the_filter(tenant, as_role, query):
    error = assert_envelope(as_role("owner").get(f"/api/v1/audit?{query}"), 400, "validation_error")
    assert query.split("=")[0] in error["details"]


def test_audit_filters_by_actor_and_time(tenant, as_role):
    manager = tenant.user("manager")
    everything = as_role("owner").get(f"/api/v1/audit?actor_id={manager.pk}&page_size=1000").json()["results"]
    assert everything and {e["actor"] for e in everything} == {manager.pk}
    assert as_role("owner").get("/api/v1/audit?since=2999-01-01T00:00:00Z").json()["results"] == []


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; indent=2"])
def test_json_is_answered_to_any_client_that_takes_it(tenant, as_role, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = as_role("viewer").get("/api/v1/me", **headers)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["role"] == "viewer"


def test_a_client_that_takes_no_json_is_406(tenant, as_role):
    response = as_role("viewer").get("/api/v1/me", HTTP_ACCEPT="text/html")
    assert response.status_code == 406 and response.json()["error"]["code"] == "not_acceptable"

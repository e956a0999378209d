from .. import conftest


def test_me_shows_caller_org_and_role(tenant, as_role):
    response = as_role("reviewer").get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "reviewer@acme.test"
    assert body["role"] == "reviewer"
    assert body["organization"] == {"slug": "acme", "name": "Acme", "phi": False}
    assert body["membership"] == tenant.member("reviewer").pk


def test_me_with_trailing_slash_and_session(tenant):
    client = conftest.session_client(tenant.user("viewer"))
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


def test_me_without_credentials_is_401_envelope(db, api_client):
    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"

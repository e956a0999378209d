"""The OpenAPI document is complete, valid, and served with offline Swagger UI."""

import re

import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate


def _api_routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        pattern = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry.url_patterns, pattern)
        elif isinstance(entry, URLPattern) and pattern.startswith("api/v1/") and pattern != "api/v1/":
            yield pattern


def _normalise(route):
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route).replace("{pk}", "{id}")
    return "/" + route.replace("/?", "").rstrip("/")


def test_schema_is_valid_openapi_3(db, client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    validate(document)
    assert "tokenAuth" in document["components"]["securitySchemes"]


def test_every_api_route_is_documented(db, client):
    document = yaml.safe_load(client.get("/api/schema/").content)
    documented = {path.rstrip("/") for path in document["paths"]}
    undocumented = {
        route for route in map(_normalise, _api_routes())
        if route not in documented and route not in {"/api/v1/healthz"}
    }
    assert undocumented == set()
    assert {"/api/v1/me", "/api/v1/members/{id}", "/api/v1/audit/verify"} <= documented


def test_swagger_ui_is_served_without_a_cdn(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not src.startswith(("http://", "https://", "//")), src
    # The Content-Security-Policy allows no inline script: every script is a file of this site.
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == []
    init = re.search(r'<script src="(/api/docs/[^"]*)"', html).group(1)
    script = client.get(init)
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content

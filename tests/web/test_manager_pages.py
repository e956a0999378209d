"""The reviewer view and the manager pages through Django's test client: each renders for a manager, the role
matrix (403 for a role a page is not for), other organizations' projects are 404, and the create form."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.audit.services import record
from apps.projects.models import Project
from apps.projects.services import project_create

from ..conftest import session_client as browser

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text",
                                   "labels": [{"value": "positive", "hotkey": "1"},
                                              {"value": "negative", "hotkey": "2"}]}}}

# Pages without an object, and who may open them (everyone else signed in: 403).
PAGES = {
    "/app/projects/": {"owner", "manager", "viewer"},
    "/app/projects/new/": {"owner", "manager"},
    "/app/review/": {"owner", "manager", "reviewer"},
    "/app/workforce/": {"owner", "manager"},
    "/app/tokens/": {"owner", "manager", "reviewer", "annotator", "viewer"},
    "/app/audit/": {"owner", "manager"},
}
# Pages of one project ({id}), and who may open them.
PROJECT_PAGES = {
    "/app/projects/{id}/": {"owner", "manager", "viewer"},
    "/app/projects/{id}/import/": {"owner", "manager"},
    "/app/projects/{id}/quality/": {"owner", "manager", "viewer"},
    "/app/projects/{id}/exports/": {"owner", "manager"},
    "/app/review/{id}/": {"owner", "manager", "reviewer"},
}
ROLES = ["owner", "manager", "reviewer", "annotator", "viewer"]


@pytest.fixture
def project(tenant):
    return project_create(organization=tenant.org, actor=tenant.user("manager"), name="Reviews", label_schema=SPEC)


@pytest.fixture
def foreign_project(other_tenant):
    return project_create(organization=other_tenant.org, actor=other_tenant.user("manager"), name="Theirs",
                          label_schema=SPEC)


ROLE_CASES = [(path, role, role in allowed) for path, allowed in PAGES.items() for role in ROLES]
PROJECT_ROLE_CASES = [(path, role, role in allowed) for path, allowed in PROJECT_PAGES.items() for role in ROLES]


@pytest.mark.parametrize(("path", "role", "allowed"), ROLE_CASES)
def test_page_roles(tenant, project, path, role, allowed):
    response = browser(tenant.user(role)).get(path)
    assert response.status_code == (200 if allowed else 403), response.content[:300]


@pytest.mark.parametrize(("path", "role", "allowed"), PROJECT_ROLE_CASES)
def test_project_page_roles(tenant, project, path, role, allowed):
    response = browser(tenant.user(role)).get(path.format(id=project.pk))
    assert response.status_code == (200 if allowed else 403), response.content[:300]


@pytest.mark.parametrize("path", [*PAGES, *PROJECT_PAGES])
def test_pages_require_sign_in(db, path):
    response = Client().get(path.format(id=1))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", list(PROJECT_PAGES))
def test_another_organizations_project_is_404(tenant, foreign_project, path):
    response = browser(tenant.user("owner")).get(path.format(id=foreign_project.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("path", list(PROJECT_PAGES))
def test_a_missing_or_deleted_project_is_404(tenant, project, path):
    Project.objects.filter(pk=project.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert browser(tenant.user("manager")).get(path.format(id=project.pk)).status_code == 404
    assert browser(tenant.user("manager")).get(path.format(id=999999)).status_code == 404


@pytest.mark.parametrize("path", [*PAGES, *PROJECT_PAGES])
def test_pages_have_no_inline_script_and_load_their_js(tenant, project, path):
    response = browser(tenant.user("owner")).get(path.format(id=project.pk))
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'\sstyle="', html), "inline style (CSP style-src 'self')"
    assert "/static/js/manage/api.js" in html
    assert "Content-Security-Policy" in response.headers


def test_the_project_list_shows_only_my_organizations_projects(tenant, project, foreign_project):
    html = browser(tenant.user("manager")).get("/app/projects/").content.decode()
    assert "Reviews" in html and "Theirs" not in html
    assert f'href="/app/projects/{project.pk}/"' in html


def test_the_dashboard_names_its_socket_project_and_the_chart(tenant, project):
    html = browser(tenant.user("manager")).get(f"/app/projects/{project.pk}/").content.decode()
    assert f'data-project="{project.pk}"' in html and 'id="throughput"' in html
    assert "/static/js/manage/dashboard.js" in html


def test_create_a_project_with_the_schema_builders_json(tenant):
    client = browser(tenant.user("manager"))
    response = client.post("/app/projects/new/", {
        "name": "Built", "schema_source": "builder", "label_schema": json.dumps(SPEC), "overlap": 3,
        "review_mode": "sample", "review_fraction": 0.25, "instructions": "Be careful"})
    project = Project.objects.get(organization=tenant.org, name="Built")
    assert response.status_code == 302 and response["Location"] == f"/app/projects/{project.pk}/import/"
    assert project.settings["overlap"] == 3
    assert project.settings["review_policy"] == {"mode": "sample", "fraction": 0.25}
    assert project.current_schema.spec["controls"]["sentiment"]["type"] == "choices"


def test_create_a_project_from_a_label_studio_config(tenant):
    config = ('<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
              '<Label value="quokka"/></RectangleLabels></View>')
    response = browser(tenant.user("owner")).post("/app/projects/new/", {
        "name": "Boxes", "schema_source": "xml", "label_config": config, "overlap": 1, "review_mode": "none"})
    assert response.status_code == 302
    project = Project.objects.get(organization=tenant.org, name="Boxes")
    assert project.current_schema.spec["controls"]["box"]["type"] == "bbox"


@pytest.mark.parametrize(("data", "message"), [
    ({"schema_source": "builder", "label_schema": "{not json"}, "Not valid JSON"),
    ({"schema_source": "builder", "label_schema": json.dumps({"data": {}, "controls": {"x": {"type": "nope"}}})},
     "invalid label_schema"),
    ({"schema_source": "xml", "label_config": "<View><Nope/>"}, "invalid label_config"),
    ({"schema_source": "xml", "label_config": ""}, "Paste a Label Studio config"),
])
def test_a_bad_schema_is_shown_on_the_form_and_nothing_is_made(tenant, data, message):
    response = browser(tenant.user("manager")).post("/app/projects/new/", {
        "name": "Bad", "overlap": 1, "review_mode": "none", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Project.objects.filter(name="Bad").exists()


def test_an_annotator_cannot_create_a_project(tenant):
    response = browser(tenant.user("annotator")).post("/app/projects/new/", {
        "name": "Nope", "schema_source": "builder", "label_schema": json.dumps(SPEC), "overlap": 1,
        "review_mode": "none"})
    assert response.status_code == 403 and not Project.objects.filter(name="Nope").exists()


def test_the_audit_log_shows_my_organization_filtered_and_paginated(tenant, other_tenant, project):
    for n in range(60):
        record(action="test.event", organization=tenant.org, actor=tenant.user("owner"), object_type="thing",
               object_id=str(n))
    record(action="test.secret", organization=other_tenant.org, actor=other_tenant.user("owner"))
    client = browser(tenant.user("manager"))
    html = client.get("/app/audit/").content.decode()
    assert "test.event" in html and "test.secret" not in html  # newest first: project.create is on page 2
    assert "Page 1 of 2" in html
    filtered = client.get("/app/audit/", {"action_prefix": "project.", "since": "2000-01-01"}).content.decode()
    assert "project.create" in filtered and "test.event" not in filtered
    by_object = client.get("/app/audit/", {"object_type": "thing", "object_id": "7"}).content.decode()
    assert "1 event" in by_object
    bad = client.get("/app/audit/", {"since": "yesterday", "actor_id": "x"})
    assert bad.status_code == 200 and "a date as YYYY-MM-DD" in bad.content.decode()


def test_the_tokens_page_offers_only_roles_the_caller_may_grant(tenant):
    html = browser(tenant.user("reviewer")).get("/app/tokens/").content.decode()
    roles = re.findall(r'<option value="(\w+)"', html)
    assert set(roles) == {"reviewer", "annotator"}
    assert "Service account" not in html
    manager = browser(tenant.user("manager")).get("/app/tokens/").content.decode()
    assert "Service account" in manager and 'value="owner"' not in manager


def test_the_review_list_counts_what_waits(tenant, project):
    html = browser(tenant.user("reviewer")).get("/app/review/").content.decode()
    assert "Reviews" in html and f'href="/app/review/{project.pk}/"' in html


def test_the_reviewer_view_carries_the_spec_for_the_js(tenant, project):
    html = browser(tenant.user("reviewer")).get(f"/app/review/{project.pk}/").content.decode()
    spec = json.loads(re.search(r'<script id="review-spec" type="application/json">(.*?)</script>', html, re.S)[1])
    assert spec["controls"]["sentiment"]["type"] == "choices"


def test_an_annotator_page_of_another_organization_is_404(tenant, other_tenant):
    client = browser(tenant.user("manager"))
    assert client.get(f"/app/workforce/annotators/{tenant.member('annotator').pk}/").status_code == 200
    assert client.get(f"/app/workforce/annotators/{other_tenant.member('annotator').pk}/").status_code == 404


def _csrf_browser(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/app/projects/")  # sets the csrftoken cookie
    return client, client.cookies["csrftoken"].value


def test_the_import_pages_upload_reaches_the_import_api_with_a_session_and_its_csrf_token(tenant, project):
    client, token = _csrf_browser(tenant.user("manager"))
    upload = SimpleUploadedFile("rows.jsonl", b'{"text": "one"}\n{"text": "two"}\n{"text": "one"}\n')
    response = client.post(f"/api/v1/projects/{project.pk}/import?on_duplicate=skip", {"file": upload},
                           HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2 and response.json()["duplicates"] == 1
    refused = client.post(f"/api/v1/projects/{project.pk}/import",
                          {"file": SimpleUploadedFile("rows.jsonl", b'{"text": "three"}\n')})
    assert refused.status_code == 403  # no CSRF token


def test_the_import_upload_keeps_the_api_rules(tenant, project, foreign_project):
    annotator, token = _csrf_browser(tenant.user("annotator"))
    response = annotator.post(f"/api/v1/projects/{project.pk}/import",
                              {"file": SimpleUploadedFile("rows.jsonl", b'{"text": "x"}\n')},
                              HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    manager, token = _csrf_browser(tenant.user("manager"))
    response = manager.post(f"/api/v1/projects/{foreign_project.pk}/import",
                            {"file": SimpleUploadedFile("rows.jsonl", b'{"text": "x"}\n')},
                            HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert manager.get(f"/api/v1/projects/{project.pk}/import").status_code == 405


def test_a_large_upload_answers_with_the_import_job_to_follow(tenant, project, settings, own_celery_queue):
    settings.IMPORT_ASYNC_BYTES = 10
    client, token = _csrf_browser(tenant.user("manager"))
    upload = SimpleUploadedFile("rows.jsonl", b'{"text": "one"}\n{"text": "two"}\n')
    response = client.post(f"/api/v1/projects/{project.pk}/import", {"file": upload},
                           HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["status"] in {"queued", "running", "succeeded"}

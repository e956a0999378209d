"""The annotator workspace's pages through Django's test client: login, roles, tenants, CSP, no inline script."""

import io
import json
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from apps.orgs.tenancy import SESSION_KEY
from apps.projects.services import project_create
from apps.tasks.imports import tasks_import
from apps.tasks.models import Task

from ..factories import MembershipFactory

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "labels": [
            {"value": "positive", "hotkey": "1"}, {"value": "negative", "hotkey": "2"}]}}}
PAGES = ["/app/", "/app/me/stats/", "/app/me/earnings/"]


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def project(tenant):
    return project_create(organization=tenant.org, actor=tenant.user("manager"), name="Reviews", label_schema=SPEC,
                          instructions="Is the review **positive**?")


@pytest.mark.parametrize("path", [*PAGES, "/app/label/1/"])
def test_pages_require_login(db, path):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", PAGES)
def test_an_annotator_sees_their_pages_with_the_annotator_nav(tenant, project, path):
    response = browser(tenant.user("annotator")).get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/app/me/stats/"' in html and 'href="/app/me/earnings/"' in html
    assert 'href="/app/projects/"' not in html and 'href="/app/admin/"' not in html  # no manager links
    assert 'href="/app/review/"' not in html


def test_my_projects_lists_the_open_project_with_a_start_link(tenant, project):
    html = browser(tenant.user("annotator")).get("/app/").content.decode()
    assert "Reviews" in html and f'href="/app/label/{project.pk}/"' in html


def test_managers_and_reviewers_get_their_links(tenant, project):
    manager = browser(tenant.user("manager")).get("/app/").content.decode()
    assert all(f'href="/app/{part}/"' in manager for part in ("projects", "workforce", "tokens", "audit", "admin"))
    reviewer = browser(tenant.user("reviewer")).get("/app/").content.decode()
    assert 'href="/app/review/"' in reviewer and 'href="/app/projects/"' not in reviewer


def test_the_label_page_renders_the_spec_and_the_instructions(tenant, project):
    response = browser(tenant.user("annotator")).get(f"/app/label/{project.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>positive</strong>" in html  # instructions rendered from Markdown
    assert '"hotkey": "1"' in html  # the spec, as JSON data for the workspace script


def test_another_organizations_project_label_page_is_404(tenant, other_tenant, project):
    assert browser(other_tenant.user("annotator")).get(f"/app/label/{project.pk}/").status_code == 404
    assert browser(other_tenant.user("manager")).get(f"/app/label/{project.pk}/").status_code == 404
    assert browser(tenant.user("annotator")).get("/app/label/999999999/").status_code == 404


def test_a_viewer_cannot_open_the_label_page(tenant, project):
    assert browser(tenant.user("viewer")).get(f"/app/label/{project.pk}/").status_code == 404


def test_the_org_switcher_refuses_an_org_you_are_not_in(tenant, other_tenant):
    client = browser(tenant.user("annotator"))
    response = client.post("/app/org/switch/", {"organization": other_tenant.org.slug, "next": "/app/"})
    assert response.status_code == 404
    assert client.session.get(SESSION_KEY) != other_tenant.org.pk


def test_the_org_switcher_switches_between_my_orgs(tenant, other_tenant, project):
    user = tenant.user("annotator")
    MembershipFactory(organization=other_tenant.org, user=user, role="manager")
    client = browser(user)
    html = client.get("/app/").content.decode()
    assert 'name="organization"' in html and other_tenant.org.slug in html  # the switcher shows both
    response = client.post("/app/org/switch/", {"organization": other_tenant.org.slug, "next": "/app/me/stats/"})
    assert response.status_code == 302 and response["Location"] == "/app/me/stats/"
    assert client.session[SESSION_KEY] == other_tenant.org.pk
    # Now a manager in the other organization, and acme's project is that organization's no more.
    assert 'href="/app/projects/"' in client.get("/app/").content.decode()
    assert client.get(f"/app/label/{project.pk}/").status_code == 404


def test_the_org_switcher_is_post_only(tenant):
    assert browser(tenant.user("annotator")).get("/app/org/switch/").status_code == 405


@pytest.mark.parametrize("path", [*PAGES, "label", "/accounts/login/", "/accounts/password/reset/", "/"])
def test_pages_send_a_strict_csp_and_carry_no_inline_script(tenant, project, path):
    client = Client() if path.startswith("/accounts/") else browser(tenant.user("annotator"))
    response = client.get(f"/app/label/{project.pk}/" if path == "label" else path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handler"
    assert not re.search(r"\sstyle=\"", html), "inline style (CSP style-src 'self')"


def test_task_media_of_a_task_not_mine_is_404(tenant, project):
    task = Task.objects.create(project=project, organization=tenant.org, data={"image": "demo/quokka/quokka.jpg"})
    assert browser(tenant.user("annotator")).get(f"/app/tasks/{task.pk}/media/image/").status_code == 404


def test_the_session_is_renewed_by_each_page_and_ends_after_the_idle_time(tenant, settings):
    client = browser(tenant.user("annotator"))
    response = client.get("/app/")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE  # renewed: the idle clock restarts
    session = client.session
    session.set_expiry(-1)  # as if the idle time had passed
    session.save()
    response = client.get("/app/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/me/projects").json()["error"]["code"] == "not_authenticated"


def test_task_media_by_storage_key_is_served_to_the_lease_holder_under_the_project_prefix(tenant, project):
    key = default_storage.save(f"projects/{project.pk}/pixel.png", ContentFile(b"\x89PNG fake"))
    outside = default_storage.save("elsewhere/pixel.png", ContentFile(b"\x89PNG other"))
    try:
        rows = json.dumps([{"text": "t", "image": key}, {"text": "u", "image": outside}]).encode()
        tasks_import(project=project, actor=tenant.user("manager"), stream=io.BytesIO(rows), fmt="json")
        client = browser(tenant.user("annotator"))
        served = []
        for _ in range(2):
            lease = client.post(f"/api/v1/projects/{project.pk}/next")
            assert lease.status_code == 200
            task = lease.json()["task"]
            response = client.get(f"/app/tasks/{task['id']}/media/image/")
            served.append((task["data"]["image"], response.status_code,
                           b"".join(response.streaming_content) if response.status_code == 200 else b""))
            client.post(f"/api/v1/assignments/{lease.json()['assignment']['id']}/skip")
        assert sorted(served) == sorted([(key, 200, b"\x89PNG fake"), (outside, 404, b"")])
    finally:
        default_storage.delete(key)
        default_storage.delete(outside)

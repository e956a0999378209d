"""Bulk task actions and media uploads."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.models import AuditEvent
from apps.tasks.models import Media, Task

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}


@pytest.fixture
def project(tenant, as_role):
    project = as_role("manager").post("/api/v1/projects", {"name": "P", "label_schema": SPEC}, format="json").json()
    rows = b"\n".join(b'{"text": "t%d"}' % i for i in range(6))
    as_role("manager").generic("POST", f"/api/v1/projects/{project['id']}/import", rows,
                               content_type="application/x-ndjson")
    return project


def bulk(client, project, body):
    return client.post(f"/api/v1/projects/{project['id']}/tasks/bulk", body, format="json")


def test_set_priority_by_ids_and_delete_by_filter(project, as_role):
    ids = list(Task.objects.filter(project_id=project["id"]).order_by("id").values_list("id", flat=True))
    response = bulk(as_role("manager"), project, {"action": "set_priority", "ids": ids[:2], "priority": 9})
    assert response.status_code == 200 and response.json() == {"count": 2}
    assert list(Task.objects.filter(priority=9).values_list("id", flat=True).order_by("id")) == ids[:2]
    assert bulk(as_role("manager"), project, {"action": "delete", "filter": {"status": "new"}}).json() == {"count": 6}
    assert not Task.objects.filter(project_id=project["id"]).exists()
    assert AuditEvent.objects.filter(action="tasks.bulk_delete").exists()


def test_requeue_asks_for_one_more_annotation(project, as_role):
    task = Task.objects.filter(project_id=project["id"]).first()
    Task.objects.filter(pk=task.pk).update(annotations_count=1, status="accepted")
    assert bulk(as_role("manager"), project, {"action": "requeue", "ids": [task.pk]}).json() == {"count": 1}
    task.refresh_from_db()
    assert task.status == "in_progress" and task.target_annotations == 2


def test_bulk_never_reaches_another_project_or_organization(project, as_role, other_tenant):
    from apps.projects.services import project_create

    elsewhere = project_create(organization=other_tenant.org, actor=other_tenant.user("manager"), name="X",
                               label_schema=SPEC)
    foreign = Task.objects.create(organization=other_tenant.org, project=elsewhere, data={"text": "x"},
                                  content_hash="f" * 32)
    assert bulk(as_role("manager"), project, {"action": "delete", "ids": [foreign.pk]}).json() == {"count": 0}
    assert Task.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize("body,field", [({"action": "delete"}, "ids"), ({"action": "explode", "ids": [1]}, "action"),
                                        ({"action": "set_priority", "ids": [1]}, "priority"),
                                        ({"action": "mark_gold", "ids": [1]}, "action")])
def test_bad_bulk_requests_are_400(project, as_role, body, field):
    response = bulk(as_role("manager"), project, body)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_only_managers_bulk(project, as_role):
    for role in ("reviewer", "annotator", "viewer"):
        assert bulk(as_role(role), project, {"action": "delete", "filter": {}}).status_code == 403


def test_upload_images_and_a_zip_then_serve_them(project, as_role, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    png = (FIXTURES / "digits" / "digit_0000_0.png").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("digits/one.png", png)
        z.writestr("../../evil.png", png)  # flattened to its base name, never outside the project's prefix
        z.writestr("__MACOSX/._one.png", b"junk")
    files = [SimpleUploadedFile("quokka.jpg", (FIXTURES / "quokka" / "quokka.jpg").read_bytes()),
             SimpleUploadedFile("batch.zip", archive.getvalue())]
    response = as_role("manager").post(f"/api/v1/projects/{project['id']}/media", {"files": files},
                                       format="multipart")
    assert response.status_code == 201, response.content
    uploaded = response.json()["files"]
    assert [f["name"] for f in uploaded] == ["quokka.jpg", "one.png", "evil.png"]
    assert all(f["key"].startswith(f"projects/{project['id']}/") for f in uploaded)
    assert all((tmp_path / f["key"]).resolve().is_relative_to(tmp_path) for f in uploaded)
    served = as_role("viewer").get(uploaded[1]["url"])
    assert served.status_code == 200 and b"".join(served.streaming_content) == png
    assert served["Content-Type"] == "image/png"
    assert as_role("annotator").get(uploaded[1]["url"]).status_code == 404


def test_media_rejects_other_types_and_other_organizations(project, as_role, other_tenant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    bad = SimpleUploadedFile("run.sh", b"#!/bin/sh")
    response = as_role("manager").post(f"/api/v1/projects/{project['id']}/media", {"files": [bad]},
                                       format="multipart")
    assert response.status_code == 400 and not Media.objects.exists()
    good = SimpleUploadedFile("a.png", (FIXTURES / "digits" / "digit_0001_1.png").read_bytes())
    url = as_role("manager").post(f"/api/v1/projects/{project['id']}/media", {"files": [good]},
                                  format="multipart").json()["files"][0]["url"]
    from ..conftest import token_client

    assert token_client(other_tenant.secrets["owner"]).get(url).status_code == 404

"""Snapshots and exports through the API: frozen labels, deterministic splits, the job, signed downloads, audit."""

import io
import json

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.exports.models import DatasetSnapshot, Export
from apps.exports.tasks import export_run_task, snapshot_create_task
from apps.tasks.models import Annotation
from tests.conftest import make_tenant, token_client

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text",
                                   "labels": [{"value": "pos"}, {"value": "neg"}]}}}
REVIEWS = [json.loads(line)["text"] for line in open("tests/fixtures/rotten_tomatoes.jsonl", encoding="utf-8")]


def choice(label):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def project(tenant, as_role, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    manager = as_role("manager")
    made = manager.post("/api/v1/projects", {"name": "Reviews", "label_schema": SPEC}, format="json").json()
    rows = [{"data": {"text": text}, "annotations": [
        {"completed_by": tenant.user("annotator").email, "result": choice("pos" if i % 3 else "neg")}]}
        for i, text in enumerate(REVIEWS[:30])]
    rows += [{"data": {"text": "no label yet"}}]
    body = manager.post(f"/api/v1/projects/{made['id']}/import", rows, format="json").json()
    assert body["created"] == 31 and not body["errors"], body
    return made


def run_export(manager, project, **body):
    started = manager.post(f"/api/v1/projects/{project['id']}/exports", {"format": "jsonl", **body}, format="json")
    assert started.status_code == 202, started.content
    export = started.json()
    export_run_task.apply(args=[export["job"]])  # what the worker does with the message
    return manager.get(f"/api/v1/exports/{export['id']}").json()


def test_snapshot_freezes_labels_with_a_deterministic_split(project, as_role):
    manager = as_role("manager")
    url = f"/api/v1/projects/{project['id']}/snapshots"
    made = manager.post(url, {"filter": "accepted", "split": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 7},
                        format="json")
    assert made.status_code == 201, made.content
    snapshot = made.json()
    assert snapshot["counts"]["tasks"] == 30 and snapshot["counts"]["unlabeled"] == 1
    assert sum(snapshot["counts"]["splits"].values()) == 30
    again = manager.post(url, {"filter": "accepted", "split": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 7},
                         format="json").json()
    assert again["checksum"] == snapshot["checksum"] and again["id"] != snapshot["id"]
    other_seed = manager.post(url, {"split": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 8}, format="json")
    assert other_seed.json()["checksum"] != snapshot["checksum"]
    stratified = manager.post(url, {"split": {"train": 0.5, "test": 0.5}, "stratify": True}, format="json").json()
    assert stratified["counts"]["splits"] == {"train": 15, "test": 15}
    listed = manager.get(url).json()["results"]
    assert {s["id"] for s in listed} >= {snapshot["id"], again["id"]}
    assert manager.get(f"/api/v1/snapshots/{snapshot['id']}").json()["checksum"] == snapshot["checksum"]
    for bad in ({"split": {"train": 0.5}}, {"split": {"dev": 1.0}}, {"filter": "best"}):
        response = manager.post(url, bad, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error", bad


def test_export_job_download_and_byte_identical_reexport(tenant, project, as_role, api_client):
    manager = as_role("manager")
    done = run_export(manager, project, split={"train": 0.9, "test": 0.1}, seed=3)
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["checksum"], done
    response = manager.get(f"/api/v1/exports/{done['id']}/download")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == 30 and {line["split"] for line in lines} <= {"train", "test"}
    assert all(line["result"][0]["value"]["choices"][0] in ("pos", "neg") for line in lines)
    # The same snapshot again gives the same bytes, even after an annotation changed since.
    annotation = Annotation.objects.filter(project_id=project["id"]).first()
    edited = manager.patch(f"/api/v1/annotations/{annotation.pk}", {"result": choice("neg"), "version": 1},
                           format="json")
    assert edited.status_code == 200, edited.content
    same = run_export(manager, project, snapshot=done["snapshot"])
    assert same["checksum"] == done["checksum"]
    fresh = run_export(manager, project, split={"train": 0.9, "test": 0.1}, seed=3)
    assert fresh["snapshot"] != done["snapshot"]
    # The signed URL works without a token, until it is tampered with.
    signed = done["download_url"]
    assert "sig=" in signed
    path = signed.split("testserver", 1)[-1]
    assert b"".join(api_client.get(path).streaming_content) == body
    assert api_client.get(path[:-3] + "abc").status_code == 404
    assert api_client.get(f"/api/v1/exports/{done['id']}/download").status_code == 401
    actions = list(AuditEvent.objects.filter(organization=tenant.org, action__startswith="export.")
                   .values_list("action", flat=True))
    assert actions.count("export.download") == 2 and "export.start" in actions
    assert AuditEvent.objects.filter(action="snapshot.create").exists()


def test_a_second_identical_request_returns_the_running_export(project, as_role):
    manager = as_role("manager")
    url = f"/api/v1/projects/{project['id']}/exports"
    first = manager.post(url, {"format": "csv", "seed": 1}, format="json").json()
    second = manager.post(url, {"format": "csv", "seed": 1}, format="json").json()
    assert first["id"] == second["id"] and first["job"] == second["job"]
    other = manager.post(url, {"format": "json", "seed": 1}, format="json").json()
    assert other["id"] != first["id"]
    assert Export.objects.filter(project_id=project["id"]).count() == 2
    bad = manager.post(url, {"format": "pdf"}, format="json")
    assert bad.status_code == 400


def test_large_projects_snapshot_as_a_job(project, as_role, settings):
    settings.SNAPSHOT_SYNC_TASKS = 5
    manager = as_role("manager")
    response = manager.post(f"/api/v1/projects/{project['id']}/snapshots", {"filter": "all"}, format="json")
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    snapshot_create_task.apply(args=[job_id])
    job = manager.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["result"]["counts"]["tasks"] == 30
    assert DatasetSnapshot.objects.get(pk=job["result"]["snapshot"]).filter == "all"


def test_roles_and_tenants(tenant, project, as_role):
    manager = as_role("manager")
    done = run_export(manager, project)
    assert as_role("viewer").get(f"/api/v1/exports/{done['id']}").status_code == 200
    assert as_role("viewer").get(f"/api/v1/exports/{done['id']}/download").status_code == 200
    for role in ("annotator", "reviewer", "viewer"):
        refused = as_role(role).post(f"/api/v1/projects/{project['id']}/exports", {"format": "json"}, format="json")
        assert refused.status_code == 403, role
    assert as_role("annotator").get(f"/api/v1/exports/{done['id']}").status_code == 403
    assert as_role("annotator").get(f"/api/v1/exports/{done['id']}/download").status_code == 404
    other = make_tenant("globex")
    outsider = token_client(other.secrets["owner"])
    for url in (f"/api/v1/exports/{done['id']}", f"/api/v1/exports/{done['id']}/download",
                f"/api/v1/snapshots/{done['snapshot']}", f"/api/v1/projects/{project['id']}/exports"):
        assert outsider.get(url).status_code == 404, url


def test_the_export_command_writes_the_file(project, tmp_path):
    out = tmp_path / "reviews.jsonl"
    stdout = io.StringIO()
    call_command("export", str(project["id"]), "--format", "jsonl", "--out", str(out), "--split",
                 "train=0.5,test=0.5", stdout=stdout, stderr=io.StringIO())
    summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
    assert summary["snapshot"] and len(out.read_text().splitlines()) == 30
    assert not (tmp_path / "reviews.jsonl.part").exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("export", "999999", "--format", "jsonl", "--out", str(out), stdout=io.StringIO())


TEXT_FORMATS = ["json", "jsonl", "csv", "label_studio", "parquet", "tfrecord", "spacy"]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_text_format_through_the_job(project, as_role, fmt):
    manager = as_role("manager")
    done = run_export(manager, project, format=fmt, split={"train": 0.8, "test": 0.2})
    assert done["status"] == "succeeded", done
    assert done["size"] > 0 and done["counts"].get("archive") in ("file", "zip")
    data = b"".join(manager.get(f"/api/v1/exports/{done['id']}/download").streaming_content)
    assert data and done["file_name"].startswith(f"project-{project['id']}-snapshot-")
    if fmt == "spacy":
        import zipfile

        import spacy
        from spacy.tokens import DocBin

        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # one DocBin per split
            docs = [doc for name in archive.namelist()
                    for doc in DocBin().from_bytes(archive.read(name)).get_docs(spacy.blank("en").vocab)]
        assert len(docs) == 30 and all(sum(doc.cats.values()) == 1.0 for doc in docs)


def test_formats_that_cannot_carry_the_schema_are_refused(project, as_role):
    manager = as_role("manager")
    for fmt in ("coco", "voc", "yolo", "conll2003"):
        refused = manager.post(f"/api/v1/projects/{project['id']}/exports", {"format": fmt}, format="json")
        assert refused.status_code == 400 and "format" in refused.json()["error"]["details"], fmt


def test_coco_of_the_quokka_through_the_job_reads_back_with_pycocotools(tenant, as_role, settings, tmp_path):
    from pathlib import Path

    from pycocotools.coco import COCO

    settings.MEDIA_ROOT = tmp_path
    manager = as_role("manager")
    spec = {"data": {"image": {"type": "image"}},
            "controls": {"box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]},
                         "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]}}}
    made = manager.post("/api/v1/projects", {"name": "Quokka", "label_schema": spec}, format="json").json()
    fixture = json.loads((Path("tests/fixtures/quokka/annotations.json")).read_text())
    regions = [r for r in fixture if r["from_name"] in ("box", "polygon")]
    rows = [{"data": {"image": "quokka.jpg"}, "annotations": [
        {"completed_by": tenant.user("annotator").email, "result": regions}]}]
    assert manager.post(f"/api/v1/projects/{made['id']}/import", rows, format="json").json()["created"] == 1
    done = run_export(manager, made, format="coco")
    assert done["status"] == "succeeded", done
    path = tmp_path / "coco.json"
    path.write_bytes(b"".join(manager.get(f"/api/v1/exports/{done['id']}/download").streaming_content))
    coco = COCO(str(path))
    (image,) = coco.loadImgs(coco.getImgIds())
    assert (image["width"], image["height"]) == (960, 643)
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
    assert len(annotations) == len(regions)
    box = next(r for r in regions if r["type"] == "rectanglelabels")["value"]
    assert any(a["bbox"][0] == pytest.approx(box["x"] * 9.6, abs=0.01) for a in annotations)


def test_a_large_projects_export_makes_its_snapshot_in_the_job_not_the_request(project, as_role, settings):
    settings.SNAPSHOT_SYNC_TASKS = 5
    manager = as_role("manager")
    started = manager.post(f"/api/v1/projects/{project['id']}/exports", {"format": "jsonl", "seed": 4,
                                                                         "split": {"train": 0.5, "test": 0.5}},
                           format="json")
    assert started.status_code == 202 and started.json()["snapshot"] is None
    assert not DatasetSnapshot.objects.filter(project_id=project["id"]).exists()
    export_run_task.apply(args=[started.json()["job"]])
    done = manager.get(f"/api/v1/exports/{started.json()['id']}").json()
    assert done["status"] == "succeeded" and done["snapshot"]
    snapshot = DatasetSnapshot.objects.get(pk=done["snapshot"])
    assert snapshot.seed == 4 and snapshot.split == {"train": 0.5, "test": 0.5} and snapshot.counts["tasks"] == 30

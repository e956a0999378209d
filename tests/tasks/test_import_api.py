"""POST /projects/{id}/import end to end on PostgreSQL: formats, dedupe, error rows, annotations, limits."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.models import AuditEvent
from apps.tasks.models import Annotation, AnnotationVersion, Prediction, Task

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SPEC = {
    "data": {"text": {"type": "text"}},
    "controls": {"sentiment": {"type": "choices", "to": "text",
                               "labels": [{"value": "fresh"}, {"value": "rotten"}]}},
}


@pytest.fixture
def project(tenant, as_role):
    response = as_role("manager").post("/api/v1/projects", {"name": "RT", "label_schema": SPEC,
                                                            "settings": {"overlap": 2}}, format="json")
    return response.json()


def post(client, project, body, content_type, query=""):
    return client.generic("POST", f"/api/v1/projects/{project['id']}/import{query}", body,
                          content_type=content_type)


def rt_jsonl():
    return (FIXTURES / "rotten_tomatoes.jsonl").read_bytes()


def test_jsonl_import_creates_tasks_and_reimport_only_reports_duplicates(project, as_role):
    manager = as_role("manager")
    response = post(manager, project, rt_jsonl(), "application/x-ndjson", "?return_ids=true")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 300 and body["duplicates"] == 0 and body["errors"] == []
    assert len(body["task_ids"]) == 300 and len(set(body["task_ids"])) == 300
    task = Task.objects.get(pk=body["task_ids"][0])
    assert task.data == json.loads(rt_jsonl().splitlines()[0]) and task.target_annotations == 2
    again = post(manager, project, rt_jsonl(), "application/x-ndjson").json()
    assert (again["created"], again["duplicates"]) == (0, 300)
    assert Task.objects.filter(project_id=project["id"]).count() == 300
    assert AuditEvent.objects.filter(action="tasks.import").count() == 2


def test_bad_rows_are_reported_by_line_and_good_rows_kept(project, as_role):
    lines = [b'{"text": "good one"}', b"{not json", b'{"txt": "no text field"}', b"", b'{"text": "good two"}']
    response = post(as_role("manager"), project, b"\n".join(lines), "application/x-ndjson")
    body = response.json()
    assert body["created"] == 2
    assert [e["row"] for e in body["errors"]] == [2, 3]
    assert "data.text" in body["errors"][1]["message"]


def test_csv_with_bom_and_meta_columns(project, as_role):
    csv = "\ufefftext,meta.source,external_id\nA fine film,rt,a1\n\"Dull, slow\",rt,a2\n".encode()
    body = post(as_role("manager"), project, csv, "text/csv").json()
    assert body["created"] == 2 and body["errors"] == []
    task = Task.objects.get(external_id="a2")
    assert task.data == {"text": "Dull, slow"} and task.meta == {"source": "rt"}


def test_label_studio_export_with_annotations_predictions_and_gold(project, tenant, as_role):
    export = [{
        "id": 17, "data": {"text": "Great"}, "meta": {"batch": 1},
        "annotations": [
            {"completed_by": tenant.user("annotator").email, "lead_time": 2.5,
             "result": [{"id": "a", "from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["fresh"]}}]},
            {"completed_by": {"id": 3, "email": "someone@elsewhere.test"},
             "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["rotten"]}}]},
        ],
        "predictions": [{"model_version": "v1", "score": 0.9,
                         "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                     "value": {"choices": ["fresh"]}}]}],
        "gold": {"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                             "value": {"choices": ["fresh"]}}]},
    }]
    response = post(as_role("manager"), project, json.dumps(export), "application/json")
    assert response.status_code == 201 and response.json()["created"] == 1, response.content
    task = Task.objects.get(project_id=project["id"])
    assert task.is_gold and task.gold_result[0]["value"] == {"choices": ["fresh"]}
    assert task.annotations_count == 2 and task.status == "accepted"
    by_author = {a.author.email: a for a in Annotation.objects.filter(task=task)}
    assert by_author[tenant.user("annotator").email].lead_time_ms == 2500
    imported_by = by_author[tenant.user("manager").email]
    assert imported_by.meta["label_studio_completed_by"]["id"] == 3
    assert AnnotationVersion.objects.filter(annotation__task=task).count() == 2
    assert Prediction.objects.get(task=task).score == 0.9
    detail = as_role("manager").get(f"/api/v1/tasks/{task.pk}").json()
    assert detail["gold"] == {"result": task.gold_result} and len(detail["annotations"]) == 2
    assert as_role("reviewer").get(f"/api/v1/tasks/{task.pk}").json()["gold"] is None


def test_invalid_annotation_or_unknown_member_is_a_row_error(project, as_role):
    rows = [
        {"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "sentiment", "to_name": "text",
                                                              "type": "choices", "value": {"choices": ["meh"]}}]}]},
        {"data": {"text": "y"}, "annotations": [{"completed_by": "nobody@nowhere.test", "result": []}]},
    ]
    body = post(as_role("manager"), project, json.dumps(rows), "application/json").json()
    assert body["created"] == 0
    assert body["errors"][0]["row"] == 1 and body["errors"][0]["message"].startswith("annotations[0].result")
    assert body["errors"][1]["row"] == 2 and "nobody@nowhere.test" in body["errors"][1]["message"]


def test_on_duplicate_update_refreshes_meta_and_attaches(project, as_role):
    manager = as_role("manager")
    post(manager, project, json.dumps([{"data": {"text": "t"}, "meta": {"v": 1}}]), "application/json")
    pred = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["rotten"]}}]
    body = post(manager, project, json.dumps([{"data": {"text": "t"}, "meta": {"v": 2},
                                              "predictions": [{"result": pred}]}]),
                "application/json", "?on_duplicate=update").json()
    assert (body["created"], body["duplicates"], body["updated"]) == (0, 1, 1)
    task = Task.objects.get(project_id=project["id"])
    assert task.meta == {"v": 2} and task.predictions.count() == 1


def test_multipart_upload_and_format_by_extension(project, as_role):
    upload = SimpleUploadedFile("reviews.jsonl", rt_jsonl()[:2000].rsplit(b"\n", 1)[0], "application/octet-stream")
    response = as_role("manager").post(f"/api/v1/projects/{project['id']}/import", {"file": upload},
                                       format="multipart")
    assert response.status_code == 201 and response.json()["created"] > 3
    assert Task.objects.filter(project_id=project["id"], source="file").exists()


def test_unsupported_type_too_large_and_roles(project, as_role, settings):
    assert post(as_role("manager"), project, b"x", "application/xml").status_code == 415
    settings.IMPORT_MAX_BYTES = 10
    response = post(as_role("manager"), project, b'{"text": "far too long"}', "application/x-ndjson")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    settings.IMPORT_MAX_BYTES = 1024**3
    for role in ("reviewer", "annotator", "viewer"):
        assert post(as_role(role), project, b'{"text": "x"}', "application/x-ndjson").status_code == 403


def test_task_list_filters_and_roles(project, as_role):
    post(as_role("manager"), project, rt_jsonl(), "application/x-ndjson")
    url = f"/api/v1/projects/{project['id']}/tasks"
    page = as_role("viewer").get(f"{url}?page_size=10").json()
    assert len(page["results"]) == 10 and page["next"]
    assert set(page["results"][0]) >= {"id", "data", "meta", "status", "is_gold", "priority",
                                       "annotations_count", "target_annotations", "created_at"}
    assert as_role("manager").get(f"{url}?is_gold=true").json()["results"] == []
    assert as_role("annotator").get(url).json()["results"] == []  # annotators see only their leases (#4)
    assert as_role("manager").get(f"{url}?status=nope").status_code == 400


def test_task_delete_and_priority(project, as_role):
    post(as_role("manager"), project, b'{"text": "one"}', "application/x-ndjson")
    task = Task.objects.get(project_id=project["id"])
    assert as_role("viewer").patch(f"/api/v1/tasks/{task.pk}", {"priority": 5}, format="json").status_code == 403
    assert as_role("manager").patch(f"/api/v1/tasks/{task.pk}", {"priority": 5},
                                    format="json").json()["priority"] == 5
    assert as_role("manager").delete(f"/api/v1/tasks/{task.pk}").status_code == 204
    assert not Task.objects.filter(pk=task.pk).exists()
    assert AuditEvent.objects.filter(action="task.delete", object_id=str(task.pk)).exists()


def test_schema_remap_rewrites_imported_annotations_as_new_versions(project, tenant, as_role):
    result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["fresh"]}}]
    post(as_role("manager"), project, json.dumps([{"data": {"text": "a"}, "annotations": [{"result": result}],
                                                   "predictions": [{"result": result}]}]), "application/json")
    renamed = {**SPEC, "controls": {"sentiment": {"type": "choices", "to": "text",
                                                  "labels": [{"value": "positive"}, {"value": "rotten"}]}}}
    url = f"/api/v1/projects/{project['id']}/schema"
    refused = as_role("manager").post(url, {"label_schema": renamed}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["labels"] == [{"control": "sentiment", "label": "fresh"}]
    ok = as_role("manager").post(url, {"label_schema": renamed, "remap": {"sentiment": {"fresh": "positive"}}},
                                 format="json")
    assert ok.status_code == 201, ok.content
    annotation = Annotation.objects.get(task__project_id=project["id"])
    assert annotation.version == 2 and annotation.schema_version == 2
    assert annotation.result[0]["value"] == {"choices": ["positive"]}
    old = AnnotationVersion.objects.get(annotation=annotation, version=1)
    assert old.result[0]["value"] == {"choices": ["fresh"]}
    assert Prediction.objects.get(task__project_id=project["id"]).result[0]["value"] == {"choices": ["positive"]}


def test_large_uploads_run_as_a_job(project, as_role, settings, django_capture_on_commit_callbacks, tmp_path):
    settings.IMPORT_ASYNC_BYTES = 100
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(as_role("manager"), project, rt_jsonl(), "application/x-ndjson")
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    assert response.json()["job"]["status"] == "queued" and len(callbacks) == 1
    from apps.tasks.tasks import tasks_import_task

    tasks_import_task.apply(args=[job_id])  # what the worker does with the message
    job = as_role("manager").get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job
    assert job["result"]["created"] == 300
    assert list(tmp_path.rglob("*.jsonl")) == []  # the spooled upload is removed


def test_a_nul_character_is_a_row_error_not_a_lost_batch(project, as_role):
    body = post(as_role("manager"), project, b'{"text": "ok"}\n{"text": "bad \\u0000 byte"}\n{"text": "ok 2"}',
                "application/x-ndjson").json()
    assert body["created"] == 2 and [e["row"] for e in body["errors"]] == [2]
    assert "NUL" in body["errors"][0]["message"]


def test_imports_in_one_transaction_do_not_leak_into_each_other(project, as_role):
    other = as_role("manager").post("/api/v1/projects", {"name": "Other", "label_schema": SPEC}, format="json").json()
    post(as_role("manager"), project, rt_jsonl(), "application/x-ndjson")  # the test runs in one transaction
    body = post(as_role("manager"), other, b'{"text": "only this"}', "application/x-ndjson").json()
    assert body["created"] == 1
    assert Task.objects.filter(project_id=other["id"]).count() == 1


def test_tricky_text_survives_the_copy_path_exactly(project, as_role):
    tricky = ['back\\slash \\N and \\\\N', 'tab\there, newline\nthere, cr\r', 'quotes "double" \'single\'',
              "unicode: naïve café 東京 🐨", "\\t literal backslash-t", "ends with backslash \\"]
    rows = [{"data": {"text": text}, "external_id": f"id\t{i}\\", "meta": {"note": text}}
            for i, text in enumerate(tricky)]
    body = post(as_role("manager"), project, json.dumps(rows), "application/json", "?return_ids=true").json()
    assert body["created"] == len(tricky), body
    for task_id, row in zip(body["task_ids"], rows, strict=True):
        task = Task.objects.get(pk=task_id)
        assert (task.data, task.meta, task.external_id) == (row["data"], row["meta"], row["external_id"])


def test_imported_results_keep_every_character_and_each_annotation_its_first_version(tenant, as_role):
    """Annotations and predictions go to PostgreSQL through COPY: tabs, newlines, backslashes and quotes in
    results, meta and model versions must arrive unchanged, in order, with a version per annotation."""
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"note": {"type": "textarea", "to": "text"},
                         "sentiment": {"type": "choices", "to": "text", "labels": [{"value": "fresh"}]}}}
    manager = as_role("manager")
    made = manager.post("/api/v1/projects", {"name": "Notes", "label_schema": spec}, format="json").json()
    awkward = 'tab\there\nnew line \\ back\\slash "quoted" \\N é ✓'

    def note(text):
        return [{"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [text]}}]

    rows = [{"data": {"text": f"task {i}"},
             "annotations": [{"completed_by": tenant.user("annotator").email, "result": note(f"{awkward} {i}.{j}")}
                             for j in range(i % 3)],
             "predictions": [{"model_version": "m\t1\\x", "score": None if i % 2 else 0.25,
                              "result": note(f"{awkward} p{i}")}] if i % 2 == 0 or i == 3 else []}
            for i in range(12)]
    response = post(manager, made, json.dumps(rows), "application/json")
    assert response.status_code == 201 and response.json()["errors"] == [], response.content
    for task in Task.objects.filter(project_id=made["id"]).order_by("id"):
        i = int(task.data["text"].split()[1])
        annotations = list(Annotation.objects.filter(task=task).order_by("id"))
        assert [a.result[0]["value"]["text"][0] for a in annotations] == [f"{awkward} {i}.{j}" for j in range(i % 3)]
        assert task.annotations_count == i % 3
        assert all(a.source == "import" and a.status == "accepted" and a.version == 1 and a.schema_version == 1
                   and a.author == tenant.user("annotator") and a.meta == {} for a in annotations)
        for a in annotations:
            (version,) = AnnotationVersion.objects.filter(annotation=a)
            assert (version.version, version.result, version.author_id, version.reason) == (1, a.result, a.author_id,
                                                                                         "imported")
        predictions = list(Prediction.objects.filter(task=task))
        if i % 2 == 0 or i == 3:
            (prediction,) = predictions
            assert prediction.model_version == "m\t1\\x" and prediction.score == (None if i % 2 else 0.25)
            assert prediction.result == note(f"{awkward} p{i}") and prediction.schema_version == 1
        else:
            assert predictions == []


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'[{"text": "one"}, {"text": "two"}]'),
    ("application/x-ndjson", b'{"text": "one"}\n{"text": "two"}\n'),
    ("text/csv", b"text\none\ntwo\n"),
])
def test_a_browser_session_imports_any_format_with_its_csrf_header(project, tenant, content_type, body):
    """With a session (not a token) DRF checks CSRF; that check must neither refuse the body nor consume the
    stream the import reads, and without the token it refuses."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user("manager"))
    client.get("/app/projects/")  # a page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    url = f"/api/v1/projects/{project['id']}/import"
    response = client.generic("POST", url, body, content_type=content_type, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2
    refused = client.generic("POST", url, b'[{"text": "three"}]', content_type="application/json")
    assert refused.status_code == 403 and Task.objects.filter(project_id=project["id"]).count() == 2

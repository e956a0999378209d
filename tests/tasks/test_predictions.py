"""Model predictions: one at a time and in bulk (all or nothing), checked against the label schema."""

import pytest

from apps.audit.models import AuditEvent
from apps.tasks.models import Prediction, Task

from .queue_support import ANSWER, make_project, next_task, task_ids

# `s` is required: an annotation must answer it, a prediction need not.
SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "required": True,
                           "labels": [{"value": "a"}, {"value": "b"}]},
                     "ner": {"type": "spans", "to": "text", "labels": [{"value": "PER"}]}}}
SPAN = {"id": "r1", "from_name": "ner", "to_name": "text", "type": "labels",
        "value": {"start": 0, "end": 4, "labels": ["PER"]}}
BAD = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["zebra"]}}]


@pytest.fixture
def manager(as_role):
    return as_role("manager")


@pytest.fixture
def project(manager):
    response = manager.post("/api/v1/projects", {"name": "Models", "label_schema": SPEC}, format="json")
    assert response.status_code == 201, response.content
    project = response.json()
    rows = b"\n".join(b'{"text": "task %d"}' % i for i in range(5))
    manager.generic("POST", f"/api/v1/projects/{project['id']}/import", rows, content_type="application/x-ndjson")
    return project


def bulk(client, project, items):
    return client.post(f"/api/v1/projects/{project['id']}/predictions", items, format="json")


def test_one_prediction_may_be_partial(manager, project):
    task_id = task_ids(project)[0]
    response = manager.post(f"/api/v1/tasks/{task_id}/predictions",
                            {"result": [SPAN], "score": 0.75, "model_version": "ner-2"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["result"] == [SPAN] and body["score"] == 0.75 and body["model_version"] == "ner-2"
    prediction = Prediction.objects.get(pk=body["id"])
    assert prediction.task_id == task_id and prediction.schema_version == 1
    assert AuditEvent.objects.get(action="predictions.create").data["created"] == 1
    # the same partial result is not a complete annotation
    attached = manager.post(f"/api/v1/tasks/{task_id}/annotations", {"result": [SPAN]}, format="json")
    assert attached.status_code == 422


@pytest.mark.parametrize("body,status,field", [
    ({"result": BAD}, 422, "result[0].value.choices[0]"),
    ({"result": [{**SPAN, "value": {"start": 0, "end": 400, "labels": ["PER"]}}]}, 422, "result[0].value.end"),
    ({"result": "a"}, 422, "result"),
    ({"result": ANSWER, "score": "nan"}, 400, "score"),
    ({"result": ANSWER, "score": "-inf"}, 400, "score"),
    ({"result": ANSWER, "score": "high"}, 400, "score"),
    ({"result": ANSWER, "model_version": "m" * 101}, 400, "model_version"),
    ({"score": 1}, 400, "result"),
])
def test_bad_predictions_answer_the_error_envelope(manager, project, body, status, field):
    response = manager.post(f"/api/v1/tasks/{task_ids(project)[0]}/predictions", body, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if status == 422:
        assert error["code"] == "schema_mismatch" and error["details"]["path"] == field
    else:
        assert error["code"] == "validation_error" and field in error["details"]
    assert not Prediction.objects.exists()


def test_bulk_creates_all_in_one_request(manager, project):
    ids = task_ids(project)
    items = [{"task": task_id, "result": ANSWER, "score": i / 10, "model_version": "v1"} for i, task_id in
             enumerate(ids)] + [{"task": ids[0], "result": [SPAN]}]
    response = bulk(manager, project, items)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": len(ids) + 1}
    assert Prediction.objects.filter(project_id=project["id"], schema_version=1).count() == len(ids) + 1
    assert Prediction.objects.filter(task_id=ids[0]).count() == 2
    events = AuditEvent.objects.filter(action="predictions.create")
    assert events.count() == 1 and events.get().data["created"] == len(ids) + 1


def test_a_bad_result_anywhere_in_the_bulk_creates_nothing_and_names_the_item(manager, project):
    ids = task_ids(project)
    items = [{"task": task_id, "result": ANSWER} for task_id in ids[:3]]
    items.append({"task": ids[3], "result": BAD})
    response = bulk(manager, project, items)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "schema_mismatch" and error["details"]["path"] == "[3].result[0].value.choices[0]"
    assert not Prediction.objects.exists() and not AuditEvent.objects.filter(action="predictions.create").exists()


def test_every_bulk_task_must_be_in_the_project_and_organization(tenant, manager, project, other_tenant):
    from tests.conftest import token_client

    elsewhere = make_project(manager, tasks=1)
    foreign = make_project(token_client(other_tenant.secrets["manager"]), tasks=1)
    ids = task_ids(project)
    for stranger in (task_ids(elsewhere)[0], task_ids(foreign)[0], 2**62):
        response = bulk(manager, project, [{"task": ids[0], "result": ANSWER}, {"task": stranger, "result": ANSWER}])
        assert response.status_code == 400, response.content
        assert list(response.json()["error"]["details"]) == ["[1].task"]
        assert str(other_tenant.org.slug) not in response.content.decode()
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("items,field", [
    ({"task": 1, "result": []}, "non_field_errors"),
    ("nope", "non_field_errors"),
    ([{"task": "1", "result": []}], "[0].task"),
    ([{"task": True, "result": []}], "[0].task"),
    ([{"task": 2**70, "result": []}], "[0].task"),
    ([{"result": []}], "[0].task"),
    ([7], "[0]"),
    ([{"task": 1}], "[0].result"),
    ([{"task": 1, "result": [], "score": "0.5"}], "[0].score"),
    ([{"task": 1, "result": [], "score": True}], "[0].score"),
    ([{"task": 1, "result": [], "model_version": 3}], "[0].model_version"),
])
def test_malformed_bulk_bodies_are_400_naming_the_item(manager, project, items, field):
    response = bulk(manager, project, items)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]


def test_bulk_is_capped_at_ten_thousand(manager, project):
    task_id = task_ids(project)[0]
    response = bulk(manager, project, [{"task": task_id, "result": []}] * 10_001)
    assert response.status_code == 400 and "10000" in response.json()["error"]["message"]


def test_bulk_queries_do_not_grow_with_the_items(manager, project, django_assert_max_num_queries):
    ids = task_ids(project)
    items = [{"task": ids[i % len(ids)], "result": ANSWER, "score": 0.5} for i in range(5_000)]
    with django_assert_max_num_queries(16):
        response = bulk(manager, project, items)
    assert response.status_code == 201 and Prediction.objects.count() == 5_000


def test_an_empty_bulk_creates_nothing(manager, project):
    response = bulk(manager, project, [])
    assert response.status_code == 201 and response.json() == {"created": 0}


def test_only_managers_post_predictions(manager, project, as_role):
    task_id = task_ids(project)[0]
    for role in ("reviewer", "annotator", "viewer"):
        client = as_role(role)
        assert bulk(client, project, [{"task": task_id, "result": []}]).status_code == 403, role
    # an annotator sees the task they hold, and still may not add predictions to it
    lease = next_task(as_role("annotator"), project).json()
    response = as_role("annotator").post(f"/api/v1/tasks/{lease['task']['id']}/predictions", {"result": []},
                                         format="json")
    assert response.status_code == 403
    assert as_role("owner").post(f"/api/v1/tasks/{task_id}/predictions", {"result": []},
                                 format="json").status_code == 201


def test_next_serves_the_best_prediction_first_where_the_project_shows_them(manager, as_role):
    project = make_project(manager, tasks=1)
    task_id = task_ids(project)[0]
    items = [{"task": task_id, "result": ANSWER, "score": 0.2, "model_version": "weak"},
             {"task": task_id, "result": ANSWER, "score": 0.9, "model_version": "strong"},
             {"task": task_id, "result": ANSWER, "model_version": "unscored"}]
    assert bulk(manager, project, items).status_code == 201
    lease = next_task(as_role("annotator"), project).json()
    assert [p["model_version"] for p in lease["task"]["predictions"]] == ["strong", "weak", "unscored"]
    assert Task.objects.get(pk=task_id).status == "in_progress"

"""Flags QA raises: low prediction confidence, gold disagreement, outlying annotators; the lead-time median."""

import random
from datetime import timedelta

import pytest

from apps.projects.models import Project
from apps.qa.models import AnnotatorStats
from apps.qa.outliers import annotators_refresh
from apps.tasks.models import Assignment, Flag
from tests.tasks.queue_support import annotators, make_project, next_task, submit, task_ids

A = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
B = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]


def test_low_scored_predictions_flag_their_tasks(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=3, settings={"flag_prediction_below": 0.4})
    ids = task_ids(project)
    response = manager.post(f"/api/v1/projects/{project['id']}/predictions", [
        {"task": ids[0], "result": A, "score": 0.2, "model_version": "m1"},
        {"task": ids[1], "result": A, "score": 0.9, "model_version": "m1"},
        {"task": ids[2], "result": B, "model_version": "m1"}], format="json")
    assert response.status_code == 201, response.content
    manager.post(f"/api/v1/tasks/{ids[0]}/predictions", {"result": B, "score": 0.1, "model_version": "m2"},
                 format="json")
    flags = manager.get(f"/api/v1/projects/{project['id']}/flags?kind=low_prediction_confidence").json()["results"]
    assert [f["task"] for f in flags] == [ids[0]]  # once, though two low predictions came
    manager.patch(f"/api/v1/projects/{project['id']}", {"settings": {"flag_prediction_below": None}}, format="json")
    manager.post(f"/api/v1/tasks/{ids[1]}/predictions", {"result": B, "score": 0.0}, format="json")
    assert Flag.objects.filter(kind="low_prediction_confidence").count() == 1


def test_imported_low_predictions_are_flagged(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=0)
    rows = [{"data": {"text": "x"}, "predictions": [{"result": A, "score": 0.05}]},
            {"data": {"text": "y"}, "predictions": [{"result": A, "score": 0.95}]}]
    assert manager.post(f"/api/v1/projects/{project['id']}/import", rows, format="json").status_code == 201
    assert Flag.objects.filter(project_id=project["id"], kind="low_prediction_confidence").count() == 1


def test_a_gold_most_people_fail_is_questioned(tenant, as_role, gold_source):
    manager = as_role("manager")
    project = make_project(manager, tasks=1, settings={"gold_rate": 0.9})
    (gold_task,) = task_ids(project)
    manager.post(f"/api/v1/projects/{project['id']}/gold", [{"task": gold_task, "result": B}], format="json")
    for _, client in annotators(tenant, 5):
        for _ in range(20):  # the gold comes at the gold rate; nothing else is open
            response = next_task(client, project)
            if response.status_code == 200:
                break
        assert response.status_code == 200
        submit(client, response.json(), A)
    flags = manager.get(f"/api/v1/projects/{project['id']}/flags?kind=gold_disagreement").json()["results"]
    assert [f["task"] for f in flags] == [gold_task] and "check its answer" in flags[0]["reason"]


def test_outliers_too_fast_and_one_label_too_often(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=25, settings={"overlap": 4})
    crowd = annotators(tenant, 4)
    rng = random.Random(4)
    for index, (_, client) in enumerate(crowd):
        for _ in range(25):
            lease = next_task(client, project).json()
            answer = A if index == 0 else (A if rng.random() < 0.3 else B)  # the first always says "a"
            assert submit(client, lease, answer).status_code == 201
    speedy = crowd[1][0].user
    for assignment in Assignment.objects.filter(project_id=project["id"]).select_related("annotation"):
        seconds = 1 if assignment.annotator_id == speedy.pk else 30
        Assignment.objects.filter(pk=assignment.pk).update(
            leased_at=assignment.annotation.created_at - timedelta(seconds=seconds))
    found = annotators_refresh(project=Project.objects.get(pk=project["id"]))
    assert found["flagged"] == 2
    listed = manager.get(f"/api/v1/projects/{project['id']}/flags?page_size=100").json()["results"]
    flags = {f["kind"]: f for f in listed if f["kind"].startswith("outlier")}
    assert flags["outlier_fast"]["annotator"] == speedy.email and flags["outlier_fast"]["task"] is None
    assert flags["outlier_label"]["annotator"] == crowd[0][0].user.email
    stats = AnnotatorStats.objects.get(project_id=project["id"], annotator=speedy)
    assert stats.lead_time_median_ms == pytest.approx(1000, abs=50)
    report = manager.get(f"/api/v1/projects/{project['id']}/quality").json()
    assert report["flags"]["by_kind"]["outlier_fast"] == 1 and report["flags"]["by_kind"]["outlier_label"] == 1
    annotators_refresh(project=Project.objects.get(pk=project["id"]))
    outliers = Flag.objects.filter(project_id=project["id"], kind__startswith="outlier")
    assert outliers.count() == 2  # open flags are not raised twice

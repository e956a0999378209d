"""Quality rules firing through the queue (suspension, revert, skips), dynamic overlap, flags, the report."""


import krippendorff
import numpy as np
import pytest

from apps.qa.models import RuleFiring, Suspension
from apps.tasks.models import Assignment, Flag, Task
from tests.tasks.queue_support import annotators, make_project, next_task, submit, task_ids

A = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
B = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]


@pytest.fixture
def gold_seed():
    return 5


def test_confidently_bad_annotator_is_suspended_then_reinstated(tenant, as_role, gold_source):
    manager = as_role("manager")
    project = make_project(manager, tasks=40, settings={"gold_rate": 0.5})
    ids = task_ids(project)
    manager.post(f"/api/v1/projects/{project['id']}/gold", [{"task": t, "result": B} for t in ids[:20]],
                 format="json")
    rule = manager.post(f"/api/v1/projects/{project['id']}/quality-rules", {
        "collector": "gold_accuracy_upper_bound", "min_samples": 8, "op": "<", "threshold": 0.6,
        "action": "suspend", "duration_hours": 24}, format="json")
    assert rule.status_code == 201, rule.content
    (member, client), = annotators(tenant, 1)
    golds_answered = 0
    for _ in range(200):
        response = next_task(client, project)
        if response.status_code != 200:
            break
        lease = response.json()
        if lease["task"]["id"] in ids[:20]:
            golds_answered += 1
        assert submit(client, lease, A).status_code == 201  # always "a": wrong on every gold
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "suspended" and error["details"]["until"] and "rule" in error["details"]["reason"]
    assert 8 <= golds_answered <= 12  # Wilson's upper bound of 0/8 is 0.32: suspended at the 8th gold
    assert not Assignment.objects.filter(annotator=member.user, status="active").exists()
    firings = manager.get(f"/api/v1/projects/{project['id']}/rule-firings").json()["results"]
    assert len(firings) == 1 and firings[0]["action"] == "suspend"
    listed = manager.get(f"/api/v1/projects/{project['id']}/suspensions?active=true").json()["results"]
    assert [s["annotator"] for s in listed] == [member.user.email]
    reverted = manager.post(f"/api/v1/rule-firings/{firings[0]['id']}/revert")
    assert reverted.status_code == 200 and reverted.json()["reverted_at"]
    assert Suspension.objects.get(pk=listed[0]["id"]).lifted_at is not None
    assert next_task(client, project).status_code in (200, 204)
    from apps.audit.models import AuditEvent

    actions = set(AuditEvent.objects.filter(organization=tenant.org).values_list("action", flat=True))
    assert {"quality_rule.create", "quality_rule.fire", "quality_rule.revert", "suspension.lift"} <= actions


def test_manual_ban_and_lift(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=3)
    banned = manager.post(f"/api/v1/projects/{project['id']}/suspensions",
                          {"annotator": tenant.member("annotator").pk, "kind": "ban", "reason": "spam"},
                          format="json")
    assert banned.status_code == 201 and banned.json()["until"] is None
    refused = as_role("annotator").post(f"/api/v1/projects/{project['id']}/next")
    assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "spam"
    no_end = manager.post(f"/api/v1/projects/{project['id']}/suspensions",
                          {"annotator": tenant.member("annotator").pk, "kind": "suspend", "reason": "x"},
                          format="json")
    assert no_end.status_code == 400
    lifted = manager.post(f"/api/v1/suspensions/{banned.json()['id']}/lift", {"reason": "appeal"}, format="json")
    assert lifted.status_code == 200
    assert as_role("annotator").post(f"/api/v1/projects/{project['id']}/next").status_code == 200
    assert manager.post(f"/api/v1/suspensions/{banned.json()['id']}/lift").status_code == 409


def test_skips_in_a_row_warns(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=6)
    manager.post(f"/api/v1/projects/{project['id']}/quality-rules", {
        "collector": "skips_in_a_row", "min_samples": 3, "op": ">=", "threshold": 3, "action": "warn"},
        format="json")
    (member, client), = annotators(tenant, 1)
    for _ in range(3):
        lease = next_task(client, project).json()
        assert client.post(f"/api/v1/assignments/{lease['assignment']['id']}/skip").status_code == 200
    assert RuleFiring.objects.filter(annotator=member.user, action="warn").count() == 1
    lease = next_task(client, project).json()
    submit(client, lease)
    lease = next_task(client, project).json()
    client.post(f"/api/v1/assignments/{lease['assignment']['id']}/skip")
    assert RuleFiring.objects.filter(annotator=member.user).count() == 1  # the count restarted after a submit


def test_bad_rules_are_400(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=0)
    url = f"/api/v1/projects/{project['id']}/quality-rules"
    for body in ({"collector": "nope", "op": "<", "threshold": 1, "action": "warn"},
                 {"collector": "gold_accuracy", "op": "!=", "threshold": 1, "action": "warn"},
                 {"collector": "gold_accuracy", "op": "<", "threshold": 1, "action": "explode"},
                 {"collector": "gold_accuracy", "op": "<", "threshold": 1, "action": "warn", "params": {"x": 1}},
                 {"collector": "fast_responses", "op": ">", "threshold": 0.5, "action": "warn",
                  "params": {"seconds": -1}}):
        response = manager.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"] == "validation_error"
    rule = manager.post(url, {"collector": "fast_responses", "op": ">", "threshold": 0.5, "action": "review",
                              "params": {"seconds": 2}, "min_samples": 10}, format="json").json()
    patched = manager.patch(f"/api/v1/quality-rules/{rule['id']}", {"threshold": 0.7}, format="json")
    assert patched.status_code == 200 and patched.json()["threshold"] == 0.7 and patched.json()["params"] == {
        "seconds": 2}
    assert manager.delete(f"/api/v1/quality-rules/{rule['id']}").status_code == 204


def test_dynamic_overlap_asks_one_more_then_flags(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=1, settings={"overlap": 2, "max_overlap": 3, "consensus_target": 0.8})
    (task_id,) = task_ids(project)
    crowd = annotators(tenant, 3)
    for (_, client), answer in zip(crowd[:2], (A, B), strict=True):
        assert submit(client, next_task(client, project).json(), answer).status_code == 201
    task = Task.objects.get(pk=task_id)
    assert task.target_annotations == 3 and task.consensus_confidence == pytest.approx(0.5)
    assert task.agreement == 0.0
    _, third = crowd[2]
    lease = next_task(third, project)
    assert lease.status_code == 200 and lease.json()["task"]["id"] == task_id
    submit(third, lease.json(), A)
    task = Task.objects.get(pk=task_id)
    assert task.target_annotations == 3  # max_overlap reached
    assert task.consensus_result[0]["value"]["choices"] == ["a"]
    assert task.consensus_confidence == pytest.approx(2 / 3)
    flags = manager.get(f"/api/v1/projects/{project['id']}/flags?kind=low_agreement").json()["results"]
    assert [f["task"] for f in flags] == [task_id]
    resolved = manager.post(f"/api/v1/flags/{flags[0]['id']}/resolve")
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert Flag.objects.get(pk=flags[0]["id"]).resolved_by == tenant.user("manager")
    detail = manager.get(f"/api/v1/tasks/{task_id}").json()
    assert detail["consensus"]["method"] == "weighted_vote"
    assert detail["consensus"]["confidence"] == pytest.approx(2 / 3)
    low = manager.get(f"/api/v1/projects/{project['id']}/tasks?agreement_lt=0.5").json()["results"]
    assert [t["id"] for t in low] == [task_id]


def test_settled_tasks_keep_their_overlap(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=1, settings={"overlap": 2, "max_overlap": 4, "consensus_target": 0.8})
    for _, client in annotators(tenant, 2):
        submit(client, next_task(client, project).json(), A)
    task = Task.objects.get(project_id=project["id"])
    # two unproven annotators agreeing (reliability 2/3 each): posterior (4/9) / (4/9 + 1/9) = 0.8, the target
    assert task.target_annotations == 2 and task.status == "accepted"
    assert task.consensus_confidence == pytest.approx(0.8)


def test_quality_report_matches_an_independent_oracle(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=0, settings={"overlap": 3})
    crowd = annotators(tenant, 3)
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 30)
    answers = np.where(rng.random((3, 30)) < 0.8, truth, 1 - truth)
    rows = [{"data": {"text": f"t{i}"}, "annotations": [
        {"completed_by": crowd[r][0].user.email,
         "result": [{**A[0], "value": {"choices": ["ab"[int(answers[r, i])]]}}]} for r in range(3)]}
        for i in range(30)]
    assert manager.post(f"/api/v1/projects/{project['id']}/import", rows, format="json").status_code == 201
    report = manager.get(f"/api/v1/projects/{project['id']}/quality")
    assert report.status_code == 200
    control = report.json()["agreement"]["per_control"]["s"]
    oracle = krippendorff.alpha(reliability_data=answers.astype(float), level_of_measurement="nominal")
    assert control["krippendorff_alpha"] == pytest.approx(oracle, abs=1e-9)
    assert control["tasks_with_two_or_more"] == 30 and sum(map(sum, control["confusion"]["counts"])) == 30 * 6
    assert as_role("viewer").get(f"/api/v1/projects/{project['id']}/quality").status_code == 200
    assert as_role("annotator").get(f"/api/v1/projects/{project['id']}/quality").status_code == 403


def test_review_and_zero_weight_actions_and_their_revert(tenant, as_role):
    from apps.qa.models import AnnotatorStats
    from apps.tasks.models import Annotation

    manager = as_role("manager")
    project = make_project(manager, tasks=8, settings={"overlap": 3, "max_overlap": 3})
    url = f"/api/v1/projects/{project['id']}/quality-rules"
    for action in ("review", "zero_weight"):
        assert manager.post(url, {"collector": "skips_in_a_row", "min_samples": 1, "op": ">=", "threshold": 1,
                                  "action": action}, format="json").status_code == 201
    crowd = annotators(tenant, 3)
    (suspect, client), others = crowd[0], crowd[1:]
    lease = next_task(client, project).json()
    client.post(f"/api/v1/assignments/{lease['assignment']['id']}/skip")
    stats = AnnotatorStats.objects.get(project_id=project["id"], annotator=suspect.user)
    assert stats.review_all and stats.weight == 0.0
    lease = next_task(client, project).json()
    task_id = lease["task"]["id"]
    submit(client, lease, A)
    assert Annotation.objects.get(task_id=task_id, author=suspect.user).status == "submitted"  # awaits review
    for other_member, other in others:  # pinned to them, so it is what they are served first
        assert manager.post(f"/api/v1/tasks/{task_id}/assign", {"annotator": other_member.pk},
                            format="json").status_code == 201
        got = next_task(other, project).json()
        assert got["task"]["id"] == task_id
        submit(other, got, B)
    task = Task.objects.get(pk=task_id)
    assert task.consensus_result[0]["value"]["choices"] == ["b"]
    assert task.consensus_confidence == pytest.approx(0.8)  # the zero-weight vote for "a" counts for nothing
    firings = manager.get(f"/api/v1/projects/{project['id']}/rule-firings").json()["results"]
    for firing in firings:
        assert manager.post(f"/api/v1/rule-firings/{firing['id']}/revert").status_code == 200
    stats.refresh_from_db()
    assert not stats.review_all and stats.weight == 1.0

"""Gold through the queue: marking, the gold mix, scoring, feedback, stats, and that answers never leak."""


import pytest

from apps.qa.models import AnnotatorStats, QualityScore
from apps.tasks.models import Assignment, Task
from tests.tasks.queue_support import annotators, make_project, next_task, submit, task_ids

A = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
B = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]
LEAKY_KEYS = {"gold", "is_gold", "gold_result", "consensus", "consensus_result", "gold_feedback"}


@pytest.fixture
def gold_seed():
    return 11


def keys_in(value) -> set:
    if isinstance(value, dict):
        return set(value) | set().union(*(keys_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_in(v) for v in value)) if value else set()
    return set()


def mark_gold(manager, project, tasks, result=B):
    response = manager.post(f"/api/v1/projects/{project['id']}/gold",
                            [{"task": t, "result": result} for t in tasks], format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_gold_is_marked_listed_validated_and_unmarked(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=4)
    ids = task_ids(project)
    body = mark_gold(manager, project, ids[:2])
    assert [g["task"] for g in body] == ids[:2] and body[0]["result"] == B
    listed = manager.get(f"/api/v1/projects/{project['id']}/gold").json()["results"]
    assert sorted(g["task"] for g in listed) == ids[:2]
    bad = manager.post(f"/api/v1/projects/{project['id']}/gold",
                       [{"task": ids[2], "result": [{**B[0], "value": {"choices": ["zzz"]}}]}], format="json")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "schema_mismatch"
    assert bad.json()["error"]["details"]["path"].startswith("[0].result")
    assert not Task.objects.get(pk=ids[2]).is_gold  # all or none
    assert manager.delete(f"/api/v1/projects/{project['id']}/gold/{ids[0]}").status_code == 204
    assert not Task.objects.get(pk=ids[0]).is_gold and Task.objects.get(pk=ids[0]).gold_result is None
    assert manager.delete(f"/api/v1/projects/{project['id']}/gold/{ids[0]}").status_code == 400
    assert as_role("annotator").get(f"/api/v1/projects/{project['id']}/gold").status_code == 403


def test_gold_mix_serves_each_gold_once_scores_it_and_gives_feedback(tenant, as_role, gold_source):
    manager = as_role("manager")
    project = make_project(manager, tasks=12, settings={"gold_rate": 0.3, "gold_feedback": True})
    ids = task_ids(project)
    golds = ids[:4]
    mark_gold(manager, project, golds)
    (member, client), = annotators(tenant, 1)
    served_gold, served_work, feedback = [], [], []
    while True:
        response = next_task(client, project)
        if response.status_code == 204:
            break
        lease = response.json()
        assert not (keys_in(lease) & LEAKY_KEYS), lease  # nothing tells a gold task apart, nor its answer
        task_id = lease["task"]["id"]
        (served_gold if task_id in golds else served_work).append(task_id)
        answer = A if task_id in golds[:2] else B  # wrong on two golds, right on two
        done = submit(client, lease, answer)
        assert done.status_code == 201
        if task_id in golds:
            feedback.append(done.json()["gold_feedback"])
            assert done.json()["gold_feedback"]["result"] == B
            replay = submit(client, lease, answer)  # a replay answers the same, feedback included
            assert replay.status_code == 200 and replay.json()["gold_feedback"] == done.json()["gold_feedback"]
        else:
            assert "gold_feedback" not in done.json()
    assert sorted(served_work) == ids[4:]  # all ordinary work done once
    assert len(served_gold) == len(set(served_gold)) and served_gold  # each gold at most once
    assert Assignment.objects.filter(annotator=member.user, kind="gold").count() == len(served_gold)
    stats = AnnotatorStats.objects.get(project_id=project["id"], annotator=member.user)
    right = sum(1 for t in served_gold if t in golds[2:])
    assert (stats.gold_seen, stats.gold_correct) == (len(served_gold), right)
    assert sorted(f["passed"] for f in feedback) == sorted(t in golds[2:] for t in served_gold)
    assert QualityScore.objects.filter(annotator=member.user).count() == len(served_gold)
    # gold work sits outside the targets: the gold tasks wanted no annotations and got none counted
    assert set(Task.objects.filter(pk__in=golds).values_list("annotations_count", flat=True)) == {0}


def test_without_feedback_the_answer_stays_hidden_after_submit(tenant, as_role, gold_source):
    manager = as_role("manager")
    project = make_project(manager, tasks=6, settings={"gold_rate": 0.5})
    ids = task_ids(project)
    mark_gold(manager, project, ids[:3])
    (member, client), = annotators(tenant, 1)
    seen = []
    while (response := next_task(client, project)).status_code == 200:
        lease = response.json()
        seen.append(lease)
        done = submit(client, lease, A)
        assert not (keys_in(done.json()) & LEAKY_KEYS)
        detail = client.get(f"/api/v1/tasks/{lease['task']['id']}")
        assert detail.status_code == 200 and not (keys_in(detail.json()) & LEAKY_KEYS)
        own = client.get(f"/api/v1/projects/{project['id']}/tasks").json()
        assert not (keys_in(own) & LEAKY_KEYS)
    assert any(lease["task"]["id"] in ids[:3] for lease in seen)


def test_adaptive_rate_serves_new_annotators_more_gold(tenant, as_role):
    from apps.projects.models import Project
    from apps.qa.gold import gold_rate_for

    manager = as_role("manager")
    made = make_project(manager, tasks=0, settings={"gold_rate": 0.1})
    project = Project.objects.get(pk=made["id"])
    user = tenant.user("annotator")
    assert gold_rate_for(project=project, user=user) == pytest.approx(0.3)  # 3× until 10 golds
    AnnotatorStats.objects.create(organization=tenant.org, project=project, annotator=user, gold_seen=20,
                                  gold_correct=20)
    assert gold_rate_for(project=project, user=user) == pytest.approx(0.1)
    AnnotatorStats.objects.filter(project=project, annotator=user).update(gold_correct=10)  # suspect: 3× again
    assert gold_rate_for(project=project, user=user) == pytest.approx(0.3)
    project.settings["gold_adaptive"]["multiplier"] = 1
    assert gold_rate_for(project=project, user=user) == pytest.approx(0.1)


def test_promote_consensus_to_gold(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=2)
    task_id = task_ids(project)[0]
    refused = manager.post(f"/api/v1/projects/{project['id']}/gold", {"task": task_id, "from_consensus": True},
                           format="json")
    assert refused.status_code == 409
    Task.objects.filter(pk=task_id).update(consensus_result=A, consensus_confidence=0.9, status="accepted")
    promoted = manager.post(f"/api/v1/projects/{project['id']}/gold", {"task": task_id, "from_consensus": True},
                            format="json")
    assert promoted.status_code == 201 and promoted.json()[0]["result"] == A
    assert Task.objects.get(pk=task_id).gold_result == A


def test_a_remap_that_deletes_every_label_of_a_gold_answer_ungolds_the_task(as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=2)
    task_id = task_ids(project)[0]
    mark_gold(manager, project, [task_id], result=B)
    spec = {"data": {"text": {"type": "text"}},
            "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}]}}}
    changed = manager.post(f"/api/v1/projects/{project['id']}/schema",
                           {"label_schema": spec, "remap": {"s": {"b": None}}}, format="json")
    assert changed.status_code == 201, changed.content
    task = Task.objects.get(pk=task_id)
    assert not task.is_gold and task.gold_result is None
    flags = manager.get(f"/api/v1/projects/{project['id']}/flags?kind=gold_removed").json()["results"]
    assert [f["task"] for f in flags] == [task_id]

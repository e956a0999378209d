"""The review gate: policy all/sample, leasing annotations to reviewers, accept, reject → requeue, fix."""

import pytest

from apps.audit.models import AuditEvent
from apps.tasks.annotations import needs_review
from apps.tasks.models import Annotation, AnnotationVersion, Task

from .queue_support import annotators, make_project, next_task, submit

FIXED = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]


@pytest.fixture
def manager(as_role):
    return as_role("manager")


def review_next(client, project):
    return client.post(f"/api/v1/projects/{project['id']}/reviews/next")


def decide(client, review, decision, **body):
    return client.post(f"/api/v1/reviews/{review['id']}", {"decision": decision, **body}, format="json")


def annotate_one(client, project):
    lease = next_task(client, project).json()
    assert submit(client, lease).status_code == 201
    return lease["task"]["id"]


def test_with_review_all_a_submitted_task_waits_then_is_accepted(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    task_id = annotate_one(as_role("annotator"), project)
    assert Task.objects.get(pk=task_id).status == "annotated"
    reviewer = as_role("reviewer")
    leased = review_next(reviewer, project)
    assert leased.status_code == 200
    review = leased.json()
    assert review["annotation"]["status"] == "submitted" and review["task"]["id"] == task_id
    assert review["others"] == []
    assert Task.objects.get(pk=task_id).status == "in_review"
    assert review_next(reviewer, project).json()["id"] == review["id"]  # a retry returns the same lease
    decided = decide(reviewer, review, "accept", comment="fine")
    assert decided.status_code == 200 and decided.json()["decision"] == "accept"
    assert Task.objects.get(pk=task_id).status == "accepted"
    assert Annotation.objects.get(pk=review["annotation"]["id"]).status == "accepted"
    assert AuditEvent.objects.filter(action="review.decide").exists()
    assert review_next(reviewer, project).status_code == 204


def test_reject_sends_the_task_back_to_the_queue_for_someone_else(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    (_, alice), (_, bob) = annotators(tenant, 2)
    task_id = annotate_one(alice, project)
    review = review_next(as_role("reviewer"), project).json()
    assert decide(as_role("reviewer"), review, "reject", comment="wrong label").status_code == 200
    task = Task.objects.get(pk=task_id)
    assert (task.status, task.target_annotations, task.annotations_count) == ("rejected", 2, 1)
    assert next_task(alice, project).status_code == 204  # she already did it
    assert annotate_one(bob, project) == task_id
    task.refresh_from_db()
    assert task.status == "annotated" and task.annotations_count == 2


def test_fix_stores_the_reviewers_result_as_a_new_version(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    annotate_one(as_role("annotator"), project)
    reviewer = as_role("reviewer")
    review = review_next(reviewer, project).json()
    assert decide(reviewer, review, "fix").status_code == 400  # a fix needs its result
    assert decide(reviewer, review, "fix", result=[{"from_name": "s", "to_name": "text", "type": "choices",
                                                    "value": {"choices": ["nope"]}}]).status_code == 422
    assert decide(reviewer, review, "fix", result=FIXED).status_code == 200
    annotation = Annotation.objects.get(pk=review["annotation"]["id"])
    assert annotation.result == FIXED and annotation.version == 2 and annotation.status == "accepted"
    versions = AnnotationVersion.objects.filter(annotation=annotation).order_by("version")
    assert [(v.version, v.source) for v in versions] == [(1, "human"), (2, "review")]
    assert versions[0].result != FIXED  # history keeps the annotator's version


def test_nobody_reviews_their_own_work(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    reviewer = as_role("reviewer")
    annotate_one(reviewer, project)  # reviewers may annotate too
    assert review_next(reviewer, project).status_code == 204
    assert review_next(manager, project).status_code == 200


def test_annotators_and_viewers_cannot_review(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    assert review_next(as_role("annotator"), project).status_code == 403
    assert review_next(as_role("viewer"), project).status_code == 403


def test_without_review_an_annotation_is_accepted_at_submit(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    task_id = annotate_one(as_role("annotator"), project)
    assert Annotation.objects.get(task_id=task_id).status == "accepted"
    assert review_next(as_role("reviewer"), project).status_code == 204


def test_sample_policy_is_deterministic_and_near_its_fraction(tenant, manager):
    project = make_project(manager, tasks=0, settings={"review_policy": {"mode": "sample", "fraction": 0.2}})
    from apps.projects.models import Project

    p = Project.objects.get(pk=project["id"])
    picks = [needs_review(p, task_id, 7) for task_id in range(2000)]
    assert picks == [needs_review(p, task_id, 7) for task_id in range(2000)]
    assert 0.16 < sum(picks) / len(picks) < 0.24


def test_another_reviewer_cannot_decide_a_review_they_do_not_hold(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    annotate_one(as_role("annotator"), project)
    review = review_next(as_role("reviewer"), project).json()
    (_, other_reviewer), = annotators(tenant, 1, role="reviewer")
    assert decide(other_reviewer, review, "accept").status_code == 404
    assert decide(manager, review, "accept").status_code == 403

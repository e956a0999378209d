"""The pull queue: next, leases, submit, skip, release, expiry, pins and the cursor's reachability rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.tasks.models import Annotation, Assignment, Flag, Task

from .queue_support import ANSWER, annotators, make_project, next_task, submit, task_ids, work


@pytest.fixture
def manager(as_role):
    return as_role("manager")


def test_next_leases_the_oldest_open_task_and_a_retry_returns_the_same_lease(tenant, manager, as_role):
    project = make_project(manager, tasks=3)
    ids = task_ids(project)
    client = as_role("annotator")
    first = next_task(client, project)
    assert first.status_code == 200
    body = first.json()
    assert body["task"]["id"] == ids[0] and body["task"]["data"] == {"text": "task 0"}
    assert body["draft"] is None and body["task"]["predictions"] == []
    again = next_task(client, project).json()
    assert again["assignment"]["id"] == body["assignment"]["id"]
    task = Task.objects.get(pk=ids[0])
    assert task.in_flight == 1 and task.status == "in_progress"


def test_submit_counts_the_annotation_and_a_replay_returns_the_same_one(tenant, manager, as_role):
    project = make_project(manager, tasks=2)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    created = submit(client, lease)
    assert created.status_code == 201
    replay = submit(client, lease)
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    task = Task.objects.get(pk=lease["task"]["id"])
    assert (task.annotations_count, task.in_flight, task.status) == (1, 0, "accepted")
    assert Annotation.objects.filter(task=task).count() == 1
    assert AuditEvent.objects.filter(action="annotation.submit", object_id=str(created.json()["id"])).exists()
    assert next_task(client, project).json()["task"]["id"] != task.pk


def test_idempotency_key_replays_the_same_annotation(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    first = submit(client, lease, HTTP_IDEMPOTENCY_KEY="abc-1")
    second = submit(client, lease, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and second.status_code == 200 and first.json()["id"] == second.json()["id"]


def test_a_result_that_does_not_match_the_schema_is_422_with_its_path(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    bad = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["zebra"]}}]
    response = submit(client, lease, bad)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "schema_mismatch" and error["details"]["path"].startswith("result[0]")
    assert Task.objects.get(pk=lease["task"]["id"]).annotations_count == 0


def test_overlap_three_gives_each_task_to_three_different_people_then_204(tenant, manager):
    project = make_project(manager, tasks=4, settings={"overlap": 3})
    crowd = annotators(tenant, 4)
    done = [work(client, project) for _, client in crowd]
    assert [len(d) for d in done] == [4, 4, 4, 0]
    for task in Task.objects.filter(project_id=project["id"]):
        authors = list(Annotation.objects.filter(task=task).values_list("author_id", flat=True))
        assert len(authors) == 3 == len(set(authors)) and task.status == "accepted" and task.in_flight == 0


def test_skip_is_never_served_again_but_release_comes_back(tenant, manager, as_role):
    project = make_project(manager, tasks=2, settings={"overlap": 2})
    ids = task_ids(project)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    assert client.post(f"/api/v1/assignments/{lease['assignment']['id']}/skip").json()["status"] == "skipped"
    second = next_task(client, project).json()
    assert second["task"]["id"] == ids[1]
    assert client.post(f"/api/v1/assignments/{second['assignment']['id']}/release").status_code == 200
    again = next_task(client, project).json()
    assert again["task"]["id"] == ids[1] and again["assignment"]["id"] == second["assignment"]["id"]
    submit(client, again)
    assert next_task(client, project).status_code == 204  # ids[0] was skipped: never again
    assert Task.objects.get(pk=ids[0]).in_flight == 0


def test_a_task_full_when_passed_comes_back_when_its_lease_is_released(tenant, manager):
    """The cursor passes a full task; releasing the lease reopens it for the person who passed it."""
    project = make_project(manager, tasks=3, settings={"overlap": 1})
    ids = task_ids(project)
    (_, alice), (_, bob) = annotators(tenant, 2)
    held = next_task(bob, project).json()
    assert held["task"]["id"] == ids[0]
    assert work(alice, project) == ids[1:]
    assert bob.post(f"/api/v1/assignments/{held['assignment']['id']}/release").status_code == 200
    assert next_task(alice, project).json()["task"]["id"] == ids[0]


def test_an_expired_lease_is_released_lazily_and_the_late_submit_is_kept_as_a_draft(tenant, manager):
    project = make_project(manager, tasks=1, settings={"lease_seconds": 60})
    (_, alice), (_, bob) = annotators(tenant, 2)
    lease = next_task(alice, project).json()
    Assignment.objects.filter(pk=lease["assignment"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = next_task(bob, project).json()
    assert taken["task"]["id"] == lease["task"]["id"]
    assert Assignment.objects.get(pk=lease["assignment"]["id"]).status == "expired"
    late = submit(alice, lease)
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_expired"
    assert Assignment.objects.get(pk=lease["assignment"]["id"]).draft == ANSWER
    assert submit(bob, taken).status_code == 201


def test_a_late_submit_is_accepted_while_the_task_has_a_free_slot(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"overlap": 2})
    client = as_role("annotator")
    lease = next_task(client, project).json()
    Assignment.objects.filter(pk=lease["assignment"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    from apps.tasks.queue import leases_expire_and_notify

    assert leases_expire_and_notify() == 1
    assert Task.objects.get(pk=lease["task"]["id"]).in_flight == 0
    assert submit(client, lease).status_code == 201
    task = Task.objects.get(pk=lease["task"]["id"])
    assert (task.annotations_count, task.in_flight) == (1, 0)


def test_heartbeat_extends_and_draft_is_returned_with_the_lease(tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"lease_seconds": 120})
    client = as_role("annotator")
    lease = next_task(client, project).json()
    aid = lease["assignment"]["id"]
    Assignment.objects.filter(pk=aid).update(expires_at=timezone.now() + timedelta(seconds=5))
    beat = client.post(f"/api/v1/assignments/{aid}/heartbeat")
    assert beat.status_code == 200
    assert Assignment.objects.get(pk=aid).expires_at > timezone.now() + timedelta(seconds=100)
    assert client.put(f"/api/v1/assignments/{aid}/draft", {"draft": ANSWER}, format="json").status_code == 200
    assert next_task(client, project).json()["draft"] == ANSWER


def test_report_raises_a_flag(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    response = client.post(f"/api/v1/assignments/{lease['assignment']['id']}/report", {"reason": "blank image"},
                           format="json")
    assert response.status_code == 201
    assert Flag.objects.get(pk=response.json()["flag"]).reason == "blank image"


def test_paused_project_answers_409(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    manager.patch(f"/api/v1/projects/{project['id']}", {"status": "paused"}, format="json")
    response = next_task(as_role("annotator"), project)
    assert response.status_code == 409 and response.json()["error"]["code"] == "project_paused"


def test_viewers_have_no_queue(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    assert next_task(as_role("viewer"), project).status_code == 403


def test_a_pinned_task_is_served_first_to_its_annotator(tenant, manager):
    project = make_project(manager, tasks=3)
    ids = task_ids(project)
    (alice_member, alice), (_, bob) = annotators(tenant, 2)
    pinned = manager.post(f"/api/v1/tasks/{ids[2]}/assign", {"annotator": alice_member.pk}, format="json")
    assert pinned.status_code == 201
    assert work(bob, project) == ids[:2]  # the pin holds the only slot of ids[2]
    assert next_task(alice, project).json()["task"]["id"] == ids[2]


def test_priority_orders_the_queue_and_a_raised_task_is_reachable_behind_the_cursor(tenant, manager, as_role):
    project = make_project(manager, tasks=4, settings={"overlap": 2})
    ids = task_ids(project)
    manager.patch(f"/api/v1/tasks/{ids[3]}", {"priority": 5}, format="json")
    client = as_role("annotator")
    first = next_task(client, project).json()
    assert first["task"]["id"] == ids[3]
    submit(client, first)
    second = next_task(client, project).json()
    assert second["task"]["id"] == ids[0]
    submit(client, second)
    manager.patch(f"/api/v1/tasks/{ids[2]}", {"priority": 3}, format="json")  # now before the cursor
    assert next_task(client, project).json()["task"]["id"] == ids[2]


def test_revoke_ends_a_lease_and_the_annotator_hears_of_it(tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    response = manager.post(f"/api/v1/assignments/{lease['assignment']['id']}/revoke")
    assert response.status_code == 200 and response.json()["status"] == "released"
    assert AuditEvent.objects.filter(action="lease.revoke").exists()
    assert submit(client, lease).status_code == 201  # the slot is free again: late work is kept


def test_next_and_submit_use_a_constant_number_of_queries(tenant, manager, as_role, django_assert_max_num_queries):
    small = make_project(manager, tasks=3, settings={"overlap": 2})
    big = make_project(manager, tasks=300, settings={"overlap": 2})
    client = as_role("annotator")
    for project in (small, big):
        for _ in range(2):
            with django_assert_max_num_queries(24):
                lease = next_task(client, project).json()
            with django_assert_max_num_queries(24):
                assert submit(client, lease).status_code == 201


def test_an_annotator_cannot_tell_a_gold_task_from_the_tasks_they_see(tenant, manager, as_role):
    project = make_project(manager, tasks=2)
    client = as_role("annotator")
    lease = next_task(client, project).json()
    submit(client, lease)
    listed = client.get(f"/api/v1/projects/{project['id']}/tasks").json()["results"]
    assert [t["id"] for t in listed] == [lease["task"]["id"]]
    detail = client.get(f"/api/v1/tasks/{lease['task']['id']}").json()
    for shown in (listed[0], detail):
        assert "is_gold" not in shown and "gold" not in shown and "target_annotations" not in shown
    assert client.get(f"/api/v1/projects/{project['id']}/tasks?is_gold=true").status_code == 400
    assert "is_gold" in manager.get(f"/api/v1/projects/{project['id']}/tasks").json()["results"][0]

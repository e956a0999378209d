"""GET /projects/{id}/progress: counters kept by triggers agree with the tasks, the rebuild command, the
throughput buckets, rate and ETA on controlled data, and who may read it."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from apps.projects.models import Project
from apps.tasks.models import Annotation, Assignment, ProgressCounter, Task
from apps.tasks.progress import progress_counts, progress_rebuild, project_progress
from apps.tasks.queue import leases_expire_and_notify

from .queue_support import ANSWER, annotators, make_project, next_task, submit, task_ids


@pytest.fixture
def manager(as_role):
    return as_role("manager")


def real_progress(project_id: int) -> dict:
    """What the counters should say, counted from the tasks themselves."""
    counts = dict.fromkeys(Task.Status.values, 0)
    tasks = Task.objects.filter(project_id=project_id)
    for row in tasks.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    open_tasks = tasks.filter(status__in=["new", "in_progress", "rejected"])
    remaining = sum(max(0, t - a) for t, a in open_tasks.values_list("target_annotations", "annotations_count"))
    return {"counts": counts, "tasks": tasks.count(),
            "annotations": tasks.aggregate(n=Sum("annotations_count"))["n"] or 0, "remaining_annotations": remaining}


def assert_counters_match(project) -> dict:
    counted = progress_counts(project_id=project["id"])
    assert counted == real_progress(project["id"])
    return counted


def test_counts_follow_every_write_path(tenant, manager):
    """Import, import with annotations, lease, submit, release, skip, expiry, delete, bulk requeue and
    bulk delete: after each, the counters equal a count of the tasks."""
    project = make_project(manager, tasks=6, settings={"overlap": 2})
    assert assert_counters_match(project)["counts"]["new"] == 6

    rows = "\n".join(json.dumps({"data": {"text": f"pre {i}"}, "annotations": [{"result": ANSWER}] * (i + 1)})
                     for i in range(2))
    imported = manager.generic("POST", f"/api/v1/projects/{project['id']}/import", rows,
                               content_type="application/x-ndjson")
    assert imported.status_code == 201 and imported.json()["created"] == 2
    counted = assert_counters_match(project)
    assert counted["counts"]["in_progress"] == 1 and counted["counts"]["accepted"] == 1

    (_, ann1), (_, ann2), (_, ann3) = annotators(tenant, 3)
    lease1 = next_task(ann1, project).json()
    lease2 = next_task(ann2, project).json()
    lease3 = next_task(ann3, project).json()
    assert assert_counters_match(project)["counts"]["in_progress"] >= 2

    assert submit(ann1, lease1).status_code == 201
    assert_counters_match(project)
    assert ann2.post(f"/api/v1/assignments/{lease2['assignment']['id']}/release").status_code == 200
    assert_counters_match(project)
    assert ann3.post(f"/api/v1/assignments/{lease3['assignment']['id']}/skip").status_code == 200
    assert_counters_match(project)

    lease = next_task(ann2, project).json()
    Assignment.objects.filter(pk=lease["assignment"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_expire_and_notify() == 1
    assert_counters_match(project)

    ids = task_ids(project)
    assert manager.delete(f"/api/v1/tasks/{ids[0]}").status_code == 204
    assert_counters_match(project)

    accepted = list(Task.objects.filter(project_id=project["id"], status="accepted").values_list("id", flat=True))
    assert accepted
    bulk = manager.post(f"/api/v1/projects/{project['id']}/tasks/bulk", {"action": "requeue", "ids": accepted},
                        format="json")
    assert bulk.status_code == 200, bulk.content
    counted = assert_counters_match(project)
    assert counted["counts"]["accepted"] == 0 and counted["counts"]["in_progress"] >= len(accepted)

    bulk = manager.post(f"/api/v1/projects/{project['id']}/tasks/bulk", {"action": "delete", "ids": ids[1:3]},
                        format="json")
    assert bulk.status_code == 200, bulk.content
    assert_counters_match(project)

    body = manager.get(f"/api/v1/projects/{project['id']}/progress").json()
    assert {k: body[k] for k in ("counts", "tasks", "annotations", "remaining_annotations")} == \
        real_progress(project["id"])


def test_review_statuses_are_counted(tenant, manager, as_role):
    project = make_project(manager, tasks=2, settings={"review_policy": {"mode": "all"}})
    annotator = as_role("annotator")
    lease = next_task(annotator, project).json()
    assert submit(annotator, lease).status_code == 201
    assert assert_counters_match(project)["counts"]["annotated"] == 1
    reviewer = as_role("reviewer")
    review = reviewer.post(f"/api/v1/projects/{project['id']}/reviews/next")
    assert review.status_code == 200, review.content
    assert assert_counters_match(project)["counts"]["in_review"] == 1
    decided = reviewer.post(f"/api/v1/reviews/{review.json()['id']}", {"decision": "reject", "comment": "no"},
                            format="json")
    assert decided.status_code == 200, decided.content
    counted = assert_counters_match(project)
    assert counted["counts"]["rejected"] == 1 and counted["remaining_annotations"] == 2


# --- rebuilding the counters --------------------------------------------------------------------


def _corrupt(project_id: int) -> None:
    """What manual SQL with the triggers off leaves behind: counters that no longer add up."""
    ProgressCounter.objects.filter(project_id=project_id, status="new").update(tasks=99, targets=0)
    used = set(ProgressCounter.objects.filter(project_id=project_id, status="accepted").values_list("shard", flat=True))
    shard = next(s for s in range(16) if s not in used)  # the triggers shard by task id % 16
    ProgressCounter.objects.create(project_id=project_id, shard=shard, status="accepted", tasks=7, targets=7,
                                   annotations=7)


def test_progress_rebuild_recounts_one_project_and_leaves_the_others(tenant, manager, as_role):
    project = make_project(manager, tasks=5)
    other = make_project(manager, tasks=3)
    annotator = as_role("annotator")
    assert submit(annotator, next_task(annotator, project).json()).status_code == 201
    _corrupt(project["id"])
    _corrupt(other["id"])
    assert progress_counts(project_id=project["id"]) != real_progress(project["id"])

    out, err = StringIO(), StringIO()
    call_command("progress_rebuild", "--project", str(project["id"]), stdout=out, stderr=err)
    assert_counters_match(project)
    assert progress_counts(project_id=other["id"]) != real_progress(other["id"])
    assert "wrong value(s) corrected" in out.getvalue() and f"project {project['id']} new: tasks" in err.getvalue()

    assert progress_rebuild(project_id=project["id"]) == []  # nothing left to fix
    call_command("progress_rebuild", stdout=StringIO(), stderr=StringIO())
    assert_counters_match(other)


def test_triggers_keep_counting_after_a_rebuild(tenant, manager, as_role):
    project = make_project(manager, tasks=3)
    progress_rebuild()
    annotator = as_role("annotator")
    assert submit(annotator, next_task(annotator, project).json()).status_code == 201
    assert assert_counters_match(project)["counts"]["accepted"] == 1


def test_progress_rebuild_of_an_unknown_project_is_an_error(db):
    with pytest.raises(CommandError, match="no project 987654"):
        call_command("progress_rebuild", "--project", "987654")


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="session_replication_role is PostgreSQL's")
def test_rebuild_after_sql_that_bypassed_the_triggers(tenant, manager):
    project = make_project(manager, tasks=4)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # as pg_restore --disable-triggers does
        cursor.execute("UPDATE tasks_task SET status = 'accepted', annotations_count = 1 WHERE project_id = %s",
                       [project["id"]])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert progress_counts(project_id=project["id"])["counts"]["new"] == 4
    fixed = progress_rebuild(project_id=project["id"])
    assert {(row["status"], row["field"], row["was"], row["now"]) for row in fixed} >= {
        ("new", "tasks", 4, 0), ("accepted", "tasks", 0, 4)}
    assert assert_counters_match(project)["counts"]["accepted"] == 4


# --- throughput, rate and ETA on controlled data ------------------------------------------------

@pytest.fixture
def clock():
    """A fixed "now" in the middle of an hour."""
    return timezone.now().replace(minute=30, second=0, microsecond=0)


def _annotate(project, minutes_ago, now, *, source=Annotation.Source.HUMAN, lead_time_ms=None):
    """Annotations created `minutes_ago` before `now` (the task counters are left alone: the remaining work
    stays what the tasks say)."""
    project_obj = Project.objects.get(pk=project["id"])
    task = Task.objects.filter(project=project_obj).first()
    Annotation.objects.bulk_create([
        Annotation(organization_id=project_obj.organization_id, project=project_obj, task=task,
                   result=ANSWER, schema_version=1, source=source, status="accepted", lead_time_ms=lead_time_ms,
                   created_at=now - timedelta(minutes=m), updated_at=now - timedelta(minutes=m))
        for m in minutes_ago
    ])


# (annotations, minutes ago) → expected rate per hour; the project has 10 tasks with overlap 1 (10 remaining).
RATE_CASES = {
    "steady for hours: the last hour": ([1 + 2 * k for k in range(30)] + [61 + 2 * k for k in range(30)], 30.0),
    "started 15 minutes ago: over those 15": ([15 - 1.5 * k for k in range(10)], 40.0),
    "two in the last 3 minutes: over 10 minutes at least": ([3, 1], 12.0),
    "a pause in the hour before, then 15 minutes of work": ([150, 15, 10, 5], 12.0),
    "nothing in the last hour: the 24 h average": ([120 + 20 * k for k in range(48)], 2.0),
    "nothing in 24 h": ([25 * 60, 30 * 60], 0.0),
}


@pytest.mark.parametrize("case", RATE_CASES, ids=list(RATE_CASES))
def test_rate_and_eta(tenant, manager, clock, case):
    minutes, rate = RATE_CASES[case]
    project = make_project(manager, tasks=10)
    _annotate(project, minutes, clock)
    body = project_progress(project=Project.objects.get(pk=project["id"]), now=clock)
    assert body["remaining_annotations"] == 10
    assert body["rate_per_hour"] == rate
    if rate:
        assert body["eta_seconds"] == 10 * 3600 / rate
        assert body["eta"] == (clock + timedelta(seconds=body["eta_seconds"])).isoformat()
    else:
        assert body["eta_seconds"] is None and body["eta"] is None


def test_throughput_buckets_are_the_last_24_hours_by_utc_hour(tenant, manager, clock):
    project = make_project(manager, tasks=10)
    _annotate(project, [5, 10, 35, 95, 24 * 60 + 20, 24 * 60 + 40], clock)  # 24 h 40 min ago: out of range
    body = project_progress(project=Project.objects.get(pk=project["id"]), now=clock)
    hours = body["annotations_per_hour"]
    assert len(hours) == 25
    start = clock.replace(minute=0) - timedelta(hours=24)
    assert [h["hour"] for h in hours] == [(start + timedelta(hours=i)).isoformat() for i in range(25)]
    by_hour = {h["hour"]: h["annotations"] for h in hours}
    current = clock.replace(minute=0)
    assert by_hour[current.isoformat()] == 2  # 5 and 10 minutes ago (it is hh:30)
    assert by_hour[(current - timedelta(hours=1)).isoformat()] == 1  # 35 minutes ago
    assert by_hour[(current - timedelta(hours=2)).isoformat()] == 1  # 95 minutes ago
    assert by_hour[start.isoformat()] == 1  # 24 h 20 min ago is in the first bucket
    assert sum(by_hour.values()) == 5


def test_imported_annotations_are_not_throughput(tenant, manager, clock):
    project = make_project(manager, tasks=10)
    _annotate(project, [1, 2, 3, 4], clock, source=Annotation.Source.IMPORT)
    _annotate(project, [20, 40], clock)
    body = project_progress(project=Project.objects.get(pk=project["id"]), now=clock)
    assert sum(h["annotations"] for h in body["annotations_per_hour"]) == 2
    assert body["rate_per_hour"] == 3.0  # 2 over the 40 minutes since the first


def test_median_lead_time_and_a_finished_project(tenant, manager, as_role, clock):
    project = make_project(manager, tasks=2)
    annotator = as_role("annotator")
    for _ in range(2):
        assert submit(annotator, next_task(annotator, project).json()).status_code == 201
    _annotate(project, [50, 40, 30], clock, lead_time_ms=5000)
    _annotate(project, [20], clock, lead_time_ms=100)
    body = project_progress(project=Project.objects.get(pk=project["id"]))
    assert body["median_lead_time_ms"] == (1200 + 5000) / 2  # 100, 1200, 1200, 5000, 5000, 5000
    assert body["remaining_annotations"] == 0 and body["counts"]["accepted"] == 2
    assert body["eta_seconds"] == 0


def test_no_annotations_yet(tenant, manager):
    project = make_project(manager, tasks=3)
    body = manager.get(f"/api/v1/projects/{project['id']}/progress").json()
    assert body["counts"]["new"] == 3 and body["tasks"] == 3 and body["annotations"] == 0
    assert body["remaining_annotations"] == 3 and body["rate_per_hour"] == 0
    assert body["median_lead_time_ms"] is None and body["eta_seconds"] is None and body["eta"] is None
    assert len(body["annotations_per_hour"]) == 25


# --- who may read it ----------------------------------------------------------------------------

ROLE_STATUS = {"owner": 200, "manager": 200, "viewer": 200, "reviewer": 200, "annotator": 403}


@pytest.mark.parametrize(("role", "status"), ROLE_STATUS.items())
def test_progress_roles(tenant, manager, as_role, role, status):
    project = make_project(manager, tasks=2)
    assert as_role(role).get(f"/api/v1/projects/{project['id']}/progress").status_code == status


def test_progress_of_another_organization_is_404(tenant, manager, other_tenant):
    from tests.conftest import token_client

    project = make_project(manager, tasks=1)
    outsider = token_client(other_tenant.secrets["manager"])
    response = outsider.get(f"/api/v1/projects/{project['id']}/progress")
    assert response.status_code == 404 and "counts" not in response.json()


def test_progress_query_count_does_not_grow_with_the_project(tenant, manager, as_role,
                                                             django_assert_max_num_queries):
    project = make_project(manager, tasks=40)
    crowd = annotators(tenant, 3)
    for _, client in crowd:
        for _ in range(5):
            assert submit(client, next_task(client, project).json()).status_code == 201
    with django_assert_max_num_queries(10):
        response = manager.get(f"/api/v1/projects/{project['id']}/progress")
    assert response.status_code == 200 and response.json()["annotations"] == 15

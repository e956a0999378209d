"""Jobs on a real Celery worker (a thread of this process, Redis broker): lifecycle, failure, time
limits, redelivery, dedupe, reaping, who may see a job, and /healthz."""

import datetime as dt
import os
import threading
import time

import pytest
import redis
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.jobs.base import JobTask
from apps.jobs.models import Job
from apps.jobs.services import job_start, jobs_reap_stale
from apps.jobs.worker import HEARTBEAT_KEY
from apps.orgs.roles import Role
from apps.orgs.services import token_create
from config.celery import app as celery_app

from ..conftest import token_client
from ..factories import MembershipFactory

# This process's own queue, so a worker of another test run on the same Redis never takes our jobs.
QUEUE = f"quorum-tests-jobs-{os.getpid()}"

release_half = threading.Event()  # the progress job waits at 50 % until the test has seen it there


@shared_task(base=JobTask, name="tests.jobs.count_words", queue=QUEUE)
def count_words_task(job):
    words = job.params["text"].split()
    job.progress(0.5, "half", force=True)
    release_half.wait(timeout=10)
    return {"words": len(words)}


@shared_task(base=JobTask, name="tests.jobs.explode", queue=QUEUE)
def explode_task(job):
    raise ValueError(f"cannot parse row {job.params['row']}")


@shared_task(base=JobTask, name="tests.jobs.dawdle", queue=QUEUE)
def dawdle_task(job):
    time.sleep(30)
    return {"finished": True}


def wait_for(predicate, *, timeout=10.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def poll_job(client, job_id, *, until, timeout=10.0):
    """GET /jobs/{id} until `until(body)` holds; returns every distinct status seen on the way."""
    seen = []

    def check():
        response = client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.content
        body = response.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        return body if until(body) else None

    body = wait_for(check, timeout=timeout, message=f"job {job_id} (statuses seen: {seen})")
    return body, seen


def _start(tenant, task, *, role="annotator", **kwargs):
    with transaction.atomic():
        return job_start(organization=tenant.org, created_by=tenant.user(role), task=task, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def _drop_test_queue():
    yield
    # The queue and its exchange were made for this run only: leave nothing behind in Redis.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")


def _running(**options):
    release_half.clear()
    with start_worker(celery_app, perform_ping_check=False, queues=[QUEUE], shutdown_timeout=15, **options) as w:
        try:
            yield w
        finally:
            release_half.set()  # never leave the worker blocked in a job while it shuts down


@pytest.fixture
def worker(transactional_db):
    yield from _running(pool="solo")


@pytest.fixture
def prefork_worker(transactional_db):
    """Time limits are enforced by the prefork pool only (as in production); solo and threads ignore them."""
    yield from _running(pool="prefork", concurrency=1)


# --- the lifecycle on a real worker -----------------------------------------------------------


def test_job_goes_queued_running_succeeded_with_progress_and_result(worker, tenant, as_role):
    annotator = as_role("annotator")
    with transaction.atomic():
        job = job_start(organization=tenant.org, created_by=tenant.user("annotator"), kind="word_count",
                        task=count_words_task, params={"text": "the quick brown fox"})
        # Sent only on commit: until then nobody can have started it.
        queued = annotator.get(f"/api/v1/jobs/{job.pk}").json()
    assert queued["status"] == "queued" and queued["progress"] == 0.0 and queued["result"] is None

    running, _ = poll_job(annotator, job.pk, until=lambda b: b["status"] == "running" and b["progress"] == 0.5)
    assert running["message"] == "half" and running["started_at"] and running["finished_at"] is None

    release_half.set()
    done, seen = poll_job(annotator, job.pk, until=lambda b: b["status"] in ("succeeded", "failed"))
    assert seen[-1] == "succeeded", done
    assert done["progress"] == 1.0
    assert done["result"] == {"words": 4}
    assert done["error"] is None and done["kind"] == "word_count" and done["finished_at"]
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_failing_job_is_failed_with_the_error_text(worker, tenant, as_role):
    job = _start(tenant, explode_task, kind="import", params={"row": 17})
    done, _ = poll_job(as_role("annotator"), job.pk, until=lambda b: b["status"] in ("succeeded", "failed"))
    assert done["status"] == "failed"
    assert done["error"] == "ValueError: cannot parse row 17"
    assert done["result"] is None and done["finished_at"]


def test_a_job_over_its_time_limit_fails_with_time_limit_exceeded(prefork_worker, tenant, as_role):
    started = time.monotonic()
    job = _start(tenant, dawdle_task, kind="slow", time_limit=2)
    done, _ = poll_job(as_role("annotator"), job.pk, until=lambda b: b["status"] in ("succeeded", "failed"),
                       timeout=15)
    assert done["status"] == "failed" and done["error"] == "time limit exceeded"
    assert done["result"] is None
    assert time.monotonic() - started < 10  # stopped by the limit, not after its 30 s of work


def test_a_redelivered_message_for_a_finished_job_does_not_run_it_again(worker, tenant, as_role):
    release_half.set()
    job = _start(tenant, count_words_task, kind="word_count", params={"text": "one two"})
    done, _ = poll_job(as_role("annotator"), job.pk, until=lambda b: b["status"] == "succeeded")
    before = Job.objects.values("status", "attempts", "result", "progress", "finished_at").get(pk=job.pk)
    assert before["attempts"] == 1

    count_words_task.apply(args=[job.pk])  # the same message delivered once more (acks_late)

    after = Job.objects.values("status", "attempts", "result", "progress", "finished_at").get(pk=job.pk)
    assert after == before
    assert as_role("annotator").get(f"/api/v1/jobs/{job.pk}").json() == done


def test_a_redelivered_message_for_an_unfinished_job_runs_it_as_another_attempt(db, tenant):
    # The counterpart of the test above: a job whose worker died mid-way is run again on redelivery.
    release_half.set()
    job = job_start(organization=tenant.org, created_by=tenant.user("annotator"), kind="word_count",
                    task=count_words_task, params={"text": "a b c"})
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(), attempts=1)
    count_words_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result, job.progress) == ("succeeded", 2, {"words": 3}, 1.0)


# --- dedupe and reaping (no worker needed) -----------------------------------------------------


def test_same_dedupe_key_joins_the_live_job(db, tenant, other_tenant):
    first = job_start(organization=tenant.org, created_by=tenant.user("manager"), kind="export",
                      task=count_words_task, params={"text": "x"}, dedupe_key="export:7")
    again = job_start(organization=tenant.org, created_by=tenant.user("owner"), kind="export",
                      task=count_words_task, params={"text": "y"}, dedupe_key="export:7")
    assert again.pk == first.pk
    Job.objects.filter(pk=first.pk).update(status=Job.Status.RUNNING)
    assert job_start(organization=tenant.org, created_by=tenant.user("manager"), kind="export",
                     task=count_words_task, dedupe_key="export:7").pk == first.pk
    assert Job.objects.filter(organization=tenant.org).count() == 1

    # Another organization's identical key is another job; so is the key once the first job finished.
    elsewhere = job_start(organization=other_tenant.org, created_by=other_tenant.user("manager"), kind="export",
                          task=count_words_task, dedupe_key="export:7")
    assert elsewhere.pk != first.pk
    Job.objects.filter(pk=first.pk).update(status=Job.Status.SUCCEEDED)
    rerun = job_start(organization=tenant.org, created_by=tenant.user("manager"), kind="export",
                      task=count_words_task, dedupe_key="export:7")
    assert rerun.pk != first.pk and rerun.status == Job.Status.QUEUED
    # Without a key nothing is joined.
    unkeyed = [job_start(organization=tenant.org, created_by=tenant.user("manager"), kind="export",
                         task=count_words_task).pk for _ in range(2)]
    assert unkeyed[0] != unkeyed[1]


def test_reaper_fails_lost_and_never_started_jobs_and_leaves_fresh_ones(db, tenant):
    now = timezone.now()

    def job(status, *, created_ago, started_ago=None, time_limit=600):
        return Job.objects.create(
            organization=tenant.org, created_by=tenant.user("manager"), kind="k", status=status,
            time_limit=time_limit, created_at=now - created_ago,
            started_at=None if started_ago is None else now - started_ago,
        )

    lost = job("running", created_ago=dt.timedelta(minutes=20), started_ago=dt.timedelta(seconds=600 + 61))
    in_grace = job("running", created_ago=dt.timedelta(minutes=20), started_ago=dt.timedelta(seconds=600 + 59))
    busy = job("running", created_ago=dt.timedelta(minutes=2), started_ago=dt.timedelta(minutes=1))
    stale_queue = job("queued", created_ago=dt.timedelta(hours=24, minutes=1))
    waiting = job("queued", created_ago=dt.timedelta(hours=23))
    finished = job("succeeded", created_ago=dt.timedelta(days=3), started_ago=dt.timedelta(days=3))

    assert jobs_reap_stale(now=now) == 2

    states = {j.pk: j for j in Job.objects.filter(organization=tenant.org)}
    assert states[lost.pk].status == "failed" and states[lost.pk].error.startswith("lost")
    assert states[lost.pk].finished_at is not None
    assert states[stale_queue.pk].status == "failed" and states[stale_queue.pk].error
    for fresh, status in ((in_grace, "running"), (busy, "running"), (waiting, "queued"), (finished, "succeeded")):
        assert (states[fresh.pk].status, states[fresh.pk].error) == (status, "")
    assert jobs_reap_stale(now=now) == 0  # reaping again changes nothing


# --- who may see a job -------------------------------------------------------------------------


@pytest.fixture
def second_annotator(tenant):
    member = MembershipFactory(organization=tenant.org, role=Role.ANNOTATOR, user__email="second@acme.test")
    _, secret = token_create(organization=tenant.org, actor=member.user, actor_role=Role.ANNOTATOR,
                             name="second", role=Role.ANNOTATOR)
    return token_client(secret)


def test_a_job_is_visible_to_its_starter_and_managers_only(db, tenant, other_tenant, as_role, second_annotator):
    job = job_start(organization=tenant.org, created_by=tenant.user("annotator"), kind="import",
                    task=count_words_task, params={"text": ""})
    path = f"/api/v1/jobs/{job.pk}"
    assert as_role("annotator").get(path).status_code == 200
    assert as_role("annotator").get(path).json()["id"] == job.pk
    assert as_role("manager").get(path).status_code == 200
    assert as_role("owner").get(path).status_code == 200
    for client in (second_annotator, as_role("reviewer"), as_role("viewer"),
                   token_client(other_tenant.secrets["manager"]), token_client(other_tenant.secrets["owner"])):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_the_job_list_shows_only_visible_jobs(db, tenant, other_tenant, as_role, second_annotator):
    def start(t, role):
        return job_start(organization=t.org, created_by=t.user(role), kind="import", task=count_words_task).pk

    mine, managers, theirs = start(tenant, "annotator"), start(tenant, "manager"), start(other_tenant, "manager")

    def listed(client):
        response = client.get("/api/v1/jobs")
        assert response.status_code == 200
        return {item["id"] for item in response.json()["results"]}

    assert listed(as_role("annotator")) == {mine}
    assert listed(second_annotator) == set()
    assert listed(as_role("manager")) == {mine, managers}
    assert listed(token_client(other_tenant.secrets["manager"])) == {theirs}


# --- /healthz ----------------------------------------------------------------------------------


def test_beat_can_send_every_periodic_task_and_the_worker_heartbeat_makes_healthz_ok(worker, client):
    cache.delete(HEARTBEAT_KEY)
    assert client.get("/healthz").status_code == 503
    # What beat does on each tick: apply_async on the scheduled task (options are checked there).
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        celery_app.tasks[entry["task"]].apply_async(queue=QUEUE)

    def healthy(path):
        response = client.get(path)
        return response if response.status_code == 200 else None

    for path in ("/healthz", "/api/v1/healthz", "/healthz/"):
        response = wait_for(lambda p=path: healthy(p), timeout=10, message=f"{path} → 200")
        assert response.json() == {"database": "ok", "redis": "ok", "worker": "ok"}


def test_healthz_is_503_with_worker_down_when_no_worker_beats(db, client):
    cache.delete(HEARTBEAT_KEY)
    for path in ("/healthz", "/api/v1/healthz"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json() == {"database": "ok", "redis": "ok", "worker": "down"}
    # A heartbeat older than the allowed age is as good as none.
    cache.set(HEARTBEAT_KEY, time.time() - settings.WORKER_HEARTBEAT_MAX_AGE - 1)
    assert client.get("/healthz").json()["worker"] == "down"

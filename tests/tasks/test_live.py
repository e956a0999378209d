"""Live updates of the queue over real sockets: uvicorn in a thread (as tests/live), the Redis channel layer
and cache, a Celery worker for the trailing progress messages, and the HTTP requests that cause the events."""

import json
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from apps.projects.models import Project
from apps.tasks.annotations import assignment_revoke
from apps.tasks.events import PROGRESS_WINDOW_SECONDS
from apps.tasks.models import Assignment, Task
from apps.tasks.tasks import expire_leases_task
from config.celery import app as celery_app

from ..conftest import make_tenant, token_client
from ..live.test_websocket import _serve, http, recv_json
from .queue_support import ANSWER, annotators, make_project, next_task, submit

# The trailing progress messages go to this process's own queue (tests/conftest.py: own_celery_queue).
pytestmark = pytest.mark.usefixtures("own_celery_queue")


@pytest.fixture
def server(transactional_db):
    yield from _serve()


@pytest.fixture
def server_in_memory(transactional_db, settings):
    """Embedded mode's in-memory channel layer (and a cache of this process)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield from _serve()


@pytest.fixture
def worker(transactional_db, own_celery_queue):
    with start_worker(celery_app, perform_ping_check=False, queues=[own_celery_queue], pool="solo",
                      shutdown_timeout=15):
        yield


@pytest.fixture
def manager(as_role):
    return as_role("manager")


def socket(server, path, secret):
    return connect(f"ws://{server}{path}?token={secret}", origin=f"http://{server}", open_timeout=5, close_timeout=2)


@contextmanager
def project_socket(server, project_id, secret):
    with socket(server, f"/ws/projects/{project_id}/", secret) as ws:
        assert recv_json(ws)["type"] == "hello"
        yield ws


@contextmanager
def me_socket(server, secret):
    with socket(server, "/ws/me/", secret) as ws:
        assert recv_json(ws)["type"] == "hello"
        yield ws


class Inbox:
    """Everything a socket receives, read by a thread of its own as it arrives (so arrival times are true
    while the test is busy sending requests); raw frames kept to check what is never in them."""

    def __init__(self, ws):
        self.messages, self.frames = [], []
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, args=(ws,), daemon=True)
        self._reader.start()

    def _read(self, ws):
        try:
            for frame in ws:
                message = json.loads(frame)
                message["_at"] = time.monotonic()
                with self._lock:
                    self.frames.append(frame)
                    self.messages.append(message)
        except ConnectionClosed:
            pass

    def clear(self):
        with self._lock:
            self.messages.clear()
            self.frames.clear()
            self._since = time.monotonic()

    def wait_for(self, *predicates, timeout=5.0) -> list[dict]:
        """Wait until every predicate holds for what was received."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if all(predicate(self.messages) for predicate in predicates):
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {self.messages}")
            time.sleep(0.02)

    def until_quiet(self, quiet=1.5, *, limit=10.0) -> list[dict]:
        """Wait until nothing has arrived for `quiet` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self._lock:
                last = self.messages[-1]["_at"] if self.messages else None
            now = time.monotonic()
            if now - max(last or 0, self._since) >= quiet:
                return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"the socket never went quiet: {self.messages}")

    def of(self, kind) -> list[dict]:
        with self._lock:
            return [{k: v for k, v in m.items() if k != "_at"} for m in self.messages if m["type"] == kind]

    def times(self, kind) -> list[float]:
        with self._lock:
            return [m["_at"] for m in self.messages if m["type"] == kind]


def has(kind, **fields):
    return lambda messages: any(m["type"] == kind and all(m.get(k) == v for k, v in fields.items())
                                for m in messages)


# --- events of the queue ------------------------------------------------------------------------


def test_next_and_submit_over_http_reach_the_managers_socket(server, tenant, manager):
    project = make_project(manager, tasks=2)
    with project_socket(server, project["id"], tenant.secrets["manager"]) as ws:
        inbox = Inbox(ws)
        status, lease = http(server, "POST", f"/api/v1/projects/{project['id']}/next", tenant.secrets["annotator"])
        assert status == 200
        task = lease["task"]["id"]
        inbox.wait_for(has("task.updated", task=task))
        assert inbox.of("task.updated") == [{
            "type": "task.updated", "project": project["id"], "task": task, "status": "in_progress",
            "annotations_count": 0, "target_annotations": 1, "in_flight": 1}]

        status, annotation = http(server, "POST", f"/api/v1/assignments/{lease['assignment']['id']}/submit",
                                  tenant.secrets["annotator"], {"result": ANSWER, "lead_time_ms": 900})
        assert status == 201
        inbox.wait_for(has("annotation.created"), has("task.updated", status="accepted"))
        assert inbox.of("annotation.created") == [{
            "type": "annotation.created", "project": project["id"], "task": task, "annotation": annotation["id"],
            "author": tenant.user("annotator").pk, "status": "accepted", "source": "human",
            "annotations_count": 1, "target_annotations": 1, "task_status": "accepted"}]
        assert inbox.of("task.updated")[-1] == {
            "type": "task.updated", "project": project["id"], "task": task, "status": "accepted",
            "annotations_count": 1, "target_annotations": 1, "in_flight": 0}


def test_embedded_mode_in_memory_layer_delivers_the_queue_events(server_in_memory, tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    annotator = as_role("annotator")
    with project_socket(server_in_memory, project["id"], tenant.secrets["manager"]) as ws:
        inbox = Inbox(ws)
        lease = next_task(annotator, project).json()
        assert submit(annotator, lease).status_code == 201
        inbox.wait_for(has("annotation.created"), has("task.updated", status="accepted"))


def test_the_expiry_sweep_tells_the_annotator_and_the_managers(server, tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    lease = next_task(as_role("annotator"), project).json()
    assignment, task = lease["assignment"]["id"], lease["task"]["id"]
    Assignment.objects.filter(pk=assignment).update(expires_at=timezone.now() - timedelta(seconds=1))
    with me_socket(server, tenant.secrets["annotator"]) as me, \
            project_socket(server, project["id"], tenant.secrets["manager"]) as ws:
        mine, managers = Inbox(me), Inbox(ws)
        expire_leases_task.apply()  # what beat runs every LEASE_SWEEP_INTERVAL seconds
        expired = {"type": "lease.expired", "project": project["id"], "task": task, "assignment": assignment}
        mine.wait_for(has("lease.expired"))
        assert mine.of("lease.expired") == [expired]
        managers.wait_for(has("lease.expired"), has("task.updated"))
        assert managers.of("lease.expired") == [expired]
        assert managers.of("task.updated") == [{"type": "task.updated", "project": project["id"], "task": task,
                                                "status": "new", "annotations_count": 0, "target_annotations": 1,
                                                "in_flight": 0}]
    assert Assignment.objects.get(pk=assignment).status == "expired"


def test_a_managers_revocation_reaches_the_annotators_socket(server, tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    lease = next_task(as_role("annotator"), project).json()
    assignment = lease["assignment"]["id"]
    with me_socket(server, tenant.secrets["annotator"]) as me:
        inbox = Inbox(me)
        status, _ = http(server, "POST", f"/api/v1/assignments/{assignment}/revoke", tenant.secrets["manager"])
        assert status == 200
        inbox.wait_for(has("lease.revoked"))
        assert inbox.of("lease.revoked") == [{"type": "lease.revoked", "project": project["id"],
                                              "task": lease["task"]["id"], "assignment": assignment}]


def test_another_annotators_revocation_does_not_reach_this_socket(server, tenant, manager, as_role):
    project = make_project(manager, tasks=2)
    (_, other), = annotators(tenant, 1)
    lease = next_task(other, project).json()
    with me_socket(server, tenant.secrets["annotator"]) as me:
        status, _ = http(server, "POST", f"/api/v1/assignments/{lease['assignment']['id']}/revoke",
                         tenant.secrets["manager"])
        assert status == 200
        with pytest.raises(TimeoutError):
            me.recv(timeout=1)


def test_a_review_decision_reaches_the_author(server, tenant, manager, as_role):
    project = make_project(manager, tasks=1, settings={"review_policy": {"mode": "all"}})
    annotator = as_role("annotator")
    lease = next_task(annotator, project).json()
    annotation = submit(annotator, lease).json()["id"]
    reviewer = as_role("reviewer")
    review = reviewer.post(f"/api/v1/projects/{project['id']}/reviews/next").json()["id"]
    with me_socket(server, tenant.secrets["annotator"]) as me:
        inbox = Inbox(me)
        decided = reviewer.post(f"/api/v1/reviews/{review}", {"decision": "reject", "comment": "wrong label"},
                                format="json")
        assert decided.status_code == 200
        inbox.wait_for(has("review.decided"))
        assert inbox.of("review.decided") == [{
            "type": "review.decided", "project": project["id"], "task": lease["task"]["id"],
            "annotation": annotation, "review": review, "decision": "reject", "comment": "wrong label"}]


def test_nothing_is_sent_for_a_transaction_that_rolls_back(server, tenant, manager, as_role):
    project = make_project(manager, tasks=1)
    lease = next_task(as_role("annotator"), project).json()
    assignment = Assignment.objects.get(pk=lease["assignment"]["id"])
    with me_socket(server, tenant.secrets["annotator"]) as me:
        with pytest.raises(RuntimeError), transaction.atomic():
            assignment_revoke(assignment=assignment, actor=tenant.user("manager"))
            raise RuntimeError("rolled back")
        with pytest.raises(TimeoutError):
            me.recv(timeout=1)
        assignment_revoke(assignment=Assignment.objects.get(pk=assignment.pk), actor=tenant.user("manager"))
        assert recv_json(me)["type"] == "lease.revoked"


def test_phi_organization_messages_carry_ids_and_counters_only(server, worker):
    clinic = make_tenant("clinic", phi=True)
    manager = token_client(clinic.secrets["manager"])
    project = make_project(manager, tasks=4)
    annotator = token_client(clinic.secrets["annotator"])
    with project_socket(server, project["id"], clinic.secrets["manager"]) as ws, \
            me_socket(server, clinic.secrets["annotator"]) as me:
        managers, mine = Inbox(ws), Inbox(me)
        first = next_task(annotator, project).json()
        assert submit(annotator, first).status_code == 201
        second = next_task(annotator, project).json()
        assert manager.post(f"/api/v1/assignments/{second['assignment']['id']}/revoke").status_code == 200
        third = next_task(annotator, project).json()
        Assignment.objects.filter(pk=third["assignment"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        expire_leases_task.apply()
        managers.wait_for(has("annotation.created"), has("lease.revoked"), has("lease.expired"))
        mine.wait_for(has("lease.revoked"), has("lease.expired"))
        managers.until_quiet(quiet=1.5)
    assert {m["type"] for m in managers.messages} >= {"task.updated", "annotation.created", "lease.revoked",
                                                      "lease.expired", "progress"}
    texts = list(Task.objects.filter(project_id=project["id"]).values_list("data__text", flat=True))
    for frame in managers.frames + mine.frames:
        message = json.loads(frame)
        assert not {"data", "result", "draft", "meta"} & message.keys(), message
        assert not any(text in frame for text in texts), frame
    for message in managers.of("annotation.created"):
        assert set(message) == {"type", "project", "task", "annotation", "author", "status", "source",
                                "annotations_count", "target_annotations", "task_status"}


# --- who may watch a project --------------------------------------------------------------------

SOCKET_ROLES = {"owner": "hello", "manager": "hello", "viewer": "hello", "reviewer": 4404, "annotator": 4404}


def outcome(server, path, secret):
    """"hello" when the socket is accepted, else the close code it got."""
    with socket(server, path, secret) as ws:
        try:
            return recv_json(ws)["type"]
        except ConnectionClosed as closed:
            return closed.rcvd.code


@pytest.mark.parametrize(("role", "expected"), SOCKET_ROLES.items())
def test_who_may_watch_a_project(server, tenant, manager, role, expected):
    project = make_project(manager, tasks=0)
    assert outcome(server, f"/ws/projects/{project['id']}/", tenant.secrets[role]) == expected


def test_another_organization_or_no_project_is_4404_and_no_credentials_4401(server, tenant, manager, other_tenant):
    project = make_project(manager, tasks=0)
    path = f"/ws/projects/{project['id']}/"
    assert outcome(server, path, other_tenant.secrets["manager"]) == 4404
    assert outcome(server, path, other_tenant.secrets["owner"]) == 4404
    assert outcome(server, "/ws/projects/999999999/", tenant.secrets["manager"]) == 4404
    assert outcome(server, path, "qrm_not-a-real-token") == 4401
    Project.objects.filter(pk=project["id"]).update(deleted_at=timezone.now())
    assert outcome(server, path, tenant.secrets["manager"]) == 4404


def test_a_socket_on_one_project_hears_nothing_of_another(server, tenant, manager, as_role):
    watched, other = make_project(manager, tasks=1), make_project(manager, tasks=1)
    with project_socket(server, watched["id"], tenant.secrets["manager"]) as ws:
        inbox = Inbox(ws)
        annotator = as_role("annotator")
        assert submit(annotator, next_task(annotator, other).json()).status_code == 201
        inbox.until_quiet(quiet=1.5)
    assert inbox.messages == []


# --- progress: at most one message per project per second ---------------------------------------


def test_a_burst_gives_one_message_at_once_and_exactly_one_trailing(server, worker, tenant, manager):
    project = make_project(manager, tasks=10)
    crowd = annotators(tenant, 3)
    leases = [(client, next_task(client, project).json()) for _, client in crowd]
    with project_socket(server, project["id"], tenant.secrets["manager"]) as ws:
        inbox = Inbox(ws)
        inbox.until_quiet(quiet=PROGRESS_WINDOW_SECONDS + 0.5)  # the setup's own trailing message, if any
        inbox.clear()
        started = time.monotonic()
        for client, lease in leases:
            assert submit(client, lease).status_code == 201
        burst = time.monotonic() - started
        assert burst < 0.8 * PROGRESS_WINDOW_SECONDS, f"the burst took {burst:.2f} s: not one window"
        inbox.until_quiet(quiet=PROGRESS_WINDOW_SECONDS + 0.8)
    progress = inbox.of("progress")
    at = inbox.times("progress")
    assert len(progress) == 2, progress
    assert at[0] - started < 0.5  # the first change is sent at once
    assert 0.8 * PROGRESS_WINDOW_SECONDS <= at[1] - at[0] <= 2 * PROGRESS_WINDOW_SECONDS
    assert progress[0]["annotations"] >= 1
    assert progress[1] == {"type": "progress", "project": project["id"], "tasks": 10, "annotations": 3,
                           "remaining_annotations": 7,
                           "counts": {"new": 7, "in_progress": 0, "annotated": 0, "in_review": 0, "accepted": 3,
                                      "rejected": 0}}


def test_a_steady_stream_is_sent_at_most_once_a_second_and_ends_with_the_final_counts(server, worker, tenant,
                                                                                        manager, as_role):
    project = make_project(manager, tasks=40)
    annotator = as_role("annotator")
    with project_socket(server, project["id"], tenant.secrets["manager"]) as ws:
        inbox = Inbox(ws)
        inbox.until_quiet(quiet=PROGRESS_WINDOW_SECONDS + 0.5)
        inbox.clear()
        started, done = time.monotonic(), 0
        while time.monotonic() - started < 2.6 * PROGRESS_WINDOW_SECONDS:
            assert submit(annotator, next_task(annotator, project).json()).status_code == 201
            done += 1
            time.sleep(0.1)
        inbox.until_quiet(quiet=PROGRESS_WINDOW_SECONDS + 0.8)
    at = inbox.times("progress")
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert 3 <= len(at) <= 5, (at, done)
    assert min(gaps) >= 0.8 * PROGRESS_WINDOW_SECONDS, gaps  # (delivery jitter aside, 1 s apart)
    assert inbox.of("progress")[-1]["annotations"] == done
    assert len(inbox.of("annotation.created")) == done  # the other events are never coalesced

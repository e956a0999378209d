"""32 annotators, each on its own connection, race through a 500-task project with overlap 3."""

import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from apps.tasks.models import Annotation, Assignment, Task

from .queue_support import ANSWER, annotators, make_project

WORKERS, TASKS, OVERLAP = 32, 500, 3


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_annotators_finish_a_project_with_overlap_3_and_no_duplicates(tenant, as_role):
    project = make_project(as_role("manager"), tasks=TASKS, settings={"overlap": OVERLAP, "lease_seconds": 600})
    crowd = annotators(tenant, WORKERS)
    statuses: Counter = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def call(client, url, body=None):
        try:
            return client.post(url, body, format="json")
        finally:
            connection.close()  # back to the pool (10 per process): 32 threads share it, as a server's do

    def run(client, seed):
        rng = random.Random(seed)
        idle = 0
        try:
            while idle < 200:
                response = call(client, f"/api/v1/projects/{project['id']}/next")
                with lock:
                    statuses[("next", response.status_code)] += 1
                if response.status_code == 204:
                    if not Task.objects.filter(project_id=project["id"]).exclude(status="accepted").exists():
                        return
                    idle += 1
                    time.sleep(0.02)  # others still hold leases that may come back
                    continue
                if response.status_code != 200:
                    failures.append(f"next {response.status_code} {response.content[:200]!r}")
                    return
                idle = 0
                assignment = response.json()["assignment"]["id"]
                roll = rng.random()
                if roll < 0.05:
                    action, reply = "release", call(client, f"/api/v1/assignments/{assignment}/release")
                elif roll < 0.08:
                    action, reply = "skip", call(client, f"/api/v1/assignments/{assignment}/skip")
                else:
                    action, reply = "submit", call(client, f"/api/v1/assignments/{assignment}/submit",
                                                   {"result": ANSWER, "lead_time_ms": 900})
                with lock:
                    statuses[(action, reply.status_code)] += 1
                if reply.status_code >= 300:
                    failures.append(f"{action} {reply.status_code} {reply.content[:200]!r}")
                    return
            failures.append("gave up waiting for work that never came back")
        except Exception as exc:  # an IntegrityError or any crash fails the test
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(client, i)) for i, (_, client) in enumerate(crowd)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    assert not failures, failures[:5]
    assert not any(code >= 500 for (_, code) in statuses), statuses
    tasks = Task.objects.filter(project_id=project["id"])
    assert tasks.count() == TASKS
    per_task = Counter(Annotation.objects.filter(project_id=project["id"]).values_list("task_id", flat=True))
    assert set(per_task.values()) == {OVERLAP} and len(per_task) == TASKS
    pairs = Annotation.objects.filter(project_id=project["id"]).values_list("task_id", "author_id")
    assert len(set(pairs)) == TASKS * OVERLAP  # three different people on every task
    assert set(tasks.values_list("status", flat=True)) == {"accepted"}
    assert set(tasks.values_list("in_flight", flat=True)) == {0}
    assert not Assignment.objects.filter(project_id=project["id"], status="active").exists()
    assert statuses[("submit", 201)] == TASKS * OVERLAP

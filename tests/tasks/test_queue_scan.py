"""`next` reads a bounded number of index entries, whatever the project, the person's history or the
number of tasks others hold (PostgreSQL's per-transaction index statistics count them)."""

from django.db import connection

from apps.projects.models import Project
from apps.tasks.annotations import assignment_submit
from apps.tasks.models import Task
from apps.tasks.queue import next_task

from .queue_support import ANSWER, annotators, make_project


def index_reads(index: str) -> int:
    with connection.cursor() as cursor:
        # idx_tup_read of this transaction: index entries handed to the executor
        cursor.execute("SELECT pg_stat_get_xact_tuples_returned(%s::regclass)", [index])
        return cursor.fetchone()[0]


def lease_and_submit(project, user):
    lease = next_task(project=project, user=user)
    assignment = lease.assignment
    assignment.project = project
    assignment_submit(assignment=assignment, actor=user, result=ANSWER)
    return assignment.task_id


def reads_of_one_next(project, user) -> int:
    before = index_reads("tasks_task_queue") + index_reads("tasks_task_reopened")
    lease = next_task(project=project, user=user)
    assert lease is not None
    return index_reads("tasks_task_queue") + index_reads("tasks_task_reopened") - before


def test_a_fast_annotators_own_history_is_not_rescanned(tenant, as_role):
    data = make_project(as_role("manager"), tasks=400, settings={"overlap": 3})
    project = Project.objects.get(pk=data["id"])
    (fast, _), (slow, _), (late, _) = annotators(tenant, 3)
    lease_and_submit(project, slow.user)
    lease_and_submit(project, late.user)
    reads = {}
    for done in (10, 300):  # the tasks `fast` did stay open at the head of the queue for two more people
        while Task.objects.filter(project=project, annotations_count__gte=1).count() < done:
            lease_and_submit(project, fast.user)
        reads[done] = [reads_of_one_next(project, person.user) for person in (fast, slow, late)]
        for person in (fast, slow, late):
            lease = next_task(project=project, user=person.user).assignment
            lease.project = project
            assignment_submit(assignment=lease, actor=person.user, result=ANSWER)
    assert reads[10] == reads[300], reads  # nobody's read grows with the history (theirs or others')
    assert max(reads[300]) <= 8, reads

def test_released_tasks_behind_the_cursor_are_found_without_a_scan(tenant, as_role):
    data = make_project(as_role("manager"), tasks=400, settings={"overlap": 1})
    project = Project.objects.get(pk=data["id"])
    (holder, _), (worker, _) = annotators(tenant, 2)
    held = next_task(project=project, user=holder.user).assignment
    for _ in range(200):
        lease_and_submit(project, worker.user)
    from apps.tasks.annotations import assignment_release

    held.project = project
    assignment_release(assignment=held, actor=holder.user)
    before = index_reads("tasks_task_queue") + index_reads("tasks_task_reopened")
    lease = next_task(project=project, user=worker.user)
    assert lease.assignment.task_id == held.task_id  # the released task, behind the worker's cursor
    assert index_reads("tasks_task_queue") + index_reads("tasks_task_reopened") - before <= 4

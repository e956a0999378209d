"""The pull queue: `next` leases tasks so that nobody is ever handed the same task twice (DESIGN §5.3).

Order: priority (high first), then id. A task is *open* while annotations_count + in_flight <
target_annotations; the partial expression index `tasks_task_queue` (migration 0004) holds only open
non-gold tasks, so a full or finished task costs nothing.

Getting past one's own history without a scan. With overlap > 1 a task someone has done stays open
for others, at the head of the order. Each person therefore has a cursor (QueueCursor) with two
streams:

* the ordinary stream: a position (-priority, id) in queue order; everything at or before it was
  done by them, or was not open (full, gold, not eligible) when they passed it;
* the reopened stream: tasks that became open again *behind* cursors — a lease released, expired or
  skipped on a full task, a rejected annotation, a requeue, a raised priority. Each such event bumps
  the project's QueueState.reopen_seq and stamps the task with it (index `tasks_task_reopened`), and
  the person reads that stream from their own (seq, -priority, id) position.

Both reads are index range scans starting at the person's cursor, so their cost does not grow with
the project, the person's history, nor the tasks others have locked. A position advances past the
first candidate only if this call leased that very task; when the candidate was locked by someone
else's transaction (SKIP LOCKED) or filled meanwhile, the position stays just before it and the next
call looks again.

Never twice: `tasks_assignment_once_per_person` (one row per task and person) and a slot taken only
with the task row locked and the open condition re-checked by PostgreSQL after the lock.
"""

import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.orgs.rows import columns, fetch, fetch_many, in_list

from . import eligibility, sources
from .models import Assignment, Task

OPEN_SQL = ("tasks_task.annotations_count + tasks_task.in_flight < tasks_task.target_annotations "
            "AND NOT tasks_task.is_gold")
NOT_MINE_SQL = (
    "NOT EXISTS (SELECT 1 FROM tasks_assignment mine WHERE mine.task_id = tasks_task.id "
    "AND mine.annotator_id = %s AND mine.status IN ('submitted', 'skipped'))"
)
# Cursor sentinels: before the first task, and "read everything up to this seq" in the reopened stream.
START_ORDER, START_TASK = -(2**31), 0
SEEN_ORDER, SEEN_TASK = 2**31, 2**62
SWEEP_BATCH = 50


def status_sql(*, count: str = "annotations_count", in_flight: str = "in_flight",
               target: str = "target_annotations", keep_rejected: bool = True, submitted_now: bool = False) -> str:
    """The task lifecycle as one SQL expression over the values a statement is about to write (`submitted_now`:
    the same statement adds an annotation that waits for review, which its own subqueries cannot see)."""
    awaiting = "TRUE" if submitted_now else ("EXISTS (SELECT 1 FROM tasks_annotation wr WHERE "
                                              "wr.task_id = tasks_task.id AND wr.status = 'submitted')")
    reviewing = ("EXISTS (SELECT 1 FROM tasks_review rv JOIN tasks_annotation ra ON ra.id = rv.annotation_id "
                 "WHERE ra.task_id = tasks_task.id AND rv.status = 'active')")
    rejected = "WHEN tasks_task.status = 'rejected' THEN 'rejected' " if keep_rejected else ""
    return (
        f"CASE WHEN {count} >= {target} THEN "
        f"(CASE WHEN {awaiting} THEN (CASE WHEN {reviewing} THEN 'in_review' ELSE 'annotated' END) "
        f"ELSE 'accepted' END) "
        f"{rejected}"
        f"WHEN {count} = 0 AND {in_flight} = 0 THEN 'new' ELSE 'in_progress' END"
    )


@dataclass
class Lease:
    assignment: Assignment
    created: bool  # False when `next` returned the caller's existing lease
    has_predictions: bool = True  # False when the statement that leased the task saw it has none


def _person_lock(project_id: int, user_id: int) -> tuple[str, list]:
    """The lock that serializes one person's own `next` calls in one project (a double click must not lease
    twice); SQLite's IMMEDIATE transaction serializes them already."""
    return "SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"queue:{project_id}:{user_id}".encode()) - 2**31]


def reopen_bump(project_id: int) -> int:
    """A new reopen sequence number for `project_id` (its QueueState row stays locked until commit, which
    orders the numbers: seeing n means every number below n has committed)."""
    rows = fetch(
        "INSERT INTO tasks_queuestate (project_id, reopen_seq) VALUES (%s, 1) ON CONFLICT (project_id) "
        "DO UPDATE SET reopen_seq = tasks_queuestate.reopen_seq + 1 RETURNING reopen_seq",
        [project_id],
    )
    return rows[0][0]


def tasks_reopened(*, project_id: int, task_ids) -> None:
    """Put tasks in the reopened stream (they may be open again behind someone's cursor)."""
    ids = sorted(set(task_ids))
    if not ids:
        return
    seq = reopen_bump(project_id)
    Task.objects.filter(pk__in=ids).update(reopen_seq=seq)


def tasks_added(*, project_id: int, first_id: int) -> None:
    """New tasks (priority 0) land behind cursors that went on into negative priorities: rewind those."""
    fetch("UPDATE tasks_queuecursor SET order_key = 0, task_key = %s WHERE project_id = %s AND order_key > 0",
           [first_id - 1, project_id])


def leases_expire(*, project_id: int | None = None, now=None, limit: int = SWEEP_BATCH) -> list[tuple]:
    """End active leases past their expiry; their slots return to the queue. Returns
    [(assignment id, task id, annotator id, project id)] of the leases it ended.

    Task rows are locked before assignment rows (as submit does), skipping tasks someone is writing."""
    now = now or timezone.now()
    scope = "a.project_id = %s AND " if project_id is not None else ""
    params = [project_id] if project_id is not None else []
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    rows = fetch(
        f"SELECT a.id, a.task_id FROM tasks_assignment a WHERE {scope}a.status = 'active' AND a.expires_at < %s "
        f"ORDER BY a.expires_at LIMIT %s",
        [*params, now, limit],
    )
    if not rows:
        return []
    task_in, task_params = in_list("id", [task_id for _, task_id in rows])
    locked = {task_id for (task_id,) in fetch(f"SELECT id FROM tasks_task WHERE {task_in} ORDER BY id{lock}",
                                              task_params)}
    ids = [assignment_id for assignment_id, task_id in rows if task_id in locked]
    if not ids:
        return []
    assignment_in, assignment_params = in_list("id", ids)
    ended = fetch(
        f"UPDATE tasks_assignment SET status = 'expired', ended_at = %s WHERE {assignment_in} "
        f"AND status = 'active' AND expires_at < %s RETURNING id, task_id, annotator_id, project_id, kind",
        [now, *assignment_params, now],
    )
    slots: dict[int, int] = {}
    by_project: dict[int, set[int]] = {}
    for _, task_id, _, project, kind in ended:
        if kind == Assignment.Kind.QUEUE:
            slots[task_id] = slots.get(task_id, 0) + 1
            by_project.setdefault(project, set()).add(task_id)
    _release_slots(slots, now)
    for project, task_ids in by_project.items():
        tasks_reopened(project_id=project, task_ids=task_ids)
    return [(a, t, u, p) for a, t, u, p, _ in ended]


def _release_slots(slots: dict[int, int], now) -> None:
    """Give `slots[task_id]` leased slots back (their rows are locked by the caller)."""
    for task_id, count in sorted(slots.items()):
        status = status_sql(in_flight=f"tasks_task.in_flight - {int(count)}")
        fetch(f"UPDATE tasks_task SET in_flight = in_flight - %s, status = {status}, updated_at = %s WHERE id = %s",
               [count, now, task_id])


def _no_sort() -> str:
    """Sorting off for the rest of `next`'s transaction (set_config(…, true) is SET LOCAL), in the cursor's round
    trip: the queue's statements must walk the queue's partial indexes in order and stop at the first row. With
    statistics that do not know a project yet (made or grown since the last ANALYZE) the planner expected one
    task in it and chose the (project, id) index and a sort instead: every open task of the project read on each
    call (90 ms at 3,000 tasks, growing with the project)."""
    return "set_config('enable_sort', 'off', true)" if connection.vendor == "postgresql" else "NULL"


@dataclass
class _State:
    seq: int  # the project's reopen sequence
    order: tuple  # the person's position in the ordinary stream
    reopen: tuple  # ... and in the reopened one
    expired: bool  # some lease of the project is past its expiry


def _state_sql(project_id: int, user_id: int, now) -> tuple[str, list]:
    """One row: the project's reopen sequence, the person's cursor, whether a lease of the project is past its
    expiry; and sorting off for the rest of the transaction."""
    return ("SELECT (SELECT reopen_seq FROM tasks_queuestate WHERE project_id = %s), c.order_key, c.task_key, "
            "c.reopen_seq, c.reopen_order_key, c.reopen_task_key, EXISTS (SELECT 1 FROM tasks_assignment e "
            "WHERE e.project_id = %s AND e.status = 'active' AND e.expires_at < %s), "
            f"{_no_sort()} FROM (SELECT 1 AS one) x "
            "LEFT JOIN tasks_queuecursor c ON c.project_id = %s AND c.annotator_id = %s",
            [project_id, project_id, now, project_id, user_id])


def _state(row) -> _State:
    seq, order_key, task_key, reopen_seq, reopen_order, reopen_task, expired, _ = row
    if order_key is None:
        order_key, task_key = START_ORDER, START_TASK
    if reopen_seq is None:
        reopen_seq, reopen_order, reopen_task = 0, SEEN_ORDER, SEEN_TASK
    return _State(seq or 0, (order_key, task_key), (reopen_seq, reopen_order, reopen_task), bool(expired))


def _pick(where: str, params: list, order: str, keys: str) -> tuple[tuple | None, tuple | None]:
    """(first candidate, the candidate this transaction locked) in one round trip; keys are returned for both."""
    base = f"SELECT tasks_task.id, {keys} FROM tasks_task WHERE {where} ORDER BY {order} LIMIT 1"
    if connection.vendor != "postgresql":  # SQLite: the IMMEDIATE transaction already serializes writers
        rows = fetch(base, params)
        return (rows[0], rows[0]) if rows else (None, None)
    rows = fetch(
        f"WITH head AS ({base}), got AS ({base} FOR UPDATE SKIP LOCKED) "
        f"SELECT 0, * FROM head UNION ALL SELECT 1, * FROM got",
        [*params, *params],
    )
    head = next((row[1:] for row in rows if row[0] == 0), None)
    got = next((row[1:] for row in rows if row[0] == 1), None)
    return head, got


def _eligible_sql(project, user) -> tuple[str, list]:
    clauses, params = [], []
    for condition in eligibility.task_conditions(project=project, user=user, vendor=connection.vendor):
        if isinstance(condition, tuple):
            sql, sql_params = condition
        else:
            query = Task.objects.filter(condition).query
            sql, sql_params = query.where.as_sql(query.get_compiler(connection=connection), connection)
        clauses.append(f"({sql})")
        params.extend(sql_params)
    return "".join(f" AND {c}" for c in clauses), params


def _cursor_write(project, user, order: tuple, reopen: tuple) -> tuple[str, list]:
    return (
        "INSERT INTO tasks_queuecursor (project_id, annotator_id, order_key, task_key, reopen_seq, "
        "reopen_order_key, reopen_task_key) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (project_id, annotator_id) DO UPDATE SET {_CURSOR_SET}",
        [project.pk, user.pk, *order, *reopen],
    )


_CURSOR_SET = ("order_key = excluded.order_key, task_key = excluded.task_key, reopen_seq = excluded.reopen_seq, "
               "reopen_order_key = excluded.reopen_order_key, reopen_task_key = excluded.reopen_task_key")


def _from_queue(project, user, now, state: _State) -> Lease | None:
    """Lease the next open task for `user` from the reopened stream, then the ordinary one, moving the person's
    cursor with it; None when nothing is left for them."""
    order, reopen = state.order, state.reopen
    extra, extra_params = _eligible_sql(project, user)
    common = f"tasks_task.project_id = %s AND {OPEN_SQL} AND {NOT_MINE_SQL}{extra}"
    common_params = [project.pk, user.pk, *extra_params]
    new_reopen = reopen
    if state.seq > reopen[0] or (state.seq == reopen[0] and reopen[2] != SEEN_TASK):
        head, got = _pick(
            f"{common} AND tasks_task.reopen_seq IS NOT NULL "
            f"AND (tasks_task.reopen_seq, -tasks_task.priority, tasks_task.id) > (%s, %s, %s) "
            f"AND (-tasks_task.priority, tasks_task.id) <= (%s, %s)",
            [*common_params, *reopen, *order],
            "tasks_task.reopen_seq, -tasks_task.priority, tasks_task.id",
            "tasks_task.reopen_seq, -tasks_task.priority",
        )
        if head is None:
            new_reopen = (state.seq, SEEN_ORDER, SEEN_TASK)
        elif got is not None and got[0] == head[0]:
            new_reopen = (head[1], head[2], head[0])
        else:
            new_reopen = (head[1], head[2], head[0] - 1)
        if got is not None:
            move = _cursor_write(project, user, order, new_reopen) if new_reopen != reopen else None
            assignment = _lease(project, user, got[0], Assignment.Kind.QUEUE, now, cursor_write=move)
            return None if assignment is None else Lease(assignment, created=True)
    where = f"{common} AND (-tasks_task.priority, tasks_task.id) > (%s, %s)"
    where_params = [*common_params, *order]
    if connection.vendor == "postgresql":
        return _take(project, user, now, where, where_params, order, new_reopen, new_reopen != reopen)
    head, got = _pick(where, where_params, "-tasks_task.priority, tasks_task.id", "-tasks_task.priority")
    new_order = order
    if head is not None:
        new_order = (head[1], head[0]) if got is not None and got[0] == head[0] else (head[1], head[0] - 1)
    move = (_cursor_write(project, user, new_order, new_reopen) if (new_order, new_reopen) != (order, reopen)
            else None)
    if got is None:
        if move is not None:
            fetch(*move)
        return None
    assignment = _lease(project, user, got[0], Assignment.Kind.QUEUE, now, cursor_write=move)
    return None if assignment is None else Lease(assignment, created=True)


def _take(project, user, now, where: str, params: list, order: tuple, reopen: tuple, reopen_moved: bool
          ) -> Lease | None:
    """PostgreSQL: the ordinary stream's pick, the lease, its slot and the cursor's move in one statement.

    `head` is the first candidate past the cursor, `got` the first this transaction could lock (SKIP LOCKED;
    PostgreSQL re-checks the candidate's open condition once it holds the lock). The cursor moves to `head` if
    this call leased it, else to just before it, so a task locked by someone else is looked at again."""
    base = (f"SELECT tasks_task.id, -tasks_task.priority AS ord FROM tasks_task WHERE {where} "
            f"ORDER BY -tasks_task.priority, tasks_task.id LIMIT 1")
    expires = now + timedelta(seconds=project.settings["lease_seconds"])
    status = status_sql(in_flight="tasks_task.in_flight + 1")
    lease_cols, task_cols = columns(Assignment, "lease"), columns(Task, "slot")
    rows = fetch(
        f"WITH head AS ({base}), got AS ({base} FOR UPDATE SKIP LOCKED), "
        "lease AS (INSERT INTO tasks_assignment (organization_id, project_id, task_id, annotator_id, status, kind, "
        "leased_at, expires_at) SELECT %s, %s, got.id, %s, 'active', 'queue', %s, %s FROM got "
        "ON CONFLICT (task_id, annotator_id) DO UPDATE SET status = 'active', kind = excluded.kind, "
        "leased_at = excluded.leased_at, expires_at = excluded.expires_at, ended_at = NULL "
        "WHERE tasks_assignment.status IN ('released', 'expired') RETURNING *), "
        f"slot AS (UPDATE tasks_task SET in_flight = in_flight + 1, status = {status}, updated_at = %s "
        "WHERE id = (SELECT task_id FROM lease) RETURNING *), "
        "moved AS (INSERT INTO tasks_queuecursor (project_id, annotator_id, order_key, task_key, reopen_seq, "
        "reopen_order_key, reopen_task_key) SELECT %s, %s, COALESCE(head.ord, %s), "
        "COALESCE(CASE WHEN got.id = head.id THEN head.id ELSE head.id - 1 END, %s), %s, %s, %s "
        "FROM (SELECT 1 AS one) x LEFT JOIN head ON true LEFT JOIN got ON true WHERE head.id IS NOT NULL OR %s "
        f"ON CONFLICT (project_id, annotator_id) DO UPDATE SET {_CURSOR_SET}) "
        f"SELECT {lease_cols.sql}, {task_cols.sql}, "
        "EXISTS (SELECT 1 FROM tasks_prediction r WHERE r.task_id = slot.id) FROM lease JOIN slot ON slot.id = "
        "lease.task_id",
        [*params, *params, project.organization_id, project.pk, user.pk, now, expires, now,
         project.pk, user.pk, *order, *reopen, reopen_moved],
    )
    if not rows:
        return None
    assignment = lease_cols.build(rows[0])
    assignment.task = task_cols.build(rows[0], lease_cols.width)
    return Lease(assignment, created=True, has_predictions=rows[0][-1])


def _lease(project, user, task_id: int, kind: str, now, *, slot_taken: bool = False,
           cursor_write: tuple | None = None) -> Assignment | None:
    """Make (or reuse) the person's assignment on a task and take a slot on it (queue kinds); returns it with
    its task as stored after this. One statement, together with the cursor move of `_from_queue` if any."""
    expires = now + timedelta(seconds=project.settings["lease_seconds"])
    if connection.vendor != "postgresql":  # SQLite has no data-modifying CTEs
        return _lease_stepwise(project, user, task_id, kind, now, expires, slot_taken, cursor_write)
    ctes, params = [], []
    if cursor_write is not None:
        ctes.append(f"cursor_moved AS ({cursor_write[0]})")
        params += cursor_write[1]
    ctes.append(
        "lease AS (INSERT INTO tasks_assignment (organization_id, project_id, task_id, annotator_id, status, kind, "
        "leased_at, expires_at) VALUES (%s, %s, %s, %s, 'active', %s, %s, %s) ON CONFLICT (task_id, annotator_id) "
        "DO UPDATE SET status = 'active', kind = excluded.kind, leased_at = excluded.leased_at, "
        "expires_at = excluded.expires_at, ended_at = NULL "
        "WHERE tasks_assignment.status IN ('released', 'expired') RETURNING *)")
    params += [project.organization_id, project.pk, task_id, user.pk, kind, now, expires]
    lease_cols = columns(Assignment, "lease")
    if kind == Assignment.Kind.QUEUE and not slot_taken:
        status = status_sql(in_flight="tasks_task.in_flight + 1")
        ctes.append(f"slot AS (UPDATE tasks_task SET in_flight = in_flight + 1, status = {status}, updated_at = %s "
                    f"WHERE id = %s AND EXISTS (SELECT 1 FROM lease) RETURNING *)")
        params += [now, task_id]
        task_cols = columns(Task, "slot")
        source = "lease JOIN slot ON slot.id = lease.task_id"
    else:
        task_cols = columns(Task, "t")
        source = "lease JOIN tasks_task t ON t.id = lease.task_id"
    rows = fetch(f"WITH {', '.join(ctes)} SELECT {lease_cols.sql}, {task_cols.sql} FROM {source}", params)
    if not rows:
        return None
    assignment = lease_cols.build(rows[0])
    assignment.task = task_cols.build(rows[0], lease_cols.width)
    return assignment


def _lease_stepwise(project, user, task_id, kind, now, expires, slot_taken, cursor_write) -> Assignment | None:
    if cursor_write is not None:
        fetch(*cursor_write)
    rows = fetch(
        "INSERT INTO tasks_assignment (organization_id, project_id, task_id, annotator_id, status, kind, leased_at, "
        "expires_at) VALUES (%s, %s, %s, %s, 'active', %s, %s, %s) ON CONFLICT (task_id, annotator_id) DO UPDATE "
        "SET status = 'active', kind = excluded.kind, leased_at = excluded.leased_at, "
        "expires_at = excluded.expires_at, ended_at = NULL "
        "WHERE tasks_assignment.status IN ('released', 'expired') RETURNING id",
        [project.organization_id, project.pk, task_id, user.pk, kind, now, expires],
    )
    if not rows:
        return None
    if kind == Assignment.Kind.QUEUE and not slot_taken:
        status = status_sql(in_flight="tasks_task.in_flight + 1")
        fetch(f"UPDATE tasks_task SET in_flight = in_flight + 1, status = {status}, updated_at = %s WHERE id = %s",
               [now, task_id])
    return Assignment.objects.select_related("task").get(pk=rows[0][0])


def _held_sql(project_id: int, user_id: int) -> tuple[str, list]:
    """The person's active lease and their first pin in the project, each with its task."""
    a, t = columns(Assignment, "a"), columns(Task, "t")
    first = ("(SELECT id FROM tasks_assignment WHERE project_id = %s AND annotator_id = %s AND status = '{}' "
             "ORDER BY id LIMIT 1)")
    return (f"SELECT a.status = 'pinned', {a.sql}, {t.sql} FROM tasks_assignment a "
            f"JOIN tasks_task t ON t.id = a.task_id "
            f"WHERE a.id IN ({first.format('active')}, {first.format('pinned')})",
            [project_id, user_id, project_id, user_id])


def _held(rows) -> tuple[Assignment | None, Assignment | None]:
    a, t = columns(Assignment, "a"), columns(Task, "t")
    held = {False: None, True: None}
    for row in rows:
        assignment = a.build(row, 1)
        assignment.task = t.build(row, 1 + a.width)
        held[row[0]] = assignment
    return held[False], held[True]


def _from_pin(project, pin: Assignment | None, now) -> Assignment | None:
    if pin is None:
        return None
    expires = now + timedelta(seconds=project.settings["lease_seconds"])
    Assignment.objects.filter(pk=pin.pk).update(status=Assignment.Status.ACTIVE, leased_at=now, expires_at=expires)
    pin.status, pin.leased_at, pin.expires_at = Assignment.Status.ACTIVE, now, expires
    return pin


@transaction.atomic
def next_task(*, project, user) -> Lease | None:
    """The caller's lease: their active one, else a pinned task, a source's task (gold, exam), else the queue."""
    now = timezone.now()
    reads = [_held_sql(project.pk, user.pk), _state_sql(project.pk, user.pk, now)]
    if connection.vendor == "postgresql":  # the person's lock, then the reads: one round trip, BEGIN included
        _, held, state = fetch_many([_person_lock(project.pk, user.pk), *reads])
    else:
        held, state = (fetch(*statement) for statement in reads)
    current, pin = _held(held)
    if current is not None:
        if current.expires_at <= now:  # expired but not yet swept: the slot is still theirs, renew it
            current.expires_at = now + timedelta(seconds=project.settings["lease_seconds"])
            Assignment.objects.filter(pk=current.pk).update(expires_at=current.expires_at)
        return Lease(current, created=False)
    state = _state(state[0])
    if state.expired:  # the sweep ends only active leases past expiry, so it cannot change the pin
        expired = leases_expire(project_id=project.pk, now=now)
        if expired:
            from .events import leases_expired_notify

            leases_expired_notify(expired)
            state = _state(fetch(*_state_sql(project.pk, user.pk, now))[0])  # tasks may have reopened
    pinned = _from_pin(project, pin, now)
    if pinned is not None:
        return Lease(pinned, created=True)
    for offer in sources.offers(project=project, user=user, now=now):
        assignment = _lease(project, user, offer.task_id, offer.kind, now)
        if assignment is not None:
            return Lease(assignment, created=True)
    lease = _from_queue(project, user, now, state)
    if lease is not None:
        from .events import task_leased

        task_leased(lease.assignment.task)
    return lease


def leases_expire_and_notify(*, batches: int = 100) -> int:
    """End every lease past its expiry (beat task), a batch per transaction; returns how many it ended."""
    from .events import leases_expired_notify

    total = 0
    for _ in range(batches):
        with transaction.atomic():
            ended = leases_expire()
            leases_expired_notify(ended)
        total += len(ended)
        if len(ended) < SWEEP_BATCH:
            break
    return total

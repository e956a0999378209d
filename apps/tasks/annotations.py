"""Writing annotations: submit from a lease, attach outside the queue, edit with versions, revert, diff.

Counters move in SQL (`annotations_count = annotations_count + 1`), with the task row locked first and
the assignment second — the same order as the queue's expiry sweep, so the two never deadlock.
"""

import hashlib
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.services import event_for, insert_sql, record
from apps.orgs.errors import ApiError, Conflict
from apps.orgs.rows import columns, fetch, insert
from apps.projects.label_spec import SchemaMismatch, compile_spec, validate_result
from apps.projects.models import LabelSchemaVersion

from . import events, signals
from .models import Annotation, AnnotationVersion, Assignment, Flag, Task
from .queue import status_sql, tasks_reopened

MAX_DRAFT_BYTES = 2 * 1024 * 1024


@lru_cache(maxsize=256)
def _compiled(project_id: int, version: int):
    spec = LabelSchemaVersion.objects.get(project_id=project_id, version=version).spec
    return compile_spec(spec)


def project_spec(project):
    """The compiled current label spec (schema versions never change, so it is cached by version)."""
    return _compiled(project.pk, project.schema_version)


def checked_result(project, result, data, *, complete: bool = True, path: str = "result"):
    """`result` checked against the project's current spec, else 422 schema_mismatch with the JSON path."""
    try:
        validate_result(project_spec(project), result, data, require_complete=complete)
    except SchemaMismatch as exc:
        where = exc.path.replace("$", path, 1) if exc.path.startswith("$") else exc.path
        raise ApiError(f"{where}: {exc.reason}", code="schema_mismatch", status_code=422,
                       details={"path": where, "reason": exc.reason}) from None
    return result


def needs_review(project, task_id: int, author_id: int | None) -> bool:
    """review_policy: none, all, or sample — chosen deterministically from the task and the author."""
    policy = project.settings["review_policy"]
    if policy["mode"] == "all":
        return True
    if policy["mode"] != "sample":
        return False
    digest = hashlib.blake2b(f"{project.pk}:{task_id}:{author_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < float(policy["fraction"])


def _count_sql(*, slot: bool, submitted_now: bool, returning: str) -> str:
    """One more annotation on the task `%s` (and, from a lease, one slot fewer in flight), with its new status."""
    in_flight = "in_flight - 1" if slot else "in_flight"
    status = status_sql(count="tasks_task.annotations_count + 1", in_flight=f"tasks_task.{in_flight}",
                        keep_rejected=False, submitted_now=submitted_now)
    return (f"UPDATE tasks_task SET annotations_count = annotations_count + 1, in_flight = {in_flight}, "
            f"status = {status}, updated_at = %s WHERE id = %s RETURNING {returning}")


# A new annotation's id, taken in the statement that locks what it is made from (PostgreSQL), so that the audit
# event, whose digest covers the id, goes into the same statement as the annotation.
NEXT_ANNOTATION_ID = "nextval(pg_get_serial_sequence('tasks_annotation', 'id'))"


def _create(*, task, project, author, result, lead_time_ms, source, status, idempotency_key, now, audit: dict,
            count: bool, slot: bool = False, annotation_id: int | None = None, model_version="",
            reason="submitted", submits: Assignment | None = None) -> tuple[Annotation, Task]:
    """The annotation and its version 1; its task counted if `count` (one slot fewer in flight if the lease held
    one: `slot`); for a lease, `submits` marked submitted with it; and its audit event (`audit`: event_for()'s
    arguments but object_id). Returns the annotation and its task as stored now. PostgreSQL: one statement, with
    `annotation_id` from NEXT_ANNOTATION_ID."""
    annotation = Annotation(
        organization_id=task.organization_id, project_id=task.project_id, task=task, author=author,
        model_version=model_version, result=result, version=1, schema_version=project.schema_version,
        lead_time_ms=lead_time_ms, source=source, status=status, idempotency_key=idempotency_key or "",
        created_at=now, updated_at=now,
    )
    version = AnnotationVersion(annotation_id=0, version=1, result=result, schema_version=project.schema_version,
                                author=author, reason=reason, source=source, created_at=now)
    submitted_now = status == Annotation.Status.SUBMITTED
    cols = columns(Task, "tasks_task")
    if connection.vendor != "postgresql":  # SQLite: no data-modifying CTEs
        annotation.save(force_insert=True)
        version.annotation = annotation
        version.save(force_insert=True)
        if submits is not None:
            Assignment.objects.filter(pk=submits.pk).update(
                status=Assignment.Status.SUBMITTED, annotation=annotation, ended_at=now, draft=None,
                draft_saved_at=None)
        if count:
            task = cols.build(fetch(_count_sql(slot=slot, submitted_now=submitted_now, returning=cols.sql),
                                    [now, task.pk])[0])
        record(object_id=annotation.pk, **audit)
        return annotation, task
    # Every submit and attach: one statement instead of five (six with the lease).
    annotation.pk = annotation_id
    version_insert = insert(AnnotationVersion)
    event_sql, event_params = insert_sql(event_for(object_id=annotation_id, **audit))
    sql = (f"WITH made AS ({insert(Annotation, with_pk=True).sql} RETURNING id), "
           f"v AS ({version_insert.select_sql('made', {'annotation_id': 'made.id'})}), "
           f"e AS ({event_sql})")
    params = [*insert(Annotation, with_pk=True).params(annotation),
              *version_insert.params(version, skip={"annotation_id"}), *event_params]
    if submits is not None:
        sql += (", s AS (UPDATE tasks_assignment SET status = 'submitted', annotation_id = %s, ended_at = %s, "
                "draft = NULL, draft_saved_at = NULL WHERE id = %s)")
        params += [annotation_id, now, submits.pk]
    if count:
        counted = columns(Task, "counted")
        sql += (f", counted AS ({_count_sql(slot=slot, submitted_now=submitted_now, returning=cols.sql)}) "
                f"SELECT {counted.sql} FROM counted")
        params += [now, task.pk]
        task = counted.build(fetch(sql, params)[0])
    else:
        fetch(f"{sql} SELECT 1", params)
    annotation._state.adding, annotation._state.db = False, DEFAULT_DB_ALIAS
    return annotation, task


def _lock_lease(assignment: Assignment) -> tuple[Assignment, int | None]:
    """Lock the task row, then the assignment's (the expiry sweep's order, so the two never deadlock); the
    assignment as stored now, its task (from `assignment`, whose data does not change) with current counters;
    and, on PostgreSQL, the id the annotation of a submit will have."""
    a = columns(Assignment, "a")
    counters = "t.annotations_count, t.in_flight, t.target_annotations"
    if connection.vendor == "postgresql":
        # The CTE locks the task as the join reads it, before the outer FOR UPDATE locks the joined row's lease.
        sql = (f"WITH t AS MATERIALIZED (SELECT id, annotations_count, in_flight, target_annotations "
               f"FROM tasks_task WHERE id = %s FOR UPDATE) "
               f"SELECT {counters}, {a.sql}, {NEXT_ANNOTATION_ID} FROM t, tasks_assignment a WHERE a.id = %s "
               f"FOR UPDATE OF a")
    else:  # SQLite: the IMMEDIATE transaction already serializes writers
        sql = (f"SELECT {counters}, {a.sql}, NULL FROM tasks_task t, tasks_assignment a "
               f"WHERE t.id = %s AND a.id = %s")
    row = fetch(sql, [assignment.task_id, assignment.pk])[0]
    locked = a.build(row, 3)
    task = assignment.task
    task.annotations_count, task.in_flight, task.target_annotations = row[:3]
    locked.task, locked.project = task, assignment.project
    return locked, row[-1]


def _replayed(actor, idempotency_key: str) -> Annotation | None:
    if not idempotency_key:
        return None
    return Annotation.objects.filter(author=actor, idempotency_key=idempotency_key).first()


def assignment_submit(*, assignment: Assignment, actor, result, lead_time_ms: int | None = None,
                      idempotency_key: str = "", request=None) -> tuple[Annotation, bool]:
    """Submit the work of a lease: (annotation, created). A replay returns the same annotation, created=False.

    A late submit (the lease expired and its slot was given back) is accepted while the task still has a
    free slot; otherwise the work is saved as the assignment's draft and the answer is 409 lease_expired.
    """
    project = assignment.project
    replay = _replayed(actor, idempotency_key)
    if replay is not None:
        return replay, False
    if assignment.status == Assignment.Status.SUBMITTED and assignment.annotation_id:
        return assignment.annotation, False
    checked_result(project, result, assignment.task.data)
    outcome = _submit(assignment, project, actor, result, lead_time_ms, idempotency_key, request)
    if outcome is None:
        raise Conflict("the lease expired and the task was leased again; your work is kept as the draft",
                       code="lease_expired", details={"assignment": assignment.pk, "draft_saved": True})
    return outcome


@transaction.atomic
def _submit(assignment, project, actor, result, lead_time_ms, idempotency_key, request):
    now = timezone.now()
    assignment, annotation_id = _lock_lease(assignment)
    task = assignment.task
    if assignment.status == Assignment.Status.SUBMITTED:
        return assignment.annotation, False
    if assignment.status in (Assignment.Status.SKIPPED, Assignment.Status.PINNED):
        raise Conflict(f"this assignment is {assignment.status}, not leased", code="lease_expired",
                       details={"assignment": assignment.pk, "status": assignment.status})
    counts = assignment.kind == Assignment.Kind.QUEUE
    held = assignment.status == Assignment.Status.ACTIVE  # its slot is still in in_flight
    if counts and not held and task.annotations_count + task.in_flight >= task.target_annotations:
        Assignment.objects.filter(pk=assignment.pk).update(draft=result, draft_saved_at=now)
        return None
    # Gold and exam work passes the same review gate as the rest: an annotation's status, or a review decision
    # arriving, must not tell an annotator which task was gold. (Training shows its answers anyway.)
    review = assignment.kind != Assignment.Kind.TRAINING and needs_review(project, task.pk, actor.pk)
    annotation, task = _create(
        task=task, project=project, author=actor, result=result, lead_time_ms=lead_time_ms,
        source=Annotation.Source.HUMAN, idempotency_key=idempotency_key, now=now,
        status=Annotation.Status.SUBMITTED if review else Annotation.Status.ACCEPTED, submits=assignment,
        count=counts, slot=held, annotation_id=annotation_id,
        audit={"action": "annotation.submit", "organization": task.organization_id, "actor": actor,
               "object_type": "annotation", "request": request,
               "data": {"task": task.pk, "assignment": assignment.pk, "late": not held}},
    )
    assignment.status, assignment.annotation = Assignment.Status.SUBMITTED, annotation
    assignment.ended_at, assignment.draft, assignment.draft_saved_at = now, None, None
    annotation.task, annotation.project = task, project  # receivers read the counters as they now are
    signals.annotation_submitted.send(sender=Annotation, annotation=annotation, assignment=assignment, actor=actor)
    events.annotation_created(annotation, task)
    return annotation, True


def _end_lease(assignment: Assignment, *, status: str, now) -> Task:
    """End an active (or pinned) lease: its slot goes back; if the task was full it reopens behind cursors."""
    task = Task.objects.select_for_update().get(pk=assignment.task_id)
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    held = (locked.status in (Assignment.Status.ACTIVE, Assignment.Status.PINNED)
            and locked.kind == Assignment.Kind.QUEUE)
    if locked.status not in (Assignment.Status.ACTIVE, Assignment.Status.PINNED, Assignment.Status.EXPIRED,
                             Assignment.Status.RELEASED):
        raise Conflict(f"this assignment is already {locked.status}", code="lease_expired",
                       details={"assignment": locked.pk, "status": locked.status})
    Assignment.objects.filter(pk=locked.pk).update(status=status, ended_at=now)
    assignment.status = status
    if held:
        was_full = task.annotations_count + task.in_flight >= task.target_annotations
        new_status = status_sql(in_flight="tasks_task.in_flight - 1")
        fetch(f"UPDATE tasks_task SET in_flight = in_flight - 1, status = {new_status}, updated_at = %s "
               f"WHERE id = %s", [now, task.pk])
        # A released task may come back to the person who held it (their cursor has passed it); a skipped one
        # only to those who passed it while it was full.
        if was_full or status != Assignment.Status.SKIPPED:
            tasks_reopened(project_id=task.project_id, task_ids=[task.pk])
        task.refresh_from_db()
        events.task_updated(task)
    return task


@transaction.atomic
def assignment_skip(*, assignment: Assignment, actor, request=None) -> Assignment:
    """"I can't do this one": the task is never served to them again."""
    _end_lease(assignment, status=Assignment.Status.SKIPPED, now=timezone.now())
    signals.lease_ended.send(sender=Assignment, assignment=assignment, reason="skipped")
    return assignment


@transaction.atomic
def assignment_release(*, assignment: Assignment, actor, request=None) -> Assignment:
    """Give the lease back; the task may come back to them later."""
    if assignment.status not in (Assignment.Status.ACTIVE,):
        raise Conflict(f"this assignment is {assignment.status}, not an active lease", code="lease_expired",
                       details={"assignment": assignment.pk, "status": assignment.status})
    _end_lease(assignment, status=Assignment.Status.RELEASED, now=timezone.now())
    signals.lease_ended.send(sender=Assignment, assignment=assignment, reason="released")
    return assignment


@transaction.atomic
def assignment_revoke(*, assignment: Assignment, actor, request=None) -> Assignment:
    """A manager takes a lease (or a pin) back; the annotator is told."""
    if assignment.status not in (Assignment.Status.ACTIVE, Assignment.Status.PINNED):
        raise Conflict(f"this assignment is {assignment.status}, not an active lease or pin", code="lease_expired",
                       details={"assignment": assignment.pk, "status": assignment.status})
    _end_lease(assignment, status=Assignment.Status.RELEASED, now=timezone.now())
    record(action="lease.revoke", organization=assignment.organization_id, actor=actor, object_type="assignment",
           object_id=assignment.pk, data={"task": assignment.task_id, "annotator": assignment.annotator_id},
           request=request)
    signals.lease_ended.send(sender=Assignment, assignment=assignment, reason="revoked")
    events.lease_ended(user_id=assignment.annotator_id, project_id=assignment.project_id,
                       task_id=assignment.task_id, assignment_id=assignment.pk, kind="lease.revoked")
    return assignment


def assignment_heartbeat(*, assignment: Assignment, actor) -> Assignment:
    """Extend an active lease to now + lease_seconds."""
    from datetime import timedelta

    now = timezone.now()
    expires = now + timedelta(seconds=assignment.project.settings["lease_seconds"])
    updated = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ACTIVE).update(expires_at=expires)
    if not updated:
        assignment.refresh_from_db()
        raise Conflict(f"this lease is {assignment.status}", code="lease_expired",
                       details={"assignment": assignment.pk, "status": assignment.status})
    assignment.expires_at = expires
    return assignment


def assignment_draft_save(*, assignment: Assignment, actor, draft) -> Assignment:
    """Autosave work in progress (any JSON array; a draft may be partial, so it is not checked against the spec)."""
    import json

    if not isinstance(draft, list):
        raise ApiError("a draft is a result: a JSON array of regions", details={"draft": ["must be an array"]})
    if len(json.dumps(draft)) > MAX_DRAFT_BYTES:
        raise ApiError("the draft is too large", code="too_large", status_code=413)
    now = timezone.now()
    updated = (Assignment.objects.filter(pk=assignment.pk)
               .exclude(status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED])
               .update(draft=draft, draft_saved_at=now))
    if not updated:
        assignment.refresh_from_db()
        raise Conflict(f"this assignment is {assignment.status}", code="lease_expired",
                       details={"assignment": assignment.pk, "status": assignment.status})
    assignment.draft, assignment.draft_saved_at = draft, now
    return assignment


@transaction.atomic
def assignment_report(*, assignment: Assignment, actor, reason: str, request=None) -> Flag:
    """An annotator reports a problem with the task: a flag for the managers."""
    flag = Flag.objects.create(organization_id=assignment.organization_id, project_id=assignment.project_id,
                               task_id=assignment.task_id, kind="reported", raised_by=actor, reason=reason)
    record(action="task.report", organization=assignment.organization_id, actor=actor, object_type="task",
           object_id=assignment.task_id, data={"flag": flag.pk}, request=request)
    return flag


@transaction.atomic
def task_assign(*, task: Task, annotator, actor, request=None) -> Assignment:
    """Pin a task to a person: it holds a slot and is served to them before anything else."""
    now = timezone.now()
    task = Task.objects.select_for_update().get(pk=task.pk)
    existing = Assignment.objects.select_for_update().filter(task=task, annotator=annotator).first()
    if existing is not None and existing.status in (Assignment.Status.ACTIVE, Assignment.Status.PINNED):
        return existing
    if existing is not None and existing.status in (Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED):
        raise Conflict(f"{annotator.email} already {existing.status} this task", code="duplicate",
                       details={"annotator": [f"already {existing.status}"]})
    if task.is_gold:
        raise ApiError("gold tasks are served by the gold mix, not pinned", details={"task": ["is gold"]})
    if task.annotations_count + task.in_flight >= task.target_annotations:
        raise Conflict("the task has no free slot (annotations and leases reach its target)", code="duplicate",
                       details={"task": ["no free slot"]})
    if existing is None:
        existing = Assignment.objects.create(
            organization_id=task.organization_id, project_id=task.project_id, task=task, annotator=annotator,
            status=Assignment.Status.PINNED, pinned_by=actor,
        )
    else:
        existing.status, existing.pinned_by, existing.ended_at = Assignment.Status.PINNED, actor, None
        existing.save(update_fields=["status", "pinned_by", "ended_at"])
    new_status = status_sql(in_flight="tasks_task.in_flight + 1")
    fetch(f"UPDATE tasks_task SET in_flight = in_flight + 1, status = {new_status}, updated_at = %s WHERE id = %s",
           [now, task.pk])
    record(action="task.assign", organization=task.organization_id, actor=actor, object_type="task",
           object_id=task.pk, data={"annotator": annotator.pk, "assignment": existing.pk}, request=request)
    events.task_assigned(existing)
    return existing


# --- edits, reverts and annotations attached outside the queue ------------------------------------------------


def result_diff(old, new) -> dict:
    """What changed from result `old` to result `new`: {"added": [region], "removed": [region],
    "changed": [{"id", "index", "from_name", "from", "to"}]}.

    Regions are matched by their `id`; regions without one (whole-task choices, relations, hand-made results)
    by their position among the id-less regions of the same control, so adding a region of another control
    does not shift them. `from`/`to` are the regions' values when only the value changed, else the whole
    regions (without `id`). `index` is the region's position in `new`.
    """

    def keyed(result) -> dict:
        regions, seen, positions = {}, set(), {}
        for item in result if isinstance(result, list) else []:
            region_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(region_id, str) and region_id and region_id not in seen:
                seen.add(region_id)
                key = ("id", region_id)
            else:
                control = (item.get("from_name") or item.get("type")) if isinstance(item, dict) else None
                control = control if isinstance(control, str) else ""
                positions[control] = positions.get(control, -1) + 1
                key = ("position", control, positions[control])
            regions[key] = item
        return regions

    def without_id(item):
        return {k: v for k, v in item.items() if k != "id"} if isinstance(item, dict) else item

    before, after = keyed(old), keyed(new)
    added = [item for key, item in after.items() if key not in before]
    removed = [item for key, item in before.items() if key not in after]
    changed = []
    for index, (key, item) in enumerate(after.items()):
        previous = before.get(key)
        if key not in before or without_id(previous) == without_id(item):
            continue
        rest_same = (isinstance(item, dict) and isinstance(previous, dict) and "value" in item and "value" in previous
                     and {k: v for k, v in without_id(item).items() if k != "value"}
                     == {k: v for k, v in without_id(previous).items() if k != "value"})
        changed.append({
            "id": key[1] if key[0] == "id" else None,
            "index": index,
            "from_name": item.get("from_name") if isinstance(item, dict) else None,
            "from": previous["value"] if rest_same else without_id(previous),
            "to": item["value"] if rest_same else without_id(item),
        })
    return {"added": added, "removed": removed, "changed": changed}


def current_schema(project):
    """Hold the project's schema still until commit and return the project at its current schema version.

    PostgreSQL: FOR SHARE on the project row, which a schema change (FOR UPDATE) waits for, so a result
    checked here is stored under the spec it was checked against. Take it before any task or annotation lock
    (a schema change locks the project first too). SQLite's IMMEDIATE transactions already serialize writers.
    """
    if connection.vendor == "postgresql":
        project.schema_version = fetch("SELECT schema_version FROM projects_project WHERE id = %s FOR SHARE",
                                        [project.pk])[0][0]
    else:
        project.refresh_from_db(fields=["schema_version"])
    return project


def _append_version(annotation: Annotation, *, project, actor, result, reason: str, now) -> Annotation:
    """A new state of a locked annotation: its version + 1, kept in AnnotationVersion as well."""
    annotation.version += 1
    annotation.result, annotation.schema_version, annotation.updated_at = result, project.schema_version, now
    annotation.save(update_fields=["result", "version", "schema_version", "updated_at"])
    AnnotationVersion.objects.create(annotation=annotation, version=annotation.version, result=result,
                                     schema_version=project.schema_version, author=actor, reason=reason,
                                     source=Annotation.Source.HUMAN, created_at=now)
    return annotation


@transaction.atomic
def annotation_edit(*, annotation: Annotation, actor, result, version: int, request=None) -> Annotation:
    """Edit an annotation that is at `version` (what the editor saw): a new version, or 409 version_conflict."""
    project = current_schema(annotation.project)
    checked_result(project, result, annotation.task.data)
    locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if locked.version != version:
        raise Conflict(f"the annotation is at version {locked.version}, not {version}; reload it and edit again",
                       code="version_conflict", details={"current_version": locked.version})
    before = locked.result
    _append_version(locked, project=project, actor=actor, result=result, reason="edit", now=timezone.now())
    record(action="annotation.edit", organization=locked.organization_id, actor=actor, object_type="annotation",
           object_id=locked.pk, before=before, after=result,
           data={"task": locked.task_id, "version": locked.version, "from_version": version}, request=request)
    return locked


@transaction.atomic
def annotation_revert(*, annotation: Annotation, actor, version: int, request=None) -> Annotation:
    """Make a new version equal to an old one (history is never rewritten); the old result must still fit
    the current schema (a label a later schema dropped is 422 schema_mismatch)."""
    project = current_schema(annotation.project)
    target = AnnotationVersion.objects.filter(annotation_id=annotation.pk, version=version).first()
    if target is None:
        raise ApiError(f"annotation {annotation.pk} has no version {version}",
                       details={"version": [f"no version {version}"]})
    checked_result(project, target.result, annotation.task.data)
    locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
    before, was = locked.result, locked.version
    _append_version(locked, project=project, actor=actor, result=target.result, reason=f"revert to v{version}",
                    now=timezone.now())
    record(action="annotation.revert", organization=locked.organization_id, actor=actor, object_type="annotation",
           object_id=locked.pk, before=before, after=target.result,
           data={"task": locked.task_id, "version": locked.version, "from_version": was, "reverted_to": version},
           request=request)
    return locked


def annotation_attach(*, task: Task, actor, result, lead_time_ms: int | None = None, model_version: str = "",
                      idempotency_key: str = "", request=None) -> tuple[Annotation, bool]:
    """Attach an annotation made outside the queue (by the caller, or by a model when model_version is given):
    accepted at once and counted on the task. A retry with the same Idempotency-Key returns the same one."""
    replay = _replayed(actor, idempotency_key)
    if replay is not None:
        return replay, False
    try:
        return _attach(task, actor, result, lead_time_ms, model_version, idempotency_key, request)
    except IntegrityError:
        replay = _replayed(actor, idempotency_key)  # the same key raced in from another request
        if replay is None:
            raise
        return replay, False


@transaction.atomic
def _attach(task, actor, result, lead_time_ms, model_version, idempotency_key, request):
    project = current_schema(task.project)
    checked_result(project, result, task.data)
    now = timezone.now()
    # Lock the row (counters move below). Of what may have changed since the view read it, only is_gold decides
    # anything here; the counters come back fresh from the statement that counts the annotation.
    if connection.vendor == "postgresql":
        is_gold, annotation_id = fetch(f"SELECT is_gold, {NEXT_ANNOTATION_ID} FROM tasks_task WHERE id = %s "
                                       f"FOR UPDATE", [task.pk])[0]
    else:
        is_gold, annotation_id = fetch("SELECT is_gold, NULL FROM tasks_task WHERE id = %s", [task.pk])[0]
    task.is_gold = bool(is_gold)
    replay = _replayed(actor, idempotency_key)
    if replay is not None:
        return replay, False
    if task.is_gold:
        raise ApiError("this is a gold task: its answer is set through the gold route, not attached",
                       details={"task": ["is a gold task"]})
    source = Annotation.Source.MODEL if model_version else Annotation.Source.HUMAN
    annotation, task = _create(
        task=task, project=project, author=actor, result=result, lead_time_ms=lead_time_ms, source=source,
        status=Annotation.Status.ACCEPTED, idempotency_key=idempotency_key, now=now,
        model_version=model_version or "", reason="attached", count=True, annotation_id=annotation_id,
        audit={"action": "annotation.create", "organization": task.organization_id, "actor": actor,
               "object_type": "annotation", "after": result, "request": request,
               "data": {"task": task.pk, "source": source, "model_version": model_version or ""}},
    )
    annotation.task, annotation.project = task, project  # receivers read the counters as they now are
    signals.annotation_submitted.send(sender=Annotation, annotation=annotation, assignment=None, actor=actor)
    events.annotation_created(annotation, task)
    return annotation, True

"""Bulk import of tasks (with their annotations, predictions and gold answers), streamed in batches.

Rows are parsed incrementally (import_formats), validated against the project's label schema in
Python, and written a batch at a time: on PostgreSQL through COPY into a temporary table and one
`INSERT … ON CONFLICT DO NOTHING RETURNING`, so deduplication is the unique constraint on
(project, content_hash), not a Python check. Each batch commits on its own: a failure later in a
large file never loses the rows already imported, and bad rows are reported by number, never fatal.
"""

import io
import queue
import threading
from dataclasses import dataclass, field

import orjson
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import record
from apps.orgs.models import Membership
from apps.projects.label_spec import SchemaMismatch, compile_spec, validate_data, validate_result

from . import events
from .import_formats import RowError, content_hash, iter_records, normalize_task
from .models import Annotation, AnnotationVersion, Prediction, Task
from .queue import status_sql, tasks_added

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 1000


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0
    updated: int = 0
    rows: int = 0
    errors: list = field(default_factory=list)
    errors_total: int = 0
    task_ids: list = field(default_factory=list)

    def error(self, row: int, message: str) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, "message": message})

    def as_dict(self, *, return_ids: bool) -> dict:
        body = {"created": self.created, "duplicates": self.duplicates, "updated": self.updated,
                "errors": self.errors}
        if self.errors_total > len(self.errors):
            body["errors_total"] = self.errors_total
        if return_ids:
            body["task_ids"] = self.task_ids
        return body


@dataclass
class _Row:
    row: int
    data: dict
    meta: dict
    external_id: str | None
    content_hash: str
    gold: list | None
    annotations: list  # [(result, author, meta, lead_time_ms)]
    predictions: list  # [(result, score, model_version)]
    # The JSON text COPY sends, made once here on the parsing side rather than on the writer thread.
    data_json: str
    meta_json: str
    gold_json: str | None


class _Authors:
    """Resolves an annotation's `completed_by`: a member's email, or Label Studio's own user → the importer."""

    def __init__(self, organization, importer):
        self.organization, self.importer, self.cache = organization, importer, {}

    def resolve(self, completed_by):
        if isinstance(completed_by, str) and "@" in completed_by:
            email = completed_by.strip().lower()
            if email not in self.cache:
                member = (Membership.objects.select_related("user")
                          .filter(organization=self.organization, user__email__iexact=email,
                                  status=Membership.Status.ACTIVE).first())
                self.cache[email] = member.user if member else None
            user = self.cache[email]
            if user is None:
                raise ValueError(f"completed_by {completed_by!r} is not an active member of this organization")
            return user, {}
        if completed_by is None:
            return self.importer, {}
        if isinstance(completed_by, dict) and isinstance(completed_by.get("email"), str):
            try:
                return self.resolve(completed_by["email"])
            except ValueError:
                pass
        return self.importer, {"label_studio_completed_by": completed_by}


def _checked(what: str, check, *args) -> None:
    """Run a label_spec check, naming where in the row it failed: `data.text`, `annotations[0].result[1]…`."""
    try:
        check(*args)
    except SchemaMismatch as exc:
        raise ValueError(f"{what}{exc.path[1:]}: {exc.reason}") from exc


def _lead_time_ms(value) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 10**6:
        return int(value * 1000)
    return None


_NUL = b"\\u0000"


def _json(what: str, value) -> str:
    """JSON text for COPY; PostgreSQL's jsonb cannot hold U+0000, so such a row is a row error, not a lost batch."""
    encoded = orjson.dumps(value)
    if _NUL in encoded:
        raise ValueError(f"{what} contains a NUL character (\\u0000), which cannot be stored")
    return encoded.decode()


def _validated_row(row_number, task_input, raw_spec, spec, authors) -> _Row | RowError:
    data = task_input.data
    try:
        data_json = _json("data", data)
        meta_json = _json("meta", task_input.meta) if task_input.meta else "{}"
        gold_json = None if task_input.gold is None else _json("gold", task_input.gold)
        if task_input.annotations or task_input.predictions:
            _json("annotations or predictions", [task_input.annotations, task_input.predictions])
        _checked("data", validate_data, raw_spec, data)
        if task_input.gold is not None:
            _checked("gold.result", validate_result, spec, task_input.gold, data)
        annotations = []
        for i, annotation in enumerate(task_input.annotations):
            _checked(f"annotations[{i}].result", validate_result, spec, annotation["result"], data)
            author, meta = authors.resolve(annotation.get("completed_by"))
            annotations.append((annotation["result"], author, meta, _lead_time_ms(annotation.get("lead_time"))))
        predictions = []
        for i, prediction in enumerate(task_input.predictions):
            _checked(f"predictions[{i}].result", validate_result, spec, prediction["result"], data)
            predictions.append((prediction["result"], prediction.get("score"), prediction.get("model_version") or ""))
    except ValueError as exc:
        return RowError(str(exc))
    return _Row(row_number, data, task_input.meta, task_input.external_id, content_hash(data), task_input.gold,
                annotations, predictions, data_json, meta_json, gold_json)


def _insert_tasks_postgres(project, rows, source, target, now) -> dict[str, int]:
    """COPY the batch into a temporary table, then insert what is new; returns {content_hash: id} created."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS quorum_task_import "
            "(ord integer, content_hash text, external_id text, data jsonb, meta jsonb, gold jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        # Inside an outer transaction (seed_demo, tests) the commit that empties it has not happened yet.
        cursor.execute("TRUNCATE quorum_task_import")
        with cursor.cursor.copy(
            "COPY quorum_task_import (ord, content_hash, external_id, data, meta, gold) FROM STDIN"
        ) as copy:
            for i, row in enumerate(rows):
                copy.write_row((i, row.content_hash, row.external_id, row.data_json, row.meta_json, row.gold_json))
        cursor.execute(
            "INSERT INTO tasks_task (organization_id, project_id, data, meta, external_id, content_hash, status, "
            "priority, target_annotations, annotations_count, in_flight, is_gold, gold_result, consensus_method, "
            "source, created_at, updated_at) "
            "SELECT %s, %s, data, meta, external_id, content_hash, 'new', 0, %s, 0, 0, gold IS NOT NULL, gold, "
            "'', %s, %s, %s FROM quorum_task_import ORDER BY ord "
            "ON CONFLICT DO NOTHING RETURNING id, content_hash",
            [project.organization_id, project.pk, target, source, now, now],
        )
        return {content_hash: task_id for task_id, content_hash in cursor.fetchall()}


def _insert_tasks_generic(project, rows, source, target, now) -> dict[str, int]:
    hashes = [row.content_hash for row in rows]
    existing = set(Task.objects.filter(project=project, content_hash__in=hashes).values_list("content_hash",
                                                                                            flat=True))
    Task.objects.bulk_create(
        [Task(organization_id=project.organization_id, project=project, data=row.data, meta=row.meta,
              external_id=row.external_id, content_hash=row.content_hash, target_annotations=target,
              is_gold=row.gold is not None, gold_result=row.gold, source=source, created_at=now, updated_at=now)
         for row in rows if row.content_hash not in existing],
        ignore_conflicts=True,
    )
    created = Task.objects.filter(project=project, content_hash__in=set(hashes) - existing)
    return dict(created.values_list("content_hash", "id"))


def _write_batch(project, schema_version, rows, report, *, on_duplicate, source, target, return_ids):
    now = timezone.now()
    with transaction.atomic():
        insert = _insert_tasks_postgres if connection.vendor == "postgresql" else _insert_tasks_generic
        created = insert(project, rows, source, target, now)
        seen_new: set[str] = set()
        existing_ids: dict[str, int] = {}
        missing = [row.content_hash for row in rows if row.content_hash not in created]
        if missing:
            existing_ids = dict(Task.objects.filter(project=project, content_hash__in=missing)
                                .values_list("content_hash", "id"))
        attach = []  # (task_id, row) whose annotations and predictions are stored
        for row in rows:
            task_id = created.get(row.content_hash)
            if task_id is not None and row.content_hash not in seen_new:
                seen_new.add(row.content_hash)
                report.created += 1
                attach.append((task_id, row))
            else:
                task_id = existing_ids.get(row.content_hash) or created.get(row.content_hash)
                report.duplicates += 1
                if on_duplicate == "update" and task_id is not None:
                    Task.objects.filter(pk=task_id).update(meta=row.meta, updated_at=now)
                    report.updated += 1
                    attach.append((task_id, row))
            if return_ids:
                report.task_ids.append(task_id)
        _attach(project, schema_version, attach, now)
        if created:
            tasks_added(project_id=project.pk, first_id=min(created.values()))
        if created or attach:
            events.progress_changed(project.pk)


def _attach(project, schema_version, attach, now):
    annotations, predictions, counts = [], [], {}
    for task_id, row in attach:
        for result, author, meta, lead_ms in row.annotations:
            annotations.append(Annotation(
                organization_id=project.organization_id, project=project, task_id=task_id, author=author,
                result=result, schema_version=schema_version, lead_time_ms=lead_ms, source=Annotation.Source.IMPORT,
                status=Annotation.Status.ACCEPTED,
                meta=meta, created_at=now, updated_at=now,
            ))
            counts[task_id] = counts.get(task_id, 0) + 1
        for result, score, model_version in row.predictions:
            predictions.append(Prediction(
                organization_id=project.organization_id, project=project, task_id=task_id, result=result,
                score=score, model_version=model_version, schema_version=schema_version, created_at=now,
            ))
    if annotations:
        Annotation.objects.bulk_create(annotations, batch_size=2000)
        AnnotationVersion.objects.bulk_create(
            [AnnotationVersion(annotation=a, version=1, result=a.result, schema_version=schema_version,
                               author=a.author, reason="imported", source=Annotation.Source.IMPORT,
                               created_at=now) for a in annotations],
            batch_size=2000,
        )
        with connection.cursor() as cursor:
            for task_id, count in sorted(counts.items()):
                status = status_sql(count=f"tasks_task.annotations_count + {int(count)}")
                cursor.execute(f"UPDATE tasks_task SET annotations_count = annotations_count + %s, status = {status}, "
                               f"updated_at = %s WHERE id = %s", [count, now, task_id])
    if predictions:
        Prediction.objects.bulk_create(predictions, batch_size=2000)


class _BatchWriter:
    """Writes batches on a thread of its own (its own connection, a transaction per batch) while the
    caller parses and validates the next batch: on two cores, Python and PostgreSQL then work at once."""

    def __init__(self, write):
        self.write, self.error = write, None
        self.batches: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="quorum-import-writer", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while (batch := self.batches.get()) is not None:
                if self.error is None:
                    self.write(batch)
        except BaseException as exc:  # handed to the caller in close()
            self.error = exc
            while self.batches.get() is not None:  # drain so the caller never blocks
                pass
        finally:
            connection.close()

    def put(self, batch):
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def close(self):
        self.batches.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def tasks_import(
    *,
    project,
    actor: User,
    stream: io.RawIOBase,
    fmt: str,
    on_duplicate: str = "skip",
    return_ids: bool = False,
    source: str = Task.Source.API,
    progress=None,
    batch_size: int = BATCH_SIZE,
    request=None,
) -> dict:
    """Import every row of `stream` into `project`; returns the body of API.md's import answer."""
    schema = project.current_schema
    spec = compile_spec(schema.spec)
    authors = _Authors(project.organization, actor)
    target = int(project.settings.get("overlap", 1))
    report = ImportReport()
    batch: list[_Row] = []

    def write(rows):
        _write_batch(project, schema.version, rows, report, on_duplicate=on_duplicate, source=source,
                     target=target, return_ids=return_ids)
        if progress is not None:
            progress(report)

    # A separate writer connection cannot see rows of an open outer transaction (seed_demo, tests),
    # so it is used only when this call is not inside one.
    writer = _BatchWriter(write) if connection.vendor == "postgresql" and not connection.in_atomic_block else None

    def flush():
        if batch:
            if writer is not None:
                writer.put(list(batch))
            else:
                write(batch)
            batch.clear()

    try:
        for row_number, record_or_error in iter_records(stream, fmt):
            report.rows += 1
            if isinstance(record_or_error, RowError):
                report.error(row_number, record_or_error.message)
                continue
            task_input = normalize_task(record_or_error)
            if isinstance(task_input, RowError):
                report.error(row_number, task_input.message)
                continue
            row = _validated_row(row_number, task_input, schema.spec, spec, authors)
            if isinstance(row, RowError):
                report.error(row_number, row.message)
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    record(action="tasks.import", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"format": fmt, "created": report.created, "duplicates": report.duplicates,
                                       "updated": report.updated, "errors": report.errors_total},
           request=request)
    return report.as_dict(return_ids=return_ids)

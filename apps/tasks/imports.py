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
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import record
from apps.orgs.models import Membership
from apps.projects.label_spec import SchemaMismatch, compile_spec, validate_data, validate_result

from . import events, signals
from .import_formats import RowError, canonical_json, content_digest, iter_records, normalize_task
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
    # As imported until `_with_results`, then [(result, author, meta, lead_time_ms)] and
    # [(result, score, model_version)].
    annotations: list
    predictions: list
    # The row's line of COPY text (ord, content_hash, external_id, data, meta, gold), made here on the
    # parsing side: the writer sends a batch as one buffer, with no Python work per row.
    copy_line: bytes


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
        return int(round(value * 1000))
    return None


_NUL = b"\\u0000"


def _checked_json(what: str, encoded: bytes) -> bytes:
    """JSON as a COPY text field. PostgreSQL's jsonb cannot hold U+0000, so such a row is a row error, not a
    lost batch. orjson escapes every control character, so a backslash is the only byte COPY needs escaped."""
    if _NUL in encoded:
        raise ValueError(f"{what} contains a NUL character (\\u0000), which cannot be stored")
    return encoded.replace(b"\\", b"\\\\")


def _copy_text(value: str | None) -> bytes:
    if value is None:
        return b"\\N"
    if "\x00" in value:
        raise ValueError("external_id contains a NUL character, which cannot be stored")
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            .encode())


def _prepared_row(row_number, task_input, raw_spec, spec) -> _Row | RowError:
    """Everything about a row that needs no database: its JSON, content hash and COPY line, its data and
    gold checked. Annotations and predictions stay raw until `_with_results` (authors are looked up)."""
    data = task_input.data
    try:
        # Stored as jsonb, the canonical (sorted-keys) JSON is the same value as `data`: one serialization
        # gives both the content hash and the stored text.
        canonical = canonical_json(data)
        data_json = _checked_json("data", canonical)
        meta_json = _checked_json("meta", orjson.dumps(task_input.meta)) if task_input.meta else b"{}"
        gold_json = b"\\N" if task_input.gold is None else _checked_json("gold", orjson.dumps(task_input.gold))
        if task_input.annotations or task_input.predictions:
            _checked_json("annotations or predictions",
                          orjson.dumps([task_input.annotations, task_input.predictions]))
        external_id = _copy_text(task_input.external_id)
        _checked("data", validate_data, raw_spec, data)
        if task_input.gold is not None:
            _checked("gold.result", validate_result, spec, task_input.gold, data)
    except ValueError as exc:
        return RowError(str(exc))
    digest = content_digest(canonical)
    line = b"%d\t%s\t%s\t%s\t%s\t%s\n" % (row_number, digest.encode(), external_id, data_json, meta_json, gold_json)
    return _Row(row_number, data, task_input.meta, task_input.external_id, digest, task_input.gold,
                task_input.annotations, task_input.predictions, line)


def _with_results(row: _Row, spec, authors) -> _Row | RowError:
    """The row with its annotations and predictions validated and their authors resolved."""
    try:
        annotations = []
        for i, annotation in enumerate(row.annotations):
            _checked(f"annotations[{i}].result", validate_result, spec, annotation["result"], row.data)
            author, meta = authors.resolve(annotation.get("completed_by"))
            annotations.append((annotation["result"], author, meta, _lead_time_ms(annotation.get("lead_time"))))
        predictions = []
        for i, prediction in enumerate(row.predictions):
            _checked(f"predictions[{i}].result", validate_result, spec, prediction["result"], row.data)
            predictions.append((prediction["result"], prediction.get("score"), prediction.get("model_version") or ""))
    except ValueError as exc:
        return RowError(str(exc))
    row.annotations, row.predictions = annotations, predictions
    return row


def _prepared_rows(stream, fmt, raw_spec, spec) -> Iterator[tuple[int, _Row | RowError]]:
    """`(row number, _prepared_row or RowError)` for each record of the stream."""
    for row_number, parsed in iter_records(stream, fmt):
        if not isinstance(parsed, RowError):
            task_input = normalize_task(parsed)
            parsed = task_input if isinstance(task_input, RowError) else _prepared_row(row_number, task_input,
                                                                                       raw_spec, spec)
        yield row_number, parsed


def _insert_tasks_postgres(project, rows, source, target, now, own_transaction) -> dict[str, int]:
    """COPY the batch into a temporary table, then insert what is new; returns {content_hash: id} created."""
    with connection.cursor() as cursor:
        # One round trip for the set-up: on the writer thread each one also waits for the parser to yield the GIL.
        cursor.execute(
            # The task table's foreign keys are deferred (Django's default): checked at commit, PostgreSQL
            # queues an event per row and reads each row again then, about a sixth of a batch. When the
            # transaction is this batch's alone they are checked at the end of the INSERT instead: same checks.
            ("SET CONSTRAINTS ALL IMMEDIATE; " if own_transaction else "")
            + "CREATE TEMPORARY TABLE IF NOT EXISTS quorum_task_import "
            "(ord bigint, content_hash text, external_id text, data jsonb, meta jsonb, gold jsonb) "
            "ON COMMIT DELETE ROWS"
            # Inside an outer transaction (seed_demo, tests) the commit that empties it has not happened yet.
            + ("" if own_transaction else "; TRUNCATE quorum_task_import")
        )
        with cursor.cursor.copy(
            "COPY quorum_task_import (ord, content_hash, external_id, data, meta, gold) FROM STDIN"
        ) as copy:
            copy.write(b"".join([row.copy_line for row in rows]))
        # Naming the one unique index that can conflict spares PostgreSQL a probe of every other unique index
        # for each row (a tenth of the insert). external_id's is partial (NOT NULL), so it can only conflict
        # when the batch carries external ids; then every unique index is an arbiter, as before.
        arbiter = "" if any(row.external_id is not None for row in rows) else "(project_id, content_hash) "
        cursor.execute(
            "INSERT INTO tasks_task (organization_id, project_id, data, meta, external_id, content_hash, status, "
            "priority, target_annotations, annotations_count, in_flight, is_gold, gold_result, consensus_method, "
            "source, created_at, updated_at) "
            "SELECT %s, %s, data, meta, external_id, content_hash, 'new', 0, %s, 0, 0, gold IS NOT NULL, gold, "
            "'', %s, %s, %s FROM quorum_task_import ORDER BY ord "
            f"ON CONFLICT {arbiter}DO NOTHING RETURNING id, content_hash",
            [project.organization_id, project.pk, target, source, now, now],
        )
        return {content_hash: task_id for task_id, content_hash in cursor.fetchall()}


def _insert_tasks_generic(project, rows, source, target, now, own_transaction) -> dict[str, int]:
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
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        insert = _insert_tasks_postgres if connection.vendor == "postgresql" else _insert_tasks_generic
        created = insert(project, rows, source, target, now, own_transaction)
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
    """Store the imported annotations (each with its first version) and predictions of a batch's tasks."""
    annotations, predictions, counts = [], [], {}
    for task_id, row in attach:
        for result, author, meta, lead_ms in row.annotations:
            annotations.append((task_id, result, author, meta, lead_ms))
            counts[task_id] = counts.get(task_id, 0) + 1
        for result, score, model_version in row.predictions:
            predictions.append((task_id, result, score, model_version))
    if annotations:
        store = _store_annotations_postgres if connection.vendor == "postgresql" else _store_annotations_generic
        store(project, schema_version, annotations, now)
        _count_annotations(sorted(counts.items()), now)
    if predictions:
        store = _store_predictions_postgres if connection.vendor == "postgresql" else _store_predictions_generic
        store(project, schema_version, predictions, now)
        signals.predictions_added.send(sender=Prediction, project=project,
                                       scores=[(task_id, score) for task_id, _, score, _ in predictions])


def _copy_json(value) -> bytes:
    return _checked_json("result", orjson.dumps(value))


def _copy_number(value) -> bytes:
    return b"\\N" if value is None else str(value).encode()


def _store_annotations_postgres(project, schema_version, annotations, now) -> None:
    """COPY into a staging table, then one statement inserts the annotations and, from what it returns, their
    first versions (Django's bulk_create quotes every value of both in Python: 200 µs an annotation)."""
    lines = b"".join(
        b"%d\t%d\t%s\t%s\t%s\t%s\n" % (ord_, task_id, _copy_number(author.pk if author else None), _copy_json(result),
                                    _copy_json(meta or {}), _copy_number(lead_ms))
        for ord_, (task_id, result, author, meta, lead_ms) in enumerate(annotations))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS quorum_annotation_import (ord int, task_id bigint, author_id bigint, "
            "result jsonb, meta jsonb, lead_time_ms int) ON COMMIT DELETE ROWS; TRUNCATE quorum_annotation_import")
        with cursor.cursor.copy("COPY quorum_annotation_import FROM STDIN") as copy:
            copy.write(lines)
        cursor.execute(
            "WITH made AS (INSERT INTO tasks_annotation (organization_id, project_id, task_id, author_id, "
            "model_version, result, version, schema_version, lead_time_ms, source, status, meta, idempotency_key, "
            "created_at, updated_at) "
            "SELECT %s, %s, task_id, author_id, '', result, 1, %s, lead_time_ms, %s, %s, meta, '', %s, %s "
            "FROM quorum_annotation_import ORDER BY ord RETURNING id, result, author_id) "
            "INSERT INTO tasks_annotationversion (annotation_id, version, result, schema_version, author_id, reason, "
            "source, created_at) SELECT id, 1, result, %s, author_id, 'imported', %s, %s FROM made",
            [project.organization_id, project.pk, schema_version, Annotation.Source.IMPORT, Annotation.Status.ACCEPTED,
             now, now, schema_version, Annotation.Source.IMPORT, now])


def _store_annotations_generic(project, schema_version, annotations, now) -> None:
    made = Annotation.objects.bulk_create([
        Annotation(organization_id=project.organization_id, project=project, task_id=task_id, author=author,
                   result=result, schema_version=schema_version, lead_time_ms=lead_ms,
                   source=Annotation.Source.IMPORT, status=Annotation.Status.ACCEPTED, meta=meta, created_at=now,
                   updated_at=now)
        for task_id, result, author, meta, lead_ms in annotations], batch_size=2000)
    AnnotationVersion.objects.bulk_create(
        [AnnotationVersion(annotation=a, version=1, result=a.result, schema_version=schema_version, author=a.author,
                           reason="imported", source=Annotation.Source.IMPORT, created_at=now) for a in made],
        batch_size=2000)


def _store_predictions_postgres(project, schema_version, predictions, now) -> None:
    prefix = b"%d\t%d\t" % (project.organization_id, project.pk)
    suffix = b"\t%d\t%s\n" % (schema_version, now.isoformat().encode())
    lines = b"".join(prefix + b"%d\t%s\t%s\t%s" % (task_id, _copy_text(model_version or ""), _copy_json(result),
                                                    _copy_number(score)) + suffix
                     for task_id, result, score, model_version in predictions)
    with connection.cursor() as cursor, cursor.cursor.copy(
            "COPY tasks_prediction (organization_id, project_id, task_id, model_version, result, score, "
            "schema_version, created_at) FROM STDIN") as copy:
        copy.write(lines)


def _store_predictions_generic(project, schema_version, predictions, now) -> None:
    Prediction.objects.bulk_create([
        Prediction(organization_id=project.organization_id, project=project, task_id=task_id, result=result,
                   score=score, model_version=model_version, schema_version=schema_version, created_at=now)
        for task_id, result, score, model_version in predictions], batch_size=2000)


def _count_annotations(counts: list[tuple[int, int]], now, chunk: int = 1000) -> None:
    """Add the imported annotations to their tasks' counters (and statuses): one UPDATE per thousand tasks, so
    the progress triggers fire once per statement, not once per task."""
    status = status_sql(count="tasks_task.annotations_count + added.n")
    with connection.cursor() as cursor:
        for start in range(0, len(counts), chunk):
            part = counts[start:start + chunk]
            values = ", ".join(["(%s, %s)"] * len(part))
            cursor.execute(
                f"WITH added (id, n) AS (VALUES {values}) "
                f"UPDATE tasks_task SET annotations_count = tasks_task.annotations_count + added.n, status = {status}, "
                "updated_at = %s FROM added WHERE tasks_task.id = added.id",
                [value for pair in part for value in pair] + [now],
            )


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

    def write(rows):
        _write_batch(project, schema.version, rows, report, on_duplicate=on_duplicate, source=source,
                     target=target, return_ids=return_ids)
        if progress is not None:
            progress(report)

    # A separate writer connection cannot see rows of an open outer transaction (seed_demo, tests),
    # so the writer thread is used only when this call is not inside one.
    threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
    _import_batches(stream, fmt, schema.spec, spec, authors, batch_size, report, write, threaded=threaded)
    record(action="tasks.import", organization=project.organization_id, actor=actor, object_type="project",
           object_id=project.pk, data={"format": fmt, "created": report.created, "duplicates": report.duplicates,
                                       "updated": report.updated, "errors": report.errors_total},
           request=request)
    return report.as_dict(return_ids=return_ids)


def _import_batches(stream, fmt, raw_spec, spec, authors, batch_size, report, write, *, threaded):
    batch: list[_Row] = []
    writer = None

    def flush(last):
        nonlocal writer
        if batch:
            # An upload of a single batch (the API's usual request) is written here: a writer thread and
            # its connection would only add their start to it.
            if writer is None and threaded and not last:
                writer = _BatchWriter(write)
            if writer is not None:
                writer.put(list(batch))
            else:
                write(batch)
            batch.clear()

    try:
        for row_number, row in _prepared_rows(stream, fmt, raw_spec, spec):
            report.rows += 1
            if not isinstance(row, RowError) and (row.annotations or row.predictions):
                row = _with_results(row, spec, authors)
            if isinstance(row, RowError):
                report.error(row_number, row.message)
                continue
            # A full batch is sent when the next row comes, so the last one is known to be the last.
            if len(batch) >= batch_size:
                flush(last=False)
            batch.append(row)
        flush(last=True)
    finally:
        if writer is not None:
            writer.close()

"""Making snapshots: which tasks, which labels, which split — frozen, with a checksum — and reading them back
as export records in task order, a chunk at a time (memory does not grow with the project)."""

import datetime as dt
import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Iterator

import orjson
from django.db import connection, transaction

from apps.audit.services import record
from apps.orgs.errors import ApiError
from apps.projects.label_spec import compile_spec
from apps.tasks.annotations import current_schema, project_spec
from apps.tasks.models import Annotation, AnnotationVersion, Prediction, Task

from .models import DatasetSnapshot, SnapshotItem
from .records import Annotation as RecordAnnotation
from .records import Record

CHUNK = 2000
SPLITS = ("train", "val", "test")
HUMAN_SOURCES = (Annotation.Source.HUMAN, Annotation.Source.IMPORT, Annotation.Source.REVIEW)


def checked_split(split) -> dict[str, float]:
    """{"train": .8, "val": .1, "test": .1} (any of the three; fractions ≥ 0 adding up to 1), or {}."""
    if not split:
        return {}
    if not isinstance(split, dict) or set(split) - set(SPLITS):
        raise ApiError("split names are train, val and test", details={"split": ["train, val and test only"]})
    values = {}
    for name, value in split.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ApiError("a split fraction is a number from 0 to 1", details={"split": [f"{name}: 0..1"]})
        values[name] = float(value)
    if abs(sum(values.values()) - 1) > 1e-6:
        raise ApiError("the split fractions must add up to 1", details={"split": ["fractions add up to 1"]})
    return {name: values[name] for name in SPLITS if values.get(name)}


def _unit(seed: int, task_id: int) -> float:
    """A number in [0, 1) from the first 60 bits of sha256("seed:task id"); _UNIT_SQL computes the same float."""
    return int(hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest()[:15], 16) / 2**60


_UNIT_SQL = ("(('x' || substr(encode(sha256(convert_to('{seed}:' || t.id, 'UTF8')), 'hex'), 1, 15))::bit(60)::bigint"
             "::float8 / 1152921504606846976.0::float8)")


class Splitter:
    """Deterministic split assignment: by a hash of the seed and the task id, or, stratified, per label group by
    the largest deficit against the target fractions (exact to one task per group), ties broken by the hash."""

    def __init__(self, fractions: dict[str, float], seed: int, stratify: bool):
        self.fractions, self.seed, self.stratify = fractions, int(seed), stratify
        self.groups: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(fractions, 0))

    def assign(self, task_id: int, label: str | None) -> str:
        if not self.fractions:
            return ""
        if not self.stratify:
            u, edge = _unit(self.seed, task_id), 0.0
            for name, fraction in self.fractions.items():
                edge += fraction
                if u < edge:
                    return name
            return list(self.fractions)[-1]
        counts = self.groups[label or ""]
        total = sum(counts.values()) + 1
        names = list(self.fractions)
        best = max(names, key=lambda name: (self.fractions[name] * total - counts[name],
                                            _unit(self.seed, task_id * len(SPLITS) + SPLITS.index(name))))
        counts[best] += 1
        return best


def _stratum(compiled, result) -> str | None:
    """The label a task is stratified by: its first single-answer choice."""
    for item in result or []:
        control = compiled.controls.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is not None and control.result_type in ("choices", "taxonomy"):
            picks = (item.get("value") or {}).get(control.result_type) or []
            if picks:
                return orjson.dumps(picks[0]).decode()
    return None


def _choose(filter_: str, annotations: list[tuple]) -> tuple[tuple | None, list[tuple]]:
    """(the annotation whose labels stand for the task, the annotations the snapshot includes), newest last.
    Annotations are (id, version, status, source) in id order."""
    usable = [a for a in annotations if a[2] != Annotation.Status.REJECTED]
    if filter_ == DatasetSnapshot.Filter.ACCEPTED:
        included = [a for a in usable if a[2] == Annotation.Status.ACCEPTED]
    elif filter_ == DatasetSnapshot.Filter.LATEST_HUMAN:
        included = [a for a in usable if a[3] in HUMAN_SOURCES]
    else:
        included = usable
    chosen = included[-1] if included and filter_ != DatasetSnapshot.Filter.CONSENSUS else None
    return chosen, included


# A task as the snapshot reads it: (id, meta, is_gold, gold_result, consensus_result, consensus_confidence,
# consensus_method, agreement, annotations), the JSON values as JSON text (None for SQL NULL) and the
# annotations as (id, version, status, source) in id order.
_TASKS_SQL = """
SELECT t.id, t.meta::text, t.is_gold, NULLIF(t.gold_result, 'null')::text, NULLIF(t.consensus_result, 'null')::text,
       t.consensus_confidence,
       t.consensus_method, t.agreement,
       (SELECT string_agg(a.id || ':' || a.version || ':' || a.status || ':' || a.source, ',' ORDER BY a.id)
          FROM tasks_annotation a WHERE a.task_id = t.id)
  FROM tasks_task t
 WHERE t.project_id = %s {gold}
 ORDER BY t.id
"""


def _task_rows_postgres(project, include_gold) -> Iterator[list[tuple]]:
    """The project's tasks in id order, a chunk at a time, streamed by COPY."""
    sql = _TASKS_SQL.format(gold="" if include_gold else "AND NOT t.is_gold") % int(project.pk)
    chunk = []
    for row in _copy_out(sql, ["int8", "text", "bool", "text", "text", "float8", "text", "float8", "text"]):
        chunk.append((*row[:8], [_annotation_of(text) for text in row[8].split(",")] if row[8] else []))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _annotation_of(text: str) -> tuple:
    annotation_id, version, status, source = text.split(":")
    return int(annotation_id), int(version), status, source


def _json_text(value) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _task_rows_generic(project, include_gold) -> Iterator[list[tuple]]:
    """The same rows through the ORM (SQLite in embedded mode), a chunk of tasks and their annotations per query."""
    tasks = Task.objects.filter(project=project).order_by("id")
    if not include_gold:
        tasks = tasks.filter(is_gold=False)
    rows = tasks.values_list("id", "meta", "is_gold", "gold_result", "consensus_result", "consensus_confidence",
                             "consensus_method", "agreement").iterator(chunk_size=CHUNK)
    for chunk in _chunks(rows, CHUNK):
        by_task: dict[int, list[tuple]] = defaultdict(list)
        for a in (Annotation.objects.filter(task_id__in=[row[0] for row in chunk]).order_by("task_id", "id")
                  .values_list("task_id", "id", "version", "status", "source")):
            by_task[a[0]].append(a[1:])
        yield [(task_id, _json_text(meta), is_gold, _json_text(gold), _json_text(consensus), confidence, method,
                agreement, by_task.get(task_id, []))
               for task_id, meta, is_gold, gold, consensus, confidence, method, agreement in chunk]


def _copy_field(value) -> str:
    """A value as a field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _CopyItems:
    """Snapshot items into PostgreSQL with one COPY at the end: the tasks are being read by a COPY on the same
    connection meanwhile, so the lines wait in a temporary file (on disk beyond a few megabytes)."""

    COLUMNS = "snapshot_id, task_id, split, annotation_id, annotation_version, result, meta, annotations, quality"

    def __init__(self, snapshot):
        self.prefix = f"{int(snapshot.pk)}\t"
        self.lines: list[str] = []
        self.spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)

    def add(self, fields: tuple) -> None:
        self.lines.append(self.prefix + "\t".join(map(_copy_field, fields)))

    def flush(self) -> None:
        if self.lines:
            self.spool.write(("\n".join(self.lines) + "\n").encode())
            self.lines = []

    def close(self) -> None:
        self.flush()
        self.spool.seek(0)
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY exports_snapshotitem ({self.COLUMNS}) FROM STDIN") as copy:
            while block := self.spool.read(1024 * 1024):
                copy.write(block)
        self.spool.close()


class _OrmItems:
    """Snapshot items through the ORM (SQLite)."""

    def __init__(self, snapshot):
        self.snapshot, self.items = snapshot, []

    def add(self, fields: tuple) -> None:
        task_id, split, annotation_id, version, result, meta, pinned, quality = fields
        self.items.append(SnapshotItem(
            snapshot=self.snapshot, task_id=task_id, split=split, annotation_id=annotation_id,
            annotation_version=version, result=None if result is None else orjson.loads(result),
            meta=None if meta is None else orjson.loads(meta), annotations=orjson.loads(pinned),
            quality=None if quality is None else orjson.loads(quality)))

    def flush(self) -> None:
        SnapshotItem.objects.bulk_create(self.items, batch_size=CHUNK)
        self.items = []

    def close(self) -> None:
        self.flush()


def _number(value) -> str:
    """A float as PostgreSQL's float8 → jsonb writes it (a whole number without ".0")."""
    if value is None:
        return "null"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else orjson.dumps(value).decode()


@transaction.atomic
def snapshot_create(*, project, actor, filter: str = "accepted", split=None, seed: int = 0, stratify: bool = False,
                    include_gold: bool = False, request=None, in_sql: bool | None = None) -> DatasetSnapshot:
    """Freeze the project's labels now. Tasks without a label under the filter are left out (and counted).

    On PostgreSQL an unstratified snapshot is one INSERT … SELECT (the split's hash computed by PostgreSQL, as
    `_unit` does) that also returns its counts and checksum; a stratified one, whose split depends on the tasks
    before it, is made in Python from a COPY of the tasks and stored with COPY, then tallied by the same
    aggregate. `in_sql=False` makes an unstratified one in Python too (the tests compare both)."""
    if filter not in DatasetSnapshot.Filter.values:
        raise ApiError(f"filter is one of {', '.join(DatasetSnapshot.Filter.values)}", details={"filter": ["unknown"]})
    fractions = checked_split(split)
    project = current_schema(project)
    snapshot = DatasetSnapshot.objects.create(
        organization_id=project.organization_id, project=project, schema_version=project.schema_version,
        filter=filter, include_gold=include_gold, split=fractions, seed=int(seed), stratify=bool(stratify),
        counts={}, checksum="", created_by=actor if getattr(actor, "pk", None) else None,
    )
    postgres = connection.vendor == "postgresql"
    if postgres and not stratify and in_sql is not False:
        tally = _items_sql(snapshot, project)
    else:
        counts, checksum = _items_python(snapshot, project)
        tally = _tally_sql(snapshot) if postgres else None
    if tally is not None:
        counts, checksum = _counts(snapshot, project, tally)
    snapshot.counts, snapshot.checksum = counts, checksum
    snapshot.save(update_fields=["counts", "checksum"])
    record(action="snapshot.create", organization=project.organization_id, actor=actor, object_type="snapshot",
           object_id=snapshot.pk, data={"project": project.pk, "filter": filter, "split": fractions, "seed": seed,
                                        "checksum": snapshot.checksum, "tasks": counts["tasks"]}, request=request)
    return snapshot


_INCLUDED_SQL = {
    DatasetSnapshot.Filter.ACCEPTED: "a.status = 'accepted'",
    DatasetSnapshot.Filter.LATEST_HUMAN: "a.status <> 'rejected' AND a.source IN ({})".format(
        ", ".join(f"'{source}'" for source in HUMAN_SOURCES)),
    DatasetSnapshot.Filter.ALL: "a.status <> 'rejected'",
    DatasetSnapshot.Filter.CONSENSUS: "a.status <> 'rejected'",
}


def _items_sql(snapshot, project) -> list[tuple]:
    """The items of an unstratified snapshot, chosen (as `_choose` does) and split by PostgreSQL in one statement;
    returns their tally."""
    consensus = snapshot.filter == DatasetSnapshot.Filter.CONSENSUS
    part = "''"
    if snapshot.split:
        cases, edge = [], 0.0
        for name, fraction in snapshot.split.items():  # the same edges, added in the same order, as Splitter
            edge += fraction
            cases.append(f"WHEN u.value < '{edge!r}'::float8 THEN '{name}'")
        part = f"CASE {' '.join(cases)} ELSE '{list(snapshot.split)[-1]}' END"
    gold_answer = "(t.is_gold AND t.gold_result IS NOT NULL AND t.gold_result <> 'null'::jsonb)"
    result = (f"CASE WHEN {gold_answer} THEN t.gold_result "
              + ("WHEN t.consensus_result <> 'null'::jsonb THEN t.consensus_result " if consensus else "") + "END")
    chosen = "NULL::bigint" if consensus else f"CASE WHEN {gold_answer} THEN NULL ELSE inc.chosen END"
    chosen_version = "NULL::integer" if consensus else f"CASE WHEN {gold_answer} THEN NULL ELSE inc.version END"
    frozen = "NULL::jsonb" if consensus else "NULLIF(t.consensus_result, 'null'::jsonb)"
    sql = f"""
    INSERT INTO exports_snapshotitem (snapshot_id, task_id, split, annotation_id, annotation_version, result, meta,
                                      annotations, quality)
    SELECT {int(snapshot.pk)}, t.id, {part}, item.chosen, item.version, item.result, NULLIF(t.meta, '{{}}'::jsonb),
           COALESCE(inc.pins, '[]'::jsonb),
           CASE WHEN t.agreement IS NULL AND t.consensus_confidence IS NULL AND {frozen} IS NULL
                     AND COALESCE(t.consensus_method, '') = '' THEN NULL
                ELSE jsonb_build_object('agreement', t.agreement, 'confidence', t.consensus_confidence,
                                        'consensus', {frozen}, 'method', COALESCE(t.consensus_method, '')) END
      FROM tasks_task t
      LEFT JOIN (
           SELECT a.task_id, jsonb_agg(jsonb_build_array(a.id, a.version) ORDER BY a.id) AS pins,
                  (array_agg(a.id ORDER BY a.id DESC))[1] AS chosen,
                  (array_agg(a.version ORDER BY a.id DESC))[1] AS version
             FROM tasks_annotation a
            WHERE a.project_id = {int(project.pk)} AND {_INCLUDED_SQL[snapshot.filter]}
            GROUP BY a.task_id) inc ON inc.task_id = t.id
     CROSS JOIN LATERAL (SELECT {chosen} AS chosen, {chosen_version} AS version, {result} AS result) item
     CROSS JOIN LATERAL (SELECT {_UNIT_SQL.format(seed=int(snapshot.seed))} AS value) u
     WHERE t.project_id = {int(project.pk)} {"" if snapshot.include_gold else "AND NOT t.is_gold"}
       AND (item.chosen IS NOT NULL OR item.result IS NOT NULL)
    RETURNING split, jsonb_array_length(annotations) AS pins, {_ITEM_HASH} AS hash
    """
    with connection.cursor() as cursor:
        cursor.execute(f"WITH inserted AS ({sql}) " + _TALLY.format(source="inserted"))
        return cursor.fetchall()


# An item's fields as one text (NULL as \N), and an order-independent digest of a set of items: the sum of the
# first 60 bits of each one's md5 (items are one per task, so the set fixes the order). PostgreSQL computes it as
# the items are inserted; the checksum is the sha256 of the item count and that sum.
_ITEM_TEXT = ("concat_ws(E'\\t', task_id, split, COALESCE(annotation_id::text, '\\N'), "
              "COALESCE(annotation_version::text, '\\N'), COALESCE(result::text, '\\N'), COALESCE(meta::text, '\\N'), "
              "annotations::text, COALESCE(quality::text, '\\N'))")
_ITEM_HASH = f"('x' || substr(md5({_ITEM_TEXT}), 1, 15))::bit(60)::bigint::numeric"
_TALLY = "SELECT split, count(*), COALESCE(sum(pins), 0), COALESCE(sum(hash), 0)::text FROM {source} GROUP BY split"


def _tally_sql(snapshot) -> list[tuple]:
    """(split, items, pinned annotations, digest sum) of a snapshot's stored items."""
    with connection.cursor() as cursor:
        cursor.execute(_TALLY.format(source=f"(SELECT split, jsonb_array_length(annotations) AS pins, {_ITEM_HASH} "
                                            f"AS hash FROM exports_snapshotitem WHERE snapshot_id = %s) items"),
                       [snapshot.pk])
        return cursor.fetchall()


def _counts(snapshot, project, tally: list[tuple]) -> tuple[dict, str]:
    """The snapshot's counts and checksum from its tally."""
    tasks = sum(n for _, n, _, _ in tally)
    digest_sum = sum(int(total) for _, _, _, total in tally)
    parts = {part: n for part, n, _, _ in tally}
    considered = Task.objects.filter(project=project)
    gold = 0
    if snapshot.include_gold:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM exports_snapshotitem si JOIN tasks_task t ON t.id = si.task_id "
                           "WHERE si.snapshot_id = %s AND t.is_gold", [snapshot.pk])
            gold = cursor.fetchone()[0]
    else:
        considered = considered.filter(is_gold=False)
    counts = {"tasks": tasks, "annotations": int(sum(pins for _, _, pins, _ in tally)), "gold": gold,
              "unlabeled": considered.count() - tasks, "splits": {name: parts.get(name, 0) for name in snapshot.split}}
    return counts, hashlib.sha256(f"items:{tasks};md5-60 sum:{digest_sum}".encode()).hexdigest()


def _items_python(snapshot, project, *, postgres: bool | None = None) -> tuple[dict, str]:
    """The items chosen and split in Python (stratified, or SQLite); returns (counts, checksum of the fields).
    `postgres=False` reads and writes through the ORM whatever the database (the tests run SQLite's path so)."""
    filter_, fractions, stratify = snapshot.filter, snapshot.split, snapshot.stratify
    compiled = compile_spec(project_spec(project)) if stratify else None
    if postgres is None:
        postgres = connection.vendor == "postgresql"
    chunks = (_task_rows_postgres if postgres else _task_rows_generic)(project, snapshot.include_gold)
    items = (_CopyItems if postgres else _OrmItems)(snapshot)
    splitter = Splitter(fractions, snapshot.seed, stratify)
    digest = hashlib.sha256()
    counts = {"tasks": 0, "annotations": 0, "gold": 0, "unlabeled": 0, "splits": dict.fromkeys(fractions, 0)}
    consensus_filter = filter_ == DatasetSnapshot.Filter.CONSENSUS
    for chunk in chunks:
        strata = _chosen_results(chunk, filter_) if stratify else {}
        for task_id, meta, is_gold, gold_result, consensus_result, confidence, method, agreement, found in chunk:
            chosen, included = _choose(filter_, found)
            result = None
            if is_gold and gold_result is not None:
                chosen, result = None, gold_result
            elif consensus_filter:
                result = consensus_result
            if chosen is None and result is None:
                counts["unlabeled"] += 1
                continue
            stratum = None
            if stratify:
                labels = orjson.loads(result) if result is not None else strata.get(chosen[:2], [])
                stratum = _stratum(compiled, labels)
            part = splitter.assign(task_id, stratum)
            pinned = "[" + ", ".join(f"[{a[0]}, {a[1]}]" for a in included) + "]"
            frozen = None if consensus_filter else consensus_result
            quality = None  # nothing to keep (no consensus, no agreement): NULL, as in _items_sql
            if agreement is not None or confidence is not None or frozen is not None or method:
                quality = (f'{{"agreement": {_number(agreement)}, "confidence": {_number(confidence)}, '
                           f'"consensus": {"null" if frozen is None else frozen}, '
                           f'"method": {orjson.dumps(method or "").decode()}}}')
            fields = (task_id, part, chosen[0] if chosen else None, chosen[1] if chosen else None, result,
                      None if meta in (None, "{}") else meta, pinned, quality)
            items.add(fields)
            digest.update(orjson.dumps(fields) + b"\n")
            counts["tasks"] += 1
            counts["annotations"] += len(included)
            counts["gold"] += int(bool(is_gold))
            if part:
                counts["splits"][part] += 1
        items.flush()
    items.close()
    return counts, digest.hexdigest()


def _chosen_results(chunk: list[tuple], filter_: str) -> dict[tuple[int, int], list]:
    """The results of a chunk's chosen annotation versions, in one query (only to stratify by them)."""
    pins = set()
    for row in chunk:
        chosen, _ = _choose(filter_, row[8])
        if chosen is not None:
            pins.add(chosen[:2])
    if not pins:
        return {}
    rows = AnnotationVersion.objects.filter(annotation_id__in={a for a, _ in pins}).values_list(
        "annotation_id", "version", "result")
    return {(a, v): result for a, v, result in rows if (a, v) in pins}


def _chunks(iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- reading a snapshot back as records --------------------------------------------------------------------


def _iso(value) -> str:
    """ISO 8601 in UTC with microseconds, as _RECORDS_SQL writes it."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else ""


def _record(snapshot, row, made: list[RecordAnnotation], predictions) -> Record:
    task_id, part, annotation_id, version, result, meta, quality, data, external_id, is_gold = row
    quality = quality or {}
    chosen = None
    for made_one in made:
        if made_one.id == annotation_id and made_one.version == version:
            chosen = made_one
    labels = result if result is not None else (chosen.result if chosen else [])
    consensus = None  # what the task's consensus was when the snapshot was made
    frozen = result if snapshot.filter == DatasetSnapshot.Filter.CONSENSUS else quality.get("consensus")
    if frozen is not None:
        consensus = {"result": frozen, "confidence": quality.get("confidence"), "method": quality.get("method")}
    return Record(task_id=task_id, data=data, meta=meta or {}, split=part, result=labels or [], chosen=chosen,
                  annotations=tuple(made), consensus=consensus, predictions=tuple(predictions),
                  external_id=external_id, is_gold=is_gold, agreement=quality.get("agreement"))


def snapshot_records(snapshot: DatasetSnapshot, *, progress=None) -> Iterator[Record]:
    """The snapshot's records in task order, a chunk of tasks at a time. Tasks deleted since the snapshot was
    made are skipped."""
    reader = _records_postgres if connection.vendor == "postgresql" else _records_generic
    total = max(1, snapshot.counts.get("tasks", 0))
    done = 0
    for chunk in reader(snapshot):
        yield from chunk
        done += CHUNK
        if progress:
            progress(min(1.0, done / total))


# Each item with its task and its task's predictions, once per pinned annotation version (in the item's order;
# once with NULLs when it pins none), JSON as text that Python decodes once: one COPY, the lookups done by
# PostgreSQL's process while this one writes.
_RECORDS_SQL = """
SELECT si.task_id, si.split, si.annotation_id, si.annotation_version, si.result::text, si.meta::text,
       si.quality::text, t.data::text, t.external_id, t.is_gold,
       (SELECT json_agg(json_build_array(p.result, p.score, p.model_version) ORDER BY p.id)::text
          FROM tasks_prediction p WHERE p.task_id = si.task_id),
       v.annotation_id, v.version, v.result::text, u.email, a.source, a.status, a.lead_time_ms,
       to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM exports_snapshotitem si
  JOIN tasks_task t ON t.id = si.task_id
  LEFT JOIN LATERAL jsonb_array_elements(si.annotations) WITH ORDINALITY AS pin (value, n) ON true
  LEFT JOIN tasks_annotationversion v ON v.annotation_id = (pin.value ->> 0)::bigint
                                     AND v.version = (pin.value ->> 1)::integer
  LEFT JOIN tasks_annotation a ON a.id = v.annotation_id
  LEFT JOIN accounts_user u ON u.id = a.author_id
 WHERE si.snapshot_id = %s
 ORDER BY si.task_id, pin.n
"""
_RECORD_TYPES = ["int8", "text", "int8", "int4", "text", "text", "text", "text", "text", "bool", "text",
                 "int8", "int4", "text", "text", "text", "text", "int4", "text"]


def _loads(text):
    return None if text is None else orjson.loads(text)


def _copy_out(sql: str, types: list[str]) -> Iterator[tuple]:
    """The rows of `sql` through COPY … TO STDOUT: PostgreSQL sends them as fast as this process takes them
    (its process and this one work at once; a server-side cursor would wait for each fetch)."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        copy.set_types(types)
        yield from copy.rows()


def _records_postgres(snapshot) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    row, made = None, []

    def finished() -> Record:
        task_id, part, annotation_id, version, result, meta, quality, data, external_id, is_gold, predictions = row
        found = [{"result": r, "score": score, "model_version": model} for r, score, model in _loads(predictions) or ()]
        return _record(snapshot, (task_id, part, annotation_id, version, _loads(result), _loads(meta),
                                  _loads(quality), orjson.loads(data), external_id, is_gold), made, found)

    for line in _copy_out(_RECORDS_SQL % int(snapshot.pk), _RECORD_TYPES):
        if row is None or line[0] != row[0]:
            if row is not None:
                chunk.append(finished())
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
            row, made = line[:11], []
        if line[11] is not None:
            a, v, r, author, source, status, lead, created = line[11:]
            made.append(RecordAnnotation(id=a, version=v, result=orjson.loads(r), author=author, source=source,
                                         status=status, lead_time_ms=lead, created_at=created))
    if row is not None:
        chunk.append(finished())
    if chunk:
        yield chunk


def _records_generic(snapshot) -> Iterator[list[Record]]:
    """The same records through the ORM (SQLite in embedded mode): three queries a chunk."""
    items = (SnapshotItem.objects.filter(snapshot=snapshot).order_by("task_id")
             .values_list("task_id", "split", "annotation_id", "annotation_version", "result", "meta",
                          "annotations", "quality").iterator(chunk_size=CHUNK))
    for chunk in _chunks(items, CHUNK):
        ids = [row[0] for row in chunk]
        tasks = {row[0]: row[1:] for row in Task.objects.filter(pk__in=ids).values_list(
            "id", "data", "external_id", "is_gold")}
        pins = {(a, v) for row in chunk for a, v in (row[6] or [])}
        versions = {}
        if pins:
            for v in (AnnotationVersion.objects.filter(annotation_id__in={a for a, _ in pins})
                      .values_list("annotation_id", "version", "result", "annotation__author__email",
                                   "annotation__source", "annotation__status", "annotation__lead_time_ms",
                                   "annotation__created_at")):
                if v[:2] in pins:
                    versions[v[:2]] = RecordAnnotation(id=v[0], version=v[1], result=v[2], author=v[3], source=v[4],
                                                       status=v[5], lead_time_ms=v[6], created_at=_iso(v[7]))
        predictions: dict[int, list] = defaultdict(list)
        for task_id, result, score, model in (Prediction.objects.filter(task_id__in=ids).order_by("task_id", "id")
                                              .values_list("task_id", "result", "score", "model_version")):
            predictions[task_id].append({"result": result, "score": score, "model_version": model})
        records = []
        for task_id, part, annotation_id, version, result, meta, pinned, quality in chunk:
            if task_id not in tasks:
                continue
            made = [versions[(a, v)] for a, v in pinned or [] if (a, v) in versions]
            records.append(_record(snapshot, (task_id, part, annotation_id, version, result, meta, quality,
                                              *tasks[task_id]), made, predictions.get(task_id, ())))
        yield records

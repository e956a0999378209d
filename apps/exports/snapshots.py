"""Making snapshots: which tasks, which labels, which split — frozen, with a checksum — and reading them back
as export records in task order, a chunk at a time (memory does not grow with the project)."""

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterator

import orjson
from django.db import transaction

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
    digest = hashlib.blake2b(f"{seed}:{task_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


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


def _choose(filter_: str, annotations: list[dict]) -> tuple[dict | None, list[dict]]:
    """(the annotation whose labels stand for the task, the annotations the snapshot includes), newest last."""
    usable = [a for a in annotations if a["status"] != Annotation.Status.REJECTED]
    if filter_ == DatasetSnapshot.Filter.ACCEPTED:
        included = [a for a in usable if a["status"] == Annotation.Status.ACCEPTED]
    elif filter_ == DatasetSnapshot.Filter.LATEST_HUMAN:
        included = [a for a in usable if a["source"] in HUMAN_SOURCES]
    else:
        included = usable
    chosen = included[-1] if included and filter_ != DatasetSnapshot.Filter.CONSENSUS else None
    return chosen, included


@transaction.atomic
def snapshot_create(*, project, actor, filter: str = "accepted", split=None, seed: int = 0, stratify: bool = False,
                    include_gold: bool = False, request=None) -> DatasetSnapshot:
    """Freeze the project's labels now. Tasks without a label under the filter are left out (and counted)."""
    if filter not in DatasetSnapshot.Filter.values:
        raise ApiError(f"filter is one of {', '.join(DatasetSnapshot.Filter.values)}", details={"filter": ["unknown"]})
    fractions = checked_split(split)
    project = current_schema(project)
    compiled = compile_spec(project_spec(project))
    snapshot = DatasetSnapshot.objects.create(
        organization_id=project.organization_id, project=project, schema_version=project.schema_version,
        filter=filter, include_gold=include_gold, split=fractions, seed=int(seed), stratify=bool(stratify),
        counts={}, checksum="", created_by=actor if getattr(actor, "pk", None) else None,
    )
    splitter = Splitter(fractions, seed, stratify)
    digest = hashlib.sha256()
    counts = {"tasks": 0, "annotations": 0, "gold": 0, "unlabeled": 0, "splits": dict.fromkeys(fractions, 0)}
    tasks = Task.objects.filter(project=project).order_by("id")
    if not include_gold:
        tasks = tasks.filter(is_gold=False)
    rows = tasks.values_list("id", "meta", "is_gold", "gold_result", "consensus_result", "consensus_confidence",
                             "consensus_method", "agreement").iterator(chunk_size=CHUNK)
    batch = []
    for chunk in _chunks(rows, CHUNK):
        ids = [row[0] for row in chunk]
        by_task: dict[int, list[dict]] = defaultdict(list)
        for a in (Annotation.objects.filter(task_id__in=ids).order_by("task_id", "id")
                  .values("id", "task_id", "version", "status", "source")):
            by_task[a["task_id"]].append(a)
        strata = _chosen_results(by_task, filter) if stratify else {}
        for task_id, meta, is_gold, gold_result, consensus_result, confidence, method, agreement in chunk:
            chosen, included = _choose(filter, by_task.get(task_id, []))
            result = None
            if is_gold and gold_result is not None:
                chosen, result = None, gold_result
            elif filter == DatasetSnapshot.Filter.CONSENSUS:
                result = consensus_result
            if chosen is None and result is None:
                counts["unlabeled"] += 1
                continue
            stratum = None
            if stratify:
                labels = result if result is not None else strata.get((chosen["id"], chosen["version"]), [])
                stratum = _stratum(compiled, labels)
            part = splitter.assign(task_id, stratum)
            pinned = [[a["id"], a["version"]] for a in included]
            quality = {"confidence": confidence, "method": method, "agreement": agreement,
                       "consensus": consensus_result if filter != DatasetSnapshot.Filter.CONSENSUS else None}
            item = SnapshotItem(snapshot=snapshot, task_id=task_id, split=part,
                                annotation_id=chosen["id"] if chosen else None,
                                annotation_version=chosen["version"] if chosen else None,
                                result=result, meta=meta or None, annotations=pinned, quality=quality)
            batch.append(item)
            digest.update(orjson.dumps([task_id, part, item.annotation_id, item.annotation_version, result,
                                        meta or None, pinned, quality], option=orjson.OPT_SORT_KEYS) + b"\n")
            counts["tasks"] += 1
            counts["annotations"] += len(pinned)
            counts["gold"] += int(bool(is_gold))
            if part:
                counts["splits"][part] += 1
        if len(batch) >= CHUNK:
            SnapshotItem.objects.bulk_create(batch, batch_size=CHUNK)
            batch = []
    if batch:
        SnapshotItem.objects.bulk_create(batch, batch_size=CHUNK)
    snapshot.counts, snapshot.checksum = counts, digest.hexdigest()
    snapshot.save(update_fields=["counts", "checksum"])
    record(action="snapshot.create", organization=project.organization_id, actor=actor, object_type="snapshot",
           object_id=snapshot.pk, data={"project": project.pk, "filter": filter, "split": fractions, "seed": seed,
                                        "checksum": snapshot.checksum, "tasks": counts["tasks"]}, request=request)
    return snapshot


def _chosen_results(by_task: dict[int, list[dict]], filter_: str) -> dict[tuple[int, int], list]:
    """The results of a chunk's chosen annotation versions, in one query (only to stratify by them)."""
    pins = set()
    for annotations in by_task.values():
        chosen, _ = _choose(filter_, annotations)
        if chosen is not None:
            pins.add((chosen["id"], chosen["version"]))
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
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else ""


def snapshot_records(snapshot: DatasetSnapshot, *, progress=None) -> Iterator[Record]:
    """The snapshot's records in task order, a chunk of tasks at a time (three queries a chunk). Tasks deleted
    since the snapshot was made are skipped (counted in `missing` of the caller's `stats` dict, if given)."""
    total = max(1, snapshot.counts.get("tasks", 0))
    done = 0
    items = (SnapshotItem.objects.filter(snapshot=snapshot).order_by("task_id")
             .values_list("task_id", "split", "annotation_id", "annotation_version", "result", "meta",
                          "annotations", "quality").iterator(chunk_size=CHUNK))
    for chunk in _chunks(items, CHUNK):
        ids = [row[0] for row in chunk]
        tasks = {row[0]: row for row in Task.objects.filter(pk__in=ids).values_list(
            "id", "data", "external_id", "is_gold")}
        pins = {(a, v) for row in chunk for a, v in (row[6] or [])}
        versions = {}
        if pins:
            wanted = {a for a, _ in pins}
            for v in (AnnotationVersion.objects.filter(annotation_id__in=wanted)
                      .values("annotation_id", "version", "result", "annotation__author__email",
                              "annotation__source", "annotation__status", "annotation__lead_time_ms",
                              "annotation__created_at")):
                if (v["annotation_id"], v["version"]) in pins:
                    versions[(v["annotation_id"], v["version"])] = v
        predictions: dict[int, list] = defaultdict(list)
        for p in (Prediction.objects.filter(task_id__in=ids).order_by("task_id", "id")
                  .values("task_id", "result", "score", "model_version")):
            predictions[p["task_id"]].append({"result": p["result"], "score": p["score"],
                                              "model_version": p["model_version"]})
        for task_id, part, annotation_id, version, result, meta, pinned, quality in chunk:
            task = tasks.get(task_id)
            done += 1
            if task is None:
                continue
            _, data, external_id, is_gold = task
            quality = quality or {}
            made = []
            for a, v in pinned or []:
                row = versions.get((a, v))
                if row is None:
                    continue
                made.append(RecordAnnotation(
                    id=a, version=v, result=row["result"], author=row["annotation__author__email"],
                    source=row["annotation__source"], status=row["annotation__status"],
                    lead_time_ms=row["annotation__lead_time_ms"], created_at=_iso(row["annotation__created_at"])))
            chosen = next((m for m in made if m.id == annotation_id and m.version == version), None)
            labels = result if result is not None else (chosen.result if chosen else [])
            consensus = None  # what the task's consensus was when the snapshot was made
            frozen = result if snapshot.filter == DatasetSnapshot.Filter.CONSENSUS else quality.get("consensus")
            if frozen is not None:
                consensus = {"result": frozen, "confidence": quality.get("confidence"),
                             "method": quality.get("method")}
            yield Record(task_id=task_id, data=data, meta=meta or {}, split=part, result=labels or [],
                         chosen=chosen, annotations=tuple(made), consensus=consensus,
                         predictions=tuple(predictions.get(task_id, ())), external_id=external_id,
                         is_gold=is_gold, agreement=quality.get("agreement"))
        if progress:
            progress(done / total)

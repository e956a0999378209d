"""PostgreSQL makes an unstratified snapshot in one statement; the same snapshot made in Python (the stratified
path, and SQLite's) must hold exactly the same items, counts and checksum, and read back as the same records."""

import pytest
from django.db import connection

from apps.exports.models import DatasetSnapshot, SnapshotItem
from apps.exports.snapshots import (
    Splitter,
    _items_python,
    _records_generic,
    _unit,
    snapshot_create,
    snapshot_records,
)
from apps.projects.services import project_create
from apps.tasks.models import Annotation, AnnotationVersion, Prediction, Task

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text",
                                   "labels": [{"value": "pos"}, {"value": "neg"}, {"value": "meh"}]}}}


def choice(label):
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def mixed(tenant):
    """60 tasks: none, one or three annotations of every status and source, edited versions, gold tasks with
    and without answers, consensus results (one JSON null), meta, predictions."""
    manager, annotator = tenant.user("manager"), tenant.user("annotator")
    project = project_create(organization=tenant.org, actor=manager, name="Mixed", label_schema=SPEC)
    statuses = [Annotation.Status.ACCEPTED, Annotation.Status.SUBMITTED, Annotation.Status.REJECTED]
    sources = [Annotation.Source.HUMAN, Annotation.Source.MODEL, Annotation.Source.IMPORT, Annotation.Source.REVIEW]
    labels = ["pos", "neg", "meh"]
    for i in range(60):
        gold = i % 10 == 0
        task = Task.objects.create(
            organization=tenant.org, project=project, data={"text": f"review number {i}\twith a tab"},
            meta={"batch": i % 4, "note": "back\\slash"} if i % 2 else {}, content_hash=f"h{i}",
            is_gold=gold, gold_result=choice("pos") if gold and i % 20 == 0 else None,
            consensus_result=None if i % 7 == 0 or i % 11 == 0 else choice(labels[i % 3]),
            consensus_confidence=None if i % 5 == 0 else (i % 9) / 9, consensus_method="majority" if i % 3 else "",
            agreement=None if i % 4 == 0 else 1 / (i + 1))
        if i % 11 == 0:  # a JSON null, not SQL NULL
            with connection.cursor() as cursor:
                cursor.execute("UPDATE tasks_task SET consensus_result = 'null'::jsonb WHERE id = %s", [task.pk])
        for j in range(i % 4 if i % 4 != 2 else 3):
            annotation = Annotation.objects.create(
                organization=tenant.org, project=project, task=task, author=annotator if j % 2 == 0 else None,
                result=choice(labels[(i + j) % 3]), schema_version=1, status=statuses[(i + j) % 3],
                source=sources[(i * 3 + j) % 4], lead_time_ms=1000 + i)
            AnnotationVersion.objects.create(annotation=annotation, version=1, result=annotation.result,
                                             schema_version=1, author=annotation.author, source=annotation.source)
            if (i + j) % 5 == 0:
                AnnotationVersion.objects.create(annotation=annotation, version=2, result=choice("meh"),
                                                 schema_version=1, author=annotation.author, source="review")
                Annotation.objects.filter(pk=annotation.pk).update(version=2, result=choice("meh"))
        if i % 6 == 0:
            Prediction.objects.create(organization=tenant.org, project=project, task=task, result=choice("neg"),
                                      score=0.5, model_version="m1", schema_version=1)
    return project, manager


def items(snapshot):
    return list(SnapshotItem.objects.filter(snapshot=snapshot).order_by("task_id").values_list(
        "task_id", "split", "annotation_id", "annotation_version", "result", "meta", "annotations", "quality"))


@pytest.mark.parametrize("filter_", list(DatasetSnapshot.Filter.values))
@pytest.mark.parametrize("include_gold", [False, True])
def test_sql_and_python_snapshots_are_the_same(mixed, filter_, include_gold):
    project, manager = mixed
    made = {}
    for in_sql in (True, False):
        made[in_sql] = snapshot_create(project=project, actor=manager, filter=filter_, include_gold=include_gold,
                                       split={"train": 0.6, "val": 0.25, "test": 0.15}, seed=11, in_sql=in_sql)
    fast, slow = made[True], made[False]
    assert items(fast) == items(slow)
    assert fast.counts == slow.counts and fast.checksum == slow.checksum
    assert fast.counts["tasks"] == len(items(fast)) > 0
    assert fast.counts["tasks"] + fast.counts["unlabeled"] == (60 if include_gold else 54)
    assert sum(fast.counts["splits"].values()) == fast.counts["tasks"]
    # read back: PostgreSQL's one COPY and the ORM's chunked queries give the same records
    assert list(snapshot_records(fast)) == [record for chunk in _records_generic(fast) for record in chunk]


def test_the_checksum_changes_with_the_items(mixed):
    project, manager = mixed
    first = snapshot_create(project=project, actor=manager, split={"train": 0.5, "test": 0.5}, seed=1)
    again = snapshot_create(project=project, actor=manager, split={"train": 0.5, "test": 0.5}, seed=1)
    other = snapshot_create(project=project, actor=manager, split={"train": 0.5, "test": 0.5}, seed=2)
    assert first.checksum == again.checksum != other.checksum
    assert [row[1] for row in items(first)] == [row[1] for row in items(again)]


def test_the_split_hash_is_uniform_and_matches_the_splitter():
    units = [_unit(5, task_id) for task_id in range(20000)]
    assert all(0 <= u < 1 for u in units)
    assert abs(sum(units) / len(units) - 0.5) < 0.01
    splitter = Splitter({"train": 0.8, "val": 0.1, "test": 0.1}, 5, stratify=False)
    parts = [splitter.assign(task_id, None) for task_id in range(20000)]
    assert abs(parts.count("train") / 20000 - 0.8) < 0.01 and abs(parts.count("test") / 20000 - 0.1) < 0.01



@pytest.mark.parametrize("filter_", list(DatasetSnapshot.Filter.values))
def test_the_orm_path_of_sqlite_chooses_the_same_items(mixed, filter_):
    """Embedded mode (SQLite) reads tasks and writes items through the ORM: run those steps here and compare."""
    project, manager = mixed
    fast = snapshot_create(project=project, actor=manager, filter=filter_, include_gold=True,
                           split={"train": 0.7, "test": 0.3}, seed=3)
    orm = DatasetSnapshot.objects.create(organization=project.organization, project=project, schema_version=1,
                                         filter=filter_, include_gold=True, split={"train": 0.7, "test": 0.3},
                                         seed=3, counts={}, checksum="")
    counts, checksum = _items_python(orm, project, postgres=False)
    assert items(orm) == items(fast)
    assert {key: counts[key] for key in ("tasks", "annotations", "gold", "splits")} == {
        key: fast.counts[key] for key in ("tasks", "annotations", "gold", "splits")}
    assert counts["unlabeled"] == fast.counts["unlabeled"] and len(checksum) == 64

"""Outside a transaction the import writes batches on a writer thread while it parses the next ones."""

import io

import orjson

from apps.projects.services import project_create
from apps.tasks.imports import tasks_import
from apps.tasks.models import Task

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}


def test_pipelined_batches_keep_order_counts_and_ids(transactional_db, tenant):
    project = project_create(organization=tenant.org, actor=tenant.user("manager"), name="P", label_schema=SPEC)
    rows = [{"text": f"row {i}"} for i in range(12)] + [{"text": "row 3"}, {"nope": 1}]
    stream = io.BytesIO(b"\n".join(orjson.dumps(r) for r in rows))
    body = tasks_import(project=project, actor=tenant.user("manager"), stream=stream, fmt="jsonl",
                        return_ids=True, batch_size=5)
    assert (body["created"], body["duplicates"]) == (12, 1)
    assert body["errors"] == [{"row": 14, "message": body["errors"][0]["message"]}]
    texts = dict(Task.objects.filter(project=project).values_list("id", "data__text"))
    assert [texts[i] for i in body["task_ids"]] == [f"row {i}" for i in range(12)] + ["row 3"]


def test_copy_text_keeps_escapes_unicode_and_external_ids(transactional_db, tenant):
    """Rows go to COPY as pre-built text: backslashes, tabs, newlines and quotes come back as sent, the stored
    data hashes to the content_hash of the data, and external ids (whose unique index can conflict) dedupe."""
    from apps.tasks.import_formats import content_hash

    project = project_create(organization=tenant.org, actor=tenant.user("manager"), name="P", label_schema=SPEC)
    tricky = {"text": 'back\\slash \\n not a newline, tab\there,\nnewline, "quoted", café ☃ \U0001F600',
              "z": {"b": [1, 2.5, None, True], "a": "\\N"}}
    rows = [{"data": tricky, "meta": {"note": "a\\b\tc"}, "external_id": "ext\t1\\x"},
            {"data": {"text": "other"}, "external_id": "ext\t1\\x"},  # same external id: skipped
            {"data": {"text": "third"}}]
    stream = io.BytesIO(b"\n".join(orjson.dumps(r) for r in rows))
    body = tasks_import(project=project, actor=tenant.user("manager"), stream=stream, fmt="jsonl", return_ids=True,
                        batch_size=2)
    assert (body["created"], body["duplicates"], body["errors"]) == (2, 1, [])
    task = Task.objects.get(pk=body["task_ids"][0])
    assert (task.data, task.meta, task.external_id) == (tricky, {"note": "a\\b\tc"}, "ext\t1\\x")
    assert task.content_hash == content_hash(tricky)
    again = tasks_import(project=project, actor=tenant.user("manager"), stream=io.BytesIO(orjson.dumps(rows[2])),
                         fmt="jsonl")
    assert (again["created"], again["duplicates"]) == (0, 1)

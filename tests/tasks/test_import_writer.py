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

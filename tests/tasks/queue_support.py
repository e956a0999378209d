"""Helpers for queue tests: a project with tasks, extra annotators with their own API clients."""

from apps.orgs.roles import Role
from apps.orgs.services import token_create
from apps.tasks.models import Task
from tests.conftest import token_client
from tests.factories import MembershipFactory

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}
ANSWER = [{"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]


def make_project(client, *, tasks: int = 5, settings: dict | None = None) -> dict:
    body = {"name": "Queue", "label_schema": SPEC, "settings": settings or {}}
    response = client.post("/api/v1/projects", body, format="json")
    assert response.status_code == 201, response.content
    project = response.json()
    if tasks:
        rows = b"\n".join(b'{"text": "task %d"}' % i for i in range(tasks))
        imported = client.generic("POST", f"/api/v1/projects/{project['id']}/import", rows,
                                  content_type="application/x-ndjson")
        assert imported.status_code == 201 and imported.json()["created"] == tasks
    return project


def task_ids(project) -> list[int]:
    return list(Task.objects.filter(project_id=project["id"]).order_by("id").values_list("id", flat=True))


def annotators(tenant, n: int, *, role=Role.ANNOTATOR):
    """n more members of `tenant` with `role`: [(membership, client)]."""
    made = []
    for i in range(n):
        membership = MembershipFactory(organization=tenant.org, role=role, user__email=f"crowd{i}-{role}@acme.test")
        _, secret = token_create(organization=tenant.org, actor=membership.user, actor_role=role, name="t", role=role)
        made.append((membership, token_client(secret)))
    return made


def next_task(client, project):
    return client.post(f"/api/v1/projects/{project['id']}/next")


def submit(client, lease, result=None, **extra):
    return client.post(f"/api/v1/assignments/{lease['assignment']['id']}/submit",
                       {"result": ANSWER if result is None else result, "lead_time_ms": 1200}, format="json",
                       **extra)


def work(client, project, *, limit: int = 10_000) -> list[int]:
    """next+submit until 204; the task ids this client annotated."""
    done = []
    for _ in range(limit):
        response = next_task(client, project)
        if response.status_code == 204:
            return done
        assert response.status_code == 200, response.content
        lease = response.json()
        assert submit(client, lease).status_code == 201
        done.append(lease["task"]["id"])
    raise AssertionError("the queue did not run dry")

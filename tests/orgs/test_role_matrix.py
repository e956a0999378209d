"""The role table of API.md as data: every row generates one case per role."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.jobs.models import Job
from apps.projects.services import project_create
from apps.tasks.models import Assignment, Task

from ..conftest import ROLES, make_tenant, token_client

OW, M, R, A, V = "owner", "manager", "reviewer", "annotator", "viewer"


SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"label": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}


def everyone(status):
    return dict.fromkeys(ROLES, status)


def only(allowed: dict, otherwise: int):
    return {role: allowed.get(str(role), otherwise) for role in ROLES}


def job_of_annotator(t):
    with transaction.atomic():
        return Job.objects.create(organization=t.org, created_by=t.user(A), kind="test", time_limit=60).pk


# (method, path template, body (dict or callable(role)), expected status per role)
MATRIX = [
    ("get", "/api/v1/me", None, everyone(200)),
    ("get", "/api/v1/orgs", None, everyone(200)),
    ("get", "/api/v1/orgs/{slug}", None, everyone(200)),
    ("patch", "/api/v1/orgs/{slug}", {"name": "Renamed"}, only({OW: 200}, 403)),
    ("delete", "/api/v1/orgs/{slug}", None, only({OW: 200}, 403)),
    ("post", "/api/v1/orgs", {"slug": "fresh"}, everyone(403)),  # tokens never create organizations
    ("get", "/api/v1/members", None, everyone(200)),
    ("post", "/api/v1/members", {"email": "new@example.test", "role": "annotator"}, only({OW: 201, M: 201}, 403)),
    ("get", "/api/v1/members/{annotator_member}", None, only({OW: 200, M: 200, A: 200}, 404)),
    ("patch", "/api/v1/members/{annotator_member}", {"role": "reviewer"}, only({OW: 200, M: 200, A: 403}, 404)),
    ("delete", "/api/v1/members/{viewer_member}", None, only({OW: 200, M: 200, V: 403}, 404)),
    ("get", "/api/v1/tokens", None, everyone(200)),
    ("post", "/api/v1/tokens", lambda role: {"name": "script", "role": role}, everyone(201)),
    ("delete", "/api/v1/tokens/{annotator_token}", None, only({OW: 204, M: 204, A: 204}, 404)),
    ("get", "/api/v1/jobs", None, everyone(200)),
    ("get", "/api/v1/jobs/{annotator_job}", None, only({OW: 200, M: 200, A: 200}, 404)),
    ("get", "/api/v1/projects", None, everyone(200)),
    ("post", "/api/v1/projects", {"name": "P", "label_schema": SPEC}, only({OW: 201, M: 201}, 403)),
    ("get", "/api/v1/projects/{project}", None, everyone(200)),
    ("patch", "/api/v1/projects/{project}", {"name": "Q"}, only({OW: 200, M: 200}, 403)),
    ("delete", "/api/v1/projects/{project}", None, only({OW: 204, M: 204}, 403)),
    ("get", "/api/v1/projects/{project}/schema", None, everyone(200)),
    ("post", "/api/v1/projects/{project}/schema", {"label_schema": SPEC}, only({OW: 201, M: 201}, 403)),
    ("get", "/api/v1/audit", None, only({OW: 200, M: 200}, 403)),
    ("post", "/api/v1/audit/verify", None, only({OW: 200, M: 200}, 403)),
    # the queue (issue #4): a project without tasks answers 204
    ("post", "/api/v1/projects/{project}/next", None, only({V: 403}, 204)),
    ("get", "/api/v1/projects/{project}/progress", None, only({A: 403}, 200)),
    ("post", "/api/v1/projects/{project}/reviews/next", None, only({A: 403, V: 403}, 204)),
    ("post", "/api/v1/tasks/{task}/assign", lambda role: {"annotator": "annotator_member"},
     only({OW: 201, M: 201}, 403)),  # the annotator sees the task: they hold its lease
    ("post", "/api/v1/assignments/{annotator_assignment}/heartbeat", None, only({A: 200, V: 403}, 404)),
    ("put", "/api/v1/assignments/{annotator_assignment}/draft", {"draft": []}, only({A: 200, V: 403}, 404)),
    ("post", "/api/v1/assignments/{annotator_assignment}/report", {"reason": "x"}, only({A: 201, V: 403}, 404)),
    ("post", "/api/v1/assignments/{annotator_assignment}/release", None, only({A: 200, V: 403}, 404)),
    ("post", "/api/v1/assignments/{annotator_assignment}/revoke", None, only({OW: 200, M: 200}, 403)),
    # quality control (issue #5)
    ("get", "/api/v1/projects/{project}/gold", None, only({OW: 200, M: 200}, 403)),
    ("post", "/api/v1/projects/{project}/consensus", {"method": "majority"}, only({OW: 202, M: 202}, 403)),
    ("get", "/api/v1/projects/{project}/quality", None, only({OW: 200, M: 200, V: 200}, 403)),
    ("get", "/api/v1/projects/{project}/quality-rules", None, only({OW: 200, M: 200, V: 200}, 403)),
    ("post", "/api/v1/projects/{project}/quality-rules",
     {"collector": "gold_accuracy", "op": "<", "threshold": 0.5, "action": "warn"}, only({OW: 201, M: 201}, 403)),
    ("get", "/api/v1/projects/{project}/rule-firings", None, only({OW: 200, M: 200, V: 200}, 403)),
    ("get", "/api/v1/projects/{project}/flags", None, only({OW: 200, M: 200, V: 200}, 403)),
    ("get", "/api/v1/projects/{project}/suspensions", None, only({OW: 200, M: 200}, 403)),
    ("post", "/api/v1/projects/{project}/suspensions",
     lambda role: {"annotator": "annotator_member", "reason": "test", "kind": "ban"}, only({OW: 201, M: 201}, 403)),
]


def _cases():
    for method, path, body, expected in MATRIX:
        for role in ROLES:
            yield pytest.param(method, path, body, str(role), expected[role], id=f"{method} {path} as {role}")


@pytest.mark.parametrize("method,path,body,role,status", list(_cases()))
def test_role_matrix(db, method, path, body, role, status):
    t = make_tenant("acme")
    from apps.orgs.models import ApiToken

    ids = {
        "slug": t.org.slug,
        "annotator_member": t.member(A).pk,
        "viewer_member": t.member(V).pk,
        "annotator_token": ApiToken.objects.get(user=t.user(A)).pk,
        "annotator_job": job_of_annotator(t) if "{annotator_job}" in path else 0,
        "project": project_create(organization=t.org, actor=t.user(M), name="P", label_schema=SPEC).pk
        if "{project}" in path else 0,
    }
    if "{task}" in path or "{annotator_assignment}" in path:
        ids["project"] = project_create(organization=t.org, actor=t.user(M), name="Q", label_schema=SPEC).pk
        task = Task.objects.create(organization=t.org, project_id=ids["project"], data={"text": "t"},
                                   content_hash="1" * 32, in_flight=1, status="in_progress")
        ids["task"] = task.pk
        ids["annotator_assignment"] = Assignment.objects.create(
            organization=t.org, project_id=ids["project"], task=task, annotator=t.user(A), status="active",
            leased_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1)).pk
        Task.objects.filter(pk=task.pk).update(target_annotations=2)
    url = path.format(**ids)
    payload = body(role) if callable(body) else body
    if isinstance(payload, dict):
        payload = {k: ids[v] if isinstance(v, str) and v in ids else v for k, v in payload.items()}
    client = token_client(t.secrets[role])
    response = getattr(client, method)(url, payload, format="json")
    assert response.status_code == status, response.content
    if status >= 400:
        assert response.json()["error"]["code"] in {"permission_denied", "not_found"}


def test_non_managers_list_only_themselves(tenant, as_role):
    for role in (R, A, V):
        results = as_role(role).get("/api/v1/members").json()["results"]
        assert [m["id"] for m in results] == [tenant.member(role).pk]
    managers_view = as_role(M).get("/api/v1/members?page_size=100").json()["results"]
    assert {m["id"] for m in managers_view} == {m.pk for m in tenant.members.values()}


def test_non_managers_list_only_their_own_tokens(tenant, as_role):
    for role in (R, A, V):
        results = as_role(role).get("/api/v1/tokens").json()["results"]
        assert {t["user"] for t in results} == {tenant.user(role).email}
    assert len(as_role(M).get("/api/v1/tokens").json()["results"]) == len(ROLES)

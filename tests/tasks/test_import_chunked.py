"""A chunked upload (no Content-Length) through a real server is measured against the size limit."""

import http.client
import json

from apps.projects.services import project_create
from apps.tasks.models import Task

from ..live.test_websocket import server  # noqa: F401 - the uvicorn-in-a-thread fixture

SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}


def chunked_post(server, path, secret, chunks):  # noqa: F811 - `server` is the address here
    host, port = server.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", path, body=iter(chunks), encode_chunked=True,
                       headers={"Authorization": f"Token {secret}", "Content-Type": "application/x-ndjson"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


def test_chunked_uploads_import_and_respect_the_limit(server, tenant, settings):  # noqa: F811
    project = project_create(organization=tenant.org, actor=tenant.user("manager"), name="P", label_schema=SPEC)
    path = f"/api/v1/projects/{project.pk}/import"
    status, body = chunked_post(server, path, tenant.secrets["manager"], [b'{"text": "one"}\n', b'{"text": "two"}'])
    assert status == 201 and body["created"] == 2, body
    settings.IMPORT_MAX_BYTES = 40
    status, body = chunked_post(server, path, tenant.secrets["manager"],
                                [b'{"text": "three"}\n', b'{"text": "four"}\n', b'{"text": "five"}'])
    assert status == 413 and body["error"]["code"] == "too_large"
    assert Task.objects.filter(project=project).count() == 2

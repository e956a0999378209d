"""The production HTTP server for real: granian serving config.wsgi in a process of its own, on the test database."""

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.projects.services import project_create
from apps.tasks.models import Task

from ..live.test_websocket import free_port

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"s": {"type": "choices", "to": "text", "labels": [{"value": "a"}, {"value": "b"}]}}}
pytestmark = pytest.mark.slow


@pytest.fixture
def granian(transactional_db, tmp_path):
    db = settings.DATABASES["default"]
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               FORWARDED_ALLOW_IPS="127.0.0.1", QUORUM_VAR_DIR=str(tmp_path), DEBUG="0")
    log = open(tmp_path / "granian.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "wsgi", "--port", str(port),
                               "--blocking-threads", "2", "config.wsgi:application"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # 503 without a Celery worker: it is serving
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "granian.log").read_text()
            time.sleep(0.2)
    try:
        yield port
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def post(port, path, secret, body, headers=(), chunked=False):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, body=iter(body) if chunked else body, encode_chunked=chunked,
                       headers={"Authorization": f"Token {secret}", **dict(headers)})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_a_chunked_upload_is_imported_and_measured_against_the_limit(granian, tenant):
    project = project_create(organization=tenant.org, actor=tenant.user("manager"), name="P", label_schema=SPEC)
    path = f"/api/v1/projects/{project.pk}/import"
    status, body = post(granian, path, tenant.secrets["manager"], [b'{"text": "one"}\n', b'{"text": "two"}'],
                        {"Content-Type": "application/x-ndjson"}, chunked=True)
    assert status == 201 and body["created"] == 2, body
    assert Task.objects.filter(project=project).count() == 2


def test_behind_a_trusted_proxy_the_audit_log_records_the_clients_address(granian, tenant):
    status, body = post(granian, "/api/v1/projects", tenant.secrets["manager"],
                        json.dumps({"name": "Behind the proxy", "label_schema": SPEC}).encode(),
                        {"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9"})
    assert status == 201, body
    event = AuditEvent.objects.get(action="project.create", object_id=str(body["id"]))
    assert event.ip == "203.0.113.9"

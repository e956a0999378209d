"""Benchmark of bulk import on PostgreSQL (issue #3).

    make bench-import        # or: DATABASE_URL=postgres://…/quorum_bench python bench/import_bench.py

1. 100,000 text tasks (~20 words) as JSONL through the API of a real server (granian serving config.wsgi as
   docker-compose's web service does, one process, DEBUG off): in 20 requests of 5,000 and as one file; tasks/s
   end to end and the server's peak RSS.
2. 1,000,000 tasks through `manage.py import_tasks`; tasks/s and the command's peak RSS.
"""

import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench")
os.environ["DEBUG"] = "0"

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from bench_org import bench_organization  # noqa: E402
from django.db import connection  # noqa: E402

from apps.orgs.services import token_create  # noqa: E402

WORDS = ("the film story actor scene director plot music camera light dark long short funny sad brilliant dull "
         "slow fast moving charming awkward quiet loud bold gentle cast screen score frame cut edit").split()
SPEC = {"data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "labels": [{"value": "pos"}, {"value": "neg"}]}}}


def lines(n, seed):
    rng = random.Random(seed)
    for i in range(n):
        yield orjson.dumps({"text": f"{i} " + " ".join(rng.choice(WORDS) for _ in range(20))}) + b"\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request(url, secret, body=None, content_type="application/json", method="POST"):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Token {secret}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=600) as response:
        return orjson.loads(response.read())


def main():
    org, owner = bench_organization()
    _, secret = token_create(organization=org, actor=owner, actor_role="owner", name="bench-import", role="manager")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {connection.pg_version // 10000}")
    connection.close()

    port = free_port()
    env = dict(os.environ, DEBUG="0", EMBEDDED_WORKER="0")
    server = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "wsgi", "--port", str(port),
                               "--blocking-threads", "8", "--log-level", "warning", "config.wsgi:application"],
                              cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except urllib.error.HTTPError:
                break  # 503 (no worker in this run) still means it is serving
            except OSError:
                time.sleep(0.2)
                continue
            break
        for label, batch in (("batches of 5,000", 5000), ("one file", 100_000)):
            project = request(f"{base}/projects", secret, orjson.dumps({"name": f"bench {label} {time.time()}",
                                                                         "label_schema": SPEC}))
            payload = list(lines(100_000, seed=batch))
            started, created = time.perf_counter(), 0
            for i in range(0, len(payload), batch):
                body = b"".join(payload[i:i + batch])
                created += request(f"{base}/projects/{project['id']}/import", secret, body,
                                   "application/x-ndjson")["created"]
            elapsed = time.perf_counter() - started
            print(f"API, 100,000 tasks in {label}: {elapsed:.1f} s, {created / elapsed:,.0f} tasks/s "
                  f"(created {created}); server peak RSS so far {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(30)

    project = request_command_project(org, owner)
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
        for line in lines(1_000_000, seed=7):
            handle.write(line)
        path = handle.name
    size_mb = os.path.getsize(path) / 1e6
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "manage.py", "import_tasks", str(project.pk), path], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    created = orjson.loads(result.stdout.strip().splitlines()[-1])["created"]
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"import_tasks, 1,000,000 tasks ({size_mb:.0f} MB JSONL): {elapsed:.1f} s, {created / elapsed:,.0f} "
          f"tasks/s (created {created}); peak RSS of the largest child so far {rss:.0f} MB")
    os.unlink(path)


def request_command_project(org, owner):
    from apps.projects.services import project_create

    return project_create(organization=org, actor=owner, name=f"bench command {time.time()}", label_schema=SPEC)


if __name__ == "__main__":
    main()

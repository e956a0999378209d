"""Benchmark of the audit log and the token-authenticated request path, on PostgreSQL.

    make bench            # or: DATABASE_URL=postgres://…/quorum_bench python bench/audit_bench.py

Measures: record() throughput with 1, 2 and 4 concurrent writers (each event its own transaction,
as a submit would write it), sealing and verification speed, and GET /api/v1/me latency with an
API token through the full middleware/DRF stack (in-process client, no network).
"""

import datetime as dt
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench")

import django  # noqa: E402

django.setup()

from bench_org import bench_organization  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.audit.models import AuditEvent  # noqa: E402
from apps.audit.services import audit_seal, record  # noqa: E402
from apps.audit.verification import audit_verify  # noqa: E402
from apps.orgs.services import token_create  # noqa: E402

EVENTS_PER_WRITER = int(os.environ.get("BENCH_EVENTS", "2000"))


def writers(org, owner, n_threads):
    def work():
        for i in range(EVENTS_PER_WRITER):
            with transaction.atomic():
                record(action="bench.submit", organization=org, actor=owner, object_type="annotation",
                       object_id=i, after={"i": i})
        connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return n_threads * EVENTS_PER_WRITER / elapsed


def main():
    org, owner = bench_organization()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {connection.pg_version // 10000}, {timezone.now():%Y-%m-%d}")
    print(f"events already in the bench database: {AuditEvent.objects.count()}")
    for n in (1, 2, 4):
        rate = writers(org, owner, n)
        print(f"record(): {n} writer(s) x {EVENTS_PER_WRITER} events, one transaction each: {rate:,.0f} events/s")

    future = timezone.now() + dt.timedelta(minutes=5)
    start = time.perf_counter()
    sealed = total = 0
    while True:
        sealed = audit_seal(now=future)
        total += sealed
        if not sealed:
            break
    seal_s = time.perf_counter() - start
    print(f"audit_seal(): {total:,} events in {seal_s:.2f} s ({total / seal_s if seal_s else 0:,.0f} events/s)")

    start = time.perf_counter()
    result = audit_verify(organization_id=org.pk)
    verify_s = time.perf_counter() - start
    print(f"audit_verify(): {result['checked']:,} events in {verify_s:.2f} s "
          f"({result['checked'] / verify_s:,.0f} events/s), ok={result['ok']}")

    _, secret = token_create(organization=org, actor=owner, actor_role="owner", name="bench", role="manager")
    client = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    for _ in range(50):
        client.get("/api/v1/me")
    samples = []
    for _ in range(1000):
        t0 = time.perf_counter()
        response = client.get("/api/v1/me")
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content
    samples.sort()
    print(f"GET /api/v1/me with a token, 1000 requests in-process: p50 {statistics.median(samples):.2f} ms, "
          f"p95 {samples[949]:.2f} ms, p99 {samples[989]:.2f} ms")


if __name__ == "__main__":
    main()

"""Benchmark of the queue over HTTP on PostgreSQL (issue #4).

    make bench-queue         # or: DATABASE_URL=postgres://…/quorum_bench python bench/queue_bench.py [--quick]

The production HTTP server (granian serving `config.wsgi`, DJANGO_ENV=production, `--workers N` for each N of
--workers, 8 threads each) with a Celery worker and beat beside it, as docker-compose runs them (`--server
uvicorn`: `config.asgi` under uvicorn instead, the WebSocket server and `make run`'s); the load comes from
two client processes of threads, one keep-alive connection and one API token per simulated person.

(a) 20,000 annotations attached by 8 pipeline clients (POST /tasks/{id}/annotations, one manager
    token each) to random untouched tasks of a 1,000,000-task project: annotations/s, p50/p95/p99.
(b) 16 and 64 annotators doing next+submit for 60 s, overlap 1 and 3, on a fresh 20,000-task project
    and on a 1,000,000-task one: next and submit p50/p95/p99, cycles/s, 5xx and other non-2xx; then
    the database is checked for duplicates (a (task, author) pair twice, a task over its target),
    counters that disagree with the rows, leases left active, and annotations the clients did not
    see created.
(c) next and submit in-process (Django's test client, same middleware and views): time per request,
    time per SQL statement, and cProfile's hot spots.

Each scenario also prints where the machine's CPU went (server, Celery, clients, the rest: PostgreSQL,
Redis and whatever else runs), Redis connections and commands and PostgreSQL commits per request, and,
with py-spy available (--py-spy PATH; it is not a dependency), what the live server's workers do,
sampled during a short extra run of (a) and of (b) after the measured ones (py-spy takes CPU too).

The 1,000,000-task projects (one per overlap) are made once, by `manage.py import_tasks`, and reused by
later runs (each run uses a few % of them); the 20,000-task ones are made fresh for every scenario.
--quick: 100,000 and 2,000 tasks, 1,000 attached annotations, 8 s per scenario, one worker count.
"""

import argparse
import cProfile
import http.client
import io
import multiprocessing
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["DEBUG"] = "0"

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from bench_org import bench_organization  # noqa: E402
from django.db import connection, connections  # noqa: E402
from import_bench import SPEC, lines  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.services import user_create  # noqa: E402
from apps.orgs.models import Membership  # noqa: E402
from apps.orgs.services import member_add, token_create  # noqa: E402
from apps.projects.models import Project  # noqa: E402
from apps.projects.services import project_create  # noqa: E402
from apps.tasks.imports import tasks_import  # noqa: E402
from apps.tasks.models import Task  # noqa: E402

ANSWER = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
SUBMIT_BODY = orjson.dumps({"result": ANSWER, "lead_time_ms": 1500})
CLIENT_PROCESSES = 2
PIPELINES = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- machine ------------------------------------------------------------------------------------

def cpu_busy_ticks():
    """(busy, total) jiffies of the whole machine so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def descendants(pid):
    """pid and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def proc_status(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLK_TCK


def memory(pid):
    """(sum of VmRSS, sum of VmHWM) in MB over pid and its descendants, and how many processes."""
    pids = descendants(pid)
    return sum(proc_status(p, "VmRSS") for p in pids), sum(proc_status(p, "VmHWM") for p in pids), len(pids)


def load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the server -----------------------------------------------------------------------------------

SERVERS = {
    "granian": ["-m", "granian", "--interface", "wsgi", "--blocking-threads", "8", "config.wsgi:application"],
    "uvicorn": ["-m", "uvicorn", "config.asgi:application", "--proxy-headers", "--ws", "websockets-sansio"],
}


class Stack:
    """The HTTP server (production settings) plus a Celery worker and beat on a broker database of their own."""

    def __init__(self, workers, throttle_rate, tmp, server="granian"):
        self.workers, self.port, self.tmp = workers, free_port(), tmp
        static = Path(tmp) / "static"
        static.mkdir(exist_ok=True)
        self.env = dict(
            os.environ,
            DJANGO_ENV="production", DEBUG="0", EMBEDDED_WORKER="0",
            SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="127.0.0.1,localhost",
            # Behind a TLS proxy, as deployed: the redirect is on and the clients send X-Forwarded-Proto.
            SECURE_SSL_REDIRECT="1", STATIC_ROOT=str(static), QUORUM_VAR_DIR=str(Path(tmp) / "var"),
            LOG_LEVEL="WARNING",
        )
        if throttle_rate:
            self.env["API_THROTTLE_RATE"] = throttle_rate
        self.log = open(Path(tmp) / f"server-{workers}.log", "w")  # noqa: SIM115 - closed in stop()
        self.server = subprocess.Popen(
            [sys.executable, *SERVERS[server], "--host", "127.0.0.1", "--port", str(self.port), "--workers",
             str(workers)], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.celery = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel",
                                         "WARNING"], cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
                       for args in (["worker", "--concurrency", "2"],
                                    ["beat", "--schedule", str(Path(tmp) / "celerybeat-schedule")])]
        self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.server.poll() is not None:
                self.log.flush()
                raise SystemExit(f"the server exited ({self.server.returncode}):\n"
                                 + Path(self.log.name).read_text(errors="replace")[-3000:])
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz",
                                                 headers={"X-Forwarded-Proto": "https"})
                urllib.request.urlopen(request, timeout=2)
            except urllib.error.HTTPError:
                pass  # 503 until the worker's first heartbeat still means it is serving
            except OSError:
                time.sleep(0.3)
                continue
            if len(descendants(self.server.pid)) > self.workers:
                return
            time.sleep(0.3)
        raise SystemExit("the server did not come up in 60 s")

    def pids(self):
        return descendants(self.server.pid)

    def workers_pids(self):
        return [pid for pid in self.pids() if pid != self.server.pid]

    def celery_pids(self):
        return [p for process in self.celery for p in descendants(process.pid)]

    def stop(self):
        for process in (self.server, *self.celery):
            process.send_signal(signal.SIGTERM)
        for process in (self.server, *self.celery):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()

    def log_problems(self):
        text = Path(self.log.name).read_text(errors="replace")
        # /healthz answers 503 (logged) until the Celery worker's first heartbeat: not a problem of the run.
        errors = [line for line in text.splitlines() if " ERROR " in line and "/healthz" not in line]
        # The last line of each traceback names the exception.
        errors += [block.strip().splitlines()[-1] for block in re.split(r"^Traceback", text, flags=re.M)[1:]]
        return text.count("Traceback"), errors[:8]


# --- the load generator (client processes; no Django in here) ------------------------------------

class Connection:
    """One keep-alive HTTP/1.1 connection with one token, as one annotator's browser or one pipeline."""

    def __init__(self, port, secret):
        self.port = port
        self.headers = {"Authorization": f"Token {secret}", "Content-Type": "application/json",
                        "X-Forwarded-Proto": "https"}
        self.conn = None

    def post(self, path, body=b""):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            self.conn.request("POST", path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return 0, b""
        if response.will_close:
            self.conn.close()
            self.conn = None
        return response.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Tally:
    def __init__(self):
        self.latency = defaultdict(list)  # kind → seconds
        self.codes = Counter()  # (kind, status) → n
        self.samples = {}  # (kind, status) → first body seen
        self.cycles = 0
        self.end = 0.0

    def add(self, kind, status, seconds, body):
        if status != 429:  # a throttled request did no work: counted, not timed
            self.latency[kind].append(seconds)
        self.codes[(kind, status)] += 1
        if not 200 <= status < 300 and (kind, status) not in self.samples:
            self.samples[(kind, status)] = body[:300].decode(errors="replace")

    def merge(self, other):
        for kind, values in other.latency.items():
            self.latency[kind] += values
        self.codes.update(other.codes)
        for key, body in other.samples.items():
            self.samples.setdefault(key, body)
        self.cycles += other.cycles
        self.end = max(self.end, other.end)


def annotator(port, job, start_at, deadline, tally):
    """next + submit until the deadline; every next that leases is followed by its submit."""
    http_ = Connection(port, job["secret"])
    next_path = f"/api/v1/projects/{job['project']}/next"
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < deadline:
        started = time.perf_counter()
        status, body = http_.post(next_path)
        tally.add("next", status, time.perf_counter() - started, body)
        if status != 200:
            time.sleep(0.05)  # 204 (nothing left), 429, an error: do not spin
            continue
        assignment = orjson.loads(body)["assignment"]["id"]
        status = send(http_, tally, "submit", f"/api/v1/assignments/{assignment}/submit", SUBMIT_BODY)
        if status == 201:
            tally.cycles += 1
    tally.end = time.time()
    http_.close()


def send(http_, tally, kind, path, body):
    """POST, counting every answer; a 429 (the per-token throttle) is retried after its retry_after, as a
    well-behaved client does, so the work still gets done."""
    while True:
        started = time.perf_counter()
        status, answer = http_.post(path, body)
        tally.add(kind, status, time.perf_counter() - started, answer)
        if status != 429:
            return status
        try:
            wait = float(orjson.loads(answer)["error"]["details"]["retry_after"])
        except (ValueError, KeyError, TypeError):
            wait = 1.0
        time.sleep(min(max(wait, 0.1), 60.0))


def pipeline(port, job, start_at, deadline, tally):
    """Attach one annotation to each of its tasks, one request after the other."""
    http_ = Connection(port, job["secret"])
    time.sleep(max(0.0, start_at - time.time()))
    for task_id in job["tasks"]:
        if send(http_, tally, "attach", f"/api/v1/tasks/{task_id}/annotations", SUBMIT_BODY) == 201:
            tally.cycles += 1
    tally.end = time.time()
    http_.close()


def client_process(port, jobs, start_at, deadline, results):
    tallies = [Tally() for _ in jobs]
    threads = [threading.Thread(target=annotator if job["kind"] == "annotator" else pipeline,
                                args=(port, job, start_at, deadline, tally))
               for job, tally in zip(jobs, tallies, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    usage = os.times()
    results.put((dict(total.latency), total.codes, total.samples, total.cycles, total.end,
                 usage.user + usage.system))


def drive(stack, jobs, duration):
    """Run jobs over CLIENT_PROCESSES processes; (tally, elapsed seconds, CPU seconds by whom, busy share)."""
    connections.close_all()  # forked children must not share the parent's database sockets
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.5
    deadline = start_at + duration if duration else float("inf")
    shares = [jobs[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    processes = [ctx.Process(target=client_process, args=(stack.port, share, start_at, deadline, results))
                 for share in shares if share]
    for process in processes:
        process.start()
    time.sleep(max(0.0, start_at - time.time()))
    busy0, total0 = cpu_busy_ticks()
    server0, celery0 = cpu_seconds(stack.pids()), cpu_seconds(stack.celery_pids())
    tally, client_cpu = Tally(), 0.0
    for _ in processes:
        latency, codes, samples, cycles, end, cpu = results.get()
        part = Tally()
        part.latency.update(latency)
        part.codes, part.samples, part.cycles, part.end = codes, samples, cycles, end
        tally.merge(part)
        client_cpu += cpu
    busy1, total1 = cpu_busy_ticks()
    server1, celery1 = cpu_seconds(stack.pids()), cpu_seconds(stack.celery_pids())
    for process in processes:
        process.join()
    elapsed = tally.end - start_at
    machine = (busy1 - busy0) / CLK_TCK
    cpu = {"server": server1 - server0, "celery": celery1 - celery0, "clients": client_cpu}
    cpu["rest"] = max(0.0, machine - sum(cpu.values()))
    return tally, elapsed, cpu, (busy1 - busy0) / max(1, total1 - total0)


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))] * 1000


def latency_line(tally, kind):
    values = tally.latency.get(kind, [])
    return (f"{kind} p50 {pct(values, .50):.1f} ms, p95 {pct(values, .95):.1f} ms, p99 {pct(values, .99):.1f} ms, "
            f"max {max(values, default=float('nan')) * 1000:.0f} ms ({len(values):,} requests)")


def status_line(tally):
    server_errors = sum(n for (_, status), n in tally.codes.items() if status >= 500)
    failed = sum(n for (_, status), n in tally.codes.items() if status == 0)
    other = {f"{kind} {status}": n for (kind, status), n in sorted(tally.codes.items())
             if status and not 200 <= status < 300 and status < 500}
    other_text = ", ".join(f"{k}: {v}" for k, v in other.items()) or "none"
    return f"5xx {server_errors}, connection failures {failed}, other non-2xx: {other_text}"


def cpu_line(cpu, busy, elapsed):
    parts = ", ".join(f"{who} {seconds / elapsed:.2f}" for who, seconds in cpu.items())
    return (f"CPU (cores busy on average): {parts} (postgres, redis, other users' work in 'rest'); "
            f"machine {busy:.0%} busy")


# --- sampling the live server (optional: py-spy is not a dependency) ------------------------------

# (label, regex over one frame "function (path:line)"); a sample counts once per group it falls in.
SPY_GROUPS = [
    ("request threads: middleware and view", r"^WSGIHandler\.__call__ \(django/core/handlers/wsgi\.py"),
    ("  token authentication", r"\.perform_authentication \(rest_framework"),
    ("  tenancy + role", r"\.check_permissions \(rest_framework"),
    ("  throttle", r"\.check_throttles \(rest_framework"),
    ("  access_project / access_assignment / access_task", r"^access_(project|assignment|task) \(apps/"),
    ("  next_task", r"^next_task \(apps/tasks/queue\.py"),
    ("  lease_body", r"^lease_body \(apps/tasks"),
    ("  assignment_submit", r"^assignment_submit \(apps/tasks"),
    ("  annotation_attach", r"^annotation_attach \(apps/tasks"),
    ("  audit record()", r"^record \(apps/audit"),
    ("  on-commit callbacks", r"\.run_and_clear_commit_hooks \("),
    ("  response serializers (.data)", r"\.data \(rest_framework/serializers\.py"),
    ("  SQL: psycopg execute (incl. waiting for PostgreSQL)", r"\._execute \(django/db/backends/utils\.py"),
    ("  SQL: ORM query compilation (as_sql)", r"\.as_sql \(django/db/models/sql/compiler\.py"),
    ("  Redis: commands", r"\.execute_command \(redis/client\.py"),
    ("  Redis: opening connections", r"Connection\.connect \(redis/connection\.py"),
    ("event loop (uvicorn only: httptools, a2wsgi's hand-offs)", r"^Runner\.run \(asyncio/runners\.py"),
    ("live-sender thread (progress, channel layer sends)", r"^_Sender\._run \(apps/live"),
    ("psycopg pool threads", r"psycopg_pool/"),
]


def spy_start(spy, pids, seconds, tmp):
    """py-spy record on each server worker, `seconds` long; returns [(process, output file)]."""
    runs = []
    for pid in pids:
        out = Path(tmp) / f"spy-{pid}-{time.time():.0f}.txt"
        runs.append((subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate",
                                       "200", "--format", "raw", "--nonblocking", "--output", str(out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return runs


def frame_name(frame):
    """"function (/abs/path/site-packages/pkg/mod.py:12)" → "function (pkg/mod.py:12)"."""
    return re.sub(r"\((/[^)]*?)(?:site-packages/|lib/python3\.\d+/|" + re.escape(str(ROOT)) + "/)", "(", frame)


def spy_report(runs):
    """Share of the samples (active threads, all workers) in each group, and the top leaf functions."""
    stacks = Counter()
    for process, out in runs:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        if not out.exists():
            continue
        for line in out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(frame_name(f) for f in stack.split(";"))] += int(count)
    total = sum(stacks.values())
    if not total:
        print("  py-spy: no samples (is ptrace allowed?)")
        return
    print(f"  py-spy on the live server workers ({total:,} samples of active threads, 200 Hz):")
    for label, pattern in SPY_GROUPS:
        regex = re.compile(pattern)
        hits = sum(n for stack, n in stacks.items() if any(regex.search(f) for f in stack))
        print(f"    {hits / total:6.1%}  {label}")
    leaves = Counter()
    for stack, n in stacks.items():
        leaves[stack[-1]] += n
    print("    top leaf functions:")
    for leaf, n in leaves.most_common(12):
        print(f"    {n / total:6.1%}  {leaf[:140]}")


# --- data ---------------------------------------------------------------------------------------

def members(org, owner, prefix, role, n):
    """n members `<prefix>-<i>@queue.bench.test` with `role` (made once) and a fresh token for each."""
    made = []
    for i in range(n):
        email = f"{prefix}-{i:02d}@queue.bench.test"
        user = User.objects.filter(email=email).first() or user_create(email=email)
        if not Membership.objects.filter(organization=org, user=user, status=Membership.Status.ACTIVE).exists():
            member_add(organization=org, user=user, role=role, actor=owner)
        _, secret = token_create(organization=org, actor=owner, actor_role="owner", name=f"queue bench {prefix}",
                                 role=role, user=user)
        made.append(secret)
    return made


def fresh_project(org, owner, size, overlap, label):
    project = project_create(organization=org, actor=owner, name=f"queue bench {label} {time.time():.0f}",
                             label_schema=SPEC, settings={"overlap": overlap})
    stream = io.BytesIO(b"".join(lines(size, seed=size + overlap)))
    created = tasks_import(project=project, actor=owner, stream=stream, fmt="jsonl")["created"]
    assert created == size, created
    return project


def big_project(org, owner, size, overlap):
    """The reused large project for `overlap`: made (or completed) by `import_tasks` when short of tasks."""
    name = f"queue bench {size:,} tasks, overlap {overlap}"
    project = Project.objects.filter(organization=org, name=name, deleted_at__isnull=True).first()
    if project is None:
        project = project_create(organization=org, actor=owner, name=name, label_schema=SPEC,
                                 settings={"overlap": overlap})
    have = Task.objects.filter(project=project).count()
    if have < size:
        with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
            for line in lines(size, seed=7):
                handle.write(line)
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "import_tasks", str(project.pk), handle.name], cwd=ROOT,
                       capture_output=True, text=True, check=True)
        os.unlink(handle.name)
        print(f"  made project {project.pk} ({name}): {size - have:,} tasks imported in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    return project


def fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def service_counters():
    """Server-wide Redis counters and the bench database's transaction counters, to difference."""
    import redis

    info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("stats")
    commits, rollbacks = fetch("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = "
                               "current_database()", [])[0]
    return {"redis connections": info["total_connections_received"], "redis commands":
            info["total_commands_processed"], "pg commits": commits, "pg rollbacks": rollbacks}


def counters_line(before, after, requests):
    """Per request: Redis connections opened and commands (whole Redis server), PostgreSQL transactions."""
    parts = [f"{key} {(after[key] - before[key]) / max(1, requests):.2f}" for key in before]
    return "per HTTP request: " + ", ".join(parts) + " (Redis counts are server-wide, others' work included)"


def integrity(project_id, since):
    """What the database says after a run: duplicates, counters, leases left, annotations made."""
    # Fresh statistics first: with a project made since the last ANALYZE the planner expects one task in it and
    # runs the counters' check below as a nested loop over the grouped annotations (it ran for 12 minutes).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task, tasks_annotation, tasks_assignment")
    same_person = fetch("SELECT count(*) FROM (SELECT 1 FROM tasks_annotation WHERE project_id = %s "
                        "GROUP BY task_id, author_id HAVING count(*) > 1) d", [project_id])[0][0]
    over = fetch("SELECT count(*) FROM (SELECT 1 FROM tasks_annotation a JOIN tasks_task t ON t.id = a.task_id "
                 "WHERE a.project_id = %s GROUP BY a.task_id, t.target_annotations "
                 "HAVING count(*) > t.target_annotations) o", [project_id])[0][0]
    drift = fetch("SELECT count(*) FROM tasks_task t LEFT JOIN (SELECT task_id, count(*) n FROM tasks_annotation "
                  "WHERE project_id = %s GROUP BY task_id) a ON a.task_id = t.id LEFT JOIN (SELECT task_id, "
                  "count(*) n FROM tasks_assignment WHERE project_id = %s AND status = 'active' AND kind = 'queue' "
                  "GROUP BY task_id) l ON l.task_id = t.id WHERE t.project_id = %s AND "
                  "(t.annotations_count <> coalesce(a.n, 0) OR t.in_flight <> coalesce(l.n, 0))",
                  [project_id, project_id, project_id])[0][0]
    active = fetch("SELECT count(*) FROM tasks_assignment WHERE project_id = %s AND status = 'active'",
                   [project_id])[0][0]
    made = fetch("SELECT count(*) FROM tasks_annotation WHERE project_id = %s AND created_at >= %s",
                 [project_id, since])[0][0]
    return {"same (task, author) twice": same_person, "tasks over target": over,
            "counters off": drift, "leases left active": active, "annotations made": made}


# --- scenarios ----------------------------------------------------------------------------------

SAMPLED = " [sampled by py-spy, which takes CPU too: not part of the figures]"


def scenario_attach(stack, org, owner, project, count, results, spy=None):
    """(a) `count` annotations by PIPELINES clients on random untouched tasks in the second half of `project`."""
    secrets_ = members(org, owner, "pipeline", "manager", PIPELINES)
    ids = [row[0] for row in fetch(
        "SELECT id FROM tasks_task WHERE project_id = %s AND annotations_count = 0 AND in_flight = 0 "
        "AND id > (SELECT (min(id) + max(id)) / 2 FROM tasks_task WHERE project_id = %s) "
        "ORDER BY random() LIMIT %s", [project.pk, project.pk, count])]
    jobs = [{"kind": "pipeline", "secret": s, "tasks": ids[i::PIPELINES]} for i, s in enumerate(secrets_)]
    print(f"\n(a) {len(ids):,} annotations by {PIPELINES} clients via POST /tasks/{{id}}/annotations, project "
          f"{project.pk} ({Task.objects.filter(project=project).count():,} tasks); {load()}"
          f"{SAMPLED if spy else ''}", flush=True)
    since = fetch("SELECT now()", [])[0][0]
    spying = spy_start(spy, stack.workers_pids(), 10, stack.tmp) if spy else []
    before = service_counters()
    tally, elapsed, cpu, busy = drive(stack, jobs, None)
    after = service_counters()
    rate = tally.cycles / elapsed
    print(f"  {tally.cycles:,} created in {elapsed:.1f} s: {rate:,.1f} annotations/s", flush=True)
    print(f"  {latency_line(tally, 'attach')}")
    print(f"  {status_line(tally)}")
    per_task = fetch("SELECT count(*) FROM (SELECT task_id FROM tasks_annotation WHERE task_id = ANY(%s) "
                     "GROUP BY task_id HAVING count(*) > 1) d", [ids])[0][0]
    made = fetch("SELECT count(*) FROM tasks_annotation WHERE project_id = %s AND created_at >= %s",
                 [project.pk, since])[0][0]
    print(f"  database: {made:,} annotations made, tasks with more than one: {per_task}")
    print(f"  {cpu_line(cpu, busy, elapsed)}")
    print(f"  {counters_line(before, after, sum(tally.codes.values()))}")
    for key, body in tally.samples.items():
        print(f"  first {key[0]} {key[1]}: {body}")
    if spying:
        spy_report(spying)
        return
    results.append({"scenario": "a", "rate": rate, "p99": pct(tally.latency["attach"], .99),
                    "5xx": sum(n for (_, s), n in tally.codes.items() if s >= 500), "bad": per_task})


def scenario_queue(stack, secrets_, project, size_label, annotators, overlap, duration, results, quiet=False,
                   spy=None):
    """(b) `annotators` people doing next+submit on `project` for `duration` seconds (sampled by py-spy if `spy`)."""
    jobs = [{"kind": "annotator", "secret": s, "project": project.pk} for s in secrets_[:annotators]]
    if not quiet:
        print(f"\n(b) {annotators} annotators, overlap {overlap}, {size_label} tasks (project {project.pk}), "
              f"{duration:.0f} s; {load()}{SAMPLED if spy else ''}", flush=True)
    since = fetch("SELECT now()", [])[0][0]
    spying = spy_start(spy, stack.workers_pids(), duration - 4, stack.tmp) if spy else []
    before = service_counters()
    tally, elapsed, cpu, busy = drive(stack, jobs, duration)
    after = service_counters()
    checks = integrity(project.pk, since)
    server_errors = sum(n for (_, s), n in tally.codes.items() if s >= 500)
    row = {"scenario": "b", "annotators": annotators, "overlap": overlap, "size": size_label,
           "cycles": tally.cycles / elapsed, "next_p50": pct(tally.latency["next"], .5),
           "next_p99": pct(tally.latency["next"], .99), "submit_p99": pct(tally.latency["submit"], .99),
           "5xx": server_errors, "duplicates": checks["same (task, author) twice"] + checks["tasks over target"]}
    if quiet:
        return row
    print(f"  {tally.cycles:,} next+submit cycles in {elapsed:.1f} s: {tally.cycles / elapsed:,.1f} cycles/s")
    print(f"  {latency_line(tally, 'next')}")
    print(f"  {latency_line(tally, 'submit')}")
    print(f"  {status_line(tally)}")
    print("  database: " + ", ".join(f"{k} {v:,}" for k, v in checks.items())
          + f" (clients saw {tally.codes[('submit', 201)]:,} submits answered 201)")
    print(f"  {cpu_line(cpu, busy, elapsed)}")
    print(f"  {counters_line(before, after, sum(tally.codes.values()))}", flush=True)
    for key, body in tally.samples.items():
        print(f"  first {key[0]} {key[1]}: {body}")
    if spying:
        spy_report(spying)
        return row
    results.append(row)
    return row


# --- in-process profile ---------------------------------------------------------------------------

def normalized(sql):
    sql = re.sub(r"\s+", " ", sql)
    sql = re.sub(r"(%s, )+%s", "%s…", sql)
    return sql


def profile(project, secrets_, pipeline_secret, cycles):
    """(c) next, submit and attach through Django's test client: ms per request, SQL per statement, cProfile."""
    from django.test import Client

    clients = [Client(HTTP_AUTHORIZATION=f"Token {s}", HTTP_X_FORWARDED_PROTO="https") for s in secrets_]
    pipeline = Client(HTTP_AUTHORIZATION=f"Token {pipeline_secret}", HTTP_X_FORWARDED_PROTO="https")
    views = ("next", "submit", "attach")
    current = {"view": None}
    sql_time = {view: defaultdict(lambda: [0, 0.0]) for view in views}

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if current["view"]:
                entry = sql_time[current["view"]][normalized(sql)]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

    profiles = {view: cProfile.Profile() for view in views}
    wall = defaultdict(lambda: defaultdict(list))
    # CPU of this process (every thread: the live-event sender too), not PostgreSQL's or Redis's: what a server
    # worker spends per request, and less disturbed than wall time by others' load on the machine.
    cpu = defaultdict(lambda: defaultdict(list))

    def call(client, view, path, body, mode):
        current["view"] = view if mode == "plain" else None
        if mode == "profiled":
            profiles[view].enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.post(path, body, content_type="application/json")
        wall[mode][view].append(time.perf_counter() - started)
        cpu[mode][view].append(time.process_time() - cpu_started)
        if mode == "profiled":
            profiles[view].disable()
        current["view"] = None
        return response

    untouched = [row[0] for row in fetch(
        "SELECT id FROM tasks_task WHERE project_id = %s AND annotations_count = 0 AND in_flight = 0 "
        "AND id > (SELECT (min(id) + max(id)) / 2 FROM tasks_task WHERE project_id = %s) "
        "ORDER BY random() LIMIT %s", [project.pk, project.pk, 3 * cycles])]
    print(f"\n(c) in-process profile: {cycles} next+submit cycles and {cycles} attaches (after {cycles // 4} to warm "
          f"up), {len(clients)} annotators in turn and one pipeline token, project {project.pk}; {load()}", flush=True)
    with connection.execute_wrapper(timed):
        for mode, n in (("warm", cycles // 4), ("plain", cycles), ("profiled", cycles)):
            for i in range(n):
                client = clients[i % len(clients)]
                response = call(client, "next", f"/api/v1/projects/{project.pk}/next", None, mode)
                assert response.status_code == 200, (response.status_code, response.content[:300])
                assignment = response.json()["assignment"]["id"]
                response = call(client, "submit", f"/api/v1/assignments/{assignment}/submit", SUBMIT_BODY, mode)
                assert response.status_code == 201, (response.status_code, response.content[:300])
                response = call(pipeline, "attach", f"/api/v1/tasks/{untouched.pop()}/annotations", SUBMIT_BODY, mode)
                assert response.status_code == 201, (response.status_code, response.content[:300])
    for view in views:
        plain = wall["plain"][view]
        statements = sql_time[view]
        sql_total = sum(t for _, t in statements.values())
        count = sum(n for n, _ in statements.values())
        print(f"  {view}: {sum(plain) / len(plain) * 1000:.2f} ms per request in-process (p50 {pct(plain, .5):.2f}, "
              f"p99 {pct(plain, .99):.2f}), of which SQL {sql_total / len(plain) * 1000:.2f} ms in "
              f"{count / len(plain):.1f} statements; CPU of this process "
              f"{sum(cpu['plain'][view]) / len(plain) * 1000:.2f} ms per request")
        for sql, (n, seconds) in sorted(statements.items(), key=lambda item: -item[1][1]):
            print(f"    {seconds / len(plain) * 1000:6.2f} ms/request  {n / len(plain):4.1f}x  {sql[:150]}")
        stats = pstats.Stats(profiles[view]).stats
        per = len(wall["profiled"][view])
        profiled = sum(wall["profiled"][view]) / per * 1000
        print(f"    where the time goes (cProfile, cumulative ms per request; {profiled:.1f} ms per request under "
              f"the profiler):")
        for label, pattern in BREAKDOWN:
            total = sum(cumulative for (file, _, func), (_, _, _, cumulative, _) in stats.items()
                        if re.search(pattern, f"{shorten(file)}({func})"))
            if total:
                print(f"    {total / per * 1000:7.2f}  {label}")
        ours = sorted(((cumulative, own, f"{shorten(file)}:{line}({func})")
                       for (file, line, func), (_, _, own, cumulative, _) in stats.items()
                       if shorten(file).startswith("apps/")), reverse=True)
        print("    top cumulative in apps/ (ms per request):")
        for cumulative, own, name in ours[:14]:
            print(f"    {cumulative / per * 1000:7.2f} cum {own / per * 1000:6.2f} own  {name}")
        print("    top own time (ms per request):")
        owns = sorted(((own, cumulative, f"{shorten(file)}:{line}({func})")
                       for (file, line, func), (_, _, own, cumulative, _) in stats.items()), reverse=True)
        for own, cumulative, name in owns[:10]:
            print(f"    {own / per * 1000:7.2f} own {cumulative / per * 1000:6.2f} cum  {name}")


# (label, regex over "path(function)") for the profile's breakdown; each line is a cumulative time.
BREAKDOWN = [
    ("whole request in Django (handler, middleware, view)", r"^django/core/handlers/base\.py\(get_response\)$"),
    ("  DRF dispatch (the view with auth, tenancy, throttle)", r"^rest_framework/views\.py\(dispatch\)$"),
    ("    token authentication", r"^rest_framework/views\.py\(perform_authentication\)$"),
    ("    tenancy + role (check_permissions)", r"^rest_framework/views\.py\(check_permissions\)$"),
    ("    throttle (cache get + set in Redis)", r"^rest_framework/views\.py\(check_throttles\)$"),
    ("    access_project", r"^apps/projects/selectors\.py\(access_project\)$"),
    ("    access_assignment", r"^apps/tasks/selectors\.py\(access_assignment\)$"),
    ("    access_task", r"^apps/tasks/selectors\.py\(access_task\)$"),
    ("    refuse_if_closed (status, eligibility)", r"^apps/tasks/queue_views\.py\(refuse_if_closed\)$"),
    ("    next_task (one transaction)", r"^apps/tasks/queue\.py\(next_task\)$"),
    ("      _from_queue (cursor, pick, cursor upsert)", r"^apps/tasks/queue\.py\(_from_queue\)$"),
    ("      _lease (insert, slot, reload)", r"^apps/tasks/queue\.py\(_lease\)$"),
    ("      leases_expire (lazy sweep)", r"^apps/tasks/queue\.py\(leases_expire\)$"),
    ("    lease_body (predictions, serializer)", r"^apps/tasks/queue_views\.py\(lease_body\)$"),
    ("    assignment_submit", r"^apps/tasks/annotations\.py\(assignment_submit\)$"),
    ("      checked_result (schema validation)", r"^apps/tasks/annotations\.py\(checked_result\)$"),
    ("      _submit (one transaction)", r"^apps/tasks/annotations\.py\(_submit\)$"),
    ("    annotation_attach", r"^apps/tasks/annotations\.py\(annotation_attach\)$"),
    ("      _attach (one transaction)", r"^apps/tasks/annotations\.py\(_attach\)$"),
    ("        audit record()", r"^apps/audit/services\.py\(record\)$"),
    ("    signals (request_started/finished, annotation_submitted)", r"^django/dispatch/dispatcher\.py\(send\)$"),
    ("    on-commit callbacks (live events, progress)",
     r"^django/db/backends/base/base\.py\(run_and_clear_commit_hooks\)$"),
    ("    response serializers (.data)", r"^rest_framework/serializers\.py\(data\)$"),
    ("    JSON rendering", r"^rest_framework/response\.py\(rendered_content\)$"),
    ("  SQL: cursor.execute (incl. waiting for PostgreSQL)", r"^django/db/backends/utils\.py\(_execute\)$"),
    ("  SQL: ORM query compilation (as_sql)", r"^django/db/models/sql/compiler\.py\(as_sql\)$"),
    ("  Redis commands (throttle, progress window, channel layer)", r"^redis/client\.py\(execute_command\)$"),
]


def shorten(file):
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# --- main ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small projects, short scenarios")
    parser.add_argument("--workers", default=None, help="uvicorn worker counts to try, e.g. 2,3,4")
    parser.add_argument("--duration", type=float, default=None, help="seconds per (b) scenario (default 60)")
    parser.add_argument("--only", default="a,b,c", help="scenarios to run: a, b, c (profile)")
    parser.add_argument("--annotators", default="16,64")
    parser.add_argument("--overlaps", default="1,3")
    parser.add_argument("--server", choices=list(SERVERS), default="granian",
                        help="granian: config.wsgi, docker-compose's HTTP server; uvicorn: config.asgi (HTTP through "
                             "a2wsgi's thread pool beside Channels), its WebSocket server and `make run`'s")
    parser.add_argument("--throttle-rate", default=None,
                        help="API_THROTTLE_RATE for the server (default: the production default, 1200/min)")
    parser.add_argument("--py-spy", dest="spy", default=shutil.which("py-spy"),
                        help="py-spy executable: after the scenarios, sample the server's workers during a short "
                             "extra (a) and (b) run (default: py-spy on PATH, if any)")
    args = parser.parse_args()
    quick = args.quick
    big = 100_000 if quick else 1_000_000
    small = 2_000 if quick else 20_000
    attach_count = 1_000 if quick else 20_000
    duration = args.duration or (8.0 if quick else 60.0)
    worker_counts = [int(w) for w in (args.workers or ("2" if quick else "2,3,4")).split(",")]
    annotator_counts = [int(a) for a in args.annotators.split(",")]
    overlaps = [int(o) for o in args.overlaps.split(",")]
    only = set(args.only.split(","))

    org, owner = bench_organization()
    # A `git archive` snapshot (benchmarking committed code while others edit the checkout) names its commit
    # in BENCH_COMMIT.
    commit = os.environ.get("BENCH_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "apps", "config"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 100}; code at {commit}"
          f"{f' with {len(dirty.splitlines())} uncommitted files in apps/ and config/' if dirty else ''}")
    print(f"server: {' '.join(SERVERS[args.server][1:])} --workers N (N = {', '.join(map(str, worker_counts))}), "
          f"DJANGO_ENV=production, DEBUG=0, SECURE_SSL_REDIRECT=1 behind X-Forwarded-Proto: https, throttle "
          f"{args.throttle_rate or '1200/min (default)'}, DB pool {os.environ.get('DB_POOL_MAX_SIZE', '10')} per "
          f"process; Celery worker (concurrency 2) and beat; clients: {CLIENT_PROCESSES} processes of threads, one "
          f"keep-alive connection and token per person; {load()}", flush=True)

    bigs = {}
    for overlap in overlaps if "b" in only else []:
        bigs[overlap] = big_project(org, owner, big, overlap)
    if "a" in only and 1 not in bigs:
        bigs[1] = big_project(org, owner, big, 1)
    secrets_ = members(org, owner, "annotator", "annotator", max(annotator_counts)) if only & {"b", "c"} else []

    summary = {}
    tmp = tempfile.mkdtemp(prefix="queue-bench-")
    try:
        for workers in worker_counts if only & {"a", "b"} else []:
            print(f"\n=== {args.server} --workers {workers} ===", flush=True)
            stack = Stack(workers, args.throttle_rate, tmp, args.server)
            results = []
            try:
                rss, hwm, n = memory(stack.server.pid)
                print(f"server up: {n} processes, RSS {rss:.0f} MB; warming up", flush=True)
                if secrets_:
                    warm = fresh_project(org, owner, 2_000, 1, "warm-up")
                    scenario_queue(stack, secrets_, warm, "warm-up", 16, 1, 3.0, [], quiet=True)
                if "a" in only:
                    scenario_attach(stack, org, owner, bigs[1], attach_count, results)
                for overlap in overlaps if "b" in only else []:
                    for count in annotator_counts:
                        fresh = fresh_project(org, owner, small, overlap, f"{small // 1000}k")
                        scenario_queue(stack, secrets_, fresh, f"{small:,}", count, overlap, duration, results)
                        scenario_queue(stack, secrets_, bigs[overlap], f"{big:,}", count, overlap, duration, results)
                if args.spy and "a" in only:
                    scenario_attach(stack, org, owner, bigs[1], min(attach_count, 2_000), [], spy=args.spy)
                if args.spy and "b" in only:
                    scenario_queue(stack, secrets_, bigs[overlaps[0]], f"{big:,}", annotator_counts[0], overlaps[0],
                                   min(duration, 20.0), [], spy=args.spy)
                rss, hwm, n = memory(stack.server.pid)
                crss, chwm, cn = (sum(v) for v in zip(*(memory(p.pid) for p in stack.celery), strict=True))
                tracebacks, errors = stack.log_problems()
                print(f"\nserver RSS at the end: {rss:.0f} MB over {n} processes (peak sum {hwm:.0f} MB); "
                      f"Celery worker and beat {crss:.0f} MB over {cn} processes (peak {chwm:.0f} MB); "
                      f"{tracebacks} tracebacks in the server log", flush=True)
                for line in errors:
                    print(f"  log: {line[:300]}")
                summary[workers] = (results, hwm)
            finally:
                stack.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if summary:
        print("\nsummary (cycles/s; next p99 ms):")
        for workers, (results, hwm) in summary.items():
            cells = []
            for row in results:
                if row["scenario"] == "a":
                    cells.append(f"(a) {row['rate']:.0f}/s p99 {row['p99']:.0f}")
                else:
                    cells.append(f"{row['annotators']}x o{row['overlap']} {row['size']}: {row['cycles']:.0f} "
                                 f"p99 {row['next_p99']:.0f}")
            print(f"  --workers {workers} (peak RSS {hwm:.0f} MB): " + "; ".join(cells))
    if "c" in only:
        target = bigs.get(1) or big_project(org, owner, big, 1)
        profile(target, secrets_[:8], members(org, owner, "pipeline", "manager", 1)[0], 100 if quick else 400)


if __name__ == "__main__":
    main()

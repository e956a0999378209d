"""Benchmark of exports (issue #7): a project of N tasks with one accepted annotation each (boxes on an image,
so COCO has something to write), exported by `manage.py export` in a child process — snapshot and writer, as a
worker runs them — to JSONL, CSV and COCO: the export's own time (snapshot and writer, as the command measures
it; a worker's job does the same work, then hashes the file and stores it), the command's wall time (with the
interpreter's and Django's start) and the child's peak RSS.

    make bench-export                      # or: DATABASE_URL=… python bench/export_bench.py --sizes 100000,1000000

The projects are made once by `manage.py import_tasks` (Label Studio JSON lines with an annotation each) and
reused by later runs.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
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

from apps.projects.models import Project  # noqa: E402
from apps.projects.services import project_create  # noqa: E402
from apps.tasks.models import Task  # noqa: E402

SPEC = {"data": {"image": {"type": "image"}, "caption": {"type": "text"}},
        "controls": {"box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}, {"value": "wallaby"}]}}}


def lines(n: int, email: str):
    for i in range(n):
        region = {"id": f"b{i}", "from_name": "box", "to_name": "image", "type": "rectanglelabels",
                  "original_width": 960, "original_height": 643,
                  "value": {"x": 10 + i % 50, "y": 5 + i % 40, "width": 20, "height": 30, "rotation": 0,
                            "rectanglelabels": ["quokka" if i % 3 else "wallaby"]}}
        yield orjson.dumps({"data": {"image": f"images/{i}.jpg", "caption": f"photo number {i} of the series"},
                            "annotations": [{"completed_by": email, "result": [region]}]}) + b"\n"


def project_of(size: int, org, manager):
    name = f"export bench {size:,} tasks"
    project = Project.objects.filter(organization=org, name=name, deleted_at__isnull=True).first()
    if project is not None and Task.objects.filter(project=project).count() == size:
        return project, False
    project = project_create(organization=org, actor=manager, name=name, label_schema=SPEC)
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
        for line in lines(size, manager.email):
            handle.write(line)
        path = handle.name
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "import_tasks", str(project.pk), path, "--as",
                        manager.email], check=True, stdout=subprocess.DEVNULL)
    finally:
        os.unlink(path)
    return project, True


def export(project, fmt: str) -> tuple[float, float, int, int]:
    """(seconds of the whole command, seconds of the export itself — snapshot and writer, what a worker spends on
    the job — peak RSS in MB of the exporting process, bytes written)."""
    out = tempfile.mktemp(suffix=f".{fmt}")
    started = time.monotonic()
    with tempfile.TemporaryFile() as summary:
        child = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "export", str(project.pk), "--format",
                                  fmt, "--out", out, "--split", "train=0.8,val=0.1,test=0.1"],
                                 stdout=summary, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        elapsed = time.monotonic() - started
        if status != 0:
            raise SystemExit(f"manage.py export {fmt} failed (status {status})")
        summary.seek(0)
        job = orjson.loads(summary.read().splitlines()[-1])["seconds"]
    size = os.path.getsize(out)
    os.unlink(out)
    return elapsed, job, usage.ru_maxrss // 1024, size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default="jsonl,csv,coco")
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {pg}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    org, manager = bench_organization()
    for size in [int(s) for s in args.sizes.split(",")]:
        started = time.monotonic()
        project, made = project_of(size, org, manager)
        if made:
            print(f"  made project {project.pk} ({size:,} tasks with an annotation each) in "
                  f"{time.monotonic() - started:.0f} s")
        for fmt in args.formats.split(","):
            seconds, job, rss, written = export(project, fmt)
            print(f"{size:>9,} tasks  {fmt:<6} export {job:6.1f} s  {size / job:>9,.0f} tasks/s  "
                  f"(command {seconds:5.1f} s with Python and Django's start)  peak RSS {rss:>4} MB  "
                  f"{written / 1e6:7.1f} MB written; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Parse speed of the import formats: iter_records + normalize_task + content_hash, no database.

    .venv/bin/python bench/import_parse_bench.py            # 200,000 rows; BENCH_ROWS=… to change

Generates 200,000 text tasks of ~20 words (random.Random(0), so every run parses the same bytes) as
JSONL, as one JSON array and as CSV, in memory, and reports rows/s for each format, best of 3:
iter_records alone, then with normalize_task, then with content_hash (what the import does before the
insert); and, for the JSON array, orjson.loads of the whole document (the non-streaming upper bound
the incremental splitter is measured against).
"""

import csv
import io
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from apps.tasks.import_formats import RowError, content_hash, iter_records, normalize_task  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
REPEATS = 3
WORDS = (
    "the a film movie story plot actor actress director scene scenes character characters performance "
    "script dialogue camera music score screen audience moment moments time life love war family world "
    "funny sad dull smart bold slow fast quiet loud bright dark clever tired fresh rotten charming "
    "predictable surprising moving hollow sharp gentle brutal tender honest lazy ambitious uneven "
    "never always often rarely finally simply really almost barely mostly nearly only still even "
    "makes feels looks works fails keeps tries shows tells finds loses wins takes gives leaves brings "
    "and but or yet so because while though although until unless if when where how why "
    "café naïve déjà vu — “quoted” über piñata"
).split()
LABELS = ("fresh", "rotten")


def make_tasks(n: int) -> list[dict]:
    rng = random.Random(0)
    return [
        {
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 25))).capitalize() + ".",
            "label": rng.choice(LABELS),
            "movie": f"movie_{rng.randrange(5000)}",
        }
        for _ in range(n)
    ]


def as_jsonl(tasks: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(task) for task in tasks) + b"\n"


def as_json_array(tasks: list[dict]) -> bytes:
    return orjson.dumps(tasks, option=orjson.OPT_INDENT_2)  # indented, like a Label Studio export


def as_csv(tasks: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "movie"])
    writer.writeheader()
    writer.writerows(tasks)
    return out.getvalue().encode()


def full_pipeline(payload: bytes, fmt: str) -> int:
    count = 0
    for _row, record in iter_records(io.BytesIO(payload), fmt):
        if isinstance(record, RowError):
            raise AssertionError(record.message)
        task = normalize_task(record)
        if isinstance(task, RowError):
            raise AssertionError(task.message)
        content_hash(task.data)
        count += 1
    return count


def parse_and_normalize(payload: bytes, fmt: str) -> int:
    count = 0
    for _row, record in iter_records(io.BytesIO(payload), fmt):
        normalize_task(record)
        count += 1
    return count


def parse_only(payload: bytes, fmt: str) -> int:
    count = 0
    for _row, _record in iter_records(io.BytesIO(payload), fmt):
        count += 1
    return count


def whole_document(payload: bytes, _fmt: str) -> int:
    return len(orjson.loads(payload))


def best_rate(func, payload: bytes, fmt: str) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        count = func(payload, fmt)
        best = min(best, time.perf_counter() - start)
    if count != ROWS:
        raise AssertionError(f"{fmt}: {count} rows, expected {ROWS}")
    return ROWS / best


def main() -> None:
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, orjson {orjson.__version__}")
    tasks = make_tasks(ROWS)
    words = sum(len(task["text"].split()) for task in tasks) / ROWS
    payloads = {"jsonl": as_jsonl(tasks), "json": as_json_array(tasks), "csv": as_csv(tasks)}
    del tasks
    print(f"{ROWS:,} tasks, {words:.1f} words of text each on average")
    print(f"{'format':<8}{'MB':>7}{'iter_records':>17}{'+ normalize_task':>20}{'+ content_hash':>20}")
    for fmt, payload in payloads.items():
        rates = [best_rate(func, payload, fmt) for func in (parse_only, parse_and_normalize, full_pipeline)]
        print(f"{fmt:<8}{len(payload) / 1e6:>7.1f}" + "".join(f"{rate:>16,.0f} r/s" for rate in rates))
    reference = best_rate(whole_document, payloads["json"], "json")
    print(f"reference: orjson.loads of the whole JSON array (not streaming): {reference:,.0f} rows/s")


if __name__ == "__main__":
    main()

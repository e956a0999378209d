"""Quality-control algorithms on simulated crowds with known workers: consensus, spammer detection, overlap.

    .venv/bin/python bench/qa_bench.py            # full run, a minute or two on 2 cores (estimated)
    .venv/bin/python bench/qa_bench.py --quick    # smoke run, a few seconds

No database. Workers are drawn from one mix (shares are arguments): good (accuracy U(0.85, 0.95)),
mediocre (U(0.55, 0.65)), and spammers, half answering uniformly at random and half always giving one
label. A good or mediocre worker's errors are spread over the other labels by a Dirichlet(1) draw, so
confusion matrices are not symmetric. 5 classes, uniform true labels.

(a) Dawid-Skene on 100,000 tasks × 5–10 answers (≈750,000) and × 10 answers (1,000,000): wall time,
    memory, accuracy against majority vote. Memory is measured twice: the growth of the process's peak
    RSS (Linux: VmHWM after resetting it through /proc/self/clear_refs, so the data generation's own
    peak does not hide it; elsewhere ru_maxrss growth, which may under-report) in a run without
    tracing, and tracemalloc's peak of traced allocations (NumPy and SciPy arrays report theirs) in a
    second run.
(b) Spammer detection: each annotator answers up to 200 gold tasks; after each, "suspend when the upper
    bound of the Wilson 95 % interval of gold accuracy < --threshold, after at least --min-golds golds".
(c) Dynamic overlap against fixed overlap 5: tasks start with --overlap answers (3, and 2 to compare:
    3 of 5 is already 60 % of the fixed budget); after every round in which each unsettled task gets
    one more answer, Dawid-Skene runs on all answers so far (the gold answers of (c)'s workers
    clamped) and a task settles once its posterior ≥ --target or it has --max-overlap answers.
    Compared with a fixed 5 answers a task, aggregated by majority vote and by the same Dawid-Skene.
    Every strategy reads the same pre-drawn answer sheet, so the differences are not sampling noise.
"""

import argparse
import datetime
import os
import platform
import re
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from apps.qa.consensus import dawid_skene, majority_vote  # noqa: E402
from apps.qa.statistics import wilson_interval  # noqa: E402

N_LABELS = 5


@dataclass(frozen=True)
class Crowd:
    confusion: np.ndarray  # (n_workers, L, L): P(answer | truth)
    kind: np.ndarray  # (n_workers,) "good" | "mediocre" | "uniform" | "constant"


def make_crowd(n_workers: int, rng: np.random.Generator, shares: dict[str, float]) -> Crowd:
    """Workers of the kinds in `shares` (good, mediocre, uniform, constant), in those proportions."""
    names = list(shares)
    kinds = rng.choice(np.array(names), size=n_workers, p=[shares[name] for name in names])
    accuracy = np.where(kinds == "good", rng.uniform(0.85, 0.95, n_workers), rng.uniform(0.55, 0.65, n_workers))
    # Errors spread over the other labels by a Dirichlet draw per row.
    errors = rng.dirichlet(np.ones(N_LABELS - 1), size=(n_workers, N_LABELS))
    confusion = np.zeros((n_workers, N_LABELS, N_LABELS))
    for truth in range(N_LABELS):
        others = [label for label in range(N_LABELS) if label != truth]
        confusion[:, truth, truth] = accuracy
        confusion[:, truth, others] = (1 - accuracy)[:, None] * errors[:, truth]
    confusion[kinds == "uniform"] = 1.0 / N_LABELS
    constant = np.flatnonzero(kinds == "constant")
    confusion[constant] = 0.0
    confusion[constant, :, rng.integers(0, N_LABELS, constant.size)] = 1.0
    return Crowd(confusion, kinds)


def mix(args: argparse.Namespace) -> dict[str, float]:
    spammers = 1.0 - args.good - args.mediocre
    if spammers < 0:
        raise SystemExit("--good + --mediocre must not exceed 1")
    return {"good": args.good, "mediocre": args.mediocre, "uniform": spammers / 2, "constant": spammers / 2}


def draw_answers(crowd: Crowd, workers: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One answer per (worker, true label) pair, drawn from the worker's confusion row (in chunks: memory)."""
    labels = np.empty(workers.size, dtype=np.int64)
    for start in range(0, workers.size, 200_000):
        part = slice(start, start + 200_000)
        cumulative = crowd.confusion[workers[part], truth[part]].cumsum(axis=1)
        labels[part] = (rng.random(cumulative.shape[0])[:, None] > cumulative).sum(axis=1)
    return np.minimum(labels, N_LABELS - 1)  # a cumulative sum of 0.99999… must not produce label 5


def distinct_workers(n_tasks: int, per_task: int, n_workers: int, rng: np.random.Generator) -> np.ndarray:
    """(n_tasks, per_task) worker indices, distinct within each row (redraw collisions until none are left)."""
    chosen = rng.integers(0, n_workers, size=(n_tasks, per_task))
    while True:
        ordered = np.sort(chosen, axis=1)
        clash_rows = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if not clash_rows.size:
            return chosen
        chosen[clash_rows, 1:] = rng.integers(0, n_workers, size=(clash_rows.size, per_task - 1))


def peak_rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # Linux ≥ 4.0: reset VmHWM to the current RSS
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    try:
        return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        return peak_rss_mib()


def bench_dawid_skene(n_tasks: int, n_workers: int, args: argparse.Namespace) -> None:
    print(f"\n(a) Dawid-Skene on {n_tasks:,} tasks, {n_workers:,} workers, {N_LABELS} classes")
    rng = np.random.default_rng(1)
    crowd = make_crowd(n_workers, rng, mix(args))
    for overlap_label, per_task in (("5–10", rng.integers(5, 11, size=n_tasks)), ("10", np.full(n_tasks, 10))):
        truth = rng.integers(0, N_LABELS, size=n_tasks)
        rows = distinct_workers(n_tasks, 10, n_workers, rng)
        keep = np.arange(10)[None, :] < per_task[:, None]
        tasks = np.broadcast_to(np.arange(n_tasks)[:, None], rows.shape)[keep]
        workers = rows[keep]
        labels = draw_answers(crowd, workers, truth[tasks], rng)
        sizes = {"n_tasks": n_tasks, "n_workers": n_workers, "n_labels": N_LABELS}

        started = time.perf_counter()
        vote = majority_vote(tasks, workers, labels, **sizes)
        vote_seconds = time.perf_counter() - started

        reset = peak_rss_reset()
        rss_before = current_rss_mib() if reset else peak_rss_mib()
        started = time.perf_counter()
        result = dawid_skene(tasks, workers, labels, **sizes)
        seconds = time.perf_counter() - started
        rss_growth = peak_rss_mib() - rss_before

        tracemalloc.start()
        dawid_skene(tasks, workers, labels, **sizes)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        how = "VmHWM reset via clear_refs" if reset else "ru_maxrss growth, may under-report"
        print(
            f"  {tasks.size:>9,} answers ({overlap_label} a task): Dawid-Skene {seconds:.2f} s, "
            f"{result.iterations} iterations, {seconds / result.iterations * 1000:.0f} ms/iteration; "
            f"majority vote {vote_seconds * 1000:.0f} ms"
        )
        print(
            f"      peak RSS growth {rss_growth:.0f} MiB ({how}); tracemalloc peak {traced_peak / 2**20:.0f} MiB; "
            f"input arrays {(tasks.nbytes + workers.nbytes + labels.nbytes) / 2**20:.0f} MiB"
        )
        print(
            f"      accuracy: Dawid-Skene {np.mean(result.labels == truth):.4f}, "
            f"majority vote {np.mean(vote.labels == truth):.4f} ({np.mean(vote.tied):.1%} of tasks tied)"
        )
        spam = np.isin(crowd.kind, ["uniform", "constant"])
        estimated, true = result.worker_accuracy, np.einsum("wkk->w", crowd.confusion) / N_LABELS
        good_min = estimated[crowd.kind == "good"].min()
        print(
            f"      worker accuracy estimate: mean |error| {np.mean(np.abs(estimated - true)):.3f}; "
            f"spammers' estimate ≤ {estimated[spam].max():.2f}, good workers' ≥ {good_min:.2f}"
        )


def bench_spammer_detection(n_good: int, n_mediocre: int, n_spammers: int, args: argparse.Namespace) -> None:
    golds = args.golds
    print(
        f"\n(b) Gold-based suspension: upper Wilson 95 % bound < {args.threshold} after ≥ {args.min_golds} golds, "
        f"{golds} golds each"
    )
    rng = np.random.default_rng(2)
    # One table of upper bounds through statistics.wilson_interval, then every annotator is a lookup.
    upper = np.ones((golds + 1, golds + 1))
    for n in range(1, golds + 1):
        for successes in range(n + 1):
            upper[n, successes] = wilson_interval(successes, n)[1]
    n_seen = np.arange(1, golds + 1)
    groups = (("good", n_good), ("mediocre", n_mediocre), ("uniform", n_spammers // 2), ("constant", n_spammers // 2))
    for kind, count in groups:
        crowd = make_crowd(count, rng, {kind: 1.0})
        workers = np.repeat(np.arange(count), golds)
        truth = rng.integers(0, N_LABELS, size=workers.size)
        correct = (draw_answers(crowd, workers, truth, rng) == truth).reshape(count, golds)
        bounds = upper[n_seen, correct.cumsum(axis=1)]
        suspend = (bounds < args.threshold) & (n_seen >= args.min_golds)
        ever = suspend.any(axis=1)
        at = np.where(ever, suspend.argmax(axis=1) + 1, 0)[ever]
        line = (
            f"  {kind:<9} {count:>6,} annotators: {ever.mean():7.2%} suspended within {golds} golds, "
            f"{np.mean(ever & (suspend.argmax(axis=1) < args.spammer_golds)):7.2%} within {args.spammer_golds}"
        )
        if at.size:
            line += f"; golds to suspension median {np.median(at):.0f}, p95 {np.percentile(at, 95):.0f}, max {at.max()}"
        print(line)


def bench_dynamic_overlap(n_tasks: int, n_workers: int, args: argparse.Namespace) -> None:
    print(
        f"\n(c) Dynamic overlap on {n_tasks:,} tasks, {n_workers:,} workers ({args.gold_per_worker} golds each): "
        f"start at --overlap, settle at posterior ≥ --target or {args.max_overlap} answers; against fixed 5"
    )
    rng = np.random.default_rng(3)
    crowd = make_crowd(n_workers, rng, mix(args))
    truth = rng.integers(0, N_LABELS, size=n_tasks)
    # Gold tasks are extra task indices after the real ones, answered by every worker, clamped in DS.
    n_gold = args.gold_per_worker * n_workers
    gold_workers = np.repeat(np.arange(n_workers), args.gold_per_worker)
    gold_truth = rng.integers(0, N_LABELS, size=n_gold)
    gold_labels = draw_answers(crowd, gold_workers, gold_truth, rng)
    gold_tasks = n_tasks + np.arange(n_gold)
    gold = dict(zip(gold_tasks.tolist(), gold_truth.tolist(), strict=True))
    sizes = {"n_tasks": n_tasks + n_gold, "n_workers": n_workers, "n_labels": N_LABELS}
    width = max(args.max_overlap, 5)
    # The same answer sheet for every strategy: answer j on task t is by worker seats[t, j].
    seats = distinct_workers(n_tasks, width, n_workers, rng)
    sheet = draw_answers(crowd, seats.ravel(), np.repeat(truth, width), rng).reshape(n_tasks, width)

    def consensus(answer_count: np.ndarray):
        keep = np.arange(width)[None, :] < answer_count[:, None]
        tasks = np.broadcast_to(np.arange(n_tasks)[:, None], seats.shape)[keep]
        all_tasks = np.concatenate([tasks, gold_tasks])
        all_workers = np.concatenate([seats[keep], gold_workers])
        all_labels = np.concatenate([sheet[keep], gold_labels])
        return all_tasks, all_workers, all_labels, dawid_skene(all_tasks, all_workers, all_labels, **sizes, gold=gold)

    started = time.perf_counter()
    fixed = np.full(n_tasks, 5)
    tasks5, workers5, labels5, ds5 = consensus(fixed)
    real = tasks5 < n_tasks
    vote5 = majority_vote(tasks5[real], workers5[real], labels5[real], n_tasks=n_tasks, n_workers=n_workers, n_labels=5)
    fixed_ds = np.mean(ds5.labels[:n_tasks] == truth)
    print(
        f"  fixed overlap 5: {5 * n_tasks:,} answers, accuracy majority vote {np.mean(vote5.labels == truth):.4f}, "
        f"Dawid-Skene {fixed_ds:.4f}"
    )
    for overlap, target in ((overlap, target) for overlap in args.overlap for target in args.target):
        count = np.full(n_tasks, overlap)
        rounds = 0
        while True:
            *_, result = consensus(count)
            rounds += 1
            open_tasks = (result.confidence[:n_tasks] < target) & (count < args.max_overlap)
            if not open_tasks.any():
                break
            count[open_tasks] += 1
        accuracy = np.mean(result.labels[:n_tasks] == truth)
        spent = count.sum()
        histogram = ", ".join(f"{k}: {np.mean(count == k):.1%}" for k in range(overlap, args.max_overlap + 1))
        print(
            f"  dynamic from {overlap}, target {target}: {spent:,} answers ({spent / (5 * n_tasks):.1%} of fixed 5), "
            f"accuracy {accuracy:.4f} ({accuracy - fixed_ds:+.4f} against fixed 5 with Dawid-Skene), "
            f"{rounds} Dawid-Skene runs; answers a task: {histogram}"
        )
    print(f"  (c) took {time.perf_counter() - started:.1f} s; gold answers, the same for all: {n_gold:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--good", type=float, default=0.6, help="share of good workers in the mix")
    parser.add_argument("--mediocre", type=float, default=0.25, help="share of mediocre workers (rest: spammers)")
    parser.add_argument("--threshold", type=float, default=0.6, help="(b) suspend below this upper Wilson bound")
    parser.add_argument("--min-golds", type=int, default=8, help="(b) golds before the rule applies")
    parser.add_argument("--golds", type=int, default=200, help="(b) golds per annotator")
    parser.add_argument("--spammer-golds", type=int, default=20, help="(b) golds within which spammers should go")
    parser.add_argument(
        "--target", type=lambda text: [float(x) for x in text.split(",")], default=[0.9, 0.95],
        help="(c) consensus posterior that settles a task, comma-separated to compare several (default 0.9,0.95)",
    )
    parser.add_argument("--max-overlap", type=int, default=7, help="(c) answers after which a task settles anyway")
    parser.add_argument(
        "--overlap", type=lambda text: [int(x) for x in text.split(",")], default=[3, 2],
        help="(c) initial answers a task, comma-separated to compare several (default 3,2)",
    )
    parser.add_argument("--gold-per-worker", type=int, default=10, help="(c) gold answers per worker")
    args = parser.parse_args()

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, {datetime.datetime.now():%Y-%m-%d %H:%M}"
        + (" (--quick)" if args.quick else "")
    )
    if args.quick:
        bench_dawid_skene(10_000, 200, args)
        bench_spammer_detection(1_000, 200, 200, args)
        bench_dynamic_overlap(5_000, 100, args)
    else:
        bench_dawid_skene(100_000, 2_000, args)
        bench_spammer_detection(10_000, 2_000, 2_000, args)
        bench_dynamic_overlap(100_000, 1_000, args)


if __name__ == "__main__":
    main()

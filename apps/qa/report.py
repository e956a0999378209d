"""GET /projects/{id}/quality: agreement per control, consensus confidence, per-annotator table, flags, firings.

Agreement is computed from the stored annotations (single-answer categorical controls: Fleiss' kappa,
Krippendorff's alpha and mean pairwise Cohen's kappa; every control: the mean of the tasks' stored agreement),
and cached until the project gets a new annotation or consensus run.
"""

import hashlib
from collections import defaultdict
from itertools import combinations

import numpy as np
from django.core.cache import cache
from django.db.models import Avg, Count, Max

from apps.tasks.annotations import project_spec
from apps.tasks.models import Annotation, Flag, Task

from . import agreement
from .annotator_stats import accuracy
from .models import AnnotatorStats, GoldConfusion, RuleFiring
from .task_consensus import COUNTED_SOURCES, categorical_key, is_single_categorical

MAX_ANNOTATIONS = 500_000  # above this the categorical metrics use the newest annotations only
CACHE_SECONDS = 300


def _categorical_agreement(project, compiled) -> dict:
    rows = list(Annotation.objects.filter(project=project, source__in=COUNTED_SOURCES, author__isnull=False)
                .exclude(status=Annotation.Status.REJECTED).order_by("-id")
                .values_list("task_id", "author_id", "result")[:MAX_ANNOTATIONS])
    out = {}
    for control in compiled.controls.values():
        if not is_single_categorical(control):
            continue
        by_task: dict[int, dict[int, str]] = defaultdict(dict)
        for task_id, author, result in rows:
            key = categorical_key(control, result)
            if key is not None:
                by_task[task_id][author] = key
        labels = sorted({k for answers in by_task.values() for k in answers.values()})
        index = {label: i for i, label in enumerate(labels)}
        units = [[index[k] for k in answers.values()] for answers in by_task.values() if len(answers) >= 2]
        entry = {"tasks_with_two_or_more": len(units), "fleiss_kappa": None, "krippendorff_alpha": None,
                 "cohen_kappa_mean": None, "confusion": None}
        if units:
            counts = np.zeros((len(units), len(labels)))
            for row, unit in enumerate(units):
                for label in unit:
                    counts[row, label] += 1
            entry["fleiss_kappa"] = _finite(agreement.fleiss_kappa(counts))
            entry["krippendorff_alpha"] = _finite(agreement.krippendorff_alpha_nominal(units))
            entry["cohen_kappa_mean"] = _cohen_mean(by_task)
            matrix = np.zeros((len(labels), len(labels)), dtype=int)
            for answers in by_task.values():
                for a, b in combinations(list(answers.values()), 2):
                    matrix[index[a], index[b]] += 1
                    matrix[index[b], index[a]] += 1
            entry["confusion"] = {"labels": [label.replace("\x1f", " / ") for label in labels],
                                  "counts": matrix.tolist()}
        out[control.name] = entry
    return out


def _cohen_mean(by_task, min_shared: int = 5) -> float | None:
    """Mean Cohen's kappa over annotator pairs who labelled at least `min_shared` tasks in common."""
    per_author: dict[int, dict[int, str]] = defaultdict(dict)
    for task_id, answers in by_task.items():
        for author, key in answers.items():
            per_author[author][task_id] = key
    authors = sorted(per_author)
    if len(authors) > 60:  # pairs grow quadratically; the busiest annotators stand for the crowd
        authors = sorted(authors, key=lambda a: -len(per_author[a]))[:60]
    kappas = []
    for a, b in combinations(authors, 2):
        shared = sorted(set(per_author[a]) & set(per_author[b]))
        if len(shared) >= min_shared:
            value = _finite(agreement.cohen_kappa([per_author[a][t] for t in shared],
                                                  [per_author[b][t] for t in shared]))
            if value is not None:
                kappas.append(value)
    return float(np.mean(kappas)) if kappas else None


def _finite(value):
    return None if value is None or not np.isfinite(value) else float(value)


def _gold_confusion(project) -> dict[int, dict]:
    """Per annotator: {control: {truth: {answer: count}}} against gold."""
    out: dict[int, dict] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for row in GoldConfusion.objects.filter(project=project):
        out[row.annotator_id][row.control][row.truth][row.answer or "(none)"] = row.count
    return out


def _annotators(project) -> list[dict]:
    confusion = _gold_confusion(project)
    rows = []
    for stats in (AnnotatorStats.objects.filter(project=project).select_related("annotator")
                  .order_by("annotator__email")):
        gold = accuracy(stats)
        rows.append({
            "annotator": stats.annotator.email, "annotator_id": stats.annotator_id,
            "annotations": stats.annotations, "gold_seen": gold["gold_seen"], "gold_correct": gold["gold_correct"],
            "accuracy": gold["accuracy"], "accuracy_low": gold["low"], "accuracy_high": gold["high"],
            "mean_gold_score": stats.gold_score_sum / stats.gold_seen if stats.gold_seen else None,
            "agreement_with_consensus": (stats.consensus_agreed / stats.consensus_seen
                                         if stats.consensus_seen else None),
            "dawid_skene_accuracy": stats.dawid_skene_accuracy,
            "mean_lead_time_ms": (stats.lead_time_sum_ms / stats.lead_time_count if stats.lead_time_count else None),
            "median_lead_time_ms": stats.lead_time_median_ms,
            "skips": stats.skips, "weight": stats.weight, "review_all": stats.review_all,
            "gold_confusion": confusion.get(stats.annotator_id, {}),
        })
    return rows


def quality_report(*, project) -> dict:
    marker = Annotation.objects.filter(project=project).aggregate(n=Count("id"), last=Max("updated_at"))
    consensus_marker = Task.objects.filter(project=project).aggregate(c=Avg("consensus_confidence"),
                                                                      a=Avg("agreement"))
    state = f"{project.schema_version}:{marker['n']}:{marker['last']}:{consensus_marker['c']}:{consensus_marker['a']}"
    key = f"qa:report:{project.pk}:{hashlib.blake2b(state.encode(), digest_size=16).hexdigest()}"
    cached = cache.get(key)
    if cached is None:
        cached = _compute(project)
        cache.set(key, cached, CACHE_SECONDS)
    cached = dict(cached)
    cached["annotators"] = _annotators(project)  # moves on every submit: never cached
    cached["flags"] = _flags(project)
    cached["rule_firings"] = [
        {"id": f.pk, "rule": f.rule_id, "annotator": f.annotator.email, "action": f.action, "value": f.value,
         "samples": f.samples, "created_at": f.created_at, "reverted_at": f.reverted_at}
        for f in RuleFiring.objects.filter(project=project).select_related("annotator").order_by("-id")[:100]
    ]
    return cached


def _flags(project) -> dict:
    open_flags = Flag.objects.filter(project=project, resolved_at__isnull=True)
    return {"open": open_flags.count(),
            "by_kind": dict(open_flags.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))}


def _compute(project) -> dict:
    compiled = project_spec(project)
    tasks = Task.objects.filter(project=project, is_gold=False)
    confidences = np.array([c for c in tasks.filter(consensus_confidence__isnull=False)
                            .values_list("consensus_confidence", flat=True)], dtype=float)
    histogram, edges = np.histogram(confidences, bins=10, range=(0.0, 1.0))
    per_task = tasks.filter(agreement__isnull=False).aggregate(mean=Avg("agreement"), n=Count("id"))
    methods = dict(tasks.exclude(consensus_method="").values_list("consensus_method").annotate(n=Count("id"))
                   .values_list("consensus_method", "n"))
    return {
        "project": project.pk,
        "agreement": {"per_control": _categorical_agreement(project, compiled),
                      "task_agreement_mean": per_task["mean"], "tasks_with_agreement": per_task["n"]},
        "consensus": {"tasks": int(confidences.size), "methods": methods,
                      "confidence_mean": float(confidences.mean()) if confidences.size else None,
                      "confidence_histogram": {"edges": [round(e, 2) for e in edges.tolist()],
                                               "counts": histogram.tolist()},
                      "below_target": int((confidences < float(project.settings.get("consensus_target", 0))).sum())},
    }

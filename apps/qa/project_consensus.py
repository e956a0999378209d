"""A whole project's consensus as a job: Dawid-Skene or majority vote over every single-answer categorical
control at once (gold answers clamped as observed truth), region merges and the rest per task, written back in
bulk; the annotators' confusion matrices and agreement with the consensus are kept for later submits.

`auto` picks, per control, the method that scores best on held-out gold (two folds); without enough gold it
uses Dawid-Skene once annotators have answered enough tasks for their confusion matrices to mean something.
"""

from collections import defaultdict

import numpy as np
from django.db import transaction
from django.utils import timezone

from apps.tasks import services as task_services
from apps.tasks.annotations import project_spec
from apps.tasks.models import Annotation, Task

from . import consensus, task_consensus
from .models import AnnotatorStats, WorkerModel
from .task_consensus import COUNTED_SOURCES, Answer, categorical_item, categorical_key, is_single_categorical

METHODS = ("majority", "dawid_skene", "auto")
MIN_GOLD_FOR_AUTO = 10
MIN_ANSWERS_PER_WORKER = 5


def _load(project):
    """{task_id: [Answer]} of every counted annotation, and {task_id: gold_result} of the gold tasks."""
    answers: dict[int, list[Answer]] = defaultdict(list)
    rows = (Annotation.objects.filter(project=project, source__in=COUNTED_SOURCES, author__isnull=False)
            .exclude(status=Annotation.Status.REJECTED).order_by("task_id", "id")
            .values_list("task_id", "author_id", "result").iterator(chunk_size=5000))
    for task_id, author_id, result in rows:
        answers[task_id].append(Answer(author_id, result))
    gold = dict(Task.objects.filter(project=project, is_gold=True, gold_result__isnull=False)
                .values_list("id", "gold_result"))
    return answers, gold


def _run(method: str, arrays, n_tasks, n_workers, n_labels, gold_idx):
    tasks, workers, labels = arrays
    if method == "majority":
        found = consensus.majority_vote(tasks, workers, labels, n_tasks=n_tasks, n_workers=n_workers,
                                        n_labels=n_labels)
        for task, label in gold_idx.items():  # gold is the truth, whatever the vote says
            found.labels[task] = label
            found.confidence[task] = 1.0
        return found
    return consensus.dawid_skene(tasks, workers, labels, n_tasks=n_tasks, n_workers=n_workers, n_labels=n_labels,
                                 gold=gold_idx or None, init="gold" if gold_idx else "majority")


def _choose(arrays, n_tasks, n_workers, n_labels, gold_idx) -> tuple[str, dict]:
    """`auto`: two-fold cross-validation on gold, else Dawid-Skene when workers answered enough."""
    scores: dict[str, float] = {}
    if len(gold_idx) >= MIN_GOLD_FOR_AUTO:
        items = sorted(gold_idx.items())
        rng = np.random.default_rng(0)
        order = rng.permutation(len(items))
        folds = [order[::2], order[1::2]]
        for method in ("majority", "dawid_skene"):
            correct = total = 0
            for held in folds:
                held_set = {items[i][0] for i in held}
                train = {t: label for t, label in items if t not in held_set}
                found = _run(method, arrays, n_tasks, n_workers, n_labels, train)
                for t in held_set:
                    correct += int(found.labels[t] == gold_idx[t])
                    total += 1
            scores[method] = correct / total if total else 0.0
        best = "dawid_skene" if scores["dawid_skene"] >= scores["majority"] else "majority"
        return best, scores
    per_worker = np.bincount(arrays[1], minlength=n_workers)
    enough = per_worker[per_worker > 0].mean() >= MIN_ANSWERS_PER_WORKER if per_worker.any() else False
    return ("dawid_skene" if enough else "majority"), scores


def _categorical(project, control, answers, gold, method):
    """Run one control project-wide; returns ({task_id: (item, confidence, method, tied)}, report, models)."""
    task_ids = sorted(answers)
    label_set = set(task_consensus.control_labels_of(control))
    keyed = []
    for t_index, task_id in enumerate(task_ids):
        for answer in answers[task_id]:
            key = categorical_key(control, answer.result)
            if key is not None:
                keyed.append((t_index, answer.author_id, key))
                label_set.add(key)
    gold_keys = {}
    for task_id, result in gold.items():
        key = categorical_key(control, result)
        if key is not None:
            gold_keys[task_id] = key
            label_set.add(key)
    if not keyed:
        return {}, {"method": None}, {}
    labels = sorted(label_set)
    label_index = {label: i for i, label in enumerate(labels)}
    authors = sorted({author for _, author, _ in keyed})
    author_index = {author: i for i, author in enumerate(authors)}
    arrays = (np.fromiter((t for t, _, _ in keyed), dtype=np.int64, count=len(keyed)),
              np.fromiter((author_index[a] for _, a, _ in keyed), dtype=np.int64, count=len(keyed)),
              np.fromiter((label_index[k] for _, _, k in keyed), dtype=np.int64, count=len(keyed)))
    task_pos = {task_id: i for i, task_id in enumerate(task_ids)}
    gold_idx = {task_pos[t]: label_index[k] for t, k in gold_keys.items() if t in task_pos}
    scores: dict = {}
    chosen = method
    if method == "auto":
        chosen, scores = _choose(arrays, len(task_ids), len(authors), len(labels), gold_idx)
    found = _run(chosen, arrays, len(task_ids), len(authors), len(labels), gold_idx)
    out = {}
    answered = np.bincount(arrays[0], minlength=len(task_ids)) > 0
    for i, task_id in enumerate(task_ids):
        if answered[i]:
            out[task_id] = (categorical_item(control, labels[int(found.labels[i])]), float(found.confidence[i]),
                            chosen, bool(found.tied[i]))
    models = {}
    if chosen == "dawid_skene" and getattr(found, "worker_confusion", None) is not None:
        priors = found.class_prior
        for author, w in author_index.items():
            models[author] = (labels, found.worker_confusion[w].tolist(), (priors.tolist() if priors is not None
                                                                           else None),
                              float(found.worker_accuracy[w]))
    agreed = defaultdict(lambda: [0, 0])
    for t_index, author, key in keyed:
        agreed[author][0] += 1
        agreed[author][1] += int(label_index[key] == int(found.labels[t_index]))
    report = {"method": chosen, "labels": len(labels), "answers": len(keyed), "annotators": len(authors),
              "gold": len(gold_idx), "held_out_gold_accuracy": scores or None}
    return out, report, {"models": models, "agreed": dict(agreed)}


def consensus_project(*, project, method: str = "auto", progress=None) -> dict:
    """Recompute every task's consensus in the project; returns a summary per control."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    compiled = project_spec(project)
    answers, gold = _load(project)
    if progress:
        progress(0.2, f"{sum(len(a) for a in answers.values())} annotations on {len(answers)} tasks")
    overrides: dict[int, dict] = defaultdict(dict)
    summary = {}
    agreed_total: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    ds_accuracy: dict[int, list[float]] = defaultdict(list)
    with transaction.atomic():
        for control in compiled.controls.values():
            if not is_single_categorical(control):
                continue
            per_task, report, extra = _categorical(project, control, answers, gold, method)
            summary[control.name] = report
            for task_id, value in per_task.items():
                overrides[task_id][control.name] = value
            WorkerModel.objects.filter(project=project, control=control.name).delete()
            now = timezone.now()
            WorkerModel.objects.bulk_create([
                WorkerModel(project=project, annotator_id=author, control=control.name, labels=labels,
                            confusion=confusion, class_priors=priors, accuracy=accuracy, updated_at=now)
                for author, (labels, confusion, priors, accuracy) in extra.get("models", {}).items()
                if priors is not None
            ])
            for author, (seen, ok) in extra.get("agreed", {}).items():
                agreed_total[author][0] += seen
                agreed_total[author][1] += ok
            for author, (_, _, _, accuracy) in extra.get("models", {}).items():
                ds_accuracy[author].append(accuracy)
        if progress:
            progress(0.6, "categorical controls done; merging the rest per task")
        rows = []
        weights = _all_weights(project, {a.author_id for task in answers.values() for a in task})
        for task_id, task_answers in answers.items():
            found = task_consensus.compute(project, compiled, task_answers, categorical_override=overrides[task_id],
                                           weights=weights, use_models=False)
            rows.append((task_id, found.result, found.confidence, found.method, found.agreement))
        task_services.tasks_consensus_bulk(rows=rows)
        for author, (seen, ok) in agreed_total.items():
            AnnotatorStats.objects.update_or_create(
                organization_id=project.organization_id, project_id=project.pk, annotator_id=author,
                defaults={"consensus_seen": seen, "consensus_agreed": ok, "updated_at": timezone.now(),
                          "dawid_skene_accuracy": (float(np.mean(ds_accuracy[author])) if ds_accuracy.get(author)
                                                   else None)},
            )
    from .outliers import annotators_refresh

    annotators_refresh(project=project)
    return {"tasks": len(rows), "controls": summary}


def _all_weights(project, author_ids) -> dict[int, float]:
    from .annotator_stats import reliability

    stats = {s.annotator_id: s for s in AnnotatorStats.objects.filter(project=project, annotator_id__in=author_ids)}
    return {author: reliability(stats.get(author)) for author in author_ids}

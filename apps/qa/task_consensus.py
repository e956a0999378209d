"""Consensus per task, from its annotations: incrementally after a submit, and for a whole project as a job.

Per control type: single-answer choices (flat or a taxonomy path) by Dawid-Skene (the project job; after a
submit, one E-step with the annotators' stored confusion matrices) or by a reliability-weighted majority vote;
multi-choice label by label; boxes, polygons, keypoints and spans by clustering regions across annotators
(apps.qa.regions); ratings by the weighted median; transcriptions by the medoid. A task's confidence is its
least certain control's, so dynamic overlap asks for one more annotator until every control is settled.
"""

from dataclasses import dataclass, field

import numpy as np

from apps.tasks import services as task_services
from apps.tasks.annotations import project_spec
from apps.tasks.models import Annotation, Task

from . import agreement, annotator_stats, regions
from .models import AnnotatorStats, WorkerModel

CATEGORICAL = ("choices", "taxonomy")
REGION_TYPES = ("rectanglelabels", "polygonlabels", "keypointlabels", "labels", "hypertextlabels", "paragraphlabels")
SEP = "\x1f"  # joins a taxonomy path into one key; labels cannot hold control characters
COUNTED_SOURCES = (Annotation.Source.HUMAN, Annotation.Source.IMPORT, Annotation.Source.REVIEW)


@dataclass
class Answer:
    author_id: int
    result: list


@dataclass
class TaskConsensus:
    result: list = field(default_factory=list)
    confidence: float | None = None
    agreement: float | None = None
    method: str = ""
    tied: bool = False


def _items(result, control_name: str) -> list[dict]:
    return [item for item in result or [] if isinstance(item, dict) and item.get("from_name") == control_name]


def categorical_key(control, result) -> str | None:
    """One annotation's single answer for a categorical control, as a string key (a path joined by SEP)."""
    items = _items(result, control.name)
    if len(items) != 1:
        return None
    picks = (items[0].get("value") or {}).get(control.result_type) or []
    if len(picks) != 1:
        return None
    pick = picks[0]
    if isinstance(pick, list):
        return SEP.join(str(p) for p in pick)
    if control.hierarchical and control.result_type == "choices":
        return SEP.join(control.path_of.get(pick, [pick]))
    return str(pick)


def categorical_item(control, key: str) -> dict:
    pick = key.split(SEP) if (control.hierarchical or control.result_type == "taxonomy") else key
    return {"id": f"consensus-{control.name}", "from_name": control.name, "to_name": control.to,
            "type": control.result_type, "value": {control.result_type: [pick]}, "origin": "consensus"}


def is_single_categorical(control) -> bool:
    return control.result_type in CATEGORICAL and not control.multiple and not control.per_region


def _weights(project_id: int, author_ids) -> dict[int, float]:
    stats = {s.annotator_id: s for s in AnnotatorStats.objects.filter(project_id=project_id,
                                                                      annotator_id__in=set(author_ids))}
    return {author: annotator_stats.reliability(stats.get(author)) for author in set(author_ids)}


def _worker_models(project_id: int, control_name: str, author_ids) -> dict[int, WorkerModel]:
    return {m.annotator_id: m for m in WorkerModel.objects.filter(project_id=project_id, control=control_name,
                                                                  annotator_id__in=set(author_ids))}


def _single_categorical(control, answers, weights, models) -> tuple[dict | None, float, float | None, str, bool]:
    keyed = [(a.author_id, categorical_key(control, a.result)) for a in answers]
    keyed = [(author, key) for author, key in keyed if key is not None]
    if not keyed:
        return None, 1.0, None, "", False
    labels = [key for _, key in keyed]
    agree = agreement.task_agreement(labels)
    model_labels = next(iter(models.values())).labels if models else None
    if models and all(author in models for author, _ in keyed) and all(k in model_labels for k in labels):
        # One Dawid-Skene E-step with the annotators' confusion matrices from the last project run.
        priors = np.asarray(next(iter(models.values())).class_priors, dtype=float)
        log_post = np.log(np.clip(priors, 1e-12, None))
        for author, key in keyed:
            confusion = np.asarray(models[author].confusion, dtype=float)
            log_post = log_post + np.log(np.clip(confusion[:, model_labels.index(key)], 1e-12, None))
        post = np.exp(log_post - log_post.max())
        post /= post.sum()
        best = int(np.argmax(post))
        ordered = np.sort(post)
        tied = len(post) > 1 and ordered[-1] - ordered[-2] < 1e-9
        return categorical_item(control, model_labels[best]), float(post[best]), agree, "dawid_skene", tied
    item, confidence, method, tied = _weighted_vote(control, keyed, weights)
    return item, confidence, agree, method, tied


def _weighted_vote(control, keyed, weights) -> tuple[dict, float, str, bool]:
    """The one-coin posterior of a vote: each annotator is right with probability r (their reliability) and
    otherwise picks any other label alike; uniform prior over the control's labels. Unlike a vote share, one
    answer from an unproven annotator is not certainty (r = 2/3 gives 0.67), so dynamic overlap asks again.
    Annotators of zero weight are left out."""
    voters = [(key, min(0.99, max(0.01, weights.get(author, 2 / 3)))) for author, key in keyed
              if weights.get(author, 2 / 3) > 0]
    if not voters:  # every voter has zero weight: count them equally
        voters = [(key, 2 / 3) for _, key in keyed]
    candidates = sorted({key for key, _ in voters})
    n_labels = max(2, len(candidates), len(control_labels_of(control)))
    log_post = {k: sum(np.log(r) if key == k else np.log((1 - r) / (n_labels - 1)) for key, r in voters)
                for k in candidates}
    unvoted = sum(np.log((1 - r) / (n_labels - 1)) for _, r in voters)
    top = max(max(log_post.values()), unvoted)
    mass = {k: float(np.exp(v - top)) for k, v in log_post.items()}
    total = sum(mass.values()) + (n_labels - len(candidates)) * float(np.exp(unvoted - top))
    ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))
    tied = len(ranked) > 1 and abs(ranked[0][1] - ranked[1][1]) <= 1e-9 * max(1.0, ranked[0][1])
    return categorical_item(control, ranked[0][0]), ranked[0][1] / total, "weighted_vote", tied


def control_labels_of(control) -> list[str]:
    if control.hierarchical or control.result_type == "taxonomy":
        return [SEP.join(path) for path in control.selectable_paths]
    return sorted(control.labels)


def _multi_choice(control, answers, weights):
    sets = []
    for answer in answers:
        items = _items(answer.result, control.name)
        if items:
            picks = (items[0].get("value") or {}).get(control.result_type) or []
            sets.append((answer.author_id, {SEP.join(p) if isinstance(p, list) else str(p) for p in picks}))
    if not sets:
        return None, 1.0, None
    total = sum(weights.get(author, 2 / 3) for author, _ in sets) or float(len(sets))
    labels = sorted(set().union(*(s for _, s in sets)))
    chosen, certainty = [], []
    for label in labels:
        share = sum(weights.get(author, 2 / 3) for author, s in sets if label in s) / total
        certainty.append(max(share, 1 - share))
        if share >= 0.5:
            chosen.append(label.split(SEP) if SEP in label else label)
    pair_scores = [len(a & b) / len(a | b) if a | b else 1.0
                   for i, (_, a) in enumerate(sets) for _, b in sets[i + 1:]]
    agree = float(np.mean(pair_scores)) if pair_scores else None
    item = {"id": f"consensus-{control.name}", "from_name": control.name, "to_name": control.to,
            "type": control.result_type, "value": {control.result_type: chosen}, "origin": "consensus"}
    return item, float(np.mean(certainty)) if certainty else 1.0, agree


def _rating(control, answers, weights):
    votes = []
    for answer in answers:
        items = _items(answer.result, control.name)
        if items and isinstance((items[0].get("value") or {}).get("rating"), int | float):
            votes.append((items[0]["value"]["rating"], weights.get(answer.author_id, 2 / 3) or 1e-9))
    if not votes:
        return None, 1.0, None
    votes.sort()
    total = sum(w for _, w in votes)
    running, median = 0.0, votes[-1][0]
    for value, weight in votes:
        running += weight
        if running >= total / 2:
            median = value
            break
    share = sum(w for v, w in votes if v == median) / total
    values = [v for v, _ in votes]
    agree = agreement.task_agreement(values) if len(values) > 1 else None
    item = {"id": f"consensus-{control.name}", "from_name": control.name, "to_name": control.to, "type": "rating",
            "value": {"rating": median}, "origin": "consensus"}
    return item, share, agree


def _textarea(control, answers, weights):
    from rapidfuzz.distance import Levenshtein

    texts = []
    for answer in answers:
        items = _items(answer.result, control.name)
        if items:
            texts.append("\n".join(str(t) for t in (items[0].get("value") or {}).get("text") or []))
    if not texts:
        return None, 1.0, None
    if len(texts) == 1:
        best, spread = 0, 0.0
    else:
        distances = np.array([[Levenshtein.normalized_distance(a, b) for b in texts] for a in texts])
        best = int(np.argmin(distances.sum(axis=1)))
        spread = float(distances[best].sum() / (len(texts) - 1))
    agree = None if len(texts) < 2 else 1 - float(np.mean(
        [Levenshtein.normalized_distance(a, b) for i, a in enumerate(texts) for b in texts[i + 1:]]))
    item = {"id": f"consensus-{control.name}", "from_name": control.name, "to_name": control.to,
            "type": "textarea", "value": {"text": [texts[best]]}, "origin": "consensus"}
    return item, 1 - spread, agree


def compute(project, compiled, answers: list[Answer], *, categorical_override: dict | None = None,
            weights: dict[int, float] | None = None, use_models: bool = True) -> TaskConsensus:
    """The consensus of one task's answers. `categorical_override` maps a control name to a precomputed
    (item, confidence, method, tied) from a project-wide run."""
    if not answers:
        return TaskConsensus()
    authors = [a.author_id for a in answers]
    weights = weights if weights is not None else _weights(project.pk, authors)
    iou = float(project.settings.get("iou_threshold", 0.5))
    out = TaskConsensus()
    confidences, agreements, methods = [], [], set()
    for control in compiled.controls.values():
        if control.type == "relation" or control.per_region:
            continue  # relations and per-region classifications follow their regions; not voted on alone
        item, confidence, agree, method = None, None, None, ""
        if is_single_categorical(control):
            override = (categorical_override or {}).get(control.name)
            keys = [categorical_key(control, a.result) for a in answers]
            agree = agreement.task_agreement([k for k in keys if k is not None])
            if override is not None:
                item, confidence, method, tied = override
                out.tied = out.tied or tied
            else:
                wanted = use_models and project.settings.get("consensus_method") != "majority"
                models = _worker_models(project.pk, control.name, authors) if wanted else {}
                item, confidence, agree, method, tied = _single_categorical(control, answers, weights, models)
                out.tied = out.tied or tied
        elif control.result_type in CATEGORICAL:
            item, confidence, agree = _multi_choice(control, answers, weights)
            method = "majority"
        elif control.result_type in REGION_TYPES:
            per_annotator = [_items(a.result, control.name) for a in answers]
            if not any(per_annotator):
                continue
            merged = regions.merge_regions(per_annotator, [weights.get(a, 2 / 3) for a in authors], control,
                                           iou_threshold=iou)
            out.result.extend(merged.items)
            confidence = merged.confidence
            agree = regions.pairwise_agreement(per_annotator, control, iou_threshold=iou)
            method = "region_merge"
        elif control.result_type == "rating":
            item, confidence, agree = _rating(control, answers, weights)
            method = "weighted_median"
        elif control.result_type == "textarea":
            item, confidence, agree = _textarea(control, answers, weights)
            method = "medoid"
        else:
            continue
        if item is not None:
            out.result.append(item)
        if confidence is not None and (item is not None or method == "region_merge"):
            confidences.append(confidence)
        if agree is not None:
            agreements.append(agree)
        if method:
            methods.add(method)
    out.confidence = min(confidences) if confidences else None
    out.agreement = float(np.mean(agreements)) if agreements else None
    out.method = "+".join(sorted(methods))
    return out


def task_answers(task_id: int) -> list[Answer]:
    rows = (Annotation.objects.filter(task_id=task_id, source__in=COUNTED_SOURCES, author__isnull=False)
            .exclude(status=Annotation.Status.REJECTED).order_by("id").values_list("author_id", "result"))
    return [Answer(author, result) for author, result in rows]


def task_consensus_update(*, task: Task, project) -> TaskConsensus | None:
    """Recompute one task's consensus and store it; then dynamic overlap: below the project's consensus target
    the task asks for one more annotator, up to max_overlap, and is flagged when it still cannot settle."""
    if task.target_annotations <= 1 and int(project.settings.get("max_overlap", 1)) <= 1:
        return None  # one annotator and no dynamic overlap: the annotation is the label, nothing to vote on
    answers = task_answers(task.pk)
    compiled = project_spec(project)
    found = compute(project, compiled, answers)
    task_services.task_consensus_set(task_id=task.pk, result=found.result, confidence=found.confidence,
                                     method=found.method, agreement=found.agreement)
    dynamic_overlap(task=task, project=project, found=found, answers=len(answers))
    return found


def dynamic_overlap(*, task: Task, project, found: TaskConsensus, answers: int) -> None:
    settings = project.settings
    if task.is_gold or answers < task.target_annotations or found.confidence is None:
        return
    if found.confidence >= float(settings.get("consensus_target", 0)) and not found.tied:
        return
    if task_services.task_target_raise(task_id=task.pk, max_target=int(settings.get("max_overlap", 1))):
        return
    reason = (f"consensus confidence {found.confidence:.2f} is below the target {settings.get('consensus_target')} "
              f"after {answers} annotations (max_overlap reached)" if not found.tied
              else f"annotators are tied after {answers} annotations (max_overlap reached)")
    task_services.flag_raise(task_id=task.pk, project_id=task.project_id, organization_id=task.organization_id,
                             kind="low_agreement", reason=reason)


"""Agreement and consensus of region controls (boxes, polygons, spans, keypoints) across a task's annotators.

Consensus clusters the regions of all annotators: annotators are taken by weight (the most reliable
first, ties in input order), and each one's regions join the existing clusters by a one-to-one
matching on their mean similarity to the cluster's members (IoU for boxes, polygons and spans,
exp(-d²/2σ²) for keypoints), at least `iou_threshold`; the rest start clusters of their own. A cluster
so holds at most one region per annotator, and only regions sharing a label cluster. A cluster is kept
when the annotators in it hold at least half of the total weight (annotators who drew nothing count in
the total).

Confidence is the mean over all clusters of how much of the weight agrees with what the consensus did
with that cluster: support × mean similarity within the cluster for a kept one, 1 − support for a
dropped one (that much weight agreed there was nothing there). A stray region drawn by one annotator
out of five so costs less than a region drawn by half of them, and the value does not jump at the keep
threshold. When nobody drew anything the confidence is 1.0; a kept region drawn by a lone annotator has
support 1 and similarity 1.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from apps.projects.label_spec import REGION_TYPES, CompiledControl

from . import geometry
from .scoring import (
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_SIGMA,
    SpanMode,
    image_size,
    region_labels,
    region_similarity,
    score_regions,
    span_key,
)

KEEP_SHARE = 0.5  # a cluster is kept when at least this share of the weight drew it
_TOLERANCE = 1e-9  # weight shares are sums of floats: 0.3 + 0.2 must reach 0.5


@dataclass(frozen=True, slots=True)
class RegionConsensus:
    items: list[dict]  # Label Studio region items of the control
    confidence: float  # in [0, 1]


@dataclass(slots=True)
class _Region:
    index: int  # in the flat list of every annotator's regions (the similarity matrix)
    annotator: int
    item: dict
    labels: tuple[str, ...]


def _check_control(control: CompiledControl) -> None:
    if control.type not in REGION_TYPES:
        raise ValueError(f"control {control.name!r} ({control.type}) does not draw regions")


def _control_items(result: Sequence[dict] | None, control: CompiledControl) -> list[dict]:
    """The control's region items of one annotator's result (the whole result or only this control's)."""
    return [item for item in result or () if isinstance(item, dict) and item.get("from_name") == control.name
            and item.get("type") == control.result_type and isinstance(item.get("value"), dict)]


def pairwise_agreement(results_by_annotator: Sequence[Sequence[dict]], control: CompiledControl, *,
                       iou_threshold: float = DEFAULT_IOU_THRESHOLD, span_mode: SpanMode = "exact",
                       sigma: float = DEFAULT_SIGMA) -> float | None:
    """Mean over annotator pairs of their F1 (IoU-matched boxes and polygons, exact or overlapping spans) or
    OKS (keypoints), as scoring against gold computes it; None with fewer than two annotators."""
    _check_control(control)
    results = [_control_items(result, control) for result in results_by_annotator]
    if len(results) < 2:
        return None
    scores = [score_regions(a, b, control, iou_threshold=iou_threshold, span_mode=span_mode, sigma=sigma)
              for a, b in combinations(results, 2)]
    return sum(scores) / len(scores)


def _weights(weights: Sequence[float], count: int) -> list[float]:
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} annotators")
    cleaned = [float(weight) if isinstance(weight, int | float) and math.isfinite(weight) and weight > 0 else 0.0
               for weight in weights]
    return cleaned if sum(cleaned) > 0 else [1.0] * count  # no reliability known: everyone counts the same


def _cluster(regions: list[_Region], similarity: np.ndarray, order: list[int], *,
             threshold: float) -> list[list[_Region]]:
    clusters: list[list[_Region]] = []
    by_annotator: dict[int, list[_Region]] = {}
    for region in regions:
        by_annotator.setdefault(region.annotator, []).append(region)
    for annotator in order:
        mine = by_annotator.get(annotator, [])
        if not mine:
            continue
        matched: set[int] = set()
        if clusters:
            scores = np.zeros((len(mine), len(clusters)))
            for col, members in enumerate(clusters):
                seed = set(members[0].labels)
                indexes = [member.index for member in members]
                for row, region in enumerate(mine):
                    if seed.intersection(region.labels):  # regions of different labels never cluster
                        scores[row, col] = similarity[region.index, indexes].mean()
            for row, col, _ in geometry.match(scores, threshold=threshold):
                clusters[col].append(mine[row])
                matched.add(row)
        clusters.extend([region] for row, region in enumerate(mine) if row not in matched)
    return clusters


def _medoid(members: list[_Region], similarity: np.ndarray, weights: list[float]) -> _Region:
    """The member with the highest weighted mean similarity to the others (ties: the heavier, then the first)."""
    if len(members) == 1:
        return members[0]
    best, best_key = members[0], None
    for position, member in enumerate(members):
        others = [other for other in members if other is not member]
        total = sum(weights[other.annotator] for other in others)
        agreement = sum(weights[other.annotator] * similarity[member.index, other.index] for other in others)
        key = (agreement / total if total else 0.0, weights[member.annotator], -position)
        if best_key is None or key > best_key:
            best, best_key = member, key
    return best


def _weighted_mean(values: list[float], weights: list[float]) -> float:
    return sum(value * weight for value, weight in zip(values, weights, strict=True)) / sum(weights)


def _merged_value(members: list[_Region], similarity: np.ndarray, weights: list[float],
                  control: CompiledControl) -> dict:
    """The cluster's region: boxes and keypoints averaged by weight, polygons the medoid, spans the one the
    most weight drew exactly (the medoid when no such span is shared by two annotators or more)."""
    member_weights = [weights[member.annotator] for member in members]
    if sum(member_weights) <= 0:
        member_weights = [1.0] * len(members)
    values = [member.item["value"] for member in members]
    if control.type == "bbox":
        merged = dict(values[0])
        for key in ("x", "y", "width", "height"):
            merged[key] = _weighted_mean([float(value[key]) for value in values], member_weights)
        # Angles average on the circle (359° and 1° make 0°, not 180°).
        angles = [math.radians(value.get("rotation") or 0) for value in values]
        sin = _weighted_mean([math.sin(angle) for angle in angles], member_weights)
        cos = _weighted_mean([math.cos(angle) for angle in angles], member_weights)
        merged["rotation"] = round(math.degrees(math.atan2(sin, cos)), 9) % 360 if any(angles) else 0
        return merged
    if control.type == "keypoints":
        merged = dict(values[0])
        for key in ("x", "y"):
            merged[key] = _weighted_mean([float(value[key]) for value in values], member_weights)
        return merged
    if control.type == "polygon":
        return dict(_medoid(members, similarity, weights).item["value"])
    votes: dict[tuple, float] = {}
    voters: dict[tuple, int] = {}
    first: dict[tuple, dict] = {}
    for member, weight in zip(members, member_weights, strict=True):
        key = span_key(member.item["value"], control)
        votes[key] = votes.get(key, 0.0) + weight
        voters[key] = voters.get(key, 0) + 1
        first.setdefault(key, member.item["value"])
    ranked = sorted(votes, key=lambda key: -votes[key])  # stable: ties keep the order of the members
    top = ranked[0]
    if voters[top] >= 2 and (len(ranked) == 1 or votes[top] > votes[ranked[1]] + _TOLERANCE):
        return dict(first[top])
    return dict(_medoid(members, similarity, weights).item["value"])


def _vote_labels(members: list[_Region], weights: list[float], control: CompiledControl) -> list[str]:
    """The heaviest label; with `multiple`, also every label at least half of the cluster's weight carries."""
    votes: dict[str, float] = {}
    for member in members:
        for label in member.labels:
            votes[label] = votes.get(label, 0.0) + weights[member.annotator]
    ranked = sorted(votes, key=lambda label: -votes[label])
    if not control.multiple:
        return ranked[:1]
    half = sum(weights[member.annotator] for member in members) * KEEP_SHARE
    return ranked[:1] + [label for label in ranked[1:] if votes[label] >= half - _TOLERANCE]


def _region_id(control: CompiledControl, value: dict, taken: set[str]) -> str:
    """A short id from the region's content, so an unchanged consensus region keeps its id when recomputed."""
    digest = hashlib.sha1(json.dumps([control.name, value], sort_keys=True, default=str).encode(),
                          usedforsecurity=False).hexdigest()[:10]
    region_id, suffix = digest, 2
    while region_id in taken:
        region_id, suffix = f"{digest}-{suffix}", suffix + 1
    taken.add(region_id)
    return region_id


def merge_regions(results_by_annotator: Sequence[Sequence[dict]], weights: Sequence[float],
                  control: CompiledControl, *, iou_threshold: float = DEFAULT_IOU_THRESHOLD,
                  sigma: float = DEFAULT_SIGMA) -> RegionConsensus:
    """The consensus regions of `control` from each annotator's result (weighted by `weights`, their
    reliability) and how far the annotators agree on them; see the module docstring."""
    _check_control(control)
    weights = _weights(weights, len(results_by_annotator))
    total_weight = sum(weights)
    per_annotator = [_control_items(result, control) for result in results_by_annotator]
    regions: list[_Region] = []
    for annotator, items in enumerate(per_annotator):
        for item in items:
            labels = tuple(dict.fromkeys(region_labels(item, control)))
            if labels:
                regions.append(_Region(index=len(regions), annotator=annotator, item=item, labels=labels))
    if not regions:
        return RegionConsensus(items=[], confidence=1.0)
    every_item = [region.item for region in regions]
    image = image_size(every_item) if control.type in ("bbox", "polygon", "keypoints") else None
    # One matrix of all regions against all: polygons are built once, and clustering only looks values up.
    values = [region.item["value"] for region in regions]
    similarity = region_similarity(control, values, values, image=image, sigma=sigma, span_mode="overlap")
    order = sorted(range(len(per_annotator)), key=lambda annotator: -weights[annotator])
    clusters = _cluster(regions, similarity, order, threshold=iou_threshold)

    items: list[dict] = []
    taken: set[str] = set()
    agreement: list[float] = []
    for members in clusters:
        support = min(1.0, sum(weights[member.annotator] for member in members) / total_weight)
        if support < KEEP_SHARE - _TOLERANCE:
            agreement.append(1.0 - support)
            continue
        pairs = [similarity[a.index, b.index] for a, b in combinations(members, 2)]
        agreement.append(support * (sum(pairs) / len(pairs) if pairs else 1.0))
        value = _merged_value(members, similarity, weights, control)
        value[control.label_key] = _vote_labels(members, weights, control)
        item = {"id": _region_id(control, value, taken), "from_name": control.name, "to_name": control.to,
                "type": control.result_type, "value": value}
        if image is not None:
            item["original_width"], item["original_height"] = image
        items.append(item)
    confidence = min(1.0, max(0.0, sum(agreement) / len(agreement)))
    return RegionConsensus(items=items, confidence=confidence)

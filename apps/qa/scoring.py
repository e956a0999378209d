"""Scoring one annotation result against the gold result: a score in [0, 1] per control and their mean.

Every function takes result items already validated against the spec (apps.projects.label_spec) and
never raises on odd but valid ones. A region carrying several labels (a control with ``multiple``)
counts once per label, and regions of different labels never match. When neither side has anything
for a control, it scores 1.0.

Per-region classifications (choices, textarea, rating with ``per_region``) are scored through their
regions: ``score_result`` pairs each annotation region with the gold region it matched in its region
control, and a classification scores against the gold classification of that region (0 when its
region matched none), averaged over the larger of the two counts. Called on their own, without that
pairing, the score functions pair the classifications with each other instead (Hungarian on their
scores), whatever regions they belong to.

Relations score by the multiset of (from region's control and labels, to region's control and
labels, relation labels), with ``direction`` normalised (``left`` reversed, ``bi`` unordered): F1 of
the two multisets. Which regions they link is not matched geometrically, so two relations between
regions of the same labels are interchangeable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from rapidfuzz.distance import Levenshtein

from apps.projects.label_spec import LABEL_KEYS, REGION_RESULT_TYPES, CompiledControl, CompiledSpec, compile_spec

from . import geometry

DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_SIGMA = 0.05  # keypoint tolerance, a fraction of the image: 5% away scores exp(-1/2) ≈ 0.61
SpanMode = Literal["exact", "overlap"]
# Paragraph spans are (paragraph, offset) pairs; this stride lays them on one line, exact within a paragraph
# (the paragraph lengths are not in the result, so a span across paragraphs overlaps only approximately).
_PARAGRAPH_STRIDE = 1_000_000_000
_SPAN_TYPES = frozenset(("spans", "html_spans", "paragraph_spans"))


@dataclass(frozen=True, slots=True)
class ResultScore:
    score: float  # mean of per_control; 1.0 when neither result has anything
    per_control: dict[str, float]  # only controls that appear in the gold or in the answer


@dataclass(frozen=True, slots=True)
class RegionMatch:
    """Regions of one control matched one-to-one, label by label."""

    count: int  # region instances (region × label) of the annotation
    gold_count: int
    pairs: list[tuple[int, int, float]]  # (annotation item index, gold item index, similarity)

    @property
    def f1(self) -> float:
        total = self.count + self.gold_count
        return 2 * len(self.pairs) / total if total else 1.0

    @property
    def similarity(self) -> float:
        """Matched similarity over the larger count (the OKS-like mean for keypoints)."""
        larger = max(self.count, self.gold_count)
        return sum(pair[2] for pair in self.pairs) / larger if larger else 1.0


# --- regions -----------------------------------------------------------------------------------------


def region_labels(item: dict, control: CompiledControl) -> list[str]:
    """The labels of a region item (its `value[control.label_key]`), strings only."""
    value = item.get("value")
    labels = value.get(control.label_key) if isinstance(value, dict) else None
    return [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else []


def region_instances(items: Sequence[dict], control: CompiledControl) -> dict[str, list[tuple[int, dict]]]:
    """(item index, value) of every region per label, in item order; a region with two labels is in both."""
    instances: dict[str, list[tuple[int, dict]]] = {}
    for index, item in enumerate(items):
        for label in dict.fromkeys(region_labels(item, control)):
            instances.setdefault(label, []).append((index, item["value"]))
    return instances


def image_size(items: Sequence[dict]) -> geometry.ImageSize | None:
    """The image's pixel size from the first item that carries it (needed for rotated boxes only)."""
    for item in items:
        width, height = item.get("original_width"), item.get("original_height")
        if isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0:
            return width, height
    return None


def _span_format(control: CompiledControl) -> str:
    if control.type == "html_spans" or (control.type == "spans" and control.target == "html"):
        return "html"
    if control.type == "paragraph_spans" or (control.type == "spans" and control.target == "paragraphs"):
        return "paragraphs"
    return "text"


def _paragraph(index: Any) -> Any:
    return int(index) if isinstance(index, str) and index.isdigit() else index


def span_key(value: dict, control: CompiledControl) -> tuple:
    """What two spans share when they are the same span: offsets, or XPaths or paragraphs with offsets."""
    kind = _span_format(control)
    if kind == "text":
        return value.get("start"), value.get("end")
    if kind == "paragraphs":
        return (_paragraph(value.get("start")), value.get("startOffset"),
                _paragraph(value.get("end")), value.get("endOffset"))
    return value.get("start"), value.get("startOffset"), value.get("end"), value.get("endOffset")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _span_interval(value: dict, control: CompiledControl) -> tuple[float, float] | None:
    """The span as [start, end) on one line; None when the result does not say (HTML without globalOffsets)."""
    kind = _span_format(control)
    if kind == "text":
        start, end = value.get("start"), value.get("end")
    elif kind == "paragraphs":
        start_paragraph, end_paragraph = _paragraph(value.get("start")), _paragraph(value.get("end"))
        start_offset, end_offset = value.get("startOffset"), value.get("endOffset")
        if not all(_number(part) for part in (start_paragraph, end_paragraph, start_offset, end_offset)):
            return None
        start = start_paragraph * _PARAGRAPH_STRIDE + start_offset
        end = end_paragraph * _PARAGRAPH_STRIDE + end_offset
    else:
        offsets = value.get("globalOffsets")
        if not isinstance(offsets, dict):
            return None
        start, end = offsets.get("start"), offsets.get("end")
    return (start, end) if _number(start) and _number(end) and end > start else None


def _exact_matrix(keys_a: Sequence[Any], keys_b: Sequence[Any]) -> np.ndarray:
    matrix = np.zeros((len(keys_a), len(keys_b)))
    columns: dict[Any, list[int]] = {}
    for column, key in enumerate(keys_b):
        columns.setdefault(key, []).append(column)
    for row, key in enumerate(keys_a):
        matrix[row, columns.get(key, [])] = 1.0
    return matrix


def region_similarity(control: CompiledControl, values_a: Sequence[dict], values_b: Sequence[dict], *,
                      image: geometry.ImageSize | None = None, sigma: float = DEFAULT_SIGMA,
                      span_mode: SpanMode = "overlap") -> np.ndarray:
    """Similarity of every region value of `values_a` with every one of `values_b`: IoU for boxes and
    polygons, interval IoU (or 1/0 for `span_mode="exact"`) for spans, exp(-d²/2σ²) for keypoints."""
    if control.type == "bbox":
        return geometry.box_iou_matrix(values_a, values_b, image_size=image)
    if control.type == "polygon":
        return geometry.polygon_iou_matrix([value.get("points") or [] for value in values_a],
                                           [value.get("points") or [] for value in values_b])
    if control.type == "keypoints":
        return geometry.keypoint_similarity_matrix(values_a, values_b, sigma=sigma)
    if control.type not in _SPAN_TYPES:
        raise ValueError(f"control {control.name!r} ({control.type}) does not draw regions")
    exact = _exact_matrix([span_key(value, control) for value in values_a],
                          [span_key(value, control) for value in values_b])
    if span_mode == "exact":
        return exact
    intervals_a = [_span_interval(value, control) for value in values_a]
    intervals_b = [_span_interval(value, control) for value in values_b]
    rows = [i for i, interval in enumerate(intervals_a) if interval is not None]
    cols = [j for j, interval in enumerate(intervals_b) if interval is not None]
    if rows and cols:
        overlap = geometry.span_overlap_matrix([{"start": intervals_a[i][0], "end": intervals_a[i][1]} for i in rows],
                                               [{"start": intervals_b[j][0], "end": intervals_b[j][1]} for j in cols])
        exact[np.ix_(rows, cols)] = np.maximum(exact[np.ix_(rows, cols)], overlap)
    return exact  # spans without an interval still match when they are the same span


def match_regions(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                  iou_threshold: float = DEFAULT_IOU_THRESHOLD, span_mode: SpanMode = "exact",
                  sigma: float = DEFAULT_SIGMA) -> RegionMatch:
    """One-to-one matching of same-label regions: boxes and polygons at IoU ≥ `iou_threshold`; spans the same
    span (exact) or any overlap (overlap); keypoints by the greatest total similarity."""
    if span_mode not in ("exact", "overlap"):
        raise ValueError(f"span mode must be 'exact' or 'overlap', not {span_mode!r}")
    ours, theirs = region_instances(items, control), region_instances(gold_items, control)
    if control.type in ("bbox", "polygon"):
        threshold = iou_threshold
    elif control.type in _SPAN_TYPES and span_mode == "exact":
        threshold = 1.0
    else:
        threshold = 0.0  # any overlap: `match` keeps only pairs above 0
    image = (image_size(gold_items) or image_size(items)) if control.type == "bbox" else None
    pairs: list[tuple[int, int, float]] = []
    for label in sorted(ours.keys() & theirs.keys()):
        similarity = region_similarity(control, [value for _, value in ours[label]],
                                       [value for _, value in theirs[label]], image=image, sigma=sigma,
                                       span_mode=span_mode)
        for row, col, score in geometry.match(similarity, threshold=threshold):
            pairs.append((ours[label][row][0], theirs[label][col][0], score))
    return RegionMatch(count=sum(len(found) for found in ours.values()),
                       gold_count=sum(len(found) for found in theirs.values()), pairs=pairs)


def score_spans(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                mode: SpanMode = "exact") -> float:
    """Micro-F1 over labels: `exact` counts spans with the same offsets and label, `overlap` pairs same-label
    spans one-to-one when they overlap at all."""
    return match_regions(items, gold_items, control, span_mode=mode).f1


def score_bbox(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
               iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> float:
    """F1 of same-label boxes matched one-to-one (Hungarian on IoU) at IoU ≥ `iou_threshold`."""
    return match_regions(items, gold_items, control, iou_threshold=iou_threshold).f1


def score_polygon(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                  iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> float:
    """F1 of same-label polygons matched one-to-one (Hungarian on IoU) at IoU ≥ `iou_threshold`."""
    return match_regions(items, gold_items, control, iou_threshold=iou_threshold).f1


def score_keypoints(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                    sigma: float = DEFAULT_SIGMA) -> float:
    """OKS-like: exp(-d²/2σ²) of each gold point and its same-label point, over the larger point count."""
    return match_regions(items, gold_items, control, sigma=sigma).similarity


def score_regions(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                  iou_threshold: float = DEFAULT_IOU_THRESHOLD, span_mode: SpanMode = "exact",
                  sigma: float = DEFAULT_SIGMA) -> float:
    """The score of any region control: the function of its type above."""
    found = match_regions(items, gold_items, control, iou_threshold=iou_threshold, span_mode=span_mode, sigma=sigma)
    return _region_score(found, control)


def _region_score(found: RegionMatch, control: CompiledControl) -> float:
    return found.similarity if control.type == "keypoints" else found.f1


# --- classifications ---------------------------------------------------------------------------------


def _score_items(items: Sequence[dict], gold_items: Sequence[dict], pair_score: Callable[[dict, dict], float], *,
                 per_region: bool, region_pairs: dict[str, str] | None) -> float:
    """One item against one (whole task), or per-region items paired through their regions or, without
    `region_pairs`, with each other; unpaired items score 0, averaged over the larger count."""
    if not items and not gold_items:
        return 1.0
    if not items or not gold_items:
        return 0.0
    if not per_region:
        return pair_score(items[0], gold_items[0])
    larger = max(len(items), len(gold_items))
    if region_pairs is None:
        matrix = np.array([[pair_score(item, gold) for gold in gold_items] for item in items])
        return sum(score for _, _, score in geometry.match(matrix, threshold=0.0)) / larger
    gold_by_region = {gold.get("id"): gold for gold in gold_items}
    total = 0.0
    for item in items:
        gold = gold_by_region.get(region_pairs.get(item.get("id")))
        if gold is not None:
            total += pair_score(item, gold)
    return total / larger


def _paths(item: dict, control: CompiledControl) -> set[tuple[str, ...]]:
    """The chosen paths; a bare label is the path to it (a top-level label, as Label Studio stores it)."""
    value = item.get("value")
    entries = value.get(control.label_key) if isinstance(value, dict) else None
    paths: set[tuple[str, ...]] = set()
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, str):
            paths.add(tuple(control.path_of.get(entry) or (entry,)))
        elif isinstance(entry, list) and entry:
            paths.add(tuple(entry))
    return paths


def _path_similarity(a: tuple, b: tuple) -> float:
    common = 0
    for step_a, step_b in zip(a, b, strict=False):
        if step_a != step_b:
            break
        common += 1
    return common / max(len(a), len(b))


def _choice_similarity(paths: set[tuple], gold: set[tuple], control: CompiledControl) -> float:
    if not paths or not gold:
        return 1.0 if paths == gold else 0.0
    if not control.multiple:
        # Label Studio's nested choices store a picked inner node with its descendants: the pick is the root.
        picks = [path for path in paths if not any(path[:depth] in paths for depth in range(1, len(path)))]
        gold_picks = [path for path in gold if not any(path[:depth] in gold for depth in range(1, len(path)))]
        if len(picks) == 1 and len(gold_picks) == 1:
            return _path_similarity(picks[0], gold_picks[0])
    if paths == gold:
        return 1.0
    if all(len(path) == 1 for path in paths | gold):
        return len(paths & gold) / len(paths | gold)  # flat labels: Jaccard
    # Soft Jaccard: matched prefix similarity counts as the intersection (plain Jaccard when it is 0 or 1).
    ours, theirs = sorted(paths), sorted(gold)
    similarity = np.array([[_path_similarity(a, b) for b in theirs] for a in ours])
    shared = sum(score for _, _, score in geometry.match(similarity, threshold=0.0))
    return shared / (len(ours) + len(theirs) - shared)


def score_choices(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                  region_pairs: dict[str, str] | None = None) -> float:
    """Single choice 1 or 0; multiple: Jaccard of the chosen sets; hierarchical: common prefix depth over the
    longer path's depth (multiple: Jaccard with that as the overlap). `region_pairs`: annotation region id →
    gold region id, for per-region choices."""
    def pair_score(item: dict, gold: dict) -> float:
        return _choice_similarity(_paths(item, control), _paths(gold, control), control)

    return _score_items(items, gold_items, pair_score, per_region=control.per_region, region_pairs=region_pairs)


def _text(item: dict) -> str:
    value = item.get("value")
    texts = value.get("text") if isinstance(value, dict) else None
    return "\n".join(text for text in texts if isinstance(text, str)) if isinstance(texts, list) else ""


def _text_similarity(text: str, gold: str) -> float:
    if not gold:
        return 1.0 if not text else 0.0
    return max(0.0, 1.0 - Levenshtein.distance(text, gold) / len(gold))


def score_textarea(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                   region_pairs: dict[str, str] | None = None) -> float:
    """1 − character error rate (Levenshtein distance / gold length), clipped to [0, 1]; several texts of one
    item are joined with newlines."""
    def pair_score(item: dict, gold: dict) -> float:
        return _text_similarity(_text(item), _text(gold))

    return _score_items(items, gold_items, pair_score, per_region=control.per_region, region_pairs=region_pairs)


def _rating(item: dict) -> float | None:
    value = item.get("value")
    rating = value.get("rating") if isinstance(value, dict) else None
    return rating if _number(rating) else None


def score_rating(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                 region_pairs: dict[str, str] | None = None) -> float:
    """1 − |rating − gold| / (max − 1); a missing rating scores 0."""
    steps = (control.max or 0) - 1

    def pair_score(item: dict, gold: dict) -> float:
        rating, gold_rating = _rating(item), _rating(gold)
        if rating is None or gold_rating is None:
            return 0.0
        if steps <= 0:
            return 1.0 if rating == gold_rating else 0.0
        return min(1.0, max(0.0, 1.0 - abs(rating - gold_rating) / steps))

    return _score_items(items, gold_items, pair_score, per_region=control.per_region, region_pairs=region_pairs)


# --- relations ---------------------------------------------------------------------------------------


def _endpoints(result: Sequence[dict]) -> dict[str, tuple]:
    """Region id → (control, labels): a drawn region wins over the per-region items repeating its id."""
    ends: dict[str, tuple] = {}
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("type") == "relation":
            continue
        kind = item.get("type")
        key = LABEL_KEYS.get(kind) if isinstance(kind, str) else None
        value = item.get("value")
        labels = value.get(key) if key and isinstance(value, dict) else None
        labels = tuple(sorted(label for label in labels if isinstance(label, str))) if isinstance(labels, list) \
            else ()
        if kind in REGION_RESULT_TYPES or item["id"] not in ends:
            ends[item["id"]] = (item.get("from_name"), labels)
    return ends


def _relation_key(item: dict, ends: dict[str, tuple]) -> tuple:
    source, target = ends.get(item.get("from_id")), ends.get(item.get("to_id"))
    direction = item.get("direction", "right")
    if direction == "left":
        source, target = target, source
    labels = item.get("labels")
    labels = tuple(sorted(label for label in labels if isinstance(label, str))) if isinstance(labels, list) else ()
    if direction == "bi":
        return ("bi", *sorted((source, target), key=repr), labels)
    return ("to", source, target, labels)


def score_relations(items: Sequence[dict], gold_items: Sequence[dict], control: CompiledControl, *,
                    result: Sequence[dict], gold_result: Sequence[dict]) -> float:
    """F1 of the multisets of (from region labels, to region labels, relation labels); `result` and
    `gold_result` are the whole results, where the regions the relations link are found."""
    ends, gold_ends = _endpoints(result), _endpoints(gold_result)
    ours = Counter(_relation_key(item, ends) for item in items)
    theirs = Counter(_relation_key(item, gold_ends) for item in gold_items)
    total = sum(ours.values()) + sum(theirs.values())
    return 2 * sum((ours & theirs).values()) / total if total else 1.0


# --- a whole result ----------------------------------------------------------------------------------


def _by_control(result: Any, compiled: CompiledSpec) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    if not isinstance(result, list):
        return grouped
    for item in result:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "relation":
            if not compiled.relation_controls:
                continue
            labels = item.get("labels")
            first = labels[0] if isinstance(labels, list) and labels and isinstance(labels[0], str) else None
            name = compiled.relation_owner(first) if first else compiled.relation_controls[0].name
        else:
            name = item.get("from_name")
        if isinstance(name, str) and name in compiled.controls:
            grouped.setdefault(name, []).append(item)
    return grouped


def score_result(spec: dict | CompiledSpec, result: Any, gold: Any, *,
                 iou_threshold: float = DEFAULT_IOU_THRESHOLD, span_mode: SpanMode = "exact",
                 sigma: float = DEFAULT_SIGMA) -> ResultScore:
    """Score `result` against `gold` (both Label Studio result arrays of a normalized spec): each control that
    either has items for scores in [0, 1], and the score is their mean."""
    compiled = compile_spec(spec)
    result, gold = (result if isinstance(result, list) else []), (gold if isinstance(gold, list) else [])
    ours, theirs = _by_control(result, compiled), _by_control(gold, compiled)
    present = [name for name in compiled.controls if name in ours or name in theirs]
    scores: dict[str, float] = {}
    # Region controls first: their matches pair the per-region classifications with gold ones.
    candidates: list[tuple[float, str, str]] = []
    for name in present:
        control = compiled.controls[name]
        if not control.draws_regions:
            continue
        items, gold_items = ours.get(name, []), theirs.get(name, [])
        found = match_regions(items, gold_items, control, iou_threshold=iou_threshold, span_mode=span_mode,
                              sigma=sigma)
        scores[name] = _region_score(found, control)
        for row, col, similarity in found.pairs:
            ours_id, gold_id = items[row].get("id"), gold_items[col].get("id")
            if isinstance(ours_id, str) and isinstance(gold_id, str):
                candidates.append((similarity, ours_id, gold_id))
    region_pairs: dict[str, str] = {}
    paired_gold: set[str] = set()
    for _, ours_id, gold_id in sorted(candidates, key=lambda candidate: -candidate[0]):  # stable: ties keep order
        if ours_id not in region_pairs and gold_id not in paired_gold:
            region_pairs[ours_id] = gold_id
            paired_gold.add(gold_id)
    for name in present:
        control = compiled.controls[name]
        items, gold_items = ours.get(name, []), theirs.get(name, [])
        if control.type == "relation":
            scores[name] = score_relations(items, gold_items, control, result=result, gold_result=gold)
        elif control.type in _CLASSIFIERS:
            scores[name] = _CLASSIFIERS[control.type](items, gold_items, control, region_pairs=region_pairs)
    per_control = {name: scores[name] for name in present if name in scores}
    score = sum(per_control.values()) / len(per_control) if per_control else 1.0
    return ResultScore(score=score, per_control=per_control)


_CLASSIFIERS = {"choices": score_choices, "textarea": score_textarea, "rating": score_rating}

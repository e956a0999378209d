"""Overlap of Label Studio regions (boxes, polygons, spans, keypoints) and one-to-one matching on it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

ImageSize = tuple[float, float]  # (width, height) in pixels: Label Studio's original_width, original_height


# --- boxes -------------------------------------------------------------------------------------------


def _rotation(box: dict) -> float:
    rotation = box.get("rotation") or 0
    return rotation % 360


def _box_polygon(box: dict, image_size: ImageSize | None) -> Polygon:
    """The box's corners, rotated clockwise about its top-left corner (x, y) as Label Studio draws it.

    Percent of the width and percent of the height differ in scale, so a rotation is only exact in pixels:
    with `image_size` the corners are computed in pixels, without it the image is taken as square."""
    scale_x, scale_y = (image_size[0] / 100, image_size[1] / 100) if image_size else (1.0, 1.0)
    x, y = box["x"] * scale_x, box["y"] * scale_y
    w, h = box["width"] * scale_x, box["height"] * scale_y
    angle = math.radians(_rotation(box))
    cos, sin = math.cos(angle), math.sin(angle)
    # y grows downwards on screen, so this standard rotation turns clockwise as seen.
    corners = [(x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    return Polygon(corners)


def box_iou(a: dict, b: dict, *, image_size: ImageSize | None = None) -> float:
    """IoU of two Label Studio rectangle values (`x`, `y`, `width`, `height` in percent, `rotation`?)."""
    if _rotation(a) or _rotation(b):
        return _shape_iou(_box_polygon(a, image_size), _box_polygon(b, image_size))
    # IoU does not change when an axis is scaled, so percent works as well as pixels here.
    overlap_w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    overlap_h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    intersection = overlap_w * overlap_h
    union = a["width"] * a["height"] + b["width"] * b["height"] - intersection
    return float(intersection / union) if union > 0 else 0.0


def box_iou_matrix(boxes_a: Sequence[dict], boxes_b: Sequence[dict], *,
                   image_size: ImageSize | None = None) -> np.ndarray:
    """IoU of every box of `boxes_a` (rows) with every box of `boxes_b` (columns)."""
    if not boxes_a or not boxes_b:
        return np.zeros((len(boxes_a), len(boxes_b)))
    if any(_rotation(box) for box in boxes_a) or any(_rotation(box) for box in boxes_b):
        return _shape_iou_matrix([_box_polygon(box, image_size) for box in boxes_a],
                                 [_box_polygon(box, image_size) for box in boxes_b])
    a = np.array([(box["x"], box["y"], box["width"], box["height"]) for box in boxes_a], dtype=float)
    b = np.array([(box["x"], box["y"], box["width"], box["height"]) for box in boxes_b], dtype=float)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


# --- polygons ----------------------------------------------------------------------------------------


def _polygon(points: Sequence[Sequence[float]]) -> BaseGeometry | None:
    """The polygon of `[[x, y], …]`, repaired when it crosses itself; None when it has no area."""
    coordinates = np.asarray(points, dtype=float)
    if coordinates.ndim != 2 or coordinates.shape[0] < 3 or coordinates.shape[1] != 2:
        return None
    shape: BaseGeometry = shapely.polygons(coordinates)  # twice as fast as Polygon(list of lists)
    if not shape.is_valid:
        # make_valid keeps both lobes of a bow tie (buffer(0) would drop one); keep only its areas, since
        # the lines and points it may add break overlay operations on mixed collections.
        parts = [part for part in shapely.get_parts(shapely.make_valid(shape))
                 if part.geom_type in ("Polygon", "MultiPolygon")]
        shape = shapely.union_all(parts) if parts else Polygon()
    return shape if shape.area > 0 else None


def _shape_iou(a: BaseGeometry | None, b: BaseGeometry | None) -> float:
    if a is None or b is None or a.area <= 0 or b.area <= 0:
        return 0.0
    intersection = a.intersection(b).area
    union = a.area + b.area - intersection
    return float(intersection / union) if union > 0 else 0.0


def polygon_iou(points_a: Sequence[Sequence[float]], points_b: Sequence[Sequence[float]]) -> float:
    """IoU of two polygons given as `[[x, y], …]` in percent; 0 when either has no area."""
    return _shape_iou(_polygon(points_a), _polygon(points_b))


def _shape_iou_matrix(shapes_a: Sequence[BaseGeometry | None], shapes_b: Sequence[BaseGeometry | None]) -> np.ndarray:
    matrix = np.zeros((len(shapes_a), len(shapes_b)))
    rows = [i for i, shape in enumerate(shapes_a) if shape is not None and shape.area > 0]
    cols = [j for j, shape in enumerate(shapes_b) if shape is not None and shape.area > 0]
    if not rows or not cols:
        return matrix
    a = np.array([shapes_a[i] for i in rows], dtype=object)
    b = np.array([shapes_b[j] for j in cols], dtype=object)
    # Only pairs whose bounding boxes touch need the (costly) polygon intersection.
    bounds_a, bounds_b = shapely.bounds(a), shapely.bounds(b)
    touching = ((bounds_a[:, None, 0] < bounds_b[None, :, 2]) & (bounds_b[None, :, 0] < bounds_a[:, None, 2])
                & (bounds_a[:, None, 1] < bounds_b[None, :, 3]) & (bounds_b[None, :, 1] < bounds_a[:, None, 3]))
    pairs_a, pairs_b = np.nonzero(touching)
    if not len(pairs_a):
        return matrix
    intersection = shapely.area(shapely.intersection(a[pairs_a], b[pairs_b]))
    areas_a, areas_b = shapely.area(a), shapely.area(b)
    union = areas_a[pairs_a] + areas_b[pairs_b] - intersection
    ious = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    matrix[np.asarray(rows)[pairs_a], np.asarray(cols)[pairs_b]] = ious
    return matrix


def polygon_iou_matrix(polygons_a: Sequence[Sequence[Sequence[float]]],
                       polygons_b: Sequence[Sequence[Sequence[float]]]) -> np.ndarray:
    """IoU of every polygon (`[[x, y], …]`) of `polygons_a` with every one of `polygons_b`."""
    return _shape_iou_matrix([_polygon(points) for points in polygons_a], [_polygon(points) for points in polygons_b])


# --- spans and points --------------------------------------------------------------------------------


def span_overlap(a: dict, b: dict) -> float:
    """IoU of two [start, end) intervals (values with numeric `start` and `end`)."""
    intersection = min(a["end"], b["end"]) - max(a["start"], b["start"])
    if intersection <= 0:
        return 0.0
    union = (a["end"] - a["start"]) + (b["end"] - b["start"]) - intersection
    return float(intersection / union) if union > 0 else 0.0


def span_overlap_matrix(spans_a: Sequence[dict], spans_b: Sequence[dict]) -> np.ndarray:
    """`span_overlap` of every span of `spans_a` with every span of `spans_b`."""
    if not spans_a or not spans_b:
        return np.zeros((len(spans_a), len(spans_b)))
    a = np.array([(span["start"], span["end"]) for span in spans_a], dtype=float)
    b = np.array([(span["start"], span["end"]) for span in spans_b], dtype=float)
    intersection = np.clip(np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]),
                           0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


def keypoint_similarity_matrix(points_a: Sequence[dict], points_b: Sequence[dict], *, sigma: float) -> np.ndarray:
    """exp(-d² / 2σ²) for every pair of points (`x`, `y` in percent), d measured in fractions of the image."""
    if not points_a or not points_b:
        return np.zeros((len(points_a), len(points_b)))
    a = np.array([(point["x"], point["y"]) for point in points_a], dtype=float) / 100
    b = np.array([(point["x"], point["y"]) for point in points_b], dtype=float) / 100
    squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-squared / (2 * sigma * sigma))


# --- matching ----------------------------------------------------------------------------------------


def match(similarity: np.ndarray, *, threshold: float) -> list[tuple[int, int, float]]:
    """The one-to-one pairing (row, column, similarity) of greatest total similarity among pairs whose
    similarity is at least `threshold` and above 0 (a pair that does not overlap at all is no match)."""
    similarity = np.asarray(similarity, dtype=float)
    if similarity.ndim != 2 or similarity.size == 0:
        return []
    # Ineligible pairs weigh nothing, so the assignment never trades a good pair for a bad one.
    eligible = np.where((similarity >= threshold) & (similarity > 0), similarity, 0.0)
    if not eligible.any():
        return []
    from scipy.optimize import linear_sum_assignment  # scipy.optimize takes half a second to import

    rows, cols = linear_sum_assignment(eligible, maximize=True)
    return [(int(row), int(col), float(similarity[row, col])) for row, col in zip(rows, cols, strict=True)
            if eligible[row, col] > 0]

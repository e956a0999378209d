"""Overlap of boxes, polygons, spans and keypoints, checked against values computed by hand, and the matching."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from apps.qa.geometry import (
    box_iou,
    box_iou_matrix,
    keypoint_similarity_matrix,
    match,
    polygon_iou,
    polygon_iou_matrix,
    span_overlap,
    span_overlap_matrix,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUOKKA = {region["id"]: region for region in json.loads((FIXTURES / "quokka" / "annotations.json").read_text())}
QUOKKA_BOX = QUOKKA["box0"]["value"]
QUOKKA_POLYGON = QUOKKA["poly0"]["value"]["points"]

SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]
BOW_TIE = [[0, 0], [10, 10], [10, 0], [0, 10]]  # the same corners, crossing in the middle


def box(x, y, width, height, rotation=0):
    return {"x": x, "y": y, "width": width, "height": height, "rotation": rotation}


def test_box_iou_of_two_offset_squares_is_one_seventh():
    # 25 shared out of 100 + 100 - 25
    assert box_iou(box(0, 0, 10, 10), box(5, 5, 10, 10)) == pytest.approx(1 / 7)
    assert box_iou(box(0, 0, 10, 10), box(0, 0, 10, 10)) == 1.0


def test_box_iou_of_the_quokka_box_shifted_by_a_tenth_of_its_width():
    shifted = {**QUOKKA_BOX, "x": QUOKKA_BOX["x"] + QUOKKA_BOX["width"] / 10}
    assert box_iou(QUOKKA_BOX, shifted) == pytest.approx(0.9 / 1.1)  # overlap 0.9 w, union 1.1 w
    assert box_iou(shifted, QUOKKA_BOX) == pytest.approx(0.9 / 1.1)


def test_boxes_that_only_touch_or_are_apart_do_not_overlap():
    assert box_iou(box(0, 0, 10, 10), box(10, 0, 10, 10)) == 0.0
    assert box_iou(box(0, 0, 10, 10), box(50, 50, 10, 10)) == 0.0


def test_a_box_inside_another():
    assert box_iou(box(0, 0, 20, 20), box(5, 5, 10, 10)) == pytest.approx(100 / 400)


def test_rotation_is_clockwise_about_the_top_left_corner():
    turned = box(10, 10, 10, 10, rotation=90)  # its right edge swings down: it now covers x 0–10, y 10–20
    assert box_iou(turned, box(0, 10, 10, 10)) == pytest.approx(1.0)
    assert box_iou(turned, box(10, 10, 10, 10)) == pytest.approx(0.0, abs=1e-12)
    assert box_iou(box(20, 20, 10, 10, rotation=180), box(10, 10, 10, 10)) == pytest.approx(1.0)
    assert box_iou(box(10, 10, 10, 10, rotation=-270), box(0, 10, 10, 10)) == pytest.approx(1.0)
    assert box_iou(box(0, 10, 10, 10, rotation=360), box(0, 10, 10, 10)) == 1.0


def test_a_rotation_is_computed_in_pixels_when_the_image_size_is_known():
    # On a 200×100 image, 10% × 20% is a 20 px square at (100 px, 10 px); turned 90° it covers x 40–50%, y 10–30%.
    turned, footprint = box(50, 10, 10, 20, rotation=90), box(40, 10, 10, 20)
    assert box_iou(turned, footprint, image_size=(200, 100)) == pytest.approx(1.0)
    # Taken as a square image, the same numbers turn into x 30–50%, y 10–20%: a third of the footprint
    assert box_iou(turned, footprint) == pytest.approx(1 / 3)


def test_a_45_degree_box_against_its_unrotated_self():
    # Turned 45° about its corner, the square is a diamond; the half on the right of x = 0 (area 50) loses the
    # corner above y = 10, a right isosceles triangle of legs 10√2 − 10: 100(√2 − 1) is shared
    assert box_iou(box(0, 0, 10, 10, rotation=45), box(0, 0, 10, 10)) == pytest.approx(
        (100 * (math.sqrt(2) - 1)) / (200 - 100 * (math.sqrt(2) - 1)))


def test_box_iou_matrix_matches_pairwise_iou_axis_aligned_and_rotated():
    boxes_a = [box(0, 0, 10, 10), QUOKKA_BOX, box(50, 50, 20, 5)]
    boxes_b = [box(5, 5, 10, 10), {**QUOKKA_BOX, "x": QUOKKA_BOX["x"] + 2}, box(0, 0, 10, 10), box(55, 50, 20, 5)]
    matrix = box_iou_matrix(boxes_a, boxes_b)
    assert matrix.shape == (3, 4)
    assert matrix[0, 0] == pytest.approx(1 / 7) and matrix[0, 2] == 1.0 and matrix[2, 3] == pytest.approx(75 / 125)
    expected = [[box_iou(a, b) for b in boxes_b] for a in boxes_a]
    np.testing.assert_allclose(matrix, expected)
    rotated = boxes_b + [box(10, 10, 10, 10, rotation=90)]
    np.testing.assert_allclose(box_iou_matrix(boxes_a, rotated, image_size=(960, 643)),
                               [[box_iou(a, b, image_size=(960, 643)) for b in rotated] for a in boxes_a])
    assert box_iou_matrix([], boxes_b).shape == (0, 4)
    assert box_iou_matrix(boxes_a, []).shape == (3, 0)


def test_polygon_iou_of_two_offset_squares():
    shifted = [[x + 5, y] for x, y in SQUARE]
    assert polygon_iou(SQUARE, shifted) == pytest.approx(50 / 150)
    assert polygon_iou(SQUARE, SQUARE) == pytest.approx(1.0)


def test_a_self_intersecting_polygon_is_repaired_keeping_both_lobes():
    # The bow tie is two triangles of 25 each; dropping a lobe (what buffer(0) does) would give 0.25
    assert polygon_iou(BOW_TIE, SQUARE) == pytest.approx(0.5)
    assert polygon_iou(BOW_TIE, BOW_TIE) == pytest.approx(1.0)


def test_polygons_without_area_overlap_nothing():
    assert polygon_iou([[0, 0], [5, 5], [10, 10]], SQUARE) == 0.0
    assert polygon_iou([[0, 0], [5, 5], [10, 10]], [[0, 0], [5, 5], [10, 10]]) == 0.0
    assert polygon_iou([[1, 1], [1, 1], [1, 1]], SQUARE) == 0.0


def test_the_quokka_polygon_with_its_repeated_vertex():
    assert polygon_iou(QUOKKA_POLYGON, QUOKKA_POLYGON) == pytest.approx(1.0)
    moved = [[x + 1, y] for x, y in QUOKKA_POLYGON]
    assert 0.9 < polygon_iou(QUOKKA_POLYGON, moved) < 1.0


def test_polygon_iou_matrix_skips_far_apart_pairs_and_matches_pairwise_iou():
    far = [[x + 80, y + 80] for x, y in SQUARE]
    polygons_a = [SQUARE, BOW_TIE, QUOKKA_POLYGON]
    polygons_b = [[[x + 5, y] for x, y in SQUARE], far, [[0, 0], [5, 5], [10, 10]], QUOKKA_POLYGON]
    matrix = polygon_iou_matrix(polygons_a, polygons_b)
    np.testing.assert_allclose(matrix, [[polygon_iou(a, b) for b in polygons_b] for a in polygons_a], atol=1e-12)
    assert matrix[0, 0] == pytest.approx(1 / 3) and matrix[0, 1] == 0.0 and matrix[2, 3] == pytest.approx(1.0)
    assert polygon_iou_matrix([], polygons_b).shape == (0, 4)


def test_span_overlap_is_the_iou_of_half_open_intervals():
    assert span_overlap({"start": 0, "end": 10}, {"start": 5, "end": 15}) == pytest.approx(1 / 3)
    assert span_overlap({"start": 0, "end": 10}, {"start": 2, "end": 4}) == pytest.approx(0.2)
    assert span_overlap({"start": 0, "end": 5}, {"start": 5, "end": 10}) == 0.0  # [0, 5) and [5, 10) share nothing
    assert span_overlap({"start": 25, "end": 35}, {"start": 25, "end": 35}) == 1.0
    np.testing.assert_allclose(span_overlap_matrix([{"start": 0, "end": 10}, {"start": 40, "end": 50}],
                                                   [{"start": 5, "end": 15}, {"start": 45, "end": 50}]),
                               [[1 / 3, 0], [0, 0.5]])


def test_keypoint_similarity_falls_off_with_distance_in_fractions_of_the_image():
    nose = QUOKKA["kp4"]["value"]
    moved = {**nose, "x": nose["x"] + 5}  # 5% of the image = sigma
    matrix = keypoint_similarity_matrix([nose, moved], [nose], sigma=0.05)
    np.testing.assert_allclose(matrix, [[1.0], [math.exp(-0.5)]])
    diagonal = {**nose, "x": nose["x"] + 3, "y": nose["y"] + 4}  # d = 0.05 again
    assert keypoint_similarity_matrix([diagonal], [nose], sigma=0.05)[0, 0] == pytest.approx(math.exp(-0.5))
    assert keypoint_similarity_matrix([moved], [nose], sigma=0.1)[0, 0] == pytest.approx(math.exp(-0.125))


def test_match_maximises_the_total_not_the_first_pick():
    # Greedy would take 0.9 then 0.1; the best pairing is 0.8 + 0.85
    pairs = match(np.array([[0.9, 0.8], [0.85, 0.1]]), threshold=0.5)
    assert pairs == [(0, 1, 0.8), (1, 0, 0.85)]


def test_match_never_trades_an_eligible_pair_for_an_ineligible_one():
    # Over the raw matrix the assignment would be 0.6 + 0.7, and 0.6 is below the threshold
    assert match(np.array([[0.9, 0.6], [0.7, 0.0]]), threshold=0.65) == [(0, 0, 0.9)]


def test_match_threshold_is_inclusive_and_zero_is_no_match():
    assert match(np.array([[0.5]]), threshold=0.5) == [(0, 0, 0.5)]
    assert match(np.array([[0.4999]]), threshold=0.5) == []
    assert match(np.array([[0.0, 0.3]]), threshold=0.0) == [(0, 1, 0.3)]
    assert match(np.zeros((2, 2)), threshold=0.0) == []
    assert match(np.zeros((0, 3)), threshold=0.5) == []

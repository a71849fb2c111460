"""Exact strict point-in-polygon (shapely's `contains`) for ignore regions."""
from __future__ import annotations

import numpy as np

from simplepose.evaluation.polygons import points_in_polygons


def test_points_in_polygons_strict() -> None:
    """Inside strictly; edges and vertices are outside; concave and clockwise polygons."""
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    concave_cw = np.array([[0, 0], [0, 10], [5, 5], [10, 10], [10, 0]], float)   # clockwise, notch on top
    pts = np.array([[5, 5], [0, 5], [10, 10], [3, 0], [11, 5], [0.1, 0.1], [5, 7], [5, 4.9],
                    [1 / 3, 1 / 3]])
    got_sq = points_in_polygons(pts, np.zeros(len(pts), int), [square], np.array([0]))
    assert got_sq.tolist() == [True, False, False, False, False, True, True, True, True]
    got_cc = points_in_polygons(pts, np.zeros(len(pts), int), [concave_cw], np.array([0]))
    assert got_cc.tolist() == [False, False, False, False, False, True, False, True, True]
    # the diagonal edge (0,0)-(10,10) of a triangle: a point on it with non-integer coordinates
    tri = np.array([[0, 0], [10, 10], [10, 0]], float)
    on = np.array([[0.1, 0.1], [7.3, 7.3], [7.3, 7.2999999999999]])
    assert points_in_polygons(on, np.zeros(3, int), [tri], np.array([0])).tolist() == [False, False, True]
    # groups: a polygon only affects points of its own group
    assert points_in_polygons(pts[:1], np.array([1]), [square], np.array([0])).tolist() == [False]

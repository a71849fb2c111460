"""Ignore regions: exact strict point-in-polygon and poseval's removal of what lies inside.

poseval builds a shapely polygon from each ignore region of a GT frame and drops every GT and
predicted keypoint the polygon ``contains``. ``contains`` is strict: a point on an edge or a
vertex is not inside and stays. Polygons may be concave and of either orientation. Then, in those
frames only, every person (GT or predicted) left without a keypoint is dropped, including persons
that had none to begin with; a frame may lose all its GT persons and is still evaluated.

The test here is the even-odd rule over the polygon's edges with an exact orientation predicate
(a floating-point filter, and rational arithmetic for the rare near-collinear cases), so that
points on edges are decided exactly as shapely decides them.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from simplepose.evaluation.arrays import ranks_within
from simplepose.evaluation.poseval_files import Persons

# Shewchuk's orient2d filter bound is (3 + 16e) e with e = 2^-53; twice that, to be safe.
_CCW_ERRBOUND = 4.0 * float(np.finfo(np.float64).eps)


def _orientation(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                 px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Exact sign (-1, 0, 1) of the cross product (b - a) x (p - a), for arrays of equal shape."""
    left = (bx - ax) * (py - ay)
    right = (by - ay) * (px - ax)
    det = left - right
    bound = _CCW_ERRBOUND * (np.abs(left) + np.abs(right))
    sign = np.sign(det).astype(np.int8)
    unsure = np.flatnonzero(~(np.abs(det) > bound))     # also catches NaN
    for i in unsure:      # rare: (near-)collinear triples, decided in exact rational arithmetic
        exact_a, exact_b, exact_p = ((Fraction(float(ax[i])), Fraction(float(ay[i]))),
                                     (Fraction(float(bx[i])), Fraction(float(by[i]))),
                                     (Fraction(float(px[i])), Fraction(float(py[i]))))
        d = ((exact_b[0] - exact_a[0]) * (exact_p[1] - exact_a[1])
             - (exact_b[1] - exact_a[1]) * (exact_p[0] - exact_a[0]))
        sign[i] = (d > 0) - (d < 0)
    return sign


def points_in_polygons(points: np.ndarray, point_group: np.ndarray,
                       polygons: list[np.ndarray], polygon_group: np.ndarray) -> np.ndarray:
    """Which points lie strictly inside any polygon of their group: (P,) bool.

    points (P, 2); point_group (P,) int; polygons: list of (M, 2) vertex arrays (closed
    implicitly); polygon_group (Q,) int. Even-odd rule with exact orientation tests; points on
    an edge or a vertex are not inside (shapely's `contains`).
    """
    n_pts = len(points)
    inside = np.zeros(n_pts, bool)
    polys = [(q, p) for q, p in enumerate(polygons) if len(p) >= 3]
    if n_pts == 0 or not polys:
        return inside
    q_idx = np.array([q for q, _ in polys])
    q_group = np.asarray(polygon_group)[q_idx]
    n_edges = np.array([len(p) for _, p in polys])
    starts = np.concatenate([[0], np.cumsum(n_edges)[:-1]])
    verts = np.concatenate([p for _, p in polys])                        # (sum M, 2)
    boxes = np.concatenate([np.minimum.reduceat(verts, starts), np.maximum.reduceat(verts, starts)], axis=1)
    # candidate (point, polygon) pairs: same group, point in the polygon's bounding box
    order = np.argsort(q_group, kind="stable")
    sorted_groups = q_group[order]
    lo = np.searchsorted(sorted_groups, point_group, "left")
    hi = np.searchsorted(sorted_groups, point_group, "right")
    reps = hi - lo
    pair_pt = np.repeat(np.arange(n_pts), reps)
    pair_q = order[np.repeat(lo, reps) + ranks_within(reps)]
    x, y = points[pair_pt, 0], points[pair_pt, 1]
    b = boxes[pair_q]
    in_box = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
    pair_pt, pair_q = pair_pt[in_box], pair_q[in_box]
    if len(pair_pt) == 0:
        return inside
    # expand candidate pairs to polygon edges; edge i runs from vertex i to nxt[i] (the last to the first)
    nxt = np.arange(1, len(verts) + 1)
    nxt[starts + n_edges - 1] = starts
    reps = n_edges[pair_q]
    e_pair = np.repeat(np.arange(len(pair_pt)), reps)
    e_idx = np.repeat(starts[pair_q], reps) + ranks_within(reps)
    ax, ay = verts[e_idx, 0], verts[e_idx, 1]
    bx, by = verts[nxt[e_idx], 0], verts[nxt[e_idx], 1]
    px, py = points[pair_pt[e_pair], 0], points[pair_pt[e_pair], 1]
    straddle = (ay > py) != (by > py)
    maybe_on = ((px >= np.minimum(ax, bx)) & (px <= np.maximum(ax, bx))
                & (py >= np.minimum(ay, by)) & (py <= np.maximum(ay, by)))
    need = np.flatnonzero(straddle | maybe_on)
    orient = np.zeros(len(e_pair), np.int8)
    orient[need] = _orientation(ax[need], ay[need], bx[need], by[need], px[need], py[need])
    on_edge = maybe_on & (orient == 0)
    crossing = straddle & (orient != 0) & ((orient > 0) == (by > ay))
    n_pairs = len(pair_pt)
    on_any = np.bincount(e_pair, weights=on_edge, minlength=n_pairs) > 0
    crossings = np.bincount(e_pair, weights=crossing, minlength=n_pairs).astype(np.int64)
    pair_inside = (crossings % 2 == 1) & ~on_any
    inside[pair_pt[pair_inside]] = True
    return inside


def apply_ignore_regions(persons: Persons, polygons: list[np.ndarray], polygon_frame: np.ndarray,
                         ignore_frames: np.ndarray) -> Persons:
    """Drop joints strictly inside ignore polygons; in ignore frames drop persons left without joints.

    polygons: (M, 2) vertex arrays; polygon_frame (Q,): the frame of each; ignore_frames
    (n_frames,) bool: the frames that have ignore regions (some may have no usable polygon).
    """
    in_frame = ignore_frames[persons.frame]
    person_idx, joint_idx = np.nonzero(persons.has & in_frame[:, None])
    pts = persons.xy[person_idx, joint_idx]
    inside = points_in_polygons(pts, persons.frame[person_idx], polygons, polygon_frame)
    has = persons.has.copy()
    has[person_idx[inside], joint_idx[inside]] = False
    persons = Persons(persons.frame, persons.xy, has, persons.score, persons.head, persons.track)
    keep = ~in_frame | has.any(axis=1)
    return persons if keep.all() else persons.take(keep)

"""One-Euro smoothing against hand-computed values."""
from __future__ import annotations

import math

import numpy as np

from simplepose.tracking.smoothing import PoseSmoother, SmoothingConfig


def _pose(x: float, y: float) -> np.ndarray:
    """(1, 2, 3): one person, joint 0 at (x, y), joint 1 absent."""
    return np.array([[[x, y, 0.9], [0.0, 0.0, 0.0]]])


def test_one_step_by_hand():
    sm = PoseSmoother(SmoothingConfig(min_cutoff=0.004, beta=0.7, d_cutoff=1.0))
    np.testing.assert_allclose(sm(_pose(10, 0), [3], 0), _pose(10, 0))        # first pose unchanged
    out = sm(_pose(20, 0), [3], 1)
    a_d = 1 / (1 + 1 / (2 * math.pi))                                          # d_cutoff 1, te 1
    dx = a_d * 10
    a = 1 / (1 + 1 / (2 * math.pi * (0.004 + 0.7 * dx)))
    assert out[0, 0, 0] == np.float32(a * 20 + (1 - a) * 10)
    assert out[0, 0, 1] == 0 and (out[0, 1] == 0).all()                        # absent joint stays absent


def test_constant_pose_stays_and_tracks_are_independent():
    sm = PoseSmoother()
    for f in range(3):
        out = sm(np.concatenate([_pose(5, 5), _pose(50 + 10 * f, 5)]), [0, 1], f)
    np.testing.assert_allclose(out[0], _pose(5, 5)[0])
    assert 50 < out[1, 0, 0] < 70

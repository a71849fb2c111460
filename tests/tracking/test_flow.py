"""Optical flow of joints: LK with forward-backward fallback and DIS, against known shifts."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.tracking.flow import FlowConfig, JointFlow, to_gray
from tests.tracking.scenes import scene, texture


def _shifted_pair(dx: int, dy: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two grey frames: a 100 x 180 textured patch at (60, 30), then moved by (dx, dy), on a fixed background."""
    rng = np.random.default_rng(seed)
    bg = texture(rng, 240, 320)
    patch = texture(rng, 180, 100)
    a = to_gray(scene(rng, (240, 320), [(patch, (60, 30))], bg))
    b = to_gray(scene(rng, (240, 320), [(patch, (60 + dx, 30 + dy))], bg))
    return a, b


PTS = np.array([[[100.0, 100.0], [110.0, 120.0], [90.0, 140.0], [105.0, 155.0]]])   # (1, 4, 2) on the patch


@pytest.mark.parametrize("method", ["lk", "dis"])
def test_joints_follow_a_moved_patch(method):
    a, b = _shifted_pair(9, -4)
    moved = JointFlow(FlowConfig(method=method))(a, b, PTS, np.ones((1, 4), bool))
    tol = 0.5 if method == "lk" else 2.0  # DIS ULTRAFAST at half scale is coarse
    np.testing.assert_allclose(moved - PTS, np.broadcast_to([9.0, -4.0], PTS.shape), atol=tol)


def test_a_45px_camera_pan_needs_at_least_4_pyramid_levels():
    big = texture(np.random.default_rng(1), 300, 500)
    a, b = big[30:270, 60:380], big[30:270, 15:335]          # the camera pans: everything moves +45 px
    moved = JointFlow()(a, b, PTS, np.ones((1, 4), bool))
    np.testing.assert_allclose(moved[..., 0] - PTS[..., 0], 45.0, atol=0.5)
    three_levels = JointFlow(FlowConfig(max_level=2))(a, b, PTS, np.ones((1, 4), bool))
    assert np.abs(three_levels[..., 0] - PTS[..., 0] - 45.0).min() > 10


def test_lost_joint_takes_its_persons_median_motion_and_invalid_joints_stay():
    a, b = _shifted_pair(6, 3, seed=2)
    # joint 3 lies far outside the frame: LK loses it; joint 4 is NaN; joint 5 is marked invalid
    pts = np.array([[[100.0, 100.0], [110.0, 120.0], [90.0, 140.0], [-500.0, -500.0], [np.nan, 1.0],
                     [105.0, 155.0]]])
    valid = np.array([[True, True, True, True, True, False]])
    moved = JointFlow()(a, b, pts, valid)
    np.testing.assert_allclose(moved[0, 3], [-494.0, -497.0], atol=0.5)
    assert np.isnan(moved[0, 4, 0])
    np.testing.assert_array_equal(moved[0, 5], pts[0, 5])


def test_no_valid_joint_returns_the_points_unchanged():
    a, b = _shifted_pair(3, 3)
    pts = np.zeros((2, 4, 2))
    np.testing.assert_array_equal(JointFlow()(a, b, pts, np.zeros((2, 4), bool)), pts)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="flow method"):
        JointFlow(FlowConfig(method="farneback"))

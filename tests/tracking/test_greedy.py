"""The greedy tracker: hand-computed similarities and hand-made sequences (crossing, entering, missing)."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.data.keypoints import POSETRACK18
from simplepose.tracking.greedy import GreedyPoseTracker

SIGMAS = POSETRACK18.sigmas_array


def _template(seed: int) -> np.ndarray:
    """A random pose layout (17, 2) inside a 100 x 200 box at the origin."""
    rng = np.random.default_rng(seed)
    return rng.uniform([0, 0], [100, 200], size=(17, 2))


def _person(template: np.ndarray, x: float, y: float, score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Pose (17, 3) and box (4,) of a template placed with its box corner at (x, y)."""
    kpts = np.concatenate([template + [x, y], np.full((17, 1), score)], axis=1)
    return kpts, np.array([x, y, 100.0, 200.0])


def _frame(*persons: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack persons into (N, 17, 3) poses and (N, 4) boxes."""
    if not persons:
        return np.zeros((0, 17, 3)), np.zeros((0, 4))
    return np.stack([p[0] for p in persons]), np.stack([p[1] for p in persons])


def _crossing(tracker: GreedyPoseTracker) -> list[list[int]]:
    """A walks right, B walks left past it (2 px apart at f = 5); ids per frame, listed A then B."""
    ta, tb = _template(0), _template(1)
    firsts = np.random.default_rng(0).integers(0, 2, size=12)   # who is listed first, per frame
    out = []
    for f in range(12):
        persons = [_person(ta, 5.0 * f, 0.0), _person(tb, 52.0 - 5.0 * f, 0.0)]
        first = int(firsts[f])
        listed = [persons[first], persons[1 - first]]
        ids = tracker.update(*_frame(*listed)).tolist()
        out.append(ids if first == 0 else ids[::-1])
    return out


def test_persons_crossing_keep_their_ids() -> None:
    ids = _crossing(GreedyPoseTracker(SIGMAS))
    assert sorted(ids[0]) == [0, 1] and ids == [ids[0]] * 12
    # Box IoU alone (OKS threshold unreachable) swaps the identities right after the crossing:
    # the poses, not the boxes, keep them apart.
    iou_only = _crossing(GreedyPoseTracker(SIGMAS, oks_thr=2.0))
    assert iou_only[:6] == [ids[0]] * 6 and iou_only[6] == ids[0][::-1]


def test_box_iou_alone_would_swap_at_crossing() -> None:
    # With confident keypoints unusable (scores below threshold) the IoU fallback is used; at the
    # crossing frame the two boxes are identical so IoU cannot tell them apart: the test guards
    # that OKS, not IoU, is what keeps identities above.
    ta, tb = _template(0), _template(1)
    tracker = GreedyPoseTracker(SIGMAS)
    tracker.update(*_frame(_person(ta, 0.0, 0.0, 0.1), _person(tb, 10.0, 0.0, 0.1)))
    ids = tracker.update(*_frame(_person(ta, 5.0, 0.0, 0.1), _person(tb, 5.0, 0.0, 0.1)))
    assert ids.tolist() == [0, 1]          # both IoU 0.9: greedy keeps row order on the tie
    ids = tracker.update(*_frame(_person(tb, 2.0, 0.0, 0.1)))
    assert ids.tolist() == [0]             # by IoU the closer box wins, whatever the pose


def test_entering_and_leaving() -> None:
    ta, tb, tc = _template(0), _template(1), _template(2)
    tracker = GreedyPoseTracker(SIGMAS, max_age=1)
    assert tracker.update(*_frame(_person(ta, 0, 0))).tolist() == [0]
    assert tracker.update(*_frame(_person(ta, 2, 0), _person(tb, 400, 0))).tolist() == [0, 1]
    assert tracker.update(*_frame(_person(tb, 402, 0))).tolist() == [1]          # A left
    assert tracker.update(*_frame()).tolist() == []                              # empty frame
    # A's track is now 2 frames unseen > max_age: a person at its place gets a new id.
    assert tracker.update(*_frame(_person(ta, 2, 0), _person(tb, 404, 0))).tolist() == [2, 1]
    assert tracker.update(*_frame(_person(tc, 800, 0))).tolist() == [3]
    tracker.reset()
    assert tracker.update(*_frame(_person(tc, 800, 0))).tolist() == [0]


def test_missed_frame_is_bridged_within_max_age() -> None:
    ta, tb = _template(0), _template(1)
    for max_age, expected in ((1, [0, 1]), (0, [2, 3])):
        tracker = GreedyPoseTracker(SIGMAS, max_age=max_age)
        tracker.update(*_frame(_person(ta, 0, 0), _person(tb, 300, 0)))
        tracker.update(*_frame(_person(ta, 3, 0), _person(tb, 303, 0)))
        # Frame 2 is never processed (detector missed it); frame 3 comes with both persons moved.
        ids = tracker.update(*_frame(_person(tb, 309, 0), _person(ta, 9, 0)), frame_index=3)
        assert sorted(ids.tolist()) == expected
        if max_age == 1:
            assert ids.tolist() == [1, 0]


def test_low_confidence_pose_falls_back_to_iou() -> None:
    ta = _template(0)
    tracker = GreedyPoseTracker(SIGMAS)
    tracker.update(*_frame(_person(ta, 0, 0)))
    # Same box area but the pose is garbage with low scores: OKS is undefined, IoU 0.82 matches.
    kpts, box = _person(_template(5), 10, 0, score=0.05)
    assert tracker.update(kpts[None], box[None]).tolist() == [0]
    # Far away with no confident keypoints: no IoU overlap either -> new track.
    kpts, box = _person(ta, 1000, 0, score=0.05)
    assert tracker.update(kpts[None], box[None]).tolist() == [1]


def test_bad_input_is_refused() -> None:
    tracker = GreedyPoseTracker(SIGMAS)
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        tracker.update(np.zeros((2, 16, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2 poses but 1 boxes"):
        tracker.update(np.zeros((2, 17, 3)), np.zeros((1, 4)))
    tracker.update(np.zeros((0, 17, 3)), np.zeros((0, 4)), frame_index=5)
    with pytest.raises(ValueError, match="does not follow"):
        tracker.update(np.zeros((0, 17, 3)), np.zeros((0, 4)), frame_index=5)
    with pytest.raises(ValueError, match="max_age"):
        GreedyPoseTracker(SIGMAS, max_age=-1)


def test_non_finite_input() -> None:
    tracker = GreedyPoseTracker(SIGMAS)
    with pytest.raises(ValueError, match="NaN"):
        tracker.update(np.zeros((1, 17, 3)), np.array([[0.0, np.nan, 10, 10]]))
    t = _template(0)
    first = tracker.update(*_frame(_person(t, 100, 100)))
    kp, box = _frame(_person(t, 102, 101))
    kp[0, 3, 0] = np.nan  # one keypoint without a position: the person is still matched by the rest
    box[0, 0] += 500      # and by OKS alone: the box no longer overlaps
    np.testing.assert_array_equal(tracker.update(kp, box), first)

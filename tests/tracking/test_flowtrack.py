"""FlowTrack on hand-built scenes: propagation, re-linking after a gap, NMS, duplicates and edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.tracking.flowtrack import (FlowTrackConfig, FlowTracker, FrameTracks, joint_box,
                                           output_filter, propagated_score)
from tests.tracking.scenes import K, SIGMAS, TEMPLATE, TemplateEstimator, scene, texture

HW = (240, 320)
PW, PH = 60, 120                                       # the person patch: width, height


def _video(steps: list[tuple[int, int]], seed: int = 0) -> list[np.ndarray]:
    """Frames of one textured person whose top-left corner is at steps[t], on a fixed background."""
    rng = np.random.default_rng(seed)
    bg = texture(rng, *HW)
    patch = texture(rng, PH, PW)
    return [scene(rng, HW, [(patch, xy)], bg) for xy in steps]


def _box(xy: tuple[int, int]) -> np.ndarray:
    """The detector box (1, 4) xyxy of the person at top-left xy."""
    return np.array([[xy[0], xy[1], xy[0] + PW, xy[1] + PH]], np.float64)


NONE = (np.zeros((0, 4)), np.zeros(0))


def _tracker(**kw) -> FlowTracker:
    """A FlowTracker on the template estimator with config overrides."""
    return FlowTracker(TemplateEstimator(), SIGMAS, FlowTrackConfig(**kw))


def test_a_missed_person_is_propagated_by_flow_and_keeps_its_id():
    steps = [(60, 50), (72, 55)]
    frames = _video(steps)
    tr = _tracker()
    first = tr.step(frames[0], _box(steps[0]), np.array([0.9]))
    second = tr.step(frames[1], *NONE)
    assert first.track_ids.tolist() == [0] and second.track_ids.tolist() == [0]
    assert second.propagated.tolist() == [True]
    # the template joints moved by (12, 5), box around them enlarged by 15%
    joints = steps[1] + TEMPLATE * [PW, PH]
    lo, hi = joints.min(0), joints.max(0)
    want = np.r_[(lo + hi) / 2 - (hi - lo) * 1.15 / 2, (lo + hi) / 2 + (hi - lo) * 1.15 / 2]
    np.testing.assert_allclose(second.boxes_xyxy[0], want, atol=0.6)
    np.testing.assert_allclose(second.box_scores, [0.9 * 0.9], rtol=1e-6)


def test_without_propagation_a_missed_person_is_lost():
    steps = [(60, 50), (72, 55)]
    frames = _video(steps)
    tr = _tracker(propagate=False, similarity="iou")
    tr.step(frames[0], _box(steps[0]), np.array([0.9]))
    out = tr.step(frames[1], *NONE)
    assert out.track_ids.shape == (0,) and out.keypoints.shape == (0, K, 3)


def test_propagated_and_detected_box_of_one_person_give_one_pose():
    steps = [(60, 50), (70, 52)]
    frames = _video(steps)
    tr = _tracker(box_nms_thr=0.95)                      # let both boxes through box NMS: OKS-NMS must merge
    tr.step(frames[0], _box(steps[0]), np.array([0.9]))
    out = tr.step(frames[1], _box(steps[1]) + [[1, 0, 1, 0]], np.array([0.95]))
    assert out.track_ids.tolist() == [0]
    assert out.propagated.tolist() == [False]            # the detection scores higher and is kept


@pytest.mark.parametrize("similarity, relinked", [("multiflow", True), ("flow", True), ("oks", False)])
def test_relinking_after_a_detection_gap(similarity, relinked):
    steps = [(40 + 15 * t, 60) for t in range(5)]        # 15 px per frame, missed in frames 2 and 3
    frames = _video(steps, seed=4)
    tr = _tracker(similarity=similarity, propagate=False)
    ids = [tr.step(frames[t], *(( _box(steps[t]), np.array([0.9])) if t in (0, 1, 4) else NONE)).track_ids
           for t in range(5)]
    assert [i.tolist() for i in ids[:4]] == [[0], [0], [], []]
    assert ids[4].tolist() == ([0] if relinked else [1])


def test_a_track_ends_after_max_age_unseen_frames():
    steps = [(60, 50)] * 4
    frames = _video(steps)
    tr = _tracker(propagate=False, similarity="iou", max_age=1)
    det = (_box(steps[0]), np.array([0.9]))
    ids = [tr.step(frames[t], *(det if t in (0, 3) else NONE)).track_ids.tolist() for t in range(4)]
    assert ids == [[0], [], [], [1]]


def test_frame_gaps_count_as_unseen_frames():
    frames = _video([(60, 50)] * 2)
    tr = _tracker(propagate=False, similarity="iou", max_age=2)
    det = (_box((60, 50)), np.array([0.9]))
    assert tr.step(frames[0], *det, frame_index=0).track_ids.tolist() == [0]
    assert tr.step(frames[1], *det, frame_index=4).track_ids.tolist() == [1]   # 3 unseen > max_age
    with pytest.raises(ValueError, match="does not follow"):
        tr.step(frames[1], *det, frame_index=4)


def test_empty_frames_and_a_one_frame_video():
    frames = _video([(60, 50)])
    tr = _tracker()
    out = tr.step(frames[0], *NONE)
    assert isinstance(out, FrameTracks)
    assert out.boxes_xyxy.shape == (0, 4) and out.keypoints.shape == (0, K, 3) and out.track_ids.shape == (0,)
    tr.reset()
    two = np.concatenate([_box((10, 10)), _box((200, 100))])
    out = tr.step(frames[0], two, np.array([0.8, 0.9]))
    assert sorted(out.track_ids.tolist()) == [0, 1]


def test_detections_below_det_thr_are_not_used():
    frames = _video([(60, 50)])
    out = _tracker(det_thr=0.5).step(frames[0], _box((60, 50)), np.array([0.49]))
    assert len(out.track_ids) == 0


def test_nan_keypoints_get_score_zero_and_tracking_goes_on():
    steps = [(60, 50), (66, 50)]
    frames = _video(steps)
    tr = FlowTracker(TemplateEstimator(nan_joints=(0, 5)), SIGMAS, FlowTrackConfig())
    tr.step(frames[0], _box(steps[0]), np.array([0.9]))
    out = tr.step(frames[1], _box(steps[1]), np.array([0.9]))
    assert np.isfinite(out.keypoints).all()
    np.testing.assert_array_equal(out.keypoints[0, [0, 5]], 0.0)
    assert out.track_ids.tolist() == [0]


def test_joint_box_by_hand():
    pose = np.array([[0, 0, 0.9], [10, 20, 0.9], [100, 100, 0.1], [5, 5, 0.9]], np.float64)
    np.testing.assert_allclose(joint_box(pose, 0.3, 3, 0.2), [-1, -2, 11, 22])
    assert joint_box(pose, 0.3, 4, 0.2) is None


def test_output_filter_drops_weak_persons_and_joints():
    kp = np.full((2, K, 3), 0.9, np.float32)
    kp[0, 3, 2] = 0.39
    frame = FrameTracks(np.zeros((2, 4)), np.array([0.5, 0.49]), kp, np.array([4, 7]), np.zeros(2, bool))
    out = output_filter(frame, 0.5, 0.4)
    assert out.track_ids.tolist() == [4]
    np.testing.assert_array_equal(out.keypoints[0, 3], 0.0)
    assert (out.keypoints[0, 4] == 0.9).all()


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="similarity"):
        _tracker(similarity="hungarian")
    with pytest.raises(ValueError, match="prop_score"):
        _tracker(prop_score="max")


def test_propagated_score_rules_by_hand():
    pose = np.zeros((K, 3))
    pose[:10, 2], pose[10:, 2] = 0.9, 0.1                # 10 joints at 0.9, 7 at 0.1 (below rescoring's 0.2)
    assert propagated_score(0.8, pose, "mean") == pytest.approx(0.8 * (10 * 0.9 + 7 * 0.1) / 17)
    assert propagated_score(0.8, pose, "rescore") == pytest.approx(0.8 * 0.9)
    assert propagated_score(0.8, pose, "keep") == pytest.approx(0.8)
    assert propagated_score(0.5, pose, "detected", det_score=0.8) == pytest.approx(0.8 * (10 * 0.9 + 7 * 0.1) / 17)


class _WeakLegsEstimator(TemplateEstimator):
    """The template estimator with the 6 leg joints (11-16) at score 0.1: 11 joints at 0.9."""

    def predict(self, image: np.ndarray, boxes: np.ndarray, bbox_format: str = "xyxy") -> np.ndarray:
        """(N, K, 3) template poses, legs weak."""
        out = super().predict(image, boxes, bbox_format)
        out[:, 11:, 2] = 0.1
        return out


@pytest.mark.parametrize("rule, want", [("mean", [0.9 * (10.5 / 17), 0.9 * (10.5 / 17) ** 2]),
                                        ("rescore", [0.9 * 0.9, 0.9 * 0.9 ** 2]),
                                        ("keep", [0.9, 0.9]),
                                        ("detected", [0.9 * (10.5 / 17), 0.9 * (10.5 / 17)])])
def test_a_burst_of_misses_compounds_the_propagated_score_by_the_rule(rule, want):
    # detected at 0.9 in frame 0, missed in frames 1 and 2: each propagated box scores its
    # predecessor's score by the rule (mean of all joints: (11 x 0.9 + 6 x 0.1) / 17 = 10.5 / 17),
    # except "detected", which scores the last detector box's 0.9 by the mean every frame
    steps = [(60, 50), (66, 52), (72, 54)]
    frames = _video(steps)
    tr = FlowTracker(_WeakLegsEstimator(), SIGMAS, FlowTrackConfig(prop_score=rule))
    tr.step(frames[0], _box(steps[0]), np.array([0.9]))
    scores = [tr.step(f, *NONE).box_scores for f in frames[1:]]
    assert [s.tolist() for s in scores] == [[pytest.approx(w, rel=1e-6)] for w in want]


class _ScriptedEstimator:
    """A pose network returning, for each box, the pose scripted for the box whose top-left corner it has."""

    def __init__(self, poses: dict[tuple[int, int], np.ndarray]):
        """poses: top-left (x, y) of a box -> its pose (K, 3)."""
        self.poses = poses

    def predict(self, image: np.ndarray, boxes: np.ndarray, bbox_format: str = "xyxy") -> np.ndarray:
        """(N, K, 3) the scripted poses."""
        return np.stack([self.poses[(int(b[0]), int(b[1]))] for b in np.asarray(boxes).reshape(-1, 4)])


def test_over_either_poses_joints_a_three_joint_false_positive_track_cannot_take_a_whole_persons_pose():
    # frame 0: a person (17 joints at 0.9) and a false positive whose 3 confident joints sit 3 px
    # from the person's head joints; frame 1: the person's pose moved by 4 px.
    # OKS over the joints of both poses would give the false positive's track 1.0 (3 joints 1 px
    # from the new pose's) against < 1 for the person's own track; over the joints of either pose
    # the false positive gets at most 3/17 < oks_thr, the person its own track.
    person = np.zeros((K, 3))
    person[:, 0], person[:, 1], person[:, 2] = 100 + TEMPLATE[:, 0] * PW, 50 + TEMPLATE[:, 1] * PH, 0.9
    ghost = person.copy()
    ghost[:3, 0] += 4.0                                  # the person's next head joints, exactly
    ghost[3:, :2] += 60.0                                # elsewhere, unconfident
    ghost[3:, 2] = 0.1
    moved = person.copy()
    moved[:, 0] += 4.0
    est = _ScriptedEstimator({(100, 50): person, (200, 40): ghost, (104, 50): moved})
    blank = np.zeros((*HW, 3), np.uint8)
    for joints, want in (("either", 0), ("both", 1)):
        tr = FlowTracker(est, SIGMAS, FlowTrackConfig(similarity="oks", propagate=False, oks_joints=joints))
        first = tr.step(blank, np.array([[100, 50, 160, 170], [200, 40, 230, 80]], np.float64), np.array([0.9, 0.5]))
        assert first.track_ids.tolist() == [0, 1]
        second = tr.step(blank, np.array([[104, 50, 164, 170]], np.float64), np.array([0.9]))
        assert second.track_ids.tolist() == [want], joints


def test_flow_window_and_person_limits_are_range_checked():
    """flow.win_size=100001 (a 40 GB LK window) and max_persons=0: refused when the tracker is made."""
    from simplepose.tracking.flow import FlowConfig
    with pytest.raises(ValueError, match=r"flow\.win_size must be in 3\.\.255, got 100001"):
        _tracker(flow=FlowConfig(win_size=100001))
    with pytest.raises(ValueError, match="max_persons must be in 1..10000"):
        _tracker(max_persons=0)


def test_persons_per_frame_are_capped_at_the_best_scores_with_one_warning(caplog):
    """20000 detections in a frame: only the max_persons best by score are tracked, one warning per video."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 250, (20000, 2))
    boxes = np.concatenate([xy, xy + 10 + rng.uniform(0, 50, (20000, 2))], 1)
    scores = rng.uniform(0.5, 1.0, 20000)
    tracker = _tracker(max_persons=5, propagate=False, similarity="iou", box_nms_thr=1.0, oks_nms_thr=1.0)
    frames = _video([(10, 10), (12, 10)])
    out = [tracker.step(f, boxes, scores) for f in frames]
    best = np.sort(scores)[-5:]
    assert all(len(o.box_scores) <= 5 and set(o.box_scores) <= set(best) for o in out)
    assert caplog.text.count("20000 detections, over track.max_persons=5") == 1

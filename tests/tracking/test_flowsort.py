"""FlowSORT's ids: the association rounds, re-entry, crossings, and the live tracker on hand-built scenes."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.tracking.flowsort import FlowSortConfig, FlowSortIds, FlowSortTracker
from simplepose.tracking.flowtrack import FlowTrackConfig, FlowTracker
from simplepose.tracking.online import TrackConfig, make_tracker
from tests.tracking.scenes import K, SIGMAS, TEMPLATE, TemplateEstimator, scene, texture

W, H = 60.0, 120.0


def _poses(boxes: np.ndarray, layouts: list[np.ndarray] | None = None) -> np.ndarray:
    """Poses (N, K, 3) laid into boxes (N, 4) xyxy: TEMPLATE, or per person a layout (K, 2) of box fractions."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    lay = np.stack(layouts) if layouts is not None else np.repeat(TEMPLATE[None], len(b), 0)
    out = np.empty((len(b), K, 3))
    out[:, :, :2] = b[:, None, :2] + lay * (b[:, None, 2:] - b[:, None, :2])
    out[:, :, 2] = 0.9
    return out


def _box(x: float, y: float = 50.0) -> np.ndarray:
    """A W x H person box (4,) xyxy at top-left (x, y)."""
    return np.array([x, y, x + W, y + H])


def _step(ids: FlowSortIds, frame: int, boxes: list[np.ndarray], scores: list[float],
          layouts: list[np.ndarray] | None = None) -> list[int]:
    """One update with these persons; their ids."""
    b = np.stack(boxes) if boxes else np.zeros((0, 4))
    return ids.update(frame, b, np.array(scores, np.float64), _poses(b, layouts)).tolist()


def test_a_low_score_person_keeps_a_track_seen_last_frame_only_by_iou_in_the_second_round() -> None:
    ids = FlowSortIds(SIGMAS, FlowSortConfig(pose_weight=0.0, motion="last"))
    assert _step(ids, 0, [_box(0)], [0.9]) == [0]
    assert _step(ids, 1, [_box(0)], [0.4]) == [0]                    # IoU 1 >= 0.5: second round
    # IoU of boxes 60 wide shifted by 15: 45 / 75 = 0.6 -> kept; shifted by 30: 30 / 90 < 0.5 -> new
    assert _step(ids, 2, [_box(15)], [0.4]) == [0]
    assert _step(ids, 3, [_box(45)], [0.4]) == [1]
    # a high-score person at the same distance is matched in the first round (IoU 30 / 90 >= 0.2)
    ids.reset()
    _step(ids, 0, [_box(0)], [0.9])
    assert _step(ids, 1, [_box(30)], [0.9]) == [0]


def test_a_low_score_person_cannot_take_a_lost_track_but_a_high_score_one_can() -> None:
    for score, want in ((0.4, 1), (0.9, 0)):
        ids = FlowSortIds(SIGMAS, FlowSortConfig(pose_weight=0.0, motion="last"))
        _step(ids, 0, [_box(0)], [0.9])
        _step(ids, 1, [], [])
        assert _step(ids, 2, [_box(0)], [score]) == [want]
    # without the second round every person is matched in the first round, whatever its score
    ids = FlowSortIds(SIGMAS, FlowSortConfig(pose_weight=0.0, motion="last", second_round=False))
    _step(ids, 0, [_box(0)], [0.9])
    _step(ids, 1, [], [])
    assert _step(ids, 2, [_box(0)], [0.4]) == [0]


@pytest.mark.parametrize("max_age, want", [(30, 0), (5, 1)])
def test_re_entry_after_ten_unseen_frames_keeps_the_id_within_max_age(max_age, want) -> None:
    ids = FlowSortIds(SIGMAS, FlowSortConfig(max_age=max_age))
    for f in range(5):
        assert _step(ids, f, [_box(100)], [0.9]) == [0]
    for f in range(5, 15):
        _step(ids, f, [], [])
    assert _step(ids, 15, [_box(100)], [0.9]) == [want]


def test_a_person_seen_once_and_missed_next_frame_is_forgotten() -> None:
    ids = FlowSortIds(SIGMAS, FlowSortConfig())
    _step(ids, 0, [_box(0)], [0.9])
    assert _step(ids, 1, [_box(0), _box(200)], [0.9, 0.9]) == [0, 1]     # 1 is tentative
    _step(ids, 2, [_box(0)], [0.9])
    assert _step(ids, 3, [_box(0), _box(200)], [0.9, 0.9]) == [0, 2]
    keep = FlowSortIds(SIGMAS, FlowSortConfig(drop_unconfirmed=False))
    for f, persons in enumerate(([_box(0)], [_box(0), _box(200)], [_box(0)], [_box(0), _box(200)])):
        last = _step(keep, f, persons, [0.9] * len(persons))
    assert last == [0, 1]


def _crossing(ids: FlowSortIds, layouts: list[np.ndarray]) -> list[list[int]]:
    """A walks right and B, 10 px lower, walks left through it, 12 px a frame each (6 px apart at f = 6);
    ids per frame, A then B, listed in a random order per frame."""
    order = np.random.default_rng(0).integers(0, 2, size=14)
    out = []
    for f in range(14):
        boxes, lay = [_box(40 + 12.0 * f), _box(190 - 12.0 * f, 60.0)], layouts
        if order[f]:
            boxes, lay = boxes[::-1], lay[::-1]
        got = _step(ids, f, boxes, [0.9, 0.9], lay)
        out.append(got[::-1] if order[f] else got)
    return out


def test_crossing_persons_keep_their_ids_by_their_motion() -> None:
    same = [TEMPLATE, TEMPLATE]                                    # look-alikes: only motion tells them apart
    kept = _crossing(FlowSortIds(SIGMAS, FlowSortConfig()), same)
    assert kept == [kept[0]] * 14 and sorted(kept[0]) == [0, 1]
    # the last box alone (no velocity) swaps them: at f = 7, A's box overlaps B's last box (6 px off in x,
    # 10 in y: IoU 0.70) more than its own (12 px off: IoU 0.67)
    swapped = _crossing(FlowSortIds(SIGMAS, FlowSortConfig(motion="last", pose_weight=0.0)), same)
    assert swapped[-1] == swapped[0][::-1]


def test_bad_config_is_refused() -> None:
    for bad in (dict(motion="x"), dict(cmc="x"), dict(assignment="x"), dict(pose_weight=1.5), dict(max_age=-1),
                dict(min_keypoints=0), dict(std_velocity=0.0), dict(limb_weight=1.5), dict(limb_scale=0.0)):
        assert FlowSortConfig(**bad).check(), bad
        with pytest.raises(ValueError):
            FlowSortIds(SIGMAS, FlowSortConfig(**bad))
    assert TrackConfig(tracker="nope").check() and not TrackConfig().check()
    with pytest.raises(ValueError, match="does not follow"):
        ids = FlowSortIds(SIGMAS)
        _step(ids, 3, [], [])
        _step(ids, 3, [], [])


def test_make_tracker_picks_the_tracker_and_flowtrack_gives_flowtracks_ids() -> None:
    assert type(make_tracker(TemplateEstimator(), SIGMAS, TrackConfig())) is FlowSortTracker
    assert type(make_tracker(TemplateEstimator(), SIGMAS, TrackConfig(tracker="flowtrack"))) is FlowTracker
    assert type(make_tracker(TemplateEstimator(), SIGMAS, FlowTrackConfig())) is FlowTracker


def test_live_tracker_keeps_flowtracks_persons_and_the_ids_of_two_persons_crossing() -> None:
    # two textured persons walk past each other, B 40 px lower and drawn over A's legs, B's detection
    # missed at f = 3: FlowSortTracker gives FlowTrack's persons exactly, and each keeps its id. (With B
    # only 10 px lower, OKS-NMS merges the two at the crossing and A's flow follows B's texture: the
    # persons themselves go wrong there, for FlowTrack and FlowSORT alike.)
    rng = np.random.default_rng(0)
    hw = (240, 360)
    bg = texture(rng, *hw)
    patches = [texture(rng, 120, 60), texture(rng, 120, 60)]
    xs = [(40 + 16 * f, 260 - 16 * f) for f in range(14)]               # same x at f = 6.9
    frames = [scene(rng, hw, [(patches[0], (a, 60)), (patches[1], (b, 100))], bg) for a, b in xs]
    sort = FlowSortTracker(TemplateEstimator(), SIGMAS, FlowTrackConfig())
    flow = FlowTracker(TemplateEstimator(), SIGMAS, FlowTrackConfig())
    seen = []
    for f, (a, b) in enumerate(xs):
        boxes = np.array([[a, 60, a + 60, 180], [b, 100, b + 60, 220]], np.float64)
        dets = (boxes, np.array([0.9, 0.9])) if f != 3 else (boxes[:1], np.array([0.9]))
        got, ref = sort.step(frames[f], *dets), flow.step(frames[f], *dets)
        np.testing.assert_array_equal(got.boxes_xyxy, ref.boxes_xyxy)               # the same persons
        np.testing.assert_array_equal(got.keypoints, ref.keypoints)
        for box, tid in zip(got.boxes_xyxy, got.track_ids.tolist()):
            who = int(np.argmin(np.abs(boxes[:, 0] - box[0]) + np.abs(boxes[:, 1] - box[1])))
            seen.append((who, tid))
    assert sorted(set(seen)) == [(0, 0), (1, 1)] and sort.clock.wall["association"] > 0


def test_direction_consistency_by_hand() -> None:
    ids = FlowSortIds(SIGMAS, FlowSortConfig())
    _step(ids, 0, [_box(0)], [0.9])
    assert _step(ids, 1, [_box(10)], [0.9]) == [0]            # centres (30, 110) -> (40, 110): moving right
    ahead, aside, back = _box(40), _box(10, 80.0), _box(-20)  # centres (70, 110), (40, 140), (10, 110)
    got = ids._direction(np.stack([ahead, aside, back]), ids.tracks)
    np.testing.assert_allclose(got[:, 0], [0.5, 0.0, -0.5], atol=1e-12)   # (pi/2 - |angle|) / pi


def test_pose_history_takes_the_best_oks_over_the_last_poses() -> None:
    # the track's last pose is corrupted (every joint piled on the box corner); the person then looks as
    # before: OKS with the last pose only is ~0, with the last two poses it is 1 (the older one, carried along)
    look = np.random.default_rng(3).uniform(0, 1, (K, 2))
    corrupt = np.zeros((K, 2))
    for history, want in ((1, 0.02), (2, 1.0)):
        ids = FlowSortIds(SIGMAS, FlowSortConfig(pose_history=history, pose_weight=0.5, motion="last"))
        _step(ids, 0, [_box(0)], [0.9], [look])
        assert _step(ids, 1, [_box(0)], [0.9], [corrupt]) == [0]            # matched by IoU 1
        ids.prev_poses = _poses(_box(0)[None], [corrupt])
        ids._predict(2, 1, np.zeros(2), ids.prev_poses)
        sim = ids._similarity(_box(0)[None], _poses(_box(0)[None], [look]), ids.tracks)
        assert sim[0, 0] == pytest.approx(0.5 * 1.0 + 0.5 * want, abs=0.011)      # IoU 1 fused with OKS


def test_appearance_tells_two_look_alikes_in_motion_apart_when_they_swap_places() -> None:
    # two persons side by side swap places between two frames (each box lands on the other's): motion
    # and pose say "same place, same person"; only the colours say who is who
    red, blue = np.eye(64)[7], np.eye(64)[35]
    for weight, swapped in ((0.0, False), (0.5, True)):
        ids = FlowSortIds(SIGMAS, FlowSortConfig(appearance_weight=weight, motion="last"))
        _step(ids, 0, [_box(0), _box(45)], [0.9, 0.9])
        ids.update(1, np.stack([_box(0), _box(45)]), np.array([0.9, 0.9]), _poses(np.stack([_box(0), _box(45)])),
                   None, np.stack([red, blue]))
        got = ids.update(2, np.stack([_box(0), _box(45)]), np.array([0.9, 0.9]),
                         _poses(np.stack([_box(0), _box(45)])), None, np.stack([blue, red])).tolist()
        assert got == ([1, 0] if swapped else [0, 1])


def test_limb_colours_tell_two_look_alikes_apart_when_they_swap_places() -> None:
    # as above with the colours along the limbs (every limb red for one person, blue for the other) and no
    # box histograms: with limb_weight 0 motion and pose keep the places, with 0.5 the limbs swap the ids
    red, blue = np.full((12, 3), [80.0, 200.0, 190.0]), np.full((12, 3), [60.0, 190.0, 40.0])
    boxes = np.stack([_box(0), _box(45)])
    for weight, swapped in ((0.0, False), (0.5, True)):
        ids = FlowSortIds(SIGMAS, FlowSortConfig(appearance_weight=0.0, limb_weight=weight, motion="last"))
        _step(ids, 0, [_box(0), _box(45)], [0.9, 0.9])
        ids.update(1, boxes, np.array([0.9, 0.9]), _poses(boxes), None, None, np.stack([red, blue]))
        got = ids.update(2, boxes, np.array([0.9, 0.9]), _poses(boxes), None, None, np.stack([blue, red])).tolist()
        assert got == ([1, 0] if swapped else [0, 1])


def test_a_frame_without_persons_does_not_end_a_tentative_track() -> None:
    # boxes on every other frame only (e.g. det_every 2 without propagation): a person entering late
    # keeps its id across the empty frames
    ids = FlowSortIds(SIGMAS, FlowSortConfig())
    _step(ids, 0, [_box(0)], [0.9])
    _step(ids, 1, [], [])
    assert _step(ids, 2, [_box(0), _box(200)], [0.9, 0.9]) == [0, 1]
    _step(ids, 3, [], [])
    assert _step(ids, 4, [_box(0), _box(200)], [0.9, 0.9]) == [0, 1]

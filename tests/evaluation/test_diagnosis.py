"""Error classes and oracle AP gains on hand-built cases whose answers are known by construction."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simplepose.evaluation.diagnosis import CLASSES, diagnose
from simplepose.evaluation.eval_data import load_eval_data
from simplepose.evaluation.pose_ap import evaluate_data

from .diagnosis_cases import HEAD, MIRROR17, POSEVAL, pose, write_video

HEAD_JOINTS = [12, 13, 14]                 # neck, nose, head top (poseval order): no mirror
LATERAL = [j for j in range(15) if j not in HEAD_JOINTS]


def _poseval(k17: list[int]) -> list[int]:
    """PoseTrack18 keypoint indices -> poseval joint indices."""
    return [POSEVAL[k] for k in k17]


def _classes(tmp_path: Path, gt_frames: list, pred_frames: list):
    write_video(tmp_path / "gt", gt_frames)
    write_video(tmp_path / "pred", pred_frames)
    data = load_eval_data(tmp_path / "gt", tmp_path / "pred")
    return data, diagnose(data)


def _names(cls_row: np.ndarray) -> list[str]:
    return [CLASSES[c] if c >= 0 else "absent" for c in cls_row]


def test_left_right_swapped_pose_is_inversion(tmp_path: Path) -> None:
    gt = pose(300)
    pred = gt[MIRROR17]                          # every left joint where the right one is, and back
    _, d = _classes(tmp_path, [[{"xy": gt, "track": 0}]], [[{"xy": pred, "track": 0, "score": 0.9}]])
    names = _names(d.joint_cls[0])
    assert {names[j] for j in LATERAL} == {"inversion"}
    assert {names[j] for j in HEAD_JOINTS} == {"good"}      # on the body's axis: unchanged


def test_joints_copied_from_the_neighbour_are_swaps(tmp_path: Path) -> None:
    a, b = pose(300), pose(300 + 10 * HEAD)
    copied = [5, 7, 9]                            # left shoulder, elbow, wrist (PoseTrack18 order)
    pa = a.copy()
    pa[copied] = b[copied]
    gt = [[{"xy": a, "track": 0}, {"xy": b, "track": 1}]]
    pred = [[{"xy": pa, "track": 0, "score": 0.9}, {"xy": b, "track": 1, "score": 0.8}]]
    _, d = _classes(tmp_path, gt, pred)
    names = _names(d.joint_cls[0])
    assert [names[j] for j in _poseval(copied)] == ["swap"] * 3
    assert {n for j, n in enumerate(names) if j not in _poseval(copied)} == {"good"}
    assert set(_names(d.joint_cls[1])) == {"good"}


@pytest.mark.parametrize("shift,expected", [(0.3, "good"), (0.7, "jitter"), (0.99, "jitter"), (4.0, "miss")])
def test_shift_gives_jitter_near_and_miss_far(tmp_path: Path, shift: float, expected: str) -> None:
    gt = pose(300)
    pred = gt.copy()
    moved = [9, 10]                               # both wrists, downwards (away from every other joint)
    pred[moved, 1] += shift * HEAD
    _, d = _classes(tmp_path, [[{"xy": gt, "track": 0}]], [[{"xy": pred, "track": 0, "score": 0.9}]])
    names = _names(d.joint_cls[0])
    assert [names[j] for j in _poseval(moved)] == [expected] * 2
    assert {n for j, n in enumerate(names) if j not in _poseval(moved)} == {"good"}


def test_background_fp_and_fn(tmp_path: Path) -> None:
    gt = [[{"xy": pose(300), "track": 0}, {"xy": pose(900), "track": 1}]]
    pred = [[{"xy": pose(300), "track": 0, "score": 0.9}, {"xy": pose(1500), "track": 5, "score": 0.5}]]
    data, d = _classes(tmp_path, gt, pred)
    assert set(_names(d.joint_cls[0])) == {"good"}
    assert set(_names(d.joint_cls[1])) == {"background_fp"}          # matches no GT person
    assert d.fn.tolist() == [[False] * 15, [True] * 15]               # nobody predicted the second
    counts = d.counts()
    assert counts["good"].tolist() == evaluate_data(data).n_true_positives.tolist()
    assert counts["background_fp"].tolist() == [1] * 15 and counts["background_fn"].tolist() == [1] * 15


def test_oracle_gains_by_hand(tmp_path: Path) -> None:
    """Frame 0: exact (0.9); frame 1: right wrist jittered (0.8) and an unmatched pose (0.95);
    frame 2: a GT person nobody predicted. Per joint, detections by score: FP, TP, TP|jitter; 3 GT.
    """
    wrist = 10                                          # right wrist, PoseTrack18 order
    jittered = pose(300)
    jittered[wrist, 1] += 0.7 * HEAD
    gt = [[{"xy": pose(300), "track": 0}], [{"xy": pose(300), "track": 0}], [{"xy": pose(300), "track": 0}]]
    pred = [[{"xy": pose(300), "track": 0, "score": 0.9}],
            [{"xy": jittered, "track": 0, "score": 0.8}, {"xy": pose(1500), "track": 1, "score": 0.95}],
            []]
    data, d = _classes(tmp_path, gt, pred)
    ap = evaluate_data(data).ap
    rw = POSEVAL[wrist]
    # right wrist: FP, TP, FP with 3 GT -> recall 1/3 at precision 1/2
    # others:      FP, TP, TP with 3 GT -> recall 1/3 and 2/3, envelope 2/3 at both
    hand = {"actual": (1 / 3 * 1 / 2, 2 * (1 / 3 * 2 / 3)),
            "jitter": (2 * (1 / 3 * 2 / 3), 2 * (1 / 3 * 2 / 3)),
            "background_fp": (1 / 3 * 1, 2 / 3 * 1),               # TP, FP / TP, TP
            "background_fn": (1 / 2 * 1 / 2, 2 * (1 / 2 * 2 / 3)),   # 2 GT left
            "inversion": (1 / 3 * 1 / 2, 2 * (1 / 3 * 2 / 3)),      # nothing to fix
            "swap": (1 / 3 * 1 / 2, 2 * (1 / 3 * 2 / 3)), "miss": (1 / 3 * 1 / 2, 2 * (1 / 3 * 2 / 3))}
    others = [j for j in range(15) if j != rw]
    assert ap[rw] == pytest.approx(100 * hand["actual"][0])
    assert ap[others] == pytest.approx(100 * hand["actual"][1])
    for name in ("jitter", "background_fp", "background_fn", "inversion", "swap", "miss"):
        fixed = d.oracle_ap[name]
        assert fixed[rw] == pytest.approx(100 * hand[name][0]), name
        assert fixed[others] == pytest.approx(100 * hand[name][1]), name
        total = 100 * (hand[name][0] + 14 * hand[name][1]) / 15
        assert fixed[15] - ap[15] == pytest.approx(total - 100 * (hand["actual"][0] + 14 * hand["actual"][1]) / 15)

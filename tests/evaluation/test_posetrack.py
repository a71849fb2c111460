"""The PoseTrack18 metric against poseval's golden results and hand-made cases."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.evaluation.posetrack import (
    JOINT_NAMES, evaluate_posetrack, format_table, points_in_polygons, summarize)

CASES = ["p01_clean_small", "p02_noise_levels", "p03_ignore_regions", "p04_fp_missed_swaps",
         "p05_unlabeled_and_empty", "p06_tracking", "p07_joint_gaps_thresholds",
         "p08_score_ties", "p09_mixed_medium"]
TOL = 1e-6


def _close(got: list, want: list, tol: float = TOL) -> bool:
    """Element-wise equal within tol, None (NaN) only where None."""
    assert len(got) == len(want)
    return all((a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tol)
               for a, b in zip(got, want))


@pytest.mark.parametrize("case", CASES)
def test_golden_case(poseval_golden_dir: Path, case: str) -> None:
    """Per-joint AP/precision/recall and the summaries equal poseval's to 1e-6."""
    d = poseval_golden_dir / case
    want = json.loads((d / "expected.json").read_text())
    got = evaluate_posetrack(d / "gt", d / "pred").to_json()
    assert got["joint_names"] == want["joint_names"]
    assert got["summary_header"] == want["summary_header"]
    for key in ("precision", "recall", "summary_precision", "summary_recall"):
        assert _close(got[key], want[key]), key
    diag = want["diagnostics"]
    for key in ("n_gt_joints", "n_pred_joints", "n_true_positives"):
        assert got[key] == diag[key], key
    assert got["frames_evaluated"] == diag["gt_frames_after_cleanup"]
    if case == "p08_score_ties":   # AP depends on the order of equal scores: check the bounds
        lo, hi = diag["ap_bounds_over_tie_orders"]["pessimistic_fp_first"], \
            diag["ap_bounds_over_tie_orders"]["optimistic_tp_first"]
        for key in ("ap", "summary_ap"):
            for v, a, b in zip(got[key], lo[key], hi[key]):
                assert a - TOL <= v <= b + TOL, key
    else:
        assert _close(got["ap"], want["ap"]), "ap"
        assert _close(got["summary_ap"], want["summary_ap"]), "summary_ap"


# ---------------------------------------------------------------- hand-made cases

_NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def _person(rng: np.random.Generator, image_id: int, track: int, x0: float) -> dict:
    """A GT person: 15 annotated joints (ears zero), 40x40 head box -> head size 0.6*40*sqrt2."""
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + rng.uniform(0, 200, 17)
    kp[:, 1] = 100 + rng.uniform(0, 400, 17)
    kp[:, 2] = 1
    kp[3:5] = 0
    return {"image_id": image_id, "track_id": track, "keypoints": kp.round(2).ravel().tolist(),
            "bbox_head": [x0, 100, 40, 40], "id": image_id * 100 + track}


def _write_case(root: Path, n_frames: int = 4, n_people: int = 3, seed: int = 0) -> tuple[Path, Path, dict]:
    """One video of GT; returns gt_dir, pred_dir and the GT dict (predictions not written)."""
    rng = np.random.default_rng(seed)
    images = [{"id": 10000000 + i, "file_name": f"images/val/000001_mpii_test/{i:06d}.jpg",
               "is_labeled": True} for i in range(n_frames)]
    anns = [_person(rng, im["id"], t, 300.0 * t) for im in images for t in range(n_people)]
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "keypoints": _NAMES}]}
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    return gt_dir, pred_dir, gt


def _as_prediction(gt: dict) -> dict:
    """GT persons as predictions with per-joint scores."""
    pred = copy.deepcopy(gt)
    for a in pred["annotations"]:
        a["scores"] = [0.9] * 17
        a.pop("bbox_head")
    return pred


def _write_pred(pred_dir: Path, pred: dict) -> None:
    (pred_dir / "000001_mpii_test.json").write_text(json.dumps(pred))


def test_perfect_predictions_score_100(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    _write_pred(pred_dir, _as_prediction(gt))
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap == 100) and np.all(r.precision == 100) and np.all(r.recall == 100)
    assert np.all(r.summary_ap == 100)


def test_no_predictions_score_0(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    pred = _as_prediction(gt)
    pred["annotations"] = []
    _write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap == 0) and np.all(r.precision == 0) and np.all(r.recall == 0)


def test_one_swapped_joint_pair(tmp_path: Path) -> None:
    """Swapping the far-apart left/right wrists of one person turns exactly those two into FPs.

    4 frames x 3 persons = 12 GT wrists per side; the swapped person's wrists score lower than
    every other joint, so per wrist AP = precision = recall = 11/12, every other joint 100.
    """
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    g = gt["annotations"][4]
    gkp = np.array(g["keypoints"]).reshape(17, 3)
    gkp[9, :2] = [g["bbox_head"][0] + 10.0, 400.0]      # left wrist
    gkp[10, :2] = [g["bbox_head"][0] + 190.0, 400.0]    # right wrist, 180 px (> 17 px) away
    g["keypoints"] = gkp.ravel().tolist()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    pred = _as_prediction(gt)
    a = pred["annotations"][4]
    kp = np.array(a["keypoints"]).reshape(17, 3)
    kp[[9, 10], :2] = kp[[10, 9], :2]
    a["keypoints"] = kp.ravel().tolist()
    a["scores"] = [0.9] * 9 + [0.5, 0.5] + [0.9] * 6
    _write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    wrists = [JOINT_NAMES.index("right_wrist"), JOINT_NAMES.index("left_wrist")]
    others = [j for j in range(15) if j not in wrists]
    assert np.allclose(r.precision[wrists], 100 * 11 / 12)
    assert np.allclose(r.recall[wrists], 100 * 11 / 12)
    assert np.allclose(r.ap[wrists], 100 * 11 / 12)   # TPs ranked first: AP = final recall
    assert np.all(r.ap[others] == 100)


def test_swapped_wrists_within_threshold_still_match(tmp_path: Path) -> None:
    """A swap of two joints closer than half a head size is invisible to PCKh (official rule)."""
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    pred = _as_prediction(gt)
    a = pred["annotations"][0]
    kp = np.array(a["keypoints"]).reshape(17, 3)
    kp[9, :2] = [500.0, 300.0]
    kp[10, :2] = [505.0, 300.0]
    a["keypoints"] = kp.ravel().tolist()
    g = gt["annotations"][0]
    gkp = np.array(g["keypoints"]).reshape(17, 3)
    gkp[9, :2] = [505.0, 300.0]
    gkp[10, :2] = [500.0, 300.0]
    g["keypoints"] = gkp.ravel().tolist()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    _write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap[:15] == 100)


def test_missing_scores_and_nan_joint(tmp_path: Path) -> None:
    """A joint nobody annotates but someone predicts: AP and recall NaN, precision 0, total skips it."""
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        kp[2] = 0                                  # head_top never annotated
        a["keypoints"] = kp.ravel().tolist()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    pred = _as_prediction(gt)
    kp = np.array(pred["annotations"][0]["keypoints"]).reshape(17, 3)
    kp[2] = [10, 10, 1]
    pred["annotations"][0]["keypoints"] = kp.ravel().tolist()
    _write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    ht = JOINT_NAMES.index("head_top")
    assert math.isnan(r.ap[ht]) and math.isnan(r.recall[ht]) and r.precision[ht] == 0
    assert r.ap[15] == 100 and math.isnan(r.summary_ap[0])
    j = r.to_json()
    assert j["ap"][ht] is None and j["summary_ap"][0] is None


def test_errors(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = _write_case(tmp_path)
    with pytest.raises(DataError, match="prediction file"):
        evaluate_posetrack(gt_dir, pred_dir)
    pred = _as_prediction(gt)
    short = copy.deepcopy(pred)
    short["images"] = short["images"][:-1]
    _write_pred(pred_dir, short)
    with pytest.raises(DataError, match="3 prediction frames but 4"):
        evaluate_posetrack(gt_dir, pred_dir)
    dup = copy.deepcopy(pred)
    dup["annotations"][1]["track_id"] = dup["annotations"][0]["track_id"]
    _write_pred(pred_dir, dup)
    with pytest.raises(DataError, match="used twice in one frame"):
        evaluate_posetrack(gt_dir, pred_dir)
    (pred_dir / "000001_mpii_test.json").write_text("{not json")
    with pytest.raises(DataError, match="malformed JSON"):
        evaluate_posetrack(gt_dir, pred_dir)
    bad = copy.deepcopy(pred)
    bad["annotations"][2]["keypoints"] = [1, 2, 3]
    _write_pred(pred_dir, bad)
    with pytest.raises(DataError, match="annotation id"):
        evaluate_posetrack(gt_dir, pred_dir)
    nohead = copy.deepcopy(gt)
    del nohead["annotations"][0]["bbox_head"]
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(nohead))
    _write_pred(pred_dir, pred)
    with pytest.raises(DataError, match="bbox_head"):
        evaluate_posetrack(gt_dir, pred_dir)


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


def test_summary_and_table() -> None:
    vals = np.arange(16, dtype=float)
    s = summarize(vals)
    assert s.tolist() == [13.0, 8.5, 8.5, 8.5, 2.5, 2.5, 2.5, 15.0]


def test_format_table(poseval_golden_dir: Path) -> None:
    d = poseval_golden_dir / "p01_clean_small"
    r = evaluate_posetrack(d / "gt", d / "pred")
    lines = format_table(r).splitlines()
    assert lines[0] == "| AP | Head | Shou | Elb | Wri | Hip | Knee | Ankl | Total |"
    want = json.loads((d / "expected.json").read_text())["summary_ap"]
    assert lines[2] == "| AP | " + " | ".join(f"{v:.1f}" for v in want) + " |"


@pytest.mark.parametrize("case", ["p03_ignore_regions", "p09_mixed_medium"])
def test_golden_per_sequence(poseval_golden_dir: Path, tmp_path: Path, case: str) -> None:
    """Each video evaluated alone gives poseval's per-sequence AP / precision / recall."""
    d = poseval_golden_dir / case
    want = json.loads((d / "expected.json").read_text())["per_sequence_ap"]
    for seq, values in want.items():
        gt, pred = tmp_path / seq / "gt", tmp_path / seq / "pred"
        gt.mkdir(parents=True)
        pred.mkdir()
        (gt / f"{seq}.json").symlink_to(d / "gt" / f"{seq}.json")
        (pred / f"{seq}.json").symlink_to(d / "pred" / f"{seq}.json")
        got = evaluate_posetrack(gt, pred).to_json()
        for key in ("ap", "precision", "recall"):
            assert _close(got[key], values[key]), (seq, key)

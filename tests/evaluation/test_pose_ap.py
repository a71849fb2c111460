"""poseval's per-joint AP against its golden results and hand-made cases."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simplepose.evaluation.pose_ap import evaluate_posetrack, format_table, summarize
from simplepose.evaluation.poseval_files import JOINT_NAMES
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred

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


def test_perfect_predictions_score_100(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    write_pred(pred_dir, as_prediction(gt))
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap == 100) and np.all(r.precision == 100) and np.all(r.recall == 100)
    assert np.all(r.summary_ap == 100)


def test_no_predictions_score_0(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
    pred["annotations"] = []
    write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap == 0) and np.all(r.precision == 0) and np.all(r.recall == 0)


def test_one_swapped_joint_pair(tmp_path: Path) -> None:
    """Swapping the far-apart left/right wrists of one person turns exactly those two into FPs.

    4 frames x 3 persons = 12 GT wrists per side; the swapped person's wrists score lower than
    every other joint, so per wrist AP = precision = recall = 11/12, every other joint 100.
    """
    gt_dir, pred_dir, gt = write_case(tmp_path)
    g = gt["annotations"][4]
    gkp = np.array(g["keypoints"]).reshape(17, 3)
    gkp[9, :2] = [g["bbox_head"][0] + 10.0, 400.0]      # left wrist
    gkp[10, :2] = [g["bbox_head"][0] + 190.0, 400.0]    # right wrist, 180 px (> 17 px) away
    g["keypoints"] = gkp.ravel().tolist()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    pred = as_prediction(gt)
    a = pred["annotations"][4]
    kp = np.array(a["keypoints"]).reshape(17, 3)
    kp[[9, 10], :2] = kp[[10, 9], :2]
    a["keypoints"] = kp.ravel().tolist()
    a["scores"] = [0.9] * 9 + [0.5, 0.5] + [0.9] * 6
    write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    wrists = [JOINT_NAMES.index("right_wrist"), JOINT_NAMES.index("left_wrist")]
    others = [j for j in range(15) if j not in wrists]
    assert np.allclose(r.precision[wrists], 100 * 11 / 12)
    assert np.allclose(r.recall[wrists], 100 * 11 / 12)
    assert np.allclose(r.ap[wrists], 100 * 11 / 12)   # TPs ranked first: AP = final recall
    assert np.all(r.ap[others] == 100)


def test_swapped_wrists_within_threshold_still_match(tmp_path: Path) -> None:
    """A swap of two joints closer than half a head size is invisible to PCKh (official rule)."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
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
    write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    assert np.all(r.ap[:15] == 100)


def test_missing_scores_and_nan_joint(tmp_path: Path) -> None:
    """A joint nobody annotates but someone predicts: AP and recall NaN, precision 0, total skips it."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        kp[2] = 0                                  # head_top never annotated
        a["keypoints"] = kp.ravel().tolist()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    pred = as_prediction(gt)
    kp = np.array(pred["annotations"][0]["keypoints"]).reshape(17, 3)
    kp[2] = [10, 10, 1]
    pred["annotations"][0]["keypoints"] = kp.ravel().tolist()
    write_pred(pred_dir, pred)
    r = evaluate_posetrack(gt_dir, pred_dir)
    ht = JOINT_NAMES.index("head_top")
    assert math.isnan(r.ap[ht]) and math.isnan(r.recall[ht]) and r.precision[ht] == 0
    assert r.ap[15] == 100 and math.isnan(r.summary_ap[0])
    j = r.to_json()
    assert j["ap"][ht] is None and j["summary_ap"][0] is None


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


def test_mixed_ties_are_counted_per_joint() -> None:
    from simplepose.evaluation.pose_ap import Detections, mixed_ties

    det = Detections(joint=np.array([0, 0, 0, 1, 1, 2, 2]), score=np.array([0.5, 0.5, 0.9, 0.3, 0.3, np.nan, np.nan]),
                     label=np.array([True, False, True, True, True, False, True]), n_gt=np.zeros(15, np.int64))
    assert mixed_ties(det).tolist() == [1, 0, 1] + [0] * 12


def test_tied_scores_mixing_tp_and_fp_warn(tmp_path, caplog, monkeypatch) -> None:
    """Equal scores on a right and a wrong joint: poseval's AP depends on its sort, so say so, once a run."""
    import logging

    from simplepose.evaluation import pose_ap
    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.pose_ap import evaluate_data
    from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred

    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)                     # every joint scores 0.9
    write_pred(pred_dir, pred)
    with caplog.at_level(logging.WARNING):
        evaluate_data(load_eval_data(gt_dir, pred_dir))
    assert "mix true and false positives" not in caplog.text
    pred["annotations"][0]["keypoints"] = [v + 500 if i % 3 < 2 else v
                                           for i, v in enumerate(pred["annotations"][0]["keypoints"])]
    write_pred(pred_dir, pred)
    monkeypatch.setattr(pose_ap, "_ties_explained", False)
    with caplog.at_level(logging.WARNING):
        evaluate_data(load_eval_data(gt_dir, pred_dir))
        evaluate_data(load_eval_data(gt_dir, pred_dir))     # a second evaluation in the same run
    assert caplog.text.count("15 group(s) of equal joint scores mix true and false positives") == 1
    assert "Nothing is wrong" in caplog.text

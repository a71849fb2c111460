"""The acceleration error (jitter) against hand-computed cases."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simplepose.evaluation.eval_data import load_eval_data
from simplepose.evaluation.jitter import evaluate_jitter, format_jitter
from simplepose.evaluation.mota import evaluate_tracking

_NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
HEAD = 0.6 * 40 * math.sqrt(2)          # head size of a 40 x 40 head box
BASE = np.stack([100 + 10 * np.arange(17), 100 + 20 * np.arange(17)], axis=1).astype(float)   # (17, 2)


def _ann(image_id: int, track: int, xy: np.ndarray, gt: bool) -> dict:
    """One person record: 17 joints (ears absent), a 40 x 40 head box for GT, scores for predictions."""
    kp = np.concatenate([xy, np.ones((17, 1))], axis=1)
    kp[3:5] = 0
    rec = {"image_id": image_id, "track_id": track, "keypoints": kp.ravel().tolist()}
    if gt:
        rec["bbox_head"] = [50.0, 50.0, 40.0, 40.0]
    else:
        rec["scores"] = [0.9] * 17
    return rec


def _write(root: Path, gt_xy: dict[int, np.ndarray], pred: dict[int, list[tuple[int, np.ndarray]]],
           n_frames: int) -> tuple[Path, Path]:
    """One video: GT person (track 0) at gt_xy[frame] (17, 2); pred[frame] = [(track, (17, 2))]."""
    images = [{"id": 1000 + i, "file_name": f"images/val/000001_mpii_test/{i:06d}.jpg", "is_labeled": i in gt_xy}
              for i in range(n_frames)]
    cat = [{"id": 1, "name": "person", "keypoints": _NAMES}]
    gt = {"images": images, "categories": cat,
          "annotations": [_ann(1000 + f, 0, xy, True) for f, xy in gt_xy.items()]}
    pr = {"images": images, "categories": cat,
          "annotations": [_ann(1000 + f, t, xy, False) for f, people in pred.items() for t, xy in people]}
    for name, content in (("gt", gt), ("pred", pr)):
        (root / name).mkdir()
        (root / name / "000001_mpii_test.json").write_text(json.dumps(content))
    return root / "gt", root / "pred"


def _jitter(root: Path, gt_xy: dict, pred: dict, n_frames: int):
    """evaluate_jitter of the written case."""
    data = load_eval_data(*_write(root, gt_xy, pred, n_frames))
    return evaluate_jitter(data, evaluate_tracking(data))


def _moving(f: int, velocity: tuple[float, float]) -> np.ndarray:
    """BASE moved by f * velocity."""
    return BASE + f * np.asarray(velocity)


def test_constant_velocity_error_scores_zero(tmp_path: Path) -> None:
    """GT moves 3 px/frame, the prediction 4 px/frame from a 2 px offset: zero acceleration error."""
    gt = {f: _moving(f, (3, 1)) for f in range(6)}
    pred = {f: [(7, _moving(f, (4, 1)) + 2)] for f in range(6)}
    r = _jitter(tmp_path, gt, pred, 6)
    # frames 0..4 are matched (poseval's MOTA leaves out the last), middles 1, 2, 3: 3 triples per joint
    assert r.triples.tolist() == [3] * 15 + [45]
    assert np.allclose(r.pixels, 0, atol=1e-9) and np.allclose(r.head_percent, 0, atol=1e-9)


def test_zigzag_gives_four_times_the_amplitude(tmp_path: Path) -> None:
    """Still GT; the predicted nose alternates +2 / -2 px in x: |(+2) - 2 (-2) + (+2)| = 8 px every triple."""
    gt = {f: BASE for f in range(6)}
    pred = {}
    for f in range(6):
        xy = BASE.copy()
        xy[0, 0] += 2 if f % 2 == 0 else -2
        pred[f] = [(0, xy)]
    r = _jitter(tmp_path, gt, pred, 6)
    nose = 13                                   # poseval index of the nose
    want_px = np.zeros(16)
    want_px[nose] = 8.0
    want_px[15] = 8.0 * 3 / 45                  # total: mean over all 45 triples
    assert r.pixels == pytest.approx(want_px)
    assert r.head_percent == pytest.approx(100 * want_px / HEAD)
    assert r.triples[15] == 45
    assert "0.53 px" in format_jitter(r)        # 8 * 3 / 45 = 0.533


def test_unmatched_frame_breaks_runs(tmp_path: Path) -> None:
    """The nose predicted far off in frame 2 of 8: triples with middles 1..5, those touching frame 2 drop."""
    gt = {f: BASE for f in range(8)}
    pred = {f: [(0, BASE.copy())] for f in range(8)}
    pred[2][0][1][0, 0] += 100                  # > 0.5 head sizes: not matched
    r = _jitter(tmp_path, gt, pred, 8)
    assert r.triples[13] == 2                   # middles 4 and 5 remain
    assert r.triples[0] == 5
    assert r.triples[15] == 14 * 5 + 2


def test_id_switch_and_empty_frame_break_runs(tmp_path: Path) -> None:
    """The prediction's id changes at frame 3 of 8 (middles 2 and 3 drop); then frame 6 is empty."""
    gt = {f: BASE for f in range(8)}
    pred = {f: [(0 if f < 3 else 1, BASE)] for f in range(8)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    r = _jitter(tmp_path / "a", gt, pred, 8)
    assert r.triples.tolist() == [3] * 15 + [45]          # middles 1, 4, 5
    del pred[6]
    r = _jitter(tmp_path / "b", gt, pred, 8)
    assert r.triples.tolist() == [2] * 15 + [30]          # middles 1 and 4 (5 touches frame 6)


def test_gap_in_labels_is_not_a_triple(tmp_path: Path) -> None:
    """Frame 3 of 8 unlabeled: (1, 2, 4) is not three consecutive frames; middles 1 and 5 count."""
    gt = {f: _moving(f, (2, 0)) for f in range(8) if f != 3}
    pred = {f: [(0, _moving(f, (2, 0)) + np.array([[1.0, 0.0]]) * (f % 2))] for f in range(8)}
    r = _jitter(tmp_path, gt, pred, 8)
    assert r.triples.tolist() == [2] * 15 + [30]
    assert np.allclose(r.pixels, 2.0)                     # zig-zag of amplitude 0.5 around +0.5: 4 x 0.5


def test_no_triple_is_nan_and_strict_json(tmp_path: Path) -> None:
    """Two labeled frames: no triple; means are NaN, None in JSON, counts zero."""
    r = _jitter(tmp_path, {0: BASE, 1: BASE}, {0: [(0, BASE)], 1: [(0, BASE)]}, 2)
    js = r.to_json()
    assert js["pixels"] == [None] * 16 and js["head_percent"] == [None] * 16 and js["triples"] == [0] * 16
    assert "no triple" in format_jitter(r)


def test_recorded_matches_are_motas_detections(poseval_golden_dir: Path) -> None:
    """gt_match holds as many matched joints as MOTA counts detections (matches + switches), per joint."""
    d = poseval_golden_dir / "p06_tracking"
    t = evaluate_tracking(load_eval_data(d / "gt", d / "pred"))
    assert ((t.gt_match >= 0).sum(axis=0) == t.counts["num_detections"]).all()

"""Rescoring and OKS-NMS against direct transcriptions of the reference's per-person loops."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.data.keypoints import POSETRACK18
from simplepose.data.instances import PosePrediction
from simplepose.errors import DataError
from simplepose.evaluation.rescore import oks_nms, postprocess, rescore

SIGMAS = POSETRACK18.sigmas_array


def _rescore_loop(kp_scores: np.ndarray, box: np.ndarray, thr: float) -> np.ndarray:
    """Person by person, joint by joint: float32 scores accumulated in float64 (numpy 1.x promotion)."""
    out = []
    for s, b in zip(kp_scores.astype(np.float32), box.astype(np.float32)):
        total, n = 0.0, 0
        for v in s:
            if v > thr:
                total = total + float(v)
                n += 1
        out.append(float(b) * (total / n if n else 0.0))
    return np.array(out)


def test_rescore_hand_values() -> None:
    s = np.array([[0.1, 0.3, 0.5], [0.1, 0.19, 0.05], [0.9, 0.9, 0.9]], np.float32)
    got = rescore(s, np.array([0.5, 1.0, 1.0]), 0.2)
    assert np.allclose(got, [0.2, 0.0, 0.9]) and got.dtype == np.float64
    # float32(0.2) = 0.2000000030 is above 0.2, as in the reference under numpy 1.x
    assert rescore(np.array([[0.2, 0.1]], np.float32), np.ones(1), 0.2)[0] == float(np.float32(0.2))


def test_rescore_matches_loop_bitwise() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1, (200, 17)).astype(np.float32)
    box = rng.uniform(0, 1, 200).astype(np.float32)
    assert np.array_equal(rescore(s, box, 0.2), _rescore_loop(s, box, 0.2))


def _oks(a: np.ndarray, b: np.ndarray, area_a: float, area_b: float) -> float:
    var = (SIGMAS * 2) ** 2
    e = ((a - b) ** 2).sum(-1) / var / ((area_a + area_b) / 2 + np.spacing(1)) / 2
    return float(np.mean(np.exp(-e)))


def _nms_loop(kp: np.ndarray, scores: np.ndarray, areas: np.ndarray, groups: np.ndarray, thr: float) -> list[int]:
    """Per image: take the best remaining, drop the rest with OKS > thr, repeat."""
    out = []
    seen = []
    for g in groups:
        if g not in seen:
            seen.append(g)
    for g in seen:
        idx = [i for i in range(len(groups)) if groups[i] == g]
        order = sorted(idx, key=lambda i: (-scores[i], -i))
        while order:
            i = order.pop(0)
            out.append(i)
            order = [j for j in order if _oks(kp[i], kp[j], areas[i], areas[j]) <= thr]
    return out


def test_oks_nms_matches_loop() -> None:
    rng = np.random.default_rng(1)
    n = 300
    groups = rng.integers(0, 40, n)
    centres = rng.uniform(0, 500, (40, 3, 2))
    person = rng.integers(0, 3, n)
    kp = centres[groups, person][:, None, :] + rng.normal(0, 1, (n, 17, 2)) * rng.choice([0.5, 3, 30], (n, 1, 1))
    scores = rng.uniform(0, 1, n).round(1)            # some ties
    areas = rng.uniform(500, 5000, n)
    got = oks_nms(kp, scores, areas, groups, SIGMAS, 0.9).tolist()
    want = _nms_loop(kp, scores, areas, groups, 0.9)
    assert got == want
    assert len(want) < n                               # something was suppressed


def test_oks_nms_duplicates_and_far_people() -> None:
    kp = np.zeros((3, 17, 2))
    kp[0] += 100
    kp[1] += 100.5           # near-duplicate of 0
    kp[2] += 400             # far away
    keep = oks_nms(kp, np.array([0.5, 0.9, 0.7]), np.full(3, 1000.0), np.zeros(3, int), SIGMAS, 0.9)
    assert keep.tolist() == [1, 2]


def test_postprocess_rejects_bad_predictions() -> None:
    def pred(kp, sc):
        return PosePrediction(image_id=1, bbox_xywh=np.array([0.0, 0, 10, 20]), keypoints=kp, keypoint_scores=sc,
                              area=312.5)

    good_kp, good_sc = np.zeros((17, 2), np.float32), np.full(17, 0.5, np.float32)
    with pytest.raises(DataError, match="prediction 1 .*expected keypoints"):
        postprocess([pred(good_kp, good_sc), pred(np.zeros((15, 2)), np.zeros(15))], POSETRACK18.sigmas_array)
    nan_kp = good_kp.copy()
    nan_kp[3, 0] = np.nan
    with pytest.raises(DataError, match="prediction 0 .*NaN"):
        postprocess([pred(nan_kp, good_sc)], POSETRACK18.sigmas_array)

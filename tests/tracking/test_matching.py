"""Tracking costs and assignments: hand-computed OKS and matchings."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.tracking.matching import fuse_similarity, greedy_match, hungarian_match, pairwise_oks


def test_pairwise_oks_hand_computed() -> None:
    # sigma 0.025 -> (2 sigma)^2 = 0.0025; area 10000 -> 2 * area * var = 50; d^2 = 5^2 + 5^2 = 50 -> e = 1.
    sig = np.full(3, 0.025)
    a = np.array([[[10, 10, 0.9], [0, 0, 0.1], [50, 50, 0.9]]])        # keypoint 1 not confident
    b = np.array([[[15, 15, 0.9], [99, 99, 0.9], [50, 50, 0.2]]])      # keypoint 2 not confident
    oks, counts = pairwise_oks(a, b, np.array([10000.0]), np.array([10000.0]), sig, score_thr=0.3)
    assert counts.tolist() == [[1]]
    assert oks[0, 0] == pytest.approx(np.exp(-1.0), rel=1e-12)
    # Areas are averaged: 5000 and 15000 -> 10000, same OKS.
    oks2, _ = pairwise_oks(a, b, np.array([5000.0]), np.array([15000.0]), sig)
    assert oks2[0, 0] == pytest.approx(np.exp(-1.0), rel=1e-12)
    # Identical poses give 1; no shared confident keypoint gives 0 with count 0.
    same, _ = pairwise_oks(a, a, np.array([1.0]), np.array([1.0]), sig)
    assert same[0, 0] == pytest.approx(1.0)
    none, c0 = pairwise_oks(a[:, 1:2], b[:, 2:3], np.array([1.0]), np.array([1.0]), sig[:1])
    assert none[0, 0] == 0.0 and c0[0, 0] == 0


def test_pairwise_oks_over_either_pose_counts_one_sided_joints_as_zero() -> None:
    # same poses as above: joint 0 shared (exp(-1)), joint 1 confident in b only, joint 2 in a only
    sig = np.full(3, 0.025)
    a = np.array([[[10, 10, 0.9], [0, 0, 0.1], [50, 50, 0.9]]])
    b = np.array([[[15, 15, 0.9], [99, 99, 0.9], [50, 50, 0.2]]])
    oks, counts = pairwise_oks(a, b, np.array([10000.0]), np.array([10000.0]), sig, score_thr=0.3, either=True)
    assert counts.tolist() == [[1]]                                   # still the joints confident in both
    assert oks[0, 0] == pytest.approx(np.exp(-1.0) / 3, rel=1e-12)    # 3 joints confident in either
    # a three-joint pose on a full pose's joints: 1 with the intersection, 3/17 over either
    full = np.zeros((1, 17, 3))
    full[0, :, 0], full[0, :, 2] = np.arange(17) * 10.0, 0.9
    part = full.copy()
    part[0, 3:, 2] = 0.1
    sig17 = np.full(17, 0.05)
    both, _ = pairwise_oks(part, full, np.array([1e4]), np.array([1e4]), sig17)
    either, _ = pairwise_oks(part, full, np.array([1e4]), np.array([1e4]), sig17, either=True)
    assert both[0, 0] == pytest.approx(1.0) and either[0, 0] == pytest.approx(3 / 17)


def test_greedy_match_takes_highest_first() -> None:
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(sim, 0.3) == [(0, 0)]                 # (1, 1) is below threshold
    assert sorted(greedy_match(sim, 0.05)) == [(0, 0), (1, 1)]
    assert greedy_match(np.array([[np.nan, 0.5]]), 0.3) == [(0, 1)]
    assert greedy_match(np.zeros((0, 3)), 0.3) == []
    # Rectangular: 3 detections, 1 track -> only the best detection gets it.
    assert greedy_match(np.array([[0.4], [0.7], [0.6]]), 0.3) == [(1, 0)]


def test_hungarian_match_maximises_the_gain_over_the_threshold() -> None:
    # greedy takes 0.9 first and is left with 0.1; the optimum pairs 0.8 + 0.8
    sim = np.array([[0.9, 0.8], [0.8, 0.1]])
    assert greedy_match(sim, 0.05) == [(0, 0), (1, 1)]
    assert hungarian_match(sim, 0.05) == [(0, 1), (1, 0)]
    # one strong pair beats two weak ones when the gains over the threshold say so: 0.7 > 0.1 + 0.5
    assert hungarian_match(np.array([[0.9, 0.3], [0.7, np.nan]]), 0.2) == [(0, 0)]
    assert hungarian_match(np.array([[0.1, 0.15]]), 0.2) == []
    assert hungarian_match(np.zeros((0, 3)), 0.2) == [] and hungarian_match(np.zeros((2, 0)), 0.2) == []
    assert hungarian_match(np.array([[0.3], [0.6], [0.5]]), 0.2) == [(1, 0)]


def test_fuse_similarity_by_hand() -> None:
    iou = np.array([[0.5, 0.2]])
    oks = np.array([[0.9, np.nan]])
    np.testing.assert_allclose(fuse_similarity(iou, oks, 0.75), [[0.25 * 0.5 + 0.75 * 0.9, 0.2]])
    np.testing.assert_allclose(fuse_similarity(iou, oks, 0.0), iou)

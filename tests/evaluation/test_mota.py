"""Tracking metrics (MOTA etc.) against poseval's golden results; the assignment solver against scipy."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simplepose.evaluation.eval_data import load_eval_data
from simplepose.evaluation.mota import MotAccumulator, evaluate_tracking, linear_sum_assignment

CASES = ["p01_clean_small", "p02_noise_levels", "p03_ignore_regions", "p04_fp_missed_swaps",
         "p05_unlabeled_and_empty", "p06_tracking", "p07_joint_gaps_thresholds",
         "p08_score_ties", "p09_mixed_medium"]


@pytest.mark.parametrize("case", CASES)
def test_golden_tracking(poseval_golden_dir: Path, case: str) -> None:
    d = poseval_golden_dir / case
    want = json.loads((d / "expected.json").read_text())["tracking"]
    got = evaluate_tracking(load_eval_data(d / "gt", d / "pred")).to_json()
    for key in ("mota", "motp", "precision", "recall", "summary"):
        for a, b in zip(got[key], want[key], strict=True):
            assert (a is None and b is None) or abs(a - b) <= 1e-6, key
    for key, values in want["per_joint_counts"].items():
        assert np.allclose(got["per_joint_counts"][key], values, rtol=0, atol=1e-9), key


def test_assignment_matches_scipy_including_ties() -> None:
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    for trial in range(300):
        shape = tuple(rng.integers(1, 7, 2))
        cost = rng.integers(0, 4, shape).astype(float) if trial % 2 else rng.uniform(0, 1, shape)
        want = scipy_opt.linear_sum_assignment(cost)
        got = linear_sum_assignment(cost)
        assert list(want[0]) == got[0] and list(want[1]) == got[1], cost


def test_accumulator_switch_and_carry_over() -> None:
    """Object 1 matched to hypothesis 10, then only 11 is close: one switch; a miss and a FP."""
    acc = MotAccumulator()
    acc.update([1], [10], [[0.1]])
    acc.update([1], [10, 11], [[float("nan"), 0.2]])
    acc.update([1, 2], [11], [[0.3], [float("nan")]])
    assert (acc.matches, acc.switches, acc.misses, acc.fps) == (2, 1, 1, 1)
    assert acc.d_match == pytest.approx(0.6)

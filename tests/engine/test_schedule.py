"""LR schedule against hand-computed values."""
from __future__ import annotations

import pytest

from simplepose.engine.config import OptimConfig
from simplepose.engine.schedule import lr_factor, scaled_base_lr


def test_seed_schedule_hand_values():
    o = OptimConfig()  # warm-up 500 iterations from 0.001, x0.1 at epochs 10 and 15
    # MMEngine LinearLR: factor(i) = 0.001 + 0.999 * min(i, 499) / 499
    assert lr_factor(0, 0, o) == pytest.approx(0.001, rel=1e-12)
    assert lr_factor(1, 0, o) == pytest.approx(0.001 + 0.999 / 499, rel=1e-12)
    assert lr_factor(250, 0, o) == pytest.approx(0.001 + 0.999 * 250 / 499, rel=1e-12)
    assert lr_factor(499, 0, o) == 1.0
    assert lr_factor(500, 1, o) == 1.0
    assert lr_factor(10_000, 9, o) == 1.0
    assert lr_factor(10_000, 10, o) == pytest.approx(0.1)
    assert lr_factor(10_000, 14, o) == pytest.approx(0.1)
    assert lr_factor(10_000, 15, o) == pytest.approx(0.01)
    assert lr_factor(10_000, 19, o) == pytest.approx(0.01)
    # both at once (a short epoch: milestone reached during warm-up): factors multiply
    assert lr_factor(100, 10, o) == pytest.approx((0.001 + 0.999 * 100 / 499) * 0.1)


def test_lr_scaling():
    o = OptimConfig()
    assert scaled_base_lr(o, 512) == pytest.approx(5e-4)
    assert scaled_base_lr(o, 64) == pytest.approx(5e-4 / 8)
    o.auto_scale_lr = False
    assert scaled_base_lr(o, 64) == 5e-4


def test_no_warmup():
    o = OptimConfig(warmup_iters=0, milestones=[2])
    assert [lr_factor(i, e, o) for i, e in ((0, 0), (5, 1), (9, 2))] == [1.0, 1.0, pytest.approx(0.1)]

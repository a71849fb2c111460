"""The numpy helpers the metric modules share."""
from __future__ import annotations

import math

import numpy as np

from simplepose.evaluation.arrays import nan_to_none, nanmean, ranks_within


def test_ranks_within() -> None:
    assert ranks_within(np.array([2, 0, 3, 1])).tolist() == [0, 1, 0, 1, 2, 0]
    assert ranks_within(np.zeros(0, np.int64)).tolist() == []


def test_nanmean_and_nan_to_none() -> None:
    assert nanmean(np.array([1.0, math.nan, 3.0])) == 2.0
    assert math.isnan(nanmean(np.array([math.nan])))
    assert nan_to_none(np.array([1.5, math.nan])) == [1.5, None]

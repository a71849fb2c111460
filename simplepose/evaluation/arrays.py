"""Small numpy helpers shared by the vectorised metric modules."""
from __future__ import annotations

import math

import numpy as np


def ranks_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated (positions inside consecutive segments)."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values, NaN if there are none."""
    ok = values[~np.isnan(values)]
    return float(ok.mean()) if len(ok) else math.nan


def nan_to_none(values: np.ndarray) -> list[float | None]:
    """Floats with NaN replaced by None (JSON null)."""
    return [None if math.isnan(v) else float(v) for v in values]

"""One-Euro smoothing of tracked keypoints (Casiez et al. 2012), per track and joint, time in frames.

For a new value x at time gap te (frames) after the previous filtered value x_prev:
  alpha(c) = 1 / (1 + 1 / (2 pi c te)),
  dx  = alpha(d_cutoff) (x - x_prev) / te + (1 - alpha(d_cutoff)) dx_prev,
  c   = min_cutoff + beta |dx|,
  out = alpha(c) x + (1 - alpha(c)) x_prev.
Cutoffs are in cycles per frame and beta per (pixel per frame). Defaults min_cutoff 0.2, beta 0.01,
d_cutoff 1: tuned on a synthetic train split for the lowest jitter (evaluation.jitter) at no mAP or
MOTA cost, then checked on val splits of other seeds (benchmarks/smoothing.py, docs/tracking.md);
MMPose 0.x's OneEuroFilter defaults (min_cutoff 0.004, beta 0.7) barely smooth moving joints. A
track's first pose passes unchanged; joints given as (0, 0, 0) (absent) pass unchanged and leave
the state alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SmoothingConfig:
    """One-Euro parameters (off unless enabled; `infer --track` enables it, `track` does not)."""

    enabled: bool = False
    min_cutoff: float = 0.2
    beta: float = 0.01
    d_cutoff: float = 1.0

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable): cutoffs > 0, beta >= 0."""
        problems = [f"{name} must be > 0" for name in ("min_cutoff", "d_cutoff") if not getattr(self, name) > 0]
        return problems + (["beta must be >= 0"] if not self.beta >= 0 else [])


def _alpha(cutoff: np.ndarray | float, te: float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass at `cutoff` (cycles per frame) for a step of te frames."""
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * np.asarray(cutoff, np.float64) * te))


class PoseSmoother:
    """Smooths each track's keypoints over the frames of one video; call reset() between videos."""

    def __init__(self, cfg: SmoothingConfig | None = None):
        """cfg: the filter parameters."""
        self.cfg = cfg or SmoothingConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every track's state."""
        self.state: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}   # id -> (frame, x (K, 2), dx (K, 2))

    def __call__(self, keypoints: np.ndarray, track_ids: np.ndarray, frame: int) -> np.ndarray:
        """Smoothed copy of keypoints (N, K, 3) of the persons with track_ids (N,) at `frame`."""
        c = self.cfg
        out = np.asarray(keypoints, np.float64).copy()
        for i, tid in enumerate(np.asarray(track_ids).tolist()):
            x = out[i, :, :2]
            present = ~(out[i] == 0).all(-1)
            if tid not in self.state:
                self.state[tid] = (frame, x.copy(), np.zeros_like(x))
                continue
            last, x_prev, dx_prev = self.state[tid]
            te = float(max(frame - last, 1))
            a_d = _alpha(c.d_cutoff, te)
            dx = a_d * (x - x_prev) / te + (1 - a_d) * dx_prev
            a = _alpha(c.min_cutoff + c.beta * np.linalg.norm(dx, axis=-1, keepdims=True), te)
            smooth = a * x + (1 - a) * x_prev
            x_new = np.where(present[:, None], smooth, x_prev)
            self.state[tid] = (frame, x_new, np.where(present[:, None], dx, dx_prev))
            out[i, present, :2] = smooth[present]
        return out.astype(np.float32)

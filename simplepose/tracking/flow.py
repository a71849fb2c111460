"""Optical flow of body joints between two frames, from OpenCV (no learned weights).

Two methods, chosen by FlowConfig.method:

* ``lk`` (default): sparse pyramidal Lucas-Kanade on the joints themselves. The pyramid needs
  enough levels for fast motion (at 3 levels a 45 px move is lost without a failure status), so
  ``max_level`` defaults to 4 (5 levels). Each joint is tracked forward and back; a joint whose
  round trip misses its start by more than ``fb_thr`` pixels, or that OpenCV reports lost, takes
  the median motion of its person's good joints instead (of the whole frame's good joints when the
  person has none; zero motion when no joint of the frame is good).
  LK runs on frames scaled so that their longer side is at most ``lk_max_side`` (1080p -> 960 x
  540: a quarter of the pixels, a 45 px move becomes 22 px); points and thresholds stay in
  full-resolution pixels.
* ``dis``: OpenCV's DIS dense flow (ULTRAFAST preset) on frames scaled by ``dis_scale``, sampled at
  the joints (nearest flow vector) and scaled back to full-resolution pixels.

``prepare`` turns a frame into what the method works on (grey, scaled) once per frame; the tracker
keeps the previous frame's prepared form.

Joints that are not finite or not ``valid`` are left where they are (they are not tracked).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

METHODS = ("lk", "dis")


@dataclass
class FlowConfig:
    """How joints are moved from one frame to the next."""

    method: str = "lk"          # "lk" (sparse pyramidal Lucas-Kanade) or "dis" (dense, scaled)
    win_size: int = 15          # LK window (pixels at each pyramid level; 21 loses joints near a person's edge)
    lk_iters: int = 30          # LK iterations per pyramid level at most
    lk_eps: float = 0.01        # LK stops at a level once its update is below this (px)
    max_level: int = 4          # LK pyramid: max_level + 1 levels (>= 4 levels for fast motion)
    fb_thr: float = 1.5         # LK forward-backward round-trip error (px) above which a joint is bad
    lk_max_side: int = 960      # LK on frames scaled down to at most this longer side (px)
    dis_scale: float = 0.5      # DIS runs on frames resized by this factor


def to_gray(image: np.ndarray) -> np.ndarray:
    """H x W uint8 grey frame from an H x W x 3 BGR (or already grey) uint8 image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@dataclass
class FlowFrame:
    """A frame as the flow method works on it: grey, resized by `scale` (full-resolution px x scale)."""

    gray: np.ndarray
    scale: float


class JointFlow:
    """Moves joints (M, K, 2) from a previous grey frame to the current one."""

    def __init__(self, cfg: FlowConfig | None = None):
        """cfg: the method and its parameters (FlowConfig defaults if None)."""
        self.cfg = cfg or FlowConfig()
        if self.cfg.method not in METHODS:
            raise ValueError(f"flow method must be one of {METHODS}, got {self.cfg.method!r}")
        self._dis = None

    def prepare(self, image: np.ndarray) -> FlowFrame:
        """The frame (BGR or grey uint8) grey and resized for the method."""
        gray = to_gray(image)
        h, w = gray.shape
        c = self.cfg
        s = float(c.dis_scale) if c.method == "dis" else min(1.0, c.lk_max_side / max(h, w))
        if s != 1.0:
            gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        return FlowFrame(gray, s)

    def __call__(self, prev: FlowFrame | np.ndarray, cur: FlowFrame | np.ndarray, points: np.ndarray,
                 valid: np.ndarray) -> np.ndarray:
        """Joints (M, K, 2) (full-resolution px) moved into `cur`; valid (M, K) marks the joints to track."""
        prev = prev if isinstance(prev, FlowFrame) else self.prepare(prev)
        cur = cur if isinstance(cur, FlowFrame) else self.prepare(cur)
        pts = np.asarray(points, np.float64)
        ok = np.asarray(valid, bool) & np.isfinite(pts).all(-1)                # (M, K)
        out = pts.copy()
        if not ok.any():
            return out
        s = cur.scale
        if self.cfg.method == "lk":
            moved, good = self._lk(prev.gray, cur.gray, pts[ok] * s, self.cfg.fb_thr * s)
        else:
            moved, good = self._dis_sample(prev.gray, cur.gray, pts[ok] * s), None
        moved = moved / s
        motion = np.zeros_like(pts)                                            # (M, K, 2)
        motion[ok] = moved - pts[ok]
        if good is not None:
            good_mk = np.zeros(ok.shape, bool)
            good_mk[ok] = good
            motion = _fill_bad_motion(motion, ok, good_mk)
        out[ok] = pts[ok] + motion[ok]
        return out

    def _lk(self, prev_gray: np.ndarray, gray: np.ndarray, pts: np.ndarray,
            fb_thr: float) -> tuple[np.ndarray, np.ndarray]:
        """LK forward and back on points (P, 2): (moved (P, 2), good (P,) bool)."""
        c = self.cfg
        p0 = pts.astype(np.float32).reshape(-1, 1, 2)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, c.lk_iters, c.lk_eps)
        kw = dict(winSize=(c.win_size, c.win_size), maxLevel=c.max_level, criteria=criteria)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, p0, None, **kw)
        p0b, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev_gray, p1, None, **kw)
        p1 = p1.reshape(-1, 2).astype(np.float64)
        fb = np.linalg.norm(p0b.reshape(-1, 2) - p0.reshape(-1, 2), axis=1)
        good = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb <= fb_thr) & np.isfinite(p1).all(1)
        return p1, good

    def _dis_sample(self, prev_gray: np.ndarray, gray: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """DIS dense flow between the scaled frames, sampled (nearest) at scaled points (P, 2)."""
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        flow = self._dis.calc(prev_gray, gray, None)                          # (h, w, 2)
        h, w = flow.shape[:2]
        xi = np.clip(np.rint(pts[:, 0]), 0, w - 1).astype(np.int64)
        yi = np.clip(np.rint(pts[:, 1]), 0, h - 1).astype(np.int64)
        return pts + flow[yi, xi].astype(np.float64)


def _fill_bad_motion(motion: np.ndarray, tracked: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Motion (M, K, 2) with every tracked-but-bad joint given its person's (else the frame's) median."""
    out = motion.copy()
    bad = tracked & ~good
    if not bad.any():
        return out
    frame_median = np.median(motion[good], axis=0) if good.any() else np.zeros(2)
    for m in np.flatnonzero(bad.any(axis=1)):
        person_good = good[m]
        med = np.median(motion[m, person_good], axis=0) if person_good.any() else frame_median
        out[m, bad[m]] = med
    return out

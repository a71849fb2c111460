"""Jitter: the keypoint acceleration error of tracked predictions against the ground truth.

What is measured: for every GT person track o, joint j and three consecutive frames t-1, t, t+1
of a video (adjacent positions in the GT file's ``images``, all three evaluated, i.e. with GT
persons) where

* o is annotated in all three frames, and
* in each of them o's joint j is matched to a prediction by the MOTA matching
  (``mota.evaluate_tracking``'s per-joint CLEAR-MOT assignment at PCKh <= 0.5, recorded in
  ``TrackingResult.gt_match``), the three predictions carrying the same track id,

the triple's error is the length of the difference of the two second differences

    e = || (p[t+1] - 2 p[t] + p[t-1]) - (g[t+1] - 2 g[t] + g[t-1]) ||     in pixels,

with p the predicted and g the GT joint position. Normalised, e / head(o, t) with head(o, t) the
GT person's head size in the middle frame (0.6 x the head box diagonal, as the PCKh of AP and
MOTA), given in percent. Per joint: the mean over that joint's triples; total (index 15): the mean
over all triples of all joints (each triple weighs one), with the number of triples counted.
NaN (JSON null) where there is no triple.

Consequences of the definition: a prediction that follows the GT with any constant offset or
constant velocity error scores zero (only frame-to-frame wobble counts); a miss, a false positive
or an id switch breaks the run instead of counting (MOTA counts those), so e <= 4 x 0.5 head sizes;
frames with no GT or no prediction, and each video's last evaluated frame (poseval's MOTA, and so
its matching, stops one frame short), end runs. Sparse labels (every 4th frame) give no triple.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simplepose.evaluation.arrays import nan_to_none
from simplepose.evaluation.eval_data import EvalData
from simplepose.evaluation.mota import TrackingResult
from simplepose.evaluation.poseval_files import JOINT_NAMES, NUM_JOINTS


@dataclass
class JitterResult:
    """Mean acceleration error per joint (16,) in pixels and in percent of the head size; triples (16,)."""

    pixels: np.ndarray          # (16,) float64, index 15 = all triples
    head_percent: np.ndarray    # (16,) float64
    triples: np.ndarray         # (16,) int64

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: joint names, the two means (None without triples) and the counts."""
        return {"joint_names": list(JOINT_NAMES), "pixels": nan_to_none(self.pixels),
                "head_percent": nan_to_none(self.head_percent), "triples": self.triples.tolist()}


def consecutive_triples(data: EvalData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GT rows (T,) a, b, c of one track in three consecutive frames of a video (b the middle one)."""
    gt = data.gt
    video = data.video_of_frame[gt.frame]
    pos = data.frame_position[gt.frame]
    order = np.lexsort((pos, gt.track, video))
    v, tr, ps = video[order], gt.track[order], pos[order]
    step = (v[1:] == v[:-1]) & (tr[1:] == tr[:-1]) & (ps[1:] == ps[:-1] + 1)    # (N-1,) row i -> i+1
    mid = np.flatnonzero(step[:-1] & step[1:]) + 1
    return order[mid - 1], order[mid], order[mid + 1]


def triple_errors(data: EvalData, tracking: TrackingResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every counted triple: its joint (K,), error in pixels (K,) and in head sizes (K,)."""
    gt, pred, match = data.gt, data.pred, tracking.gt_match
    if match.shape != (len(gt.frame), NUM_JOINTS):
        raise ValueError(f"gt_match has shape {match.shape}, expected ({len(gt.frame)}, {NUM_JOINTS}): "
                         "the tracking result is not of this data")
    a, b, c = consecutive_triples(data)
    ma, mb, mc = match[a], match[b], match[c]                                      # (T, 15)
    ok = (ma >= 0) & (mb >= 0) & (mc >= 0)
    if len(pred.frame):
        track = pred.track
        ok &= (track[ma] == track[mb]) & (track[mb] == track[mc])                  # -1 rows masked by ok
    t, j = np.nonzero(ok)
    acc_p = pred.xy[mc[t, j], j] - 2 * pred.xy[mb[t, j], j] + pred.xy[ma[t, j], j]  # (K, 2)
    acc_g = gt.xy[c[t], j] - 2 * gt.xy[b[t], j] + gt.xy[a[t], j]
    err = np.hypot(*(acc_p - acc_g).T) if len(t) else np.zeros(0)
    return j, err, err / gt.head[b[t]]


def evaluate_jitter(data: EvalData, tracking: TrackingResult) -> JitterResult:
    """The acceleration error (module docstring) of the predictions evaluate_tracking(data) matched."""
    joint, err, err_head = triple_errors(data, tracking)
    n = np.bincount(joint, minlength=NUM_JOINTS)
    counts = np.r_[n, n.sum()].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        px = np.r_[np.bincount(joint, err, NUM_JOINTS), err.sum()] / counts
        head = 100 * np.r_[np.bincount(joint, err_head, NUM_JOINTS), err_head.sum()] / counts
    return JitterResult(px, head, counts)


def format_jitter(result: JitterResult) -> str:
    """One line: the total acceleration error in percent of the head size and in pixels, and its triples."""
    px, head, n = result.pixels[NUM_JOINTS], result.head_percent[NUM_JOINTS], int(result.triples[NUM_JOINTS])
    if n == 0:
        return ("jitter (acceleration error vs GT): no triple of 3 consecutive labeled frames matched to one "
                "track")
    return (f"jitter (acceleration error vs GT, 3 consecutive labeled frames): {head:.2f}% of head size, "
            f"{px:.2f} px, over {n} joint triples")

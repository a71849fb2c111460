"""The PoseTrack AP broken down: per sequence, by person size, by visible joints, per frame.

Every number is ``pose_ap.compute_metrics`` on a subset of the detections that
``pose_ap.collect_detections`` lists (same matching, same labels), against the GT joints of
the matching subset of GT persons:

* Per sequence: the detections and GT joints of one video. This equals evaluating that video's
  file alone, since matching never crosses frames.
* By group (person size, visible joints): a GT person's group comes from the GT person, a
  prediction's from the GT person it is assigned to, or, if it is assigned to none, from the
  prediction itself (COCO's rule for area ranges: unmatched detections are kept in the range of
  their own size). Size is the diagonal of the bounding box of the person's present joints, in
  pixels; the bins are the terciles of the GT sizes. Visible joints are the present joints of
  the person (1-5, 6-10, 11-15).
* Per frame: true positives over detections (precision) and over GT joints (recall), at every
  score; F1 = 2 TP / (detections + GT joints), NaN where both are 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simplepose.evaluation.eval_data import EvalData
from simplepose.evaluation.pose_ap import Detections, compute_metrics, subset_ap
from simplepose.evaluation.poseval_files import NUM_JOINTS, Persons

VISIBLE_BINS: tuple[tuple[int, int], ...] = ((1, 5), (6, 10), (11, 15))


@dataclass
class GroupAP:
    """AP (n_groups, 16) of named groups with their GT person counts."""

    names: list[str]
    ap: np.ndarray
    n_gt_persons: np.ndarray        # (n_groups,)


def person_size(persons: Persons) -> np.ndarray:
    """(N,) diagonal of the bounding box of each person's present joints, pixels (0 without joints)."""
    has = persons.has[..., None]
    span = (np.where(has, persons.xy, -np.inf).max(axis=1, initial=-np.inf)
            - np.where(has, persons.xy, np.inf).min(axis=1, initial=np.inf))      # (N, 2)
    return np.where(persons.has.any(axis=1), np.hypot(span[:, 0], span[:, 1]), 0.0)


def per_sequence(data: EvalData, det: Detections, order: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per video, AP, precision and recall (V, 16) in percent; order: pose_ap.rank_order(det) if known."""
    vof = data.video_of_frame
    det_video = vof[data.pred.frame[det.person]]             # non-decreasing: persons in frame order
    gt_video = vof[data.gt.frame]
    n_videos = len(data.videos)
    bounds = np.searchsorted(det_video, np.arange(n_videos + 1))
    if order is not None:                                    # each video's detections in rank order
        order = order[np.argsort(det_video[order], kind="stable")]
    out = np.zeros((3, n_videos, NUM_JOINTS + 1))
    for v in range(n_videos):
        n_gt = data.gt.has[gt_video == v].sum(axis=0)
        lo, hi = bounds[v], bounds[v + 1]
        out[:, v] = compute_metrics(det.subset(slice(lo, hi), n_gt), None if order is None else order[lo:hi] - lo)
    return out[0], out[1], out[2]


def _group_ap(data: EvalData, det: Detections, order: np.ndarray, assigned: np.ndarray, gt_group: np.ndarray,
              pred_group: np.ndarray, names: list[str]) -> GroupAP:
    """AP of each group given the group index (-1 = none) of GT persons (G,) and predictions (P,)."""
    group = np.where(assigned >= 0, gt_group[np.maximum(assigned, 0)] if len(gt_group) else -1, pred_group)
    det_group = group[det.person]
    ap = np.stack([subset_ap(det, det_group == b, data.gt.has[gt_group == b].sum(axis=0), order)
                   for b in range(len(names))]) if names else np.zeros((0, NUM_JOINTS + 1))
    return GroupAP(names, ap, np.bincount(gt_group[gt_group >= 0], minlength=len(names)))


def ap_by_size(data: EvalData, det: Detections, order: np.ndarray, assigned: np.ndarray
               ) -> tuple[GroupAP, np.ndarray]:
    """AP of small / medium / large persons (GT terciles) and the two bin edges in pixels.

    order: pose_ap.rank_order(det); assigned: pose_ap.assign's GT index of each prediction.
    """
    gt_size, pred_size = person_size(data.gt), person_size(data.pred)
    valid = data.gt.has.any(axis=1)
    edges = np.quantile(gt_size[valid], [1 / 3, 2 / 3]) if valid.any() else np.zeros(2)
    gt_group = np.where(valid, np.searchsorted(edges, gt_size, side="right"), -1)
    pred_group = np.where(data.pred.has.any(axis=1), np.searchsorted(edges, pred_size, side="right"), -1)
    return _group_ap(data, det, order, assigned, gt_group, pred_group, ["small", "medium", "large"]), edges


def ap_by_visible(data: EvalData, det: Detections, order: np.ndarray, assigned: np.ndarray) -> GroupAP:
    """AP of persons with 1-5, 6-10 and 11-15 present joints (order, assigned: as for ap_by_size)."""
    def group(persons: Persons) -> np.ndarray:
        n = persons.has.sum(axis=1)
        return np.where(n > 0, (n - 1) // 5, -1)
    names = [f"{lo}-{hi}" for lo, hi in VISIBLE_BINS]
    return _group_ap(data, det, order, assigned, group(data.gt), group(data.pred), names)


def per_frame(data: EvalData, det: Detections) -> dict[str, np.ndarray]:
    """Per evaluated frame (n_frames,): true positives, detections, GT joints, precision, recall, F1."""
    frame = data.pred.frame[det.person]
    n = data.n_frames
    tp = np.bincount(frame, weights=det.label, minlength=n)
    n_det = np.bincount(frame, minlength=n).astype(np.float64)
    n_gt = np.bincount(data.gt.frame, weights=data.gt.has.sum(axis=1), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"tp": tp, "detections": n_det, "gt_joints": n_gt, "precision": 100 * tp / n_det,
                "recall": 100 * tp / n_gt, "f1": 100 * 2 * tp / (n_det + n_gt)}

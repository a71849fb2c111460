"""poseval's per-joint AP for PoseTrack18 (``evaluateAP`` + ``getCum``), exact and vectorised.

Every step works on flat arrays over all persons and joints of all evaluated frames at once
(``simplepose.evaluation.eval_data.EvalData``); the rules are poseval's.

Matching, per frame, with G the GT persons and P the predicted persons left after loading
(persons without keypoints included):

* d(p, g, j) = distance between the predicted and the GT joint j divided by g's head size (0.6 x
  the head box diagonal), infinite if either joint is absent. Joint j matches if d <= 0.5
  (PCKh@0.5, inclusive).
* pck(p, g) = matched joints / joints present in g (0 when g has none).
* Greedy assignment: each prediction keeps only its best GT (highest pck, the first GT in
  annotation order on ties); each GT then takes, among the predictions that kept it, the one with
  the highest pck (the first prediction in annotation order on ties), or nothing if that pck is 0.
  Scores play no part, and a prediction that loses its GT stays unassigned even if it matches
  another.
* Every present joint of every prediction becomes one detection (score, label) of that joint,
  labelled true iff its person is assigned and the joint matches the assigned GT. A predicted
  joint the GT does not annotate is a false positive; unassigned predictions give only false
  positives, as do the predictions of a frame left without GT persons.
* The GT count of joint j is the number of GT persons with j present, over all frames.

AP per joint: the joint's detections, listed by video, frame and annotation order, are sorted
by descending score, NaN first. poseval sorts with numpy's unstable quicksort, so the order of
equal scores, and AP under score ties, is not defined there; here a stable sort keeps equal
scores in list order. Results are therefore exact to poseval when scores are distinct, or when
equal scores are all true or all false positives; otherwise (warned, ``mixed_ties``) poseval's
own number depends on the machine's sort. At rank k, precision_k = TP_k / k and recall_k = TP_k / nGT. AP is VOC's
all-point average: (recall 0, precision 0) in front, (recall 1, precision 0) at the end, each
precision replaced by the maximum at its rank or later, summed as (r_i - r_(i-1)) * p_i over the
ranks where recall changes. The reported precision and recall are those of the last rank.
No detections: AP = precision = recall = 0; detections but no GT joints: AP = recall = NaN,
precision 0. Index 15 ("total") is the mean over the 15 joints skipping NaN. All in percent.

Summary table (getCum): Head = mean(head_top, neck, nose); Shou, Elb, Wri, Hip, Knee, Ankl = mean
of right and left; Total = index 15 (not the mean of the groups). Group means do not skip NaN.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from simplepose.evaluation.arrays import nan_to_none, nanmean, ranks_within
from simplepose.evaluation.eval_data import EvalData, load_eval_data
from simplepose.evaluation.poseval_files import JOINT_NAMES, NUM_JOINTS, Persons

SUMMARY_HEADER: tuple[str, ...] = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")
# Joints averaged into each summary column (poseval's getCum), Total is index 15 itself.
_SUMMARY_GROUPS: tuple[tuple[int, ...], ...] = (
    (14, 12, 13), (8, 9), (7, 10), (6, 11), (2, 3), (1, 4), (0, 5), (15,),
)
PCKH_THRESHOLD = 0.5

log = logging.getLogger(__name__)


@dataclass
class Detections:
    """Every predicted joint that enters AP: joint index, score, true-positive label."""

    joint: np.ndarray        # (D,) int64
    score: np.ndarray        # (D,) float64
    label: np.ndarray        # (D,) bool
    n_gt: np.ndarray         # (15,) int64 GT joints
    person: np.ndarray | None = None   # (D,) int64 index of the predicted person

    def subset(self, keep: np.ndarray | slice, n_gt: np.ndarray) -> Detections:
        """The detections selected by keep ((D,) bool or a slice), scored against n_gt (15,) GT joints."""
        person = None if self.person is None else self.person[keep]
        return Detections(self.joint[keep], self.score[keep], self.label[keep],
                          np.asarray(n_gt, np.int64), person)


def pairwise_distances(gt: Persons, pred: Persons, n_frames: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All same-frame (prediction, GT) pairs, ordered by prediction then GT.

    Returns pair_pred (M,), pair_gt (M,), distance (M, 15) in head sizes (inf where the
    joint is missing on either side), match (M, 15) bool (distance <= 0.5).
    """
    g_count = np.bincount(gt.frame, minlength=n_frames)
    g_start = np.cumsum(g_count) - g_count
    reps = g_count[pred.frame]
    pair_pred = np.repeat(np.arange(len(pred.frame)), reps)
    pair_gt = np.repeat(g_start[pred.frame], reps) + ranks_within(reps)
    diff = pred.xy[pair_pred] - gt.xy[pair_gt]                       # (M, 15, 2)
    both = pred.has[pair_pred] & gt.has[pair_gt]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / gt.head[pair_gt, None]
    dist = np.where(both, dist, np.inf)
    return pair_pred, pair_gt, dist, dist <= PCKH_THRESHOLD


def assign(gt: Persons, pred: Persons, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """poseval's greedy person assignment.

    Returns the GT index each prediction is assigned to (-1 if none) (P,) and the match
    flags (P, 15) of each prediction's joints against its assigned GT (False if unassigned).
    """
    n_pred = len(pred.frame)
    assigned = np.full(n_pred, -1, np.int64)
    joint_ok = np.zeros((n_pred, NUM_JOINTS), bool)
    pair_pred, pair_gt, _, match = pairwise_distances(gt, pred, n_frames)
    m = len(pair_pred)
    if m == 0:
        return assigned, joint_ok
    n_gt_joints = gt.has.sum(axis=1)[pair_gt]
    count = match.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pck = np.where(n_gt_joints > 0, count / n_gt_joints, count)
    # each prediction keeps only its best GT (first in annotation order on ties)
    starts = np.flatnonzero(np.r_[True, pair_pred[1:] != pair_pred[:-1]])
    best = np.maximum.reduceat(pck, starts)
    lengths = np.diff(np.r_[starts, m])
    is_best = pck == np.repeat(best, lengths)
    first_best = np.minimum.reduceat(np.where(is_best, np.arange(m), m), starts)
    # each GT takes, among the predictions that kept it with pck > 0, the best (first on ties)
    cand = first_best[pck[first_best] > 0]
    if len(cand) == 0:
        return assigned, joint_ok
    order = np.lexsort((pair_pred[cand], -pck[cand], pair_gt[cand]))
    cand = cand[order]
    g_sorted = pair_gt[cand]
    winners = cand[np.r_[True, g_sorted[1:] != g_sorted[:-1]]]
    assigned[pair_pred[winners]] = pair_gt[winners]
    joint_ok[pair_pred[winners]] = match[winners]
    return assigned, joint_ok


def collect_detections(data: EvalData) -> Detections:
    """Assign predictions to GT and list every predicted joint with its score and label."""
    return detections_from(data, assign(data.gt, data.pred, data.n_frames)[1])


def detections_from(data: EvalData, joint_ok: np.ndarray) -> Detections:
    """Every predicted joint with its score and label, given assign()'s match flags (P, 15)."""
    p_idx, j_idx = np.nonzero(data.pred.has)        # prediction order, then joint
    return Detections(joint=j_idx.astype(np.int64), score=data.pred.score[p_idx, j_idx],
                      label=joint_ok[p_idx, j_idx],
                      n_gt=data.gt.has.sum(axis=0).astype(np.int64), person=p_idx.astype(np.int64))


def rank_order(det: Detections) -> np.ndarray:
    """(D,) detections by joint, then descending score (NaN first, as poseval), stable."""
    key = np.where(np.isnan(det.score), -np.inf, -det.score)
    by_score = np.argsort(key, kind="stable")
    # then by joint, stable (a radix sort on small ints): np.lexsort((key, det.joint)), faster
    return by_score[np.argsort(det.joint[by_score].astype(np.uint8), kind="stable")]


def subset_order(order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """rank_order of det.subset(keep, ...) from the full order (a stable order restricts to subsets)."""
    new_index = np.cumsum(keep) - 1
    return new_index[order[keep[order]]]


def ranked_labels(det: Detections, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels by rank (15, L) and detections per joint (15,); order: rank_order(det) if known."""
    n_det = np.bincount(det.joint, minlength=NUM_JOINTS)
    order = rank_order(det) if order is None else order
    joint = det.joint[order]
    start = np.cumsum(n_det) - n_det
    rank = np.arange(len(order)) - start[joint]
    lab = np.zeros((NUM_JOINTS, int(n_det.max()) if len(order) else 0), np.float64)
    lab[joint, rank] = det.label[order]
    return lab, n_det


def precision_recall_curves(det: Detections, order: np.ndarray | None = None
                            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per joint, recall and precision (L_j,) in percent at every rank; order: rank_order(det) if known."""
    lab, n_det = ranked_labels(det, order)
    curves = []
    for j in range(NUM_JOINTS):
        tp = np.cumsum(lab[j, :n_det[j]])
        k = np.arange(1, n_det[j] + 1, dtype=np.float64)
        recall = tp / det.n_gt[j] * 100 if det.n_gt[j] > 0 else np.full(n_det[j], np.nan)
        curves.append((recall, tp / k * 100))
    return curves


def compute_metrics(det: Detections, order: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-joint AP, precision, recall (16,) in percent, index 15 = mean ignoring NaN.

    order: rank_order(det), when the caller already has it.
    """
    ap = np.zeros(NUM_JOINTS + 1)
    pre = np.zeros(NUM_JOINTS + 1)
    rec = np.zeros(NUM_JOINTS + 1)
    n_gt = det.n_gt.astype(np.float64)
    if len(det.joint):
        lab, n_det = ranked_labels(det, order)                        # (15, L) labels by rank
        width = lab.shape[1]
        tp = np.cumsum(lab, axis=1)
        k = np.arange(1, width + 1, dtype=np.float64)
        valid = k[None, :] <= n_det[:, None]
        prec = np.where(valid, tp / k, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = tp / n_gt[:, None]
        # VOC all-point AP: precision envelope, summed where recall changes
        envelope = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
        prev = np.concatenate([np.zeros((NUM_JOINTS, 1)), recall[:, :-1]], axis=1)
        step = np.where(valid & (recall != prev), (recall - prev) * envelope, 0.0)
        with np.errstate(invalid="ignore"):
            ap_j = step.sum(axis=1) * 100
        last = np.maximum(n_det - 1, 0)
        tp_last = tp[np.arange(NUM_JOINTS), last]
        has_det = n_det > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ap[:NUM_JOINTS] = np.where(has_det, np.where(n_gt > 0, ap_j, np.nan), 0.0)
            pre[:NUM_JOINTS] = np.where(has_det, tp_last / np.maximum(n_det, 1) * 100, 0.0)
            rec[:NUM_JOINTS] = np.where(has_det, np.where(n_gt > 0, tp_last / n_gt * 100, np.nan), 0.0)
    for arr in (ap, pre, rec):
        arr[NUM_JOINTS] = nanmean(arr[:NUM_JOINTS])
    return ap, pre, rec


def subset_ap(det: Detections, keep: np.ndarray, n_gt: np.ndarray, order: np.ndarray | None = None
              ) -> np.ndarray:
    """AP (16,) of the detections selected by keep (D,) against n_gt (15,); order: rank_order(det)."""
    sub = None if order is None else subset_order(order, keep)
    return compute_metrics(det.subset(keep, n_gt), sub)[0]


def summarize(values: np.ndarray) -> np.ndarray:
    """poseval's getCum: the 8 table columns (Head .. Ankl group means, NaN propagates; Total)."""
    return np.array([np.mean(values[list(g)]) for g in _SUMMARY_GROUPS])


@dataclass
class PoseTrackResult:
    """Per-joint AP / precision / recall (16,) in percent and the 8-column summaries."""

    ap: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_gt_joints: np.ndarray          # (15,) GT joints after ignore regions
    n_pred_joints: np.ndarray        # (15,) predicted joints that entered AP
    n_true_positives: np.ndarray     # (15,)
    n_frames: int                    # evaluated frames
    videos: list[str]

    @property
    def summary_ap(self) -> np.ndarray:
        """The 8 table columns of AP."""
        return summarize(self.ap)

    @property
    def summary_precision(self) -> np.ndarray:
        """The 8 table columns of precision."""
        return summarize(self.precision)

    @property
    def summary_recall(self) -> np.ndarray:
        """The 8 table columns of recall."""
        return summarize(self.recall)

    def to_json(self) -> dict[str, Any]:
        """The golden expected.json layout (percent, NaN as None)."""
        return {
            "joint_names": list(JOINT_NAMES),
            "ap": nan_to_none(self.ap), "precision": nan_to_none(self.precision),
            "recall": nan_to_none(self.recall),
            "summary_header": list(SUMMARY_HEADER),
            "summary_ap": nan_to_none(self.summary_ap),
            "summary_precision": nan_to_none(self.summary_precision),
            "summary_recall": nan_to_none(self.summary_recall),
            "n_gt_joints": self.n_gt_joints.tolist(), "n_pred_joints": self.n_pred_joints.tolist(),
            "n_true_positives": self.n_true_positives.tolist(),
            "frames_evaluated": self.n_frames, "sequences_evaluated": len(self.videos),
        }


def mixed_ties(det: Detections, order: np.ndarray | None = None) -> np.ndarray:
    """(15,) per joint: groups of detections with equal scores that hold both true and false
    positives, whose order (and so AP) poseval leaves to numpy's unstable sort; order:
    rank_order(det) if known (equal scores of a joint are adjacent in it)."""
    order = rank_order(det) if order is None else order
    score = np.where(np.isnan(det.score), np.inf, det.score)        # NaNs tie with each other
    j, s, lab = det.joint[order], score[order], det.label[order]
    if len(j) == 0:
        return np.zeros(NUM_JOINTS, np.int64)
    starts = np.flatnonzero(np.r_[True, (j[1:] != j[:-1]) | (s[1:] != s[:-1])])
    size = np.diff(np.r_[starts, len(j)])
    tps = np.add.reduceat(lab.astype(np.int64), starts)
    mixed = (tps > 0) & (tps < size)
    return np.bincount(j[starts[mixed]], minlength=NUM_JOINTS).astype(np.int64)


def evaluate_data(data: EvalData) -> PoseTrackResult:
    """The metric on already loaded data; warns when tied scores mix true and false positives."""
    det = collect_detections(data)
    order = rank_order(det)
    ties = mixed_ties(det, order)
    if ties.any():
        first = int(np.flatnonzero(ties)[0])
        log.warning("%d group(s) of equal joint scores mix true and false positives (first joint: %s): AP then "
                    "depends on their order, which poseval leaves to numpy's unstable sort (it differs between "
                    "machines, e.g. with AVX-512); simplepose keeps list order", int(ties.sum()), JOINT_NAMES[first])
    ap, pre, rec = compute_metrics(det, order)
    return PoseTrackResult(
        ap=ap, precision=pre, recall=rec, n_gt_joints=det.n_gt,
        n_pred_joints=np.bincount(det.joint, minlength=NUM_JOINTS),
        n_true_positives=np.bincount(det.joint, weights=det.label, minlength=NUM_JOINTS).astype(np.int64),
        n_frames=data.n_frames, videos=data.videos)


def evaluate_posetrack(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                       progress: bool = False) -> PoseTrackResult:
    """poseval's per-joint AP of the prediction files in pred_dir against the GT files in gt_dir."""
    return evaluate_data(load_eval_data(gt_dir, pred_dir, progress=progress))


def table_cell(v: float) -> str:
    """One table cell: one decimal, 'nan' for NaN."""
    return "nan" if math.isnan(v) else f"{v:.1f}"


def format_table(result: PoseTrackResult, label: str = "AP", rows: tuple[str, ...] = ("ap",)) -> str:
    """The markdown table: Head Shou Elb Wri Hip Knee Ankl Total, one decimal.

    rows: any of "ap", "precision", "recall"; with one row its label is `label`, with several
    each row is named and the header's first cell is empty.
    """
    titles = {"ap": "AP", "precision": "Precision", "recall": "Recall"}
    corner = label if len(rows) == 1 else ""
    lines = ["| " + " | ".join([corner, *SUMMARY_HEADER]) + " |",
             "|" + "---|" * (len(SUMMARY_HEADER) + 1)]
    for r in rows:
        name = label if len(rows) == 1 else titles[r]
        values = summarize(getattr(result, r))
        lines.append("| " + " | ".join([name, *(table_cell(v) for v in values)]) + " |")
    return "\n".join(lines)

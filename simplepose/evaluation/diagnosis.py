"""Error diagnosis of PoseTrack keypoints (COCO's Ronchi & Perona 2017, adapted to PCKh matching).

Persons are matched exactly as the AP matches them (``pose_ap.assign``, poseval's greedy PCKh
assignment); nothing here changes a number of the metric. Every detection that enters AP (a
present joint j of a predicted person p) gets one class, distances in head sizes of the GT
person they are measured to (``pose_ap.pairwise_distances``):

* ``background_fp``: p is assigned to no GT person, or its GT does not annotate j.
* ``good``: d(p_j, g_j) <= 0.5 for the assigned GT g (the AP's true positives, PCKh@0.5).
* ``inversion``: not good, and p_j lies within 0.5 of g's mirrored joint (left <-> right; head
  joints have none): a left/right confusion within the person.
* ``swap``: not good nor inversion, and p_j lies within 0.5 of joint j or its mirror on another GT
  person of the frame (in that person's head size): taken from someone else.
* ``jitter``: none of these and 0.5 < d(p_j, g_j) <= 1.0: right joint, imprecise.
* ``miss``: none of these (d > 1.0).

A GT joint is a false negative (``background_fn``) when no assigned prediction has that joint:
its person has no prediction assigned, or the assigned one lacks the joint.

Oracle gains (coco-analyze's bars): AP recomputed by the same ``pose_ap.compute_metrics`` with one
class fixed, the others left as they are, minus the actual AP. Fixing jitter, inversion, swap or
miss moves those joints onto their GT joint, which makes them true positives and changes no
assignment (it only raises the assigned pair's PCKh); fixing background FPs removes those
detections; fixing background FNs removes those GT joints from the count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simplepose.evaluation.eval_data import EvalData
from simplepose.evaluation.pose_ap import (PCKH_THRESHOLD, Detections, assign, compute_metrics,
                                           detections_from, pairwise_distances, rank_order, subset_order)
from simplepose.evaluation.poseval_files import NUM_JOINTS, Persons

CLASSES: tuple[str, ...] = ("good", "jitter", "inversion", "swap", "miss", "background_fp")
ORACLE_CLASSES: tuple[str, ...] = ("jitter", "inversion", "swap", "miss", "background_fp", "background_fn")
JITTER_MAX = 1.0          # head sizes: beyond this a wrong joint is a miss
NEAR_OTHER = PCKH_THRESHOLD   # head sizes: "within reach" of a mirrored or another person's joint
# poseval joint index -> its left/right mirror (head joints map to themselves)
FLIP = np.array([5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14])
GOOD, JITTER, INVERSION, SWAP, MISS, BACKGROUND_FP = range(6)


@dataclass
class Diagnosis:
    """Per-detection classes, per-GT-joint false negatives, and the oracle AP gains."""

    detections: Detections         # as collect_detections lists them
    order: np.ndarray              # (D,) pose_ap.rank_order of the detections
    assigned: np.ndarray           # (P,) GT index of each prediction, -1 if none (pose_ap.assign)
    cls: np.ndarray                # (D,) int index into CLASSES
    fn: np.ndarray                 # (G, 15) bool GT joints no assigned prediction has
    joint_cls: np.ndarray          # (P, 15) class of every predicted joint, -1 where absent
    oracle_ap: dict[str, np.ndarray]   # class -> AP (16,) with that class fixed

    def counts(self) -> dict[str, np.ndarray]:
        """Per class, (15,) joint counts; background_fn counts GT joints."""
        out = {c: np.bincount(self.detections.joint[self.cls == i], minlength=NUM_JOINTS)
               for i, c in enumerate(CLASSES)}
        out["background_fn"] = self.fn.sum(axis=0)
        return out


def _flipped(pred: Persons) -> Persons:
    """The predictions with left and right joints exchanged."""
    return Persons(pred.frame, pred.xy[:, FLIP], pred.has[:, FLIP], pred.score[:, FLIP], pred.head, pred.track)


def classify_joints(data: EvalData, assigned: np.ndarray, good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class (P, 15) of every predicted joint (-1 where absent) and the false negatives (G, 15).

    assigned (P,), good (P, 15): pose_ap.assign's result on data.
    """
    gt, pred = data.gt, data.pred
    n_pred = len(pred.frame)
    pair_pred, pair_gt, dist, _ = pairwise_distances(gt, pred, data.n_frames)
    _, _, dist_flip, _ = pairwise_distances(gt, _flipped(pred), data.n_frames)
    mirror = dist_flip[:, FLIP] <= NEAR_OTHER        # (M, 15) p_j near g's mirrored joint
    near = dist <= NEAR_OTHER                        # (M, 15) p_j near g's joint j
    lateral = FLIP != np.arange(NUM_JOINTS)
    own = (pair_gt == assigned[pair_pred])
    other = ~own & (assigned[pair_pred] >= 0)
    own_dist = np.full((n_pred, NUM_JOINTS), np.inf)
    own_dist[pair_pred[own]] = dist[own]
    inversion = np.zeros((n_pred, NUM_JOINTS), bool)
    inversion[pair_pred[own]] = mirror[own] & lateral
    swap = np.zeros((n_pred, NUM_JOINTS), bool)
    if len(pair_pred):                                    # pairs are grouped by prediction
        starts = np.flatnonzero(np.r_[True, pair_pred[1:] != pair_pred[:-1]])
        near_other = (other[:, None] & (near | (mirror & lateral))).view(np.uint8)
        swap[pair_pred[starts]] = np.maximum.reduceat(near_other, starts, axis=0).astype(bool)
    cls = np.full((n_pred, NUM_JOINTS), MISS, np.int64)
    cls[own_dist <= JITTER_MAX] = JITTER
    cls[swap] = SWAP
    cls[inversion] = INVERSION
    cls[good] = GOOD
    annotated = np.zeros((n_pred, NUM_JOINTS), bool)
    has_gt = assigned >= 0
    annotated[has_gt] = gt.has[assigned[has_gt]]
    cls[~annotated] = BACKGROUND_FP
    cls[~pred.has] = -1
    covered = np.zeros(gt.has.shape, bool)
    covered[assigned[has_gt]] = pred.has[has_gt]
    return cls, gt.has & ~covered


def diagnose(data: EvalData) -> Diagnosis:
    """Classify every detection and GT joint, and compute the oracle AP of each class."""
    assigned, good = assign(data.gt, data.pred, data.n_frames)
    det = detections_from(data, good)
    order = rank_order(det)                  # one sort: fixing labels or dropping rows keeps it
    cls_pj, fn = classify_joints(data, assigned, good)
    cls = cls_pj[det.person, det.joint]
    oracle = {}
    for name in ORACLE_CLASSES:
        if name == "background_fp":
            keep = cls != BACKGROUND_FP
            oracle[name] = compute_metrics(det.subset(keep, det.n_gt), subset_order(order, keep))[0]
        elif name == "background_fn":
            fixed = Detections(det.joint, det.score, det.label, det.n_gt - fn.sum(axis=0), det.person)
            oracle[name] = compute_metrics(fixed, order)[0]
        else:
            fixed = Detections(det.joint, det.score, det.label | (cls == CLASSES.index(name)), det.n_gt,
                               det.person)
            oracle[name] = compute_metrics(fixed, order)[0]
    return Diagnosis(det, order, assigned, cls, fn, cls_pj, oracle)

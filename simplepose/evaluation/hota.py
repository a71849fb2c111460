"""Keypoint HOTA for pose tracking, as the PoseTrack21 evaluation kit computes it (its
``HOTAeypoints`` metric, anDoer/PoseTrack21 ``eval/posetrack21``), exact and vectorised.

What the kit evaluates, per sequence (one GT file and its prediction file):

* Frames: the GT images whose ``is_labeled`` is true (a file without the flag: the frames with
  GT annotations), each paired with its prediction frame (``eval_data.pair_frames``; the kit pairs
  by position and requires equal image ids, which pairs the same frames whenever it runs).
* Joints: the 15 PoseTrack joints without the ears. A joint is present iff x > 0 and y > 0
  (visibility, scores and the person ``score`` play no part).
* Ignore regions (a frame whose ``ignore_regions_x`` is a non-empty list): every GT and predicted
  joint strictly inside a polygon (``polygons.points_in_polygons``) is removed, then every person
  of that frame whose joints are all removed or have x <= 0 and y <= 0 is dropped. Elsewhere,
  persons without a present joint stay (they have an id but nothing to match).
* Similarity of a GT and a predicted joint: s = max(0, 1 - d / 0.5001) with d the distance over
  the GT person's head size (0.6 x its head-box diagonal); 0 if either joint is absent.
* Per frame and joint, the assignment maximising the summed similarity (Hungarian, scipy's tie
  rules: ``mota.linear_sum_assignment``). For each of the 19 thresholds alpha = 0.05 .. 0.95, an
  assigned pair with s >= alpha - eps is a true positive (TP); the frame's present GT joints left
  over are FN, its present predicted joints left over FP; LocA sums s over the TPs.
* A frame without GT persons adds its predicted joints to FP; a frame without predicted persons
  adds its GT joints to FN. The kit as published (``kit_defect=True``) adds the whole sequence's
  predicted (GT) joints instead, once per such frame (anDoer/PoseTrack21#10); a sequence without any
  predicted (GT) person is then counted whole once, as the kit's early return does. The kit itself
  cannot load a labelled frame without GT persons (a TypeError / IndexError in its loader); its
  metric code is what is reproduced.
* Association, per joint and alpha: with m(g, p) the TPs pairing GT track g with predicted track p,
  and n_g, n_p the frames in which each track has the joint present,
  AssA = sum m^2 / max(1, n_g + n_p - m) / max(1, TP), AssRe with max(1, n_g), AssPr with max(1, n_p).
* DetRe = TP / max(1, TP + FN), DetPr = TP / max(1, TP + FP), DetA = TP / max(1, TP + FN + FP),
  HOTA = sqrt(DetA AssA), LocA = max(1e-10, sum s) / max(1e-10, TP). Column 15 ("total") of a
  sequence is the mean over the 15 joints (the counts: their sum).

Sequences combine as TrackEval combines them: TP, FN, FP summed; AssA, AssRe, AssPr and LocA
averaged weighted by TP (column 15 too, weighted by the total TP); DetRe, DetPr, DetA from the
summed counts and HOTA = sqrt(DetA AssA), column 15 included. Reported numbers are the means over
the 19 alphas, in percent. Joints are listed in the kit's order (``HOTA_JOINT_NAMES``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simplepose.errors import DataError
from simplepose.evaluation.arrays import ranks_within
from simplepose.evaluation.eval_data import EvalData, VideoSource
from simplepose.evaluation.mota import linear_sum_assignment
from simplepose.evaluation.polygons import points_in_polygons
from simplepose.evaluation.pose_ap import table_cell
from simplepose.evaluation.poseval_files import NUM_JOINTS, POSEVAL_INDEX, duplicate_in_frame

ALPHAS = np.arange(0.05, 0.99, 0.05)           # (19,) the kit's thresholds
_EPS = np.finfo(float).eps
_SLOPE = -1 / 0.5001                             # the kit's similarity slope
# the kit's joint order (Nose, Neck, Head, LS, RS, ..., RA), then the total
HOTA_JOINT_NAMES: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "total")
_KIT_ORDER = np.array([POSEVAL_INDEX[n] for n in HOTA_JOINT_NAMES[:NUM_JOINTS]])   # kit j -> poseval j
HOTA_TABLE_JOINTS: tuple[str, ...] = ("Nose", "Neck", "Head", "LSho", "RSho", "LElb", "RElb", "LWri", "RWri",
                                      "LHip", "RHip", "LKnee", "RKnee", "LAnk", "RAnk", "Total")
FIELDS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA")
COUNTS: tuple[str, ...] = ("TP", "FN", "FP")
DEFECT_NOTE = ("anDoer/PoseTrack21#10 fixed: a frame without GT (predicted) persons adds its own predicted "
               "(GT) joints to FP (FN), not the sequence's")
DEFECT_KEPT_NOTE = "as the kit is published: anDoer/PoseTrack21#10 reproduced (--hota-kit-defect)"


@dataclass
class HotaPersons:
    """Persons of the labelled frames after ignore regions, in frame order."""

    frame: np.ndarray      # (N,) global labelled-frame index
    xy: np.ndarray         # (N, 15, 2) float64, poseval joint order
    valid: np.ndarray      # (N, 15) bool: x > 0 and y > 0 and not in an ignore region
    track: np.ndarray      # (N,) int64 track index, unique over all sequences
    head: np.ndarray       # (N,) float64 head size (GT), NaN for predictions


@dataclass
class HotaFrames:
    """The labelled frames of all sequences, as the kit's metric sees them."""

    gt: HotaPersons
    pred: HotaPersons
    seq_of_frame: np.ndarray          # (F,) sequence index of each labelled frame
    sequences: list[str] = field(default_factory=list)


@dataclass
class HotaResult:
    """Combined and per-sequence keypoint HOTA arrays, (19 alphas, 16 columns), kit joint order."""

    combined: dict[str, np.ndarray]
    per_sequence: list[dict[str, np.ndarray]]
    sequences: list[str]
    kit_defect: bool

    def summary(self, arrays: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """(16,) per field: the mean over the alphas in percent (counts: at alpha 0.05)."""
        arrays = self.combined if arrays is None else arrays
        out = {f: 100 * arrays[f].mean(axis=0) for f in FIELDS}
        out.update({c: arrays[c][0] for c in COUNTS})
        return out

    @property
    def note(self) -> str:
        """Which counting of empty frames was used."""
        return DEFECT_KEPT_NOTE if self.kit_defect else DEFECT_NOTE

    def to_json(self) -> dict[str, Any]:
        """Totals, per-joint values (percent, kit order) and per-sequence totals, strict JSON."""
        summ = self.summary()
        seqs = {}
        for name, arrays in zip(self.sequences, self.per_sequence):
            s = self.summary(arrays)
            seqs[name] = {f: float(s[f][NUM_JOINTS]) for f in FIELDS + COUNTS}
        return {"joint_names": list(HOTA_JOINT_NAMES), "kit_defect": self.kit_defect, "note": self.note,
                "alphas": np.round(ALPHAS, 2).tolist(),
                "total": {f: float(summ[f][NUM_JOINTS]) for f in FIELDS + COUNTS},
                "per_joint": {f: summ[f].tolist() for f in FIELDS + COUNTS},
                "per_alpha": {f: (100 * self.combined[f][:, NUM_JOINTS]).tolist() for f in FIELDS},
                "per_sequence": seqs}


def _labelled_parts(sources: list[VideoSource]) -> tuple[list, list, list, list, list, np.ndarray]:
    """Per video: the GT and predicted persons of labelled frames (frames renumbered globally),
    the ignore polygons of those frames and their frame indices; and the sequence of each frame."""
    gts, preds, polys, poly_frames, ignore_frames, seq_of_frame = [], [], [], [], [], []
    offset = 0
    for vi, src in enumerate(sources):
        g = src.gt
        labeled = g.labeled
        new_index = np.cumsum(labeled) - 1 + offset
        gp = g.persons.take(labeled[g.persons.frame])
        pp = src.pred.take(labeled[src.pred.frame])
        gp.frame, pp.frame = new_index[gp.frame], new_index[pp.frame]
        gts.append((vi, gp))
        preds.append((vi, pp))
        for f, frame_polys in g.polygons.items():
            if labeled[f]:
                ignore_frames.append(new_index[f])
                polys.extend(frame_polys)
                poly_frames.extend([new_index[f]] * len(frame_polys))
        n = int(labeled.sum())
        seq_of_frame.append(np.full(n, vi, dtype=np.int64))
        offset += n
    seq = np.concatenate(seq_of_frame) if seq_of_frame else np.zeros(0, np.int64)
    return gts, preds, polys, poly_frames, ignore_frames, seq


def _hota_persons(parts: list, polys: list, poly_frames: list, ignore: np.ndarray, is_gt: bool,
                  sources: list[VideoSource]) -> HotaPersons:
    """Concatenate one role's persons, apply the ignore regions, number the tracks."""
    seq = np.concatenate([np.full(len(p.frame), vi, np.int64) for vi, p in parts]) if parts else np.zeros(0, np.int64)
    frame = np.concatenate([p.frame for _, p in parts]) if parts else np.zeros(0, np.int64)
    xy = np.concatenate([p.xy for _, p in parts]) if parts else np.zeros((0, NUM_JOINTS, 2))
    track = np.concatenate([p.track for _, p in parts]) if parts else np.zeros(0)
    head = np.concatenate([p.head for _, p in parts]) if parts else np.zeros(0)
    order = np.argsort(frame, kind="stable")
    seq, frame, xy, track, head = seq[order], frame[order], xy[order], track[order], head[order]
    contained = np.zeros(xy.shape[:2], bool)
    in_ignore = ignore[frame]
    person_idx = np.repeat(np.flatnonzero(in_ignore), NUM_JOINTS)
    joint_idx = np.tile(np.arange(NUM_JOINTS), int(in_ignore.sum()))
    if len(person_idx) and polys:
        contained[person_idx, joint_idx] = points_in_polygons(
            xy[person_idx, joint_idx], frame[person_idx], polys, np.asarray(poly_frames, np.int64))
    with np.errstate(invalid="ignore"):
        non_positive = (xy[..., 0] <= 0) & (xy[..., 1] <= 0)
        valid = (xy[..., 0] > 0) & (xy[..., 1] > 0) & ~contained
    keep = ~(in_ignore & np.all(contained | non_positive, axis=1))
    seq, frame, xy, track, head, valid = seq[keep], frame[keep], xy[keep], track[keep], head[keep], valid[keep]
    keys, index = np.unique(np.stack([seq.astype(np.float64), track], axis=1), axis=0, return_inverse=True)
    index = index.reshape(-1)
    if is_gt:
        _check_unique_gt_tracks(frame, index, keys, sources)
    return HotaPersons(frame, xy, valid, index.astype(np.int64), head)


def _check_unique_gt_tracks(frame: np.ndarray, track: np.ndarray, keys: np.ndarray,
                            sources: list[VideoSource]) -> None:
    """The kit refuses a GT track id used twice in one frame."""
    found = duplicate_in_frame(frame, track)
    if found is not None:
        seq, tid = keys[int(found[1])]
        raise DataError(sources[int(seq)].gt.path, f"track_id {tid:g} used twice in one labelled frame")


def hota_frames(data: EvalData) -> HotaFrames:
    """The kit's view of loaded data: labelled frames, ignore regions applied, tracks numbered."""
    gts, preds, polys, poly_frames, ignore_list, seq_of_frame = _labelled_parts(data.sources)
    ignore = np.zeros(len(seq_of_frame), bool)
    ignore[np.asarray(ignore_list, np.int64)] = True
    gt = _hota_persons(gts, polys, poly_frames, ignore, True, data.sources)
    pred = _hota_persons(preds, polys, poly_frames, ignore, False, data.sources)
    return HotaFrames(gt, pred, seq_of_frame, list(data.videos))


def _frame_pairs(gt: HotaPersons, pred: HotaPersons, n_frames: int) -> tuple[np.ndarray, ...]:
    """All same-frame (GT, prediction) pairs, GT-major within a frame: pair_gt, pair_pred (M,),
    and per frame: GT count, prediction count, first pair (F,)."""
    g_count = np.bincount(gt.frame, minlength=n_frames)
    p_count = np.bincount(pred.frame, minlength=n_frames)
    g_start = np.cumsum(g_count) - g_count
    p_start = np.cumsum(p_count) - p_count
    n_pairs = g_count * p_count
    pair_start = np.cumsum(n_pairs) - n_pairs
    frame = np.repeat(np.arange(n_frames), n_pairs)
    rank = ranks_within(n_pairs)
    per_frame = np.maximum(p_count[frame], 1)
    pair_gt = g_start[frame] + rank // per_frame
    pair_pred = p_start[frame] + rank % per_frame
    return pair_gt, pair_pred, g_count, p_count, pair_start


def _similarity(gt: HotaPersons, pred: HotaPersons, pair_gt: np.ndarray, pair_pred: np.ndarray) -> np.ndarray:
    """(M, 15) the kit's joint similarity max(0, 1 - d / 0.5001), 0 where a joint is absent."""
    diff = gt.xy[pair_gt] - pred.xy[pair_pred]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dist = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / gt.head[pair_gt, None]
        sim = np.maximum(_SLOPE * dist + 1, 0)
    return np.where(gt.valid[pair_gt] & pred.valid[pair_pred], sim, 0.0)


def _assigned(sim: np.ndarray, pair_gt: np.ndarray, pair_pred: np.ndarray, g_count: np.ndarray,
              p_count: np.ndarray, pair_start: np.ndarray) -> np.ndarray:
    """(M, 15) bool: pairs with similarity > 0 that the per-frame, per-joint Hungarian assignment
    takes. Where every GT and predicted joint has at most one such pair they are all taken;
    elsewhere the frame's full matrix is solved with scipy's rules."""
    n_frames = len(g_count)
    positive = sim > 0
    j_idx = np.broadcast_to(np.arange(NUM_JOINTS), sim.shape)
    per_gt = np.bincount((pair_gt[:, None] * NUM_JOINTS + j_idx)[positive],
                         minlength=max(1, int(pair_gt.max(initial=0)) + 1) * NUM_JOINTS)
    per_pred = np.bincount((pair_pred[:, None] * NUM_JOINTS + j_idx)[positive],
                           minlength=max(1, int(pair_pred.max(initial=0)) + 1) * NUM_JOINTS)
    shared = positive & ((per_gt[pair_gt[:, None] * NUM_JOINTS + j_idx] > 1)
                         | (per_pred[pair_pred[:, None] * NUM_JOINTS + j_idx] > 1))
    frame_of_pair = np.repeat(np.arange(n_frames), g_count * p_count)
    hard = np.unique((frame_of_pair[:, None] * NUM_JOINTS + j_idx)[shared])
    taken = positive.copy()
    for key in hard.tolist():
        f, j = divmod(key, NUM_JOINTS)
        ng, npr, s = int(g_count[f]), int(p_count[f]), int(pair_start[f])
        block = sim[s:s + ng * npr, j]
        taken[s:s + ng * npr, j] = False
        rows, cols = linear_sum_assignment(-block.reshape(ng, npr))
        chosen = s + np.asarray(rows, np.int64) * npr + np.asarray(cols, np.int64)
        taken[chosen, j] = block[chosen - s] > 0
    return taken


def _levels(values: np.ndarray) -> np.ndarray:
    """How many alphas a similarity passes (s >= alpha - eps), 0..19."""
    return np.searchsorted(ALPHAS - _EPS, values, side="right")


def _above(hist: np.ndarray) -> np.ndarray:
    """From (..., 20) counts per level to (..., 19) counts with level > a, for each alpha a."""
    return np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1][..., 1:]


def _association(frames: HotaFrames, g_idx: np.ndarray, p_idx: np.ndarray, joint: np.ndarray,
                 level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Summed m^2 / max(1, n_g + n_p - m), m^2 / max(1, n_g), m^2 / max(1, n_p) per
    (sequence, joint, alpha): three (S, 15, 19) arrays, m counted per track pair and joint."""
    gt, pred = frames.gt, frames.pred
    n_seq = len(frames.sequences)
    n_g, n_p = int(gt.track.max(initial=-1)) + 1, int(pred.track.max(initial=-1)) + 1
    joints = np.arange(NUM_JOINTS)
    g_frames = np.bincount((gt.track[:, None] * NUM_JOINTS + joints).ravel(), weights=gt.valid.ravel(),
                           minlength=n_g * NUM_JOINTS).reshape(n_g, NUM_JOINTS)
    p_frames = np.bincount((pred.track[:, None] * NUM_JOINTS + joints).ravel(), weights=pred.valid.ravel(),
                           minlength=n_p * NUM_JOINTS).reshape(n_p, NUM_JOINTS)
    seq_of_track = np.zeros(n_g, np.int64)
    seq_of_track[gt.track] = frames.seq_of_frame[gt.frame]
    key = (gt.track[g_idx] * n_p + pred.track[p_idx]) * NUM_JOINTS + joint
    keys, inverse = np.unique(key, return_inverse=True)
    m = _above(np.bincount(inverse * 20 + level, minlength=len(keys) * 20).reshape(len(keys), 20))
    k_joint = keys % NUM_JOINTS
    k_gt, k_pred = (keys // NUM_JOINTS) // max(n_p, 1), (keys // NUM_JOINTS) % max(n_p, 1)
    ng, npr = g_frames[k_gt, k_joint][:, None], p_frames[k_pred, k_joint][:, None]
    cell = seq_of_track[k_gt] * NUM_JOINTS + k_joint
    out = []
    for denominator in (ng + npr - m, ng, npr):
        total = np.zeros((n_seq * NUM_JOINTS, len(ALPHAS)))
        np.add.at(total, cell, m * m / np.maximum(1, denominator))
        out.append(total.reshape(n_seq, NUM_JOINTS, len(ALPHAS)))
    return out[0], out[1], out[2]


def _misses(frames: HotaFrames, g_count: np.ndarray, p_count: np.ndarray, tp: np.ndarray,
            kit_defect: bool) -> tuple[np.ndarray, np.ndarray]:
    """FN and FP per (sequence, joint, alpha), (S, 15, 19)."""
    n_seq, seq = len(frames.sequences), frames.seq_of_frame
    joints = np.arange(NUM_JOINTS)

    def per_frame(p: HotaPersons) -> np.ndarray:
        """(F, 15) present joints of each frame."""
        return np.bincount((p.frame[:, None] * NUM_JOINTS + joints).ravel(), weights=p.valid.ravel(),
                           minlength=len(seq) * NUM_JOINTS).reshape(len(seq), NUM_JOINTS)

    def per_seq(values: np.ndarray) -> np.ndarray:
        """(F, 15) per frame -> (S, 15) per sequence."""
        out = np.zeros((n_seq, NUM_JOINTS))
        np.add.at(out, seq, values)
        return out

    g_joints, p_joints = per_frame(frames.gt), per_frame(frames.pred)
    n_gt, n_pred = per_seq(g_joints), per_seq(p_joints)
    if kit_defect:
        both = ((g_count > 0) & (p_count > 0))[:, None]
        gt_only = np.bincount(seq, weights=(g_count > 0) & (p_count == 0), minlength=n_seq)[:, None]
        no_gt = np.bincount(seq, weights=g_count == 0, minlength=n_seq)[:, None]
        fn_base = per_seq(g_joints * both) + gt_only * n_gt
        fp_base = per_seq(p_joints * both) + no_gt * n_pred
        # the kit returns early for a sequence without GT or without predicted persons
        whole = ((np.bincount(seq, weights=g_count, minlength=n_seq) == 0)
                 | (np.bincount(seq, weights=p_count, minlength=n_seq) == 0))[:, None]
        n_gt, n_pred = np.where(whole, n_gt, fn_base), np.where(whole, n_pred, fp_base)
    return n_gt[..., None] - tp, n_pred[..., None] - tp


def _detection_fields(res: dict[str, np.ndarray]) -> None:
    """DetRe, DetPr, DetA and HOTA from TP, FN, FP and AssA (any shape), in place."""
    tp, fn, fp = res["TP"], res["FN"], res["FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])


def _sequence_fields(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, ass: tuple[np.ndarray, ...],
                     loc: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sequence arrays (S, 19, 16) in kit joint order, column 15 the joint mean (counts: sum)."""
    def kit(a: np.ndarray) -> np.ndarray:
        """(S, 15, 19) in poseval's joint order -> (S, 19, 15) in the kit's."""
        return np.ascontiguousarray(a.transpose(0, 2, 1)[..., _KIT_ORDER], dtype=np.float64)

    res = {"TP": kit(tp), "FN": kit(fn), "FP": kit(fp)}
    denominator = np.maximum(1, res["TP"])
    for name, value in zip(("AssA", "AssRe", "AssPr"), ass):
        res[name] = kit(value) / denominator
    res["LocA"] = np.maximum(1e-10, kit(loc)) / np.maximum(1e-10, res["TP"])
    _detection_fields(res)
    return {k: np.concatenate([v, (v.sum if k in COUNTS else v.mean)(axis=2, keepdims=True)], axis=2)
            for k, v in res.items()}


def _combine(seq: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TrackEval's combination of sequences: counts summed, association and LocA TP-weighted."""
    res = {c: seq[c].sum(axis=0) for c in COUNTS}
    for name in ("AssA", "AssRe", "AssPr"):
        res[name] = (seq[name] * seq["TP"]).sum(axis=0) / np.maximum(1.0, res["TP"])
    res["LocA"] = np.maximum(1e-10, (seq["LocA"] * seq["TP"]).sum(axis=0)) / np.maximum(1e-10, res["TP"])
    _detection_fields(res)
    return res


def evaluate_hota_frames(frames: HotaFrames, kit_defect: bool = False) -> HotaResult:
    """Keypoint HOTA of prepared frames (``hota_frames``)."""
    gt, pred = frames.gt, frames.pred
    n_frames, n_seq = len(frames.seq_of_frame), len(frames.sequences)
    pair_gt, pair_pred, g_count, p_count, pair_start = _frame_pairs(gt, pred, n_frames)
    sim = _similarity(gt, pred, pair_gt, pair_pred)
    taken = _assigned(sim, pair_gt, pair_pred, g_count, p_count, pair_start)
    m_idx, joint = np.nonzero(taken)
    s = sim[m_idx, joint]
    level = _levels(s)
    cell = (frames.seq_of_frame[gt.frame[pair_gt[m_idx]]] * NUM_JOINTS + joint) * 20 + level
    size = n_seq * NUM_JOINTS * 20
    tp = _above(np.bincount(cell, minlength=size).reshape(n_seq, NUM_JOINTS, 20).astype(np.float64))
    loc = _above(np.bincount(cell, weights=s, minlength=size).reshape(n_seq, NUM_JOINTS, 20))
    ass = _association(frames, pair_gt[m_idx], pair_pred[m_idx], joint, level)
    fn, fp = _misses(frames, g_count, p_count, tp, kit_defect)
    seq = _sequence_fields(tp, fn, fp, ass, loc)
    per_sequence = [{k: v[i] for k, v in seq.items()} for i in range(n_seq)]
    return HotaResult(_combine(seq), per_sequence, list(frames.sequences), kit_defect)


def evaluate_hota(data: EvalData, kit_defect: bool = False) -> HotaResult:
    """Keypoint HOTA of loaded data (``eval_data.load_eval_data``), as the PoseTrack21 kit computes it;
    kit_defect=True reproduces anDoer/PoseTrack21#10 as the kit is published."""
    return evaluate_hota_frames(hota_frames(data), kit_defect)


def format_hota_table(result: HotaResult, per_joint: bool = True) -> str:
    """Markdown: a row per field (HOTA .. LocA, percent, one decimal), a column per joint and the
    total (per_joint) or the totals alone in one row; then which counting of empty frames was used."""
    summ = result.summary()
    if per_joint:
        lines = ["| keypoint HOTA | " + " | ".join(HOTA_TABLE_JOINTS) + " |", "|" + "---|" * (len(HOTA_TABLE_JOINTS) + 1)]
        lines += ["| " + " | ".join([f, *(table_cell(float(v)) for v in summ[f])]) + " |" for f in FIELDS]
    else:
        lines = ["| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS),
                 "| " + " | ".join(table_cell(float(summ[f][NUM_JOINTS])) for f in FIELDS) + " |"]
    return "\n".join(lines + [f"keypoint HOTA as the PoseTrack21 kit computes it; {result.note}"])

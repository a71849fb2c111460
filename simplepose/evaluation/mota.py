"""poseval's tracking metrics for PoseTrack18 (``evaluateTracking``): per-joint MOTA, MOTP,
precision and recall, counted as py-motmetrics 1.4 counts them.

This is the metric; the tracker that assigns track ids is ``simplepose.tracking``.

What is accumulated: per video and per joint, one CLEAR-MOT accumulator is fed the video's
evaluated frames (``simplepose.evaluation.eval_data``) in file order, all but the last one
(poseval stops one frame short). In each frame and for joint j, when the frame has both GT and
predicted persons, the objects are the track ids of the GT persons with j present, the
hypotheses the track ids of the predictions with j present, and a pair may match when its PCKh
distance (``pose_ap.pairwise_distances``, in head sizes) is <= 0.5; other pairs are forbidden.
A frame left without GT persons, or without predictions, feeds one dummy object and one dummy
hypothesis that cannot match instead: one object, one miss and one false positive for every
joint, however many GT persons the frame has. Scores play no part.

How motmetrics 1.4 counts one frame: (1) an object matched before stays matched to the same
hypothesis if that hypothesis is present and the pair allowed (MATCH); (2) the remaining objects
and hypotheses get a minimum-cost assignment, most pairs first and then least total distance,
solved as scipy's ``linear_sum_assignment`` solves motmetrics' cost matrix (large finite costs
for forbidden pairs), so ties resolve the same way; a pair is a SWITCH if the object was last
matched to another hypothesis, else a MATCH; (3) unpaired objects are MISSes, unpaired
hypotheses false positives. Besides these events motmetrics records a RAW event with the
distance of every allowed pair of the frame, and TRANSFER, ASCEND and MIGRATE events (each with
the pair's distance) when a pairing changes partner.

Totals over videos, per joint: detections = matches + switches; objects = detections + misses;
D = the sum of the distance column over all events (RAW included), which is what poseval's MOTP
uses, so its MOTP is not the textbook one and can be negative.
MOTA = 100 (1 - (misses + switches + FP) / objects), NaN without objects;
MOTP = 100 (1 - D / detections), 0 without detections;
precision = 100 detections / (detections + FP), NaN if both are 0;
recall = 100 detections / objects, NaN without objects.
Index 15 is the mean over the 15 joints skipping NaN (MOTP's zeros count). The result also keeps each
video's counts (``video_counts``; ``video_result(v)`` computes that video's metrics from them, equal
to evaluating its file alone) and each evaluated frame's switches, misses and false positives per
joint (``frame_events``), which the evaluation report shows, and the prediction each GT joint was
matched to in each frame (``gt_match``; the acceleration error in ``jitter`` uses it). The 11-number summary
is MOTA grouped as the AP table (``pose_ap.summarize``: Head .. Ankl, Total), then the MOTP,
precision and recall totals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simplepose.evaluation.arrays import nan_to_none, nanmean
from simplepose.evaluation.eval_data import EvalData
from simplepose.evaluation.pose_ap import pairwise_distances, summarize, table_cell
from simplepose.evaluation.poseval_files import JOINT_NAMES, NUM_JOINTS

TRACKING_SUMMARY_HEADER: tuple[str, ...] = (
    "MOTA Head", "MOTA Shou", "MOTA Elb", "MOTA Wri", "MOTA Hip", "MOTA Knee", "MOTA Ankl",
    "MOTA Total", "MOTP Total", "Prec Total", "Rec Total")


def linear_sum_assignment(cost: np.ndarray) -> tuple[list[int], list[int]]:
    """Minimum-cost assignment of a finite (R, C) matrix: (rows, cols), rows ascending.

    The shortest augmenting path method (Crouse 2016) with the same search order and tie rules
    as scipy.optimize.linear_sum_assignment, so that equal-cost optima are resolved identically.
    """
    cost = np.asarray(cost, dtype=np.float64)
    transpose = cost.shape[1] < cost.shape[0]
    if transpose:
        cost = cost.T
    nr, nc = cost.shape
    c = cost.tolist()
    u = [0.0] * nr
    v = [0.0] * nc
    col4row = [-1] * nr
    row4col = [-1] * nc
    path = [-1] * nc
    for cur_row in range(nr):
        shortest = [math.inf] * nc
        in_sr = [False] * nr
        in_sc = [False] * nc
        remaining = list(range(nc - 1, -1, -1))
        n_rem = nc
        min_val = 0.0
        i = cur_row
        sink = -1
        while sink == -1:
            index, lowest = -1, math.inf
            in_sr[i] = True
            ci, ui = c[i], u[i]
            for it in range(n_rem):
                j = remaining[it]
                r = min_val + ci[j] - ui - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_val = lowest
            if min_val == math.inf:
                raise ValueError("cost matrix is infeasible")
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_sc[j] = True
            n_rem -= 1
            remaining[index] = remaining[n_rem]
        u[cur_row] += min_val
        for i in range(nr):
            if in_sr[i] and i != cur_row:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(nc):
            if in_sc[j]:
                v[j] -= min_val - shortest[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur_row:
                break
    if transpose:
        pairs = sorted((col4row[i], i) for i in range(nr))
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return list(range(nr)), col4row


def _assign_allowed(dists: list[list[float]]) -> list[tuple[int, int]]:
    """motmetrics' assignment on a matrix with NaN for forbidden pairs: allowed pairs chosen, row order."""
    allowed = [(i, j) for i, row in enumerate(dists) for j, d in enumerate(row) if d == d]
    if not allowed:
        return []
    rows = [i for i, _ in allowed]
    cols = [j for _, j in allowed]
    if len(set(rows)) == len(rows) and len(set(cols)) == len(cols):
        return allowed               # disjoint allowed pairs: every optimum takes them all
    flat = [dists[i][j] for i, j in allowed]
    nr, nc = len(dists), len(dists[0])
    r = min(nr, nc)
    big = 2 * r * (max(abs(d) for d in flat) + 1) + 1
    cost = np.array([[d if d == d else big for d in row] for row in dists])
    rows, cols = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(rows, cols) if dists[i][j] == dists[i][j]]


class MotAccumulator:
    """The counting part of a motmetrics 1.4 MOTAccumulator (events are summed, not stored)."""

    def __init__(self) -> None:
        """An accumulator that has seen no frame."""
        self.m: dict[Any, Any] = {}          # object -> last matched hypothesis
        self.res_m: dict[Any, Any] = {}      # hypothesis -> last matched object
        self.last_match: set = set()         # objects matched at least once
        self.hyp_history: set = set()        # hypotheses matched at least once
        self.matches = self.switches = self.misses = self.fps = 0
        self.d_sum = 0.0                     # distance over all events (RAW included)
        self.d_match = 0.0                   # distance over MATCH and SWITCH events

    def update(self, oids: list, hids: list, dists: list[list[float]]) -> list[tuple[int, int]]:
        """One frame: objects, hypotheses, distances (len(oids), len(hids)), NaN = forbidden.

        Returns the frame's matched pairs (MATCH or SWITCH) as (object index, hypothesis index).
        """
        allowed = [d for row in dists for d in row if d == d]
        pairs: list[tuple[int, int]] = []
        for d in allowed:
            self.d_sum += d                  # RAW events of allowed pairs
        o_used = [False] * len(oids)
        h_used = [False] * len(hids)
        if allowed:                          # else nothing can match: all misses and FPs
            for i, o in enumerate(oids):                       # 1. continue established tracks
                if o not in self.m:
                    continue
                hprev = self.m[o]
                for j, h in enumerate(hids):
                    if not h_used[j] and h == hprev:
                        d = dists[i][j]
                        if d == d:
                            o_used[i] = h_used[j] = True
                            pairs.append((i, j))
                            self.m[o] = h
                            self.matches += 1
                            self.d_sum += d
                            self.d_match += d
                            self.last_match.add(o)
                            self.hyp_history.add(h)
                        break
            rest = [[math.nan if (o_used[i] or h_used[j]) else dists[i][j] for j in range(len(hids))]
                    for i in range(len(oids))]
            for i, j in _assign_allowed(rest):                 # 2. minimum-cost assignment
                o, h, d = oids[i], hids[j], rest[i][j]
                switch = o in self.m and self.m[o] != h
                if switch and h not in self.hyp_history:
                    self.d_sum += d                            # ASCEND event
                if h in self.res_m and self.res_m[h] != o:     # TRANSFER (+ MIGRATE) events
                    if o not in self.last_match:
                        self.d_sum += d
                    self.d_sum += d
                self.hyp_history.add(h)
                self.last_match.add(o)
                if switch:
                    self.switches += 1
                else:
                    self.matches += 1
                self.d_sum += d
                self.d_match += d
                o_used[i] = h_used[j] = True
                pairs.append((i, j))
                self.m[o] = h
                self.res_m[h] = o
        self.misses += o_used.count(False)                     # 3. misses, 4. false positives
        self.fps += h_used.count(False)
        return pairs


@dataclass
class TrackingResult:
    """Per-joint MOTA, MOTP, precision, recall (16,) in percent, summed counts (15,)."""

    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    counts: dict[str, np.ndarray]
    # per video (V, 15) counts, and per evaluated frame (n_frames, 15) switches / misses / FPs
    video_counts: dict[str, np.ndarray] = field(default_factory=dict)
    frame_events: dict[str, np.ndarray] = field(default_factory=dict)
    # (n_gt, 15) int64: per GT person and joint, the prediction it is matched to, -1 if none
    gt_match: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_JOINTS), np.int64))

    def video_result(self, v: int) -> TrackingResult:
        """The metrics of video v alone (as if its file were the only one evaluated)."""
        return _final_metrics({k: a[v].astype(np.float64) for k, a in self.video_counts.items()})

    @property
    def summary(self) -> np.ndarray:
        """poseval's 11 numbers: MOTA Head..Ankl, MOTA Total, MOTP Total, Prec Total, Rec Total."""
        return np.concatenate([summarize(self.mota), [self.motp[15], self.precision[15], self.recall[15]]])

    def to_json(self) -> dict[str, Any]:
        """The golden expected.json 'tracking' layout (percent, NaN as None)."""
        return {"joint_names": list(JOINT_NAMES), "mota": nan_to_none(self.mota),
                "motp": nan_to_none(self.motp), "precision": nan_to_none(self.precision),
                "recall": nan_to_none(self.recall), "summary_header": list(TRACKING_SUMMARY_HEADER),
                "summary": nan_to_none(self.summary),
                "per_joint_counts": {k: v.tolist() for k, v in self.counts.items()}}


def evaluate_tracking(data: EvalData) -> TrackingResult:
    """poseval's tracking metrics on loaded data (load_eval_data)."""
    gt, pred = data.gt, data.pred
    n_frames = data.n_frames
    pair_pred, pair_gt, dist, match = pairwise_distances(gt, pred, n_frames)
    g_count = np.bincount(gt.frame, minlength=n_frames)
    p_count = np.bincount(pred.frame, minlength=n_frames)
    g_start = np.cumsum(g_count) - g_count
    p_start = np.cumsum(p_count) - p_count
    pair_count = g_count * p_count            # pairs of a frame are contiguous (pred-major)
    pair_start = np.cumsum(pair_count) - pair_count
    # frames fed to the accumulators: all evaluated frames of a video but its last
    vof = data.video_of_frame
    is_last = np.r_[vof[1:] != vof[:-1], True] if n_frames else np.zeros(0, bool)
    used = ~is_last
    keys = ("num_objects", "num_misses", "num_switches", "num_false_positives", "num_matches",
            "num_detections", "sum_D_all_events", "sum_D_matches_and_switches", "frames")
    counts = {k: np.zeros(NUM_JOINTS) for k in keys}
    n_videos = len(data.videos) if data.videos else (int(vof.max()) + 1 if n_frames else 0)
    per_video = {k: np.zeros((n_videos, NUM_JOINTS)) for k in keys}
    events = {k: np.zeros((n_frames, NUM_JOINTS), np.int64) for k in ("switches", "misses", "fps")}
    gt_match = np.full((len(gt.frame), NUM_JOINTS), -1, np.int64)
    g_has, p_has = gt.has, pred.has
    g_track, p_track = gt.track.tolist(), pred.track.tolist()
    for video in np.unique(vof):
        accs = [MotAccumulator() for _ in range(NUM_JOINTS)]
        frames = np.flatnonzero((vof == video) & used)
        for f in frames.tolist():
            ng, npd = int(g_count[f]), int(p_count[f])
            if ng == 0 or npd == 0:            # poseval's dummy object and hypothesis
                for acc in accs:
                    acc.misses += 1
                    acc.fps += 1
                events["misses"][f] = events["fps"][f] = 1
                continue
            gs, ps, s = int(g_start[f]), int(p_start[f]), int(pair_start[f])
            fm = match[s:s + ng * npd].reshape(npd, ng, NUM_JOINTS)
            fd = dist[s:s + ng * npd].reshape(npd, ng, NUM_JOINTS)
            dm = np.where(fm, fd, np.nan).transpose(2, 1, 0).tolist()     # [joint][gt][pred]
            gh = g_has[gs:gs + ng].T.tolist()                              # [joint][gt]
            ph = p_has[ps:ps + npd].T.tolist()                             # [joint][pred]
            gt_ids, pr_ids = g_track[gs:gs + ng], p_track[ps:ps + npd]
            for j in range(NUM_JOINTS):
                gi = [g for g, h in enumerate(gh[j]) if h]
                pi = [p for p, h in enumerate(ph[j]) if h]
                dj = dm[j]
                acc = accs[j]
                before = (acc.switches, acc.misses, acc.fps)
                pairs = acc.update([gt_ids[g] for g in gi], [pr_ids[p] for p in pi],
                                   [[dj[g][p] for p in pi] for g in gi])
                for a, b in pairs:
                    gt_match[gs + gi[a], j] = ps + pi[b]
                events["switches"][f, j] = acc.switches - before[0]
                events["misses"][f, j] = acc.misses - before[1]
                events["fps"][f, j] = acc.fps - before[2]
        for j, acc in enumerate(accs):
            for key, value in (("num_matches", acc.matches), ("num_switches", acc.switches),
                               ("num_misses", acc.misses), ("num_false_positives", acc.fps),
                               ("sum_D_all_events", acc.d_sum), ("sum_D_matches_and_switches", acc.d_match),
                               ("frames", len(frames))):
                counts[key][j] += value
                per_video[key][video, j] = value
    for arrays in (counts, per_video):
        arrays["num_detections"] = arrays["num_matches"] + arrays["num_switches"]
        arrays["num_objects"] = arrays["num_detections"] + arrays["num_misses"]
    result = _final_metrics(counts)
    result.video_counts, result.frame_events, result.gt_match = per_video, events, gt_match
    return result


def _final_metrics(counts: dict[str, np.ndarray]) -> TrackingResult:
    """MOTA, MOTP, precision, recall per joint and their NaN-skipping means (index 15)."""
    obj = counts["num_objects"]
    det = counts["num_detections"]
    fp = counts["num_false_positives"]
    with np.errstate(divide="ignore", invalid="ignore"):
        obj_or_nan = np.where(obj > 0, obj, np.nan)
        mota = 100 * (1.0 - (counts["num_misses"] + counts["num_switches"] + fp) / obj_or_nan)
        motp = np.where(det == 0, 0.0, 100 * (1.0 - counts["sum_D_all_events"] / np.where(det == 0, 1, det)))
        total = np.where(fp + det > 0, fp + det, np.nan)
        pre = 100 * (det / total)
        rec = 100 * (det / obj_or_nan)
    out = []
    for v in (mota, motp, pre, rec):
        out.append(np.r_[v, nanmean(v)])
    counts = {k: (v.astype(np.int64) if not k.startswith("sum_D") else v) for k, v in counts.items()}
    return TrackingResult(*out, counts=counts)


def short_sequences(data: EvalData) -> list[str]:
    """The videos with fewer than 2 evaluated frames: poseval stops one frame short, so they add no
    frame to MOTA (all of them short: every tracking number is NaN)."""
    counts = np.bincount(data.video_of_frame, minlength=len(data.videos)) if data.n_frames else \
        np.zeros(len(data.videos), np.int64)
    return [name for name, n in zip(data.videos, counts) if n < 2]


def format_tracking_table(result: TrackingResult) -> str:
    """poseval's tracking table as markdown: MOTA per group, MOTA/MOTP/Prec/Rec totals, one decimal."""
    head = "| " + " | ".join(TRACKING_SUMMARY_HEADER) + " |"
    cells = [table_cell(v) for v in result.summary]
    return "\n".join([head, "|" + "---|" * len(cells), "| " + " | ".join(cells) + " |"])

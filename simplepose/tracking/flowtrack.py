"""FlowTrack: the online tracker of Xiao et al., *Simple Baselines for Human Pose Estimation and Tracking*.

Per frame k (call FlowTracker.step once per frame, in order):

1. Boxes: the detector's boxes with score >= ``det_thr`` plus, when ``propagate`` is on, a box
   for every track seen in the previous processed frame: its joints moved by the optical flow into
   frame k (simplepose.tracking.flow), the box around the moved joints with score >=
   ``prop_kpt_thr`` widened and heightened by ``box_enlarge`` (15% in the paper), clipped to the
   image, scored by ``prop_score`` (below), kept when that is >= ``prop_score_thr``.
   Both sets are unified by greedy box NMS at IoU ``box_nms_thr``.
2. Poses for all boxes in one batched call of the estimator; non-finite keypoints get score 0.
3. Duplicates (a propagated and a detected box that converged on one person) are removed by
   OKS-NMS at ``oks_nms_thr`` (person score = box score x mean keypoint score above 0.2, as the
   reference rescoring; OKS area = box area).
4. Similarity of every pose to every live track: ``iou`` (box IoU with the track's last box),
   ``oks`` (OKS with its last pose), ``flow`` (OKS with its last pose moved by the flow into frame
   k), ``multiflow`` (the best OKS over its last ``flow_frames`` poses, each moved into frame k;
   the flow is computed once per track on its latest pose, and its older poses move with the same
   per-joint displacement, which keeps the flow cost at one pose per track).
   OKS is the mean over the joints with score > ``kpt_score_thr`` in both poses, or with
   ``oks_joints="either"`` in either pose (a joint confident in only one counts 0, so a few-joint
   false-positive track cannot take a whole person's pose, but an occluded person's pose matches
   its track less), and needs ``min_keypoints`` joints confident in both.
   Greedy matching takes the most similar pair first while similarity >= the threshold
   (``iou_thr`` for iou, ``oks_thr`` otherwise); unmatched poses start new tracks (ids 0, 1, ...
   per video); tracks unseen for more than ``max_age`` frames end.

Propagated box score (``prop_score``; the issue's literal rule is ``mean``):
``mean``: previous box score x mean of all joint scores of the previous pose; ``rescore``: previous
box score x mean of its joint scores above 0.2 (the person rescoring of evaluation/rescore);
``keep``: the previous box score unchanged; ``detected``: the score of the track's last *detector*
box x mean of all joint scores of the previous pose. A person propagated through a burst of missed
detections takes its previous (propagated) score as its box score, so ``mean`` and ``rescore``
compound frame after frame (``mean`` the fastest, since occluded joints near 0 count; with
``mean`` a person is dropped by the 0.5 output filter after one or two frames of a burst),
``keep`` lets the detector's score ride along until the pose loses its joints (a false-positive
detection's box rides along too), and ``detected`` does not compound: the score follows the
quality of the latest pose. The paper gives no score for propagated boxes; ``detected`` (default)
reads the issue's "previous box score x mean joint score" with the previous *detector* score, so a
burst of misses does not compound it away. ``prop_score``, ``box_nms_thr``, ``oks_nms_thr`` and
``oks_thr`` were tuned on the train split of a synthetic camera-motion set (README, Tracking).

Tracks are kept in a list and found by position, never by indexing arrays with track ids.
``output_filter`` applies the paper's drop of boxes below 0.5 and joints below 0.4 before MOTA.
Flow is only computed when propagation or a flow similarity needs it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from simplepose.data.geometry import box_nms, pairwise_iou
from simplepose.evaluation.rescore import oks_nms, rescore
from simplepose.inference.detector import DetectorConfig
from simplepose.timing import StageClock
from simplepose.tracking.flow import FlowConfig, FlowFrame, JointFlow
from simplepose.tracking.matching import greedy_match, pairwise_oks
from simplepose.tracking.smoothing import SmoothingConfig

log = logging.getLogger(__name__)

SIMILARITIES = ("iou", "oks", "flow", "multiflow")
PROP_SCORES = ("mean", "rescore", "keep", "detected")
STAGES = ("detector", "flow", "pose", "association")


@dataclass
class FlowTrackConfig:
    """Every knob of FlowTrack; paper defaults where the paper gives one."""

    similarity: str = "multiflow"   # "iou", "oks", "flow" or "multiflow"
    propagate: bool = True          # add flow-propagated boxes of the previous frame's persons
    det_thr: float = 0.4            # detector boxes below this score are not used
    det_every: int = 1              # run the detector on every N-th frame only (propagation between)
    box_enlarge: float = 0.15       # propagated box: joint extent enlarged by 15% (paper; 0.25 option)
    prop_kpt_thr: float = 0.3       # joints moved into a propagated box need this score
    prop_min_joints: int = 3        # fewer confident joints: no propagated box
    prop_score: str = "detected"    # propagated box score: mean|rescore|keep|detected (module docstring; tuned)
    prop_score_thr: float = 0.3     # propagated boxes scoring below this are dropped
    box_nms_thr: float = 0.5        # IoU of box NMS unifying detected and propagated boxes (tuned)
    oks_nms_thr: float = 0.5        # OKS above which a pose is a duplicate of a better one (tuned)
    iou_thr: float = 0.3            # match threshold of the iou similarity
    oks_thr: float = 0.2            # match threshold of the oks, flow and multiflow similarities (tuned)
    kpt_score_thr: float = 0.3      # joints taking part in OKS similarity
    min_keypoints: int = 3          # pairs with fewer joints in common get no OKS similarity
    oks_joints: str = "both"        # OKS similarity over the joints confident in "both" poses or "either"
    flow_frames: int = 3            # multiflow: compare with a track's last L poses
    max_age: int = 5                # frames a track may stay unseen before it ends
    out_box_thr: float = 0.5        # output filter: persons below this box score dropped (paper 0.5)
    out_kpt_thr: float = 0.4        # output filter: joints below this score dropped (paper 0.4)
    max_persons: int = 100          # detected boxes per frame at most: the best by score, with a warning
    flow: FlowConfig = field(default_factory=FlowConfig)
    smooth: SmoothingConfig = field(default_factory=SmoothingConfig)   # One-Euro on the output, off
    detector: DetectorConfig = field(default_factory=DetectorConfig)   # used with --detector

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        problems = []
        if self.similarity not in SIMILARITIES:
            problems.append(f"similarity must be one of {', '.join(SIMILARITIES)}, got {self.similarity!r}")
        if self.prop_score not in PROP_SCORES:
            problems.append(f"prop_score must be one of {', '.join(PROP_SCORES)}, got {self.prop_score!r}")
        if self.oks_joints not in ("both", "either"):
            problems.append(f"oks_joints must be 'both' or 'either', got {self.oks_joints!r}")
        if self.flow.method not in ("lk", "dis"):
            problems.append(f"flow.method must be 'lk' or 'dis', got {self.flow.method!r}")
        for name in ("det_every", "flow_frames", "prop_min_joints"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.max_age < 0:
            problems.append("max_age must be >= 0")
        if not 1 <= self.max_persons <= 10_000:
            problems.append(f"max_persons must be in 1..10000, got {self.max_persons}")
        for name, low, high in (("win_size", 3, 255), ("max_level", 0, 10), ("lk_iters", 1, 1000),
                                ("lk_max_side", 32, 8192)):
            if not low <= getattr(self.flow, name) <= high:
                problems.append(f"flow.{name} must be in {low}..{high}, got {getattr(self.flow, name)}")
        if not 0 < self.flow.dis_scale <= 1:
            problems.append(f"flow.dis_scale must be in (0, 1], got {self.flow.dis_scale}")
        if self.box_enlarge < 0:
            problems.append("box_enlarge must be >= 0")
        problems += [f"smooth.{p}" for p in self.smooth.check()]
        return problems


@dataclass
class FrameTracks:
    """One frame's tracked persons (N of them)."""

    boxes_xyxy: np.ndarray      # (N, 4) float64
    box_scores: np.ndarray      # (N,) float64: detector score, or the propagated score
    keypoints: np.ndarray       # (N, K, 3) float32: x, y, score (non-finite -> 0, 0, 0)
    track_ids: np.ndarray       # (N,) int64
    propagated: np.ndarray      # (N,) bool: the box came from the previous frame by flow


@dataclass
class _Track:
    """One live person: its id, last box and pose, and its recent poses moved into the current frame."""

    track_id: int
    box: np.ndarray             # (4,) xyxy last box
    score: float                # last box score
    det_score: float            # score of its last detector box (of its first box if none was detected)
    pose: np.ndarray            # (K, 3) last pose as estimated (not moved)
    last_frame: int
    history: list[np.ndarray]   # up to flow_frames poses (K, 3), newest last, moved into the latest frame


def joint_box(pose: np.ndarray, kpt_thr: float, min_joints: int, enlarge: float) -> np.ndarray | None:
    """Box (4,) xyxy around the joints of pose (K, 3) with score >= kpt_thr, each side grown by enlarge/2."""
    ok = (pose[:, 2] >= kpt_thr) & np.isfinite(pose).all(1)
    if ok.sum() < min_joints:
        return None
    lo, hi = pose[ok, :2].min(0), pose[ok, :2].max(0)
    centre, size = (lo + hi) / 2, (hi - lo) * (1.0 + enlarge)
    return np.concatenate([centre - size / 2, centre + size / 2])


def propagated_score(box_score: float, pose: np.ndarray, rule: str = "mean", det_score: float | None = None) -> float:
    """Score of a box propagated from a person with box_score, pose (K, 3) and, for rule "detected", the
    score det_score of its last detector box, by `rule` (PROP_SCORES)."""
    if rule == "detected":
        return float(det_score) * float(pose[:, 2].mean())
    if rule == "keep":
        return float(box_score)
    if rule == "rescore":
        return float(rescore(pose[None, :, 2], np.array([box_score], np.float64))[0])
    return box_score * float(pose[:, 2].mean())


def output_filter(frame: FrameTracks, box_thr: float, kpt_thr: float) -> FrameTracks:
    """The paper's output drop: persons with box score < box_thr removed, joints < kpt_thr set to (0, 0, 0)."""
    keep = frame.box_scores >= box_thr
    kp = frame.keypoints[keep].copy()
    kp[kp[:, :, 2] < kpt_thr] = 0.0
    return FrameTracks(frame.boxes_xyxy[keep], frame.box_scores[keep], kp, frame.track_ids[keep],
                       frame.propagated[keep])


class FlowTracker:
    """Online FlowTrack over one video at a time; `estimator.predict(image, boxes, bbox_format='xyxy')`
    gives poses (N, K, 3) for boxes (N, 4)."""

    def __init__(self, estimator, sigmas: np.ndarray, cfg: FlowTrackConfig | None = None):
        """estimator: a PoseEstimator (or anything with its predict); sigmas (K,): OKS sigmas."""
        self.cfg = cfg or FlowTrackConfig()
        problems = self.cfg.check()
        if problems:
            raise ValueError("; ".join(problems))
        self.estimator = estimator
        self.sigmas = np.asarray(sigmas, np.float64)
        self.flow = JointFlow(self.cfg.flow)
        self.clock = StageClock(STAGES)            # wall and process CPU seconds per stage, over all frames
        self.frames = 0
        self.reset()

    def reset(self) -> None:
        """Start a new video: no tracks, ids from 0."""
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.frame = -1
        self.prev_flow: FlowFrame | None = None
        self.warned_persons = False

    @property
    def uses_flow(self) -> bool:
        """Whether any step needs optical flow."""
        return self.cfg.propagate or self.cfg.similarity in ("flow", "multiflow")

    def step(self, image: np.ndarray, det_boxes_xyxy: np.ndarray, det_scores: np.ndarray,
             frame_index: int | None = None) -> FrameTracks:
        """Track one frame: image H x W x 3 uint8 BGR, detections (D, 4) xyxy and (D,) scores.

        frame_index defaults to the previous + 1 (gaps count as frames unseen by every track).
        """
        c, clock = self.cfg, self.clock
        frame = self.frame + 1 if frame_index is None else int(frame_index)
        if frame <= self.frame:
            raise ValueError(f"frame_index {frame} does not follow the previous frame {self.frame}")
        with clock("flow"):
            prev_frame, self.frame = self.frame, frame
            self.tracks = [t for t in self.tracks if frame - t.last_frame - 1 <= c.max_age]
            cur = self.flow.prepare(image) if self.uses_flow else None
            if cur is not None and self.prev_flow is not None and self.tracks:
                self._move_histories(self.prev_flow, cur)
            self.prev_flow = cur
        with clock("association"):
            boxes, scores, propagated = self._candidate_boxes(image.shape[:2], det_boxes_xyxy, det_scores,
                                                              prev_frame)
            keep = box_nms(boxes, scores, c.box_nms_thr)
            boxes, scores, propagated = boxes[keep], scores[keep], propagated[keep]
        with clock("pose"):
            poses = np.zeros((0, len(self.sigmas), 3), np.float32)
            if len(boxes):
                poses = np.asarray(self.estimator.predict(image, boxes, bbox_format="xyxy"), np.float32)
                poses = poses.reshape(len(boxes), len(self.sigmas), 3)
            bad = ~np.isfinite(poses).all(-1)
            if bad.any():
                poses = poses.copy()
                poses[bad] = 0.0
        with clock("association"):
            if len(boxes):
                person = rescore(poses[:, :, 2], scores)
                keep = np.sort(oks_nms(poses[:, :, :2], person, np.prod(boxes[:, 2:] - boxes[:, :2], axis=1),
                                       np.zeros(len(boxes), np.int64), self.sigmas, c.oks_nms_thr))
                boxes, scores, propagated, poses = boxes[keep], scores[keep], propagated[keep], poses[keep]
            ids = self._associate(boxes, scores, poses, frame, propagated)
        self.frames += 1
        return FrameTracks(boxes, scores, poses, ids, propagated)

    # ------------------------------------------------------------------------------------------
    def _move_histories(self, prev: FlowFrame, cur: FlowFrame) -> None:
        """Move every live track's recent poses into the current frame (one flow call).

        The flow is computed on each track's latest pose; its older poses move with the same
        per-joint displacement (a joint the latest pose lacks takes the track's median displacement).
        """
        latest = np.stack([t.history[-1] for t in self.tracks]).astype(np.float64)   # (T, K, 3)
        valid = (latest[:, :, 2] > 0) & np.isfinite(latest).all(-1)
        disp = self.flow(prev, cur, latest[:, :, :2], valid) - latest[:, :, :2]       # (T, K, 2)
        for t, d, v in zip(self.tracks, disp, valid):
            d = np.where(v[:, None], d, np.median(d[v], axis=0) if v.any() else 0.0)
            d = np.nan_to_num(d)
            t.history = [np.concatenate([p[:, :2] + d, p[:, 2:]], axis=1) for p in t.history]

    def _candidate_boxes(self, hw: tuple[int, int], det_boxes: np.ndarray, det_scores: np.ndarray,
                         prev_frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detected boxes >= det_thr and propagated boxes: (boxes (B, 4), scores (B,), propagated (B,))."""
        c = self.cfg
        b = np.asarray(det_boxes, np.float64).reshape(-1, 4)
        s = np.asarray(det_scores, np.float64).reshape(-1)
        if len(b) != len(s):
            raise ValueError(f"{len(b)} detection boxes but {len(s)} scores")
        ok = (s >= c.det_thr) & np.isfinite(b).all(1) & np.isfinite(s)
        if ok.sum() > c.max_persons:
            best = np.flatnonzero(ok)[np.argsort(-s[ok], kind="stable")[:c.max_persons]]
            if not self.warned_persons:
                log.warning("frame %d: %d detections, over track.max_persons=%d: tracking the %d best (warned "
                            "once per video)", self.frame, int(ok.sum()), c.max_persons, c.max_persons)
                self.warned_persons = True
            ok = np.zeros_like(ok)
            ok[np.sort(best)] = True
        boxes, scores = [b[ok]], [s[ok]]
        if c.propagate:
            props = [(joint_box(t.history[-1], c.prop_kpt_thr, c.prop_min_joints, c.box_enlarge),
                      propagated_score(t.score, t.history[-1], c.prop_score, t.det_score))
                     for t in self.tracks if t.last_frame == prev_frame and t.history]
            props = [(bx, sc) for bx, sc in props if bx is not None and sc >= c.prop_score_thr]
            if props:
                boxes.append(np.stack([bx for bx, _ in props]))
                scores.append(np.array([sc for _, sc in props]))
        if len(boxes) > 1:
            h, w = hw  # propagated boxes may leave the frame: clip them; detector boxes stay as detected
            boxes[1][:, 0::2] = np.clip(boxes[1][:, 0::2], 0, w - 1)
            boxes[1][:, 1::2] = np.clip(boxes[1][:, 1::2], 0, h - 1)
        all_boxes = np.concatenate(boxes)
        propagated = np.arange(len(all_boxes)) >= len(boxes[0])
        size = all_boxes[:, 2:] - all_boxes[:, :2]
        size_ok = np.where(propagated, (size >= 2).all(1), (size > 0).all(1))
        return all_boxes[size_ok], np.concatenate(scores)[size_ok], propagated[size_ok]

    def _similarity(self, boxes: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """Similarity (N, T) of this frame's persons to the live tracks (NaN: not comparable)."""
        c = self.cfg
        t_boxes = np.stack([t.box for t in self.tracks])
        if c.similarity == "iou":
            return pairwise_iou(boxes, t_boxes)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        t_area = np.prod(t_boxes[:, 2:] - t_boxes[:, :2], axis=1)
        if c.similarity == "oks":
            refs = [[t.pose] for t in self.tracks]
        elif c.similarity == "flow":
            refs = [[t.history[-1]] for t in self.tracks]
        else:
            refs = [t.history for t in self.tracks]
        flat = np.stack([p for r in refs for p in r]).astype(np.float64)        # (R, K, 3)
        owner = np.repeat(np.arange(len(refs)), [len(r) for r in refs])        # (R,) track position
        oks, counts = pairwise_oks(poses.astype(np.float64), flat, area, t_area[owner], self.sigmas,
                                   c.kpt_score_thr, either=c.oks_joints == "either")
        oks[counts < max(c.min_keypoints, 1)] = np.nan
        sim = np.full((len(boxes), len(refs)), np.nan)
        for j in range(len(refs)):                                              # best over a track's poses
            cols = oks[:, owner == j]
            if np.isfinite(cols).any():
                sim[:, j] = np.nanmax(np.where(np.isfinite(cols), cols, -np.inf), axis=1)
        sim[~np.isfinite(sim)] = np.nan
        return sim

    def _associate(self, boxes: np.ndarray, scores: np.ndarray, poses: np.ndarray, frame: int,
                   propagated: np.ndarray) -> np.ndarray:
        """Track ids (N,) of this frame's persons (propagated (N,): whose box came by flow); updates,
        creates and keeps tracks."""
        c = self.cfg
        n = len(boxes)
        ids = np.full(n, -1, np.int64)
        matched: dict[int, int] = {}                       # person index -> track position
        if n and self.tracks:
            thr = c.iou_thr if c.similarity == "iou" else c.oks_thr
            matched = dict(greedy_match(self._similarity(boxes, poses), thr))
        for i in range(n):
            pose = poses[i].astype(np.float64)
            if i in matched:
                t = self.tracks[matched[i]]
                t.box, t.score, t.pose, t.last_frame = boxes[i].copy(), float(scores[i]), pose, frame
                if not propagated[i]:
                    t.det_score = float(scores[i])
                t.history = (t.history + [pose.copy()])[-c.flow_frames:]
            else:
                t = _Track(self.next_id, boxes[i].copy(), float(scores[i]), float(scores[i]), pose, frame,
                           [pose.copy()])
                self.tracks.append(t)
                self.next_id += 1
            ids[i] = t.track_id
        return ids

"""FlowSORT: FlowTrack's persons (detected + flow-propagated boxes, poses) with ids from a SORT-family association.

FlowTrack (tracking/flowtrack.py) finds the persons of a frame exactly as it always does (its own
greedy matching still decides which track a propagated box comes from and its score), and
``FlowSortIds`` gives them ids, per frame:

1. Tracks unseen for more than ``max_age`` frames end (a long memory: people hidden or out of the
   frame for a second keep their id when they come back where their motion model expects them).
2. Motion (``motion="kalman"``): every track's box is predicted by a constant-velocity Kalman filter
   (tracking/kalman.py; ByteTrack's noise model); ``"last"``: its last box. Motion from the optical
   flow FlowTrack computed anyway (``cmc``): ``"global"`` shifts every predicted box by the median
   flow motion of all the previous frame's confident joints (camera motion as BoT-SORT compensates
   it, but measured on the people); ``"flow"`` puts the box of a track seen in the previous frame
   where the median flow motion of its own joints takes it (its velocity still predicts when it
   was unseen); ``"none"`` (default: both cost ID switches on the synthetic train split,
   docs/tracking.md).
3. Similarity of a person to a track: (1 - ``pose_weight``) x IoU of its box with the track's
   predicted box + ``pose_weight`` x OKS of its pose with the track's last pose moved into this
   frame (by the optical flow when the track was seen in the previous frame, else shifted with its
   predicted box; with ``pose_history`` L > 1 the best OKS over that and its L - 1 poses before,
   each shifted with the predicted box); IoU alone where fewer than ``min_keypoints`` joints are
   confident in both poses. ``direction_weight`` adds OC-SORT's direction consistency: w x
   (pi / 2 - |angle|) / pi between the track's direction over its last observations and the
   direction from its last observation to the person. ``appearance_weight`` a mixes in a cheap
   appearance cue: (1 - a) x that + a x the cosine of the person's colour histogram
   (tracking/appearance.py) with the track's (an exponential average, ``appearance_momentum``), then
   ``limb_weight`` w mixes in the colours along the pose's limbs: (1 - w) x that + w x their similarity
   (tracking/appearance.py; ``limb_scale``) with the track's (averaged with the same momentum), where
   the two share at least two limbs.
4. Association in rounds, each an optimal assignment (``assignment="hungarian"``; ``"greedy"``:
   highest first): persons scoring >= ``high_thr`` with the confirmed tracks (similarity >=
   ``match_thr``); with ``second_round`` (ByteTrack), the persons scoring less with the confirmed
   tracks seen in the previous frame that are left, by IoU >= ``low_match_thr``; then the persons
   left with the tentative tracks (seen once), similarity >= ``match_thr``. Persons left over start
   tentative tracks; with ``drop_unconfirmed`` a tentative track not matched in the next frame that has
   persons ends.
5. A matched track's filter takes its new box; with ``oru`` (OC-SORT's observation-centric
   re-update) a track matched after unseen frames first replays those frames from its last
   observation along the straight line to the new box, so the velocity it drifted on while unseen is
   replaced by the one the observations imply.

Every person gets an id (ids 0, 1, ... per video, in order of appearance); confirmed tracks are
those matched twice or born in the video's first frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simplepose.data.geometry import pairwise_iou
from simplepose.tracking.appearance import blend_limbs, colour_histograms, limb_colours, limb_similarity
from simplepose.tracking.flowtrack import FlowTrackConfig, FlowTracker, FrameTracks
from simplepose.tracking.kalman import BoxKalman, xyah_to_xyxy, xyxy_to_xyah
from simplepose.tracking.matching import fuse_similarity, greedy_match, hungarian_match, pairwise_oks

MOTIONS = ("kalman", "last")
CMCS = ("none", "flow", "global")
ASSIGNMENTS = ("hungarian", "greedy")


@dataclass
class FlowSortConfig:
    """Every knob of FlowSORT's id assignment (track.sort); ByteTrack / OC-SORT defaults where they have one."""

    motion: str = "kalman"          # "kalman" (constant velocity) or "last" (the last box)
    cmc: str = "none"               # motion from the joints' optical flow: "none", "flow" or "global" (docstring)
    assignment: str = "hungarian"   # "hungarian" (optimal) or "greedy" (highest similarity first)
    pose_weight: float = 0.75       # similarity = (1 - w) IoU + w flow-warped OKS (chosen on a synthetic train split)
    match_thr: float = 0.2          # similarity gate of the first and third rounds (ByteTrack: IoU 0.2)
    high_thr: float = 0.5           # persons below this box score wait for the second round (ByteTrack 0.5)
    second_round: bool = True       # ByteTrack's second round for the low-score persons
    low_match_thr: float = 0.5      # IoU gate of the second round (ByteTrack 0.5)
    oru: bool = True                # OC-SORT's re-update after unseen frames
    direction_weight: float = 0.0   # OC-SORT's direction consistency added to the similarity (its inertia: 0.2)
    appearance_weight: float = 0.25   # similarity = (1 - a) similarity + a colour-histogram cosine (chosen on train)
    appearance_momentum: float = 0.9  # a track's histogram: this x its old one + (1 - this) x the new (BoT-SORT)
    limb_weight: float = 0.3        # similarity = (1 - w) similarity + w limb-colour similarity (chosen on train)
    limb_scale: float = 20.0        # limb colours: exp(-mean Lab distance / this) (chosen on train)
    max_age: int = 30               # frames a track may stay unseen (ByteTrack's buffer at 30 fps)
    drop_unconfirmed: bool = True   # a track seen once and missed in the next frame ends (ByteTrack)
    pose_history: int = 1           # OKS: the best over the flow-moved last pose and the last L poses carried along
    kpt_score_thr: float = 0.3      # joints taking part in OKS and in the camera motion
    min_keypoints: int = 3          # pairs with fewer joints in common: IoU alone
    std_position: float = 1 / 20    # Kalman position noise std / box height (ByteTrack)
    std_velocity: float = 1 / 160   # Kalman velocity noise std / box height (ByteTrack)

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        problems = []
        if self.motion not in MOTIONS:
            problems.append(f"sort.motion must be one of {', '.join(MOTIONS)}, got {self.motion!r}")
        if self.cmc not in CMCS:
            problems.append(f"sort.cmc must be one of {', '.join(CMCS)}, got {self.cmc!r}")
        if self.assignment not in ASSIGNMENTS:
            problems.append(f"sort.assignment must be one of {', '.join(ASSIGNMENTS)}, got {self.assignment!r}")
        for name in ("pose_weight", "match_thr", "high_thr", "low_match_thr", "kpt_score_thr", "direction_weight",
                     "appearance_weight", "appearance_momentum", "limb_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"sort.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.max_age < 0:
            problems.append("sort.max_age must be >= 0")
        if self.pose_history < 1:
            problems.append("sort.pose_history must be >= 1")
        if self.min_keypoints < 1:
            problems.append("sort.min_keypoints must be >= 1")
        if not self.limb_scale > 0:
            problems.append("sort.limb_scale must be > 0")
        if not (self.std_position > 0 and self.std_velocity > 0):
            problems.append("sort.std_position and sort.std_velocity must be > 0")
        return problems


@dataclass
class _Track:
    """One person's id, filter state and last observation."""

    track_id: int
    mean: np.ndarray            # (8,) Kalman state cx, cy, a, h and velocities (predicted to this frame)
    cov: np.ndarray             # (8, 8)
    box: np.ndarray             # (4,) last observed box xyxy
    pose: np.ndarray            # (K, 3) last observed pose
    last_frame: int
    history: list = field(default_factory=list)   # up to pose_history (box (4,), pose (K, 3)) observations, newest last
    centres: list = field(default_factory=list)   # box centres (2,) of the last 4 observations, newest last
    feature: np.ndarray | None = None     # (D,) smoothed colour histogram (None: no appearance cue)
    limbs: np.ndarray | None = None       # (12, 3) smoothed limb colours, NaN for limbs not seen (None: no cue)
    hits: int = 1
    confirmed: bool = False
    saved: tuple[np.ndarray, np.ndarray] = field(default=None)   # (mean, cov) after the last observation
    flow_pose: np.ndarray | None = None   # last pose moved into this frame by flow (seen in the previous frame)


class FlowSortIds:
    """Ids for a video's persons frame by frame: call update() once per frame, in order."""

    def __init__(self, sigmas: np.ndarray, cfg: FlowSortConfig | None = None):
        """sigmas (K,): OKS sigmas of the keypoint schema."""
        self.cfg = cfg or FlowSortConfig()
        problems = self.cfg.check()
        if problems:
            raise ValueError("; ".join(problems))
        self.sigmas = np.asarray(sigmas, np.float64)
        self.kf = BoxKalman(self.cfg.std_position, self.cfg.std_velocity)
        self.reset()

    def reset(self) -> None:
        """A new video: no tracks, ids from 0."""
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.frame = -1
        self.first_frame: int | None = None
        self.prev_ids = np.zeros(0, np.int64)
        self.prev_poses = np.zeros((0, len(self.sigmas), 3))

    def update(self, frame: int, boxes: np.ndarray, scores: np.ndarray, poses: np.ndarray,
               prev_moved: np.ndarray | None = None, features: np.ndarray | None = None,
               limbs: np.ndarray | None = None) -> np.ndarray:
        """Ids (N,) int64 of a frame's persons: boxes (N, 4) xyxy, box scores (N,), poses (N, K, 3).

        prev_moved (P, K, 3): the previous update's poses moved into this frame by optical flow
        (None: no flow; they stay where they were). features (N, D): L2-normalised appearance
        vectors (tracking/appearance.py), used when appearance_weight > 0; limbs (N, 12, 3): limb
        colours (appearance.limb_colours), used when limb_weight > 0.
        """
        c = self.cfg
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        poses = np.asarray(poses, np.float64).reshape(len(boxes), len(self.sigmas), 3)
        if frame <= self.frame:
            raise ValueError(f"frame {frame} does not follow the previous frame {self.frame}")
        steps = frame - self.frame if self.frame >= 0 else 1
        if self.first_frame is None:
            self.first_frame = frame
        moved = self.prev_poses if prev_moved is None else np.asarray(prev_moved, np.float64)
        shift = self._camera_shift(moved) if c.cmc == "global" else np.zeros(2)
        self.tracks = [t for t in self.tracks if frame - t.last_frame - 1 <= c.max_age]
        self._predict(frame, steps, shift, moved)
        self.features = None if features is None or c.appearance_weight == 0 else np.asarray(features, np.float64)
        self.limbs = None if limbs is None or c.limb_weight == 0 else np.asarray(limbs, np.float64)
        ids = self._associate(frame, boxes, scores, poses)
        self.frame = frame
        self.prev_ids, self.prev_poses = ids, poses
        return ids

    # ------------------------------------------------------------------------------------------
    def _camera_shift(self, moved: np.ndarray) -> np.ndarray:
        """The median flow motion (2,) of the previous frame's confident joints (zero when there are none)."""
        prev = self.prev_poses
        if len(prev) == 0 or moved.shape != prev.shape:
            return np.zeros(2)
        ok = (prev[:, :, 2] > self.cfg.kpt_score_thr) & np.isfinite(moved).all(-1) & np.isfinite(prev).all(-1)
        if not ok.any():
            return np.zeros(2)
        return np.median(moved[ok][:, :2] - prev[ok][:, :2], axis=0)

    def _predict(self, frame: int, steps: int, shift: np.ndarray, moved: np.ndarray) -> None:
        """Every track's filter predicted to `frame` (shifted by the camera motion); flow poses attached."""
        by_id = {int(i): p for i, p in zip(self.prev_ids, moved)} if len(moved) == len(self.prev_ids) else {}
        for t in self.tracks:
            t.flow_pose = by_id.get(t.track_id) if t.last_frame == self.frame else None
        if not self.tracks:
            return
        mean = np.stack([t.mean for t in self.tracks])
        cov = np.stack([t.cov for t in self.tracks])
        if self.cfg.motion == "kalman":
            unseen = np.array([t.last_frame != self.frame for t in self.tracks])
            mean[unseen, 7] = 0.0                      # an unseen person's height stops changing (ByteTrack)
            for _ in range(steps):
                mean, cov = self.kf.predict(mean, cov)
        else:
            mean = np.concatenate([xyxy_to_xyah(np.stack([t.box for t in self.tracks])), mean[:, 4:]], 1)
        mean[:, :2] += shift
        if self.cfg.cmc == "flow":
            for k, t in enumerate(self.tracks):
                d = self._flow_motion(t)
                if d is not None:
                    mean[k, :2] = t.mean[:2] + d
        for t, m, p in zip(self.tracks, mean, cov):
            t.mean, t.cov = m, p

    def _flow_motion(self, t: _Track) -> np.ndarray | None:
        """The median flow motion (2,) of a track's confident joints since the previous frame (None: not seen
        there, or no confident joint)."""
        if t.flow_pose is None:
            return None
        ok = (t.pose[:, 2] > self.cfg.kpt_score_thr) & np.isfinite(t.flow_pose).all(-1)
        return np.median(t.flow_pose[ok, :2] - t.pose[ok, :2], axis=0) if ok.any() else None

    def _similarity(self, boxes: np.ndarray, poses: np.ndarray, tracks: list[_Track],
                    iou_only: bool = False) -> np.ndarray:
        """Similarity (N, T) of persons to tracks: IoU with the predicted boxes fused with flow-warped OKS."""
        pred = xyah_to_xyxy(np.stack([t.mean for t in tracks]))
        iou = pairwise_iou(boxes, pred)
        if iou_only or self.cfg.pose_weight == 0:
            return iou
        refs, owner = [], []
        for j, (t, b) in enumerate(zip(tracks, pred)):
            if t.flow_pose is not None:
                refs.append(t.flow_pose)
                owner.append(j)
            for box, pose in (t.history if t.flow_pose is None else t.history[:-1]):
                d = (b[:2] + b[2:]) / 2 - (box[:2] + box[2:]) / 2      # a pose carried along with the predicted box
                refs.append(np.concatenate([pose[:, :2] + d, pose[:, 2:]], 1))
                owner.append(j)
        owner = np.array(owner)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        t_area = np.prod(pred[:, 2:] - pred[:, :2], axis=1)
        oks, counts = pairwise_oks(poses, np.stack(refs), area, t_area[owner], self.sigmas, self.cfg.kpt_score_thr)
        oks[counts < self.cfg.min_keypoints] = -np.inf
        best = np.full((len(boxes), len(tracks)), -np.inf)
        np.maximum.at(best.T, owner, oks.T)                    # the best OKS over each track's references
        best[np.isinf(best)] = np.nan
        return fuse_similarity(iou, best, self.cfg.pose_weight)

    def _direction(self, boxes: np.ndarray, tracks: list[_Track]) -> np.ndarray:
        """OC-SORT's direction consistency (N, T) in [-0.5, 0.5]: (pi / 2 - |angle|) / pi between a track's
        direction over its last observations (up to 3 frames apart) and the one from its last observation
        to each box centre (0 for tracks with a single observation)."""
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2                                     # (N, 2)
        out = np.zeros((len(boxes), len(tracks)))
        for j, t in enumerate(tracks):
            if len(t.centres) < 2:
                continue
            last = t.centres[-1]
            v = last - t.centres[0]
            to = centre - last
            nv, nt = np.linalg.norm(v), np.linalg.norm(to, axis=1)
            if nv < 1e-6:
                continue
            cos = np.clip(to @ v / (np.maximum(nt, 1e-6) * nv), -1.0, 1.0)
            out[:, j] = np.where(nt > 1e-6, (np.pi / 2 - np.abs(np.arccos(cos))) / np.pi, 0.0)
        return out

    def _match(self, persons: np.ndarray, tracks: list[int], boxes: np.ndarray, poses: np.ndarray,
               thr: float, iou_only: bool = False) -> list[tuple[int, int]]:
        """(person, track position) pairs between the given persons and track positions."""
        if len(persons) == 0 or len(tracks) == 0:
            return []
        chosen = [self.tracks[j] for j in tracks]
        sim = self._similarity(boxes[persons], poses[persons], chosen, iou_only)
        if self.cfg.direction_weight > 0 and not iou_only:
            sim = sim + self.cfg.direction_weight * self._direction(boxes[persons], chosen)
        if self.features is not None and not iou_only:
            a = self.cfg.appearance_weight
            feats = np.stack([t.feature if t.feature is not None else np.zeros(self.features.shape[1])
                              for t in chosen])
            has = np.array([t.feature is not None for t in chosen])
            sim = np.where(has, (1 - a) * sim + a * (self.features[persons] @ feats.T), sim)
        if self.limbs is not None and not iou_only:
            w = self.cfg.limb_weight
            mine = np.stack([t.limbs if t.limbs is not None else np.full(self.limbs.shape[1:], np.nan) for t in chosen])
            limb = limb_similarity(self.limbs[persons], mine, self.cfg.limb_scale)
            sim = np.where(np.isnan(limb), sim, (1 - w) * sim + w * np.nan_to_num(limb))
        pairs = (hungarian_match if self.cfg.assignment == "hungarian" else greedy_match)(sim, thr)
        return [(int(persons[r]), tracks[c]) for r, c in pairs]

    def _associate(self, frame: int, boxes: np.ndarray, scores: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """The rounds of the module docstring; updates, creates and ends tracks; ids (N,)."""
        c = self.cfg
        high = scores >= c.high_thr if c.second_round else np.ones(len(boxes), bool)
        confirmed = [j for j, t in enumerate(self.tracks) if t.confirmed]
        tentative = [j for j, t in enumerate(self.tracks) if not t.confirmed]
        pairs = self._match(np.flatnonzero(high), confirmed, boxes, poses, c.match_thr)
        if c.second_round:
            taken = {j for _, j in pairs}
            active = [j for j in confirmed if j not in taken and self.tracks[j].last_frame == self.frame]
            pairs += self._match(np.flatnonzero(~high), active, boxes, poses, c.low_match_thr, iou_only=True)
        used = {i for i, _ in pairs}
        left = np.array([i for i in range(len(boxes)) if i not in used], np.int64)
        pairs += self._match(left, tentative, boxes, poses, c.match_thr)
        self._observe(frame, pairs, boxes, poses)
        matched_tracks = {j for _, j in pairs}
        ids = np.full(len(boxes), -1, np.int64)
        for i, j in pairs:
            ids[i] = self.tracks[j].track_id
        if c.drop_unconfirmed and len(boxes):        # a frame without persons (no boxes asked) is no evidence
            self.tracks = [t for j, t in enumerate(self.tracks) if t.confirmed or j in matched_tracks
                           or t.last_frame == frame]
        new = np.flatnonzero(ids < 0)
        if len(new):
            ids[new] = self._start(frame, boxes[new], poses[new], new)
        return ids

    def _observe(self, frame: int, pairs: list[tuple[int, int]], boxes: np.ndarray, poses: np.ndarray) -> None:
        """Matched tracks take their person's box (Kalman update, re-updated after a gap with oru) and pose."""
        if not pairs:
            return
        z = xyxy_to_xyah(boxes[[i for i, _ in pairs]])
        plain = [k for k, (_, j) in enumerate(pairs) if not (self.cfg.oru and self.cfg.motion == "kalman"
                                                               and self.tracks[j].last_frame < self.frame)]
        if plain and self.cfg.motion == "kalman":
            sel = [pairs[k][1] for k in plain]
            mean, cov = self.kf.update(np.stack([self.tracks[j].mean for j in sel]),
                                       np.stack([self.tracks[j].cov for j in sel]), z[plain])
            for j, m, p in zip(sel, mean, cov):
                self.tracks[j].mean, self.tracks[j].cov = m, p
        for k, (i, j) in enumerate(pairs):
            t = self.tracks[j]
            if k not in plain:
                t.mean, t.cov = self._re_update(t, z[k], frame - t.last_frame)
            elif self.cfg.motion == "last":
                t.mean = np.concatenate([z[k], t.mean[4:]])
            t.box, t.pose, t.last_frame, t.hits = boxes[i].copy(), poses[i].copy(), frame, t.hits + 1
            t.history = (t.history + [(t.box, t.pose)])[-self.cfg.pose_history:]
            t.centres = (t.centres + [(t.box[:2] + t.box[2:]) / 2])[-4:]
            if self.features is not None:
                f = self.features[i]
                mom = self.cfg.appearance_momentum
                f = f if t.feature is None else mom * t.feature + (1 - mom) * f
                t.feature = f / max(float(np.linalg.norm(f)), 1e-12)
            if self.limbs is not None:
                t.limbs = blend_limbs(t.limbs, self.limbs[i], self.cfg.appearance_momentum)
            t.confirmed = t.confirmed or t.hits >= 2
            t.saved = (t.mean.copy(), t.cov.copy())

    def _re_update(self, t: _Track, z: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
        """OC-SORT's re-update: from the last observation, `gap` frames along the line to z (xyah)."""
        mean, cov = t.saved[0][None], t.saved[1][None]
        start = xyxy_to_xyah(t.box[None])[0]
        for step in range(1, gap + 1):
            mean, cov = self.kf.predict(mean, cov)
            virtual = start + (z - start) * step / gap
            mean, cov = self.kf.update(mean, cov, virtual[None])
        return mean[0], cov[0]

    def _start(self, frame: int, boxes: np.ndarray, poses: np.ndarray, new: np.ndarray) -> np.ndarray:
        """New tracks for persons `new` (M,) with boxes (M, 4), poses (M, K, 3); their ids (M,)."""
        mean, cov = self.kf.initiate(xyxy_to_xyah(boxes))
        ids = np.arange(self.next_id, self.next_id + len(boxes), dtype=np.int64)
        feats = self.features[new] if self.features is not None else [None] * len(boxes)
        limbs = self.limbs[new] if self.limbs is not None else [None] * len(boxes)
        for k, tid in enumerate(ids.tolist()):
            t = _Track(tid, mean[k], cov[k], boxes[k].copy(), poses[k].copy(), frame,
                       history=[(boxes[k].copy(), poses[k].copy())], centres=[(boxes[k, :2] + boxes[k, 2:]) / 2],
                       confirmed=frame == self.first_frame, feature=feats[k],
                       limbs=None if limbs[k] is None else limbs[k].copy())
            t.saved = (mean[k].copy(), cov[k].copy())
            self.tracks.append(t)
        self.next_id += len(boxes)
        return ids


class FlowSortTracker(FlowTracker):
    """FlowTrack's persons with FlowSortIds' ids (see the module docstring); same step() as FlowTracker."""

    def __init__(self, estimator, sigmas: np.ndarray, cfg: FlowTrackConfig | None = None,
                 sort: FlowSortConfig | None = None):
        """estimator, sigmas, cfg: as FlowTracker; sort: the id assignment's settings."""
        self.ids = FlowSortIds(sigmas, sort)
        super().__init__(estimator, sigmas, cfg)

    def reset(self) -> None:
        """A new video for both FlowTrack's bookkeeping and the ids."""
        super().reset()
        self.ids.reset()
        self.inner_ids = np.zeros(0, np.int64)      # FlowTrack's own ids of the previous frame's persons

    def moved_previous(self) -> np.ndarray | None:
        """The previous frame's poses (P, K, 3) moved into this frame by FlowTrack's flow (None: no flow)."""
        if not self.uses_flow:
            return None
        by_id = {t.track_id: t for t in self.tracks}
        moved = [by_id[i].history[-1] if i in by_id else p                # a track ended over a long gap stays
                 for i, p in zip(self.inner_ids.tolist(), self.ids.prev_poses)]
        return np.stack(moved) if moved else np.zeros((0, len(self.sigmas), 3))

    def step(self, image: np.ndarray, det_boxes_xyxy: np.ndarray, det_scores: np.ndarray,
             frame_index: int | None = None) -> FrameTracks:
        """As FlowTracker.step (the image is kept for the appearance cue)."""
        self.image = image
        return super().step(image, det_boxes_xyxy, det_scores, frame_index)

    def _associate(self, boxes: np.ndarray, scores: np.ndarray, poses: np.ndarray, frame: int,
                   propagated: np.ndarray) -> np.ndarray:
        """FlowTrack's bookkeeping (which track each propagated box continues), then FlowSORT's ids."""
        moved = self.moved_previous()
        self.inner_ids = super()._associate(boxes, scores, poses, frame, propagated)
        feats = colour_histograms(self.image, boxes) if self.ids.cfg.appearance_weight > 0 else None
        limbs = limb_colours(self.image, poses, self.ids.cfg.kpt_score_thr) if self.ids.cfg.limb_weight > 0 else None
        return self.ids.update(frame, boxes, scores, poses, moved, feats, limbs)

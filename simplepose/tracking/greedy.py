"""The previous online pose tracker (a benchmark row): greedy frame-to-frame matching by pose similarity (OKS), box IoU fallback.

Each frame's poses are matched against the live tracks (the last pose and box of every person seen
in the last `max_age + 1` frames):

1. OKS between each detected pose and each track's last pose, over the keypoints whose scores pass
   `kpt_score_thr` in both; pairs with fewer than `min_keypoints` such keypoints get no OKS.
   Pairs are taken greedily, highest similarity first, while the similarity is >= `oks_thr`.
2. Poses and tracks still unmatched are matched the same way by box IoU (>= `iou_thr`): this keeps
   an identity when the pose is too uncertain for OKS (occlusion, blur, tiny persons).
3. Poses left over start new tracks (ids 0, 1, 2, ... in order of appearance); tracks unseen for
   more than `max_age` consecutive frames are dropped for good.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simplepose.data.geometry import bbox_xywh_to_xyxy, pairwise_iou
from simplepose.tracking.matching import greedy_match, pairwise_oks


@dataclass
class Track:
    """One tracked person: its id and where it was last seen."""

    track_id: int
    keypoints: np.ndarray       # (K, 3) last pose: x, y, score
    bbox_xywh: np.ndarray       # (4,) last box
    last_frame: int             # frame index where it was last matched


class GreedyPoseTracker:
    """Online multi-person tracker: call update() once per frame, in frame order."""

    def __init__(self, sigmas: np.ndarray, oks_thr: float = 0.3, iou_thr: float = 0.3,
                 max_age: int = 3, kpt_score_thr: float = 0.3, min_keypoints: int = 3):
        """sigmas (K,): OKS sigmas of the keypoint schema; max_age: frames a track may be unseen."""
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.sigmas = np.asarray(sigmas, dtype=np.float64)
        self.oks_thr = float(oks_thr)
        self.iou_thr = float(iou_thr)
        self.max_age = int(max_age)
        self.kpt_score_thr = float(kpt_score_thr)
        self.min_keypoints = int(min_keypoints)
        self.reset()

    def reset(self) -> None:
        """Forget every track (e.g. at the start of a new video); ids restart at 0."""
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame = -1

    def _similarity(self, kpts: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """OKS (N, T) with NaN where too few keypoints are confident, and box IoU (N, T)."""
        t_kpts = np.stack([t.keypoints for t in self.tracks]).astype(np.float64)
        t_boxes = np.stack([t.bbox_xywh for t in self.tracks]).astype(np.float64)
        areas = np.clip(boxes[:, 2:], 0, None).prod(-1)
        t_areas = np.clip(t_boxes[:, 2:], 0, None).prod(-1)
        oks, counts = pairwise_oks(kpts, t_kpts, areas, t_areas, self.sigmas, self.kpt_score_thr)
        oks[counts < max(self.min_keypoints, 1)] = np.nan
        return oks, pairwise_iou(bbox_xywh_to_xyxy(boxes), bbox_xywh_to_xyxy(t_boxes))

    def update(self, keypoints: np.ndarray, boxes_xywh: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        """Track ids (N,) int64 for this frame's poses (N, K, 3) x, y, score and boxes (N, 4) xywh.

        frame_index defaults to the previous frame + 1; pass it to skip frames (they count as
        unseen for every track).
        """
        kpts = np.asarray(keypoints, dtype=np.float64)
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        if kpts.ndim != 3 or kpts.shape[2] != 3 or kpts.shape[1] != self.sigmas.shape[0]:
            raise ValueError(f"keypoints must be (N, {self.sigmas.shape[0]}, 3), got {kpts.shape}")
        if boxes.shape[0] != kpts.shape[0]:
            raise ValueError(f"{kpts.shape[0]} poses but {boxes.shape[0]} boxes")
        if not np.isfinite(boxes).all():
            raise ValueError("boxes contain NaN or infinity")
        bad = ~np.isfinite(kpts).all(axis=2)
        if bad.any():  # a keypoint without a finite position or score takes no part in OKS
            kpts = kpts.copy()
            kpts[bad] = 0.0
        frame = self.frame + 1 if frame_index is None else int(frame_index)
        if frame <= self.frame:
            raise ValueError(f"frame_index {frame} does not follow the previous frame {self.frame}")
        self.frame = frame
        # Drop tracks unseen for more than max_age frames before this one.
        self.tracks = [t for t in self.tracks if frame - t.last_frame - 1 <= self.max_age]

        n = kpts.shape[0]
        ids = np.full(n, -1, dtype=np.int64)
        if n and self.tracks:
            oks, iou = self._similarity(kpts, boxes)
            for sim, thr in ((oks, self.oks_thr), (iou, self.iou_thr)):
                free_d = np.flatnonzero(ids < 0)
                taken = set(ids[ids >= 0].tolist())
                free_t = np.array([j for j, t in enumerate(self.tracks) if t.track_id not in taken], dtype=np.int64)
                if free_d.size == 0 or free_t.size == 0:
                    break
                for r, c in greedy_match(sim[np.ix_(free_d, free_t)], thr):
                    ids[free_d[r]] = self.tracks[free_t[c]].track_id
        by_id = {t.track_id: t for t in self.tracks}
        for i in range(n):
            if ids[i] >= 0:
                t = by_id[int(ids[i])]
                t.keypoints, t.bbox_xywh, t.last_frame = kpts[i].copy(), boxes[i].copy(), frame
            else:
                ids[i] = self.next_id
                self.tracks.append(Track(self.next_id, kpts[i].copy(), boxes[i].copy(), frame))
                self.next_id += 1
        return ids

"""Online pose tracking: greedy frame-to-frame matching by pose similarity (OKS), box IoU fallback.

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


def pairwise_oks(kpts_a: np.ndarray, kpts_b: np.ndarray, areas_a: np.ndarray, areas_b: np.ndarray,
                 sigmas: np.ndarray, score_thr: float = 0.3, either: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """OKS (N, M) between poses a (N, K, 3) and b (M, K, 3) (x, y, score), and the keypoint counts.

    The object scale s^2 is the mean of the two box areas; per keypoint
    e = d^2 / (2 s^2 (2 sigma)^2) and OKS is the mean of exp(-e) over the keypoints with
    score > score_thr in both poses (0 where there is none). With `either`, the mean is over the
    keypoints confident in either pose, a keypoint confident in only one of them counting 0: a
    pose with three confident joints then cannot look like a full one on those three alone.
    counts are always the keypoints confident in both. Returns (oks (N, M) f64, counts (N, M)).
    """
    a = np.asarray(kpts_a, dtype=np.float64)
    b = np.asarray(kpts_b, dtype=np.float64)
    d2 = ((a[:, None, :, :2] - b[None, :, :, :2]) ** 2).sum(-1)                      # (N, M, K)
    area = 0.5 * (np.asarray(areas_a, np.float64)[:, None] + np.asarray(areas_b, np.float64)[None, :])
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2                           # (K,)
    e = d2 / (2.0 * (area[:, :, None] + np.finfo(np.float64).eps) * var)              # (N, M, K)
    valid = (a[:, None, :, 2] > score_thr) & (b[None, :, :, 2] > score_thr)          # (N, M, K)
    counts = valid.sum(-1)
    total = np.where(valid, np.exp(-e), 0.0).sum(-1)
    over = ((a[:, None, :, 2] > score_thr) | (b[None, :, :, 2] > score_thr)).sum(-1) if either else counts
    oks = np.divide(total, over, out=np.zeros_like(total), where=over > 0)
    return oks, counts


def pairwise_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU (N, M) between boxes a (N, 4) and b (M, 4), both x, y, w, h."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])                                   # (N, M, 2)
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(-1)
    area_a = np.clip(a[:, 2:], 0.0, None).prod(-1)
    area_b = np.clip(b[:, 2:], 0.0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) taken highest similarity first, each row and column once, while >= threshold.

    NaN entries never match. Ties are broken by row, then column order (stable sort).
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.size == 0:
        return []
    rows, cols = np.nonzero(sim >= threshold)                    # row-major: stable tie order
    order = np.argsort(-sim[rows, cols], kind="stable")
    used_r = np.zeros(sim.shape[0], dtype=bool)
    used_c = np.zeros(sim.shape[1], dtype=bool)
    pairs: list[tuple[int, int]] = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if not used_r[r] and not used_c[c]:
            used_r[r] = used_c[c] = True
            pairs.append((r, c))
            if len(pairs) == min(sim.shape):
                break
    return pairs


@dataclass
class Track:
    """One tracked person: its id and where it was last seen."""

    track_id: int
    keypoints: np.ndarray       # (K, 3) last pose: x, y, score
    bbox_xywh: np.ndarray       # (4,) last box
    last_frame: int             # frame index where it was last matched


class PoseTracker:
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
        return oks, pairwise_iou(boxes, t_boxes)

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

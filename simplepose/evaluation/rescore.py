"""The reference's post-processing of top-down predictions: person rescoring and OKS-NMS per image.

Person score = box score x mean of the keypoint scores above 0.2 (0 when none is above), summed
sequentially in float64 like the reference's loop. OKS-NMS keeps, per image and in descending
score order, every person whose OKS with all kept persons is <= 0.9; OKS uses all keypoints,
the COCO sigmas and the mean of the two persons' areas, where a person's area is the product of
its aspect-fixed, 1.25-padded crop box (the reference's `bbox_scales`), which every
prediction carries as `area`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simplepose.data.instances import PosePrediction
from simplepose.errors import DataError

KEYPOINT_SCORE_THR = 0.2
NMS_THR = 0.9
_MAX_CHUNK_ELEMENTS = 4_000_000     # OKS tensor elements processed at once


def rescore(keypoint_scores: np.ndarray, box_scores: np.ndarray, thr: float = KEYPOINT_SCORE_THR) -> np.ndarray:
    """Person scores (N,) float64 from keypoint scores (N, K) and box scores (N,).

    As the reference computes them (with numpy 1.x scalar promotion): float32 keypoint scores
    summed one by one in float64, divided by their count, times the float32 box score.
    """
    s = np.asarray(keypoint_scores, dtype=np.float32).astype(np.float64)
    above = s > thr
    if s.shape[1]:
        total = np.cumsum(np.where(above, s, 0.0), axis=1)[:, -1]     # sequential float64 sum
    else:
        total = np.zeros(len(s))
    count = above.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return np.asarray(box_scores, dtype=np.float32).astype(np.float64) * mean


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, groups: np.ndarray,
            sigmas: np.ndarray, thr: float = NMS_THR) -> np.ndarray:
    """Greedy OKS-NMS within each group (image); indices kept, per group in descending score order.

    keypoints (N, K, 2), scores (N,), areas (N,), groups (N,) int, sigmas (K,). Groups appear in
    the output in order of first appearance. Equal scores: the later person goes first (the
    reference's reversed ascending argsort, for small groups). MMPose's own order of equal scores
    is numpy's unstable argsort and differs on machines where numpy sorts with AVX-512
    (x86-simd-sort); there its kept set can differ from this fixed order.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    n, k = keypoints.shape[:2]
    if n == 0:
        return np.zeros(0, np.int64)
    groups = np.asarray(groups)
    _, first_pos, group_idx = np.unique(groups, return_index=True, return_inverse=True)
    # rank groups by first appearance
    group_rank = np.argsort(np.argsort(first_pos, kind="stable"), kind="stable")[group_idx]
    # order: group, then score descending, ties: later index first
    idx = np.arange(n)
    order = np.lexsort((-idx, -np.asarray(scores, dtype=np.float64), group_rank))
    g_sorted = group_rank[order]
    counts = np.bincount(g_sorted)
    starts = np.cumsum(counts) - counts
    var2 = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2          # (K,)
    keep = np.zeros(n, bool)                                        # by position in `order`
    # process groups of similar size together, in chunks bounded in memory
    by_size = np.argsort(counts, kind="stable")
    i = 0
    while i < len(by_size):
        m = int(counts[by_size[i]])
        j = i
        while j < len(by_size) and counts[by_size[j]] == m:
            j += 1
        j = min(j, i + max(1, _MAX_CHUNK_ELEMENTS // max(1, m * m * k)))
        chunk = by_size[i:j]
        pos = starts[chunk][:, None] + np.arange(m)[None, :]         # (G, m) positions in order
        persons = order[pos]                                         # (G, m)
        kp = keypoints[persons]                                      # (G, m, K, 2)
        a = np.asarray(areas, dtype=np.float64)[persons]             # (G, m)
        d2 = ((kp[:, :, None] - kp[:, None, :]) ** 2).sum(-1)        # (G, m, m, K)
        denom = (a[:, :, None] + a[:, None, :]) / 2 + np.spacing(1)  # (G, m, m)
        e = d2 / var2 / denom[..., None] / 2
        oks = np.exp(-e).mean(-1)                                    # (G, m, m)
        suppressed = np.zeros((len(chunk), m), bool)
        kept = np.zeros((len(chunk), m), bool)
        for r in range(m):
            now = ~suppressed[:, r]
            kept[:, r] = now
            suppressed |= now[:, None] & (oks[:, r, :] > thr)
        keep[pos[kept]] = True
        i = j
    return order[keep]


def _check_predictions(predictions: Sequence[PosePrediction], num_keypoints: int) -> None:
    """DataError for a prediction of the wrong shape or with NaN/inf (it would poison the files)."""
    for i, p in enumerate(predictions):
        kp, sc = np.asarray(p.keypoints), np.asarray(p.keypoint_scores)
        if kp.shape != (num_keypoints, 2) or sc.shape != (num_keypoints,):
            raise DataError(None, f"prediction {i} (image id {p.image_id}): expected keypoints "
                            f"({num_keypoints}, 2) and keypoint_scores ({num_keypoints},), "
                            f"got {kp.shape} and {sc.shape}")
        if not (np.isfinite(kp).all() and np.isfinite(sc).all() and np.isfinite(p.box_score)
                and np.isfinite(p.area)):
            raise DataError(None, f"prediction {i} (image id {p.image_id}): NaN or infinite keypoints or scores")


def postprocess(predictions: Sequence[PosePrediction], sigmas: np.ndarray, score_thr: float = KEYPOINT_SCORE_THR,
                nms_thr: float = NMS_THR) -> tuple[np.ndarray, np.ndarray]:
    """Rescore and OKS-NMS predictions: (kept indices into predictions, person scores (N,) float64).

    Kept indices are grouped by image (first appearance) and sorted by descending score; OKS uses
    each prediction's own area.
    """
    n = len(predictions)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    _check_predictions(predictions, len(sigmas))
    kp_scores = np.stack([np.asarray(p.keypoint_scores, np.float32) for p in predictions])
    box = np.array([p.box_score for p in predictions], dtype=np.float32)
    scores = rescore(kp_scores, box, score_thr)
    areas = np.array([p.area for p in predictions], dtype=np.float32)
    keypoints = np.stack([np.asarray(p.keypoints, np.float32) for p in predictions])
    groups = np.array([p.image_id for p in predictions])
    keep = oks_nms(keypoints, scores, areas, groups, sigmas, nms_thr)
    return keep, scores

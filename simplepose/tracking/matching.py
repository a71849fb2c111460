"""Costs and assignment of tracking, apart from the trackers: pose similarity (OKS) between two sets of
poses, their fusion with box IoU, and the assignments of a similarity matrix to pairs (greedy, highest
first, or optimal: Hungarian).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


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


def hungarian_match(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) maximising the summed gain similarity - threshold over the pairs >= threshold.

    Optimal assignment (scipy's linear_sum_assignment) in the form ByteTrack's lapjv call with a cost
    limit takes: the cost 1 - similarity is extended by a dummy column per row and a dummy row per
    column at half the limit 1 - threshold each, so a pair is only taken when it costs less than
    leaving both unmatched; NaN never matches. Pairs come sorted by row.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    n, m = sim.shape
    ok = np.isfinite(sim) & (sim >= threshold)
    if not ok.any():
        return []
    limit = 1.0 - threshold + 1e-9               # a pair at exactly the threshold is still taken
    ext = np.zeros((n + m, m + n))
    ext[:n, :m] = np.where(ok, 1.0 - np.where(ok, sim, 0.0), 2.0 * limit + 1.0)
    ext[:n, m:] = ext[n:, :m] = limit / 2
    rows, cols = linear_sum_assignment(ext)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if r < n and c < m and ok[r, c]]


def fuse_similarity(iou: np.ndarray, oks: np.ndarray, pose_weight: float) -> np.ndarray:
    """(1 - pose_weight) IoU + pose_weight OKS (N, M); IoU alone where OKS is NaN (too few joints)."""
    fused = (1.0 - pose_weight) * iou + pose_weight * np.nan_to_num(oks)
    return np.where(np.isnan(oks), iou, fused)

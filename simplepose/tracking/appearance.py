"""A cheap appearance cue: colour histograms of the persons' boxes (no learned weights).

Each box, shrunk by ``shrink`` of its width and height around its centre (less background), and
sampled every s-th pixel so that about ``rows`` rows remain (the cost stays flat with the box size),
is histogrammed in HSV over hue x saturation (``bins`` x ``bins``; pixels too dark or too grey to
have a stable hue, value < 32 or saturation < 32, are left out), and the histogram is L2-normalised,
so the cosine similarity of two persons is the dot product of their vectors (in [0, 1]).

Limb colours follow the pose instead of the box, so a second person inside the box does not count:
the mean colour (CIE Lab, OpenCV's 8-bit scaling) of ``LIMB_SAMPLES`` points along each of the
COCO-17 skeleton's twelve torso and limb segments whose two joints are confident. Two persons compare
by exp(-mean Lab distance / scale) over the limbs both have, the better of as-is and with left and
right swapped (pose estimators swap sides).
"""
from __future__ import annotations

import cv2
import numpy as np


def colour_histograms(image: np.ndarray, boxes_xyxy: np.ndarray, bins: int = 8,
                      shrink: float = 0.2, rows: int = 64) -> np.ndarray:
    """Histograms (N, bins * bins) float32 of the boxes (N, 4) xyxy in an H x W x 3 uint8 BGR image (0 for empty)."""
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    out = np.zeros((len(b), bins * bins), np.float32)
    if len(b) == 0:
        return out
    h, w = image.shape[:2]
    size = (b[:, 2:] - b[:, :2]) * (shrink / 2)
    lo = np.clip(np.floor(b[:, :2] + size), 0, [w, h]).astype(int)
    hi = np.clip(np.ceil(b[:, 2:] - size), 0, [w, h]).astype(int)
    for i, ((x0, y0), (x1, y1)) in enumerate(zip(lo, hi)):
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        step = max(1, (y1 - y0) // rows)
        hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1:step, x0:x1:step]), cv2.COLOR_BGR2HSV)
        mask = cv2.inRange(hsv, (0, 32, 32), (180, 255, 255))
        hist = cv2.calcHist([hsv], [0, 1], mask, [bins, bins], [0, 180, 0, 256]).reshape(-1)
        norm = float(np.linalg.norm(hist))
        if norm > 0:
            out[i] = hist / norm
    return out


# COCO-17 joints: torso sides, shoulders, hips, upper arms, forearms, thighs, shins; MIRROR swaps the sides
LIMBS = ((5, 11), (6, 12), (5, 6), (11, 12), (5, 7), (6, 8), (7, 9), (8, 10), (11, 13), (12, 14), (13, 15), (14, 16))
MIRROR = (1, 0, 2, 3, 5, 4, 7, 6, 9, 8, 11, 10)
LIMB_SAMPLES = np.linspace(0.2, 0.8, 5)     # where along a limb, from its first joint to its second


def limb_colours(image: np.ndarray, poses: np.ndarray, kpt_thr: float) -> np.ndarray:
    """Mean Lab colours (N, 12, 3) float32 along the limbs of poses (N, K, 3) in an H x W x 3 uint8 BGR image;
    NaN for a limb with a joint under kpt_thr or fewer than 3 of its points inside the image (all NaN for
    keypoint sets other than COCO-17's first 17)."""
    poses = np.asarray(poses, np.float64)
    out = np.full((len(poses), len(LIMBS), 3), np.nan, np.float32)
    if len(poses) == 0 or poses.shape[1] < 17:
        return out
    a, b = poses[:, [i for i, _ in LIMBS]], poses[:, [j for _, j in LIMBS]]            # (N, 12, 3)
    points = a[:, :, None, :2] + (b[:, :, None, :2] - a[:, :, None, :2]) * LIMB_SAMPLES[:, None]   # (N, 12, P, 2)
    h, w = image.shape[:2]
    xy = np.round(np.nan_to_num(points, nan=-1.0)).astype(np.int64)
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    pixels = image[np.clip(xy[..., 1], 0, h - 1), np.clip(xy[..., 0], 0, w - 1)]        # (N, 12, P, 3)
    lab = cv2.cvtColor(np.ascontiguousarray(pixels.reshape(1, -1, 3)), cv2.COLOR_BGR2LAB)
    lab = lab.reshape(pixels.shape).astype(np.float64)
    count = inside.sum(-1)
    mean = (lab * inside[..., None]).sum(2) / np.maximum(count, 1)[..., None]
    ok = (a[:, :, 2] >= kpt_thr) & (b[:, :, 2] >= kpt_thr) & (count >= 3)
    out[ok] = mean[ok]
    return out


def limb_similarity(a: np.ndarray, b: np.ndarray, scale: float, min_limbs: int = 2) -> np.ndarray:
    """(N, M) exp(-mean Lab distance / scale) of limb colours a (N, 12, 3) and b (M, 12, 3) over the limbs
    both have, the better of as-is and mirrored; NaN where fewer than min_limbs limbs are shared."""
    both_orders = np.stack([b, b[:, list(MIRROR)]])                                   # (2, M, 12, 3)
    diff = a[None, :, None] - both_orders[:, None]                                   # (2, N, M, 12, 3)
    d = np.sqrt((diff * diff).sum(-1))                                               # NaN: a limb missing
    shared = np.isfinite(d)
    n = shared.sum(-1)
    mean = np.where(shared, d, 0.0).sum(-1) / np.maximum(n, 1)
    sim = np.where(n >= min_limbs, np.exp(-mean / scale), np.nan)
    return np.fmax(sim[0], sim[1])


def blend_limbs(old: np.ndarray | None, new: np.ndarray, momentum: float) -> np.ndarray:
    """A track's limb colours (12, 3) after a new observation: momentum x old + (1 - momentum) x new for the
    limbs seen in both, the new colour for limbs seen only now, the old one for limbs not seen now."""
    if old is None:
        return new.copy()
    both = np.isfinite(old) & np.isfinite(new)
    return np.where(both, momentum * old + (1 - momentum) * new, np.where(np.isfinite(new), new, old)).astype(np.float32)

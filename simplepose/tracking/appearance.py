"""A cheap appearance cue: colour histograms of the persons' boxes (no learned weights).

Each box, shrunk by ``shrink`` of its width and height around its centre (less background), and
sampled every s-th pixel so that about ``rows`` rows remain (the cost stays flat with the box size),
is histogrammed in HSV over hue x saturation (``bins`` x ``bins``; pixels too dark or too grey to
have a stable hue, value < 32 or saturation < 32, are left out), and the histogram is L2-normalised,
so the cosine similarity of two persons is the dot product of their vectors (in [0, 1]).
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

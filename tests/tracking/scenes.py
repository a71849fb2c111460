"""Hand-built video scenes for the tracking tests: textured patches ("persons") on a textured background."""
from __future__ import annotations

import cv2
import numpy as np

K = 17
# joint positions inside a person box, as fractions of its width and height (a 17-joint stick figure)
TEMPLATE = np.array([[0.5, 0.08], [0.42, 0.06], [0.58, 0.06], [0.35, 0.1], [0.65, 0.1],
                     [0.25, 0.25], [0.75, 0.25], [0.2, 0.42], [0.8, 0.42], [0.18, 0.58], [0.82, 0.58],
                     [0.35, 0.55], [0.65, 0.55], [0.33, 0.75], [0.67, 0.75], [0.3, 0.94], [0.7, 0.94]])
SIGMAS = np.full(K, 0.07)


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random grey texture (h, w) uint8 with structure at several scales, which optical flow can lock on to."""
    out = np.zeros((h, w), np.float32)
    for sigma in (2, 6, 12):
        n = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), sigma)
        out += (n - n.mean()) / (n.std() + 1e-6)
    return np.clip(128 + 40 * out, 0, 255).astype(np.uint8)


def scene(rng: np.random.Generator, hw: tuple[int, int], patches: list[tuple[np.ndarray, tuple[int, int]]],
          background: np.ndarray | None = None) -> np.ndarray:
    """BGR image: background (or a fresh texture) with each patch pasted with its top-left at (x, y)."""
    h, w = hw
    img = (background if background is not None else texture(rng, h, w)).copy()
    for patch, (x, y) in patches:
        ph, pw = patch.shape
        img[y:y + ph, x:x + pw] = patch
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


class TemplateEstimator:
    """A stand-in pose network: TEMPLATE laid into every box, score 0.9 (NaN where told)."""

    def __init__(self, nan_joints: tuple[int, ...] = ()):
        """nan_joints: joints returned as NaN (to test the tracker's guard)."""
        self.nan_joints = nan_joints
        self.calls = 0

    def predict(self, image: np.ndarray, boxes: np.ndarray, bbox_format: str = "xyxy") -> np.ndarray:
        """(N, K, 3) template poses for boxes (N, 4) xyxy."""
        assert bbox_format == "xyxy"
        self.calls += 1
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        out = np.zeros((len(b), K, 3), np.float32)
        out[:, :, :2] = b[:, None, :2] + TEMPLATE[None] * (b[:, None, 2:] - b[:, None, :2])
        out[:, :, 2] = 0.9
        out[:, list(self.nan_joints)] = np.nan
        return out

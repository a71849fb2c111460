"""A moving camera over a synthetic scene: pan, zoom and shake as per-frame affine maps.

The scene (background, crowd, figures) lives in reference coordinates: the image coordinates of a
still camera. Frame t sees it through ``A_t`` (2, 3), a similarity about the image centre,
``x_img = A_t[:, :2] @ x_ref + A_t[:, 2]``; everything drawn and annotated goes through the same
map, so the ground truth moves with the pixels. The background is a canvas larger than the image
(``Canvas``) that covers every frame's view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def still_camera(num_frames: int) -> np.ndarray:
    """A camera that does not move: identity maps (T, 2, 3)."""
    return np.tile(np.eye(2, 3), (num_frames, 1, 1))


def similarity(centre: np.ndarray, scale: float, angle: float, shift: np.ndarray) -> np.ndarray:
    """(2, 3) map: rotate by angle (radians) and scale about centre, then shift by (dx, dy)."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    lin = np.array([[c, -s], [s, c]])
    return np.concatenate([lin, (centre + shift - lin @ centre)[:, None]], 1)


def _shake(rng: np.random.Generator, num_frames: int, sigma: float, keep: float = 0.6) -> np.ndarray:
    """Hand-held jitter (T,): an AR(1) process of stationary std sigma (consecutive frames correlated)."""
    out = np.zeros(num_frames)
    prev = rng.normal(0, sigma)
    for t in range(num_frames):
        prev = keep * prev + math.sqrt(1 - keep ** 2) * rng.normal(0, sigma)
        out[t] = prev
    return out


def moving_camera(rng: np.random.Generator, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """A hand-held camera (T, 2, 3): a steady pan, a slow zoom and shake.

    Pan 0.2-0.6% of the width per frame horizontally (up to 0.15% of the height vertically; a
    30-frame video pans 6-18% of the width), zoom up to +-0.4% per frame (at most +-12% over 30
    frames), shake of 0.3-1.2 px (at 384 px width) and 0.05-0.15 degrees.
    """
    w, h = size
    vx = rng.choice([-1, 1]) * rng.uniform(0.002, 0.006) * w
    vy = rng.uniform(-0.0015, 0.0015) * h
    zoom = rng.uniform(-0.004, 0.004)
    px = w / 384
    sigma, sigma_a = rng.uniform(0.3, 1.2) * px, np.deg2rad(rng.uniform(0.05, 0.15))
    sx, sy, sa = _shake(rng, num_frames, sigma), _shake(rng, num_frames, sigma), _shake(rng, num_frames, sigma_a)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    return np.stack([similarity(centre, math.exp(zoom * k), sa[k], np.array([vx * k + sx[k], vy * k + sy[k]]))
                     for k in range(num_frames)])


def apply(camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map reference points (T, ..., 2) into each frame's image with camera (T, 2, 3)."""
    lin, shift = camera[:, :, :2], camera[:, :, 2]
    flat = points.reshape(len(camera), -1, 2)
    out = np.einsum("tij,tpj->tpi", lin, flat) + shift[:, None, :]
    return out.reshape(points.shape)


def scale_of(camera: np.ndarray) -> np.ndarray:
    """The maps' linear scale (T,): lengths in the image = scale x lengths in the scene."""
    return np.sqrt(np.abs(np.linalg.det(camera[:, :, :2])))


def invert(map_: np.ndarray) -> np.ndarray:
    """Inverse of one (2, 3) affine map."""
    return cv2.invertAffineTransform(map_)


@dataclass(frozen=True)
class Canvas:
    """The background's extent in reference coordinates: canvas pixel (u, v) is reference point
    (u - origin[0], v - origin[1]); size (width, height) in pixels."""

    origin: tuple[int, int]
    size: tuple[int, int]


def canvas_pixels_bound(num_frames: int, size: tuple[int, int]) -> float:
    """An upper bound of the pixels of canvas_for(moving_camera(rng, num_frames, size), size) for any rng:
    zoom out by up to e^(0.004 n) and a pan of up to 0.6% (0.15%) of the width (height) per frame."""
    w, h = size
    grow = math.exp(0.004 * num_frames)
    return (w * grow * (1.1 + 0.007 * num_frames) + 16) * (h * grow * (1.1 + 0.002 * num_frames) + 16)


def canvas_for(camera: np.ndarray, size: tuple[int, int]) -> Canvas:
    """The smallest canvas (with a 2 px border) that every frame's view falls inside; the image itself
    when the camera does not move."""
    w, h = size
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    back = [invert(a) for a in camera]                        # image -> reference, per frame
    seen = np.concatenate([corners @ m[:, :2].T + m[:, 2] for m in back])
    lo, hi = seen.min(0), seen.max(0)
    if (lo >= -1e-9).all() and (hi <= np.array([w - 1, h - 1]) + 1e-9).all():
        return Canvas((0, 0), (w, h))
    ox, oy = (int(math.ceil(max(0.0, -v))) + 2 for v in lo)
    cw = ox + max(w - 1, int(math.ceil(hi[0]))) + 3
    ch = oy + max(h - 1, int(math.ceil(hi[1]))) + 3
    return Canvas((ox, oy), (cw, ch))


def view(canvas_image: np.ndarray, canvas: Canvas, map_: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """What the camera with map_ (2, 3) sees of the canvas image: an (H, W, 3) frame (bilinear)."""
    shift = np.array([[1.0, 0, -canvas.origin[0]], [0, 1.0, -canvas.origin[1]]])
    full = np.concatenate([map_, [[0, 0, 1]]]) @ np.concatenate([shift, [[0, 0, 1]]])  # canvas -> image
    return cv2.warpAffine(canvas_image, full[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def polygon_in_view(polygon: np.ndarray, map_: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """A convex reference polygon (M, 2) as seen by map_, cut to the image: int32 (M', 2), or None
    when less than 4 px^2 of it is in view."""
    w, h = size
    moved = (polygon @ map_[:, :2].T + map_[:, 2]).astype(np.float32)
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    area, cut = cv2.intersectConvexConvex(cv2.convexHull(moved), frame)
    if cut is None or area < 4:
        return None
    return np.round(cut.reshape(-1, 2)).astype(np.int32)

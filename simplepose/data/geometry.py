"""Box and affine geometry of top-down pose estimation: boxes -> center/scale -> warp matrices.

Conventions: sizes are (w, h); integer coordinates are pixel centres; `scale` is the box size in
pixels (not divided by 200); rotations are in degrees, counter-clockwise in the image.
"""
from __future__ import annotations

import numpy as np


def bbox_xyxy_to_center_scale(bbox_xyxy: np.ndarray, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 4) x1, y1, x2, y2 -> center (..., 2) and padded scale (..., 2), float32."""
    b = np.asarray(bbox_xyxy, dtype=np.float32)
    center = (b[..., :2] + b[..., 2:]) * np.float32(0.5)
    scale = (b[..., 2:] - b[..., :2]) * np.float32(padding)
    return center, scale


def bbox_xywh_to_xyxy(bbox_xywh: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) x, y, w, h -> x1, y1, x2, y2 (no clipping)."""
    b = np.asarray(bbox_xywh)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], axis=-1)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow (..., 2) box sizes (w, h) to the given w/h ratio, float32 like the reference."""
    s = np.asarray(scale, dtype=np.float32)
    w, h = s[..., :1], s[..., 1:2]
    ar = np.float32(aspect_ratio)
    return np.where(w > h * ar, np.concatenate([w, w / ar], -1), np.concatenate([h * ar, h], -1))


def get_warp_matrix(center: np.ndarray, scale: np.ndarray, rot: float, output_size: tuple[int, int],
                    shift: tuple[float, float] = (0.0, 0.0), inv: bool = False,
                    fix_aspect_ratio: bool = True) -> np.ndarray:
    """(2, 3) float64 affine matrix mapping the rotated box (center, scale) onto output_size.

    The box's width maps onto the output width; with fix_aspect_ratio the same factor applies to
    the height, else the box's height maps onto the output height. inv=True gives the inverse map.
    """
    c = np.asarray(center, dtype=np.float64) + np.asarray(scale, np.float64)[:2] * np.asarray(shift, np.float64)
    src_w, src_h = float(scale[0]), float(scale[1])
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    sx = dst_w / src_w
    sy = sx if fix_aspect_ratio else dst_h / src_h
    r = np.deg2rad(rot)
    cs, sn = np.cos(r), np.sin(r)
    rot_inv = np.array([[cs, sn], [-sn, cs]])  # rotates the image by -rot: box axes -> output axes
    a = np.diag([sx, sy]) @ rot_inv
    d0 = np.array([dst_w * 0.5, dst_h * 0.5])
    if inv:
        a_inv = np.linalg.inv(a)
        return np.concatenate([a_inv, (c - a_inv @ d0)[:, None]], axis=1)
    return np.concatenate([a, (d0 - a @ c)[:, None]], axis=1)


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to points (..., 2), float32 like cv2.transform."""
    p = np.asarray(points, dtype=np.float32)
    m = np.asarray(matrix, dtype=np.float64)
    return (p.astype(np.float64) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def input_to_image(keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray,
                   input_size: tuple[int, int]) -> np.ndarray:
    """Keypoints (N, K, 2) in input-crop pixels -> original image pixels (no rotation), float32."""
    kp = np.asarray(keypoints, dtype=np.float32)
    c = np.asarray(center, dtype=np.float32)[:, None, :]
    s = np.asarray(scale, dtype=np.float32)[:, None, :]
    size = np.asarray(input_size, dtype=np.float32)
    return kp / size * s + c - np.float32(0.5) * s

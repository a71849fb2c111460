"""Box and affine geometry of top-down pose estimation: boxes -> center/scale -> warp matrices.

Conventions: sizes are (w, h); integer coordinates are pixel centres; `scale` is the box size in
pixels (not divided by 200); rotations are in degrees, counter-clockwise in the image.

Precision follows the reference's two paths: its dataset (and test loop) path has float32 boxes,
centres and scales, which is the default here; its public API (`inference_topdown`) keeps whatever
the caller's boxes are, so float64 boxes give float64 centres and scales there (`dtype=np.float64`).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def bbox_xyxy_to_center_scale(bbox_xyxy: np.ndarray, padding: float = 1.25,
                              dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 4) x1, y1, x2, y2 -> center (..., 2) and padded scale (..., 2), in `dtype`."""
    b = np.asarray(bbox_xyxy, dtype=dtype)
    t = np.dtype(dtype).type
    center = (b[..., :2] + b[..., 2:]) * t(0.5)
    scale = (b[..., 2:] - b[..., :2]) * t(padding)
    return center, scale


def input_center_scale(bbox_xyxy: np.ndarray, aspect_ratio: float, padding: float = 1.25,
                       dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 4) xyxy -> the network input's center (..., 2) and aspect-fixed padded scale (..., 2)."""
    center, scale = bbox_xyxy_to_center_scale(bbox_xyxy, padding, dtype)
    return center, fix_aspect_ratio(scale, aspect_ratio, dtype)


def scale_area(scale: np.ndarray) -> np.ndarray:
    """OKS areas (...,) float32 of input scales (..., 2): the reference's prod(bbox_scales)."""
    return np.prod(np.asarray(scale, np.float32), axis=-1, dtype=np.float32)


def bbox_xywh_to_xyxy(bbox_xywh: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) x, y, w, h -> x1, y1, x2, y2 (no clipping)."""
    b = np.asarray(bbox_xywh)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], axis=-1)


def bbox_xyxy_to_xywh(bbox_xyxy: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) x1, y1, x2, y2 -> x, y, w, h, in the boxes' own dtype."""
    b = np.asarray(bbox_xyxy)
    return np.concatenate([b[..., :2], b[..., 2:] - b[..., :2]], axis=-1)


def pairwise_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU (N, M) f64 between boxes a (N, 4) and b (M, 4), both x1, y1, x2, y2 (empty boxes: IoU 0)."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])                                   # (N, M, 2)
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0.0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0.0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_nms(boxes_xyxy: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """Greedy box NMS: kept indices (descending score) of boxes (N, 4) xyxy whose IoU with a better kept box <= thr."""
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    if len(b) == 0:
        return np.zeros(0, np.int64)
    iou = pairwise_iou(b, b)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    suppressed = np.zeros(len(b), bool)
    keep = []
    for i in order.tolist():
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > thr
    return np.array(keep, np.int64)


def clip_xyxy(bbox_xyxy: np.ndarray, image_wh: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) clipped to images (..., 2) (w, h) as the reference's parser does: float32.

    Coordinates go to [0, size - 1]; an infinite size leaves that axis unclipped.
    """
    b = np.asarray(bbox_xyxy, dtype=np.float64)
    top = np.asarray(image_wh, dtype=np.float64) - 1
    out = np.concatenate([np.clip(b[..., :2], 0, top), np.clip(b[..., 2:], 0, top)], axis=-1)
    return out.astype(np.float32)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float, dtype: type = np.float32) -> np.ndarray:
    """Grow (..., 2) box sizes (w, h) to the given w/h ratio, in `dtype` (float32: the dataset path)."""
    s = np.asarray(scale, dtype=dtype)
    w, h = s[..., :1], s[..., 1:2]
    ar = np.dtype(dtype).type(aspect_ratio)
    return np.where(w > h * ar, np.concatenate([w, w / ar], -1), np.concatenate([h * ar, h], -1))


def get_warp_matrix(center: np.ndarray, scale: np.ndarray, rot: float | np.floating, output_size: Sequence[int],
                shift: Sequence[float] = (0.0, 0.0), inv: bool = False,
                fix_aspect_ratio: bool = True, dtype: type = np.float32) -> np.ndarray:
    """(2, 3) float64 map of the rotated box (center, scale) onto output_size, bit-identical to the reference.

    Built like MMPose from three float32 point pairs (centre, centre + rotated half-width, and a
    third point perpendicular to them) solved by cv2.getAffineTransform. The rotation keeps its dtype:
    a float32 angle gives float32 sine/cosine, as in the reference's training pipeline. A float64
    closed form agrees to ~1e-6 relative but not bit for bit, which changes a few crop pixels.
    center and scale are taken in `dtype`: float32 on the dataset path, float64 on the API path.
    """
    c = np.asarray(center, dtype=dtype)
    s = np.asarray(scale, dtype=dtype)
    sh = np.asarray(shift, dtype=np.float64)
    src_w, src_h = s[0], s[1]
    dst_w, dst_h = output_size[0], output_size[1]
    angle = np.deg2rad(rot)
    sn, cs = np.sin(angle), np.cos(angle)
    rot_m = np.array([[cs, -sn], [sn, cs]])

    def turn(p: np.ndarray) -> np.ndarray:
        """Rotate a float64 point by the box rotation (dtype promotion as in the reference)."""
        return rot_m @ p

    def third(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """b plus (a - b) turned by +90 degrees, in the dtype of a and b."""
        d = a - b
        return b + np.array([-d[1], d[0]], dtype=d.dtype)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = c + s * sh
    src[1] = c + turn(np.array([src_w * -0.5, 0.0])) + s * sh
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([dst_w * -0.5, 0.0])
    if fix_aspect_ratio:
        src[2] = third(src[0], src[1])
        dst[2] = third(dst[0], dst[1])
    else:
        src[2] = c + turn(np.array([0.0, src_h * -0.5])) + s * sh
        dst[2] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([0.0, dst_h * -0.5])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a (2, 3) affine matrix with cv2.transform, float32 as the reference."""
    p = np.ascontiguousarray(points, dtype=np.float32)
    out = cv2.transform(p.reshape(-1, 1, 2), np.asarray(matrix, dtype=np.float64))
    return out.reshape(p.shape)


def input_to_image(keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray,
                   input_size: tuple[int, int]) -> np.ndarray:
    """Keypoints (N, K, 2) in input-crop pixels -> original image pixels (no rotation), float32.

    Computed in float64 and rounded once, which reproduces the reference bit for bit. float64 centres
    and scales (the reference's API path) are used as they are, any others as float32 (its dataset path).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    c = _reference_precision(center)[:, None, :]
    s = _reference_precision(scale)[:, None, :]
    size = np.asarray(input_size, dtype=np.float64)
    return (kp / size * s + c - 0.5 * s).astype(np.float32)


def _reference_precision(values: np.ndarray) -> np.ndarray:
    """float64 arrays as they are, anything else rounded to float32 first; as float64."""
    a = np.asarray(values)
    return a if a.dtype == np.float64 else a.astype(np.float32).astype(np.float64)

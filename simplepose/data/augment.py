"""Training augmentation: the random draws of a sample and the crop geometry they give.

Semantics follow MMPose 1.3.2's td-hm PoseTrack18 train pipeline number for number (the test suite
checks centres, scales, rotations, flips and the scripted pipeline against MMPose's outputs):
GetBBoxCenterScale -> RandomFlip (keypoints x' = w - 1 - x, left/right swapped) -> RandomHalfBody ->
RandomBBoxTransform -> TopdownAffine, with the reference config's probabilities and ranges
(``AugmentConfig``'s defaults), all in float32 where the reference is. The draws are explicit
(``AugmentParams``, from a generator the caller seeds), so a sample is a function of its seed.
Box, keypoints and centre are flipped here; the image is mirrored inside the crop's warp
(data/transforms.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from simplepose.data.geometry import affine_points, bbox_xyxy_to_center_scale, fix_aspect_ratio, get_warp_matrix


def flip_keypoints(keypoints: np.ndarray, visible: np.ndarray, flip_indices: Sequence[int],
                   image_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints (K, 2) / visibility (K,) horizontally: swap left/right, x' = (w - 1) - x (float32)."""
    idx = np.asarray(flip_indices)
    kp = np.asarray(keypoints, dtype=np.float32)[idx].copy()
    vis = np.asarray(visible, dtype=np.float32)[idx].copy()
    kp[:, 0] = np.float32(image_width - 1) - kp[:, 0]
    return kp, vis


def flip_center(center: np.ndarray, image_width: int) -> np.ndarray:
    """Mirror a box centre (..., 2) horizontally: cx' = (w - cx) - 1, float32 like the reference."""
    c = np.asarray(center, dtype=np.float32).copy()
    c[..., 0] = (np.float32(image_width) - c[..., 0]) - np.float32(1)
    return c


def flip_bbox_xyxy(bbox: np.ndarray, image_width: int) -> np.ndarray:
    """Mirror boxes (..., 4) x1, y1, x2, y2 horizontally: x1' = (w - x2) - 1, x2' = (w - x1) - 1."""
    b = np.asarray(bbox, dtype=np.float32)
    out = b.copy()
    out[..., 0] = (np.float32(image_width) - b[..., 2]) - np.float32(1)
    out[..., 2] = (np.float32(image_width) - b[..., 0]) - np.float32(1)
    return out


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings; defaults are the reference config's."""

    flip_prob: float = 0.5
    halfbody_prob: float = 0.3
    halfbody_min_total: int = 9
    halfbody_min_upper: int = 2
    halfbody_min_lower: int = 3
    halfbody_padding: float = 1.5
    halfbody_upper_prob: float = 0.7
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_range: tuple[float, float] = (0.5, 1.5)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6
    # speed option (not in the reference): decode JPEGs at 1/2, 1/4 or 1/8 scale when the crop is
    # downsampled at least that much anyway; labels stay exact, pixels differ slightly
    reduced_decode: bool = False
    max_reduce: int = 8


@dataclass(frozen=True)
class AugmentParams:
    """The random draws of one training sample (the reference's draws, made explicit)."""

    flip: bool = False
    halfbody_gate: float = 1.0          # half-body applies if <= halfbody_prob
    halfbody_upper: float = 1.0         # prefer the upper body if < halfbody_upper_prob
    truncnorm: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # shift x, y, scale, rot
    gates: np.ndarray = field(default_factory=lambda: np.ones(3))                  # shift, scale, rot gates

    @classmethod
    def none(cls) -> "AugmentParams":
        """Draws that leave a sample unaugmented (the scale gate closed too)."""
        return cls(gates=np.full(3, 2.0))


def truncated_normal(rng: np.random.Generator, size: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """`size` standard-normal draws truncated to [low, high] (rejection sampling), float64."""
    out = np.empty(0)
    while out.size < size:
        z = rng.standard_normal(2 * size + 8)
        out = np.concatenate([out, z[(z >= low) & (z <= high)]])
    return out[:size]


def sample_augment_params(rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> AugmentParams:
    """Draw one sample's flip, half-body and box-transform randomness from an explicit generator."""
    u = rng.random(6)
    tn = truncated_normal(rng, 4).astype(np.float32)
    return AugmentParams(flip=bool(u[0] < cfg.flip_prob), halfbody_gate=float(u[1]),
                         halfbody_upper=float(u[2]), truncnorm=tn, gates=u[3:6].copy())


def select_half_body(visible: np.ndarray, upper_ids: Sequence[int], lower_ids: Sequence[int],
                     params: AugmentParams, cfg: AugmentConfig = AugmentConfig()) -> list[int] | None:
    """Keypoint ids of the half body to zoom on, or None (the reference's rules and thresholds)."""
    vis = np.asarray(visible, dtype=np.float32)
    if vis.sum() < cfg.halfbody_min_total or params.halfbody_gate > cfg.halfbody_prob:
        return None
    upper = [i for i in upper_ids if vis[i] > 0]
    lower = [i for i in lower_ids if vis[i] > 0]
    few_upper = len(upper) < cfg.halfbody_min_upper
    few_lower = len(lower) < cfg.halfbody_min_lower
    if few_upper and few_lower:
        return None
    if few_lower:
        return upper
    if few_upper:
        return lower
    return upper if params.halfbody_upper < cfg.halfbody_upper_prob else lower


def half_body_box(keypoints: np.ndarray, ids: Sequence[int], padding: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Box around the chosen keypoints (K, 2): center = their mean, scale = padding * extent (float32)."""
    sel = np.asarray(keypoints, dtype=np.float32)[list(ids)]
    center = sel.mean(axis=0)
    scale = (sel.max(axis=0) - sel.min(axis=0)).astype(center.dtype) * padding
    return center.astype(np.float32), scale.astype(np.float32)


def bbox_transform(center: np.ndarray, scale: np.ndarray, params: AugmentParams,
                   cfg: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """Random shift / rescale / rotation of a box, given its draws: -> center, scale (2,) f32, rotation f32."""
    tn = np.asarray(params.truncnorm, dtype=np.float32)
    g = params.gates
    c = np.asarray(center, dtype=np.float32)
    s = np.asarray(scale, dtype=np.float32)
    offset = tn[:2] * np.float32(cfg.shift_factor) if g[0] < cfg.shift_prob else np.zeros(2, np.float32)
    lo, hi = cfg.scale_range
    factor = (tn[2] * np.float32((hi - lo) * 0.5) + np.float32((hi + lo) * 0.5)
              if g[1] < cfg.scale_prob else np.float32(1.0))
    rot = tn[3] * np.float32(cfg.rotate_factor) if g[2] < cfg.rotate_prob else np.float32(0.0)
    return (c + offset * s).astype(np.float32), (s * factor).astype(np.float32), np.float32(rot)


@dataclass
class SampleGeometry:
    """Where a training/validation sample's crop comes from and where its keypoints land."""

    center: np.ndarray              # (2,) f32 box centre in the (possibly flipped) image
    scale: np.ndarray               # (2,) f32 aspect-fixed input scale
    rotation: np.float32            # degrees
    flip: bool
    matrix: np.ndarray              # (2, 3) f64 (flipped) image -> input crop
    keypoints: np.ndarray           # (K, 2) f32 in the (flipped) image
    visible: np.ndarray             # (K,) f32 in the (flipped) order
    input_keypoints: np.ndarray     # (K, 2) f32 in the input crop


def sample_geometry(keypoints: np.ndarray, visible: np.ndarray, bbox_xyxy: np.ndarray, image_width: int,
                    params: AugmentParams, flip_indices: Sequence[int], upper_ids: Sequence[int],
                    lower_ids: Sequence[int], input_size: Sequence[int] = (192, 256),
                    cfg: AugmentConfig = AugmentConfig(), padding: float = 1.25) -> SampleGeometry:
    """The reference's train geometry for given draws: box -> flip -> half body -> box transform -> affine."""
    center, scale = bbox_xyxy_to_center_scale(bbox_xyxy, padding)
    kp = np.asarray(keypoints, dtype=np.float32)[:, :2]
    vis = np.asarray(visible, dtype=np.float32)
    if params.flip:
        kp, vis = flip_keypoints(kp, vis, flip_indices, image_width)
        center = flip_center(center, image_width)
    ids = select_half_body(vis, upper_ids, lower_ids, params, cfg)
    if ids is not None:
        center, scale = half_body_box(kp, ids, cfg.halfbody_padding)
    center, scale, rot = bbox_transform(center, scale, params, cfg)
    fixed = fix_aspect_ratio(scale, input_size[0] / input_size[1]).astype(np.float32)
    m = get_warp_matrix(center, fixed, rot, input_size)
    return SampleGeometry(center=center, scale=fixed, rotation=np.float32(rot), flip=params.flip, matrix=m,
                          keypoints=kp, visible=vis, input_keypoints=affine_points(kp, m))

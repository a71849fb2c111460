"""MSRA Gaussian heatmap codec (SimpleBaseline), its DARK variant, and the flip-test heatmap flip-back.

Encoding maps keypoints in input-crop pixels to (K, h, w) heatmaps plus per-keypoint target weights;
decoding maps (N, K, h, w) heatmaps back to input-crop pixels and scores. Semantics follow MMPose
1.3.2's `MSRAHeatmap` number for number (the test suite checks it against MMPose's outputs): float32 arithmetic,
truncating Gaussian centres, visibility-valued weights, argmax + quarter-pixel refinement with the
reference's asymmetric border rules. Everything is vectorised over keypoints (and instances).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

def _gaussian_kernel_1d(ksize: int) -> np.ndarray:
    """OpenCV's default 1-D Gaussian kernel of odd size ksize, float32: the reference's DARK blur taps."""
    return cv2.getGaussianKernel(ksize, 0, cv2.CV_32F).ravel()


class MSRAHeatmap:
    """Gaussian heatmap codec of SimpleBaseline (optionally DARK: unbiased encode + Taylor decode).

    Sizes are (w, h): input_size=(192, 256), heatmap_size=(48, 64). Keypoints are in input pixels.
    """

    def __init__(self, input_size: Sequence[int] = (192, 256), heatmap_size: Sequence[int] = (48, 64),
                 sigma: float = 2.0, unbiased: bool = False, blur_kernel_size: int = 11) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.unbiased = bool(unbiased)
        self.blur_kernel_size = int(blur_kernel_size)
        if self.blur_kernel_size % 2 != 1:
            raise ValueError(f"blur_kernel_size must be odd, got {blur_kernel_size}")
        # input px per heatmap px, float32 as the reference keeps it (exactly 4 for 192x256 -> 48x64)
        self.scale_factor = (np.array(self.input_size, np.float32) /
                             np.array(self.heatmap_size, np.float32)).astype(np.float32)
        self.radius = self.sigma * 3
        r = int(self.radius)
        # lookup table of exp(-d2 / (2 sigma^2)) for integer squared distances d2, float32 like the
        # reference's 13x13 kernel (d2 is an exact float32 integer there too)
        d2 = np.arange(2 * r * r + 1, dtype=np.float32)
        self._gauss_lut = np.exp(-d2 / np.float32(2 * self.sigma ** 2)).astype(np.float32)

    # ------------------------------------------------------------------ encode
    def encode(self, keypoints: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 2) input px and visibility (K,) -> heatmaps (K, h, w) f32, weights (K,) f32."""
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.ndim != 2 or kp.shape[1] < 2:
            raise ValueError(f"keypoints must be (K, 2), got shape {kp.shape}")
        kp = kp[:, :2]
        vis = (np.ones(len(kp), np.float32) if visible is None
               else np.asarray(visible, dtype=np.float32).reshape(len(kp)))
        if self.unbiased:
            return self._encode_unbiased(kp, vis)
        return self._encode_msra(kp, vis)

    def _encode_msra(self, kp: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer-centred Gaussians (radius 3 sigma) as the reference draws them."""
        w, h = self.heatmap_size
        r = int(self.radius)
        weights = vis.copy()
        # mu = int64(kp / stride + 0.5) in float32: the cast truncates toward zero (x=-3.9 -> 0)
        mu = (kp / self.scale_factor + np.float32(0.5)).astype(np.int64)           # (K, 2)
        labelled = vis >= 0.5
        outside = ((mu[:, 0] - r >= w) | (mu[:, 1] - r >= h) |
                   (mu[:, 0] + r + 1 < 0) | (mu[:, 1] + r + 1 < 0))
        weights[labelled & outside] = 0
        draw = np.flatnonzero(labelled & ~outside)                                  # (D,) keypoints drawn
        heatmaps = np.zeros((len(kp), h, w), np.float32)
        # paste each drawn keypoint's (2r+1)^2 window at once: offsets (2r+1,), positions (D, 2r+1)
        off = np.arange(-r, r + 1)
        xs = mu[draw, :1] + off
        ys = mu[draw, 1:] + off
        valid = (ys[:, :, None] >= 0) & (ys[:, :, None] < h) & (xs[:, None, :] >= 0) & (xs[:, None, :] < w)
        d2 = off[:, None] ** 2 + off[None, :] ** 2                                  # (2r+1, 2r+1)
        k_idx = np.broadcast_to(draw[:, None, None], valid.shape)
        y_idx = np.broadcast_to(ys[:, :, None], valid.shape)
        x_idx = np.broadcast_to(xs[:, None, :], valid.shape)
        vals = np.broadcast_to(self._gauss_lut[d2], valid.shape)
        heatmaps[k_idx[valid], y_idx[valid], x_idx[valid]] = vals[valid]
        return heatmaps, weights

    def _encode_unbiased(self, kp: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DARK: Gaussians at the exact sub-pixel centres, evaluated over the whole heatmap."""
        w, h = self.heatmap_size
        weights = vis.copy()
        mu = kp / self.scale_factor                                                 # (K, 2) f32
        labelled = vis >= 0.5
        rad = np.float32(self.radius)
        outside = ((mu[:, 0] - rad >= w) | (mu[:, 1] - rad >= h) |
                   (mu[:, 0] + rad + 1 < 0) | (mu[:, 1] + rad + 1 < 0))
        weights[labelled & outside] = 0
        draw = labelled & ~outside
        x = np.arange(w, dtype=np.float32)
        y = np.arange(h, dtype=np.float32)
        ex = (x[None, :] - mu[:, :1]) ** 2                                          # (K, w)
        ey = (y[None, :] - mu[:, 1:]) ** 2                                          # (K, h)
        g = np.exp(-(ey[:, :, None] + ex[:, None, :]) / np.float32(2 * self.sigma ** 2))
        heatmaps = np.where(draw[:, None, None], g, np.float32(0)).astype(np.float32, copy=False)
        return heatmaps, weights

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) (or (K, h, w)) -> keypoints (N, K, 2) input px f32, scores (N, K) f32."""
        hm = heatmaps.detach().cpu().numpy() if isinstance(heatmaps, torch.Tensor) else np.asarray(heatmaps)
        hm = hm.astype(np.float32, copy=False)
        if hm.ndim == 3:
            hm = hm[None]
        if hm.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, h, w), got shape {hm.shape}")
        locs, scores = heatmap_maximum(hm)
        if self.unbiased:
            locs = refine_dark(locs, hm, self.blur_kernel_size)
        else:
            locs = refine_quarter_offset(locs, hm)
        return (locs * self.scale_factor).astype(np.float32), scores


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax of each (h, w) map of (N, K, h, w): locs (N, K, 2) x, y f32 (-1 where max <= 0), vals (N, K)."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = np.argmax(flat, axis=-1)                                                  # first max wins
    vals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0].astype(np.float32)
    locs = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    locs[vals <= 0] = -1
    return locs, vals


def refine_quarter_offset(locs: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Shift argmax locs (N, K, 2) a quarter pixel towards the higher neighbour (the reference's rules).

    x is refined only if 1 < x < w-1 and 0 < y < h; y only if 1 < y < h-1 and 0 < x < w.
    """
    n, k, h, w = heatmaps.shape
    x = locs[..., 0].astype(np.int64)
    y = locs[..., 1].astype(np.int64)
    ok_x = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
    ok_y = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
    flat = heatmaps.reshape(n, k, h * w)
    xc, yc = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)
    yr, xr = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        """Heatmap values at integer (yy, xx) per (N, K)."""
        return np.take_along_axis(flat, (yy * w + xx)[..., None], axis=-1)[..., 0]

    dx = np.where(ok_x, at(yr, xc + 1) - at(yr, xc - 1), 0)
    dy = np.where(ok_y, at(yc + 1, xr) - at(yc - 1, xr), 0)
    out = locs.copy()
    out += np.stack([np.sign(dx), np.sign(dy)], axis=-1).astype(np.float32) * np.float32(0.25)
    return out


def gaussian_blur(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DARK modulation: zero-padded Gaussian blur of each map, rescaled to its original maximum.

    heatmaps (N, K, h, w) f32 -> same shape. Equivalent to padding each map by (kernel-1)/2 zeros and
    running OpenCV's GaussianBlur(kernel, sigma=0) on it, vectorised over all maps.
    """
    n, k, h, w = heatmaps.shape
    b = (kernel - 1) // 2
    taps = _gaussian_kernel_1d(kernel)
    padded = np.zeros((n, k, h + 2 * b, w + 2 * b), np.float32)
    padded[:, :, b:b + h, b:b + w] = heatmaps
    rows = np.zeros((n, k, h + 2 * b, w), np.float32)                             # blur along x
    for t in range(kernel):
        rows += taps[t] * padded[:, :, :, t:t + w]
    out = np.zeros((n, k, h, w), np.float32)                                        # then along y
    for t in range(kernel):
        out += taps[t] * rows[:, :, t:t + h, :]
    orig_max = heatmaps.reshape(n, k, -1).max(-1)
    new_max = out.reshape(n, k, -1).max(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (orig_max / new_max).astype(np.float32)
    return out * ratio[:, :, None, None]


def refine_dark(locs: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int = 11) -> np.ndarray:
    """DARK Taylor refinement of argmax locs (N, K, 2) on log(blurred heatmaps): loc -= H^-1 grad.

    Applied where 1 < x < w-2 and 1 < y < h-2 and the Hessian is invertible, as the reference does.
    """
    n, k, h, w = heatmaps.shape
    lg = np.log(np.maximum(gaussian_blur(heatmaps, blur_kernel_size), np.float32(1e-10)))
    flat = lg.reshape(n, k, h * w)
    x = locs[..., 0].astype(np.int64)
    y = locs[..., 1].astype(np.int64)
    ok = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2)
    xc, yc = np.clip(x, 2, w - 3), np.clip(y, 2, h - 3)

    def at(oy: int, ox: int) -> np.ndarray:
        """log-heatmap values at (y + oy, x + ox) per (N, K)."""
        return np.take_along_axis(flat, ((yc + oy) * w + xc + ox)[..., None], axis=-1)[..., 0]

    c = at(0, 0)
    dx = np.float32(0.5) * (at(0, 1) - at(0, -1))
    dy = np.float32(0.5) * (at(1, 0) - at(-1, 0))
    dxx = np.float32(0.25) * (at(0, 2) - 2 * c + at(0, -2))
    dyy = np.float32(0.25) * (at(2, 0) - 2 * c + at(-2, 0))
    dxy = np.float32(0.25) * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    ok &= det != 0
    safe = np.where(ok, det, np.float32(1))
    off_x = -(dyy * dx - dxy * dy) / safe
    off_y = -(-dxy * dx + dxx * dy) / safe
    out = locs.copy()
    out[..., 0] += np.where(ok, off_x, 0).astype(np.float32)
    out[..., 1] += np.where(ok, off_y, 0).astype(np.float32)
    return out


def flip_heatmaps(heatmaps: torch.Tensor, flip_indices: Sequence[int], shift: bool = True) -> torch.Tensor:
    """Heatmaps (N, K, h, w) predicted on width-flipped inputs -> heatmaps in the unflipped frame.

    Mirrors the width, swaps left/right channels by flip_indices and (shift=True) moves every column
    one to the right, column 0 keeping its own value, as the reference's shift_heatmap does.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, K, h, w), got shape {tuple(heatmaps.shape)}")
    idx = torch.as_tensor(list(flip_indices), dtype=torch.long, device=heatmaps.device)
    if idx.numel() != heatmaps.shape[1]:
        raise ValueError(f"{idx.numel()} flip indices for {heatmaps.shape[1]} heatmap channels")
    out = heatmaps.flip(-1).index_select(1, idx)
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out

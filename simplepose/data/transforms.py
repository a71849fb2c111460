"""Top-down transforms that inference uses too: person crops (the affine warp) and input normalisation.

The training augmentation's random draws and the sample geometry they give are in data/augment.py
(MMPose's topdown vs common transforms). Crops and the normalisation follow MMPose 1.3.2's
TopdownAffine and data preprocessor number for number (the test suite checks them against MMPose's
outputs).

Speed: the horizontal flip of a training sample is never applied to the full frame: the image is
sampled through the same fixed-point affine map with the mirror folded into its integer sample
coordinates (warp_image's `mirror`), so only the 192x256 crop is computed. Crops use OpenCV 4.x's fixed-point bilinear warp (1/32 px positions, 15-bit weights)
reproduced through cv2.remap, which makes them bit-identical to the reference's cv2.warpAffine output
whatever OpenCV version is installed (OpenCV 5's warpAffine rounds differently).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from simplepose.data.geometry import get_warp_matrix

# ImageNet statistics in RGB order, float32 like the reference's data preprocessor
MEAN_RGB = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD_RGB = np.array([58.395, 57.12, 57.375], dtype=np.float32)

_AB_BITS = 10            # OpenCV warpAffine: fixed-point bits of the affine coordinate increments
_INTER_BITS = 5          # sub-pixel position bits of the bilinear table (1/32 px)
_INTER_TAB = 1 << _INTER_BITS


# --------------------------------------------------------------------------- warp matrices
def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map, with OpenCV warpAffine's own float64 formula."""
    m = np.asarray(matrix, dtype=np.float64).ravel().copy()
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[4] = a11, a22
    m[1] *= -det
    m[3] *= -det
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    return m.reshape(2, 3)


def to3x3(matrix: np.ndarray) -> np.ndarray:
    """(2, 3) affine matrix -> (3, 3) homogeneous form."""
    return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------- image warping
def _fixed_point_maps(matrix: np.ndarray, size: Sequence[int],
                      mirror_width: int | None) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV 4.x warpAffine's fixed-point sample maps for `matrix` (source -> output): (h, w, 2) int16
    integer positions and (h, w) uint16 bilinear-table indices. With mirror_width the source frame is
    the horizontal mirror (x' = mirror_width - 1 - x) of the image actually sampled.
    """
    w, h = int(size[0]), int(size[1])
    mi = invert_affine(matrix)
    scale = float(1 << _AB_BITS)
    round_delta = (1 << _AB_BITS) // _INTER_TAB // 2
    lim = float(2 ** 31 - 1)
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    adelta = np.rint(np.clip(mi[0, 0] * xs * scale, -lim, lim)).astype(np.int64)
    bdelta = np.rint(np.clip(mi[1, 0] * xs * scale, -lim, lim)).astype(np.int64)
    x0 = np.rint(np.clip((mi[0, 1] * ys + mi[0, 2]) * scale, -lim, lim)).astype(np.int64) + round_delta
    y0 = np.rint(np.clip((mi[1, 1] * ys + mi[1, 2]) * scale, -lim, lim)).astype(np.int64) + round_delta
    shift = _AB_BITS - _INTER_BITS
    lo = int(min(x0.min(), y0.min()) + min(adelta.min(), bdelta.min()))
    hi = int(max(x0.max(), y0.max()) + max(adelta.max(), bdelta.max()))
    # int32 is exact unless positions are absurdly far outside (then int64, clipped like OpenCV)
    dt = np.int32 if max(abs(lo), abs(hi)) < 2 ** 30 else np.int64
    gx = (x0.astype(dt)[:, None] + adelta.astype(dt)[None, :]) >> shift      # (h, w) positions in 1/32 px
    gy = (y0.astype(dt)[:, None] + bdelta.astype(dt)[None, :]) >> shift
    if mirror_width is not None:
        gx = dt((mirror_width - 1) * _INTER_TAB) - gx       # mirror: exact in 1/32 px units
    xy = np.empty((h, w, 2), dtype=np.int16)
    ix, iy = gx >> _INTER_BITS, gy >> _INTER_BITS
    if (max(abs(lo), abs(hi)) >> _AB_BITS) + (mirror_width or 0) + 2 > 32767:   # saturate like OpenCV
        ix, iy = np.clip(ix, -32768, 32767), np.clip(iy, -32768, 32767)
    xy[..., 0] = ix
    xy[..., 1] = iy
    alpha = ((gy & (_INTER_TAB - 1)) << _INTER_BITS) | (gx & (_INTER_TAB - 1))
    alpha = alpha.astype(np.uint16)
    return xy, alpha


def sampling_maps(matrix: np.ndarray, size: Sequence[int],
                  mirror_width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """warp_image's OpenCV fixed-point maps: (h, w, 2) int16 source pixel positions, (h, w) uint16
    bilinear-table indices (for cv2.remap); mirror_width: the matrix acts on the mirrored image."""
    return _fixed_point_maps(matrix, size, mirror_width)


def sampled_bounds(xy: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Half-open box (x0, y0, x1, y1) of the pixels of a width x height image that remap with the
    bilinear maps xy (h, w, 2) reads (a position and its right/lower neighbours); None if none."""
    ix, iy = xy[..., 0], xy[..., 1]
    inside = (ix >= -1) & (ix < width) & (iy >= -1) & (iy < height)
    if not inside.any():
        return None
    xs, ys = ix[inside], iy[inside]
    return (max(0, int(xs.min())), max(0, int(ys.min())), min(width, int(xs.max()) + 2),
            min(height, int(ys.max()) + 2))


def remap_region(region: np.ndarray, xy: np.ndarray, alpha: np.ndarray, origin: Sequence[int]) -> np.ndarray:
    """cv2.remap (bilinear, 0 border) of maps made for a whole image, applied to its part `region`
    whose top-left pixel is at origin (ox, oy) of that image: an exact integer shift of the maps."""
    if origin[0] == 0 and origin[1] == 0:      # the whole image (image.read_jpeg_region: large regions)
        return cv2.remap(region, xy, alpha, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    shifted = xy.astype(np.int32) - np.array(origin, dtype=np.int32)
    xy_r = np.clip(shifted, -32768, 32767).astype(np.int16)
    return cv2.remap(region, xy_r, alpha, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_image(image: np.ndarray, matrix: np.ndarray, size: Sequence[int], mirror: bool = False) -> np.ndarray:
    """Warp image (H, W, C) uint8 by a (2, 3) source->output matrix to size (w, h), bilinear, 0 border.

    Bit-identical to OpenCV 4.x cv2.warpAffine(INTER_LINEAR). With mirror=True the matrix is taken to
    act on the horizontally mirrored image, which is sampled without ever being flipped.
    """
    xy, alpha = _fixed_point_maps(matrix, size, image.shape[1] if mirror else None)
    return cv2.remap(image, xy, alpha, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_person(image: np.ndarray, center: np.ndarray, scale: np.ndarray, rot: float = 0.0,
                input_size: Sequence[int] = (192, 256), dtype: type = np.float32) -> np.ndarray:
    """Crop one person (center (2,), aspect-fixed input scale (2,) px, rotation in degrees) to (h, w, 3)
    uint8 BGR; center and scale taken in `dtype` (geometry.get_warp_matrix)."""
    return warp_image(image, get_warp_matrix(center, scale, rot, input_size, dtype=dtype), input_size)


def crop_persons(image: np.ndarray, centers: np.ndarray, scales: np.ndarray, rots: np.ndarray | None = None,
                 input_size: Sequence[int] = (192, 256), dtype: type = np.float32) -> np.ndarray:
    """Crops of N persons of one image: centers, aspect-fixed input scales (N, 2) -> (N, h, w, 3) uint8 BGR."""
    centers = np.asarray(centers, dtype).reshape(-1, 2)
    scales = np.asarray(scales, dtype).reshape(-1, 2)
    rots = np.zeros(len(centers)) if rots is None else np.asarray(rots).reshape(-1)
    out = np.empty((len(centers), input_size[1], input_size[0], 3), dtype=np.uint8)
    for i in range(len(centers)):
        out[i] = crop_person(image, centers[i], scales[i], rots[i], input_size, dtype)
    return out


# (256, 3) float32 lookup table: value v of RGB channel c -> (v - mean[c]) / std[c], computed with the
# same float32 operations as the reference's preprocessor, so the table entries are bit-identical
_NORM_LUT = ((np.arange(256, dtype=np.float32)[:, None] - MEAN_RGB) / STD_RGB).astype(np.float32)
# the same table rounded to bfloat16 (round to nearest even, as torch's .to(bfloat16)), held as the
# uint16 bit patterns numpy can index: normalising straight into bf16 is one pass of half the bytes
_NORM_LUT_BF16 = torch.from_numpy(_NORM_LUT).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def normalise_crops(crops: np.ndarray, dtype: torch.dtype = torch.float32, channels_last: bool = False) -> torch.Tensor:
    """Crops (N, H, W, 3) (or (H, W, 3)) uint8 BGR -> (N, 3, H, W) RGB, (x - mean) / std, in dtype
    (float32, or bfloat16: the float32 values rounded once); channels_last gives that memory layout
    (the crops' own, no transpose pass)."""
    c = np.asarray(crops)
    if c.ndim == 3:
        c = c[None]
    if c.ndim != 4 or c.shape[-1] != 3 or c.dtype != np.uint8:
        raise ValueError(f"crops must be (N, H, W, 3) uint8, got {c.shape} {c.dtype}")
    if dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f"crops are normalised to float32 or bfloat16, not {dtype}")
    lut = _NORM_LUT if dtype == torch.float32 else _NORM_LUT_BF16
    n, h, w, _ = c.shape
    if channels_last:
        out = np.empty((n, h, w, 3), dtype=lut.dtype)
        planes = [out[..., ch] for ch in range(3)]
    else:
        out = np.empty((n, 3, h, w), dtype=lut.dtype)
        planes = [out[:, ch] for ch in range(3)]
    for ch, plane in enumerate(planes):          # RGB channel ch is BGR channel 2 - ch
        np.take(lut[:, ch], c[..., 2 - ch], out=plane, mode="clip")  # uint8 is in range; "raise" buffers out
    tensor = torch.from_numpy(out)
    if dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16).view(torch.bfloat16)
    return tensor.permute(0, 3, 1, 2) if channels_last else tensor


def image_sampling_matrix(matrix: np.ndarray, reduce: int, flip: bool, image_width: int,
                          loaded_width: int) -> np.ndarray:
    """Map from the pixels of the image as loaded (reduced by `reduce`, mirrored if flip) to the crop.

    `matrix` maps the full-resolution (flipped if flip) frame to the crop. The result is meant for
    warp_image(loaded, ., size, mirror=flip), which mirrors the loaded image of width loaded_width.
    """
    if reduce == 1:
        return np.asarray(matrix, dtype=np.float64)
    off = (reduce - 1) * 0.5
    # mirrored-reduced pixel -> mirrored full pixel; the x offset accounts for ceil(W / r) widths
    ox = (image_width - 1 - off - reduce * (loaded_width - 1)) if flip else off
    up = np.array([[reduce, 0.0, ox], [0.0, reduce, off], [0.0, 0.0, 1.0]])
    return (to3x3(matrix) @ up)[:2]

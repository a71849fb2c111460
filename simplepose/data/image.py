"""Image loading: OpenCV decoding with clear errors, header-only size probing, and reduced-scale JPEG
decoding (libjpeg's DCT scaling) for training crops that are downsampled anyway.

A reduced decode by factor r returns an image whose pixel (i, j) covers original pixels
r*i .. r*i + r-1, i.e. its centre sits at original coordinate r*i + (r-1)/2 (pixel centres are integer
coordinates throughout simplepose). `reduction_matrix(r)` is that map as a (3, 3) affine matrix.
"""
from __future__ import annotations

import os
import struct

import cv2
import numpy as np

from simplepose.errors import DataError

_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                  4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic ...) carry the image size
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def read_image(path: str | os.PathLike, reduce: int = 1) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 BGR, optionally at 1/reduce size (reduce in 1, 2, 4, 8).

    JPEGs are reduced inside the decoder (DCT scaling, ceil(W/r) x ceil(H/r)); other formats are
    decoded fully and resized by OpenCV. Raises DataError when the file is missing or not an image.
    """
    if reduce not in _REDUCED_FLAGS:
        raise ValueError(f"reduce must be one of {sorted(_REDUCED_FLAGS)}, got {reduce}")
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise DataError(p, "image file not found")
    img = cv2.imread(p, _REDUCED_FLAGS[reduce])
    if img is None:
        # cv2.imread fails on some non-ASCII paths; decode from bytes before giving up
        try:
            img = cv2.imdecode(np.fromfile(p, dtype=np.uint8), _REDUCED_FLAGS[reduce])
        except (OSError, ValueError):
            img = None
    if img is None or img.ndim != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise DataError(p, "cannot decode image (corrupt file or unsupported format)")
    return img


def probe_image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) read from a JPEG or PNG header without decoding; None if not recognised."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            head = f.read(26)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:2] != b"\xff\xd8":
                return None
            f.seek(2)
            while True:
                byte = f.read(1)
                while byte and byte != b"\xff":          # skip to the next marker
                    byte = f.read(1)
                while byte == b"\xff":                   # fill bytes
                    byte = f.read(1)
                if not byte:
                    return None
                marker = byte[0]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    continue                             # markers without a length field
                seg = f.read(2)
                if len(seg) < 2:
                    return None
                length = struct.unpack(">H", seg)[0]
                if marker in _SOF_MARKERS:
                    data = f.read(5)
                    if len(data) < 5:
                        return None
                    h, w = struct.unpack(">HH", data[1:5])
                    return (int(w), int(h)) if w > 0 and h > 0 else None
                if marker == 0xDA:                       # start of scan before any frame header
                    return None
                f.seek(length - 2, os.SEEK_CUR)
    except FileNotFoundError:
        raise DataError(p, "image file not found") from None
    except OSError as e:
        raise DataError(p, f"cannot read image header: {e}") from None


def choose_reduction(downsample: float, max_reduce: int = 8) -> int:
    """Largest DCT reduction r in (1, 2, 4, 8), r <= max_reduce, with r <= downsample (crop px per input px)."""
    r = 1
    for cand in (2, 4, 8):
        if cand <= max_reduce and downsample >= cand:
            r = cand
    return r


def reduction_matrix(reduce: int) -> np.ndarray:
    """(3, 3) affine map from reduced-image pixel coordinates to full-resolution ones."""
    off = (reduce - 1) * 0.5
    return np.array([[reduce, 0.0, off], [0.0, reduce, off], [0.0, 0.0, 1.0]])

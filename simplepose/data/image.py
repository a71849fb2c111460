"""Image loading: OpenCV decoding from the file's bytes (any file name, UTF-8 or not) with clear errors, a
byte-bounded cache of decoded frames, header-only size probing, reduced-scale JPEG
decoding (libjpeg's DCT scaling) for training crops that are downsampled anyway, and JPEG region
decoding (only the MCU-aligned part a crop samples) through the optional system TurboJPEG library
(apt: libturbojpeg0; no Python package needed; set SIMPLEPOSE_NO_TURBOJPEG=1 to disable).

A reduced decode by factor r returns an image whose pixel (i, j) covers original pixels
r*i .. r*i + r-1, i.e. its centre sits at original coordinate r*i + (r-1)/2 (pixel centres are integer
coordinates throughout simplepose). `reduction_matrix(r)` is that map as a (3, 3) affine matrix.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import threading
from collections import OrderedDict
from io import BytesIO
from typing import Any, BinaryIO, Callable, Sequence

import cv2
import numpy as np

from simplepose.errors import DataError

_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                  4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic ...) carry the image size
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Decoded pixels allowed per image (300 MB of BGR), checked from the PNG/JPEG header before decoding;
# OpenCV's own limit for other formats is set to the same (it reads the variable on first decode)
MAX_IMAGE_PIXELS = 100_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))


def read_image(path: str | os.PathLike, reduce: int = 1) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 BGR, optionally at 1/reduce size (reduce in 1, 2, 4, 8).

    JPEGs are reduced inside the decoder (DCT scaling, ceil(W/r) x ceil(H/r)); other formats are
    decoded fully and resized by OpenCV. Raises DataError when the file is missing or not an image.
    """
    if reduce not in _REDUCED_FLAGS:
        raise ValueError(f"reduce must be one of {sorted(_REDUCED_FLAGS)}, got {reduce}")
    p = os.fspath(path)
    data = read_image_bytes(p)
    if not data:
        raise DataError(p, "image file is empty (0 bytes)")
    size = _header_size(BytesIO(data))
    if size is not None:
        check_pixels(p, *size)
    # decoded from bytes, never cv2.imread(path): OpenCV crashes on names that are not UTF-8
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _REDUCED_FLAGS[reduce])
    if img is None or img.ndim != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise DataError(p, "cannot decode image (corrupt file or unsupported format)")
    return img


class ImageCache:
    """Decoded images by path, at most `budget_mb` megabytes of pixels, the least recently used
    dropped first. Each process fills its own: a pickled cache (a loader worker's copy) arrives empty."""

    def __init__(self, budget_mb: float) -> None:
        """An empty cache holding up to budget_mb * 2**20 bytes of pixels."""
        self.budget = int(budget_mb * 2 ** 20)
        self.used = 0
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, path: str, decode: Callable[[str], np.ndarray]) -> np.ndarray:
        """The image of `path`: from the cache, else decode(path), kept if it fits. Do not modify it."""
        img = self._images.get(path)
        if img is not None:
            self._images.move_to_end(path)
            return img
        img = decode(path)
        if img.nbytes <= self.budget:
            while self.used + img.nbytes > self.budget:
                self.used -= self._images.popitem(last=False)[1].nbytes
            self._images[path] = img
            self.used += img.nbytes
        return img

    def __len__(self) -> int:
        """Images held."""
        return len(self._images)

    def __getstate__(self) -> dict[str, Any]:
        """The budget only: pixels are not sent to other processes."""
        return {"budget": self.budget}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """An empty cache with the pickled budget."""
        self.budget, self.used, self._images = state["budget"], 0, OrderedDict()


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of an image file; DataError when it is missing or unreadable."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(p, "image file not found") from None
    except IsADirectoryError:
        raise DataError(p, "is a folder, not an image file") from None
    except OSError as e:
        raise DataError(p, f"cannot read image: {e.strerror or e}") from None


def probe_image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) read from a JPEG or PNG header without decoding; None if not recognised."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            return _header_size(f)
    except FileNotFoundError:
        raise DataError(p, "image file not found") from None
    except OSError as e:
        raise DataError(p, f"cannot read image header: {e}") from None


def _header_size(f: BinaryIO) -> tuple[int, int] | None:
    """(width, height) of the PNG or JPEG whose bytes f reads; None if not recognised."""
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


def max_image_pixels() -> int:
    """The most pixels an image may decode to: SIMPLEPOSE_MAX_IMAGE_PIXELS, else MAX_IMAGE_PIXELS."""
    text = os.environ.get("SIMPLEPOSE_MAX_IMAGE_PIXELS", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else MAX_IMAGE_PIXELS


def check_pixels(path: str, width: int, height: int) -> None:
    """DataError when a width x height image is over max_image_pixels() (checked before decoding)."""
    limit = max_image_pixels()
    if width * height > limit:
        raise DataError(path, f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the "
                              f"{limit / 1e6:.0f} MP limit (raise it with SIMPLEPOSE_MAX_IMAGE_PIXELS=N)")


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


# --------------------------------------------------------------------------- region (crop) decoding
# Optional fast path: the system TurboJPEG library (Debian/Ubuntu package libturbojpeg0, any 2.x/3.x)
# through its stable C API, bound with ctypes. The crop is cut losslessly in the DCT domain
# (tjTransform with TJXOPT_CROP, MCU-aligned) and only that is decoded (IDCT, chroma upsampling, colour
# conversion). Inside the cut, pixels equal a full decode except within one chroma sample of a cut edge
# that is not an image edge (the fancy upsampler sees that edge as the image border), so callers ask for
# the needed region and get it grown by one MCU on every side (cut to the image).
_TJXOPT_CROP = 4
_TJPF_BGR = 1
_MCU_SIZE = {0: (8, 8), 1: (16, 8), 2: (16, 16), 3: (8, 8), 4: (8, 16), 5: (32, 8)}   # TJSAMP_* -> (w, h)
# Cutting costs a pass over the whole entropy-coded image plus a re-encode of the cut, so it pays only
# for small regions: measured break-even at 10% (384x288) to 20% (1280x720) of the image; at and above
# this share the whole image is decoded instead (same pixels, no cut)
_REGION_MAX_SHARE = 0.15


class _TJRegion(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


class _TJTransform(ctypes.Structure):
    _fields_ = [("r", _TJRegion), ("op", ctypes.c_int), ("options", ctypes.c_int),
                ("data", ctypes.c_void_p), ("customFilter", ctypes.c_void_p)]


class _Turbo:
    """ctypes binding of the few TurboJPEG 2 API calls used here, with per-process handles."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        vp, ul, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int
        lib.tjInitDecompress.restype = vp
        lib.tjInitTransform.restype = vp
        lib.tjDecompressHeader3.argtypes = [vp, ctypes.c_char_p, ul] + [ctypes.POINTER(i)] * 4
        lib.tjTransform.argtypes = [vp, ctypes.c_char_p, ul, i, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                                    ctypes.POINTER(ul), ctypes.POINTER(_TJTransform), i]
        lib.tjDecompress2.argtypes = [vp, vp, ul, vp, i, i, i, i, i]
        lib.tjFree.argtypes = [vp]
        self._local = threading.local()

    def handles(self) -> tuple[int, int] | None:
        """(decompress, transform) handles of the calling thread (created on first use); None on failure."""
        h = getattr(self._local, "handles", None)
        if h is None:
            h = self._local.handles = (self.lib.tjInitDecompress(), self.lib.tjInitTransform())
        return h if h[0] and h[1] else None


_TURBO: _Turbo | None | bool = False          # False: not probed yet; None: unavailable


def _turbo() -> _Turbo | None:
    """The TurboJPEG binding, or None when the library is absent or SIMPLEPOSE_NO_TURBOJPEG is set."""
    global _TURBO
    if _TURBO is False:
        _TURBO = None
        if not os.environ.get("SIMPLEPOSE_NO_TURBOJPEG"):
            for name in (ctypes.util.find_library("turbojpeg"), "libturbojpeg.so.0", "libturbojpeg.so"):
                if not name:
                    continue
                try:
                    _TURBO = _Turbo(ctypes.CDLL(name))
                    break
                except (OSError, AttributeError):
                    continue
    return _TURBO


def region_decode_available() -> bool:
    """True when the optional TurboJPEG library for region decoding could be loaded."""
    return _turbo() is not None


def read_jpeg_region(path: str | os.PathLike, box: Sequence[int], reduce: int = 1,
                     data: bytes | None = None
                     ) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]] | None:
    """Decode the part of a JPEG covering box = (x0, y0, x1, y1) (full-resolution px, half-open).

    Returns (image (h, w, 3) uint8 BGR, (ox, oy), (width, height) of the full-resolution JPEG) where the
    image holds the pixels of the full decode (at 1/reduce: cv2's IMREAD_REDUCED_COLOR_r) starting at
    (ox, oy) of that full (reduced) image and
    covers the box grown by one MCU, cut to the image (the whole image when that is at least
    _REGION_MAX_SHARE of it: decoding all is then faster). None when region decoding is unavailable or does
    not apply (not a JPEG TurboJPEG can crop, CMYK, EXIF orientation present, any decoder error or
    warning such as truncated data); the caller then decodes the full image with read_image.
    """
    tj = _turbo()
    if tj is None or reduce not in _REDUCED_FLAGS:
        return None
    p = os.fspath(path)
    if data is None:
        data = read_image_bytes(p)
    if data[:2] != b"\xff\xd8" or b"Exif" in data[:65536]:
        return None                                   # cv2 would apply an EXIF orientation: stay exact
    handles = tj.handles()
    if handles is None:
        return None
    dec, tra = handles
    w, h, sub, cs = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if tj.lib.tjDecompressHeader3(dec, data, len(data), ctypes.byref(w), ctypes.byref(h), ctypes.byref(sub),
                                  ctypes.byref(cs)) != 0 or sub.value not in _MCU_SIZE or cs.value > 2:
        return None                                   # unreadable, CMYK/YCCK or odd sampling: let cv2 decide
    width, height = w.value, h.value
    check_pixels(p, width, height)
    mw, mh = _MCU_SIZE[sub.value]
    x0 = max(0, (int(box[0]) // mw - 1) * mw)
    y0 = max(0, (int(box[1]) // mh - 1) * mh)
    x1 = min(width, (-(-int(box[2]) // mw) + 1) * mw)
    y1 = min(height, (-(-int(box[3]) // mh) + 1) * mh)
    if x1 <= x0 or y1 <= y0:
        return None
    if (x1 - x0) * (y1 - y0) >= _REGION_MAX_SHARE * width * height:
        x0, y0, x1, y1 = 0, 0, width, height
    if x0 == 0 and y0 == 0 and x1 == width and y1 == height:
        src, size = data, len(data)
        out_ptr = None
    else:
        xf = _TJTransform(_TJRegion(x0, y0, x1 - x0, y1 - y0), 0, _TJXOPT_CROP, None, None)
        out_ptr = ctypes.POINTER(ctypes.c_ubyte)()
        out_size = ctypes.c_ulong(0)
        if tj.lib.tjTransform(tra, data, len(data), 1, ctypes.byref(out_ptr), ctypes.byref(out_size),
                              ctypes.byref(xf), 0) != 0:
            if out_ptr:
                tj.lib.tjFree(out_ptr)
            return None
        src, size = ctypes.cast(out_ptr, ctypes.c_void_p), out_size.value
    try:
        rw, rh = -(-(x1 - x0) // reduce), -(-(y1 - y0) // reduce)
        img = np.empty((rh, rw, 3), dtype=np.uint8)
        src_arg = ctypes.cast(ctypes.c_char_p(src), ctypes.c_void_p) if isinstance(src, bytes) else src
        if tj.lib.tjDecompress2(dec, src_arg, size, img.ctypes.data, rw, 0, rh, _TJPF_BGR, 0) != 0:
            return None             # errors, and warnings (e.g. truncated data): let OpenCV decide
    finally:
        if out_ptr:
            tj.lib.tjFree(out_ptr)
    return img, (x0 // reduce, y0 // reduce), (width, height)

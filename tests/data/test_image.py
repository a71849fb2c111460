"""JPEG region decoding (optional TurboJPEG path): exact pixels against a full OpenCV decode, MCU
alignment, fallbacks; the region-shifted warp maps against a whole-image warp."""
from __future__ import annotations

import cv2
import numpy as np
import pickle

import pytest

import simplepose.data.image as image_mod
from simplepose.errors import DataError
from simplepose.data.image import ImageCache, read_image, read_jpeg_region, region_decode_available
from simplepose.data.transforms import (get_warp_matrix, remap_region, sampled_bounds, sampling_maps,
                                        warp_image)

needs_turbo = pytest.mark.skipif(not region_decode_available(), reason="libturbojpeg (optional) not installed")


@pytest.fixture(scope="module")
def frame(samples_dir):
    """Path of one real 1920x1080 PoseTrack18 sample frame."""
    paths = sorted((samples_dir / "posetrack18" / "images").rglob("*.jpg"))
    if not paths:
        pytest.skip("no sample frames")
    return paths[0]


@pytest.fixture(scope="module")
def textured_jpegs(tmp_path_factory):
    """Small noisy JPEGs (odd sizes) in 4:2:0, 4:2:2 and 4:4:4 chroma sampling: {name: path}."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (203, 317, 3), dtype=np.uint8), (5, 5), 0)
    d = tmp_path_factory.mktemp("jpegs")
    out = {}
    for name, flag in (("420", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420), ("422", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422),
                       ("444", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)):
        p = d / f"t{name}.jpg"
        assert cv2.imwrite(str(p), base, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, flag])
        out[name] = p
    return out


def _check_region(path, box, reduce: int) -> None:
    """The decoded region equals the full decode (at 1/reduce) inside the requested box, and covers it."""
    full = read_image(path, reduce)
    img, (ox, oy), wh = read_jpeg_region(path, box, reduce)
    assert (-(-wh[0] // reduce), -(-wh[1] // reduce)) == (full.shape[1], full.shape[0])
    assert (ox * reduce) % 8 == 0 and (oy * reduce) % 8 == 0                    # MCU-aligned origin
    x0, y0, x1, y1 = box[0] // reduce, box[1] // reduce, -(-box[2] // reduce), -(-box[3] // reduce)
    assert ox <= x0 and oy <= y0 and ox + img.shape[1] >= x1 and oy + img.shape[0] >= y1
    ref = full[oy:oy + img.shape[0], ox:ox + img.shape[1]]
    assert ref.shape == img.shape
    np.testing.assert_array_equal(img[y0 - oy:y1 - oy, x0 - ox:x1 - ox], ref[y0 - oy:y1 - oy, x0 - ox:x1 - ox])


@needs_turbo
def test_region_equals_full_decode_on_real_frame(frame):
    rng = np.random.default_rng(1)
    full = read_image(frame)
    for reduce in (1, 2, 4, 8):
        for _ in range(6):
            x0, y0 = int(rng.integers(0, 1900)), int(rng.integers(0, 1060))
            box = (x0, y0, min(1920, x0 + int(rng.integers(1, 600))), min(1080, y0 + int(rng.integers(1, 600))))
            _check_region(frame, box, reduce)
    # the whole frame as a "region" is the full decode
    img, origin, wh = read_jpeg_region(frame, (0, 0, 1920, 1080))
    assert origin == (0, 0) and wh == (1920, 1080)
    np.testing.assert_array_equal(img, full)


@needs_turbo
@pytest.mark.parametrize("sampling", ["420", "422", "444"])
def test_region_equals_full_decode_any_chroma_sampling(textured_jpegs, sampling):
    path = textured_jpegs[sampling]
    for box in ((0, 0, 1, 1), (40, 33, 41, 34), (17, 9, 300, 190), (250, 150, 317, 203), (0, 100, 317, 101)):
        for reduce in (1, 2):
            _check_region(path, box, reduce)


@needs_turbo
def test_large_regions_decode_the_whole_image(frame):
    """Cutting pays only for small regions: a region of 15% of the frame or more comes back whole."""
    full = read_image(frame)
    # 4:2:0, 16x16 MCUs: (800, 400, 1000, 700) grows to (784, 384, 1024, 720), 240x336 px, 3.9% of 1920x1080
    small, origin, _ = read_jpeg_region(frame, (800, 400, 1000, 700))
    assert origin == (784, 384) and small.shape[:2] == (336, 240)
    # (600, 300, 1300, 800) grows to (576, 272, 1328, 816), 752x544 px, 19.7%
    img, origin, wh = read_jpeg_region(frame, (600, 300, 1300, 800))
    assert origin == (0, 0) and wh == (1920, 1080)
    np.testing.assert_array_equal(img, full)


@needs_turbo
def test_region_edges_differ_without_margin_documented(frame):
    """The MCU margin is needed: a cut edge inside the image changes the decode next to it (upsampling)."""
    img, (ox, oy), _ = read_jpeg_region(frame, (800, 400, 1000, 700))
    full = read_image(frame)[oy:oy + img.shape[0], ox:ox + img.shape[1]]
    assert ox > 0 and oy > 0 and not np.array_equal(img, full)        # the margin itself may differ


def test_fallbacks(tmp_path, monkeypatch, textured_jpegs):
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    if region_decode_available():
        assert read_jpeg_region(png, (0, 0, 4, 4)) is None                # not a JPEG
        exif = tmp_path / "exif.jpg"
        data = textured_jpegs["420"].read_bytes()
        app1 = b"\xff\xe1" + (8).to_bytes(2, "big") + b"Exif\x00\x00"
        exif.write_bytes(data[:2] + app1 + data[2:])
        assert read_jpeg_region(exif, (0, 0, 4, 4)) is None               # cv2 may rotate by EXIF
        cut = tmp_path / "truncated.jpg"
        cut.write_bytes(data[: len(data) // 2])
        assert read_jpeg_region(cut, (0, 0, 317, 203)) is None            # decoder warning: cv2 decides
        assert read_jpeg_region(cut, (100, 20, 140, 60)) is None
    monkeypatch.setattr(image_mod, "_TURBO", None)
    assert not region_decode_available()
    assert read_jpeg_region(textured_jpegs["420"], (0, 0, 4, 4)) is None


@pytest.mark.parametrize("flip", [False, True])
def test_remap_region_equals_whole_image_warp(flip):
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    m = get_warp_matrix(np.array([70.0, 60.0]), np.array([60.0, 80.0]), 33.0, (48, 64))
    xy, alpha = sampling_maps(m, (48, 64), 160 if flip else None)
    x0, y0, x1, y1 = sampled_bounds(xy, 160, 120)
    assert 0 < x0 < x1 < 160 and 0 < y0 < y1 < 120
    whole = warp_image(img, m, (48, 64), mirror=flip)
    part = remap_region(img[y0:y1, x0:x1].copy(), xy, alpha, (x0, y0))
    np.testing.assert_array_equal(part, whole)
    # one pixel less on any side changes the crop: the bounds are tight
    assert not np.array_equal(remap_region(img[y0 + 1:y1, x0:x1].copy(), xy, alpha, (x0, y0 + 1)), whole)
    assert not np.array_equal(remap_region(img[y0:y1, x0:x1 - 1].copy(), xy, alpha, (x0, y0)), whole)
    assert sampled_bounds(xy + np.int16(1000), 160, 120) is None


def test_image_cache_keeps_the_most_recent_within_its_budget():
    decoded = []

    def decode(path: str) -> np.ndarray:
        decoded.append(path)
        return np.zeros((1024, 1024), np.uint8)             # 1 MB each

    cache = ImageCache(2.5)
    for p in ("a", "b", "a", "c"):                          # "a" used again before "c" arrives: "b" goes
        cache.get(p, decode)
    assert decoded == ["a", "b", "c"] and len(cache) == 2 and cache.used == 2 * 2 ** 20
    cache.get("a", decode)
    cache.get("b", decode)
    assert decoded == ["a", "b", "c", "b"]
    big = ImageCache(0.5)                                   # an image over the budget is returned, not kept
    assert big.get("a", decode).shape == (1024, 1024) and len(big) == 0
    copy = pickle.loads(pickle.dumps(cache))                # a loader worker's copy starts empty
    assert len(copy) == 0 and copy.budget == cache.budget


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk declaring width x height (8-bit RGB), then one zlib IDAT of zeros
    for a few rows: what a decoder reads first."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")


def _jpeg_header(width: int, height: int) -> bytes:
    """A JPEG SOI, an APP0 segment and a baseline SOF0 declaring width x height."""
    import struct
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0" + \
        b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


@pytest.mark.parametrize("header", [_png_header(30000, 30000), _jpeg_header(40000, 20000)], ids=["png", "jpeg"])
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, header):
    """A small PNG or JPEG whose header declares 800-900 megapixels: refused by name before decoding."""
    path = tmp_path / "huge.img"
    path.write_bytes(header)
    with pytest.raises(DataError, match=r"huge\.img: image is \d+x\d+ \(\d+ megapixels\), over the 100 MP limit"):
        read_image(path)


def test_the_pixel_limit_is_configurable(tmp_path, monkeypatch):
    """SIMPLEPOSE_MAX_IMAGE_PIXELS lowers (or raises) the limit; a 64x48 PNG fits 3072 pixels, not 3071."""
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.zeros((48, 64, 3), np.uint8))
    monkeypatch.setenv("SIMPLEPOSE_MAX_IMAGE_PIXELS", "3071")
    with pytest.raises(DataError, match="64x48 .* over the 0 MP limit"):
        read_image(path)
    monkeypatch.setenv("SIMPLEPOSE_MAX_IMAGE_PIXELS", "3072")
    assert read_image(path).shape == (48, 64, 3)

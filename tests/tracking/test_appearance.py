"""Colour histograms of person boxes, by hand: pure colours fall in one bin, grey and dark pixels in none."""
from __future__ import annotations

import cv2
import numpy as np

from simplepose.tracking.appearance import colour_histograms


def _bgr_of_hsv(h: int, s: int, v: int) -> np.ndarray:
    """The BGR triple of one OpenCV HSV colour (H in [0, 180))."""
    return cv2.cvtColor(np.uint8([[[h, s, v]]]), cv2.COLOR_HSV2BGR)[0, 0]


def test_pure_colours_fill_one_bin_and_grey_is_left_out() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :100] = _bgr_of_hsv(10, 250, 200)      # hue bin 10 // 22.5 = 0, saturation bin 250 // 32 = 7
    img[:, 100:] = _bgr_of_hsv(100, 100, 200)     # hue bin 4, saturation bin 3
    img[40:60, 140:160] = 128                      # grey: no stable hue, not counted
    boxes = np.array([[0, 0, 100, 100], [100, 0, 200, 100], [0, 0, 200, 100], [5, 5, 6, 6]], np.float64)
    h = colour_histograms(img, boxes)
    assert h.shape == (4, 64)
    np.testing.assert_allclose(h[0], np.eye(64)[0 * 8 + 7], atol=1e-6)
    np.testing.assert_allclose(h[1], np.eye(64)[4 * 8 + 3], atol=1e-6)
    # the whole image shrunk by 10% a side: columns 20..180, rows 10..90: 80 x 80 red pixels, 80 x 80 blue
    # ones less the 20 x 20 grey patch -> (6400, 6000) normalised
    want = (6400 * np.eye(64)[7] + 6000 * np.eye(64)[35]) / np.hypot(6400, 6000)
    np.testing.assert_allclose(h[2], want, atol=1e-6)
    np.testing.assert_array_equal(h[3], 0)                              # too small a box: no histogram
    assert float(h[0] @ h[1]) == 0.0 and float(h[0] @ h[2]) > 0.7       # cosine similarities
    assert colour_histograms(img, np.zeros((0, 4))).shape == (0, 64)

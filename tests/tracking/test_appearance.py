"""Colour histograms of person boxes and colours along the limbs of poses, by hand: pure colours fall in one bin,
grey and dark pixels in none; painted limbs read back as their Lab colour."""
from __future__ import annotations

import cv2
import numpy as np

from simplepose.tracking.appearance import LIMBS, MIRROR, blend_limbs, colour_histograms, limb_colours, limb_similarity


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


# a pose on a 160 x 160 canvas whose twelve limbs cross only at their joints
JOINTS = {5: (60, 40), 6: (100, 40), 7: (30, 40), 8: (130, 40), 9: (5, 40), 10: (155, 40),
          11: (65, 90), 12: (95, 90), 13: (65, 120), 14: (95, 120), 15: (65, 150), 16: (95, 150)}


def _painted(score: float = 0.9) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A grey image with every limb drawn 3 px thick in its own colour, the pose (1, 17, 3), the colours."""
    img = np.full((160, 160, 3), 128, np.uint8)
    pose = np.zeros((1, 17, 3))
    for j, xy in JOINTS.items():
        pose[0, j] = (*xy, score)
    colours = [np.array([(37 * i) % 256, (91 * i + 40) % 256, (53 * i + 90) % 256], np.uint8) for i in range(len(LIMBS))]
    for (a, b), c in zip(LIMBS, colours):
        cv2.line(img, JOINTS[a], JOINTS[b], tuple(int(v) for v in c), 3)
    return img, pose, colours


def test_limb_colours_are_the_lab_colours_painted_along_the_limbs() -> None:
    img, pose, colours = _painted()
    got = limb_colours(img, pose, 0.3)
    want = np.stack([cv2.cvtColor(c[None, None], cv2.COLOR_BGR2LAB)[0, 0] for c in colours]).astype(np.float32)
    assert got.shape == (1, 12, 3)
    np.testing.assert_array_equal(got[0], want)
    pose[0, 7, 2] = 0.1                    # a doubtful elbow: its two limbs (upper arm, forearm) are unknown
    got = limb_colours(img, pose, 0.3)
    unknown = [k for k, limb in enumerate(LIMBS) if 7 in limb]
    assert np.isnan(got[0, unknown]).all() and np.isfinite(np.delete(got[0], unknown, 0)).all()
    pose[0, 7, 2] = 0.9
    pose[0, 9, :2] = (-200, 40)            # a wrist far outside: 2 of the forearm's 5 points inside, too few
    assert np.isnan(limb_colours(img, pose, 0.3)[0, LIMBS.index((7, 9))]).all()
    assert np.isnan(limb_colours(img, pose[:, :15], 0.3)).all()          # not COCO-17: no limbs
    assert limb_colours(img, np.zeros((0, 17, 3)), 0.3).shape == (0, 12, 3)


def test_limb_similarity_by_hand_and_with_sides_swapped() -> None:
    base = np.random.default_rng(0).uniform(0, 255, (12, 3))
    shifted = base + np.array([3.0, 4.0, 0.0])                  # every limb 5 Lab units away
    mirrored = base[list(MIRROR)]
    two_limbs = np.full((12, 3), np.nan)
    two_limbs[:2] = base[:2]
    one_limb = np.full((12, 3), np.nan)
    one_limb[4] = base[4]
    got = limb_similarity(np.stack([base]), np.stack([base, shifted, mirrored, two_limbs, one_limb]), 20.0)
    np.testing.assert_allclose(got[0, :4], [1.0, np.exp(-5 / 20), 1.0, 1.0], atol=1e-12)
    assert np.isnan(got[0, 4])                                  # one shared limb is not enough


def test_blend_limbs_averages_what_both_saw_and_keeps_the_rest() -> None:
    old = np.full((12, 3), np.nan, np.float32)
    old[0], old[1] = 10, 20
    new = np.full((12, 3), np.nan, np.float32)
    new[0], new[2] = 30, 40
    got = blend_limbs(old, new, 0.75)
    np.testing.assert_allclose(got[:3, 0], [15.0, 20.0, 40.0])      # 0.75 x 10 + 0.25 x 30; old only; new only
    assert np.isnan(got[3:]).all()
    np.testing.assert_array_equal(blend_limbs(None, new, 0.75), new)

"""The synthetic camera: its maps by hand, the canvas it needs, and pan measured from the rendered pixels."""
from __future__ import annotations

import math

import cv2
import numpy as np

from simplepose.synthetic.camera import (apply, canvas_for, canvas_pixels_bound, moving_camera, polygon_in_view, scale_of, similarity,
                                         still_camera)
from simplepose.synthetic.render import render_video
from tests.synthetic.small_dataset import SIZE


def test_similarity_and_apply_by_hand():
    a = similarity(np.array([10.0, 20.0]), 2.0, 0.0, np.array([3.0, 4.0]))
    b = similarity(np.array([10.0, 20.0]), 1.0, math.pi / 2, np.array([0.0, 0.0]))
    cam = np.stack([a, b])
    pts = np.array([[[10.0, 20.0], [11.0, 20.0]], [[10.0, 20.0], [11.0, 20.0]]])      # (T=2, 2 points, 2)
    # zoom 2x about (10, 20) then shift (3, 4); a quarter turn about (10, 20): x right -> y down
    np.testing.assert_allclose(apply(cam, pts), [[[13, 24], [15, 24]], [[10, 20], [10, 21]]], atol=1e-12)
    np.testing.assert_allclose(scale_of(cam), [2.0, 1.0])
    np.testing.assert_array_equal(apply(still_camera(2), pts), pts)


def test_canvas_covers_every_view():
    w, h = SIZE
    assert canvas_for(still_camera(5), SIZE).size == SIZE and canvas_for(still_camera(5), SIZE).origin == (0, 0)
    cam = moving_camera(np.random.default_rng(0), 30, SIZE)
    canvas = canvas_for(cam, SIZE)
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    for a in cam:                                  # image corners back in the scene, then on the canvas
        inv = cv2.invertAffineTransform(a)
        on_canvas = corners @ inv[:, :2].T + inv[:, 2] + canvas.origin
        assert (on_canvas >= 0).all() and (on_canvas <= np.array(canvas.size) - 1).all()


def test_polygon_in_view_is_cut_to_the_image():
    size = (100, 80)
    square = np.array([[-20.0, 10], [20, 10], [20, 50], [-20, 50]])              # half outside on the left
    cut = polygon_in_view(square, still_camera(1)[0], size)
    assert cut.dtype == np.int32 and cut[:, 0].min() == 0 and cut[:, 0].max() == 20
    assert cv2.contourArea(cut.astype(np.float32)) == 20 * 40
    shifted = similarity(np.zeros(2), 1.0, 0.0, np.array([30.0, 0.0]))           # the camera pans: +30 px
    assert cv2.contourArea(polygon_in_view(square, shifted, size).astype(np.float32)) == 40 * 40
    assert polygon_in_view(square - [200, 0], still_camera(1)[0], size) is None  # out of view


def _sky_shifts(video) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of consecutive frames: the translation of the strip above every figure's head (both
    frames), measured by phase correlation of the rendered frames, and the one the camera predicts
    for the scene point under the strip's centre (each (T-1, 2))."""
    measured, expected = [], []
    for t in range(len(video.frames) - 1):
        top = int(np.floor(video.head_boxes[t:t + 2, :, 1].min())) - 6      # rows free of figures
        assert top >= 24, "too thin a strip to measure"
        a, b = (cv2.cvtColor(f[:top], cv2.COLOR_BGR2GRAY).astype(np.float64) for f in video.frames[t:t + 2])
        measured.append(cv2.phaseCorrelate(a, b, cv2.createHanningWindow(a.shape[::-1], cv2.CV_64F))[0])
        centre = np.array([(SIZE[0] - 1) / 2, (top - 1) / 2])
        inv = cv2.invertAffineTransform(video.camera[t])
        scene = inv[:, :2] @ centre + inv[:, 2]
        expected.append(video.camera[t + 1, :, :2] @ scene + video.camera[t + 1, :, 2] - centre)
    return np.array(measured), np.array(expected)


def test_pan_shows_in_the_background_texture():
    """The background moves as the camera says: phase correlation of consecutive rendered frames
    (above the figures) finds the camera's displacement; with a still camera it finds none."""
    video = render_video(np.random.default_rng(2), 10, SIZE)
    measured, expected = _sky_shifts(video)
    np.testing.assert_allclose(measured, expected, atol=0.5)
    assert abs(expected[:, 0].sum()) > 0.002 * SIZE[0] * 9         # the pan: >= 0.2% of the width a frame
    assert abs(measured[:, 0].sum()) > 0.002 * SIZE[0] * 9
    still = render_video(np.random.default_rng(2), 10, SIZE, camera_motion=False)
    measured, expected = _sky_shifts(still)
    assert (expected == 0).all() and np.abs(measured).max() < 0.25
    assert (still.camera == still_camera(10)).all()


def test_zoom_and_shake_show_in_the_pixels():
    """Warping frame t by the camera's frame-to-frame map gives frame t+1's background; without the
    map (a still-camera assumption) it does not."""
    video = render_video(np.random.default_rng(4), 6, SIZE, persons=(1, 1))
    assert np.ptp(scale_of(video.camera)) > 0.002                        # the camera zooms
    for t in range(5):
        rel = np.concatenate([video.camera[t + 1], [[0, 0, 1]]]) @ np.linalg.inv(
            np.concatenate([video.camera[t], [[0, 0, 1]]]))
        warped = cv2.warpAffine(video.background_frame(t), rel[:2], SIZE, flags=cv2.INTER_LINEAR)
        inner = (slice(8, SIZE[1] - 8), slice(8, SIZE[0] - 8))            # off the border the warp leaves
        after = video.background_frame(t + 1).astype(np.int16)[inner]
        moved_err = np.abs(warped.astype(np.int16)[inner] - after).mean()
        still_err = np.abs(video.background_frame(t).astype(np.int16)[inner] - after).mean()
        assert moved_err < 1.0 and still_err > 3 * moved_err, (moved_err, still_err)   # measured 0.4 vs 2.8


def test_canvas_pixels_bound_holds_for_measured_canvases():
    """The bound the writer checks before rendering is above every canvas measured over seeds, lengths
    and sizes (zoom and pan grow it with the frame count)."""
    for n in (1, 2, 30, 100, 300):
        for size in ((384, 288), (64, 48), (1280, 720)):
            for seed in range(8):
                canvas = canvas_for(moving_camera(np.random.default_rng(seed), n, size), size)
                assert canvas.size[0] * canvas.size[1] <= canvas_pixels_bound(n, size), (n, size, seed)

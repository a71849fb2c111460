"""Synthetic pixels: figures show at their keypoints, joint markers code the two sides of a figure."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from simplepose.synthetic.render import render_video
from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
from tests.synthetic.small_dataset import SIZE, load_json


def test_figures_are_visible_at_their_keypoints():
    rng = np.random.default_rng(11)
    video = render_video(rng, 6, SIZE)            # the camera moves (the default): so do the figures
    assert not np.allclose(video.camera[0], video.camera[-1])
    diffs = []
    for t, frame in enumerate(video.frames):
        bg = video.background_frame(t).astype(np.int16)
        for i in np.flatnonzero(video.present[t]):
            k = video.keypoints[t, i]
            for x, y in k[k[:, 2] > 0, :2]:
                xi, yi = int(round(x)), int(round(y))
                diffs.append(np.abs(frame[yi, xi].astype(np.int16) - bg[yi, xi]).max())
    diffs = np.array(diffs)
    assert len(diffs) > 20
    assert np.median(diffs) > 40 and (diffs > 15).mean() > 0.9
    # away from the figures the frame is the background plus at most the sensor noise (4 levels)
    for t, frame in enumerate(video.frames):
        assert (np.abs(frame.astype(np.int16) - video.background_frame(t)).max(-1) <= 4).mean() > 0.5


def _marker_luminance(root: Path, split: str, limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per annotated person: decoded-JPEG luminance at its annotated left and right limb joints."""
    merged = load_json(root / "annotations" / f"posetrack18_{split}.json")
    by_image: dict[int, list] = {}
    for a in merged["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    out = []
    for im in merged["images"][:limit]:
        if im["id"] not in by_image:
            continue
        frame = cv2.imread(str(root / im["file_name"])).astype(np.float64)
        for a in by_image[im["id"]]:
            k = np.array(a["keypoints"]).reshape(17, 3)
            lum = [[frame[int(round(k[j, 1])), int(round(k[j, 0]))].mean() for j in range(side, 17, 2)
                    if k[j, 2] > 0] for side in (5, 6)]      # left joints 5,7,..,15; right 6,8,..,16
            out.append((np.array(lum[0]), np.array(lum[1])))
    return out


def test_jpeg_frames_show_side_coded_joint_markers(dataset):
    """Limb joints carry markers, light on one side of a figure and dark on the other.

    A joint hidden by the figure's own body stays annotated (as in PoseTrack), so a few show
    something else: hence majority checks.
    """
    root, _ = dataset
    consistent, light_left = [], []
    for left, right in _marker_luminance(root, "val"):
        if len(left) < 3 or len(right) < 3:
            continue
        left_light = np.median(left) > np.median(right)
        lights, darks = (left, right) if left_light else (right, left)
        consistent.append(((lights > 150).mean() + (darks < 90).mean()) / 2)
        light_left.append(left_light)
    assert len(consistent) > 20
    assert np.mean(consistent) > 0.85
    # the colour -> side assignment is drawn per figure (mirror-symmetric data): both occur
    assert 0.2 < np.mean(light_left) < 0.8


def test_fixed_sides_put_light_markers_on_the_left(tmp_path):
    out = tmp_path / "fixed"
    generate_posetrack_dataset(out, SynthOptions(videos=2, frames=4, seed=1, image_size=SIZE, splits=("val",),
                                                 fixed_sides=True), progress=False)
    pairs = [(left, right) for left, right in _marker_luminance(out, "val") if len(left) and len(right)]
    assert len(pairs) > 5
    assert np.mean([np.median(left) > np.median(right) for left, right in pairs]) > 0.9


def test_every_joints_position_and_what_hides_it_are_recorded():
    video = render_video(np.random.default_rng(5), 30, SIZE, persons=(4, 4))
    w, h = SIZE
    kps, joints = video.keypoints, video.joints                            # (T, P, 17, 3), (T, P, 17, 2)
    ann = kps[..., 2] > 0
    np.testing.assert_allclose(kps[..., :2][ann], joints[ann], atol=0.006)  # annotated: where the joint is
    x, y = joints[..., 0], joints[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    assert not (video.covered & ann).any() and not (video.covered & ~inside).any()
    assert video.covered.any()                                             # four figures overlap somewhere
    # a covered joint lies on another figure: within its joints' extent widened by its limbs' width
    for t, i, k in zip(*np.nonzero(video.covered)):
        px, py = joints[t, i, k]
        lo, hi = joints[t].min(1), joints[t].max(1)                        # (P, 2) each figure's extent
        pad = 0.1 * video.heights[t]
        on = (lo[:, 0] - pad <= px) & (px <= hi[:, 0] + pad) & (lo[:, 1] - pad <= py) & (py <= hi[:, 1] + pad)
        assert np.delete(on, i).any()
    # the height is the body's: its joints span most of it, never more
    span = np.ptp(joints[..., 1], axis=-1)
    assert ((span <= video.heights) & (span >= 0.5 * video.heights)).all()

"""Synthetic situations that test a tracker, each checked on the ground truth of rendered videos:
figures leaving and coming back, similarly dressed figures crossing, runners; each absent when off."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from simplepose.synthetic.body import Walk, similar_style, walk_x
from simplepose.synthetic.render import Video, render_video

SIZE = (160, 120)      # small frames: these tests render many 30-frame videos
FRAMES = 30
SEEDS = range(6)


def _videos(**switches: bool) -> list[Video]:
    """The test videos (4 figures, 30 frames) with the given switches (rendered once per switch set)."""
    return _rendered(tuple(sorted(switches.items())))


@lru_cache(maxsize=None)
def _rendered(switches: tuple[tuple[str, bool], ...]) -> list[Video]:
    """The test videos for a switch set given as sorted (name, value) pairs."""
    return [render_video(np.random.default_rng(s), FRAMES, SIZE, persons=(4, 4), **dict(switches)) for s in SEEDS]


def test_walk_by_hand():
    walk = Walk(start=0.5, speed=0.1, lo=0.2, hi=0.8)
    np.testing.assert_allclose(walk_x(walk, np.arange(8), 100), [50, 60, 70, 80, 70, 60, 50, 40])
    out = Walk(start=0.1, speed=-0.1, lo=-0.2, hi=0.9)                         # turns beyond the left border
    np.testing.assert_allclose(walk_x(out, np.arange(6), 100), [10, 0, -10, -20, -10, 0], atol=1e-9)


def test_similar_style_keeps_the_clothes():
    rng = np.random.default_rng(0)
    style = {"shirt": (100, 150, 200), "l_arm": (0, 0, 255), "l_mark": (235, 245, 245), "limb_w": 0.06}
    twin = similar_style(rng, style)
    assert twin["l_mark"] == style["l_mark"] and twin["limb_w"] == style["limb_w"]
    for k in ("shirt", "l_arm"):
        assert np.abs(np.subtract(twin[k], style[k])).max() <= 12


# ------------------------------------------------------------------------------ entering and leaving

def _border_gaps(video: Video) -> list[tuple[int, bool]]:
    """(track, back) for each run of frames a track is missing from, next to a frame where its annotated
    joints touch the left or right border (within 3% of the width); back: present before and after."""
    w = SIZE[0]
    out = []
    for i in range(video.present.shape[1]):
        present = video.present[:, i]
        for t in range(1, FRAMES):
            if present[t] or not present[t - 1] and t > 1:
                continue
            if present[t - 1]:                             # a gap starts at t: where does it end?
                end = t + int(np.argmax(present[t:])) if present[t:].any() else FRAMES
                k = video.keypoints[t - 1, i]
                x = k[k[:, 2] > 0, 0]
                if x.min() <= 0.03 * w or x.max() >= 0.97 * w:
                    out.append((i, end < FRAMES))
        if not present[0] and present.any():           # walks in: missing from the first frames
            k = video.keypoints[int(np.argmax(present)), i]
            x = k[k[:, 2] > 0, 0]
            if x.min() <= 0.03 * w or x.max() >= 0.97 * w:
                out.append((i, False))
    return out


def test_figures_walk_out_and_come_back_with_their_track_id():
    gaps = [g for v in _videos() for g in _border_gaps(v)]
    assert len(gaps) >= 3 and any(back for _, back in gaps), gaps
    # the ground truth follows PoseTrack18: no joint outside the image, no person with < 3 joints
    for v in _videos():
        k = v.keypoints[v.present]
        vis = k[..., 2] > 0
        assert (vis.sum(1) >= 3).all()
        assert (k[vis][:, 0] >= 0).all() and (k[vis][:, 0] <= SIZE[0] - 1).all()
        assert (v.keypoints[~v.present] == 0).all()


def test_without_enter_leave_nobody_walks_out():
    # a still camera too: a panning camera alone may leave a figure behind the border
    gaps = [g for v in _videos(enter_leave=False, camera_motion=False) for g in _border_gaps(v)]
    assert gaps == []


# ------------------------------------------------------------------------------ crossings

def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two xyxy boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih)


# where a figure's clothes show: torso centre (shirt), head centre (skin), upper arms and thighs
_PATCHES = ((5, 6, 11, 12), (1, 2), (5, 7), (6, 8), (11, 13), (12, 14))


def _clothes(video: Video, t: int, i: int) -> np.ndarray:
    """Median colours (6, 3) BGR of 3x3 patches at the middle of figure i's torso, head, upper arms and
    thighs in frame t (NaN where a joint the patch needs is not annotated)."""
    k = video.keypoints[t, i]
    out = np.full((len(_PATCHES), 3), np.nan)
    for p, joints in enumerate(_PATCHES):
        if (k[list(joints), 2] > 0).all():
            x, y = np.round(k[list(joints), :2].mean(0)).astype(int)
            out[p] = np.median(video.frames[t][y - 1:y + 2, x - 1:x + 2].reshape(-1, 3), axis=0)
    return out


def _look_alike_crossings(video: Video) -> list[tuple[int, int, float]]:
    """(i, j, max IoU) for figure pairs whose visible boxes overlap by IoU > 0.5 in some frame and whose
    clothes look alike in the pixels of the frames where the two are apart: per patch the median over
    those frames of the largest channel difference; the median over the patches < 30 levels (a limb
    hidden behind the body spoils a patch or two)."""
    n = video.present.shape[1]
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            both = video.present[:, i] & video.present[:, j]
            ious = [_iou(video.visible_boxes[t, i], video.visible_boxes[t, j]) if both[t] else 0.0
                    for t in range(FRAMES)]
            apart = [t for t in range(FRAMES) if both[t] and ious[t] == 0]
            if max(ious) <= 0.5 or not apart:
                continue
            diffs = np.array([np.abs(_clothes(video, t, i) - _clothes(video, t, j)).max(1) for t in apart])
            per_patch = [np.median(d[~np.isnan(d)]) for d in diffs.T if (~np.isnan(d)).any()]
            if len(per_patch) >= 3 and np.median(per_patch) < 30:
                out.append((i, j, round(max(ious), 2)))
    return out


def test_similarly_dressed_figures_cross():
    found = [c for v in _videos() for c in _look_alike_crossings(v)]
    assert len(found) >= 2, found


def test_without_crossings_no_look_alikes_cross():
    assert [c for v in _videos(crossings=False) for c in _look_alike_crossings(v)] == []


# ------------------------------------------------------------------------------ fast motion

def _speeds(video: Video) -> list[float]:
    """Per figure: the median frame-to-frame move of its hip centre (both hips annotated), in widths."""
    out = []
    for i in range(video.present.shape[1]):
        hips = video.keypoints[:, i, [11, 12]]
        ok = (hips[..., 2] > 0).all(1)
        centre = hips[..., :2].mean(1)
        steps = [np.linalg.norm(centre[t + 1] - centre[t]) for t in range(FRAMES - 1) if ok[t] and ok[t + 1]]
        if steps:
            out.append(float(np.median(steps)) / SIZE[0])
    return out


def test_runners_move_many_pixels_per_frame():
    fast = [s for v in _videos() for s in _speeds(v)]
    slow = [s for v in _videos(fast_motion=False) for s in _speeds(v)]
    assert max(fast) > 0.035 and max(slow) < 0.03, (max(fast), max(slow))

"""Drawing: skeletons coloured by side, boxes by track, polygons; untouched pixels stay untouched."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from simplepose import visualize as vis
from simplepose.data.keypoints import COCO, POSETRACK18

H, W = 120, 160
L_SH, R_SH, L_EL, L_WR = 5, 6, 7, 9


def _canvas() -> np.ndarray:
    """A mid-grey image with a gentle gradient (so "unchanged" is a real check)."""
    x = np.linspace(40, 80, W, dtype=np.float64)[None, :, None]
    return np.broadcast_to(x, (H, W, 3)).astype(np.uint8).copy()


def _person(score: float = 0.9) -> np.ndarray:
    """One PoseTrack18 person (1, 17, 3) in the left half of the canvas; ears unannotated."""
    k = np.zeros((1, 17, 3), np.float32)
    k[0, :, :2] = [[40, 20], [40, 30], [40, 10], [0, 0], [0, 0], [50, 35], [30, 35], [55, 50], [25, 50],
                   [58, 64], [22, 64], [46, 65], [34, 65], [47, 85], [33, 85], [48, 104], [32, 104]]
    k[0, :, 2] = score
    k[0, [3, 4], 2] = 0
    return k


def test_keypoints_are_drawn_in_their_colours_and_far_pixels_untouched():
    img = _canvas()
    before = img.copy()
    out = vis.draw_poses(img, _person(), POSETRACK18)
    np.testing.assert_array_equal(img, before)                      # input not modified
    assert out is not img and out.shape == img.shape and out.dtype == np.uint8
    kp = _person()[0]
    for k in [0, 1, 2, *range(5, 17)]:
        x, y = int(kp[k, 0]), int(kp[k, 1])
        np.testing.assert_array_equal(out[y, x], POSETRACK18.keypoint_colours[k])
    # the right half of the canvas is far from the person: unchanged
    np.testing.assert_array_equal(out[:, 100:], before[:, 100:])
    # the unannotated ears at (0, 0) are not drawn
    np.testing.assert_array_equal(out[0, 0], before[0, 0])


def test_links_are_coloured_by_side():
    out = vis.draw_poses(_canvas(), _person(), POSETRACK18, radius=1, thickness=3)
    kp = _person()[0]
    link = POSETRACK18.skeleton.index((L_SH, L_EL))
    mid = ((kp[L_SH, :2] + kp[L_EL, :2]) / 2).round().astype(int)
    np.testing.assert_array_equal(out[mid[1], mid[0]], POSETRACK18.link_colours[link])
    assert POSETRACK18.link_colours[link] == POSETRACK18.keypoint_colours[L_SH]
    r_link = POSETRACK18.skeleton.index((R_SH, 8))
    assert POSETRACK18.link_colours[r_link] != POSETRACK18.link_colours[link]


def test_low_scores_and_nan_are_not_drawn():
    base = _canvas()
    kp = _person()
    kp[0, L_WR, 2] = 0.2                         # below the default threshold 0.3
    kp[0, 0, :2] = np.nan                        # nose without coordinates
    out = vis.draw_poses(base, kp, POSETRACK18, radius=1, thickness=1)
    x, y = _person()[0, L_WR, :2].astype(int)
    np.testing.assert_array_equal(out[y, x], base[y, x])
    # the elbow-wrist link needs both ends: its far end stays untouched
    el = _person()[0, L_EL, :2]
    probe = (el + 0.8 * (_person()[0, L_WR, :2] - el)).round().astype(int)
    np.testing.assert_array_equal(out[probe[1], probe[0]], base[probe[1], probe[0]])
    # raising the threshold removes everything
    out_all = vis.draw_poses(base, _person(0.5), POSETRACK18, score_thr=0.6)
    np.testing.assert_array_equal(out_all, base)


def test_boxes_and_track_labels_use_the_track_colour():
    base = _canvas()
    box = np.array([[100.0, 20.0, 40.0, 80.0]])
    kp = np.zeros((1, 17, 3), np.float32)
    out = vis.draw_poses(base, kp, POSETRACK18, track_ids=[7], boxes_xywh=box, thickness=1)
    np.testing.assert_array_equal(out[60, 100], vis.track_colour(7))       # left edge, mid-height
    np.testing.assert_array_equal(out[60, 120], base[60, 120])              # inside the box
    assert (np.abs(out[5:20, 100:140].astype(int) - base[5:20, 100:140]).sum() > 0)  # the label "7"
    colours = {vis.track_colour(i) for i in range(12)}
    assert len(colours) == 12
    # without track ids the box is grey
    grey = vis.draw_poses(base, kp, POSETRACK18, boxes_xywh=box, thickness=1)
    assert len(set(grey[60, 100].tolist())) == 1


def test_several_people_and_coco_schema():
    k = np.concatenate([_person(), _person()])
    k[1, :, 0] += 90
    k[1, [3, 4], :2] = 0
    out = vis.draw_poses(_canvas(), k, POSETRACK18, track_ids=[0, 1])
    x, y = int(k[1, 5, 0]), int(k[1, 5, 1])
    np.testing.assert_array_equal(out[y, x], POSETRACK18.keypoint_colours[5])
    single = vis.draw_poses(_canvas(), _person()[0], COCO)                   # (K, 3) accepted
    assert single.shape == (H, W, 3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="uint8"):
        vis.draw_poses(_canvas().astype(np.float32), _person(), POSETRACK18)
    with pytest.raises(ValueError, match="17"):
        vis.draw_poses(_canvas(), np.zeros((1, 16, 3)), POSETRACK18)
    with pytest.raises(ValueError, match="track ids"):
        vis.draw_poses(_canvas(), _person(), POSETRACK18, track_ids=[1, 2])
    with pytest.raises(ValueError, match="boxes"):
        vis.draw_poses(_canvas(), _person(), POSETRACK18, boxes_xywh=np.zeros((2, 4)))


def test_polygons_shade_inside_only():
    base = _canvas()
    poly = np.array([[10, 10], [60, 10], [60, 50], [10, 50]])
    out = vis.draw_polygons(base, [poly])
    assert np.abs(out[30, 35].astype(int) - base[30, 35]).max() > 10
    np.testing.assert_array_equal(out[100, 120], base[100, 120])
    np.testing.assert_array_equal(vis.draw_polygons(base, []), base)


def test_save_image_and_overlay_round_trip(tmp_path):
    img = _canvas()
    path = vis.save_image(tmp_path / "a" / "plain.png", img)
    np.testing.assert_array_equal(cv2.imread(str(path)), img)
    p2 = vis.save_overlay(tmp_path / "over.png", img, _person(), POSETRACK18, track_ids=[3])
    np.testing.assert_array_equal(cv2.imread(str(p2)), vis.draw_poses(img, _person(), POSETRACK18, track_ids=[3]))
    assert not list(tmp_path.glob(".*.tmp"))


def _label_height(width: int, height: int) -> int:
    """Rows the track-id label of one boxed person takes above its box (a black frame, id 7)."""
    from simplepose.data.keypoints import get_schema
    image = np.zeros((height, width, 3), np.uint8)
    drawn = vis.draw_poses(image, np.zeros((1, 17, 3)), get_schema("posetrack18"), track_ids=[7],
                       boxes_xywh=np.array([[width * 0.3, height * 0.3, width * 0.3, height * 0.5]]))
    above = drawn[:int(height * 0.3) - max(width, height) // 240 - 1].max(-1)      # above the box's line
    rows = np.flatnonzero(above.any(axis=1))
    return int(rows.max() - rows.min() + 1)


def test_track_id_labels_scale_with_the_frame() -> None:
    """Legible on small frames (>= 2% of the larger side: 8 px on 384x288) and the same share on large ones."""
    small, large = _label_height(384, 288), _label_height(1536, 1152)
    assert small >= 0.02 * 384 and large >= 0.02 * 1536
    assert 3.5 <= large / small <= 4.5

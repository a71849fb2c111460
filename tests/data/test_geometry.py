"""simplepose.data.geometry against MMPose 1.3.2's geometry goldens (geometry.npz, val/e2e goldens)."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.data.geometry import (affine_points, bbox_xywh_to_xyxy, bbox_xyxy_to_center_scale, bbox_xyxy_to_xywh,
                                      box_nms, clip_xyxy, pairwise_iou,
                                      fix_aspect_ratio, get_warp_matrix, input_center_scale, input_to_image,
                                      scale_area)
from simplepose.data.instances import PersonInstance


@pytest.fixture(scope="module")
def geo(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "geometry.npz")


@pytest.fixture(scope="module")
def val(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "val_pipeline.npz")


def test_dataset_clipping_matches_reference(geo):
    for i in range(len(geo["bbox_xywh_raw"])):
        inst = PersonInstance("x.jpg", 0, geo["bbox_xywh_raw"][i], np.zeros((17, 3), np.float32),
                              image_size=tuple(int(v) for v in geo["bbox_image_wh"][i]))
        np.testing.assert_array_equal(inst.reference_box(), geo["bbox_xyxy_dataset"][i], err_msg=f"row {i}")


def test_xyxy_to_xywh_by_hand_and_round_trip() -> None:
    np.testing.assert_array_equal(bbox_xyxy_to_xywh(np.array([[10.0, 20, 40, 60]])), [[10, 20, 30, 40]])
    boxes = np.float32([[1.5, 2.25, 3, 4], [-5, 0, 7, 9]])
    np.testing.assert_array_equal(bbox_xywh_to_xyxy(bbox_xyxy_to_xywh(boxes)), boxes)
    assert bbox_xyxy_to_xywh(boxes).dtype == np.float32


def test_oks_areas_by_hand() -> None:
    # 30 x 40 box padded 1.25 -> 37.5 x 50, aspect 0.75 fits exactly -> 1875
    assert scale_area(input_center_scale(np.array([[10, 20, 40, 60]]), 0.75)[1])[0] == np.float32(1875.0)
    # 60 x 40 -> 75 x 50 -> width wins: 75 x 100 = 7500
    assert scale_area(input_center_scale(np.array([[0, 0, 60, 40]]), 0.75)[1])[0] == np.float32(7500.0)


def test_reference_box_clips_annotations_not_detections() -> None:
    kp = np.zeros((17, 3), np.float32)
    gt = PersonInstance("x.jpg", 1, np.array([-10.0, 20, 50, 40]), kp, image_size=(100, 100))
    det = PersonInstance("x.jpg", 1, np.array([-10.0, 20, 50, 40]), kp, is_detection=True)
    unsized = PersonInstance("x.jpg", 1, np.array([0.0, 0, 60, 40]), kp)
    np.testing.assert_array_equal(gt.reference_box(), np.float32([0, 20, 40, 60]))      # clipped to x 0..40
    np.testing.assert_array_equal(det.reference_box((100, 100)), np.float32([-10, 20, 40, 60]))
    # an annotated box without a size in its record is clipped to the size read from the image
    np.testing.assert_array_equal(unsized.reference_box((50, 30)), np.float32([0, 0, 49, 29]))
    # OKS areas of those boxes: 40 x 40 -> 50 x 50 -> 50 x 66.67; 50 x 40 -> 62.5 x 50 -> 62.5 x 83.33;
    # 49 x 29 -> 61.25 x 36.25 -> 61.25 x 81.67
    areas = [scale_area(input_center_scale(b, 0.75)[1])
             for b in (gt.reference_box(), det.reference_box(), unsized.reference_box((50, 30)))]
    assert areas[0] == pytest.approx(50 * 50 / 0.75, rel=1e-6)
    assert areas[1] == pytest.approx(62.5 * 62.5 / 0.75, rel=1e-6)
    assert areas[2] == pytest.approx(61.25 * 61.25 / 0.75, rel=1e-6)


def test_center_scale_and_aspect_fix_exact(geo):
    center, scale = bbox_xyxy_to_center_scale(geo["bbox_xyxy_dataset"], padding=1.25)
    np.testing.assert_array_equal(center, geo["bbox_center"])
    np.testing.assert_array_equal(scale, geo["bbox_scale_padded"])
    np.testing.assert_array_equal(fix_aspect_ratio(scale, 192 / 256), geo["bbox_scale_fixed"])


def test_unclipped_xywh_center_scale(geo):
    # the reference's API path (bbox_xywh2cs) works in float64; ours in float32: 1e-6 relative
    center, scale = bbox_xyxy_to_center_scale(bbox_xywh_to_xyxy(geo["bbox_xywh_raw"]), padding=1.25)
    np.testing.assert_allclose(center, geo["bbox_xywh2cs_center"], rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(scale, geo["bbox_xywh2cs_scale"], rtol=1e-6, atol=1e-4)


def test_float64_xywh_center_scale_as_the_api_path(geo):
    # the reference's API path keeps float64 boxes in float64: so does dtype=np.float64
    center, scale = input_center_scale(bbox_xywh_to_xyxy(geo["bbox_xywh_raw"]), 192 / 256, padding=1.25,
                                       dtype=np.float64)
    assert center.dtype == scale.dtype == np.float64
    np.testing.assert_allclose(center, geo["bbox_xywh2cs_center"], rtol=1e-12, atol=0)
    w, h = geo["bbox_xywh2cs_scale"][:, :1], geo["bbox_xywh2cs_scale"][:, 1:]
    fixed = np.where(w > h * 0.75, np.hstack([w, w / 0.75]), np.hstack([h * 0.75, h]))  # MMPose's rule
    np.testing.assert_allclose(scale, fixed, rtol=1e-12, atol=0)


def test_warp_matrices_within_1e5_relative(geo):
    for i in range(len(geo["warp_matrix"])):
        m = get_warp_matrix(geo["warp_center"][i], geo["warp_scale"][i], float(geo["warp_rot"][i]),
                            tuple(int(v) for v in geo["warp_output_size"][i]), shift=tuple(geo["warp_shift"][i]),
                            inv=bool(geo["warp_inv"][i]), fix_aspect_ratio=bool(geo["warp_fix_aspect_ratio"][i]))
        ref = geo["warp_matrix"][i]
        assert np.abs(m - ref).max() <= 1e-5 * np.abs(ref).max(), f"row {i}"


def test_warp_maps_box_onto_output():
    # hand-computed: the box centre lands on the output centre; the box's left edge midpoint on x=0
    # (the matrix is solved from float32 points, as the reference does: ~1e-5 px agreement)
    c, s = np.array([500.0, 300.0], np.float32), np.array([150.0, 200.0], np.float32)
    for rot in (0.0, 30.0, -90.0):
        m = get_warp_matrix(c, s, rot, (192, 256))
        np.testing.assert_allclose(m @ [500, 300, 1], [96, 128], atol=1e-4)
        r = np.deg2rad(rot)
        left = c + np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]]) @ [-75.0, 0.0]
        np.testing.assert_allclose(m @ [*left, 1], [0, 128], atol=1e-4)
        inv = get_warp_matrix(c, s, rot, (192, 256), inv=True)
        np.testing.assert_allclose(np.vstack([inv, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]]), np.eye(3), atol=1e-6)


def test_affine_points_matches_transformed_keypoints(val):
    for i in range(len(val["warp_matrix"])):
        out = affine_points(val["keypoints"][i], val["warp_matrix"][i])
        np.testing.assert_array_equal(out, val["transformed_keypoints"][i])  # cv2.transform, as the reference


def test_input_to_image_matches_e2e(mmpose_golden_dir):
    e2e = np.load(mmpose_golden_dir / "e2e_inference_topdown.npz")
    out = input_to_image(e2e["keypoints_input_space"], e2e["input_center"], e2e["input_scale"], (192, 256))
    # the reference evaluates this in float64 (kp / int input_size promotes) and rounds once; a float32
    # evaluation differs by up to 1 ulp at x ~ 1000-2000 (1.2e-4 px)
    np.testing.assert_allclose(out, e2e["keypoints"], rtol=0, atol=0)  # bit-exact


def test_clip_xyxy_by_hand():
    boxes = np.array([[-5.5, 10.0, 700.25, 300.0], [1.0, -2.0, 50.0, 500.0]])
    sizes = np.array([[640.0, 480.0], [np.inf, 100.0]])     # inf: that axis is not clipped
    np.testing.assert_array_equal(clip_xyxy(boxes, sizes),
                                  np.array([[0, 10, 639, 300], [1, 0, 50, 99]], np.float32))


def test_pairwise_iou_hand_computed() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 105, 105]])               # xyxy
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [0, 0, 0, 0]])
    iou = pairwise_iou(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_box_nms_by_hand() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float64)
    # IoU(0, 1) = 90 / 110 = 0.818
    assert box_nms(boxes, np.array([0.5, 0.9, 0.7]), 0.8).tolist() == [1, 2]
    assert box_nms(boxes, np.array([0.5, 0.9, 0.7]), 0.85).tolist() == [1, 2, 0]
    assert box_nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


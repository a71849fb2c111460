"""Flips, half-body, box transform, the draws' distributions and the scripted train pipeline against MMPose 1.3.2 goldens."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simplepose.data.augment import (AugmentConfig, AugmentParams, bbox_transform, flip_bbox_xyxy, flip_center,
                                     flip_keypoints, half_body_box, sample_augment_params, sample_geometry,
                                     select_half_body, truncated_normal)
from simplepose.data.codec import MSRAHeatmap
from simplepose.data.geometry import fix_aspect_ratio
from simplepose.data.keypoints import POSETRACK18
from simplepose.data.transforms import warp_image
from tests.data.mmpose_goldens import read, scripted_params

S = POSETRACK18


# ----------------------------------------------------------------------------- flips
def test_flips_match_reference(geo):
    for i in range(len(geo["flip_keypoints_in"])):
        kp, vis = flip_keypoints(geo["flip_keypoints_in"][i], geo["flip_visible_in"][i], S.flip_indices,
                                 int(geo["flip_image_wh"][i][0]))
        np.testing.assert_array_equal(kp, geo["flip_keypoints_out"][i], err_msg=f"row {i}")
        np.testing.assert_array_equal(vis, geo["flip_visible_out"][i], err_msg=f"row {i}")
    np.testing.assert_array_equal(flip_bbox_xyxy(geo["flip_bbox_xyxy_in"], 1920), geo["flip_bbox_xyxy_out"])
    np.testing.assert_array_equal(flip_center(geo["flip_center_in"], 1920), geo["flip_center_out"])
    assert list(geo["flip_indices"]) == list(S.flip_indices)


def test_flips_of_flips_are_identities(geo):
    kp, vis = geo["flip_keypoints_in"][0], geo["flip_visible_in"][0]
    kp2, vis2 = flip_keypoints(*flip_keypoints(kp, vis, S.flip_indices, 1920), S.flip_indices, 1920)
    np.testing.assert_allclose(kp2, kp, rtol=0, atol=1e-4)   # float32 rounding of w - 1 - x only
    np.testing.assert_array_equal(vis2, vis)
    np.testing.assert_allclose(flip_center(flip_center(geo["flip_center_in"], 1920), 1920), geo["flip_center_in"],
                               rtol=0, atol=1e-4)
    np.testing.assert_allclose(flip_bbox_xyxy(flip_bbox_xyxy(geo["flip_bbox_xyxy_in"], 1920), 1920),
                               geo["flip_bbox_xyxy_in"], rtol=0, atol=1e-4)
    img = np.random.default_rng(0).integers(0, 256, (20, 31, 3), dtype=np.uint8)
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    np.testing.assert_array_equal(warp_image(img, m, (31, 20), mirror=True), img[:, ::-1])


# ----------------------------------------------------------------------------- half body
def test_half_body_box_matches_reference(geo):
    for i in range(len(geo["halfbody_center"])):
        c, s = half_body_box(geo["halfbody_keypoints"][i], np.flatnonzero(geo["halfbody_selected"][i]), 1.5)
        np.testing.assert_array_equal(c, geo["halfbody_center"][i], err_msg=f"row {i}")
        np.testing.assert_array_equal(s, geo["halfbody_scale"][i], err_msg=f"row {i}")


def test_half_body_boxes_contain_the_chosen_joints(geo):
    for i in range(len(geo["halfbody_center"])):
        kp, sel = geo["halfbody_keypoints"][i], geo["halfbody_selected"][i]
        c, s = half_body_box(kp, np.flatnonzero(sel), 1.5)
        s = fix_aspect_ratio(s, 0.75)
        assert (np.abs(kp[sel] - c) <= s / 2).all(), f"row {i}"


def test_half_body_transform_scripted(geo, val):
    draws = [[0.1, 0.5], [0.1, 0.9], [0.29, 0.69], [0.31], [0.99], [0.0, 0.0], [0.2, 0.71], [0.05, 0.3]]
    arrays, _ = val
    for row, n in enumerate(geo["halfbody_tf_instance"]):
        d = draws[row] + [1.0] * (2 - len(draws[row]))
        params = AugmentParams(halfbody_gate=d[0], halfbody_upper=d[1])
        ids = select_half_body(arrays["keypoints_visible"][n], S.upper_body_ids, S.lower_body_ids, params)
        c, s = geo["halfbody_tf_center_in"][row], geo["halfbody_tf_scale_in"][row]
        if ids is not None:
            c, s = half_body_box(arrays["keypoints"][n], ids, 1.5)
        np.testing.assert_array_equal(c, geo["halfbody_tf_center_out"][row], err_msg=f"row {row}")
        np.testing.assert_array_equal(s, geo["halfbody_tf_scale_out"][row], err_msg=f"row {row}")


def test_half_body_rules_by_hand():
    vis = np.zeros(17, np.float32)
    vis[[0, 1, 2, 3, 4, 5, 6, 7, 11, 12]] = 1               # 10 visible: 8 upper, 2 lower
    on = AugmentParams(halfbody_gate=0.1, halfbody_upper=0.9)  # lower preferred, but too few lower
    assert select_half_body(vis, S.upper_body_ids, S.lower_body_ids, on) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert select_half_body(vis, S.upper_body_ids, S.lower_body_ids, AugmentParams(halfbody_gate=0.31)) is None
    vis[[11, 12]] = 0                                      # 8 visible < 9: never
    assert select_half_body(vis, S.upper_body_ids, S.lower_body_ids, on) is None


# ----------------------------------------------------------------------------- box transform
def test_bbox_transform_scripted(geo):
    for i in range(len(geo["bboxtf_truncnorm"])):
        params = AugmentParams(truncnorm=geo["bboxtf_truncnorm"][i].astype(np.float32), gates=geo["bboxtf_rand"][i])
        c, s, r = bbox_transform(geo["bboxtf_center_in"][i], geo["bboxtf_scale_in"][i], params)
        np.testing.assert_array_equal(c, geo["bboxtf_center_out"][i], err_msg=f"row {i}")
        np.testing.assert_array_equal(s, geo["bboxtf_scale_out"][i], err_msg=f"row {i}")
        assert r == geo["bboxtf_rotation"][i] and r.dtype == np.float32


def _closed_form_warp(center, scale, rot_deg, size):
    """Hand-derived map: scale by out_w / box_w, rotate by -rot about the centre, centre -> middle."""
    r = np.deg2rad(rot_deg)
    a = size[0] / float(scale[0]) * np.array([[np.cos(r), np.sin(r)], [-np.sin(r), np.cos(r)]])
    return np.hstack([a, (np.array([size[0] / 2, size[1] / 2]) - a @ np.asarray(center, np.float64))[:, None]])


def test_fixed_draws_give_hand_computed_warp():
    kp = np.zeros((17, 2), np.float32)
    kp[0] = [400.0, 300.0]
    vis = np.zeros(17, np.float32)
    box = np.array([300.0, 100.0, 500.0, 500.0], np.float32)  # centre (400, 300), padded (250, 500)
    params = AugmentParams(truncnorm=np.array([0.5, -0.25, 0.2, 0.5], np.float32), gates=np.zeros(3))
    g = sample_geometry(kp, vis, box, 1000, params, S.flip_indices, S.upper_body_ids, S.lower_body_ids)
    # shift (0.08 w, -0.04 h), scale x1.1, rotation 40 deg, then the aspect fix to 0.75
    np.testing.assert_allclose(g.center, [400 + 0.08 * 250, 300 - 0.04 * 500], rtol=1e-6)
    np.testing.assert_allclose(g.scale, [1.1 * 500 * 0.75, 1.1 * 500], rtol=1e-6)
    assert g.rotation == pytest.approx(40.0, rel=1e-6)
    hand = _closed_form_warp(g.center, g.scale, 40.0, (192, 256))
    np.testing.assert_allclose(g.matrix, hand, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(g.input_keypoints[0], hand @ [400, 300, 1], atol=1e-3)
    np.testing.assert_allclose(hand @ [*g.center, 1], [96, 128], atol=1e-9)
    # flipped: the box centre mirrors about the image (x' = w - 1 - x), and so does the keypoint
    gf = sample_geometry(kp, vis, box, 1000, AugmentParams(flip=True, truncnorm=params.truncnorm,
                                                            gates=params.gates),
                         S.flip_indices, S.upper_body_ids, S.lower_body_ids)
    np.testing.assert_allclose(gf.center, [999 - 400 + 0.08 * 250, 300 - 0.04 * 500], rtol=1e-6)
    np.testing.assert_allclose(gf.keypoints[0], [599, 300])


# ----------------------------------------------------------------------------- full scripted pipeline
def test_train_pipeline_scripted(train, val, samples_dir):
    t, meta = train
    v, vmeta = val
    codec = MSRAHeatmap()
    for j, m in enumerate(meta):
        n = m["instance"]
        assert vmeta[n]["ann_id"] == m["ann_id"]
        img = read(samples_dir, m["img_path"])
        g = sample_geometry(v["keypoints"][n], v["keypoints_visible"][n], v["bbox"][n], img.shape[1],
                            scripted_params(m), S.flip_indices, S.upper_body_ids, S.lower_body_ids)
        np.testing.assert_array_equal(g.keypoints, t["keypoints_flip"][j])
        np.testing.assert_array_equal(g.visible, t["keypoints_visible_flip"][j])
        np.testing.assert_array_equal(g.center, t["input_center"][j])
        np.testing.assert_array_equal(g.scale, t["input_scale"][j])
        assert g.rotation == t["bbox_rotation"][j]
        np.testing.assert_array_equal(g.input_keypoints, t["transformed_keypoints"][j])
        crop = warp_image(img, g.matrix, (192, 256), mirror=g.flip)    # flip folded into the warp
        diff = np.abs(crop.astype(int) - t["img"][j])
        assert diff.max() <= 1, f"instance {j}: crop differs by {diff.max()}"
        hm, w = codec.encode(g.input_keypoints, g.visible)
        np.testing.assert_allclose(hm, t["heatmaps"][j], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(w, t["keypoint_weights"][j])


# ----------------------------------------------------------------------------- distributions
def _truncnorm_cdf(x: np.ndarray) -> np.ndarray:
    """CDF of the standard normal truncated to [-1, 1]."""
    phi = np.vectorize(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2))))
    return (phi(x) - phi(-1.0)) / (phi(1.0) - phi(-1.0))


def test_truncated_normal_distribution():
    z = np.sort(truncated_normal(np.random.default_rng(123), 20000))
    assert z.min() >= -1 and z.max() <= 1
    ks = np.abs(_truncnorm_cdf(z) - np.arange(1, len(z) + 1) / len(z)).max()
    assert ks < 0.015                     # KS critical value at alpha=0.01 for n=20000 is 0.0115
    assert abs(z.std() - 0.5396) < 0.01   # std of N(0,1) truncated to [-1, 1]


def test_sampled_augmentations_follow_the_stated_distributions():
    cfg = AugmentConfig()
    draws = [sample_augment_params(np.random.default_rng([7, 0, i]), cfg) for i in range(4000)]
    box_c, box_s = np.array([500, 500], np.float32), np.array([200, 400], np.float32)
    out = [bbox_transform(box_c, box_s, p, cfg) for p in draws]
    factor = np.array([o[1][0] / 200 for o in out])
    rot = np.array([o[2] for o in out])
    shift = np.array([(o[0] - box_c) / box_s for o in out])
    assert abs(np.mean([p.flip for p in draws]) - 0.5) < 0.03
    assert factor.min() >= 0.5 and factor.max() <= 1.5 and abs(factor.mean() - 1.0) < 0.02
    assert abs(np.mean(rot != 0) - 0.6) < 0.03 and np.abs(rot).max() <= 80
    assert abs(np.std(rot[rot != 0]) - 80 * 0.5396) < 2.0
    moved = np.any(shift != 0, axis=1)
    assert abs(moved.mean() - 0.3) < 0.03 and np.abs(shift).max() <= 0.16 + 1e-6
    assert abs(np.mean([p.halfbody_gate <= 0.3 for p in draws]) - 0.3) < 0.03
    # the same (seed, epoch, index) reproduces the draws exactly
    again = sample_augment_params(np.random.default_rng([7, 0, 5]), cfg)
    assert again.flip == draws[5].flip and np.array_equal(again.truncnorm, draws[5].truncnorm)

"""MSRA heatmap codec, DARK variant and flip-back against MMPose 1.3.2 goldens and hand-computed cases."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from simplepose.data.codec import MSRAHeatmap, flip_heatmaps, gaussian_blur, heatmap_maximum
from simplepose.data.keypoints import POSETRACK18

FLIP = POSETRACK18.flip_indices


@pytest.fixture(scope="module")
def codec_golden(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "codec_msra_heatmap.npz")


@pytest.fixture(scope="module")
def forward_golden(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "model_forward.npz")


def test_encode_matches_reference(codec_golden):
    codec = MSRAHeatmap()
    for i in range(len(codec_golden["enc_keypoints"])):
        hm, w = codec.encode(codec_golden["enc_keypoints"][i, 0], codec_golden["enc_keypoints_visible"][i, 0])
        assert hm.shape == (17, 64, 48) and hm.dtype == np.float32 and w.dtype == np.float32
        np.testing.assert_allclose(hm, codec_golden["enc_heatmaps"][i], rtol=0, atol=1e-6, err_msg=f"case {i}")
        np.testing.assert_array_equal(w, codec_golden["enc_keypoint_weights"][i, 0], err_msg=f"case {i}")


def test_encode_edge_rules_by_hand():
    codec = MSRAHeatmap()
    kp = np.array([[-3.9, 100], [-31.2, 100], [-34.8, 100], [50, 60], [50, 60], [10, 10]], np.float32)
    vis = np.array([1, 1, 1, 0.3, 2, 0.5], np.float32)
    pad = np.zeros((17 - len(kp), 2), np.float32)
    hm, w = codec.encode(np.vstack([kp, pad]), np.concatenate([vis, np.zeros(17 - len(kp), np.float32)]))
    # truncation toward zero: x=-3.9 -> mu_x = int(-0.475) = 0, so the peak is in column 0
    assert hm[0, 25, 0] == 1.0 and w[0] == 1
    # mu=-7 keeps weight 1 but draws nothing; mu=-8 drops the weight
    assert w[1] == 1 and hm[1].max() == 0
    assert w[2] == 0 and hm[2].max() == 0
    # visibility < 0.5: skipped and the weight keeps the visibility; 2 stays 2
    assert w[3] == np.float32(0.3) and hm[3].max() == 0
    assert w[4] == 2 and hm[4].max() == 1.0
    # 13x13 kernel exp(-d^2/8): peak at (3, 3) with value 1, 6 px away exp(-36/8), 7 px away 0
    assert hm[5, 3, 3] == 1.0 and hm[5, 3, 9] == np.exp(np.float32(-4.5)) and hm[5, 3, 10] == 0


def test_decode_matches_reference(codec_golden):
    codec = MSRAHeatmap()
    locs, vals = heatmap_maximum(codec_golden["dec_heatmaps"])
    np.testing.assert_array_equal(locs, codec_golden["dec_argmax_locs"])
    np.testing.assert_array_equal(vals, codec_golden["dec_argmax_vals"])
    kp, scores = codec.decode(codec_golden["dec_heatmaps"])            # all 11 cases in one batch
    np.testing.assert_allclose(kp, codec_golden["dec_keypoints"][:, 0], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(scores, codec_golden["dec_scores"][:, 0])
    kp1, sc1 = codec.decode(torch.from_numpy(codec_golden["dec_heatmaps"][3]))   # (K, h, w) torch input
    np.testing.assert_array_equal(kp1[0], kp[3])
    np.testing.assert_array_equal(sc1[0], scores[3])


def test_round_trip_on_grid_nodes():
    codec = MSRAHeatmap()
    rng = np.random.default_rng(0)
    kp = (rng.integers(2, 46, size=(17, 2)) * 4).astype(np.float32)
    kp[:, 1] = rng.integers(2, 62, size=17) * 4
    hm, _ = codec.encode(kp)
    out, scores = codec.decode(hm[None])
    np.testing.assert_array_equal(out[0], kp)
    np.testing.assert_array_equal(scores[0], np.ones(17, np.float32))


def test_flip_heatmaps_matches_reference(forward_golden):
    raw = torch.from_numpy(forward_golden["heatmaps_flip_input_raw"])
    back = flip_heatmaps(raw, FLIP, shift=True)
    np.testing.assert_array_equal(back.numpy(), forward_golden["heatmaps_flip_back"])
    avg = (torch.from_numpy(forward_golden["heatmaps"]) + back) * 0.5
    np.testing.assert_allclose(avg.numpy(), forward_golden["heatmaps_flip_test"], rtol=0, atol=1e-6)


def test_flip_heatmaps_semantics_by_hand():
    x = torch.arange(2 * 17 * 3 * 4, dtype=torch.float32).reshape(2, 17, 3, 4)
    twice = flip_heatmaps(flip_heatmaps(x, FLIP, shift=False), FLIP, shift=False)
    assert torch.equal(twice, x)
    y = flip_heatmaps(x, FLIP, shift=True)
    # channel 3 (left ear) comes from channel 4 mirrored, shifted right one column, column 0 kept
    m = x[:, 4].flip(-1)
    assert torch.equal(y[:, 3, :, 1:], m[:, :, :-1]) and torch.equal(y[:, 3, :, 0], m[:, :, 0])


def test_decode_model_outputs(forward_golden, mmpose_golden_dir):
    codec = MSRAHeatmap()
    kp, sc = codec.decode(torch.from_numpy(forward_golden["heatmaps"]))
    np.testing.assert_allclose(kp, forward_golden["keypoints_input_space"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(sc, forward_golden["scores"])
    kp, sc = codec.decode(forward_golden["heatmaps_flip_test"])
    np.testing.assert_allclose(kp, forward_golden["keypoints_input_space_flip_test"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(sc, forward_golden["scores_flip_test"])
    e2e = np.load(mmpose_golden_dir / "e2e_inference_topdown.npz")
    kp, sc = codec.decode(e2e["heatmaps_flip_test"])
    np.testing.assert_allclose(kp, e2e["keypoints_input_space"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(sc, e2e["keypoint_scores"])


def test_dark_blur_equals_opencv_per_channel():
    rng = np.random.default_rng(1)
    hm = rng.uniform(0, 1, size=(2, 3, 64, 48)).astype(np.float32)
    out = gaussian_blur(hm, 11)
    for n in range(2):
        for k in range(3):
            pad = np.zeros((74, 58), np.float32)
            pad[5:-5, 5:-5] = hm[n, k]
            ref = cv2.GaussianBlur(pad, (11, 11), 0)[5:-5, 5:-5]
            ref = ref * (hm[n, k].max() / ref.max())
            np.testing.assert_allclose(out[n, k], ref, rtol=1e-5, atol=1e-6)


def test_dark_encode_by_hand_and_round_trip():
    dark, plain = MSRAHeatmap(unbiased=True), MSRAHeatmap()
    kp = np.zeros((17, 2), np.float32)
    kp[0] = [4 * 10.5, 4 * 20]                     # half-way between columns 10 and 11
    hm, w = dark.encode(kp, np.r_[1, np.zeros(16)].astype(np.float32))
    assert hm[0, 20, 10] == hm[0, 20, 11] == np.exp(np.float32(-0.25) / np.float32(8))
    assert w[0] == 1 and hm[1:].max() == 0
    rng = np.random.default_rng(2)
    kp = rng.uniform([16, 16], [176, 240], size=(40, 17, 2)).astype(np.float32)
    hms = np.stack([dark.encode(k)[0] for k in kp])
    out, _ = dark.decode(hms)
    assert np.abs(out - kp).max() < 0.25                   # input px; sub-pixel accurate
    out_plain, _ = plain.decode(np.stack([plain.encode(k)[0] for k in kp]))
    assert np.abs(out_plain - kp).max() > 1.0              # the quarter-offset decode is not


def test_decode_rejects_bad_shape():
    with pytest.raises(ValueError):
        MSRAHeatmap().decode(np.zeros((64, 48), np.float32))

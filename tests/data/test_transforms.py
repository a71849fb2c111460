"""Crops, the mirrored warp and the input normalisation against MMPose 1.3.2 goldens."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from simplepose.data.geometry import affine_points, get_warp_matrix
from simplepose.data.keypoints import POSETRACK18
from simplepose.data.transforms import crop_person, crop_persons, normalise_crops, warp_image
from tests.data.mmpose_goldens import read

S = POSETRACK18


# ----------------------------------------------------------------------------- matrices and crops
def test_warp_matrix_bit_identical_to_reference(geo):
    for i in range(len(geo["warp_matrix"])):
        m = get_warp_matrix(geo["warp_center"][i], geo["warp_scale"][i], float(geo["warp_rot"][i]),
                        tuple(int(v) for v in geo["warp_output_size"][i]), shift=tuple(geo["warp_shift"][i]),
                        inv=bool(geo["warp_inv"][i]), fix_aspect_ratio=bool(geo["warp_fix_aspect_ratio"][i]))
        np.testing.assert_allclose(m, geo["warp_matrix"][i], rtol=1e-12, atol=1e-12, err_msg=f"row {i}")


def test_val_crops_bit_exact(val, samples_dir):
    arrays, meta = val
    centers, scales = arrays["bbox_center"], arrays["input_scale"]
    for i, m in enumerate(meta):
        img = read(samples_dir, m["img_path"])
        crop = crop_person(img, centers[i], scales[i], 0.0, (192, 256))
        np.testing.assert_array_equal(crop, arrays["img"][i], err_msg=f"instance {i}")
        mat = get_warp_matrix(arrays["input_center"][i], arrays["input_scale"][i], 0.0, (192, 256))
        np.testing.assert_array_equal(mat, arrays["warp_matrix"][i])
        np.testing.assert_array_equal(affine_points(arrays["keypoints"][i], mat),
                                      arrays["transformed_keypoints"][i])
    # the batched form gives the same crops
    first = [i for i, m in enumerate(meta) if m["img_path"] == meta[0]["img_path"]]
    img = read(samples_dir, meta[0]["img_path"])
    np.testing.assert_array_equal(crop_persons(img, centers[first], scales[first]), arrays["img"][first])


def test_normalised_input_matches_preprocessor(val):
    arrays, _ = val
    np.testing.assert_array_equal(arrays["img"][0].transpose(2, 0, 1), arrays["packed_input_0"])
    x = normalise_crops(arrays["img"][:2])
    assert x.shape == (2, 3, 256, 192) and x.is_contiguous()
    np.testing.assert_array_equal(x[0].numpy(), arrays["preprocessed_input_0"])
    with pytest.raises(ValueError):
        normalise_crops(arrays["img"][0].astype(np.float32))


def test_normalise_equals_float32_arithmetic():
    crops = np.random.default_rng(5).integers(0, 256, (3, 8, 6, 3), dtype=np.uint8)
    rgb = torch.from_numpy(crops[..., ::-1].copy()).permute(0, 3, 1, 2).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    assert torch.equal(normalise_crops(crops), (rgb - mean) / std)
    assert torch.equal(normalise_crops(crops[1]), ((rgb - mean) / std)[1:2])


def test_normalise_into_bf16_channels_last_rounds_the_float32_values_once():
    crops = np.random.default_rng(6).integers(0, 256, (3, 8, 6, 3), dtype=np.uint8)
    rgb = torch.from_numpy(crops[..., ::-1].copy()).permute(0, 3, 1, 2).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    x = normalise_crops(crops, torch.bfloat16, channels_last=True)
    assert x.dtype == torch.bfloat16 and x.shape == (3, 3, 8, 6)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, ((rgb - mean) / std).to(torch.bfloat16))
    assert torch.equal(normalise_crops(crops, channels_last=True), (rgb - mean) / std)
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        normalise_crops(crops, torch.float16)


def test_warp_image_same_geometry_as_opencv():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (300, 401, 3), dtype=np.uint8), (5, 5), 0)
    legacy = cv2.__version__.startswith("4.")
    for _ in range(20):
        m = get_warp_matrix(rng.uniform([0, 0], [400, 300]).astype(np.float32),
                        np.full(2, rng.uniform(20, 600), np.float32), float(rng.uniform(-180, 180)), (192, 256))
        ours = warp_image(img, m, (192, 256)).astype(int)
        ref = cv2.warpAffine(img, m, (192, 256), flags=cv2.INTER_LINEAR).astype(int)
        if legacy:            # the fixed-point scheme we reproduce
            np.testing.assert_array_equal(ours, ref)
        else:                 # OpenCV 5 rounds sample positions differently: same geometry, few levels
            assert np.abs(ours - ref).max() <= 4 and np.abs(ours - ref).mean() < 0.2


def test_mirrored_sampling_equals_flipping_the_frame():
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (240, 333, 3), dtype=np.uint8), (3, 3), 0)
    flipped = np.ascontiguousarray(img[:, ::-1])
    for _ in range(30):
        m = get_warp_matrix(rng.uniform([-50, -50], [380, 290]).astype(np.float32),
                        np.full(2, rng.uniform(10, 500), np.float32), np.float32(rng.uniform(-180, 180)), (192, 256))
        np.testing.assert_array_equal(warp_image(img, m, (192, 256), mirror=True), warp_image(flipped, m, (192, 256)))

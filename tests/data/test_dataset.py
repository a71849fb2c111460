"""TopDownDataset: val/train goldens through the dataset path, determinism, workers, reduced decode, errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import simplepose.data.dataset as dataset_mod
from simplepose.data.augment import AugmentConfig, AugmentParams, sample_geometry
from simplepose.data.dataset import TopDownDataset, worker_init
from simplepose.data.geometry import scale_area
from simplepose.data.image import probe_image_size, read_image, reduction_matrix, region_decode_available
from simplepose.data.instances import PersonInstance
from simplepose.data.keypoints import POSETRACK18
from simplepose.data.transforms import image_sampling_matrix, warp_image
from simplepose.errors import DataError
from tests.data.mmpose_goldens import scripted_params

S = POSETRACK18


@pytest.fixture(scope="module")
def golden_instances(mmpose_golden_dir, samples_dir):
    """The 14 GT persons of the sample annotation, rebuilt from the goldens (raw boxes, GT keypoints)."""
    v = np.load(mmpose_golden_dir / "val_pipeline.npz")
    meta = json.loads((mmpose_golden_dir / "val_pipeline.json").read_text())["instances"]
    g = np.load(mmpose_golden_dir / "geometry.npz")
    out = []
    for i, m in enumerate(meta):
        kp = np.concatenate([v["keypoints"][i], v["keypoints_visible"][i][:, None]], 1).astype(np.float32)
        out.append(PersonInstance(image_path=str(samples_dir / m["img_path"]), image_id=m["img_id"],
                                  bbox_xywh=g["bbox_xywh_raw"][i], keypoints=kp,
                                  image_size=tuple(int(x) for x in g["bbox_image_wh"][i]), ann_id=m["ann_id"]))
    return out


@pytest.mark.parametrize("region_decode", [True, False])
def test_val_items_match_reference(golden_instances, mmpose_golden_dir, region_decode, monkeypatch):
    v = np.load(mmpose_golden_dir / "val_pipeline.npz")
    ds = TopDownDataset(golden_instances, S, train=False, region_decode=region_decode)
    if region_decode and region_decode_available():       # prove the region path is the one taken
        monkeypatch.setattr(dataset_mod, "read_image", _no_full_decode)
    assert len(ds) == 14
    for i in range(len(ds)):
        s = ds.load_sample(i)
        np.testing.assert_array_equal(s["crop"], v["img"][i])
        np.testing.assert_array_equal(s["center"], v["input_center"][i])
        np.testing.assert_array_equal(s["scale"], v["input_scale"][i])
        np.testing.assert_array_equal(s["input_keypoints"], v["transformed_keypoints"][i])
    item = ds[0]
    assert set(item) == {"inputs", "heatmaps", "weights", "center", "scale", "rotation", "index"}
    np.testing.assert_array_equal(item["inputs"].numpy(), v["preprocessed_input_0"])
    assert item["heatmaps"].shape == (17, 64, 48) and item["weights"].shape == (17,)
    assert item["rotation"].item() == 0 and item["index"].dtype == torch.int64


def test_missing_turbojpeg_falls_back_to_full_decode(golden_instances, mmpose_golden_dir, monkeypatch):
    import simplepose.data.image as image_mod
    monkeypatch.setattr(image_mod, "_TURBO", None)          # as on a machine without libturbojpeg
    v = np.load(mmpose_golden_dir / "val_pipeline.npz")
    ds = TopDownDataset(golden_instances, S, train=False)
    for i in (0, 7, 13):
        np.testing.assert_array_equal(ds.load_sample(i)["crop"], v["img"][i])


def _no_full_decode(*args, **kwargs):
    """Stand-in for read_image that fails: the sample must come from the region decoder."""
    raise AssertionError("full-frame decode used although region decoding is available")


@pytest.mark.parametrize("region_decode", [True, False])
def test_train_items_with_scripted_draws_match_reference(golden_instances, mmpose_golden_dir, region_decode,
                                                         monkeypatch):
    t = np.load(mmpose_golden_dir / "train_pipeline_scripted.npz")
    meta = json.loads((mmpose_golden_dir / "train_pipeline_scripted.json").read_text())["instances"]
    ds = TopDownDataset(golden_instances, S, train=True, region_decode=region_decode)
    if region_decode and region_decode_available():
        monkeypatch.setattr(dataset_mod, "read_image", _no_full_decode)
    for j, m in enumerate(meta):
        s = ds.load_sample(m["instance"], scripted_params(m))
        assert np.abs(s["crop"].astype(int) - t["img"][j]).max() <= 1
        np.testing.assert_array_equal(s["center"], t["input_center"][j])
        np.testing.assert_array_equal(s["scale"], t["input_scale"][j])
        assert s["rotation"] == t["bbox_rotation"][j]
        np.testing.assert_allclose(s["heatmaps"], t["heatmaps"][j], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(s["weights"], t["keypoint_weights"][j])


@pytest.mark.skipif(not region_decode_available(), reason="libturbojpeg (optional) not installed")
@pytest.mark.parametrize("reduced", [False, True])
def test_region_decode_is_bit_identical_to_full_decode(golden_instances, reduced):
    aug = AugmentConfig(reduced_decode=reduced)
    region = TopDownDataset(golden_instances, S, train=True, aug=aug, seed=3)
    full = TopDownDataset(golden_instances, S, train=True, aug=aug, seed=3, region_decode=False)
    for epoch in range(3):                                 # random flips, half-body, shifts, scales, rotations
        region.set_epoch(epoch)
        full.set_epoch(epoch)
        for i in range(len(region)):
            a, b = region.load_sample(i), full.load_sample(i)
            assert a["reduce"] == b["reduce"]
            np.testing.assert_array_equal(a["crop"], b["crop"])


def test_image_cache_gives_the_same_samples_and_decodes_each_frame_once(golden_instances, monkeypatch):
    plain = TopDownDataset(golden_instances, S, train=True, seed=5)
    cached = TopDownDataset(golden_instances, S, train=True, seed=5, image_cache_mb=64)
    decoded = []

    def counting_read_image(path, reduce=1):
        decoded.append(path)
        return read_image(path, reduce)

    monkeypatch.setattr(dataset_mod, "read_image", counting_read_image)
    for epoch in range(2):
        cached.set_epoch(epoch)
        plain.set_epoch(epoch)
        for i in range(len(cached)):
            a = cached.load_sample(i)
            n = len(decoded)
            b = plain.load_sample(i)
            del decoded[n:]                                 # count the cached dataset's decodes only
            np.testing.assert_array_equal(a["crop"], b["crop"])
            np.testing.assert_array_equal(a["heatmaps"], b["heatmaps"])
    frames = {inst.image_path for inst in golden_instances}
    assert sorted(decoded) == sorted(frames)                # one decode per frame over both epochs


def test_reduced_decode_keeps_labels_and_aligns_pixels(golden_instances):
    full = TopDownDataset(golden_instances, S, train=True)
    fast = TopDownDataset(golden_instances, S, train=True, aug=AugmentConfig(reduced_decode=True))
    # a big crop (2.5x the input width, downsampled) with and without the flip
    inst = golden_instances[13]
    for flip in (False, True):
        p = AugmentParams(flip=flip, truncnorm=np.array([0, 0, 1.0, 0], np.float32), gates=np.array([1, 0, 1.0]))
        a, b = fast.load_sample(13, p), full.load_sample(13, p)
        assert a["reduce"] >= 2 and b["reduce"] == 1
        for key in ("heatmaps", "weights", "center", "scale", "input_keypoints"):
            np.testing.assert_array_equal(a[key], b[key])
        err = np.abs(a["crop"].astype(float) - b["crop"]).mean()
        assert err < 4.0
        # the pixel mapping is right: shifting it by half a reduced pixel makes the crop worse
        img = read_image(inst.image_path, int(a["reduce"]))
        for dx in (-0.5, 0.5):
            m = image_sampling_matrix(_matrix(full, 13, p), int(a["reduce"]), flip, 1920, img.shape[1])
            m = m @ np.array([[1, 0, dx], [0, 1, 0], [0, 0, 1.0]])
            worse = warp_image(img, m, (192, 256), mirror=flip)
            assert np.abs(worse.astype(float) - b["crop"]).mean() > err


def _matrix(ds: TopDownDataset, index: int, params: AugmentParams) -> np.ndarray:
    """The (flipped) image -> crop matrix of a sample (recomputed like the dataset does)."""
    inst = ds.instances[index]
    kp = inst.keypoints
    g = sample_geometry(kp[:, :2], np.minimum(1, kp[:, 2]), ds._box(inst, inst.image_size), inst.image_size[0],
                        params, S.flip_indices, S.upper_body_ids, S.lower_body_ids)
    return g.matrix


def test_reduction_matrix_maps_block_centres():
    np.testing.assert_allclose(reduction_matrix(2) @ [0, 0, 1], [0.5, 0.5, 1])
    np.testing.assert_allclose(reduction_matrix(4) @ [3, 1, 1], [13.5, 5.5, 1])
    np.testing.assert_allclose(reduction_matrix(1), np.eye(3))


# ----------------------------------------------------------------------------- synthetic images, workers
@pytest.fixture()
def synthetic(tmp_path):
    """Three small JPEGs and nine persons with random keypoints."""
    rng = np.random.default_rng(0)
    insts = []
    for f in range(3):
        img = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (7, 7), 0)
        path = tmp_path / f"{f:06d}.jpg"
        cv2.imwrite(str(path), img)
        for p in range(3):
            x, y = rng.uniform(10, 150), rng.uniform(10, 60)
            kp = np.zeros((17, 3), np.float32)
            kp[:, 0] = rng.uniform(x, x + 100, 17)
            kp[:, 1] = rng.uniform(y, y + 160, 17)
            kp[:, 2] = rng.uniform(size=17) > 0.2
            insts.append(PersonInstance(str(path), f, np.array([x, y, 100.0, 160.0]), kp, image_size=(320, 240),
                                        ann_id=f * 10 + p))
    return insts


def _stack(items: list[dict]) -> dict[str, torch.Tensor]:
    """Stack single items like the default collate does."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_items_reproduce_in_workers_across_epochs(synthetic):
    ds = TopDownDataset(synthetic, S, train=True, seed=3)
    loader = DataLoader(ds, batch_size=3, shuffle=False, num_workers=2, persistent_workers=True,
                        worker_init_fn=worker_init)
    per_epoch = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        batches = list(loader)
        got = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}
        want = _stack([ds[i] for i in range(len(ds))])          # main process, same epoch
        for k in want:
            assert torch.equal(got[k], want[k]), (epoch, k)
        per_epoch.append(got)
    assert not torch.equal(per_epoch[0]["inputs"], per_epoch[1]["inputs"])   # new draws each epoch
    ds.set_epoch(0)
    assert torch.equal(ds[4]["inputs"], per_epoch[0]["inputs"][4])


def test_val_dataset_is_deterministic_and_unaugmented(synthetic):
    ds = TopDownDataset(synthetic, S, train=False)
    a = ds[2]
    ds.set_epoch(5)
    b = ds[2]
    assert all(torch.equal(a[k], b[k]) for k in a) and a["rotation"].item() == 0


def test_probe_image_size(synthetic, samples_dir):
    assert probe_image_size(synthetic[0].image_path) == (320, 240)
    real = samples_dir / "posetrack18/images/val/012834_mpii_test/000000.jpg"
    assert probe_image_size(real) == (1920, 1080)


def test_clear_errors(synthetic, tmp_path):
    bad = [PersonInstance(str(tmp_path / "missing.jpg"), 0, np.array([1.0, 1, 50, 50]), synthetic[0].keypoints,
                          image_size=(320, 240), ann_id=99)]
    with pytest.raises(DataError, match="missing.jpg.*not found"):
        TopDownDataset(bad, S)[0]
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 this is no jpeg")
    with pytest.raises(DataError, match="junk.jpg.*cannot decode"):
        read_image(junk)
    wrong_k = [PersonInstance(synthetic[0].image_path, 0, np.array([1.0, 1, 50, 50]), np.zeros((5, 3), np.float32),
                              image_size=(320, 240), ann_id=7)]
    with pytest.raises(DataError, match="ann_id=7.*keypoints must be"):
        TopDownDataset(wrong_k, S)[0]
    wrong_size = [PersonInstance(synthetic[0].image_path, 0, np.array([1.0, 1, 50, 50]), synthetic[0].keypoints,
                                 image_size=(640, 480), ann_id=8)]
    with pytest.raises(DataError, match="annotation says 640x480"):
        TopDownDataset(wrong_size, S)[0]
    empty = [PersonInstance(synthetic[0].image_path, 0, np.array([400.0, 1, 50, 50]), synthetic[0].keypoints,
                            image_size=(320, 240), ann_id=9)]
    with pytest.raises(DataError, match="empty box"):
        TopDownDataset(empty, S)[0]


def test_detection_boxes_are_not_clipped(synthetic):
    """Ground-truth boxes are clipped to the image like the reference's parser; detections are not."""
    kp = synthetic[0].keypoints
    path = synthetic[0].image_path
    gt = PersonInstance(path, 0, np.array([-20.0, 10, 100, 300]), kp, image_size=(320, 240), ann_id=1)
    det = PersonInstance(path, 0, np.array([-20.0, 10, 100, 300]), kp, score=0.9, is_detection=True)
    ds = TopDownDataset([gt, det], S)
    np.testing.assert_array_equal(ds[0]["center"].numpy(), [(0 + 80) / 2, (10 + 239) / 2])
    np.testing.assert_array_equal(ds[1]["center"].numpy(), [(-20 + 80) / 2, (10 + 310) / 2])
    # the crop's scale is the OKS area the test loop gives each prediction: clipped 79 x 229 -> 98.75 x
    # 286.25 -> aspect 0.75: 214.6875 x 286.25; detection 100 x 300 -> 125 x 375 -> 281.25 x 375
    assert scale_area(ds[0]["scale"].numpy()) == np.float32(214.6875 * 286.25)
    assert scale_area(ds[1]["scale"].numpy()) == np.float32(281.25 * 375)
    outside = PersonInstance(path, 0, np.array([400.0, 300, 50, 80]), kp, score=0.5, is_detection=True)  # wholly off-image
    assert TopDownDataset([outside], S)[0]["inputs"].abs().sum() > 0  # crop of the zero border, no error

"""PoseEstimator end to end against MMPose's inference_topdown goldens (fill-rule weights)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose import PoseEstimator
from simplepose.data.geometry import input_center_scale
from simplepose.data.image import read_image
from simplepose.data.transforms import crop_persons, normalise_crops
from simplepose.errors import DataError
from simplepose.model.checkpoint import build_model_from_state_dict
from tests.model.fill_rule import fill_state_dict


@pytest.fixture(scope="module")
def estimator(mmpose_golden_dir: Path) -> PoseEstimator:
    """Res50 estimator with the goldens' fill-rule weights; flip test on (default); fp32, the goldens' precision."""
    return PoseEstimator(build_model_from_state_dict(fill_state_dict(mmpose_golden_dir)), precision="fp32")


@pytest.fixture(scope="module")
def e2e(mmpose_golden_dir: Path, samples_dir: Path) -> dict:
    """e2e_inference_topdown arrays plus per-row image paths and both box forms."""
    with np.load(mmpose_golden_dir / "e2e_inference_topdown.npz") as z:
        out = {k: z[k] for k in z.files}
    rows = json.loads((mmpose_golden_dir / "e2e_inference_topdown.json").read_text())["instances"]
    out["paths"] = [samples_dir / r["img_path"] for r in rows]
    out["xyxy"] = np.array([r["bbox_xyxy_dataset"] for r in rows], np.float32)
    out["xywh"] = np.array([r["bbox_xywh_annotation"] for r in rows], np.float64)
    out["images"] = list(dict.fromkeys(out["paths"]))  # in first-seen order: rows are grouped by image
    return out


def _per_image(est: PoseEstimator, e2e: dict, boxes: np.ndarray, fmt: str) -> np.ndarray:
    """predict() once per image (as inference_topdown was called), rows back in dataset order."""
    out = []
    for image in e2e["images"]:
        sel = [i for i, p in enumerate(e2e["paths"]) if p == image]
        out.append(est.predict(image, boxes[sel], bbox_format=fmt))
    return np.concatenate(out)


@pytest.fixture(scope="module")
def pred_xyxy(estimator: PoseEstimator, e2e: dict) -> np.ndarray:
    """Our keypoints for the dataset-clipped xyxy boxes."""
    return _per_image(estimator, e2e, e2e["xyxy"], "xyxy")


def test_keypoints_match_inference_topdown_xyxy(pred_xyxy: np.ndarray, e2e: dict) -> None:
    """The 14 persons' keypoints (1e-2 px) and scores (1e-5) equal MMPose's on the clipped boxes."""
    assert pred_xyxy.shape == (14, 17, 3) and pred_xyxy.dtype == np.float32
    np.testing.assert_allclose(pred_xyxy[..., :2], e2e["keypoints"], rtol=0, atol=1e-2)
    np.testing.assert_allclose(pred_xyxy[..., 2], e2e["keypoint_scores"], rtol=1e-4, atol=1e-5)


def test_keypoints_match_inference_topdown_xywh_api(estimator: PoseEstimator, e2e: dict) -> None:
    """Raw float64 xywh annotation boxes, used unclipped (rows 10 and 13 leave the image): MMPose's API
    keeps their centres and scales in float64 (its dataset path rounds them to float32), and so do we:
    keypoints equal its API rows to 1e-5 px, scores to the heatmaps' float32 noise."""
    assert e2e["xywh"].dtype == np.float64
    pred = _per_image(estimator, e2e, e2e["xywh"], "xywh")
    np.testing.assert_allclose(pred[..., :2], e2e["keypoints_api_xywh"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(pred[..., 2], e2e["keypoint_scores_api_xywh"], rtol=1e-4, atol=1e-5)
    assert np.abs(pred[[10, 13], :, :2] - e2e["keypoints"][[10, 13]]).max() > 100  # unclipped boxes differ


def test_heatmaps_and_box_geometry_match(estimator: PoseEstimator, e2e: dict) -> None:
    """Input centres/scales and flip-test heatmaps of the crops equal MMPose's intermediate arrays."""
    center, scale = input_center_scale(e2e["xyxy"].astype(np.float64), estimator.aspect_ratio)
    np.testing.assert_allclose(center, e2e["input_center"], rtol=1e-6)
    np.testing.assert_allclose(scale, e2e["input_scale"], rtol=1e-6)
    sel = [i for i, p in enumerate(e2e["paths"]) if p == e2e["images"][0]][:4]
    crops = crop_persons(read_image(e2e["images"][0]), center[sel], scale[sel], None, estimator.input_size)
    heat = estimator.heatmaps(normalise_crops(crops))
    np.testing.assert_allclose(heat.numpy(), e2e["heatmaps_flip_test"][sel], rtol=1e-4, atol=1e-5)


def test_batch_over_images_equals_per_image(estimator: PoseEstimator, e2e: dict, pred_xyxy: np.ndarray,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """predict_batch over all 3 images (arrays and paths mixed, persons in groups of 4) = per-image results."""
    import cv2

    from simplepose.inference import estimator as module
    monkeypatch.setattr(module, "_GROUP", 4)
    groups = [[i for i, p in enumerate(e2e["paths"]) if p == image] for image in e2e["images"]]
    images = [cv2.imread(str(e2e["images"][0])), *e2e["images"][1:]]
    out = estimator.predict_batch(images, [e2e["xyxy"][g] for g in groups], bbox_format="xyxy")
    assert [len(o) for o in out] == [len(g) for g in groups]
    np.testing.assert_allclose(np.concatenate(out), pred_xyxy[np.concatenate(groups)], rtol=0, atol=1e-3)


def test_model_forward_golden_through_estimator(estimator: PoseEstimator, mmpose_golden_dir: Path) -> None:
    """heatmaps() on the golden's input: the plain and flip-test heatmaps of model_forward.npz."""
    with np.load(mmpose_golden_dir / "model_forward.npz") as z:
        x, plain, flipped = z["input"], z["heatmaps"], z["heatmaps_flip_test"]
    np.testing.assert_allclose(estimator.heatmaps(torch.from_numpy(x)).numpy(), flipped, rtol=1e-4, atol=1e-5)
    estimator.flip_test = False
    try:
        np.testing.assert_allclose(estimator.heatmaps(torch.from_numpy(x)).numpy(), plain, rtol=1e-4, atol=1e-5)
    finally:
        estimator.flip_test = True


def test_from_mmpose_0x_checkpoint(tmp_path: Path, mmpose_golden_dir: Path, e2e: dict) -> None:
    """An MMPose 0.x-named checkpoint file gives a res50/17 estimator with the golden keypoints."""
    path = tmp_path / "res50_0x.pth"
    torch.save({"meta": {"mmpose_version": "0.8.0"}, "state_dict": fill_state_dict(mmpose_golden_dir, "0.x")}, path)
    est = PoseEstimator.from_checkpoint(path, precision="fp32")
    assert est.model is not None and len(est.flip_indices) == 17
    image = e2e["images"][1]
    sel = [i for i, p in enumerate(e2e["paths"]) if p == image]
    pred = est.predict(image, e2e["xywh"][sel])
    np.testing.assert_allclose(pred[..., :2], e2e["keypoints_api_xywh"][sel], rtol=0, atol=1e-2)


def test_empty_and_bad_input(estimator: PoseEstimator, e2e: dict, tmp_path: Path) -> None:
    """No boxes -> (0, 17, 3); bad boxes, arrays and files -> DataError naming the problem."""
    image = np.zeros((64, 48, 3), np.uint8)
    assert estimator.predict(image, np.zeros((0, 4))).shape == (0, 17, 3)
    with pytest.raises(DataError, match=r"box 1.*zero or negative width"):
        estimator.predict(image, np.array([[0, 0, 10, 10], [5, 5, 0, 3]]))
    with pytest.raises(DataError, match=r"shape \(N, 4\)"):
        estimator.predict(image, np.zeros((2, 3)))
    with pytest.raises(DataError, match="NaN"):
        estimator.predict(image, np.array([[0, 0, np.nan, 10]]))
    with pytest.raises(DataError, match="uint8 BGR"):
        estimator.predict(np.zeros((64, 48), np.float32), np.array([[0, 0, 10, 10]]))
    with pytest.raises(DataError, match="nothere.jpg"):
        estimator.predict(tmp_path / "nothere.jpg", np.array([[0, 0, 10, 10]]))
    # the images of a batch are cropped side by side; the first bad one in order is the one reported
    with pytest.raises(DataError, match="first.jpg"):
        estimator.predict_batch([image, tmp_path / "first.jpg", tmp_path / "second.jpg"],
                                [np.array([[0, 0, 10, 10]])] * 3)


def test_schema_from_checkpoint_metadata() -> None:
    """Ours (meta["schema"]), MMPose 1.x dataset_meta and 0.x config text select the flip pairs."""
    from simplepose.inference.estimator import schema_from_meta
    assert schema_from_meta({"schema": "coco"}, 17).name == "coco"
    assert schema_from_meta({"dataset_meta": {"dataset_name": "coco"}}, 17).name == "coco"
    assert schema_from_meta({"config": "dataset_type = 'TopDownCocoDataset'"}, 17).name == "coco"
    assert schema_from_meta({"config": "load_from = 'res50_coco.pth'\ndataset_type = 'TopDownPoseTrack18Dataset'"},
                            17).name == "posetrack18"
    assert schema_from_meta({}, 17).name == "posetrack18"
    assert schema_from_meta({"schema": "coco"}, 17).flip_indices != schema_from_meta({}, 17).flip_indices
    with pytest.raises(ValueError, match="5 keypoints"):
        schema_from_meta({}, 5)


def test_device_option() -> None:
    from simplepose.model.pose_model import SimpleBaseline
    model = SimpleBaseline(depth=18)
    est = PoseEstimator(model, device="cpu", fast=False)
    assert est.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in est.model.parameters())
    crops = np.zeros((2, 256, 192, 3), np.uint8)
    out = est.predict_crops(crops, np.full((2, 2), 100, np.float32), np.full((2, 2), 50, np.float32))
    assert out.shape == (2, 17, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="onnxruntime backend runs on the CPU"):
        PoseEstimator(model, backend="onnxruntime", device="cuda")


def test_input_size_and_empty_crops() -> None:
    from simplepose.model.pose_model import SimpleBaseline
    model = SimpleBaseline(depth=18)
    with pytest.raises(ValueError, match="multiples of 32"):
        PoseEstimator(model, input_size=(200, 256))
    est = PoseEstimator(model, fast=False)
    out = est.predict_crops(np.zeros((0, 256, 192, 3), np.uint8), np.zeros((0, 2)), np.zeros((0, 2)))
    assert out.shape == (0, 17, 3)


_MMPOSE_1X_CFG = """default_scope = 'mmpose'
codec = dict(
    type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
model = dict(type='TopdownPoseEstimator', head=dict(type='HeatmapHead', decoder=dict(
        type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(288, 384)),
    dict(type='PackPoseInputs'),
]
"""
_MMPOSE_0X_CONFIG = """dataset_type = 'TopDownPoseTrack18Dataset'
data_cfg = dict(
    image_size=[256, 320],
    heatmap_size=[64, 80],
    num_output_channels=channel_cfg['num_output_channels'])
train_pipeline = [dict(type='TopDownGenerateTarget', sigma=2)]
"""


def test_input_size_and_keypoints_come_from_the_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Our saved training config, an MMPose 1.x `cfg` or 0.x `config` text give the input size (and
    keypoint set); a bare state dict gets 192x256 with a warning; an explicit size wins."""
    import logging

    from simplepose.errors import CheckpointError
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    model = SimpleBaseline(depth=18, deconv_channels=32).eval()
    sd = model.state_dict()
    data = {"input_size": [96, 128], "heatmap_size": [24, 32], "sigma": 2.0, "dataset": "coco"}
    ours = save_checkpoint(tmp_path / "ours.pth", model, extra={"config": {"data": data}})
    torch.save({"state_dict": sd, "meta": {"cfg": _MMPOSE_1X_CFG}}, tmp_path / "mm1.pth")
    torch.save({"state_dict": sd, "meta": {"config": _MMPOSE_0X_CONFIG}}, tmp_path / "mm0.pth")
    torch.save(sd, tmp_path / "bare.pth")
    cases = {"ours.pth": ((96, 128), "coco"), "mm1.pth": ((288, 384), "posetrack18"),
             "mm0.pth": ((256, 320), "posetrack18")}
    with caplog.at_level(logging.WARNING):
        for name, (size, schema) in cases.items():
            est = PoseEstimator.from_checkpoint(tmp_path / name, fast=False)
            assert (est.input_size, est.schema.name) == (size, schema), name
        assert "records no input size" not in caplog.text
        assert PoseEstimator.from_checkpoint(tmp_path / "bare.pth", fast=False).input_size == (192, 256)
    assert "bare.pth: the checkpoint records no input size; assuming 192x256" in caplog.text
    assert PoseEstimator.from_checkpoint(ours, input_size=(64, 96), fast=False).input_size == (64, 96)
    for bad, match in (([100, 128], "input size 100x128 .* not a multiple of 32"),
                       ("big", r"config\.data\.input_size is 'big', not two positive integers")):
        path = save_checkpoint(tmp_path / "bad.pth", model, extra={"config": {"data": {"input_size": bad}}})
        with pytest.raises(CheckpointError, match=match):
            PoseEstimator.from_checkpoint(path, fast=False)

"""Exported ONNX files run as they are: `simplepose export`'s metadata read back and checked, the
file's keypoints against the PyTorch network's, and `simplepose infer MODEL.onnx`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from simplepose.errors import SimplePoseError
from simplepose.model.checkpoint import save_checkpoint
from simplepose.model.pose_model import SimpleBaseline
from tests.inference.export_models import scaled_head_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from simplepose.inference.deployed import (DeployedModel, export_metadata, read_export_info)  # noqa: E402
from simplepose.inference.estimator import PoseEstimator  # noqa: E402
from simplepose.inference.export import export_verified, onnx_bytes, quantize_int8, with_metadata  # noqa: E402

SIZE = (64, 96)                                      # (w, h)
BOXES = np.array([[10, 8, 60, 100], [70, 20, 50, 90]], np.float64)


def _has_openvino() -> bool:
    try:
        import openvino  # noqa: F401
        return True
    except ImportError:
        return False


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (128, 160, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deployed") / "m.onnx"
    export_verified(scaled_head_model(), path, SIZE, metadata=export_metadata(SIZE, "coco", "float32"))
    return path


def test_export_metadata_round_trips(exported: Path) -> None:
    info = read_export_info(exported)
    assert (info.input_size, info.schema, info.format, info.num_keypoints) == (SIZE, "coco", "float32", 17)


@pytest.mark.parametrize("runtime", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.skipif(
    not _has_openvino(), reason="openvino not installed"))])
def test_the_file_predicts_what_pytorch_does(exported: Path, runtime: str) -> None:
    """float32 file, either runtime: the torch fp32 path's keypoints to 1e-2 px, scores to 1e-4."""
    ref = PoseEstimator(scaled_head_model(), input_size=SIZE, schema="coco", precision="fp32").predict(_image(), BOXES)
    est = PoseEstimator.from_onnx(exported, runtime=runtime)
    assert est.input_size == SIZE and est.schema.name == "coco"
    got = est.predict(_image(), BOXES)
    np.testing.assert_allclose(got[..., :2], ref[..., :2], rtol=0, atol=1e-2)
    np.testing.assert_allclose(got[..., 2], ref[..., 2], rtol=0, atol=1e-4)


def test_an_int8_file_runs_and_says_so(tmp_path: Path) -> None:
    calibration = np.random.default_rng(1).standard_normal((4, 3, SIZE[1], SIZE[0])).astype(np.float32)
    data = with_metadata(quantize_int8(onnx_bytes(scaled_head_model(), SIZE), calibration),
                         export_metadata(SIZE, "posetrack18", "int8"))
    path = tmp_path / "m_int8.onnx"
    path.write_bytes(data)
    model = DeployedModel(path, "onnxruntime")
    assert model.info.format == "int8" and model.describe() == "m_int8.onnx (int8 ONNX) run by onnxruntime"
    assert PoseEstimator.from_onnx(path, runtime="onnxruntime").predict(_image(), BOXES).shape == (2, 17, 3)


def test_a_file_without_the_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.onnx"
    path.write_bytes(onnx_bytes(scaled_head_model(), SIZE))
    with pytest.raises(SimplePoseError, match="not written by `simplepose export`"):
        PoseEstimator.from_onnx(path)


def test_metadata_that_contradicts_the_graph_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lying.onnx"
    path.write_bytes(with_metadata(onnx_bytes(scaled_head_model(), SIZE), export_metadata((96, 128), "coco", "float32")))
    with pytest.raises(SimplePoseError, match=r"does not take 3x128x96 crops"):
        read_export_info(path)


def test_a_schema_with_other_keypoints_is_refused(tmp_path: Path) -> None:
    """A 17-keypoint graph recorded under a schema of another size cannot give wrong flip pairs silently."""
    model = SimpleBaseline(18, 5, deconv_channels=16).eval()
    path = tmp_path / "k5.onnx"
    path.write_bytes(with_metadata(onnx_bytes(model, SIZE), export_metadata(SIZE, "coco", "float32")))
    with pytest.raises(ValueError, match="predicts 5 keypoints"):
        PoseEstimator.from_onnx(path, runtime="onnxruntime")


def _cli(*argv: str) -> int:
    from simplepose.cli import main
    return main(list(argv))


def test_infer_runs_an_exported_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`simplepose export` then `simplepose infer MODEL.onnx`: the same keypoints as the checkpoint."""
    ckpt = save_checkpoint(tmp_path / "m.pth", scaled_head_model())
    out = tmp_path / "m.onnx"
    assert _cli("export", str(ckpt), str(out), "--input-size", *map(str, SIZE)) == 0
    assert read_export_info(out).schema == "posetrack18"        # a 17-keypoint checkpoint naming none
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), _image())
    results = {}
    for name, model, extra in (("onnx", out, ["--runtime", "onnxruntime"]),
                               ("torch", ckpt, ["--input-size", *map(str, SIZE), "--precision", "fp32"])):
        assert _cli("infer", str(model), str(image), "--out-dir", str(tmp_path / name), *extra) == 0
        results[name] = json.loads((tmp_path / name / "results.json").read_text())
    a = np.array([p["keypoints"] for p in results["onnx"]], np.float64)
    b = np.array([p["keypoints"] for p in results["torch"]], np.float64)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-2)
    capsys.readouterr()
    assert _cli("infer", str(out), str(image), "--input-size", "96", "128", "--out-dir", str(tmp_path / "x")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simplepose infer: error: {out}: --input-size does not apply")

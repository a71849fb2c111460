"""ONNX export: dynamic batch, agreement with PyTorch under onnxruntime, and the export command."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.model.checkpoint import save_checkpoint
from simplepose.model.pose_model import SimpleBaseline

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from simplepose.inference.export import export_onnx, onnx_session, verify_onnx  # noqa: E402


def _model() -> SimpleBaseline:
    """ResNet-18 SimpleBaseline (64-channel deconvs) with O(1) heatmaps and non-trivial BN statistics."""
    torch.manual_seed(0)
    model = SimpleBaseline(18, 17, deconv_channels=64)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
        elif isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)) and m in set(model.head.modules()):
            torch.nn.init.kaiming_normal_(m.weight)
    return model.eval()


def test_onnx_matches_pytorch_at_several_batch_sizes(tmp_path: Path) -> None:
    """ONNX Runtime heatmaps equal PyTorch's (unfolded BN) to float32 noise at batch 1, 2 and 5."""
    model = _model()
    path = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 96))
    session = onnx_session(path)
    x = torch.randn(5, 3, 96, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(x).numpy()
    assert ref.shape == (5, 17, 24, 16) and np.abs(ref).max() > 0.1
    for n in (1, 2, 5):
        got = session.run(None, {"input": x[:n].numpy()})[0]
        np.testing.assert_allclose(got, ref[:n], rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert verify_onnx(model, path, (64, 96)) < 1e-4 * np.abs(ref).max()


def test_export_command_writes_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`simplepose export` on our checkpoint prints the max abs difference and exits 0."""
    import argparse

    from simplepose.commands import export as command
    from simplepose.errors import CheckpointError
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    ckpt = save_checkpoint(tmp_path / "m.pth", _model())
    args = parser.parse_args([str(ckpt), str(tmp_path / "m.onnx"), "--input-size", "64", "96"])
    assert command.run(args) == 0
    out = capsys.readouterr().out
    assert "ResNet-18, 17 keypoints" in out and "max abs heatmap difference" in out
    assert (tmp_path / "m.onnx").stat().st_size > 1_000_000
    with pytest.raises(CheckpointError, match="missing.pth: checkpoint file not found"):
        command.run(parser.parse_args([str(tmp_path / "missing.pth"), str(tmp_path / "x.onnx")]))


def test_export_takes_the_input_size_from_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Without --input-size the ONNX input is the size the checkpoint's saved config records."""
    import argparse

    import onnx

    from simplepose.commands import export as command
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    ckpt = save_checkpoint(tmp_path / "m.pth", _model(), extra={"config": {"data": {"input_size": [96, 128]}}})
    assert command.run(parser.parse_args([str(ckpt), str(tmp_path / "m.onnx"), "--no-verify"])) == 0
    assert "input 3x128x96" in capsys.readouterr().out
    dims = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 128, 96]


def test_estimator_onnxruntime_backend_matches_golden(mmpose_golden_dir: Path, samples_dir: Path) -> None:
    """PoseEstimator(backend="onnxruntime") reproduces inference_topdown's keypoints on a real frame."""
    import json

    from simplepose import PoseEstimator
    from simplepose.model.checkpoint import build_model_from_state_dict
    from tests.model.fill_rule import fill_state_dict
    with np.load(mmpose_golden_dir / "e2e_inference_topdown.npz") as z:
        keypoints, scores = z["keypoints"], z["keypoint_scores"]
    rows = json.loads((mmpose_golden_dir / "e2e_inference_topdown.json").read_text())["instances"]
    sel = [i for i, r in enumerate(rows) if "009473" in r["img_path"]]
    assert len(sel) == 2
    est = PoseEstimator(build_model_from_state_dict(fill_state_dict(mmpose_golden_dir)), backend="onnxruntime")
    # float32, as the golden's dataset-parsed boxes (float64 ones take MMPose's float64 API path)
    boxes = np.array([rows[i]["bbox_xyxy_dataset"] for i in sel], np.float32)
    pred = est.predict(samples_dir / rows[sel[0]]["img_path"], boxes, bbox_format="xyxy")
    np.testing.assert_allclose(pred[..., :2], keypoints[sel], rtol=0, atol=1e-2)
    np.testing.assert_allclose(pred[..., 2], scores[sel], rtol=1e-4, atol=1e-5)


def _export_cli(*argv: str) -> int:
    from simplepose.cli import main
    return main(["export", *argv])


def test_export_opset_too_old_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Opset 6 exports, but onnxruntime has no kernels for it: one error line and no .onnx file."""
    ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(18, 17, deconv_channels=16, num_deconv=1))
    out = tmp_path / "m.onnx"
    assert _export_cli(str(ckpt), str(out), "--input-size", "32", "32", "--opset", "6") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simplepose export: error: ") and "onnxruntime" in err[0]
    assert list(tmp_path.iterdir()) == [ckpt]


def test_export_of_a_nan_model_is_not_verified(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """NaN heatmaps compare as difference 0 under max(); they must fail verification instead."""
    model = SimpleBaseline(18, 17, deconv_channels=16, num_deconv=1)
    with torch.no_grad():
        model.head.final_layer.weight.fill_(float("nan"))
    ckpt = save_checkpoint(tmp_path / "m.pth", model)
    out = tmp_path / "m.onnx"
    assert _export_cli(str(ckpt), str(out), "--input-size", "32", "32") == 2
    assert "NaN" in capsys.readouterr().err
    assert not out.exists()

"""`simplepose export`: float32 and int8 files written, verified and refused (one error line, nothing written)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.cli import main
from simplepose.commands import export as command
from simplepose.errors import CheckpointError
from simplepose.model.checkpoint import save_checkpoint
from simplepose.model.pose_model import SimpleBaseline
from tests.inference.export_models import bn_statistics_model, scaled_head_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from simplepose.inference.export import onnx_session  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _export_cli(*argv: str) -> int:
    return main(["export", *argv])


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-video synthetic PoseTrack18 dataset (train and val, 2 frames)."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    root = tmp_path_factory.mktemp("synthetic")
    generate_posetrack_dataset(root, SynthOptions(videos=1, frames=2, seed=3), progress=False)
    return root


def test_export_command_writes_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`simplepose export` on our checkpoint prints the max abs difference and exits 0."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    ckpt = save_checkpoint(tmp_path / "m.pth", bn_statistics_model())
    args = parser.parse_args([str(ckpt), str(tmp_path / "m.onnx"), "--input-size", "64", "96"])
    assert command.run(args) == 0
    out = capsys.readouterr().out
    assert "ResNet-18, 17 keypoints" in out and "max abs heatmap difference" in out
    assert (tmp_path / "m.onnx").stat().st_size > 1_000_000
    with pytest.raises(CheckpointError, match="missing.pth: checkpoint file not found"):
        command.run(parser.parse_args([str(tmp_path / "missing.pth"), str(tmp_path / "x.onnx")]))


def test_export_takes_the_input_size_from_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Without --input-size the ONNX input is the size the checkpoint's saved config records."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    ckpt = save_checkpoint(tmp_path / "m.pth", bn_statistics_model(), extra={"config": {"data": {"input_size": [96, 128]}}})
    assert command.run(parser.parse_args([str(ckpt), str(tmp_path / "m.onnx"), "--no-verify"])) == 0
    assert "input 3x128x96" in capsys.readouterr().out
    dims = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 128, 96]


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


def test_export_int8_command_writes_a_checked_file(synthetic_root: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    """--int8 --calibrate: a QDQ file that runs, the calibration and check counts printed."""
    pytest.importorskip("onnxruntime.quantization")
    ckpt = save_checkpoint(tmp_path / "m.pth", scaled_head_model())
    out = tmp_path / "m_int8.onnx"
    assert _export_cli(str(ckpt), str(out), "--input-size", "64", "96", "--int8", "--calibrate",
                       str(REPO / "configs" / "synthetic_demo.yaml"), "--set", f"data.data_root={synthetic_root}",
                       "--calibration-count", "4", "--min-agreement", "0") == 0
    printed = capsys.readouterr().out
    assert "int8 QDQ" in printed and "activation ranges from 3 train crops" in printed
    assert "on 1 held-out crops" in printed
    heatmaps = onnx_session(str(out)).run(["heatmaps"], {"input": np.zeros((3, 3, 96, 64), np.float32)})[0]
    assert heatmaps.shape == (3, 17, 24, 16)


def test_export_int8_refusals_write_nothing(synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """--int8 without --calibrate, --min-agreement outside [0, 1], and a check below the required
    agreement: one error line each, and no file."""
    pytest.importorskip("onnxruntime.quantization")
    import simplepose.inference.export as export
    ckpt = save_checkpoint(tmp_path / "m.pth", scaled_head_model())
    out = tmp_path / "m_int8.onnx"
    config = str(REPO / "configs" / "synthetic_demo.yaml")
    assert _export_cli(str(ckpt), str(out), "--int8") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simplepose export: error: ") and "--calibrate" in err[0]
    assert _export_cli(str(ckpt), str(out), "--int8", "--calibrate", config, "--min-agreement", "1.5") == 2
    assert "--min-agreement must be within [0, 1]" in capsys.readouterr().err
    monkeypatch.setattr(export, "int8_agreement", lambda *a, **k: 0.5)
    assert _export_cli(str(ckpt), str(out), "--input-size", "64", "96", "--int8", "--calibrate", config,
                       "--set", f"data.data_root={synthetic_root}", "--calibration-count", "8") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only 50.0% of the confident joints" in err[0] and "nothing written" in err[0]
    assert not out.exists()

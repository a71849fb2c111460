"""int8 export: the QDQ graph, its agreement with float32, the keypoint check on hand-built models,
and `simplepose export --int8` on a synthetic dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.errors import SimplePoseError
from simplepose.model.checkpoint import save_checkpoint
from simplepose.model.pose_model import SimpleBaseline

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from simplepose.inference.export import int8_agreement, onnx_bytes, onnx_session, quantize_int8  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _model() -> SimpleBaseline:
    """A small SimpleBaseline with O(1) heatmaps (the last conv scaled up from its tiny init)."""
    torch.manual_seed(0)
    model = SimpleBaseline(18, 17, deconv_channels=32)
    with torch.no_grad():
        model.head.final_layer.weight.mul_(50)
    return model.eval()


def _shift_model(shift: int, size: tuple[int, int] = (8, 8)) -> bytes:
    """ONNX "input" (N, 3, H, W) -> "heatmaps": the input moved `shift` pixels right (zeros enter on the left)."""
    from onnx import TensorProto, helper
    w, h = size
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 0, shift, 0, 0, 0, 0])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [w])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [3])
    graph = helper.make_graph(
        [helper.make_node("Pad", ["input", "pads"], ["padded"]),
         helper.make_node("Slice", ["padded", "starts", "ends", "axes"], ["heatmaps"])],
        "shift", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, h, w])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, ["n", 3, h, w])],
        initializer=[pads, starts, ends, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _peaks() -> np.ndarray:
    """(1, 3, 8, 8) maps: a confident peak at x=2 (channel 0) and x=5 (channel 2), a weak one (channel 1)."""
    x = np.zeros((1, 3, 8, 8), np.float32)
    x[0, 0, 3, 2], x[0, 1, 4, 4], x[0, 2, 6, 5] = 0.9, 0.1, 0.8
    return x


def test_agreement_counts_confident_joints_within_one_heatmap_pixel() -> None:
    """Hand-built models: a 1 px move keeps both confident joints, a 2 px move loses them; the weak
    joint (0.1 < 0.3) does not count either way."""
    same = _shift_model(0)
    assert int8_agreement(same, _shift_model(1), _peaks()) == 1.0
    assert int8_agreement(same, _shift_model(2), _peaks()) == 0.0
    only_weak = _peaks() * np.array([0, 1, 0], np.float32)[None, :, None, None]
    assert int8_agreement(same, _shift_model(2), only_weak) == 1.0        # nothing confident to lose


def test_quantised_graph_is_qdq_with_int8_weights_and_tracks_float32() -> None:
    """Every conv's weight is int8 behind a DequantizeLinear; outputs follow float32 closely."""
    data = onnx_bytes(_model(), (64, 96))
    gen = np.random.default_rng(0)
    calibration = gen.standard_normal((16, 3, 96, 64)).astype(np.float32)
    int8 = quantize_int8(data, calibration)
    graph = onnx.load_from_string(int8).graph
    ops = [n.op_type for n in graph.node]
    convs = ops.count("Conv") + ops.count("ConvTranspose")
    assert convs > 0 and ops.count("QuantizeLinear") >= convs and ops.count("DequantizeLinear") >= 2 * convs
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= convs
    x = gen.standard_normal((4, 3, 96, 64)).astype(np.float32)
    ref = onnx_session(data).run(["heatmaps"], {"input": x})[0]
    got = onnx_session(int8).run(["heatmaps"], {"input": x})[0]
    assert got.shape == ref.shape and np.isfinite(got).all()
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.98
    assert np.abs(got - ref).mean() < 0.1 * np.abs(ref).mean()


def test_quantisation_refuses_bad_calibration_crops() -> None:
    """Wrong shape, no crops, or NaN: a SimplePoseError naming the crops, before any quantisation."""
    data = onnx_bytes(_model(), (64, 96))
    for bad in (np.zeros((2, 96, 64), np.float32), np.zeros((0, 3, 96, 64), np.float32),
                np.full((1, 3, 96, 64), np.nan, np.float32)):
        with pytest.raises(SimplePoseError, match="calibration crops"):
            quantize_int8(data, bad)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-video synthetic PoseTrack18 dataset (train and val, 2 frames)."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    root = tmp_path_factory.mktemp("synthetic")
    generate_posetrack_dataset(root, SynthOptions(videos=1, frames=2, seed=3), progress=False)
    return root


def _export_cli(*argv: str) -> int:
    from simplepose.cli import main
    return main(["export", *argv])


def test_export_int8_command_writes_a_checked_file(synthetic_root: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    """--int8 --calibrate: a QDQ file that runs, the calibration and check counts printed."""
    ckpt = save_checkpoint(tmp_path / "m.pth", _model())
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
    import simplepose.inference.export as export
    ckpt = save_checkpoint(tmp_path / "m.pth", _model())
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


def test_export_int8_keeps_its_temporary_files_beside_the_output(synthetic_root: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing goes to the system's temporary folder (onnxruntime's calibration files included), and
    what a killed export left beside its output (a dead pid's temp file and temp folder) is removed."""
    import tempfile

    from simplepose.io import _host_tag
    system_temp = tmp_path / "system_temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    stale_file = out_dir / f".m_int8.onnx.{_host_tag()}-99999999-abcdefgh.tmp"
    stale_folder = out_dir / f".m_int8.onnx.{_host_tag()}-99999999-ijklmnop.tmp"
    stale_file.write_bytes(b"half an onnx file")
    (stale_folder / "ort.quant.x").mkdir(parents=True)
    ckpt = save_checkpoint(tmp_path / "m.pth", _model())
    assert _export_cli(str(ckpt), str(out_dir / "m_int8.onnx"), "--input-size", "64", "96", "--int8", "--calibrate",
                       str(REPO / "configs" / "synthetic_demo.yaml"), "--set", f"data.data_root={synthetic_root}",
                       "--calibration-count", "4", "--min-agreement", "0") == 0
    assert list(system_temp.iterdir()) == []
    assert [p.name for p in out_dir.iterdir()] == ["m_int8.onnx"]

"""Exported ONNX files run as they are: `simplepose export`'s metadata read back and checked, the
file's keypoints against the PyTorch network's, and `simplepose infer MODEL.onnx`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

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


def _rewritten(src: Path, dst: Path, edit) -> Path:
    """A copy of an exported file with edit(model) applied (metadata or graph)."""
    model = onnx.load(str(src))
    edit(model)
    onnx.save(model, str(dst))
    return dst


def _set_meta(key: str, value: str):
    """An edit setting one metadata entry."""
    def edit(model) -> None:
        for p in model.metadata_props:
            if p.key == key:
                p.value = value
    return edit


def _drop_inputs(model) -> None:
    """An edit removing the graph's inputs."""
    del model.graph.input[:]


@pytest.mark.parametrize("edit, problem", [
    (_set_meta("simplepose.input_size", "16384,32768"), r"input size 16384x32768, a side over 4096"),
    (_set_meta("simplepose.input_size", "9" * 5000 + ",1"), r"simplepose\.input_size '9999.*' is not 'W,H'"),
    (_set_meta("simplepose.schema", "martian"), r"schema 'martian' is not one of"),
    (_drop_inputs, r"(the graph has 0 inputs|not an ONNX model onnxruntime can read)"),
])
def test_hostile_export_metadata_is_one_error(exported: Path, tmp_path: Path, edit, problem: str) -> None:
    """A size beyond the limit or of 5000 digits, an unknown schema, a schema of another K, no input:
    a SimplePoseError naming the file, before any session or tensor is made."""
    path = _rewritten(exported, tmp_path / "odd.onnx", edit)
    with pytest.raises(SimplePoseError, match=rf"odd\.onnx: .*{problem}"):
        read_export_info(path)


def test_a_graph_of_other_keypoints_than_its_schema_is_refused_when_read(tmp_path: Path) -> None:
    """K = 5 heatmaps under the 17-keypoint schema: refused by read_export_info, naming both counts."""
    path = tmp_path / "k5.onnx"
    path.write_bytes(with_metadata(onnx_bytes(SimpleBaseline(18, 5, deconv_channels=16).eval(), SIZE),
                                   export_metadata(SIZE, "coco", "float32")))
    with pytest.raises(SimplePoseError, match=r"k5\.onnx: the graph predicts 5 keypoints, schema 'coco' has 17"):
        read_export_info(path)

def _cli_without(hidden: tuple[str, ...], *argv: str):
    """`simplepose ARGV` in a fresh interpreter where importing any of `hidden` fails, as when not installed."""
    import subprocess
    import sys

    from tests.cli_subprocess import cli_env
    code = (f"import sys\nfor name in {hidden!r}:\n    sys.modules[name] = None\n"
            f"from simplepose.cli import main\nsys.exit(main({list(argv)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=300)


def test_infer_runs_a_file_with_onnxruntime_alone(exported: Path, tmp_path: Path) -> None:
    """The usual deployment set-up (ONNX Runtime, no onnx package): the metadata comes through the runtime."""
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), _image())
    done = _cli_without(("onnx", "openvino"), "infer", str(exported), str(image), "--out-dir", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr[-2000:]
    people = json.loads((tmp_path / "o" / "results.json").read_text())
    ref = PoseEstimator(scaled_head_model(), input_size=SIZE, schema="coco", precision="fp32").predict(
        _image(), np.array([[0, 0, 160, 128]], np.float64))
    np.testing.assert_allclose(np.array(people[0]["keypoints"]).reshape(-1, 3)[:, :2], ref[0, :, :2], atol=1e-2)


def test_infer_without_a_runtime_names_the_extra(exported: Path, tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), _image())
    done = _cli_without(("onnxruntime", "openvino"), "infer", str(exported), str(image), "--out-dir", str(tmp_path))
    err = [line for line in done.stderr.splitlines() if "error" in line or "Traceback" in line]
    assert done.returncode == 2 and len(err) == 1, done.stderr[-2000:]
    assert err[0].startswith(f"simplepose infer: error: {exported}: runtime onnxruntime is not installed")
    assert err[0].endswith("pip install 'simplepose[deploy]'")


def test_export_without_onnx_names_the_extra(tmp_path: Path) -> None:
    ckpt = save_checkpoint(tmp_path / "m.pth", scaled_head_model())
    out = tmp_path / "m.onnx"
    done = _cli_without(("onnx",), "export", str(ckpt), str(out), "--input-size", *map(str, SIZE))
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(err) == 1, done.stderr[-2000:]
    assert err[0].startswith(f"simplepose export: error: {out}: ONNX export needs the onnx package") and err[0].endswith("pip install 'simplepose[export]'")
    assert not out.exists()


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/hostname", "link/weights.bin"])
def test_external_data_outside_the_models_folder_is_refused(exported: Path, tmp_path: Path, location: str) -> None:
    """A tensor whose external data lies outside the model's folder (.., an absolute path, a symlinked
    folder leading out): refused by name for exported models and detectors alike, before a runtime reads it."""
    from onnx import external_data_helper

    from simplepose.inference.detector import OnnxPersonDetector
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    model = onnx.load(str(exported))
    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    external_data_helper.set_external_data(tensor, location=location)
    tensor.ClearField("raw_data")
    path = folder / "m.onnx"
    onnx.save(model, str(path))
    for open_it in (lambda: PoseEstimator.from_onnx(path, runtime="onnxruntime"), lambda: OnnxPersonDetector(path)):
        with pytest.raises(SimplePoseError, match=rf"m\.onnx: tensor '.*' keeps its data in '{location}', outside "
                                                  "the model's folder"):
            open_it()


def test_external_data_inside_the_models_folder_is_read(exported: Path, tmp_path: Path) -> None:
    """The same model saved with its weights in a file beside it (onnx's external data) runs as before."""
    model = onnx.load(str(exported))
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="m.weights", size_threshold=0)
    assert (tmp_path / "m.weights").is_file()
    est = PoseEstimator.from_onnx(path, runtime="onnxruntime")
    assert est.predict(_image(), BOXES).shape == (2, 17, 3)

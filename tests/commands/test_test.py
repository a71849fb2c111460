"""`simplepose test`: absolute paths, metrics.json beside the predictions, the same table as `eval`, per-video
files, odd file names and the output folder."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from simplepose.cli import main
from simplepose.engine.config import load_config, save_config
from tests.cli_subprocess import run_cli
from tests.engine.tiny_run import tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config path, checkpoint) of a one-iteration model on one synthetic val video."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_posetrack_dataset(root, SynthOptions(videos={"train": 1, "val": 1}, frames=4, seed=3,
                                                  image_size=(128, 96)), progress=False)
    work = tmp_path_factory.mktemp("work")
    cfg_path = work / "cfg.yaml"
    save_config(tiny_config(root, work / "w", "optim.epochs=1", "runtime.max_iters_per_epoch=1"), cfg_path)
    assert main(["train", str(cfg_path)]) == 0
    return cfg_path, work / "w" / "latest.pth"


def test_test_writes_metrics_json_and_prints_absolute_paths(trained, tmp_path: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path, ckpt = trained
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["test", str(cfg_path), str(ckpt), "--out-dir", "rel/out", "--json", "m.json"]) == 0
    captured = capsys.readouterr()
    out_dir = tmp_path / "rel" / "out"
    lines = captured.out.strip().splitlines()
    assert f"predictions: {out_dir / 'predictions'}" in lines
    assert f"metrics: {out_dir / 'metrics.json'} and {tmp_path / 'm.json'}" in lines
    metrics = json.loads((out_dir / "metrics.json").read_text())      # strict JSON: json reads NaN too
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert metrics["predictions"] == str(out_dir / "predictions")
    total = metrics["metrics"]["Total AP"]
    assert metrics["posetrack"]["summary_ap"][-1] == pytest.approx(total)
    # the finished progress bar keeps its own line: the table is not written over it
    assert "predict" in captured.err and not captured.err.endswith("\r")
    assert "\n" in captured.err[captured.err.rindex("predict"):]
    # `eval` on the written predictions prints the very same table
    table = [ln for ln in lines if ln.startswith("|")]
    cfg = load_config(cfg_path)
    assert main(["eval", cfg.resolve(cfg.data.val_gt), str(out_dir / "predictions")]) == 0
    assert [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")] == table


def test_test_command_writes_per_video_files(synth_root, tmp_path, capsys):
    cfg_path = tmp_path / "cfg.yaml"
    save_config(tiny_config(synth_root, tmp_path / "w", "optim.epochs=1", "runtime.max_iters_per_epoch=1"), cfg_path)
    assert main(["train", str(cfg_path)]) == 0
    det = synth_root / "annotations" / "posetrack18_val_human_detections.json"
    for extra in (["--report", str(tmp_path / "report")], ["--bbox-file", str(det)]):
        out = tmp_path / ("test_det" if extra else "test_gt")
        assert main(["test", str(cfg_path), str(tmp_path / "w" / "latest.pth"), "--out-dir", str(out), *extra]) == 0
        gt_names = sorted(p.name for p in (synth_root / "annotations" / "val").glob("*.json"))
        assert sorted(p.name for p in (out / "predictions").glob("*.json")) == gt_names
        printed = capsys.readouterr().out
        assert "| AP | Head | Shou | Elb | Wri | Hip | Knee | Ankl | Total |" in printed
        assert ("report: " in printed) == ("--report" in extra)
    assert (tmp_path / "report" / "index.html").is_file()
    assert main(["test", str(cfg_path), str(tmp_path / "missing.pth")]) == 2


@pytest.fixture(scope="module")
def val_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One val video of 3 frames (2 labelled), 64x64 images."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    root = tmp_path_factory.mktemp("val")
    generate_posetrack_dataset(root, SynthOptions(videos={"val": 1}, frames=3, seed=5, image_size=(64, 64),
                                                  splits=("val",)), progress=False)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight ResNet-18 SimpleBaseline with a narrow head."""
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth", SimpleBaseline(depth=18, deconv_channels=32))


def _config(root: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cfg.yaml"
    save_config(tiny_config(root, tmp_path / "work"), path)
    return path


@pytest.mark.parametrize("turbojpeg", ["on", "off"])
def test_test_command_reads_non_utf8_image_names(val_root: Path, checkpoint: Path, tmp_path: Path,
                                                 turbojpeg: str) -> None:
    """An annotation naming a file whose name is not UTF-8 is evaluated (not a crash by signal 11),
    through the TurboJPEG region reader and through OpenCV alone."""
    root = tmp_path / "data"
    shutil.copytree(val_root, root)
    ann_path = root / "annotations" / "posetrack18_val.json"
    ann = json.loads(ann_path.read_text())
    labelled = next(im for im in ann["images"] if im["is_labeled"])
    old = root / labelled["file_name"]
    new = old.with_name(os.fsdecode(b"frame\xff.jpg"))
    old.rename(new)
    labelled["file_name"] = new.relative_to(root).as_posix()
    ann_path.write_text(json.dumps(ann))          # the name as the JSON escape \udcff
    done = run_cli("test", _config(root, tmp_path), checkpoint, "--out-dir", tmp_path / "out", cwd=tmp_path,
                   env={"SIMPLEPOSE_NO_TURBOJPEG": "1"} if turbojpeg == "off" else {})
    assert done.returncode == 0, done.stderr
    assert "Total" in done.stdout
    assert len(list((tmp_path / "out" / "predictions").glob("*.json"))) == 1


def test_test_out_dir_replaces_only_its_own_predictions(val_root: Path, checkpoint: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """`test --out-dir D` swaps in a new D/predictions only over one it wrote itself."""
    from simplepose.cli import main
    torch.set_num_threads(1)
    cfg = _config(val_root, tmp_path)
    out = tmp_path / "out"
    (out / "predictions").mkdir(parents=True)
    mine = out / "predictions" / "notes.txt"
    mine.write_text("mine")
    assert main(["test", str(cfg), str(checkpoint), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip().replace("\r", "\n").splitlines()[-1]     # after the progress bar
    assert err.startswith("simplepose test: error: ") and "predictions" in err
    assert mine.read_text() == "mine"

    mine.unlink()
    (out / "predictions").rmdir()
    assert main(["test", str(cfg), str(checkpoint), "--out-dir", str(out)]) == 0
    first = sorted(p.name for p in (out / "predictions").iterdir())
    assert main(["test", str(cfg), str(checkpoint), "--out-dir", str(out)]) == 0       # its own: replaced
    assert sorted(p.name for p in (out / "predictions").iterdir()) == first
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions"]     # no temp folders left
    mine.write_text("mine")                     # a user's file inside a folder the project wrote
    assert main(["test", str(cfg), str(checkpoint), "--out-dir", str(out)]) == 2
    assert "notes.txt" in capsys.readouterr().err and mine.read_text() == "mine"

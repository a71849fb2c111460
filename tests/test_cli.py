"""The CLI's one error path: every failure is one `simplepose CMD: error: FILE: problem` line, exit 2."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from simplepose.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _one_error_line(capsys: pytest.CaptureFixture, command: str, *words: str) -> str:
    """The captured stderr, checked to be exactly one error line holding `words`."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simplepose {command}: error: "), err
    for w in words:
        assert w in err[0], err[0]
    return err[0]


@pytest.fixture()
def tiny_gt(poseval_golden_dir: Path, tmp_path: Path) -> Path:
    """A copy of a small official-poseval case: tmp/gt and tmp/pred."""
    import shutil

    case = poseval_golden_dir / "p01_clean_small"
    for name in ("gt", "pred"):
        shutil.copytree(case / name, tmp_path / name)
    return tmp_path


def test_a_folder_where_a_file_goes(tiny_gt: Path, capsys: pytest.CaptureFixture) -> None:
    out = tiny_gt / "out.json"
    out.mkdir()
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    _one_error_line(capsys, "eval", f"{out}: ", "folder")


def test_disk_full_names_the_file(tiny_gt: Path, capsys: pytest.CaptureFixture,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tiny_gt / "metrics.json"
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    _one_error_line(capsys, "eval", f"{out}: ", "No space left on device")
    assert not out.exists() and not [p for p in tiny_gt.iterdir() if p.name.startswith(".")]


def test_read_only_folder_names_the_file(tiny_gt: Path, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tiny_gt / "metrics.json"
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    _one_error_line(capsys, "eval", f"{out}: ", "Read-only file system")


@pytest.mark.parametrize("command", ["synth", "train", "export"])
def test_a_file_where_a_folder_goes(command: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Each command that writes meets a plain file where its output folder must be."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    if command == "synth":
        argv = ["synth", str(blocker / "data"), "--videos", "1", "--frames", "2", "--quiet"]
    elif command == "train":
        argv = ["train", str(CONFIGS / "synthetic_tiny.yaml"), "--work-dir", str(blocker / "work")]
    else:
        import torch

        from simplepose.model.checkpoint import save_checkpoint
        from simplepose.model.pose_model import SimpleBaseline
        torch.manual_seed(0)
        ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(depth=18, deconv_channels=16, num_deconv=1))
        argv = ["export", str(ckpt), str(blocker / "m.onnx"), "--input-size", "32", "32", "--no-verify"]
    assert main(argv) == 2
    _one_error_line(capsys, command, str(blocker))


@pytest.mark.parametrize("device, words", [("tpu", "unknown device 'tpu'"), ("cuda:7", "CUDA"),
                                           ("gpu0", "unknown device")])
def test_infer_device_unknown_or_unavailable(device: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the device")
    image = tmp_path / "x.jpg"
    image.write_bytes(b"")
    assert main(["infer", str(tmp_path / "m.pth"), str(image), "--device", device]) == 2
    _one_error_line(capsys, "infer", "--device: ", *words.split(","))


@pytest.mark.parametrize("option", ["--det-thr", "--kpt-thr", "--fps"])
def test_infer_refuses_nan_thresholds(option: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["infer", str(tmp_path / "m.pth"), str(tmp_path), option, "nan"])
    assert e.value.code == 2
    assert f"argument {option}: must be a finite number, got 'nan'" in capsys.readouterr().err


def test_sigterm_in_infer_leaves_no_temp_video(tmp_path: Path) -> None:
    """SIGTERM while the overlay video is being written: the hidden temp file is removed, exit 143."""
    import signal
    import subprocess
    import sys
    import time

    import cv2
    import numpy as np
    import torch

    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(depth=18, deconv_channels=16))
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(400):
        cv2.imwrite(str(frames / f"{i:06d}.jpg"), np.full((48, 64, 3), i % 255, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "simplepose", "infer", str(ckpt), str(frames), "--batch-size",
                             "1", "--out-dir", str(out), "--video-out", str(out / "v.mp4")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        for _ in range(1200):                        # until the temp video exists (or 120 s)
            if any(p.name.startswith(".v.") for p in out.iterdir()) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().strip().splitlines()[-1] == "simplepose infer: interrupted: terminated by SIGTERM"
    assert sorted(p.name for p in out.iterdir()) == []


HEAVY = ("torch", "cv2")


def test_help_loads_neither_torch_nor_opencv() -> None:
    """A fresh interpreter builds the parser and prints every command's help without torch or OpenCV."""
    import subprocess
    import sys

    from simplepose.cli import COMMANDS
    from tests.cli_subprocess import cli_env

    code = ("import contextlib, io, sys\n"
            "from simplepose.cli import build_parser, main\n"
            "build_parser()\n"
            f"for argv in [['--help']] + [[c, '--help'] for c in {sorted(COMMANDS)!r}]:\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture) -> None:
    import simplepose

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"simplepose {simplepose.__version__}"


def test_a_synthetic_config_without_its_data_says_how_to_make_it(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(CONFIGS / "synthetic_tiny.yaml"), "--work-dir", str(tmp_path / "work")]) == 2
    _one_error_line(capsys, "train", "synthetic_tiny/data/annotations/posetrack18_train.json: not found",
                    "`simplepose synth synthetic_tiny/data`")

"""The CLI's one error path: every failure is one `simplepose CMD: error: FILE: problem` line, exit 2."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.cli import main
from tests.commands.cli_errors import one_error_line

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


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
    one_error_line(capsys, command, str(blocker))


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
    one_error_line(capsys, "train", "synthetic_tiny/data/annotations/posetrack18_train.json: not found",
                   "`simplepose synth synthetic_tiny/data`")

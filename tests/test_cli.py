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

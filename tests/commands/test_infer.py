"""`simplepose infer` messages a new user needs."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from simplepose.cli import main


def test_infer_without_boxes_says_it_uses_the_whole_frame(samples_dir: Path, tmp_path: Path, caplog) -> None:
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(depth=18, deconv_channels=16))
    image = next((samples_dir / "posetrack18" / "images" / "val").rglob("*.jpg"))
    with caplog.at_level(logging.INFO):
        assert main(["infer", str(ckpt), str(image), "--out-dir", str(tmp_path / "out"), "--no-flip"]) == 0
    assert "ONE person filling the WHOLE frame" in caplog.text
    assert "track." not in caplog.text            # no tracking: no tracking settings
    assert "memory:" not in caplog.text           # the allocator's line is for --verbose (debug)

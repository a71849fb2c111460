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
    with caplog.at_level(logging.WARNING):
        assert main(["infer", str(ckpt), str(image), "--out-dir", str(tmp_path / "out"), "--no-flip"]) == 0
    assert "ONE person filling the WHOLE frame" in caplog.text


def test_infer_with_a_checkpoint_of_unknown_keypoints_is_one_line(tmp_path: Path, capsys) -> None:
    """A 5-keypoint checkpoint naming no keypoint set: one error line naming the counts, exit 2."""
    import cv2
    import numpy as np

    from simplepose.model.pose_model import SimpleBaseline
    torch.save({"state_dict": SimpleBaseline(18, 5, deconv_channels=16).state_dict()}, tmp_path / "k5.pth")
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 48, 3), np.uint8))
    assert main(["infer", str(tmp_path / "k5.pth"), str(tmp_path / "a.png"), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "k5.pth: predicts 5 keypoints, and no keypoint set simplepose knows fits" in err[0]

"""`simplepose infer` messages a new user needs."""
from __future__ import annotations

import json
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



def test_infer_on_a_folder_of_videos_under_torchrun_writes_the_one_process_files(tmp_path: Path) -> None:
    """A folder of 3 videos in 2 CPU processes (torchrun, gloo): whole videos per process, each video's
    files in OUT_DIR/<video name>/, byte for byte those of one process."""
    import subprocess
    import sys

    import numpy as np
    import torch

    from simplepose.engine.build import build_model
    from simplepose.inference.video import VideoWriter
    from tests.cli_subprocess import cli_env, run_cli
    from tests.engine.conftest import tiny_config

    torch.manual_seed(0)
    ckpt = tmp_path / "model.pth"
    torch.save({"state_dict": build_model(tiny_config(tmp_path, tmp_path)).state_dict(),
                "meta": {"schema": "posetrack18"}}, ckpt)
    videos = tmp_path / "videos"
    videos.mkdir()
    rng = np.random.default_rng(0)
    for name, frames in (("a", 3), ("b", 2), ("c", 2)):
        with VideoWriter(videos / f"{name}.avi", fps=5) as w:
            for _ in range(frames):
                w.write(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    args = [ckpt, videos, "--track", "--draw", "--input-size", "64", "96"]
    one = run_cli("infer", *args, "--out-dir", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "simplepose", "infer", *map(str, args), "--out-dir", str(tmp_path / "two")],
                         env=cli_env(), capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    # a (3 frames) to process 0; b to process 1 (0 < 3 frames), c too (2 < 3)
    assert "process 0 of 2: a.avi" in two.stderr and "process 1 of 2: b.avi, c.avi" in two.stderr
    files = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert files == again
    assert {p.parts[0] for p in files} == {"a", "b", "c"}
    assert len([p for p in files if p.parts[1] == "overlays"]) == 7                 # every frame of every video
    lines = (tmp_path / "one" / "a" / "tracks.jsonl").read_text().splitlines()
    assert [json.loads(ln)["sequence"] for ln in lines] == ["a"] * 3



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

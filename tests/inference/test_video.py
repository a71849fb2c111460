"""Overlay videos: the usual file mode, H.264 when this OpenCV can write it, else a stated fallback."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from simplepose.inference.video import CODEC_NAMES, VideoWriter, can_write


def _write(path: Path, n: int = 3) -> VideoWriter:
    writer = VideoWriter(path, fps=10)
    for i in range(n):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.close()
    return writer


def test_video_gets_the_usual_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        _write(tmp_path / "v.mp4")
    finally:
        os.umask(old)
    assert (tmp_path / "v.mp4").stat().st_mode & 0o777 == 0o644     # mkstemp alone gives 0600
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_mp4_is_h264_when_possible_else_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        writer = _write(tmp_path / "v.mp4")
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 3
    if can_write("avc1", ".mp4"):
        assert writer.codec == "avc1" and fourcc.lower() in ("avc1", "h264")
        assert "no H.264 encoder" not in caplog.text
    else:
        assert writer.codec == "mp4v" and fourcc in ("mp4v", "FMP4")   # FFmpeg reads MPEG-4 Part 2 back as FMP4
        assert "no H.264 encoder" in caplog.text and CODEC_NAMES["mp4v"] in caplog.text
        assert "write .webm instead" in caplog.text
    assert _write(tmp_path / "v.avi").codec == "MJPG"


def test_webm_is_vp8_and_reads_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The container browsers play with the encoders pip's OpenCV has: VP8, no warning."""
    with caplog.at_level(logging.WARNING):
        writer = _write(tmp_path / "v.webm", n=4)
    assert writer.codec == "VP80" and caplog.text == ""
    cap = cv2.VideoCapture(str(tmp_path / "v.webm"))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3)
    assert [int(round(f.mean())) for f in frames] == pytest.approx([0, 40, 80, 120], abs=3)


def test_folder_frames_are_grouped_by_folder_in_natural_order_and_numbered(tmp_path):
    from simplepose.inference.video import ImageFrames, frame_numbers
    for rel in ("a/img2.png", "a/img10.png", "a/b/0.png", "a/img1.png", "c/x.png", "c/y.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), np.zeros((4, 4, 3), np.uint8))
    frames = ImageFrames(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in frames.paths]
    assert rel == ["a/img1.png", "a/img2.png", "a/img10.png", "a/b/0.png", "c/x.png", "c/y.png"]
    assert frames.sequences == ["a", "a", "a", "a/b", "c", "c"]
    assert frames.numbers == [1, 2, 10, 0, 0, 1]        # c: no numbers in the names -> positions
    assert frame_numbers(["cam1_007", "cam1_009"]) == [7, 9]
    assert frame_numbers(["1", "01"]) == [0, 1]           # not increasing: positions

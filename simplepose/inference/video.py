"""Frame sources (one image, a folder of images, a video file) and atomic overlay writers."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from simplepose.data.image import read_image
from simplepose.errors import DataError
from simplepose.io import usual_mode

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
# Container -> FourCCs to try, best first: H.264 ('avc1') plays in browsers and most players but
# needs an FFmpeg built with an H.264 encoder (pip's opencv-python wheels have none); MPEG-4 Part 2
# ('mp4v') and Motion JPEG ('MJPG') are always there. WebM's VP8 ('VP80', fast to encode) and VP9
# come with pip's OpenCV and play in browsers.
_FOURCCS = {".mp4": ("avc1", "mp4v"), ".m4v": ("avc1", "mp4v"), ".mov": ("avc1", "mp4v"),
            ".mkv": ("avc1", "MJPG"), ".avi": ("MJPG",), ".webm": ("VP80", "VP90")}
CODEC_NAMES = {"avc1": "H.264", "mp4v": "MPEG-4 Part 2", "MJPG": "Motion JPEG", "VP80": "VP8", "VP90": "VP9"}
# what a browser's <video> plays, by the FourCC written
BROWSER_PLAYABLE = ("avc1", "VP80", "VP90")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: FFmpeg prints its own errors there when a probed encoder is missing."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=None)
def can_write(fourcc: str, ext: str) -> bool:
    """Whether this OpenCV writes `fourcc` into an `ext` file: a tiny test video, written and read back."""
    with tempfile.TemporaryDirectory() as d, _quiet_stderr():
        path = os.path.join(d, "probe" + ext)
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 10.0, (64, 64))
        if not writer.isOpened():
            return False
        for i in range(2):
            writer.write(np.full((64, 64, 3), 60 * i, np.uint8))
        writer.release()
        cap = cv2.VideoCapture(path)
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        return bool(ok)


def choose_fourcc(ext: str) -> str:
    """The best FourCC this machine writes for a container (see _FOURCCS); logs a fallback and why."""
    candidates = _FOURCCS[ext]
    for fourcc in candidates:
        if can_write(fourcc, ext):
            if fourcc != candidates[0] and fourcc not in BROWSER_PLAYABLE:
                log.warning("this OpenCV/FFmpeg has no %s encoder (FourCC %r): the %s video is %s (%r), which "
                            "browsers and some players do not play; write .webm instead (VP8, which browsers "
                            "play), or re-encode with e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT`",
                            CODEC_NAMES[candidates[0]], candidates[0], ext, CODEC_NAMES[fourcc], fourcc)
            return fourcc
    return candidates[-1]     # nothing probed well: let the real writer report the failure


@dataclass
class Frame:
    """One decoded frame and where it came from."""

    image: np.ndarray           # (H, W, 3) uint8 BGR
    index: int                  # position in the source (the frame number for a video)
    name: str                   # image path relative to the input folder, or "000123" for a video frame
    path: str | None            # image file path; None for video frames
    sequence: str               # frames of one sequence are tracked together (folder or video name)
    number: int                 # frame number in the sequence (gaps: frames missing), see ImageFrames


def is_video_path(path: str | os.PathLike) -> bool:
    """Whether the file name has a video extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def natural_key(text: str) -> tuple:
    """Sort key reading runs of ASCII digits as numbers ("img2" before "img10"), the text breaking ties."""
    parts = re.split(r"([0-9]+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)) + (text,)


def _trailing_number(stem: str) -> int | None:
    """The last run of ASCII digits in a file stem ("cam1_000123" -> 123), else None."""
    found = re.findall(r"[0-9]+", stem)
    return int(found[-1]) if found else None


def frame_numbers(stems: list[str]) -> list[int]:
    """Frame numbers of one sequence's files in order: the last number in each stem when every stem
    has one and they increase strictly, else the positions 0, 1, ..."""
    numbers = [_trailing_number(s) for s in stems]
    if all(n is not None for n in numbers) and all(a < b for a, b in zip(numbers, numbers[1:])):
        return numbers  # type: ignore[return-value]
    return list(range(len(stems)))


class ImageFrames:
    """Images from a file or a folder (searched recursively): the images of each folder together, folders
    and then file names in natural order (numbers by value). A folder is a sequence; the frame number of
    an image is the last number in its file name (000007.jpg, img_7.png: 7) when every image of the
    folder has one and they increase, else its position in the folder, so gaps in the numbering are
    frames the tracker did not see."""

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if path.is_file():
            self.root, self.paths = path.parent, [path]
        else:
            self.root = path
            self.paths = sorted((p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                                key=lambda p: (natural_key(p.parent.relative_to(path).as_posix()), natural_key(p.name)))
            if not self.paths:
                raise DataError(path, f"folder holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
        self.sequences = [p.parent.relative_to(self.root).as_posix() for p in self.paths]
        self.numbers: list[int] = []
        start = 0
        for end in range(1, len(self.paths) + 1):
            if end == len(self.paths) or self.sequences[end] != self.sequences[start]:
                self.numbers += frame_numbers([p.stem for p in self.paths[start:end]])
                start = end
        self.fps: float | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for i, p in enumerate(self.paths):
            yield Frame(read_image(p), i, p.relative_to(self.root).as_posix(), str(p), self.sequences[i], self.numbers[i])


class VideoFrames:
    """Frames of a video file decoded with OpenCV, in order."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "video file not found")
        cap = self._open()
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        if count <= 0:                                    # stream without a frame count: count by grabbing
            count = 0
            while cap.grab():
                count += 1
        cap.release()
        self.count = count                                # the container's claim (progress, box matching)
        self.fps = fps if np.isfinite(fps) and fps > 0 else None

    def _open(self) -> cv2.VideoCapture:
        """An opened capture, or a DataError if OpenCV cannot read the file."""
        cap = cv2.VideoCapture(os.fsencode(self.path))   # bytes: OpenCV crashes on non-UTF-8 str names
        if not cap.isOpened():
            cap.release()
            raise DataError(self.path, "cannot open video (not a video, or an unsupported codec)")
        return cap

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Frame]:
        cap = self._open()
        try:
            i = 0
            while True:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                yield Frame(image, i, f"{i:06d}", None, self.path.stem, i)
                i += 1
            if i == 0:
                raise DataError(self.path, "no frame could be decoded from the video")
        finally:
            cap.release()


def video_files(folder: str | os.PathLike) -> list[Path]:
    """The video files directly in a folder that holds no image file, in natural order (else [])."""
    folder = Path(folder)
    if not folder.is_dir() or any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.rglob("*") if p.is_file()):
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and is_video_path(p)), key=lambda p: natural_key(p.name))


def open_frames(path: str | os.PathLike) -> ImageFrames | VideoFrames:
    """The frame source for an image file, a folder of images or a video file."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "input not found (expected an image, a folder of images or a video)")
    if path.is_dir():
        return ImageFrames(path)
    if is_video_path(path):
        return VideoFrames(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFrames(path)
    raise DataError(path, f"unknown input type {path.suffix!r}: expected an image "
                          f"({', '.join(IMAGE_EXTENSIONS)}), a folder or a video ({', '.join(VIDEO_EXTENSIONS)})")


class VideoWriter:
    """Writes frames to a temporary file beside `path`, renamed into place on close()."""

    def __init__(self, path: str | os.PathLike, fps: float = 30.0):
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in _FOURCCS:
            raise DataError(self.path, f"unsupported video extension {ext!r}; use one of {sorted(_FOURCCS)}")
        self.codec = choose_fourcc(ext)                   # e.g. "avc1"; CODEC_NAMES[codec] for people
        self.fourcc = cv2.VideoWriter_fourcc(*self.codec)
        self.fps = float(fps)
        self.size: tuple[int, int] | None = None          # (w, h) of the first frame
        self._writer: cv2.VideoWriter | None = None
        self._tmp: str | None = None
        self.frames = 0
        self._warned = False

    def write(self, image: np.ndarray) -> None:
        """Append one BGR frame; frames of another size are resized to the first frame's size."""
        h, w = image.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent)
            os.close(fd)
            self.size = (w, h)
            self._writer = cv2.VideoWriter(os.fsencode(self._tmp), self.fourcc, self.fps, self.size)
            if not self._writer.isOpened():
                self.abort()
                raise DataError(self.path, "OpenCV cannot write this video format here")
        elif (w, h) != self.size:
            if not self._warned:
                log.warning("%s: frame %d is %dx%d, resized to the video's %dx%d",
                            self.path, self.frames, w, h, *self.size)
                self._warned = True
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(image))
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file and move it into place; None if no frame was written."""
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        usual_mode(self._tmp)
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

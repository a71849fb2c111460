"""Person boxes for frames: the whole frame, a box file's persons, matched to frames by file name or
frame number.

Box files (recognised by their content):
* a COCO-style annotation file (COCO person keypoints or merged PoseTrack18 json) or a PoseTrack18
  per-video annotation folder: the ground-truth boxes (``PersonInstance.reference_box``: clipped to
  the image as MMPose's dataset does), dropping the instances MMPose drops; images are matched by
  the longest common suffix of their path and the records' file_name;
* detections in COCO results format (a JSON list of image_id, bbox xywh, score, category_id): the
  image_id is looked up in an annotation file's `images` when one is given; without it, image_id is
  the frame number of a video, or the number in an image's file name (COCO: 000000000785.jpg -> 785);
* a person detector: a callable image -> (boxes (D, 4) xyxy, scores (D,)), run on each frame asked
  for (e.g. simplepose.inference.detector.OnnxPersonDetector).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

import numpy as np

from simplepose.data.annotations import load_annotated_persons, load_image_records
from simplepose.data.cocostyle import ImageInfo, frame_number
from simplepose.data.detections import load_detections
from simplepose.data.geometry import bbox_xywh_to_xyxy, bbox_xyxy_to_xywh
from simplepose.data.instances import PersonInstance
from simplepose.errors import DataError
from simplepose.inference.video import Frame, ImageFrames, VideoFrames

log = logging.getLogger(__name__)


@dataclass
class FrameBoxes:
    """The persons to estimate in one frame."""

    image_id: int
    boxes_xywh: np.ndarray      # (N, 4) float64
    scores: np.ndarray          # (N,) float64 box scores
    # (N, 4) float32 x1, y1, x2, y2 a box file's persons are cropped from, as MMPose's dataset and
    # `simplepose test` crop them (PersonInstance.reference_box); None: from boxes_xywh
    crop_xyxy: np.ndarray | None = None

    def xyxy(self) -> np.ndarray:
        """The (N, 4) boxes to crop from, x1, y1, x2, y2: float32 from a box file, else float64."""
        return self.crop_xyxy if self.crop_xyxy is not None else bbox_xywh_to_xyxy(self.boxes_xywh)


def _path_parts(name: str | Path) -> tuple[str, ...]:
    """Path components, '/' and '\\' both separators."""
    return PurePosixPath(str(name).replace("\\", "/")).parts


def match_file_names(paths: list[str], file_names: list[str], source: str) -> list[int | None]:
    """For each path, the index of the file_name sharing its longest suffix of path components.

    None where not even the base name matches; a DataError when the best match is not unique.
    """
    inputs = [_path_parts(Path(p).absolute().as_posix()) for p in paths]
    deepest = max((len(parts) for parts in inputs), default=0)
    # suffixes no deeper than the deepest input: memory linear in the records, whatever their depth
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    longest = 0
    for j, name in enumerate(file_names):
        parts = _path_parts(name)
        longest = max(longest, min(len(parts), deepest))
        for n in range(1, min(len(parts), deepest) + 1):
            index[parts[-n:]].append(j)
    out: list[int | None] = []
    for p, parts in zip(paths, inputs):
        found = None
        for n in range(min(len(parts), longest), 0, -1):
            hits = index.get(parts[-n:])
            if hits:
                if len(hits) > 1:
                    names = ", ".join(repr(file_names[j]) for j in hits[:3])
                    raise DataError(source, f"image {p} matches several records equally well ({names}); "
                                            "keep the dataset's folder layout so that file names are unique")
                found = hits[0]
                break
        out.append(found)
    return out


def box_file_kind(path: Path) -> str:
    """'detections' for a JSON list, 'annotations' for a JSON object, judged by the first character."""
    if not path.is_file():
        raise DataError(path, "box file not found")
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "detections"
    if head.startswith(b"{"):
        return "annotations"
    raise DataError(path, "expected detections (a JSON list) or an annotation file (a JSON object)")


Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]   # image -> (D, 4) xyxy, (D,) scores


class BoxProvider:
    """Frame -> FrameBoxes: the whole frame, a box file's persons matched to the frames, or a detector's."""

    def __init__(self, source: ImageFrames | VideoFrames, boxes_path: str | None = None,
                 images_json: str | None = None, det_thr: float = 0.3, detector: Detector | None = None):
        """det_thr: minimum score of a box file's or the detector's detections; detector: instead of a box file."""
        if detector is not None and boxes_path is not None:
            raise DataError(boxes_path, "give a box file or a detector, not both")
        self.source = source
        self.boxes_path = boxes_path
        self.detector = detector
        self.det_thr = det_thr
        self.frame_ids: dict[int, int | None] = {}     # frame index -> image id (images: known up front)
        self.by_image: dict[int, list[PersonInstance]] = defaultdict(list)
        self.clip = False
        self.video_frames: dict[int, int] = {}          # video frame index -> image id
        if boxes_path is None:
            return
        path = Path(boxes_path)
        kind = "annotations" if path.is_dir() else box_file_kind(path)
        if kind == "detections":
            instances, records = self._detections(path, images_json, det_thr)
        else:
            instances, records = self._annotations(path)
            self.clip = True
        for inst in instances:
            self.by_image[inst.image_id].append(inst)
        self._match(path, records)

    # -- box files
    def _detections(self, path: Path, images_json: str | None, det_thr: float) -> tuple[list[PersonInstance], dict]:
        """Detections and the image records their ids refer to."""
        if images_json is not None:
            records = load_image_records(images_json, ".")
        elif isinstance(self.source, VideoFrames):
            # image_id is the frame number: records as a PoseTrack sequence named like the video
            records = {i: ImageInfo(image_id=i, file_name=f"{i:06d}", image_path="", index=i,
                                    video_id=self.source.path.stem, frame_index=i)
                       for i in range(len(self.source))}
        else:
            records = {}
            for i, p in enumerate(self.source.paths):
                image_id = frame_number(p.stem)
                if image_id is not None:
                    if image_id in records:
                        raise DataError(path, f"image files {records[image_id].image_path} and {p} both give "
                                              f"image_id {image_id}: pass --images-json to map ids to file names")
                    records[image_id] = ImageInfo(image_id=image_id, file_name=p.name, image_path=str(p), index=i)
            if not records:
                raise DataError(path, "no input image has a number as its name to match the detections' "
                                      "image_id: pass --images-json")
        try:
            return load_detections(path, records, score_thr=det_thr), records
        except DataError as e:
            if images_json is not None or "image_id" not in e.problem:
                raise
            what = "frames 0.." + str(len(records) - 1) if isinstance(self.source, VideoFrames) else \
                "image numbers " + ", ".join(map(str, sorted(records)[:5])) + (" ..." if len(records) > 5 else "")
            raise DataError(path, f"{e.problem} (the input has {what}; pass --images-json to map image ids "
                                  "to file names)", record=e.record) from None

    def _annotations(self, path: Path) -> tuple[list[PersonInstance], dict]:
        """Ground-truth persons of a COCO or PoseTrack annotation file/folder and its image records."""
        return load_annotated_persons(path, ".", probe_sizes=False), load_image_records(path, ".")

    def _match(self, path: Path, records: dict) -> None:
        """Map every frame to an image id, or raise when no frame matches the box file."""
        recs = list(records.values())
        if isinstance(self.source, VideoFrames):
            videos = {r.video_id for r in recs if r.video_id is not None}
            if len(videos) > 1:
                recs = [r for r in recs if r.video_id == self.source.path.stem]
                if not recs:
                    raise DataError(path, f"holds several sequences and none is named {self.source.path.stem!r} "
                                          "like the video")
            # PoseTrack records know their frame number; other files list frames in order.
            by_frame: dict[int, int] = {}
            for pos, r in enumerate(recs):
                by_frame.setdefault(r.frame_index if r.video_id is not None else pos, r.image_id)
            self.video_frames = by_frame
            n = len(self.source)
            if n and not any(0 <= f < n for f in by_frame):
                raise DataError(path, f"no record matches the video's {n} frames (frame numbers "
                                      f"{min(by_frame, default=0)}..{max(by_frame, default=0)})")
            return
        hits = match_file_names([str(p) for p in self.source.paths], [r.file_name for r in recs], str(path))
        self.frame_ids = {i: (None if j is None else recs[j].image_id) for i, j in enumerate(hits)}
        matched = sum(j is not None for j in hits)
        if matched == 0:
            example = recs[0].file_name if recs else "<none>"
            raise DataError(path, f"matches none of the {len(hits)} input images (e.g. {self.source.paths[0]} vs "
                                  f"record file_name {example!r})")
        if matched < len(hits):
            first = next(p for p, j in zip(self.source.paths, hits) if j is None)
            log.warning("%s: %d of %d input images have no record (first: %s); they get no persons",
                        path, len(hits) - matched, len(hits), first)

    # -- per frame
    @property
    def whole_frame(self) -> bool:
        """Whether every frame is one whole-frame box (neither a box file nor a detector)."""
        return self.boxes_path is None and self.detector is None

    def image_id(self, frame: Frame) -> int | None:
        """The image id of the frame: its box file record's, else its index; None when the file has no record."""
        if self.boxes_path is None:
            return frame.index
        if isinstance(self.source, VideoFrames):
            return self.video_frames.get(frame.index)
        return self.frame_ids.get(frame.index)

    def __call__(self, frame: Frame) -> FrameBoxes | None:
        """The frame's persons; None when the box file has no record for it."""
        h, w = frame.image.shape[:2]
        image_id = self.image_id(frame)
        if image_id is None:
            return None
        if self.detector is not None:
            xyxy, scores = self.detector(frame.image)
            scores = np.asarray(scores, np.float64).reshape(-1)
            keep = scores >= self.det_thr
            xywh = bbox_xyxy_to_xywh(np.asarray(xyxy, np.float64).reshape(-1, 4)[keep])
            return FrameBoxes(image_id, xywh, scores[keep])
        if self.boxes_path is None:
            return FrameBoxes(image_id, np.array([[0.0, 0.0, w, h]]), np.ones(1))
        insts = self.by_image.get(image_id, [])
        # one box path with `simplepose test`: float32 boxes as the dataset reads them (clipped if annotated)
        xyxy = np.array([i.reference_box((w, h)) for i in insts], dtype=np.float32).reshape(-1, 4)
        if self.clip:
            boxes = bbox_xyxy_to_xywh(xyxy).astype(np.float64)
        else:
            boxes = np.array([i.bbox_xywh for i in insts], dtype=np.float64)
        scores = np.array([i.score for i in insts], dtype=np.float64)
        return FrameBoxes(image_id, boxes.reshape(-1, 4), scores, xyxy)


# decoded pixels held at once by batch_frames: 16 full-HD frames, ~100 MB of BGR
MAX_BATCH_PIXELS = 16 * 1920 * 1080


def batch_frames(frames: Iterable[Frame], boxes: BoxProvider, max_persons: int,
                 max_pixels: int = MAX_BATCH_PIXELS) -> Iterator[list[tuple[Frame, FrameBoxes | None]]]:
    """Consecutive frames with their boxes, grouped until max_persons persons or max_pixels decoded
    pixels (memory is bounded by pixels, whatever the frame size; a frame larger than the budget
    is a batch of its own)."""
    batch: list[tuple[Frame, FrameBoxes | None]] = []
    persons = pixels = 0
    for frame in frames:
        fb = boxes(frame)
        batch.append((frame, fb))
        persons += 0 if fb is None else len(fb.boxes_xywh)
        pixels += frame.image.shape[0] * frame.image.shape[1]
        if persons >= max_persons or pixels >= max_pixels:
            yield batch
            batch, persons, pixels = [], 0, 0
    if batch:
        yield batch


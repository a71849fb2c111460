"""The flat, typed person-instance record every reader produces."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simplepose.data.geometry import clip_xyxy


@dataclass
class PersonInstance:
    """One person in one image: the unit of top-down pose estimation.

    Coordinates are pixels; integer coordinates are pixel centres.
    """

    image_path: str                 # absolute or relative path of the image file
    image_id: int
    bbox_xywh: np.ndarray           # (4,) float64, as annotated / detected (not clipped)
    keypoints: np.ndarray           # (K, 3) float32: x, y, visibility (0 = not annotated)
    image_size: tuple[int, int] | None = None   # (width, height) if known from the annotation
    ann_id: int | None = None
    video_id: str | None = None     # PoseTrack sequence name, e.g. "003418_mpii_test"
    frame_index: int = 0            # index of the frame within its video
    track_id: int | None = None
    head_bbox_xywh: np.ndarray | None = None    # (4,) float64, PoseTrack head box
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, each (M, 2) float64
    is_labeled: bool = True
    score: float = 1.0              # detection score; 1.0 for ground-truth boxes
    is_detection: bool = False      # a detector's box (never clipped) rather than an annotated one

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[0])

    def reference_box(self, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """The box the reference crops this person from: (4,) float32 x1, y1, x2, y2.

        Annotated boxes are clipped to the image as MMPose's dataset parser clips them (with the
        record's size, else `image_size` (width, height), e.g. read from the image file); detection
        boxes are used as detected, never clipped.
        """
        x, y, w, h = (float(v) for v in self.bbox_xywh)
        box = np.array([x, y, x + w, y + h], dtype=np.float64)
        size = None if self.is_detection else (self.image_size or image_size)
        if size is None:
            return box.astype(np.float32)
        return clip_xyxy(box, np.asarray(size, np.float64))


@dataclass
class PosePrediction:
    """One predicted person: what the model says about one box, in image pixels."""

    image_id: int
    bbox_xywh: np.ndarray           # (4,) float64 box the prediction was made from
    keypoints: np.ndarray           # (K, 2) float32 image pixels
    keypoint_scores: np.ndarray     # (K,) float32 heatmap maxima
    area: float                     # OKS area: width x height of the aspect-fixed, padded crop box
    box_score: float = 1.0          # detector score (1.0 for ground-truth boxes)
    track_id: int | None = None
    video_id: str | None = None
    frame_index: int = 0
    image_path: str | None = None

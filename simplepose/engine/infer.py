"""`simplepose infer`'s work: the persons of every frame of an image, a folder of images or a video,
estimated in batches or tracked online (FlowSORT or FlowTrack), and the files they are written to.

Without tracking, persons of consecutive frames share the estimator's batches
(inference.boxes.batch_frames). With tracking, frames go one by one through
tracking.online.OnlineTracker, the loop `simplepose track` runs: the person boxes of a frame (box
file, detector or whole frame; only every det_every-th frame of a sequence) plus the boxes
propagated from the previous frame are estimated and linked to tracks, afresh for every video and
every folder of frames; folder frames are numbered by their file names, so gaps in the numbering
are frames no track was seen in. Frames the box file has no record of are skipped (not tracked).

Outputs (InferenceOutputs): OUT_DIR/results.json (COCO results, with track_id when tracking),
OUT_DIR/tracks.jsonl (tracking: one line per frame, see inference.results.tracking_line), overlay
images and video, and PoseTrack18 per-video prediction files (tracking: after the paper's output
filter, track.out_box_thr / out_kpt_thr, as `simplepose track` scores them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from simplepose.data.geometry import bbox_xyxy_to_xywh
from simplepose.data.instances import PosePrediction
from simplepose.data.keypoints import KeypointSchema
from simplepose.engine.config import Config, apply_overrides
from simplepose.errors import ConfigError
from simplepose.evaluation.prediction_files import write_posetrack_predictions
from simplepose.inference.boxes import BoxProvider, FrameBoxes, batch_frames
from simplepose.inference.results import frame_predictions, result_records, tracking_line
from simplepose.inference.video import CODEC_NAMES, Frame, VideoWriter
from simplepose.io import write_json, write_json_lines
from simplepose.tracking.flowtrack import FrameTracks, output_filter
from simplepose.tracking.online import Boxes, OnlineTracker, TrackConfig
from simplepose.visualize import draw_poses, save_image

log = logging.getLogger(__name__)


@dataclass
class FrameResult:
    """One frame's persons (N of them) as inference found them."""

    frame: Frame
    persons: FrameBoxes | None              # boxes and box scores; None: no record in the box file (skipped)
    poses: np.ndarray                       # (N, K, 3) x, y, score
    tracks: FrameTracks | None = None       # tracking: the tracker's output (ids, propagated flags)
    scored: FrameTracks | None = None       # tracking: after the output filter (the PoseTrack files)


WHOLE_FRAME_DEFAULTS = {"propagate": False, "det_every": 1, "similarity": "iou"}
# infer's output is watched, so its keypoints are One-Euro smoothed (track, which is scored, keeps it off):
# on unseen synthetic splits the defaults cut jitter by a third, mAP within 0.4 (docs/tracking.md)
INFER_DEFAULTS = {"smooth.enabled": True}


def tracking_config(overrides: Sequence[str], whole_frame: bool) -> TrackConfig:
    """The track section after `track.key=value` overrides.

    INFER_DEFAULTS apply always, and whole-frame boxes (no box file, no detector) change the
    defaults in WHOLE_FRAME_DEFAULTS (settings given win): the whole frame already holds every box
    the flow could move, costs nothing on every frame, and always overlaps itself, so the one
    "person" keeps id 0.
    """
    for text in overrides:
        if not text.startswith("track."):
            raise ConfigError(None, f"infer takes only track.* settings, got '{text}'", key=text.split("=")[0])
    given = {text.split("=")[0].strip() for text in overrides}
    defaults = [f"track.{k}={v}" for k, v in WHOLE_FRAME_DEFAULTS.items() if f"track.{k}" not in given]
    if whole_frame and defaults:
        log.info("whole-frame boxes: %s", ", ".join(defaults))
    infer = [f"track.{k}={v}" for k, v in INFER_DEFAULTS.items() if f"track.{k}" not in given]
    return apply_overrides(Config(), [*infer, *(defaults if whole_frame else []), *overrides]).track


def estimate_frames(frames: Any, provider: BoxProvider, estimator: Any, batch_size: int) -> Iterator[FrameResult]:
    """Poses of every frame, persons of consecutive frames batched up to batch_size per estimator call."""
    for batch in batch_frames(frames, provider, batch_size):
        todo = [(f, boxes) for f, boxes in batch if boxes is not None and len(boxes.boxes_xywh)]
        poses = estimator.predict_batch([f.image for f, _ in todo], [boxes.xyxy() for _, boxes in todo],
                                        bbox_format="xyxy")
        by_frame = {id(f): p for (f, _), p in zip(todo, poses)}
        for frame, frame_boxes in batch:
            none = np.zeros((0, estimator.schema.num_keypoints, 3), np.float32)
            yield FrameResult(frame, frame_boxes, by_frame.get(id(frame), none))


def _xyxy(frame_boxes: FrameBoxes | None) -> Boxes:
    """A frame's boxes (D, 4) xyxy and scores (D,) for the tracker."""
    return frame_boxes.xyxy(), frame_boxes.scores


def _persons(image_id: int, tracks: FrameTracks) -> FrameBoxes:
    """The tracked persons' boxes as FrameBoxes (xywh)."""
    return FrameBoxes(image_id, bbox_xyxy_to_xywh(tracks.boxes_xyxy), tracks.box_scores)


def track_frames(frames: Any, provider: BoxProvider, online: OnlineTracker) -> Iterator[FrameResult]:
    """Every frame tracked online (see the module docstring); frames without a box record pass untracked."""
    cfg = online.cfg
    for frame in frames:
        image_id = provider.image_id(frame)
        if image_id is None:
            yield FrameResult(frame, None, np.zeros((0, len(online.tracker.sigmas), 3), np.float32))
            continue
        out = online.step(frame.image, frame.sequence, frame.number, lambda _, f=frame: _xyxy(provider(f)))
        yield FrameResult(frame, _persons(image_id, out), out.keypoints, out,
                          output_filter(out, cfg.out_box_thr, cfg.out_kpt_thr))


class InferenceOutputs:
    """Collects FrameResults and writes results.json, tracks.jsonl, overlays, the video and PoseTrack files."""

    def __init__(self, out_dir: str | Path, schema: KeypointSchema, estimator: Any, is_video: bool,
                 tracking: bool = False, draw: bool = False, video: VideoWriter | None = None,
                 kpt_thr: float = 0.3, gt_videos: list | None = None, posetrack_out: str | Path | None = None):
        """estimator: gives the OKS areas of boxes; gt_videos: PoseTrack GT videos, needed for posetrack_out."""
        self.out_dir = Path(out_dir)
        self.schema, self.estimator, self.is_video, self.tracking = schema, estimator, is_video, tracking
        self.draw, self.video, self.kpt_thr = draw, video, kpt_thr
        self.gt_videos, self.posetrack_out = gt_videos, posetrack_out
        self.results: list[dict] = []
        self.lines: list[dict] = []
        self.predictions: list[PosePrediction] = []
        self.frames = self.persons = self.unmatched = 0

    def add(self, r: FrameResult) -> None:
        """Record one frame's persons (and draw them)."""
        ids = None if r.tracks is None else r.tracks.track_ids
        if r.persons is None:
            self.unmatched += 1
        else:
            self.results.extend(result_records(r.frame, r.persons, r.poses, ids, self.is_video))
            if r.tracks is not None:
                self.lines.append(tracking_line(r.frame, r.persons, r.poses, ids, r.tracks.propagated))
            if self.gt_videos is not None:
                self.predictions.extend(self._predictions(r))
        self.frames += 1
        self.persons += len(r.poses)
        if self.draw or self.video is not None:
            boxes = r.persons.boxes_xywh if r.persons is not None else np.zeros((0, 4))
            canvas = draw_poses(r.frame.image, r.poses, self.schema, score_thr=self.kpt_thr,
                                track_ids=None if ids is None else ids.tolist(), boxes_xywh=boxes)
            if self.draw:
                name = f"{r.frame.name}.jpg" if self.is_video else str(Path(r.frame.name).with_suffix(".jpg"))
                save_image(self.out_dir / "overlays" / name, canvas)
            if self.video is not None:
                self.video.write(canvas)

    def _predictions(self, r: FrameResult) -> list[PosePrediction]:
        """The PosePrediction records a frame adds to the PoseTrack files."""
        if r.scored is None:
            return frame_predictions(r.persons, r.poses, self.estimator.oks_areas(r.persons.xyxy(), "xyxy"), None)
        frame_boxes = _persons(r.persons.image_id, r.scored)
        return frame_predictions(frame_boxes, r.scored.keypoints, self.estimator.oks_areas(frame_boxes.boxes_xywh),
                                 r.scored.track_ids)

    def finish(self) -> None:
        """Write the collected files; logs where they went."""
        path = write_json(self.out_dir / "results.json", self.results)
        log.info("%d frames, %d persons -> %s", self.frames, self.persons, path)
        if self.tracking:
            log.info("tracks of %d frames -> %s", len(self.lines),
                     write_json_lines(self.out_dir / "tracks.jsonl", self.lines))
        if self.gt_videos is not None:
            files = write_posetrack_predictions(self.predictions, self.gt_videos, self.posetrack_out,
                                                schema=self.schema, use_track_ids=self.tracking)
            log.info("PoseTrack18 predictions of %d videos -> %s", len(files), self.posetrack_out)
        if self.video is not None:
            path = self.video.close()
            log.info("overlay video (%d frames, %s) -> %s", self.video.frames, CODEC_NAMES[self.video.codec], path)
        if self.draw:
            log.info("overlay images -> %s", self.out_dir / "overlays")

    def abort(self) -> None:
        """Drop the partial video."""
        if self.video is not None:
            self.video.abort()

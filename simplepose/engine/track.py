"""The tracking loop: the tracker (FlowSORT or FlowTrack) over every video of the config's val split, scored with
mAP, MOTA and keypoint HOTA.

Frames come from the per-video ground truth (data.val_gt) in file order; boxes from a detection
file in COCO results format (data.val_bbox_file or the given file), or the ground-truth boxes when
there is none (an upper bound: they exist on labeled frames only), or from a detector run on the
frames. The per-frame loop is simplepose.tracking.online.OnlineTracker, the one `simplepose infer
--track` runs too: the tracker of track.tracker (FlowSORT by default, or FlowTrack) gives each person a track id, with
track.det_every N only every N-th frame's boxes are used, keypoints are One-Euro smoothed when
track.smooth.enabled. Two sets of per-video PoseTrack18 files are written:

  <out_dir>/predictions/             after the paper's output filter (track.out_box_thr, out_kpt_thr):
                                     scored for mAP and MOTA;
  <out_dir>/predictions_unfiltered/  every tracked person: scored for mAP only.

Each folder is written beside its final place and swapped in whole.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from simplepose.data.cocostyle import ImageInfo
from simplepose.data.detections import load_detections
from simplepose.data.geometry import bbox_xyxy_to_xywh
from simplepose.data.image import read_image
from simplepose.data.instances import PersonInstance, PosePrediction
from simplepose.data.keypoints import get_schema
from simplepose.data.posetrack import PoseTrackVideo, load_posetrack, load_posetrack_videos, video_image_records
from simplepose.engine.config import Config
from simplepose.errors import ConfigError
from simplepose.evaluation.arrays import nan_to_none
from simplepose.evaluation.eval_data import EvalData, load_eval_data
from simplepose.evaluation.hota import HotaResult, evaluate_hota
from simplepose.evaluation.mota import TrackingResult, evaluate_tracking
from simplepose.evaluation.pose_ap import PoseTrackResult, evaluate_data
from simplepose.evaluation.prediction_files import write_posetrack_predictions
from simplepose.evaluation.report import find_images_root, write_report
from simplepose.folders import replace_folder
from simplepose.tracking.flowtrack import STAGES, FlowTracker, FrameTracks, output_filter
from simplepose.tracking.online import NO_BOXES, Boxes, OnlineTracker, make_tracker


@dataclass
class TrackRun:
    """What a tracking run produced and how long each stage took."""

    filtered: list[PosePrediction]      # after the output filter (what MOTA scores)
    unfiltered: list[PosePrediction]    # every tracked person
    videos: list[PoseTrackVideo]
    frames: int
    ms_per_frame: dict[str, float]      # detector, flow, pose, association, total


def frame_boxes(instances: Sequence[PersonInstance]) -> dict[int, Boxes]:
    """Image id -> the boxes (xyxy, as the reference crops them) and scores of its instances."""
    rows: dict[int, list[PersonInstance]] = {}
    for inst in instances:
        rows.setdefault(inst.image_id, []).append(inst)
    return {iid: (np.stack([p.reference_box() for p in ps]).astype(np.float64),
                  np.array([p.score for p in ps], np.float64)) for iid, ps in rows.items()}


def load_val_boxes(cfg: Config, images: dict[int, ImageInfo], bbox_file: str | None) -> dict[int, Boxes]:
    """Per image id the val split's detections (bbox_file, else data.val_bbox_file) or GT boxes."""
    d = cfg.data
    bbox_file = bbox_file if bbox_file is not None else cfg.resolve(d.val_bbox_file)
    if bbox_file:
        return frame_boxes(load_detections(bbox_file, images, score_thr=d.bbox_score_thr))
    return frame_boxes(load_posetrack(cfg.resolve(d.val_ann), os.path.join(d.data_root, d.val_images)))


def _predictions(info: ImageInfo, out: FrameTracks, estimator: Any) -> list[PosePrediction]:
    """PosePrediction records (with track ids) of one frame's tracked persons."""
    if len(out.track_ids) == 0:
        return []
    areas = estimator.oks_areas(out.boxes_xyxy, bbox_format="xyxy")
    xywh = bbox_xyxy_to_xywh(out.boxes_xyxy)
    return [PosePrediction(image_id=info.image_id, bbox_xywh=xywh[i], keypoints=out.keypoints[i, :, :2].copy(),
                           keypoint_scores=out.keypoints[i, :, 2].copy(), area=float(areas[i]),
                           box_score=float(out.box_scores[i]), track_id=int(out.track_ids[i]),
                           video_id=info.video_id, frame_index=info.frame_index, image_path=info.image_path)
            for i in range(len(out.track_ids))]


def track_videos(cfg: Config, estimator: Any, bbox_file: str | None = None, progress: bool = True,
                 tracker: FlowTracker | None = None,
                 detector: Callable[[np.ndarray], Boxes] | None = None) -> TrackRun:
    """Run the config's tracker (track.tracker, or the given tracker) over every val video; predictions and timings.

    detector: a person detector run on the frames (e.g. inference.detector.OnnxPersonDetector)
    instead of reading boxes from a file.
    """
    if cfg.data.dataset != "posetrack18":
        raise ConfigError(None, f"tracking needs video data (posetrack18), not '{cfg.data.dataset}'",
                          key="data.dataset")
    videos = load_posetrack_videos(cfg.resolve(cfg.data.val_gt))
    images = video_image_records(videos, os.path.join(cfg.data.data_root, cfg.data.val_images))
    boxes = load_val_boxes(cfg, images, bbox_file) if detector is None else {}
    if tracker is None:
        tracker = make_tracker(estimator, get_schema(cfg.data.dataset).sigmas_array, cfg.track)
    online = OnlineTracker(tracker)
    filtered: list[PosePrediction] = []
    unfiltered: list[PosePrediction] = []
    read_s, frames = 0.0, 0
    bar = tqdm(total=len(images), desc="track", unit="frame", disable=not progress, leave=False, dynamic_ncols=True)
    for video in videos:
        for rec in video.images:
            info = images[int(rec["id"])]
            t0 = time.perf_counter()
            image = read_image(Path(info.image_path))
            read_s += time.perf_counter() - t0
            source = detector if detector is not None else lambda _, i=info.image_id: boxes.get(i, NO_BOXES)
            out = online.step(image, video.name, info.frame_index, source)
            unfiltered += _predictions(info, out, estimator)
            filtered += _predictions(info, output_filter(out, cfg.track.out_box_thr, cfg.track.out_kpt_thr),
                                     estimator)
            frames += 1
            bar.update(1)
    bar.close()
    n = max(frames, 1)
    ms = {s: 1000 * tracker.clock.wall[s] / n for s in STAGES}
    ms["read"] = 1000 * read_s / n
    ms["total"] = sum(ms.values())
    return TrackRun(filtered, unfiltered, videos, frames, ms)


def write_folder(predictions: Sequence[PosePrediction], videos: Sequence[PoseTrackVideo], dest: Path) -> Path:
    """Per-video PoseTrack18 files with the predictions' track ids, swapped into dest whole (over a
    previous dest only if the project wrote it)."""
    return replace_folder(dest, lambda tmp: write_posetrack_predictions(predictions, videos, tmp, use_track_ids=True))


@dataclass
class TrackEvaluation:
    """Scores of a tracking run: mAP with and without the output filter, poseval's MOTA and the
    PoseTrack21 kit's keypoint HOTA (#10 fixed)."""

    pose: PoseTrackResult              # filtered predictions
    pose_unfiltered: PoseTrackResult
    tracking: TrackingResult           # filtered predictions
    predictions: Path                  # the filtered prediction folder
    data: EvalData                     # the evaluated frames of the filtered predictions
    gt: str                            # the ground truth evaluated against
    hota: HotaResult | None = None     # filtered predictions

    def metrics(self) -> dict[str, float | int | None]:
        """The headline numbers (percent, None where undefined; counts summed over the 15 joints)."""
        t = self.tracking
        rates = nan_to_none(np.array([self.pose.summary_ap[-1], self.pose_unfiltered.summary_ap[-1], t.mota[15],
                                      t.motp[15], t.precision[15], t.recall[15]]))
        out: dict[str, float | int | None] = dict(zip(("mAP", "mAP_unfiltered", "MOTA", "MOTP", "precision",
                                                        "recall"), rates))
        out.update(FP=int(t.counts["num_false_positives"].sum()), FN=int(t.counts["num_misses"].sum()),
                   IDSW=int(t.counts["num_switches"].sum()))
        if self.hota is not None:
            total = self.hota.to_json()["total"]
            out.update({k: total[k] for k in ("HOTA", "DetA", "AssA")})
        return out


def evaluate_run(cfg: Config, run: TrackRun, out_dir: str | Path) -> TrackEvaluation:
    """Write both prediction folders under out_dir and score them against data.val_gt."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gt = cfg.resolve(cfg.data.val_gt)
    pred = write_folder(run.filtered, run.videos, out_dir / "predictions")
    raw = write_folder(run.unfiltered, run.videos, out_dir / "predictions_unfiltered")
    data = load_eval_data(gt, pred)
    return TrackEvaluation(evaluate_data(data), evaluate_data(load_eval_data(gt, raw)), evaluate_tracking(data), pred,
                           data, str(gt), evaluate_hota(data))


def write_tracking_report(evaluation: TrackEvaluation, out_dir: str | Path) -> Path:
    """The HTML evaluation report (pose and tracking) of the filtered predictions; returns its index.html."""
    images = find_images_root(evaluation.gt, evaluation.data.file_names)
    return write_report(out_dir, evaluation.data, evaluation.pose, evaluation.tracking, images_root=images,
                        title="PoseTrack18 tracking report", extra={"gt": evaluation.gt,
                                                                     "pred": str(evaluation.predictions)},
                        hota=evaluation.hota)

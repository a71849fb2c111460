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

Each folder is written beside its final place and swapped in whole. Under torchrun the processes
share the videos, whole videos each (distributed.shard_by_size, balanced by frames): each process
tracks its videos and writes their files, and rank 0, after a barrier, gathers the files into the two
folders and scores them; the files are those one process writes.
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
from simplepose.data.posetrack import PoseTrackVideo, load_posetrack_videos, video_image_records
from simplepose.engine import distributed
from simplepose.engine.config import Config
from simplepose.engine.datasets import dataset_spec
from simplepose.errors import ConfigError
from simplepose.evaluation.arrays import nan_to_none
from simplepose.evaluation.eval_data import EvalData, load_eval_data
from simplepose.evaluation.hota import HotaResult, evaluate_hota
from simplepose.evaluation.jitter import JitterResult, evaluate_jitter
from simplepose.evaluation.mota import TrackingResult, evaluate_tracking
from simplepose.evaluation.pose_ap import PoseTrackResult, evaluate_data
from simplepose.evaluation.prediction_files import write_posetrack_predictions
from simplepose.evaluation.report import find_images_root, write_report
from simplepose.folders import remove_owned, replace_folder
from simplepose.inference.video import VideoWriter
from simplepose.tracking.flowtrack import STAGES, FlowTracker, FrameTracks, output_filter
from simplepose.tracking.online import NO_BOXES, Boxes, OnlineTracker, make_tracker
from simplepose.visualize import draw_poses


@dataclass
class TrackRun:
    """What a tracking run produced and how long each stage took."""

    filtered: list[PosePrediction]      # after the output filter (what MOTA scores)
    unfiltered: list[PosePrediction]    # every tracked person
    videos: list[PoseTrackVideo]        # the videos tracked (under torchrun: this process's share)
    frames: int                         # frames tracked by all processes
    ms_per_frame: dict[str, float]      # detector, flow, pose, association, total (over all processes)


def frame_boxes(instances: Sequence[PersonInstance]) -> dict[int, Boxes]:
    """Image id -> the boxes (xyxy, as the reference crops them) and scores of its instances."""
    rows: dict[int, list[PersonInstance]] = {}
    for inst in instances:
        rows.setdefault(inst.image_id, []).append(inst)
    return {iid: (np.stack([p.reference_box() for p in ps]).astype(np.float64),
                  np.array([p.score for p in ps], np.float64)) for iid, ps in rows.items()}


def load_val_boxes(cfg: Config, images: dict[int, ImageInfo], bbox_file: str | None) -> dict[int, Boxes]:
    """Per image id the val split's detections (bbox_file, else data.val_bbox_file) or GT boxes (the
    dataset's box reader: PoseTrack21's include people boxed on frames without pose labels)."""
    d = cfg.data
    bbox_file = bbox_file if bbox_file is not None else cfg.resolve(d.val_bbox_file)
    if bbox_file:
        return frame_boxes(load_detections(bbox_file, images, score_thr=d.bbox_score_thr))
    read = dataset_spec(d.dataset).box_reader()
    return frame_boxes(read(cfg.resolve(d.val_ann), os.path.join(d.data_root, d.val_images)))


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
    spec = dataset_spec(cfg.data.dataset)
    if not spec.video:
        raise ConfigError(None, f"tracking needs video data, not '{spec.name}'", key="data.dataset")
    videos = load_posetrack_videos(cfg.resolve(cfg.data.val_gt))
    images = video_image_records(videos, os.path.join(cfg.data.data_root, cfg.data.val_images))
    videos = _this_process_videos(videos)
    boxes = load_val_boxes(cfg, images, bbox_file) if detector is None else {}
    if tracker is None:
        tracker = make_tracker(estimator, spec.schema.sigmas_array, cfg.track)
    online = OnlineTracker(tracker)
    filtered: list[PosePrediction] = []
    unfiltered: list[PosePrediction] = []
    read_s, frames = 0.0, 0
    bar = tqdm(total=sum(len(v.images) for v in videos), desc="track", unit="frame", disable=not progress,
               leave=False, dynamic_ncols=True)
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
    frames, ms = _all_processes(frames, ms)
    return TrackRun(filtered, unfiltered, videos, frames, ms)


def _this_process_videos(videos: list[PoseTrackVideo]) -> list[PoseTrackVideo]:
    """This process's share of the videos under torchrun, whole videos balanced by frames (all for one process)."""
    info = distributed.get_info()
    share = distributed.shard_by_size([len(v.images) for v in videos], info.world_size)[info.rank]
    return [videos[i] for i in share]


def _all_processes(frames: int, ms: dict[str, float]) -> tuple[int, dict[str, float]]:
    """Frames summed and ms per frame averaged (weighted by frames) over the processes."""
    parts = distributed.all_gather_objects((frames, ms))
    total = sum(f for f, _ in parts)
    return total, {k: sum(f * m[k] for f, m in parts) / max(total, 1) for k in ms}


def write_folder(predictions: Sequence[PosePrediction], videos: Sequence[PoseTrackVideo], dest: Path) -> Path:
    """Per-video PoseTrack18 files with the predictions' track ids, swapped into dest whole (over a
    previous dest only if the project wrote it). Under torchrun every process writes its videos' files
    beside dest, and rank 0 moves them all into dest after a barrier."""
    info = distributed.get_info()
    if not info.distributed:
        return replace_folder(dest, lambda tmp: write_posetrack_predictions(predictions, videos, tmp,
                                                                            use_track_ids=True))
    parts = [dest.parent / f".{dest.name}.rank{r}" for r in range(info.world_size)]
    replace_folder(parts[info.rank], lambda tmp: write_posetrack_predictions(predictions, videos, tmp,
                                                                             use_track_ids=True))
    distributed.barrier()
    if info.is_main:
        replace_folder(dest, lambda tmp: _move_files(parts, tmp))
        for part in parts:
            remove_owned(part)
    distributed.barrier()
    return dest


def _move_files(parts: Sequence[Path], dest: Path) -> None:
    """Move the prediction files of every process's folder into dest."""
    for part in parts:
        for f in sorted(part.glob("*.json")):
            os.replace(f, dest / f.name)


@dataclass
class TrackEvaluation:
    """Scores of a tracking run: mAP with and without the output filter, poseval's MOTA, the
    PoseTrack21 kit's keypoint HOTA (#10 fixed) and jitter."""

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
        jitter = self.jitter()
        out.update(jitter_px=nan_to_none(jitter.pixels[-1:])[0], jitter_head_percent=nan_to_none(
            jitter.head_percent[-1:])[0], jitter_triples=int(jitter.triples[-1]))
        return out

    def jitter(self) -> JitterResult:
        """The keypoint acceleration error of the filtered predictions (simplepose.evaluation.jitter)."""
        return evaluate_jitter(self.data, self.tracking)


def evaluate_run(cfg: Config, run: TrackRun, out_dir: str | Path) -> TrackEvaluation | None:
    """Write both prediction folders under out_dir and score them against data.val_gt (under torchrun:
    every process writes its videos' files, rank 0 scores; None on the other ranks)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gt = cfg.resolve(cfg.data.val_gt)
    pred = write_folder(run.filtered, run.videos, out_dir / "predictions")
    raw = write_folder(run.unfiltered, run.videos, out_dir / "predictions_unfiltered")
    if not distributed.get_info().is_main:
        return None
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


def write_tracked_clip(run: TrackRun, images_root: str | os.PathLike, out_path: str | Path, video: int = 0,
                       fps: float = 10.0) -> Path | None:
    """One tracked video of a run drawn as a clip (skeletons, boxes and track ids of the filtered
    persons, every frame); .webm plays in browsers. None when the run has no such video or frame."""
    if not 0 <= video < len(run.videos):
        return None
    images = video_image_records(run.videos[video:video + 1], images_root)
    by_image: dict[int, list[PosePrediction]] = {}
    for p in run.filtered:
        by_image.setdefault(int(p.image_id), []).append(p)
    schema = get_schema("posetrack18")
    with VideoWriter(out_path, fps) as writer:
        for rec in run.videos[video].images:
            info = images[int(rec["id"])]
            image = read_image(Path(info.image_path))
            persons = by_image.get(info.image_id, [])
            if persons:
                kps = np.stack([np.concatenate([p.keypoints, p.keypoint_scores[:, None]], 1) for p in persons])
                image = draw_poses(image, kps, schema, track_ids=[p.track_id for p in persons],
                                   boxes_xywh=np.stack([p.bbox_xywh for p in persons]))
            writer.write(image)
    return writer.path if writer.frames else None

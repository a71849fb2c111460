"""`simplepose infer CHECKPOINT INPUT`: poses (and track ids) on an image, a folder of images or a video.

Boxes come from (--boxes):
* nothing: one box covering the whole frame;
* a COCO-style annotation file (COCO person keypoints or merged PoseTrack18 json) or a PoseTrack18
  per-video annotation folder: the ground-truth boxes, clipped to the image as MMPose's dataset
  does, dropping the instances MMPose drops; images are matched by the end of their file_name;
* detections in COCO results format (a JSON list of image_id, bbox xywh, score, category_id),
  score >= --det-thr: image_id is looked up in --images-json (an annotation file whose `images`
  map ids to file names); without it, image_id is the frame number of a video, or the number in
  an image's file name (COCO: 000000000785.jpg -> 785).

Writes OUT_DIR/results.json (COCO results format; one record per person: image_id, category_id 1,
keypoints [x, y, score] * K, score, bbox, box_score, file_name or frame_index, and track_id with
--track), optionally overlays (--draw: OUT_DIR/overlays/<name>.jpg), an overlay video
(--video-out) and PoseTrack18 per-video prediction files for `simplepose eval` (--posetrack-out).
With --track, an online tracker (simplepose.tracking.tracker) assigns ids frame by frame, afresh
for every video and every folder of frames.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from simplepose.data.instances import PersonInstance, PosePrediction
from simplepose.data.keypoints import SCHEMAS, get_schema
from simplepose.errors import DataError
from simplepose.evaluation.rescore import rescore
from simplepose.inference.video import Frame, ImageFrames, VideoFrames, VideoWriter, open_frames
from simplepose.io import write_json

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose infer`."""
    parser.add_argument("checkpoint", help="model checkpoint (ours, or MMPose 0.x/1.x)")
    parser.add_argument("input", help="an image, a folder of images (searched recursively) or a video file")
    parser.add_argument("--boxes", metavar="FILE",
                        help="person boxes: detections (COCO results json), a COCO/PoseTrack annotation file "
                             "or PoseTrack per-video annotation folder (ground-truth boxes); default: whole frame")
    parser.add_argument("--images-json", metavar="FILE",
                        help="annotation file whose 'images' map the detection file's image_id to file names")
    parser.add_argument("--det-thr", type=float, default=0.3, help="minimum detection score (default 0.3)")
    parser.add_argument("--out-dir", default="simplepose_infer", help="output folder (default ./simplepose_infer)")
    parser.add_argument("--posetrack-out", metavar="DIR",
                        help="also write PoseTrack18 per-video prediction files (after the reference's rescoring "
                             "and OKS-NMS; with --track, our track ids) for `simplepose eval`; needs PoseTrack "
                             "ground-truth image records from --boxes or --images-json")
    parser.add_argument("--draw", action="store_true", help="write overlay images to OUT_DIR/overlays/")
    parser.add_argument("--video-out", metavar="F.mp4", help="write an overlay video (.mp4, .avi, .mov, .mkv)")
    parser.add_argument("--fps", type=float, help="overlay video frame rate (default: the input's, else 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="persons gathered over consecutive frames per estimator call (default 32)")
    parser.add_argument("--no-flip", action="store_true", help="disable the flip test")
    parser.add_argument("--track", action="store_true", help="assign track ids across frames (per sequence)")
    parser.add_argument("--max-age", type=int, default=3, help="frames a track may be unseen (default 3)")
    parser.add_argument("--schema", default=None, choices=sorted(SCHEMAS),
                        help="keypoint set (flip pairs, drawing, tracking OKS); default: the one the "
                             "checkpoint records, else posetrack18")
    parser.add_argument("--kpt-thr", type=float, default=0.3, help="keypoint score threshold for drawing")
    parser.add_argument("--device", default="cpu", help="torch device the network runs on: cpu, cuda, cuda:1 ...")


# ------------------------------------------------------------------------------------- boxes

@dataclasses.dataclass
class FrameBoxes:
    """The persons to estimate in one frame."""

    image_id: int
    boxes_xywh: np.ndarray      # (N, 4) float64
    scores: np.ndarray          # (N,) float64 box scores


def _path_parts(name: str | Path) -> tuple[str, ...]:
    """Path components, '/' and '\\' both separators."""
    return PurePosixPath(str(name).replace("\\", "/")).parts


def match_file_names(paths: list[str], file_names: list[str], source: str) -> list[int | None]:
    """For each path, the index of the file_name sharing its longest suffix of path components.

    None where not even the base name matches; a DataError when the best match is not unique.
    """
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    longest = 0
    for j, name in enumerate(file_names):
        parts = _path_parts(name)
        longest = max(longest, len(parts))
        for n in range(1, len(parts) + 1):
            index[parts[-n:]].append(j)
    out: list[int | None] = []
    for p in paths:
        parts = _path_parts(Path(p).absolute().as_posix())
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


def _json_kind(path: Path) -> str:
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


class BoxProvider:
    """Frame -> FrameBoxes: the whole frame, or a box file's persons matched to the frames."""

    def __init__(self, source: ImageFrames | VideoFrames, boxes_path: str | None = None,
                 images_json: str | None = None, det_thr: float = 0.3):
        self.source = source
        self.boxes_path = boxes_path
        self.frame_ids: dict[int, int | None] = {}     # frame index -> image id (images: known up front)
        self.by_image: dict[int, list[PersonInstance]] = defaultdict(list)
        self.clip = False
        self.video_frames: dict[int, int] = {}          # video frame index -> image id
        if boxes_path is None:
            return
        path = Path(boxes_path)
        kind = "annotations" if path.is_dir() else _json_kind(path)
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
        from simplepose.data.annotations import load_image_records
        from simplepose.data.cocostyle import ImageInfo
        from simplepose.data.detections import load_detections
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
                if p.stem.isdigit():
                    image_id = int(p.stem)
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
        from simplepose.data.annotations import load_annotated_persons, load_image_records
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
    def __call__(self, frame: Frame) -> FrameBoxes | None:
        """The frame's persons; None when the box file has no record for it."""
        h, w = frame.image.shape[:2]
        if self.boxes_path is None:
            return FrameBoxes(frame.index, np.array([[0.0, 0.0, w, h]]), np.ones(1))
        if isinstance(self.source, VideoFrames):
            image_id = self.video_frames.get(frame.index)
        else:
            image_id = self.frame_ids.get(frame.index)
        if image_id is None:
            return None
        insts = self.by_image.get(image_id, [])
        if self.clip:
            xyxy = [i.reference_box((w, h)) for i in insts]
            boxes = np.array([[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in xyxy], dtype=np.float64)
        else:
            boxes = np.array([i.bbox_xywh for i in insts], dtype=np.float64)
        scores = np.array([i.score for i in insts], dtype=np.float64)
        return FrameBoxes(image_id, boxes.reshape(-1, 4), scores)


# ------------------------------------------------------------------------------------- results

def result_records(frame: Frame, fb: FrameBoxes, poses: np.ndarray, track_ids: np.ndarray | None,
                   is_video: bool) -> list[dict]:
    """COCO results records (one per person) of a frame's poses (N, K, 3)."""
    scores = rescore(poses[:, :, 2], fb.scores)                 # (N,) box score x mean keypoint score > 0.2
    out = []
    for i in range(poses.shape[0]):
        rec: dict[str, Any] = {
            "image_id": int(fb.image_id), "category_id": 1,
            "keypoints": poses[i].reshape(-1).tolist(),
            "score": float(scores[i]),
            "bbox": [float(v) for v in fb.boxes_xywh[i]],
            "box_score": float(fb.scores[i]),
        }
        if is_video:
            rec["frame_index"] = frame.index
        else:
            rec["file_name"] = frame.name
        if track_ids is not None:
            rec["track_id"] = int(track_ids[i])
        out.append(rec)
    return out


def _predictions(fb: FrameBoxes, poses: np.ndarray, areas: np.ndarray,
                 track_ids: np.ndarray | None) -> list[PosePrediction]:
    """PosePrediction records of a frame's poses (N, K, 3) with their OKS areas (N,)."""
    return [PosePrediction(image_id=int(fb.image_id), bbox_xywh=fb.boxes_xywh[i].copy(),
                           keypoints=poses[i, :, :2].copy(), keypoint_scores=poses[i, :, 2].copy(),
                           area=float(areas[i]),
                           box_score=float(fb.scores[i]),
                           track_id=None if track_ids is None else int(track_ids[i]))
            for i in range(poses.shape[0])]


def _posetrack_videos(args: argparse.Namespace) -> list:
    """The PoseTrack ground-truth videos behind --boxes or --images-json, for --posetrack-out."""
    from simplepose.data.posetrack import load_posetrack_videos
    source = args.images_json or args.boxes
    if source is None or (not Path(source).is_dir() and _json_kind(Path(source)) != "annotations"):
        raise DataError(args.posetrack_out, "--posetrack-out needs PoseTrack ground-truth image records: pass "
                                            "a PoseTrack annotation file/folder as --boxes or --images-json")
    return load_posetrack_videos(source)


# ------------------------------------------------------------------------------------- running

def _batches(frames: Iterable[Frame], boxes: BoxProvider, max_persons: int,
             max_frames: int = 16) -> Iterator[list[tuple[Frame, FrameBoxes | None]]]:
    """Consecutive frames with their boxes, grouped until max_persons persons or max_frames frames."""
    batch: list[tuple[Frame, FrameBoxes | None]] = []
    persons = 0
    for frame in frames:
        fb = boxes(frame)
        batch.append((frame, fb))
        persons += 0 if fb is None else len(fb.boxes_xywh)
        if persons >= max_persons or len(batch) >= max_frames:
            yield batch
            batch, persons = [], 0
    if batch:
        yield batch


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from simplepose.inference.estimator import PoseEstimator
    from simplepose.tracking.tracker import PoseTracker
    from simplepose.visualize import draw_poses, save_image

    if args.batch_size < 1:
        raise DataError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    source = open_frames(args.input)
    is_video = isinstance(source, VideoFrames)
    provider = BoxProvider(source, args.boxes, args.images_json, args.det_thr)
    gt_videos = _posetrack_videos(args) if args.posetrack_out else None
    estimator = PoseEstimator.from_checkpoint(args.checkpoint, flip_test=not args.no_flip,
                                              schema=get_schema(args.schema) if args.schema else None,
                                              device=args.device)
    schema = estimator.schema
    tracker = PoseTracker(schema.sigmas_array, max_age=args.max_age) if args.track else None
    out_dir = Path(args.out_dir)
    writer = VideoWriter(args.video_out, fps=args.fps or source.fps or 30.0) if args.video_out else None

    predictions: list[PosePrediction] = []
    results: list[dict] = []
    sequence = None
    n_frames = n_persons = n_unmatched = 0
    bar = tqdm(total=len(source) or None, desc="infer", unit="frame")
    try:
        for batch in _batches(source, provider, args.batch_size):
            todo = [(f, fb) for f, fb in batch if fb is not None and len(fb.boxes_xywh)]
            poses = estimator.predict_batch([f.image for f, _ in todo], [fb.boxes_xywh for _, fb in todo])
            by_frame = {id(f): p for (f, _), p in zip(todo, poses)}
            for frame, fb in batch:
                k = schema.num_keypoints
                pose = by_frame.get(id(frame), np.zeros((0, k, 3), np.float32))
                boxes = fb.boxes_xywh if fb is not None else np.zeros((0, 4))
                ids = None
                if tracker is not None:
                    if frame.sequence != sequence:
                        tracker.reset()
                        sequence = frame.sequence
                    ids = tracker.update(pose, boxes)
                if fb is None:
                    n_unmatched += 1
                else:
                    results.extend(result_records(frame, fb, pose, ids, is_video))
                    if gt_videos is not None:
                        predictions.extend(_predictions(fb, pose, estimator.oks_areas(boxes), ids))
                n_frames += 1
                n_persons += len(pose)
                if args.draw or writer is not None:
                    canvas = draw_poses(frame.image, pose, schema, score_thr=args.kpt_thr,
                                        track_ids=None if ids is None else ids.tolist(), boxes_xywh=boxes)
                    if args.draw:
                        name = f"{frame.name}.jpg" if is_video else str(Path(frame.name).with_suffix(".jpg"))
                        save_image(out_dir / "overlays" / name, canvas)
                    if writer is not None:
                        writer.write(canvas)
                bar.update(1)
                bar.set_postfix(persons=n_persons, refresh=False)
        bar.close()
        results_path = write_json(out_dir / "results.json", results)
        log.info("%d frames, %d persons -> %s", n_frames, n_persons, results_path)
        if gt_videos is not None:
            from simplepose.evaluation.writer import write_posetrack_predictions
            files = write_posetrack_predictions(predictions, gt_videos, args.posetrack_out, schema=schema,
                                                use_track_ids=args.track)
            log.info("PoseTrack18 predictions of %d videos -> %s", len(files), args.posetrack_out)
        if writer is not None:
            video = writer.close()
            log.info("overlay video (%d frames) -> %s", writer.frames, video)
    except BaseException:
        if writer is not None:
            writer.abort()  # no half-written video is left behind
        raise
    finally:
        bar.close()
    if n_unmatched:
        log.warning("%d frames had no record in %s and were skipped", n_unmatched, args.boxes)
    if args.draw:
        log.info("overlay images -> %s", out_dir / "overlays")
    return 0

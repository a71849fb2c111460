"""`simplepose infer CHECKPOINT INPUT`: poses (and track ids) on an image, a folder of images or a video.

Boxes come from --boxes (see simplepose.inference.boxes): nothing (one box covering the whole
frame), a COCO/PoseTrack annotation file or folder (ground-truth boxes), or detections in COCO
results format (score >= --det-thr; --images-json maps their image ids to file names).

Writes OUT_DIR/results.json (COCO results format; one record per person: image_id, category_id 1,
keypoints [x, y, score] * K, score, bbox, box_score, file_name or frame_index, and track_id with
--track), optionally overlays (--draw: OUT_DIR/overlays/<name>.jpg), an overlay video
(--video-out) and PoseTrack18 per-video prediction files for `simplepose eval` (--posetrack-out).
With --track, an online tracker (simplepose.tracking.tracker) assigns ids frame by frame, afresh
for every video and every folder of frames.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simplepose.commands import add_precision_argument
from simplepose.data.keypoints import SCHEMAS, get_schema
from simplepose.errors import DataError

log = logging.getLogger(__name__)


def finite_float(text: str) -> float:
    """An argparse type: a finite number (float() also reads 'nan' and 'inf')."""
    value = float(text)
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose infer`."""
    parser.add_argument("checkpoint", help="model checkpoint (ours, or MMPose 0.x/1.x)")
    parser.add_argument("input", help="an image, a folder of images (searched recursively) or a video file")
    parser.add_argument("--boxes", metavar="FILE",
                        help="person boxes: detections (COCO results json), a COCO/PoseTrack annotation file "
                             "or PoseTrack per-video annotation folder (ground-truth boxes); default: whole frame")
    parser.add_argument("--images-json", metavar="FILE",
                        help="annotation file whose 'images' map the detection file's image_id to file names")
    parser.add_argument("--det-thr", type=finite_float, default=0.3, help="minimum detection score (default 0.3)")
    parser.add_argument("--out-dir", default="simplepose_infer", help="output folder (default ./simplepose_infer)")
    parser.add_argument("--posetrack-out", metavar="DIR",
                        help="also write PoseTrack18 per-video prediction files (after the reference's rescoring "
                             "and OKS-NMS; with --track, our track ids) for `simplepose eval`; needs PoseTrack "
                             "ground-truth image records from --boxes or --images-json")
    parser.add_argument("--draw", action="store_true", help="write overlay images to OUT_DIR/overlays/")
    parser.add_argument("--video-out", metavar="F.mp4", help="write an overlay video (.mp4, .avi, .mov, .mkv)")
    parser.add_argument("--fps", type=finite_float, help="overlay video frame rate (default: the input's, else 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="persons gathered over consecutive frames per estimator call (default 32)")
    parser.add_argument("--no-flip", action="store_true", help="disable the flip test")
    parser.add_argument("--track", action="store_true", help="assign track ids across frames (per sequence)")
    parser.add_argument("--max-age", type=int, default=3, help="frames a track may be unseen (default 3)")
    parser.add_argument("--schema", default=None, choices=sorted(SCHEMAS),
                        help="keypoint set (flip pairs, drawing, tracking OKS); default: the one the "
                             "checkpoint records, else posetrack18")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"),
                        help="network input width and height (multiples of 32); default: the size the "
                             "checkpoint records (its training config, or MMPose's config text), else 192 256 "
                             "with a warning")
    parser.add_argument("--kpt-thr", type=finite_float, default=0.3, help="keypoint score threshold for drawing")
    parser.add_argument("--device", default="cpu", help="torch device the network runs on: cpu, cuda, cuda:1 ...")
    add_precision_argument(parser, "auto", "the fastest path this device runs natively")


def _posetrack_videos(args: argparse.Namespace) -> list:
    """The PoseTrack ground-truth videos behind --boxes or --images-json, for --posetrack-out."""
    # OpenCV loads here, not at import: the CLI imports every command module for its parser
    from simplepose.data.posetrack import load_posetrack_videos
    from simplepose.inference.boxes import box_file_kind

    source = args.images_json or args.boxes
    if source is None or (not Path(source).is_dir() and box_file_kind(Path(source)) != "annotations"):
        raise DataError(args.posetrack_out, "--posetrack-out needs PoseTrack ground-truth image records: pass "
                                            "a PoseTrack annotation file/folder as --boxes or --images-json")
    return load_posetrack_videos(source)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    from simplepose.data.instances import PosePrediction
    from simplepose.engine.distributed import resolve_device
    from simplepose.evaluation.prediction_files import write_posetrack_predictions
    from simplepose.inference.boxes import BoxProvider, batch_frames
    from simplepose.inference.estimator import PoseEstimator
    from simplepose.inference.results import frame_predictions, result_records
    from simplepose.inference.video import CODEC_NAMES, VideoFrames, VideoWriter, open_frames
    from simplepose.io import write_json
    from simplepose.tracking.tracker import PoseTracker
    from simplepose.visualize import draw_poses, save_image

    if args.batch_size < 1:
        raise DataError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    device = resolve_device(args.device, source="--device", key=None)
    if args.input_size is not None and any(v <= 0 or v % 32 for v in args.input_size):
        raise DataError(None, "--input-size must be two positive multiples of 32 (W H), got "
                              f"{args.input_size[0]} {args.input_size[1]}")
    source = open_frames(args.input)
    is_video = isinstance(source, VideoFrames)
    provider = BoxProvider(source, args.boxes, args.images_json, args.det_thr)
    if args.boxes is None:
        log.warning("no --boxes given: every frame is estimated as ONE person filling the WHOLE frame; "
                    "pass person detections (COCO results json) or annotations with --boxes for real scenes")
    gt_videos = _posetrack_videos(args) if args.posetrack_out else None
    estimator = PoseEstimator.from_checkpoint(args.checkpoint, flip_test=not args.no_flip,
                                              input_size=tuple(args.input_size) if args.input_size else None,
                                              schema=get_schema(args.schema) if args.schema else None,
                                              device=device, precision=args.precision)
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
        for batch in batch_frames(source, provider, args.batch_size):
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
                        predictions.extend(frame_predictions(fb, pose, estimator.oks_areas(boxes), ids))
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
            files = write_posetrack_predictions(predictions, gt_videos, args.posetrack_out, schema=schema,
                                                use_track_ids=args.track)
            log.info("PoseTrack18 predictions of %d videos -> %s", len(files), args.posetrack_out)
        if writer is not None:
            video = writer.close()
            log.info("overlay video (%d frames, %s) -> %s", writer.frames, CODEC_NAMES[writer.codec], video)
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

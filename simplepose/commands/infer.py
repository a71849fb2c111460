"""`simplepose infer CHECKPOINT INPUT`: poses (and track ids) on an image, a folder of images, a video or a
folder of videos.

Boxes come from --boxes (see simplepose.inference.boxes): nothing (one box covering the whole
frame), a COCO/PoseTrack annotation file or folder (ground-truth boxes), or detections in COCO
results format (score >= --det-thr; --images-json maps their image ids to file names); or from an
ONNX person detector (--detector).

Writes OUT_DIR/results.json (COCO results format; one record per person: image_id, category_id 1,
keypoints [x, y, score] * K, score, bbox, box_score, file_name or frame_index, and track_id with
--track), optionally overlays (--draw: OUT_DIR/overlays/<name>.jpg), an overlay video
(--video-out) and PoseTrack18 per-video prediction files for `simplepose eval` (--posetrack-out).
With --track, the tracker (FlowSORT or FlowTrack) runs online (simplepose.engine.infer, the loop
`simplepose track` runs)
afresh for every video and every folder of frames, and OUT_DIR/tracks.jsonl gets one line per
frame (frame, track ids, boxes, keypoints, scores). A folder of videos (and no images) gives each
video its own OUT_DIR/<video name>/ with these files; under torchrun the processes share the videos.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simplepose.commands import add_precision_argument
from simplepose.commands.track import add_tracking_arguments, tracking_overrides
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
    """Arguments of `simplepose infer`, in groups: inputs and boxes, tracking, outputs, model and runtime."""
    parser.add_argument("checkpoint", help="model checkpoint (ours, or MMPose 0.x/1.x), or an ONNX file "
                                            "`simplepose export` wrote (float32 or int8; see --runtime)")
    parser.add_argument("input", help="an image, a folder of images (searched recursively), a video file or a "
                                      "folder of video files (each to OUT_DIR/<video name>/; shared by torchrun's "
                                      "processes)")
    boxes = parser.add_argument_group("inputs and boxes", "where the persons are; default: one box per whole frame")
    boxes.add_argument("--boxes", metavar="FILE",
                       help="person boxes: detections (COCO results json), a COCO/PoseTrack annotation file "
                            "or PoseTrack per-video annotation folder (ground-truth boxes); default: whole frame")
    boxes.add_argument("--images-json", metavar="FILE",
                       help="annotation file whose 'images' map the detection file's image_id to file names")
    boxes.add_argument("--det-thr", type=finite_float,
                       help="minimum detection score (default 0.3; with --track, track.det_thr: 0.4)")
    tracking = parser.add_argument_group("tracking", "with --track: ids across the frames of each video or folder")
    tracking.add_argument("--track", action="store_true",
                          help="track persons across the frames of each video or folder (boxes plus "
                               "boxes propagated by optical flow, ids by --tracker); without --boxes or --detector "
                               "each frame is one whole-frame person, which then keeps one id per video or folder "
                               "(defaults become: no propagation, the box on every frame, iou similarity)")
    add_tracking_arguments(tracking)
    tracking.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                          help="with --track: tracker settings, e.g. --set track.oks_thr=0.4 track.flow.method=dis "
                               "(the flags above win)")
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--out-dir", default="simplepose_infer", help="output folder (default ./simplepose_infer)")
    outputs.add_argument("--posetrack-out", metavar="DIR",
                         help="also write PoseTrack18 per-video prediction files (after the reference's rescoring "
                              "and OKS-NMS; with --track, our track ids) for `simplepose eval`; needs PoseTrack "
                              "ground-truth image records from --boxes or --images-json")
    outputs.add_argument("--draw", action="store_true", help="write overlay images to OUT_DIR/overlays/")
    outputs.add_argument("--video-out", metavar="F.mp4",
                         help="write an overlay video (.mp4, .avi, .mov, .mkv, .webm: VP8, which browsers play)")
    outputs.add_argument("--fps", type=finite_float, help="overlay video frame rate (default: the input's, else 30)")
    outputs.add_argument("--kpt-thr", type=finite_float, default=0.3, help="keypoint score threshold for drawing")
    runtime = parser.add_argument_group("model and runtime")
    runtime.add_argument("--batch-size", type=int, default=32, help="persons gathered over consecutive frames per estimator call (default 32)")
    runtime.add_argument("--no-flip", action="store_true", help="disable the flip test")
    runtime.add_argument("--schema", default=None, choices=sorted(SCHEMAS),
                         help="keypoint set (flip pairs, drawing, tracking OKS); default: the one the "
                              "checkpoint records, else posetrack18")
    runtime.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"),
                         help="network input width and height (multiples of 32); default: the size the "
                              "checkpoint records (its training config, or MMPose's config text), else 192 256 "
                              "with a warning")
    runtime.add_argument("--device", default="cpu", help="torch device the network runs on: cpu, cuda, cuda:1 ...")
    add_precision_argument(runtime, "auto", "the fastest path this device runs natively")
    runtime.add_argument("--runtime", choices=("auto", "openvino", "onnxruntime"), default="auto",
                         help="for a CHECKPOINT that is an ONNX file from `simplepose export` (float32 or "
                              "int8): the runtime that runs it; auto: OpenVINO where installed, else ONNX Runtime")


def _estimator(args: argparse.Namespace, device):
    """The PoseEstimator of the checkpoint, or of an exported ONNX file (its own size and schema)."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.inference.estimator import PoseEstimator

    if str(args.checkpoint).lower().endswith(".onnx"):
        fixed = [name for name, given in (("--input-size", args.input_size), ("--schema", args.schema),
                                          ("--precision", args.precision != "auto"),
                                          ("--device", device.type != "cpu")) if given]
        if fixed:
            raise DataError(args.checkpoint, f"{fixed[0]} does not apply to an exported ONNX file: its input size, "
                                             "schema and number format are fixed at export, and it runs on the CPU")
        return PoseEstimator.from_onnx(args.checkpoint, runtime=args.runtime, flip_test=not args.no_flip)
    # --precision fp32 is the reference's arithmetic, the network as `simplepose test` runs it (BN not folded)
    return PoseEstimator.from_checkpoint(args.checkpoint, flip_test=not args.no_flip,
                                         input_size=tuple(args.input_size) if args.input_size else None,
                                         schema=get_schema(args.schema) if args.schema else None,
                                         device=device, precision=args.precision, fast=args.precision != "fp32")


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


def _check_arguments(args: argparse.Namespace) -> list[str]:
    """The flags' combinations refused (DataError), and the tracking overrides the flags make."""
    if args.batch_size < 1:
        raise DataError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    if args.boxes and args.detector:
        raise DataError(None, "give --boxes or --detector, not both")
    flags = tracking_overrides(args)
    if not args.track and (flags or args.overrides):
        raise DataError(None, "--tracker, --similarity, --no-propagate, --det-every, --max-age, --smooth, --no-smooth and --set "
                              "need --track")
    if args.input_size is not None and any(v <= 0 or v % 32 for v in args.input_size):
        raise DataError(None, "--input-size must be two positive multiples of 32 (W H), got "
                              f"{args.input_size[0]} {args.input_size[1]}")
    return flags


def _infer_source(args: argparse.Namespace, source, estimator, track_cfg, detector, out_dir: str | Path,
                  video=None, gt_videos: list | None = None) -> None:
    """Estimate (or track) the persons of one frame source and write its files under out_dir."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    from simplepose.engine.infer import InferenceOutputs, estimate_frames, track_frames
    from simplepose.inference.boxes import BoxProvider
    from simplepose.inference.video import VideoFrames
    from simplepose.tracking.online import OnlineTracker, make_tracker

    det_thr = track_cfg.det_thr if args.track else (args.det_thr if args.det_thr is not None else 0.3)
    provider = BoxProvider(source, args.boxes, args.images_json, detector=detector, det_thr=det_thr)
    outputs = InferenceOutputs(out_dir, estimator.schema, estimator, isinstance(source, VideoFrames),
                               tracking=args.track, draw=args.draw, video=video, kpt_thr=args.kpt_thr,
                               gt_videos=gt_videos, posetrack_out=args.posetrack_out)
    if args.track:
        online = OnlineTracker(make_tracker(estimator, estimator.schema.sigmas_array, track_cfg))
        results = track_frames(source, provider, online)
    else:
        results = estimate_frames(source, provider, estimator, args.batch_size)
    bar = tqdm(total=len(source) or None, desc="infer", unit="frame")
    try:
        for result in results:
            outputs.add(result)
            bar.update(1)
            bar.set_postfix(persons=outputs.persons, refresh=False)
        bar.close()
        outputs.finish()
    except BaseException:
        outputs.abort()  # no half-written video is left behind
        raise
    finally:
        bar.close()
    if outputs.unmatched:
        log.warning("%d frames had no record in %s and were skipped", outputs.unmatched, args.boxes)


def _infer_videos(args: argparse.Namespace, videos: list[Path], track_cfg, detector) -> int:
    """A folder of videos: each video's files in OUT_DIR/<video name>/; under torchrun the processes
    share the videos, whole videos balanced by frames, each writing its own videos' folders."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    from simplepose.engine import distributed
    from simplepose.inference.video import VideoFrames

    single = [flag for flag, given in (("--boxes", args.boxes), ("--images-json", args.images_json),
                                       ("--video-out", args.video_out), ("--posetrack-out", args.posetrack_out))
              if given]
    if single:
        raise DataError(args.input, f"{single[0]} does not apply to a folder of videos (give one video)")
    device, info = distributed.setup_device(args.device, "--device", None)
    try:
        estimator = _estimator(args, device)
        sources = [VideoFrames(v) for v in videos]
        share = distributed.shard_by_size([len(v) for v in sources], info.world_size)[info.rank]
        if info.distributed:
            log.info("process %d of %d: %s", info.rank, info.world_size, ", ".join(videos[i].name for i in share))
        for i in share:
            _infer_source(args, sources[i], estimator, track_cfg, detector, Path(args.out_dir) / videos[i].stem)
        distributed.barrier()  # every video's folder is written when any process returns
    finally:
        distributed.cleanup()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    from simplepose.engine.distributed import resolve_device
    from simplepose.engine.infer import tracking_config
    from simplepose.inference.video import VideoWriter, open_frames, video_files
    from simplepose.inference.detector import OnnxPersonDetector

    flags = _check_arguments(args)
    device = resolve_device(args.device, source="--device", key=None)
    if device.type == "cpu":
        from simplepose.threads import set_threads
        set_threads()       # the cores not busy with other processes (simplepose/threads.py)
    whole_frame = args.boxes is None and args.detector is None
    det_thr = [] if args.det_thr is None else [f"track.det_thr={args.det_thr}"]
    track_cfg = tracking_config([*args.overrides, *det_thr, *flags], whole_frame and args.track)
    videos = video_files(args.input)
    source = None if videos else open_frames(args.input)
    detector = OnnxPersonDetector(args.detector, track_cfg.detector) if args.detector else None
    if whole_frame:
        log.warning("no --boxes or --detector given: every frame is estimated as ONE person filling the WHOLE frame; "
                    "pass person detections (COCO results json) with --boxes or an ONNX --detector for real scenes")
    if videos:
        return _infer_videos(args, videos, track_cfg, detector)
    gt_videos = _posetrack_videos(args) if args.posetrack_out else None
    estimator = _estimator(args, device)
    video = VideoWriter(args.video_out, fps=args.fps or source.fps or 30.0) if args.video_out else None
    _infer_source(args, source, estimator, track_cfg, detector, args.out_dir, video, gt_videos)
    return 0

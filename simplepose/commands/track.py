"""`simplepose track CONFIG CHECKPOINT`: the tracker (FlowSORT or FlowTrack) over the config's val videos, scored with
mAP, MOTA and keypoint HOTA."""
from __future__ import annotations

import argparse
from pathlib import Path

from simplepose.commands import add_precision_argument


def add_tracking_arguments(parser: argparse.ArgumentParser) -> None:
    """The tracking flags `simplepose track` and `simplepose infer` share (each a track.* setting)."""
    parser.add_argument("--detector", metavar="MODEL", help="ONNX person detector (rtmlib YOLOX format: "
                                                             "end2end or raw head), a file or URL")
    parser.add_argument("--tracker", choices=("flowsort", "flowtrack"),
                        help="who gives the ids (track.tracker): flowsort (default: Kalman motion, camera motion "
                             "from the flow, Hungarian rounds, flow-warped OKS + IoU) or flowtrack (the paper's)")
    parser.add_argument("--similarity", choices=("iou", "oks", "flow", "multiflow"),
                        help="pose-to-track similarity (default track.similarity: multiflow)")
    parser.add_argument("--no-propagate", action="store_true", help="no flow-propagated boxes")
    parser.add_argument("--det-every", type=int, metavar="N",
                        help="use the boxes of every N-th frame only, propagation between (track.det_every)")
    parser.add_argument("--max-age", type=int, metavar="N",
                        help="frames a track may stay unseen before it ends (track.max_age, default 5, and "
                             "track.sort.max_age, default 30)")
    smooth = parser.add_mutually_exclusive_group()
    smooth.add_argument("--smooth", action="store_true", default=None,
                        help="One-Euro smoothing of the tracked keypoints (track.smooth.enabled; default: on for "
                             "`infer --track`, off for `track`)")
    smooth.add_argument("--no-smooth", dest="smooth", action="store_false", help="no One-Euro smoothing")


def tracking_overrides(args: argparse.Namespace) -> list[str]:
    """The track.* overrides the shared tracking flags stand for."""
    out = []
    if args.tracker:
        out.append(f"track.tracker={args.tracker}")
    if args.similarity:
        out.append(f"track.similarity={args.similarity}")
    if args.no_propagate:
        out.append("track.propagate=false")
    if args.det_every is not None:
        out.append(f"track.det_every={args.det_every}")
    if args.max_age is not None:
        out += [f"track.max_age={args.max_age}", f"track.sort.max_age={args.max_age}"]
    if args.smooth is not None:
        out.append(f"track.smooth.enabled={'true' if args.smooth else 'false'}")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose track`."""
    parser.add_argument("config", help="YAML experiment config (its data and track sections are used)")
    parser.add_argument("checkpoint", help="checkpoint path or URL (simplepose or MMPose 0.x/1.x)")
    parser.add_argument("--bbox-file", help="person detections (COCO results json); default data.val_bbox_file, "
                                            "else ground-truth boxes")
    add_tracking_arguments(parser)
    parser.add_argument("--out-dir", help="where prediction folders go (default <work_dir>/track)")
    parser.add_argument("--json", metavar="OUT", help="write the metrics and timings to this JSON file")
    parser.add_argument("--report", metavar="DIR", default=None,
                        help="also write an HTML evaluation report (pose and tracking) to DIR/index.html")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. --set track.max_age=10 track.flow.method=dis")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: runtime.device)")
    add_precision_argument(parser, "auto", "the fastest path this device runs natively")


def run(args: argparse.Namespace) -> int:
    """Track, write the prediction files, print the pose and tracking tables."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    from simplepose.engine.config import load_config
    from simplepose.engine.datasets import dataset_spec
    from simplepose.engine import distributed
    from simplepose.engine.track import evaluate_run, track_videos, write_tracking_report
    from simplepose.evaluation.hota import format_hota_table
    from simplepose.evaluation.jitter import format_jitter
    from simplepose.evaluation.mota import format_tracking_table
    from simplepose.evaluation.pose_ap import format_table
    from simplepose.errors import ConfigError
    from simplepose.inference.estimator import PoseEstimator
    from simplepose.inference.detector import OnnxPersonDetector
    from simplepose.threads import set_threads
    from simplepose.io import write_json

    if args.detector and args.bbox_file:
        raise ConfigError(None, "give --bbox-file or --detector, not both")
    cfg = load_config(args.config, [*args.overrides, *tracking_overrides(args)])  # the flags win
    set_threads(cfg.runtime.threads)        # runtime.threads pins it; else the cores this process gets now
    # under torchrun the processes share the videos (engine.track): CPU processes join a gloo group
    device, _ = (distributed.setup_device(args.device, "--device", None) if args.device
                 else distributed.setup_device(cfg.runtime.device))
    try:
        estimator = PoseEstimator.from_checkpoint(args.checkpoint, input_size=tuple(cfg.data.input_size),
                                                  flip_test=cfg.data.flip_test,
                                                  schema=dataset_spec(cfg.data.dataset).schema, device=device,
                                                  precision=args.precision)
        detector = OnnxPersonDetector(args.detector, cfg.track.detector, cfg.runtime.threads) if args.detector else None
        result = track_videos(cfg, estimator, bbox_file=args.bbox_file, detector=detector)
        out_dir = Path(args.out_dir or Path(cfg.runtime.work_dir) / "track").resolve()
        evaluation = evaluate_run(cfg, result, out_dir)
    finally:
        distributed.cleanup()
    if evaluation is None:              # not rank 0: its files are written, rank 0 reports
        return 0
    metrics = evaluation.metrics()
    t = cfg.track
    if args.detector or args.bbox_file or cfg.data.val_bbox_file:
        boxes = f"detections every {t.det_every} frame(s)"
    else:       # load_val_boxes falls back to the annotations
        boxes = f"ground-truth boxes (labeled frames only; every {t.det_every} frame(s))" if t.det_every > 1 \
            else "ground-truth boxes (labeled frames only)"
    name = "FlowSORT" if t.tracker == "flowsort" else "FlowTrack"
    print(f"{name}: similarity {t.similarity}, propagation {'on' if t.propagate else 'off'}, {boxes}, "
          f"{result.frames} frames")
    print(format_table(evaluation.pose, label=f"AP (boxes >= {t.out_box_thr}, joints >= {t.out_kpt_thr})"))
    print(format_table(evaluation.pose_unfiltered, label="AP (unfiltered)"))
    print()
    print(format_tracking_table(evaluation.tracking))
    print(f"FP {metrics['FP']}  FN {metrics['FN']}  ID switches {metrics['IDSW']}  (summed over joints)")
    print()
    print(format_hota_table(evaluation.hota, per_joint=False))
    print(format_jitter(evaluation.jitter()))
    print("ms/frame: " + ", ".join(f"{k} {v:.1f}" for k, v in result.ms_per_frame.items()))
    print(f"predictions: {evaluation.predictions}")
    if args.json:
        write_json(args.json, {"metrics": metrics, "ms_per_frame": result.ms_per_frame, "frames": result.frames,
                               "config": cfg.to_dict()["track"], "predictions": str(evaluation.predictions)},
                   indent=1)
    if args.report:
        print(f"report: {Path(write_tracking_report(evaluation, args.report)).absolute()}")
    return 0

"""`simplepose demo`: synthesise a PoseTrack18-layout dataset, train a small SimpleBaseline on the CPU,
evaluate it with the official PoseTrack18 metric, print the table, draw overlay images and write the
evaluation report (demo_out/report/index.html)."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simplepose.engine.config import Config


def demo_config(data_root: str, work_dir: str) -> Config:
    """The demo's experiment (same as configs/synthetic_demo.yaml): ResNet-18, 128x96 input, CPU."""
    # the config module loads torch: imported here so that the CLI's parser stays light
    from simplepose.engine.config import Config, DataConfig, ModelConfig, OptimConfig, RuntimeConfig

    return Config(
        name="synthetic_demo",
        model=ModelConfig(depth=18, num_keypoints=17, deconv_channels=128, num_deconv=3),
        data=DataConfig(dataset="posetrack18", data_root=data_root,
                        train_ann="annotations/posetrack18_train.json",
                        val_ann="annotations/posetrack18_val.json", val_gt="annotations/val",
                        val_bbox_file=None, input_size=[96, 128], heatmap_size=[24, 32], sigma=1.5,
                        batch_size=32, val_batch_size=64, workers=1, flip_test=True,
                        # the 720 train frames (384x288, 240 MB) fit: each is decoded once, not every epoch
                        image_cache_mb=512,
                        # lighter than the reference's (rotate 80 at 0.6, scale 0.5-1.5, half-body 0.3): the
                        # val crops are upright, and a 4-minute run learns more from them (+3.4 AP, README)
                        aug={"rotate_factor": 30.0, "rotate_prob": 0.3, "scale_range": [0.75, 1.25],
                             "halfbody_prob": 0.1}),
        optim=OptimConfig(optimizer="adam", lr=2e-3, epochs=16, warmup_iters=50, warmup_ratio=0.001,
                          milestones=[14], gamma=0.1, auto_scale_lr=False, base_batch_size=512),
        # the demo evaluates once after training (val_interval=0 skips validation during training)
        runtime=RuntimeConfig(work_dir=work_dir, seed=0, device="cpu", precision="auto", val_interval=0,
                              save_best="Total AP", log_interval=10, tensorboard=False, keep_checkpoints=0),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose demo`."""
    parser.add_argument("--out-dir", default="demo_out", help="where data, checkpoints and images go")
    parser.add_argument("--train-videos", type=int, default=24, help="synthetic training sequences")
    parser.add_argument("--val-videos", type=int, default=6, help="synthetic validation sequences")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--overlays", type=int, default=8, help="validation frames to draw")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override the demo's training config, e.g. --set optim.epochs=2")


def run(args: argparse.Namespace) -> int:
    """Synthesise, train, evaluate, draw; prints the PoseTrack18 table and the time taken."""
    # torch and OpenCV load here, not at import: the CLI imports every command module for its parser
    import torch

    from simplepose.engine.config import apply_overrides
    from simplepose.engine.curves import plot_training_curves
    from simplepose.engine.data import load_instances
    from simplepose.engine.datasets import dataset_spec
    from simplepose.engine.evaluate import evaluate_predictions, predict_instances, write_evaluation_report
    from simplepose.engine.track import evaluate_run, track_videos, write_tracked_clip
    from simplepose.evaluation.report import Clip
    from simplepose.engine.train import train
    from simplepose.inference.estimator import PoseEstimator
    from simplepose.model.checkpoint import load_model
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    from simplepose.visualize import save_prediction_overlays

    start = time.perf_counter()
    out = Path(args.out_dir)
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    print(f"[1/5] synthesising a PoseTrack18-layout dataset in {out / 'data'}")
    generate_posetrack_dataset(out / "data", SynthOptions(
        videos={"train": args.train_videos, "val": args.val_videos}, frames=args.frames, seed=args.seed))
    cfg = demo_config(str(out / "data"), str(out / "work"))
    cfg = apply_overrides(cfg, [f"runtime.seed={args.seed}", *args.overrides])
    print(f"[2/5] training SimpleBaseline ResNet-{cfg.model.depth} at {cfg.data.input_size[1]}x"
          f"{cfg.data.input_size[0]} for {cfg.optim.epochs} epochs on {torch.get_num_threads()} CPU thread(s)")
    train_start = time.perf_counter()
    state = train(cfg)
    train_time = time.perf_counter() - train_start
    print("[3/5] evaluating on the synthetic val split (official PoseTrack18 mAP, flip test)")
    model, _ = load_model(Path(cfg.runtime.work_dir) / "latest.pth")
    instances = load_instances(cfg, "val")
    # the demo evaluates in the training precision (bf16 where native): fast, within 0.2 AP of fp32
    predictions = predict_instances(cfg, model, instances, "cpu", precision=cfg.runtime.precision)
    evaluation = evaluate_predictions(cfg, predictions, out / "eval")
    print(evaluation.table)
    print("[4/5] tracking the val videos (FlowSORT on the noisy detections: mAP, MOTA, keypoint HOTA)")
    estimator = PoseEstimator(model, input_size=tuple(cfg.data.input_size), flip_test=cfg.data.flip_test,
                              schema=dataset_spec(cfg.data.dataset).schema, precision=cfg.runtime.precision)
    tracked = track_videos(cfg, estimator, bbox_file=cfg.resolve("annotations/posetrack18_val_human_detections.json"))
    tracking = evaluate_run(cfg, tracked, out / "track").metrics()
    print(f"tracking: mAP {tracking['mAP']:.1f}, MOTA {tracking['MOTA']:.1f}, keypoint HOTA {tracking['HOTA']:.1f} "
          f"(DetA {tracking['DetA']:.1f}, AssA {tracking['AssA']:.1f}), ID switches {tracking['IDSW']} "
          f"(predictions in {out / 'track' / 'predictions'})")
    print(f"[5/5] drawing {args.overlays} overlay images and the evaluation report")
    schema = dataset_spec(cfg.data.dataset).schema
    written = save_prediction_overlays(predictions, schema, out / "overlays", args.overlays)
    work = Path(cfg.runtime.work_dir)
    plot_training_curves(work / "log.jsonl", work / "curves.png",       # the demo validates only here
                         final=(state.global_iter, evaluation.metrics["Total AP"]))
    clip = write_tracked_clip(tracked, os.path.join(cfg.data.data_root, cfg.data.val_images), out / "track" / "clip.webm")
    caption = (f"{tracked.videos[0].name}: FlowTrack on the noisy detections, each track id in its own colour"
               if clip is not None else "")
    report = write_evaluation_report(evaluation, out / "report", clip=Clip(clip, caption) if clip else None)
    print(f"report: {report}")
    total = time.perf_counter() - start
    print(f"\nDemo done in {total / 60:.1f} min (training {train_time / 60:.1f} min): "
          f"Total AP {evaluation.metrics['Total AP']:.1f}, tracking MOTA {tracking['MOTA']:.1f}, keypoint HOTA "
          f"{tracking['HOTA']:.1f} on synthetic val; "
          f"checkpoint {cfg.runtime.work_dir}/latest.pth; overlays in {out / 'overlays'} ({written} images)")
    return 0


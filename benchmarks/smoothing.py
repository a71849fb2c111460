"""One-Euro smoothing of tracked keypoints: what it does to jitter, mAP and MOTA; its parameters tuned on a
train split, frozen, then scored on a val split of another seed.

    simplepose synth TRAIN --splits train --videos 8 --frames 40 --seed 101
    simplepose synth VAL --splits val --videos 8 --frames 40 --seed 202      (and VAL2 with --seed 303)
    python benchmarks/smoothing.py --train TRAIN --val VAL [VAL2] --checkpoint DEMO_OUT/work/latest.pth \\
        [--cache DIR] [--check] [--set runtime.threads=1]

Tracking (`simplepose track`'s loop, engine.track.track_videos, the package's default track settings,
the split's detection file) runs once per split with smoothing off; the tracked per-frame poses (every
tracked person, before the output filter) are cached in --cache. Each smoothing setting then replays
the smoother over them as the tracking loop applies it (tracking.online: per video, each frame's
tracked persons, before the output filter), applies the output filter (flowtrack.output_filter), and
scores the result as `simplepose track` does: mAP (filtered predictions), MOTA, ID switches, and
jitter (evaluation.jitter: keypoint acceleration error against GT over consecutive labeled frames, in
pixels and in percent of the head size, with its triple count). --check also runs the loop with
smoothing on (the tuned setting) on each val split and prints whether its numbers equal the replay's.

Selection (on train only): among the grid's settings whose mAP and MOTA are each within TOLERANCE
(0.5, about the seed-to-seed noise) of smoothing off, the lowest jitter in head-size percent; then
that setting, smoothing off and MMPose's defaults (min_cutoff 0.004, beta 0.7) are scored on val.
The machine (lscpu model and flags) and its load are printed with the numbers.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.data.instances import PosePrediction  # noqa: E402
from simplepose.engine.config import Config, apply_overrides, load_config  # noqa: E402
from simplepose.engine.track import TrackRun, track_videos, write_folder  # noqa: E402
from simplepose.evaluation.eval_data import load_eval_data  # noqa: E402
from simplepose.evaluation.jitter import evaluate_jitter  # noqa: E402
from simplepose.evaluation.mota import evaluate_tracking  # noqa: E402
from simplepose.evaluation.pose_ap import evaluate_data  # noqa: E402
from simplepose.inference.estimator import PoseEstimator  # noqa: E402
from simplepose.tracking.flowtrack import FlowTrackConfig, FrameTracks, output_filter  # noqa: E402
from simplepose.tracking.smoothing import PoseSmoother, SmoothingConfig  # noqa: E402
from host import cpu, load  # noqa: E402  (benchmarks/host.py)

MIN_CUTOFFS = (0.004, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)     # cycles per frame
BETAS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 0.7)            # per (pixel per frame)
MMPOSE = SmoothingConfig(enabled=True, min_cutoff=0.004, beta=0.7, d_cutoff=1.0)
TOLERANCE = 0.5


def split_config(args: argparse.Namespace, root: str, split: str) -> Config:
    """The config that makes `track` read `split` of the synthetic dataset at root, default track settings."""
    cfg = load_config(args.config, [f"data.data_root={root}", f"data.val_ann=annotations/posetrack18_{split}.json",
                                     f"data.val_gt=annotations/{split}", "data.val_images=",
                                     f"data.val_bbox_file=annotations/posetrack18_{split}_human_detections.json",
                                     f"runtime.work_dir={args.cache}/work"])
    cfg = replace(cfg, track=FlowTrackConfig())
    return apply_overrides(cfg, args.set)


def tracked(args: argparse.Namespace, cfg: Config, estimator: PoseEstimator) -> TrackRun:
    """track_videos with smoothing off, from the cache when the same split, checkpoint and settings ran."""
    ck = Path(args.checkpoint).stat()
    key = json.dumps([cfg.to_dict()["data"], cfg.to_dict()["track"], str(Path(args.checkpoint).resolve()),
                      ck.st_size, ck.st_mtime_ns], sort_keys=True, default=str)
    path = Path(args.cache) / f"tracked_{hashlib.sha256(key.encode()).hexdigest()[:16]}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    t0 = time.perf_counter()
    run = track_videos(replace(cfg, track=replace(cfg.track, smooth=SmoothingConfig())), estimator, progress=False)
    print(f"tracked {cfg.data.data_root}: {run.frames} frames in {time.perf_counter() - t0:.0f} s ({load()})",
          flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(run))
    tmp.replace(path)
    return run


def replay(run: TrackRun, smooth: SmoothingConfig, track: FlowTrackConfig) -> list[PosePrediction]:
    """The filtered predictions the tracking loop would give with `smooth` (run: tracked with smoothing off)."""
    smoother = PoseSmoother(smooth) if smooth.enabled else None
    out: list[PosePrediction] = []
    video = object()
    for (vid, frame), group in itertools.groupby(run.unfiltered, key=lambda p: (p.video_id, p.frame_index)):
        people = list(group)
        if vid != video and smoother is not None:
            smoother.reset()
        video = vid
        kp = np.concatenate([np.stack([p.keypoints for p in people]),
                             np.stack([p.keypoint_scores for p in people])[..., None]], axis=-1).astype(np.float32)
        ids = np.array([p.track_id for p in people], np.int64)
        if smoother is not None:
            kp = smoother(kp, ids, frame)
        n = len(people)
        kept = output_filter(FrameTracks(np.zeros((n, 4)), np.array([p.box_score for p in people]), kp, ids,
                                         np.zeros(n, bool)), track.out_box_thr, track.out_kpt_thr)
        by_id = {p.track_id: p for p in people}
        out += [replace(by_id[int(t)], keypoints=kept.keypoints[i, :, :2].copy(),
                        keypoint_scores=kept.keypoints[i, :, 2].copy()) for i, t in enumerate(kept.track_ids)]
    return out


def score(cfg: Config, run: TrackRun, predictions: list[PosePrediction], folder: Path) -> dict[str, float]:
    """mAP, MOTA, ID switches and jitter of filtered predictions, as `simplepose track` scores them."""
    pred = write_folder(predictions, run.videos, folder)
    data = load_eval_data(cfg.resolve(cfg.data.val_gt), pred)
    tracking = evaluate_tracking(data)
    jitter = evaluate_jitter(data, tracking)
    return {"mAP": float(evaluate_data(data).summary_ap[-1]), "MOTA": float(tracking.mota[15]),
            "IDSW": int(tracking.counts["num_switches"].sum()), "jitter_px": float(jitter.pixels[15]),
            "jitter_head": float(jitter.head_percent[15]), "triples": int(jitter.triples[15])}


def row(name: str, m: dict[str, float]) -> str:
    """One markdown table row."""
    return (f"| {name} | {m['mAP']:.1f} | {m['MOTA']:.1f} | {m['IDSW']} | {m['jitter_px']:.2f} | "
            f"{m['jitter_head']:.2f} | {m['triples']} |")


HEADER = ("| smoothing | mAP | MOTA | IDSW | jitter px | jitter % head | triples |\n"
          "|---|---|---|---|---|---|---|")


def tune(cfg: Config, run: TrackRun, cache: Path) -> SmoothingConfig:
    """Score the grid on train; print it; return the selected setting."""
    off = score(cfg, run, replay(run, SmoothingConfig(), cfg.track), cache / "train_off")
    print(f"\ntrain grid ({load()}):\n{HEADER}\n{row('off', off)}")
    best, best_m = None, None
    for mc, beta in itertools.product(MIN_CUTOFFS, BETAS):
        sm = SmoothingConfig(enabled=True, min_cutoff=mc, beta=beta, d_cutoff=1.0)
        m = score(cfg, run, replay(run, sm, cfg.track), cache / "train_grid")
        print(row(f"min_cutoff {mc}, beta {beta}", m), flush=True)
        ok = m["mAP"] >= off["mAP"] - TOLERANCE and m["MOTA"] >= off["MOTA"] - TOLERANCE
        if ok and (best_m is None or m["jitter_head"] < best_m["jitter_head"]):
            best, best_m = sm, m
    if best is None:
        raise SystemExit("no setting keeps mAP and MOTA within the tolerance")
    print(f"selected on train: min_cutoff {best.min_cutoff}, beta {best.beta} (jitter {best_m['jitter_head']:.2f}% "
          f"of head size vs {off['jitter_head']:.2f}% off; mAP {best_m['mAP'] - off['mAP']:+.1f}, "
          f"MOTA {best_m['MOTA'] - off['MOTA']:+.1f})")
    return best


def main() -> None:
    """Parse arguments, track both splits (or read the cache), tune on train, report on val."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True, help="synthetic dataset root holding a train split (simplepose synth)")
    p.add_argument("--val", required=True, nargs="+", help="synthetic dataset roots holding a val split, other seeds")
    p.add_argument("--checkpoint", required=True, help="a model trained on synthetic data (demo DIR/work/latest.pth)")
    p.add_argument("--config", default=str(REPO / "configs" / "synthetic_demo.yaml"), help="experiment config")
    p.add_argument("--cache", default="/tmp/simplepose_smoothing", help="tracked poses and scored folders")
    p.add_argument("--set", nargs="*", default=[], help="config overrides, e.g. runtime.threads=1")
    p.add_argument("--check", action="store_true", help="also run the loop with the tuned smoothing on val")
    args = p.parse_args()
    logging.getLogger("simplepose.evaluation.pose_ap").setLevel(logging.ERROR)   # score-tie notes, every row
    train_cfg = split_config(args, args.train, "train")
    if train_cfg.runtime.threads:
        torch.set_num_threads(train_cfg.runtime.threads)
    print(f"machine: {cpu()}, torch {torch.get_num_threads()} threads; {load()}")
    estimator = PoseEstimator.from_checkpoint(args.checkpoint, input_size=tuple(train_cfg.data.input_size),
                                              flip_test=train_cfg.data.flip_test, schema=train_cfg.data.dataset)
    cache = Path(args.cache)
    tuned = tune(train_cfg, tracked(args, train_cfg, estimator), cache)
    for root in args.val:
        val_cfg = split_config(args, root, "val")
        val_run = tracked(args, val_cfg, estimator)
        print(f"\nval {root}, settings frozen ({load()}):\n{HEADER}")
        for name, sm in (("off", SmoothingConfig()), ("MMPose 0.x defaults (min_cutoff 0.004, beta 0.7)", MMPOSE),
                         (f"tuned on train (min_cutoff {tuned.min_cutoff}, beta {tuned.beta})", tuned)):
            m = score(val_cfg, val_run, replay(val_run, sm, val_cfg.track), cache / "val")
            print(row(name, m), flush=True)
            if args.check and sm is tuned:
                cfg = replace(val_cfg, track=replace(val_cfg.track, smooth=tuned))
                live = score(cfg, val_run, track_videos(cfg, estimator, progress=False).filtered, cache / "val_live")
                print(f"check: the tracking loop with this smoothing on gives "
                      f"{'the same numbers' if live == m else live}", flush=True)


if __name__ == "__main__":
    main()

"""FlowTrack ablation in the paper's shape on the synthetic val split, and the flow + association cost.

Rows (all on the val split's noisy detections unless said otherwise; output filter as the paper:
boxes >= 0.5, joints >= 0.4 before MOTA):

  (1) no propagation + iou      (2) no propagation + oks
  (3) propagation + iou         (4) propagation + oks
  (5) propagation + flow        (6) propagation + multiflow
  greedy: the previous tracker (tracking/greedy.py, OKS then IoU, no propagation): the reference
  GT boxes: ground-truth boxes (labeled frames only) + multiflow, an upper bound on the boxes

Columns: mAP (filtered; unfiltered in brackets), MOTA, ID switches, FP, FN (summed over joints),
ms/frame of detector (reading the detection file: ~0), flow, pose network and association (box
NMS, OKS-NMS, similarity, matching), wall time with the process's CPU time in brackets (on a
shared, loaded machine the CPU time is the better guess of the unloaded cost of the single-threaded
stages). Then the cost of flow + association alone on a synthetic 1080p frame with 10 persons (LK
and DIS, 1 OpenCV thread), with the pose network replaced by a stand-in that knows where the
persons are. The machine (lscpu model and flags) and its load are printed with the numbers. The paper's numbers (PoseTrack17 val, ResNet-50, FPN-DCN boxes): (1) 69.3 mAP / 59.8
MOTA, (3) 72.4 / 62.1, (5) 62.4 MOTA, (6) 62.9 MOTA.

    python benchmarks/tracking.py --data DEMO_OUT/data --checkpoint DEMO_OUT/work/latest.pth [--set runtime.threads=1]

The demo's val split has 6 videos, too few to separate rows by a point of MOTA; for the README's
main table, score the demo's model on 24 unseen ones:

    simplepose synth VAL24 --splits val --videos 24 --seed 11
    python benchmarks/tracking.py --data VAL24 --checkpoint DEMO_OUT/work/latest.pth

(on a loaded machine one torch thread is several times faster for this small pose network than two)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.data.geometry import pairwise_iou  # noqa: E402
from simplepose.data.keypoints import get_schema  # noqa: E402
from simplepose.engine.config import apply_overrides, load_config  # noqa: E402
from simplepose.engine.track import evaluate_run, track_videos  # noqa: E402
from simplepose.inference.estimator import PoseEstimator  # noqa: E402
from simplepose.tracking.flowtrack import FlowTrackConfig, FlowTracker  # noqa: E402
from simplepose.tracking.greedy import GreedyPoseTracker  # noqa: E402

ROWS = [("(1) no propagation + iou", ["track.propagate=false", "track.similarity=iou"]),
        ("(2) no propagation + oks", ["track.propagate=false", "track.similarity=oks"]),
        ("(3) propagation + iou", ["track.similarity=iou"]),
        ("(4) propagation + oks", ["track.similarity=oks"]),
        ("(5) propagation + flow", ["track.similarity=flow"]),
        ("(6) propagation + multiflow", ["track.similarity=multiflow"])]


class GreedyTracker(FlowTracker):
    """The previous tracker (greedy OKS then IoU, last frame only) inside the same loop, no propagation."""

    def reset(self) -> None:
        """New video: the greedy tracker forgets its tracks too."""
        super().reset()
        self.greedy = GreedyPoseTracker(self.sigmas, max_age=self.cfg.max_age)

    def _associate(self, boxes, scores, poses, frame, propagated):
        """Track ids from GreedyPoseTracker.update."""
        if len(boxes) == 0:
            self.greedy.frame = frame
            return np.zeros(0, np.int64)
        return self.greedy.update(poses, np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1), frame)


def machine() -> str:
    """CPU model and the vector flags that matter for the pose network."""
    info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("Flags")), [])
    keep = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile")]
    return f"{model} ({' '.join(keep)}), torch {torch.get_num_threads()} threads, OpenCV {cv2.getNumThreads()} threads"


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes and its core count, as `uptime` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def ablation(args: argparse.Namespace) -> None:
    """The ablation table on the val split."""
    base = load_config(args.config or Path(args.checkpoint).with_name("config.yaml"), [f"data.data_root={args.data}"])
    if not args.config_track:      # a checkpoint's config.yaml keeps the track settings of its training day
        base = replace(base, track=FlowTrackConfig())
    base = apply_overrides(base, args.set)
    if base.runtime.threads:
        torch.set_num_threads(base.runtime.threads)
    estimator = PoseEstimator.from_checkpoint(args.checkpoint, input_size=tuple(base.data.input_size),
                                              flip_test=base.data.flip_test, schema=base.data.dataset)
    dets = str(Path(args.data) / "annotations" / "posetrack18_val_human_detections.json")
    sigmas = get_schema(base.data.dataset).sigmas_array
    runs = [(name, apply_overrides(base, o), dets) for name, o in ROWS]
    greedy = apply_overrides(base, ["track.propagate=false", "track.similarity=oks"])
    runs.append(("greedy OKS/IoU (previous tracker)", greedy, dets))
    runs.append(("GT boxes + multiflow", apply_overrides(base, ["data.val_bbox_file=null"]), ""))
    print(f"ablation start: {load()}")
    print("| row | mAP (unfiltered) | MOTA | IDSW | FP | FN | det ms | flow ms | pose ms | assoc ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for name, cfg, bbox in runs:
        kind = GreedyTracker if name.startswith("greedy") else FlowTracker
        tracker = kind(estimator, sigmas, cfg.track)
        run = track_videos(cfg, estimator, bbox_file=bbox or None, progress=False, tracker=tracker)
        m = evaluate_run(cfg, run, Path(args.out) / name.split()[0].strip("()")).metrics()
        wall, cpu = run.ms_per_frame, {k: 1000 * v / max(run.frames, 1) for k, v in tracker.clock.cpu.items()}
        results[name] = m
        cols = " | ".join(f"{wall[k]:.{d}f} ({cpu[k]:.{d}f})" for k, d in (("detector", 2), ("flow", 2), ("pose", 1),
                                                                           ("association", 2)))
        print(f"| {name} | {m['mAP']:.1f} ({m['mAP_unfiltered']:.1f}) | {m['MOTA']:.1f} | {m['IDSW']} | {m['FP']} | "
              f"{m['FN']} | {cols} |", flush=True)
    print(f"ablation end: {load()}; ms/frame are wall (process CPU in brackets)")
    ref = results["greedy OKS/IoU (previous tracker)"]["MOTA"]
    print(f"\nMOTA vs the previous greedy tracker measured in this run ({ref:.1f}): " + ", ".join(
        f"{n.split()[0]} {m['MOTA'] - ref:+.1f}" for n, m in results.items() if n[0] == "("))


class _Template:
    """A stand-in pose network that knows where the persons are (its cost is left out of the flow +
    association timing): for each box, template joints laid into the true box of the person it
    overlaps most (score 0.9), or into the box itself with score 0.1 when it overlaps none. Laying
    the template into the given box instead would shrink the persons frame after frame, since a
    propagated box is the joints' extent + 15%, and pile up tracks."""

    frac = np.stack([np.tile([0.3, 0.7], 9)[:17], np.linspace(0.05, 0.95, 17)], 1)   # (17, 2)

    def __init__(self) -> None:
        """No persons until the loop sets `truth` (P, 4) xyxy for each frame."""
        self.truth = np.zeros((0, 4))

    def predict(self, image, boxes, bbox_format="xyxy"):
        """(N, 17, 3) template poses."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        iou = pairwise_iou(b, self.truth)     # (N, P)
        hit = iou.max(1, initial=0.0) > 0.3
        src = np.where(hit[:, None], self.truth[iou.argmax(1)] if self.truth.size else b, b)
        out = np.empty((len(b), 17, 3), np.float32)
        out[:, :, :2] = src[:, None, :2] + self.frac[None] * (src[:, None, 2:] - src[:, None, :2])
        out[:, :, 2] = np.where(hit, 0.9, 0.1)[:, None]
        return out


def flow_cost(frames: int = 30, repeats: int = 3) -> None:
    """ms per 1080p frame of flow and association with 10 moving persons (camera pan included), the
    median of `repeats` runs of `frames` frames."""
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (1300, 2300)).astype(np.float32), (0, 0), 3)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    starts = rng.uniform([50, 100], [1500, 400], (10, 2))
    vel = rng.uniform(-8, 8, (10, 2))
    patches = [cv2.GaussianBlur(rng.uniform(0, 255, (500, 200)).astype(np.float32), (0, 0), 3) for _ in range(10)]
    patches = [cv2.normalize(p, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8) for p in patches]
    cv2.setNumThreads(1)
    for method in ("lk", "dis"):
        runs = []                                                    # (flow, assoc) wall and CPU ms/frame
        for _ in range(repeats):
            cfg = FlowTrackConfig(similarity="multiflow")
            cfg.flow.method = method
            pose_net = _Template()
            tr = FlowTracker(pose_net, np.full(17, 0.07), cfg)
            for t in range(frames):
                pan = 3 * t
                img = big[100:1180, 100 + pan:2020 + pan].copy()
                boxes = []
                for p, s, v in zip(patches, starts, vel):
                    x, y = np.clip(s + v * t, 0, [1920 - 200, 1080 - 500]).astype(int)
                    img[y:y + 500, x:x + 200] = p
                    boxes.append([x, y, x + 200, y + 500])
                bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                pose_net.truth = np.array(boxes, np.float64)
                tr.step(bgr, np.array(boxes, np.float64) if t % 3 == 0 else np.zeros((0, 4)),
                        np.full(10 if t % 3 == 0 else 0, 0.9))
            runs.append([1000 * d[k] / tr.frames for d in (tr.clock.wall, tr.clock.cpu) for k in ("flow", "association")])
        f, a, fc, ac = np.median(np.array(runs), axis=0)
        print(f"1080p, 10 persons, {method}: flow {f:.1f} ms + association {a:.1f} ms = {f + a:.1f} ms/frame wall; "
              f"CPU {fc:.1f} + {ac:.1f} = {fc + ac:.1f} ms/frame (median of {repeats} runs of {frames} frames; "
              f"multiflow over 3 poses per track, propagation on, detections every 3rd frame, 1 OpenCV thread; "
              f"{len(tr.tracks)} tracks alive at the end; {load()})")
    cv2.setNumThreads(-1)


def main() -> None:
    """Parse arguments, print the machine, the ablation and the flow cost."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="synthetic dataset root (simplepose synth / demo DIR/data)")
    p.add_argument("--checkpoint", help="a model trained on it (demo DIR/work/latest.pth)")
    p.add_argument("--config", help="its config (default: config.yaml beside the checkpoint)")
    p.add_argument("--out", default="/tmp/simplepose_tracking_bench", help="prediction folders")
    p.add_argument("--set", nargs="*", default=[], help="config overrides for every row")
    p.add_argument("--config-track", action="store_true",
                   help="take the track settings from the config (default: FlowTrackConfig's defaults)")
    p.add_argument("--flow-only", action="store_true", help="only the 1080p flow + association cost")
    args = p.parse_args()
    t0 = time.perf_counter()
    print(machine())
    if not args.flow_only:
        ablation(args)
    flow_cost()
    print(f"benchmark wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

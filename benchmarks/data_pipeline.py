"""Data-pipeline throughput: training samples/s on ONE pinned core, with a per-stage breakdown.

A sample is everything TopDownDataset.__getitem__ does: JPEG decode, flip / half-body / box transform,
the affine crop, the MSRA heatmap target and the normalised input tensor. Measured over the real
1920x1080 PoseTrack18 sample frames and over a synthetic PoseTrack-layout dataset, and compared with
MMPose 1.3.2's train pipeline: measured side by side when MMPOSE_PYTHON points at the peer venv's
python, else the recorded baseline from shared/peers/mmpose/mmpose_baseline.md (39.5 samples/s).

    python benchmarks/data_pipeline.py [--passes 10] [--repeats 3] [--core 0]

Rows: full-frame decode vs JPEG region decode (only the MCU-aligned part the crop samples, via the
optional system libturbojpeg; bit-identical crops), and reduced DCT-scale decode (approximate pixels).

This is a script, not a test. The machine is shared: the "others" column is the share of all CPU
time used by other processes during the measurement (from /proc/stat); trust runs where it is small.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.data.dataset import TopDownDataset  # noqa: E402
from simplepose.data.image import region_decode_available  # noqa: E402
from simplepose.data.keypoints import POSETRACK18  # noqa: E402
from simplepose.data.posetrack import load_posetrack  # noqa: E402
from simplepose.data.augment import AugmentConfig  # noqa: E402
from simplepose.data.transforms import normalise_crops  # noqa: E402

SHARED = Path(os.environ.get("SIMPLEPOSE_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "data" / "mmpose_test_samples" / "posetrack18"
PEER_DIR = SHARED / "peers" / "mmpose"
RECORDED_FALLBACK = 39.5        # samples/s, mmpose_baseline.md (iii), in case the file is unreadable
HZ = os.sysconf("SC_CLK_TCK")


def busy_jiffies() -> int:
    """Machine-wide busy CPU time in clock ticks (user nice system irq softirq steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds of fn() over repeats after one warm-up, median share of CPU used by others)."""
    fn()
    walls, others = [], []
    for _ in range(repeats):
        b0, t = busy_jiffies(), os.times()
        own0, t0 = t.user + t.system, time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        t = os.times()
        busy = (busy_jiffies() - b0) / HZ
        walls.append(wall)
        others.append(max(0.0, (busy - (t.user + t.system - own0)) / (wall * os.cpu_count())))
    return statistics.median(walls), statistics.median(others)


def throughput(ds: TopDownDataset, passes: int, repeats: int) -> dict:
    """samples/s of ds[i] over all items, a fresh epoch (new draws) per pass."""
    def run() -> None:
        for p in range(passes):
            ds.set_epoch(p)
            for i in range(len(ds)):
                ds[i]
    wall, others = timed(run, repeats)
    n = passes * len(ds)
    return {"samples_per_s": n / wall, "ms_per_sample": wall / n * 1e3, "others_cpu": others}


def breakdown(ds: TopDownDataset, passes: int) -> dict[str, float]:
    """Milliseconds per sample in each stage (load_sample's stages plus normalise and tensor packing)."""
    acc: dict[str, float] = {}
    n = 0
    reduce_hist: dict[int, int] = {}
    for p in range(passes):
        ds.set_epoch(100 + p)
        for i in range(len(ds)):
            s = ds.load_sample(i, timings=acc)
            t0 = time.perf_counter()
            normalise_crops(s["crop"])
            acc["normalise"] = acc.get("normalise", 0.0) + time.perf_counter() - t0
            reduce_hist[int(s["reduce"])] = reduce_hist.get(int(s["reduce"]), 0) + 1
            n += 1
    out = {k: v / n * 1e3 for k, v in acc.items()}
    out["reduce_histogram"] = reduce_hist
    return out


def recorded_mmpose() -> float:
    """MMPose's 1-core train-pipeline samples/s recorded in mmpose_baseline.md."""
    try:
        text = (PEER_DIR / "mmpose_baseline.md").read_text()
        m = re.search(r"\(iii\) train pipeline.*?\*\*([\d.]+) samples/s\*\*", text)
        return float(m.group(1)) if m else RECORDED_FALLBACK
    except OSError:
        return RECORDED_FALLBACK


def measure_peer(python: str) -> dict | None:
    """Run the peer's own pipeline benchmark (pinned to one core) and return its JSON line."""
    bench = PEER_DIR / "mmpose_bench.py"
    try:
        out = subprocess.run([python, "-W", "ignore", str(bench), "pipeline"], capture_output=True, text=True,
                             timeout=900, env={**os.environ, "MMPOSE_SAMPLES": str(SAMPLES.parent)})
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"  peer run failed: {e}")
        return None
    result = None
    for line in out.stdout.splitlines():
        if line.startswith("{") and '"section": "pipeline"' in line:
            result = json.loads(line)
        elif line.startswith("{") and '"section": "pipeline_breakdown"' in line:
            ms = json.loads(line).get("ms", {})
            print("  MMPose ms/sample: " + "  ".join(f"{k} {v:.2f}" for k, v in ms.items()))
    if result is not None:
        return result
    print(f"  peer run gave no result (exit {out.returncode}): {out.stderr.strip()[-300:]}")
    return None


def synthetic_instances(tmp: Path, videos: int, frames: int, size: tuple[int, int]):
    """Train instances of a freshly generated synthetic PoseTrack-layout dataset."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    generate_posetrack_dataset(tmp, SynthOptions(videos={"train": videos}, frames=frames, seed=0,
                                                 image_size=size, splits=("train",)), progress=False)
    return load_posetrack(tmp / "annotations" / "posetrack18_train.json", tmp)


def report(name: str, ds: TopDownDataset, args, ref: float) -> float:
    """Print throughput and breakdown of one configuration; return samples/s."""
    r = throughput(ds, args.passes, args.repeats)
    b = breakdown(ds, max(1, args.passes // 2))
    hist = b.pop("reduce_histogram")
    stages = "  ".join(f"{k} {v:.2f}" for k, v in b.items())
    print(f"{name:<34} {r['samples_per_s']:7.1f} samples/s  {r['ms_per_sample']:6.2f} ms  "
          f"x{r['samples_per_s'] / ref:4.2f} vs MMPose  others {r['others_cpu']:.2f}")
    print(f"{'':<34} ms/sample: {stages}  (sum {sum(b.values()):.2f}); decode reductions {hist}")
    return r["samples_per_s"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passes", type=int, default=10, help="passes over the instances per timed repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--core", type=int, default=0, help="CPU core to pin to")
    ap.add_argument("--synthetic-videos", type=int, default=2)
    ap.add_argument("--synthetic-frames", type=int, default=8)
    ap.add_argument("--synthetic-size", type=int, nargs=2, default=(384, 288), metavar=("W", "H"))
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args()

    os.sched_setaffinity(0, {args.core})
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(f"one core (#{args.core}), cv2 {cv2.__version__} 1 thread, torch {torch.__version__} 1 thread")

    peer_python = os.environ.get("MMPOSE_PYTHON")
    ref, ref_src = recorded_mmpose(), "recorded in shared/peers/mmpose/mmpose_baseline.md"
    real = load_posetrack(SAMPLES / "annotations" / "test_posetrack18_val.json", SAMPLES)
    print(f"\nreal PoseTrack18 frames (1920x1080 JPEG), {len(real)} persons, "
          f"{args.passes} passes x {args.repeats} repeats")
    peer_runs: list[float] = []
    if peer_python:
        if args.core != 0:
            print("  note: the peer benchmark pins itself to core 0; use --core 0 for a like-for-like ratio")
        peer = measure_peer(peer_python)
        if peer is not None:
            peer_runs.append(peer["samples_per_s"])
            ref = peer["samples_per_s"]
            ref_src = f"measured now with {peer_python} (others {peer['others_cpu_median']})"
    print(f"MMPose 1.3.2 train pipeline: {ref:.1f} samples/s, {ref_src}\n")
    region = region_decode_available()
    print(f"JPEG region decoding (optional system libturbojpeg): {'available' if region else 'NOT available'}")
    ours = {"full": report("train, full-frame decode",
                           TopDownDataset(real, POSETRACK18, train=True, region_decode=False), args, ref)}
    if region:
        ours["region"] = report("train, region decode (exact pixels)", TopDownDataset(real, POSETRACK18, train=True),
                                args, ref)
    ours["reduced"] = report("train + reduced DCT-scale decode" + (" + region" if region else ""),
                             TopDownDataset(real, POSETRACK18, train=True, aug=AugmentConfig(reduced_decode=True)),
                             args, ref)
    report("val (no augmentation)", TopDownDataset(real, POSETRACK18, train=False), args, ref)
    if peer_runs:                         # the machine is shared: bracket our rows with a second peer run
        peer = measure_peer(peer_python)
        if peer is not None:
            peer_runs.append(peer["samples_per_s"])
            lo, hi = min(peer_runs), max(peer_runs)
            print(f"MMPose again after our rows: {peer['samples_per_s']:.1f} samples/s (others "
                  f"{peer['others_cpu_median']}); ratios against MMPose's slower/faster run:")
            for k, v in ours.items():
                print(f"  {k:<8} x{v / hi:4.2f} .. x{v / lo:4.2f}")
    if "region" in ours:
        print(f"region decode vs full-frame decode (same run): x{ours['region'] / ours['full']:.2f}")

    if not args.no_synthetic:
        with tempfile.TemporaryDirectory(prefix="simplepose_bench_") as tmp:
            t0 = time.perf_counter()
            synth = synthetic_instances(Path(tmp), args.synthetic_videos, args.synthetic_frames,
                                        tuple(args.synthetic_size))
            w, h = args.synthetic_size
            print(f"\nsynthetic PoseTrack layout ({w}x{h} JPEG), {len(synth)} persons "
                  f"(generated in {time.perf_counter() - t0:.1f} s)")
            report("train (synthetic)", TopDownDataset(synth, POSETRACK18, train=True), args, ref)
            report("train + reduced decode (synthetic)", TopDownDataset(
                synth, POSETRACK18, train=True, aug=AugmentConfig(reduced_decode=True)), args, ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())

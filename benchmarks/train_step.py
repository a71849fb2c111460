"""One training iteration of SimpleBaseline ResNet-50 at 256x192, batch 32, on the CPU.

forward + KeypointMSELoss + backward + Adam on a pre-built batch (data loading excluded), BN in
train mode, as MMPose's measurement (iv). Prints seconds per iteration for the layouts tried and the
ratio against MMPose: measured in the same run when MMPOSE_PYTHON points at the peer venv's python,
else the recorded baseline (11.3 s/iter on the reference 2-vCPU machine). The FLOP bound of the
step on that machine is about 5.7 s/iter.

    python benchmarks/train_step.py [--repeats 3] [--threads 2] [--layouts contiguous,channels_last]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

MMPOSE_RECORDED_S = 11.3     # /work/shared/peers/mmpose/mmpose_baseline.md, (iv) train step, batch 32
FLOP_BOUND_S = 5.7


def time_layout(layout: str, batch: int, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds per iteration for one memory layout."""
    from simplepose.model.loss import KeypointMSELoss
    from simplepose.model.pose_model import SimpleBaseline

    torch.manual_seed(0)
    model = SimpleBaseline(depth=50).train()
    x = torch.randn(batch, 3, 256, 192)
    target = torch.rand(batch, 17, 64, 48)
    weights = torch.ones(batch, 17)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    loss_fn = KeypointMSELoss(use_target_weight=True)

    def step() -> None:
        loss = loss_fn(model(x), target, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (allocations, oneDNN primitive caches)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def mmpose_measured() -> float | None:
    """MMPose's train-step seconds measured now with the peer venv (MMPOSE_PYTHON), or None."""
    py = os.environ.get("MMPOSE_PYTHON")
    if not py:
        return None
    shared = Path(os.environ.get("SIMPLEPOSE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    bench = shared / "peers" / "mmpose" / "mmpose_bench.py"
    if not bench.is_file():
        print(f"MMPOSE_PYTHON is set but {bench} is missing", file=sys.stderr)
        return None
    res = subprocess.run([py, "-W", "ignore", str(bench), "train"], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("section") == "train":
                return float(rec["seconds_per_iter"])
    print(f"MMPose peer run failed:\n{res.stderr[-2000:]}", file=sys.stderr)
    return None


def main() -> int:
    """Time the layouts and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layouts", default="contiguous,channels_last")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {layout: time_layout(layout, args.batch, args.repeats) for layout in args.layouts.split(",")}
    measured = mmpose_measured()
    ref = measured if measured is not None else MMPOSE_RECORDED_S
    src = "measured now" if measured is not None else "recorded baseline (MMPOSE_PYTHON not set)"
    print(f"train step, ResNet-50 256x192, batch {args.batch}, {args.threads} threads "
          f"(median of {args.repeats}); MMPose {ref:.2f} s/iter [{src}]; FLOP bound ~{FLOP_BOUND_S} s/iter")
    print(f"{'layout':<15} {'wall s/iter':>11} {'cpu s/iter':>10} {'MMPose/ours':>11} {'ours/bound':>10}")
    for layout, r in results.items():
        print(f"{layout:<15} {r['wall_s']:>11.2f} {r['cpu_s']:>10.2f} {ref / r['wall_s']:>11.2f} "
              f"{r['wall_s'] / FLOP_BOUND_S:>10.2f}")
    print("cpu s/iter is process CPU time: on a machine shared with other jobs, cpu_s / threads "
          "estimates the wall time an idle machine would give.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One training iteration of SimpleBaseline on the CPU, in fp32 and bf16, beside MMPose 1.3.2.

The step is the trainer's own (engine/optim_step.py train_step: forward under the precision's autocast,
KeypointMSELoss in float32, backward, Adam on float32 weights) on a pre-built batch (data loading
excluded), BN in train mode, as MMPose's measurement (iv), with malloc set as `simplepose train`
sets it (simplepose/allocator.py; SIMPLEPOSE_MALLOC=system measures without). Two cases: ResNet-50 256x192 batch 32
(MMPose's config) and the demo's ResNet-18 128x96 batch 32, each in the layouts and precisions
asked for (bf16 rows only where this CPU computes bf16 natively, unless --precisions names it).
The ratio against MMPose is measured in the same run when MMPOSE_PYTHON points at the peer venv's
python (shared/peers/mmpose), else the recorded baseline (11.3 s/iter on the reference 2-vCPU
machine).

    MMPOSE_PYTHON=/work/peer-mmpose/bin/python python benchmarks/train_step.py [--repeats 3] [--threads 2]
        [--cases res50,res18] [--layouts contiguous,channels_last] [--precisions fp32,bf16]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.allocator import keep_freed_memory  # noqa: E402
from simplepose.engine.optim_step import train_step  # noqa: E402
from simplepose.model.loss import KeypointMSELoss  # noqa: E402
from simplepose.model.pose_model import SimpleBaseline  # noqa: E402
from simplepose.model.precision import cpu_bf16_support, resolve_precision  # noqa: E402
from host import cpu, load  # noqa: E402  (benchmarks/host.py)

MMPOSE_RECORDED_S = 11.3     # /work/shared/peers/mmpose/mmpose_baseline.md, (iv) train step, batch 32
# case -> (ResNet depth, deconv channels, input (w, h), heatmap (w, h))
CASES = {"res50": (50, 256, (192, 256), (48, 64)), "res18": (18, 128, (96, 128), (24, 32))}


def time_step(case: str, layout: str, precision: str, batch: int, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds per training iteration of one case, layout and precision."""
    depth, deconv, (w, h), (hw, hh) = CASES[case]
    torch.manual_seed(0)
    model = SimpleBaseline(depth=depth, deconv_channels=deconv).train()
    x = torch.randn(batch, 3, h, w)
    target = torch.rand(batch, 17, hh, hw)
    weights = torch.ones(batch, 17)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    loss_fn = KeypointMSELoss(use_target_weight=True)
    prec = resolve_precision(precision, "cpu")

    def step() -> None:
        train_step(model, loss_fn, opt, x, target, weights, precision=prec)

    step()  # warm-up (allocations, oneDNN primitive caches)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def mmpose_measured() -> float | None:
    """MMPose's res50 train-step seconds measured now with the peer venv (MMPOSE_PYTHON), or None."""
    py = os.environ.get("MMPOSE_PYTHON")
    if not py:
        return None
    shared = Path(os.environ.get("SIMPLEPOSE_SHARED", REPO.parent / "shared"))
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
    """Time the cases, layouts and precisions, MMPose around them, and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default="res50,res18")
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--precisions", default=None,
                    help="default: fp32, plus bf16 where the CPU computes it natively")
    args = ap.parse_args()
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    torch.set_num_threads(args.threads)
    native, found = cpu_bf16_support()
    precisions = args.precisions.split(",") if args.precisions else ["fp32"] + (["bf16"] if native else [])
    print(f"machine: {cpu()}; torch {torch.__version__}, {args.threads} threads; bf16: {found}")
    # as `simplepose train` on the CPU runs (engine/train.py); MMPose runs with its own process's malloc
    print(f"memory: {keep_freed_memory()}")
    # the machine may be shared: MMPose runs before and after ours, and the median of the two is the reference
    peer = [mmpose_measured()]
    print(f"load before: {load()}")
    rows = [(case, layout, prec, time_step(case, layout, prec, args.batch, args.repeats))
            for case in args.cases.split(",") for prec in precisions for layout in args.layouts.split(",")]
    print(f"load after: {load()}")
    if peer[0] is not None:
        peer.append(mmpose_measured())
    measured = [p for p in peer if p is not None]
    ref = statistics.median(measured) if measured else MMPOSE_RECORDED_S
    src = (f"measured now, runs {', '.join(f'{p:.2f}' for p in measured)}" if measured
           else "recorded baseline (MMPOSE_PYTHON not set)")
    print(f"train step (fwd + KeypointMSELoss + bwd + Adam), batch {args.batch}, median of {args.repeats}; "
          f"MMPose 1.3.2 res50 256x192: {ref:.2f} s/iter [{src}]")
    print(f"{'case':<16} {'precision':<9} {'layout':<14} {'wall s/iter':>11} {'cpu s/iter':>10} {'MMPose/ours':>11}")
    for case, layout, prec, r in rows:
        depth, _, (w, h), _ = CASES[case]
        ratio = f"{ref / r['wall_s']:>11.2f}" if case == "res50" else f"{'-':>11}"
        print(f"{f'res{depth} {h}x{w}':<16} {prec:<9} {layout:<14} {r['wall_s']:>11.3f} {r['cpu_s']:>10.3f} {ratio}")
    print("cpu s/iter is process CPU time: on a machine shared with other jobs, cpu_s / threads "
          "estimates the wall time an idle machine would give.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

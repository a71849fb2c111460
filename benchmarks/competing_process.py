"""Training speed with one competing busy process (`yes > /dev/null`), the default thread count against
the others: 30 iterations of the demo's training (configs/synthetic_demo.yaml: ResNet-18 128x96,
batch 32, its data pipeline with one loader worker) after 3 warm-up iterations, each setting run
quiet and then with the competitor, back to back, in fresh processes:

  default     what `simplepose train` / `demo` do: simplepose/threads.py (the cores this process
              gets, re-checked every 20 s)
  all cores   every core of the affinity mask, whatever else runs (the former default)
  1 thread    runtime.threads=1

Prints the machine, the load average before each run, seconds per iteration and the ratios
(quiet / with competitor: 1.0 = no loss; each against `all cores` quiet). On a shared machine
"quiet" means without our competitor: the load average says what else ran.

    python benchmarks/competing_process.py [--data DIR] [--iters 30] [--settings default,all,1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from host import cpu, load  # noqa: E402  (benchmarks/host.py)

WARMUP = 3
SETTINGS = {"default": "default", "all": "all cores", "1": "1 thread"}


def child(args: argparse.Namespace) -> int:
    """One run: train WARMUP + iters iterations, print the timed iterations' seconds as JSON."""
    import torch

    from simplepose.commands.demo import demo_config
    from simplepose.engine.config import apply_overrides
    from simplepose.engine.train import train

    pinned = {"default": [], "all": [f"runtime.threads={len(os.sched_getaffinity(0))}"],
              "1": ["runtime.threads=1"]}[args.setting]
    with tempfile.TemporaryDirectory() as work:
        cfg = apply_overrides(demo_config(str(args.data), work), [
            "optim.epochs=1", f"runtime.max_iters_per_epoch={WARMUP + args.iters}", "runtime.log_interval=1000",
            "runtime.save_best=null", *pinned])
        stamps: list[float] = []
        used: list[int] = []

        def stamp(state, info) -> None:
            stamps.append(time.perf_counter())
            used.append(torch.get_num_threads())

        train(cfg, hooks=[stamp])
    timed = stamps[WARMUP - 1:]
    print(json.dumps({"s_per_iter": (timed[-1] - timed[0]) / (len(timed) - 1),
                      "threads": sorted(set(used[WARMUP:]))}))
    return 0


def run_one(args: argparse.Namespace, setting: str, competitor: bool) -> dict:
    """A fresh process for one setting, with `yes > /dev/null` running beside it when asked."""
    before = load()
    yes = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if competitor else None
    try:
        done = subprocess.run([sys.executable, __file__, "--child", "--data", str(args.data), "--setting", setting,
                               "--iters", str(args.iters)], capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    finally:
        if yes is not None:
            yes.kill()
            yes.wait()
    if done.returncode:
        raise SystemExit(f"the {setting} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]), load=before)


def ensure_data(path: Path | None) -> Path:
    """The given dataset, or the demo's synthetic data (24 train videos of 30 frames) made once in a temp folder."""
    if path is not None:
        return path
    from simplepose.synthetic.writer import generate_posetrack_dataset

    out = Path(tempfile.gettempdir()) / "simplepose_competing_data"
    if not (out / "annotations" / "posetrack18_train.json").is_file():
        generate_posetrack_dataset(out, videos={"train": 24, "val": 1}, frames=30, seed=0, progress=False)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="a synthetic dataset (default: made once)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--settings", default="default,all,1", help="comma-separated: default, all, 1")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    args.data = ensure_data(args.data)
    print(f"machine: {cpu()}")
    rows = {}
    for setting in args.settings.split(","):
        quiet, busy = run_one(args, setting, False), run_one(args, setting, True)
        rows[setting] = (quiet, busy)
        print(f"{SETTINGS[setting]:>10}: quiet {quiet['s_per_iter']:.3f} s/iter ({quiet['threads']} threads, "
              f"{quiet['load']}), with `yes` {busy['s_per_iter']:.3f} s/iter ({busy['threads']} threads, "
              f"{busy['load']}): rate with competitor / quiet {quiet['s_per_iter'] / busy['s_per_iter']:.2f}x",
              flush=True)
    if "all" in rows:
        ref = rows["all"][0]["s_per_iter"]
        for setting, (quiet, busy) in rows.items():
            print(f"{SETTINGS[setting]:>10} against all cores quiet: quiet {ref / quiet['s_per_iter']:.2f}x, "
                  f"with `yes` {ref / busy['s_per_iter']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

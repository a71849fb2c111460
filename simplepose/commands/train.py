"""`simplepose train CONFIG`: train from a YAML config, in one process or under torchrun (DDP)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose train`."""
    parser.add_argument("config", help="YAML experiment config (see configs/)")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. --set optim.lr=1e-3 data.batch_size=32")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <work_dir>/latest.pth (model, optimiser, schedule, RNG)")
    parser.add_argument("--work-dir", help="output folder (overrides runtime.work_dir)")
    parser.add_argument("--overwrite", action="store_true",
                        help="train afresh in a work dir holding a run: that run is moved to <work_dir>/replaced-N/")
    parser.epilog = ("Several GPUs: torchrun --nproc_per_node 8 -m simplepose train CONFIG. "
                     "runtime.save_every_iters=N also writes latest.pth mid-epoch; SIGTERM/Ctrl-C save "
                     "latest.pth before stopping.")


def run(args: argparse.Namespace) -> int:
    """Train; returns 0 on success."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.engine import distributed
    from simplepose.engine.config import load_config
    from simplepose.engine.train import train

    overrides = list(args.overrides)
    if args.work_dir:
        overrides.append(f"runtime.work_dir={args.work_dir}")
    cfg = load_config(args.config, overrides)
    try:
        state = train(cfg, resume=args.resume, overwrite=args.overwrite)
        is_main = distributed.get_info().is_main
    finally:
        distributed.cleanup()
    if is_main and state.best_metric is not None:
        print(f"best {cfg.runtime.save_best}: {state.best_metric:.2f} (epoch {state.best_epoch}); "
              f"checkpoints in {cfg.runtime.work_dir}")
    return 0

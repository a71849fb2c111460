"""Run under torchrun by test_distributed.py: a few training iterations, gradients saved per rank.

    python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_worker.py DATA_ROOT WORK_DIR OVERRIDES...
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simplepose.engine import distributed  # noqa: E402
from simplepose.engine.train import train  # noqa: E402
from tests.engine.tiny_run import tiny_config  # noqa: E402


def save_grads_hook(out_dir: Path, at_iter: int):
    """A hook writing this rank's parameter gradients after global iteration `at_iter`."""
    def hook(state, info) -> None:
        if state.global_iter == at_iter:
            grads = {n: p.grad.detach().clone() for n, p in info["model"].named_parameters() if p.grad is not None}
            torch.save(grads, out_dir / f"grads_iter{at_iter}_rank{distributed.get_info().rank}.pt")
    return hook


def main() -> None:
    """Train with the overrides given on the command line."""
    data_root, work_dir, *overrides = sys.argv[1:]
    cfg = tiny_config(Path(data_root), Path(work_dir), *overrides)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    try:
        train(cfg, hooks=[save_grads_hook(Path(work_dir), 1)])
    finally:
        distributed.cleanup()


if __name__ == "__main__":
    main()

"""Two processes under torchrun (gloo, CPU) compute what one process computes with the same global batch.

BatchNorm: SyncBatchNorm needs CUDA, so the model runs with frozen (eval-mode) BatchNorm
(model.freeze_bn=true): each sample's output then depends on that sample only, and the gradient of
the mean loss over a global batch of 8 is the same whether one process sees all 8 or two see 4 each
(DDP averages the two ranks' gradients). The sampler gives rank r the samples r::2 of the global
permutation, so the global batches are the same sets of samples.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.engine.tiny_run import tiny_config

WORKER = Path(__file__).with_name("ddp_worker.py")
# fp32: the comparison allows float32 summation-order differences only
COMMON = ("model.freeze_bn=true", "optim.epochs=1", "runtime.max_iters_per_epoch=3", "data.workers=0",
          "optim.warmup_iters=2", "runtime.precision=fp32")


def test_two_process_ddp_equals_one_process(synth_root, tmp_path):
    from tests.engine.ddp_worker import save_grads_hook
    from simplepose.engine.train import train

    ddp_dir = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(WORKER.parents[2]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(synth_root), str(ddp_dir), "data.batch_size=4", *COMMON]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]

    one_dir = tmp_path / "one"
    one_dir.mkdir()
    cfg = tiny_config(synth_root, one_dir, "data.batch_size=8", *COMMON)
    train(cfg, hooks=[save_grads_hook(one_dir, 1)])

    g0 = torch.load(ddp_dir / "grads_iter1_rank0.pt")
    g1 = torch.load(ddp_dir / "grads_iter1_rank1.pt")
    g = torch.load(one_dir / "grads_iter1_rank0.pt")
    assert g.keys() == g0.keys() == g1.keys() and len(g) > 50
    for k in g:
        assert torch.equal(g0[k], g1[k]), k                       # all-reduced: identical on both ranks
        scale = g[k].abs().max().item() + 1e-12
        assert (g0[k] - g[k]).abs().max().item() <= 1e-4 * scale + 1e-9, k   # float32 summation order only
    a = torch.load(ddp_dir / "latest.pth", weights_only=False)["state_dict"]
    b = torch.load(one_dir / "latest.pth", weights_only=False)["state_dict"]
    for k in b:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), k
    # the weights did move: compare with the initial model (same seed as the trainer)
    from simplepose.engine.state import seed_everything
    from simplepose.engine.build import build_model
    seed_everything(cfg.runtime.seed)
    init = build_model(cfg).state_dict()
    moved = [k for k in b if b[k].is_floating_point() and not torch.equal(init[k], b[k])]
    assert len(moved) > 30 and "backbone.conv1.weight" in moved and "head.final_layer.weight" in moved


def test_setup_device_for_one_process(monkeypatch):
    from simplepose.engine import distributed
    from simplepose.errors import ConfigError

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    device, info = distributed.setup_device("cpu")
    assert device == torch.device("cpu") and (info.rank, info.world_size, info.is_main) == (0, 1, True)
    if not torch.cuda.is_available():
        assert distributed.setup_device("auto")[0] == torch.device("cpu")
        with pytest.raises(ConfigError, match=r"\(runtime\.device\): device cuda asked for but no CUDA"):
            distributed.setup_device("cuda")


def test_shard_by_size_gives_whole_items_largest_first_to_the_least_loaded():
    from simplepose.engine.distributed import shard_by_size

    # 5 -> rank 0; 3 -> rank 1; 3 -> rank 1 (3 < 5); 2 -> rank 0 (5 < 6): loads 7 and 6
    assert shard_by_size([5, 3, 3, 2], 2) == [[0, 3], [1, 2]]
    assert shard_by_size([5, 3, 3, 2], 1) == [[0, 1, 2, 3]]
    assert shard_by_size([4, 4], 3) == [[0], [1], []]            # ties: the first item, the lower rank

"""The optimiser and its learning-rate schedule, with MMEngine's semantics, stepped every iteration.

The LR at global iteration i (0-based) of epoch e (0-based) is base_lr * warm(i) * gamma ** decays(e):
warm is LinearLR(start_factor=warmup_ratio, begin=0, end=warmup_iters, by_epoch=False), decays is
MultiStepLR(milestones, gamma, by_epoch=True), and the two factors multiply as MMEngine's chained
schedulers do. base_lr is scaled as MMEngine's auto_scale_lr: lr * total batch / base_batch_size.
"""
from __future__ import annotations

import torch
from torch import nn

from simplepose.engine.config import OptimConfig
from simplepose.errors import ConfigError


def lr_factor(iteration: int, epoch: int, optim: OptimConfig) -> float:
    """Multiplier of the base LR at a global iteration (0-based) within an epoch (0-based).

    MMEngine semantics: LinearLR(start_factor=warmup_ratio, begin=0, end=warmup_iters, by_epoch=False)
    rises linearly from warmup_ratio at iteration 0 to 1 at iteration warmup_iters - 1; MultiStepLR
    (by epoch) multiplies by gamma from each milestone epoch on; the two factors multiply.
    """
    warm = 1.0
    if optim.warmup_iters > 1:
        span = optim.warmup_iters - 1
        warm = optim.warmup_ratio + (1.0 - optim.warmup_ratio) * min(iteration, span) / span
    decays = sum(1 for m in optim.milestones if epoch >= m)
    return warm * optim.gamma ** decays


def scaled_base_lr(optim: OptimConfig, total_batch: int) -> float:
    """Base LR, scaled linearly by total batch / base_batch_size when auto_scale_lr is on."""
    if optim.auto_scale_lr and optim.base_batch_size > 0:
        return optim.lr * total_batch / optim.base_batch_size
    return optim.lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group the learning rate `lr`."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def build_optimizer(model: nn.Module, optim: OptimConfig, lr: float) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    name = optim.optimizer.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=optim.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=optim.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=optim.momentum, weight_decay=optim.weight_decay)
    raise ConfigError(None, f"unknown optimizer '{optim.optimizer}' (adam, adamw, sgd)", key="optim.optimizer")

"""The optimisation step of training: LR from the schedule, forward in the run's precision, loss, backward, step.

One iteration is what MMEngine's (Amp)OptimWrapper and timm's NativeScaler do: forward under autocast
in runtime.precision as resolved for the device (model/precision.py: bfloat16 on CPUs with AMX or
AVX512_BF16 and on CUDA with bf16, float16 on older CUDA, else float32), the loss in float32,
backward (through the GradScaler for float16), optional clipping of the gradient norm, optimiser
step; weights and optimiser state stay float32. The LR is set before it from the schedule
(engine/schedule.py).
"""
from __future__ import annotations

import torch
from torch import nn

from simplepose.engine.build import channels_last
from simplepose.engine.config import OptimConfig
from simplepose.engine.schedule import lr_factor, set_lr
from simplepose.engine.state import TrainState
from simplepose.model.pose_model import unwrap
from simplepose.model.precision import Precision


class OptimStep:
    """A batch -> one optimisation step at the scheduled LR: owns the optimiser, loss, precision,
    loss scaler and gradient clipping (timm's NativeScaler.__call__(loss, optimizer, clip_grad))."""

    def __init__(self, optimizer: torch.optim.Optimizer, criterion: nn.Module, optim: OptimConfig,
                 base_lr: float, precision: Precision, scaler: torch.amp.GradScaler | None,
                 device: torch.device) -> None:
        """optim: the LR schedule (with base_lr) and the gradient clipping; scaler for float16."""
        self.optimizer = optimizer
        self.criterion = criterion
        self.optim = optim
        self.base_lr = base_lr
        self.precision = precision
        self.scaler = scaler
        self.device = device

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor], state: TrainState) -> tuple[torch.Tensor, float]:
        """Set the LR of iteration state.global_iter, step on the batch; (float32 loss, the LR)."""
        lr = self.base_lr * lr_factor(state.global_iter, state.epoch, self.optim)
        set_lr(self.optimizer, lr)
        x, target, weights = to_device(batch, self.device)
        loss = train_step(model, self.criterion, self.optimizer, x, target, weights, precision=self.precision,
                          scaler=self.scaler, grad_clip=self.optim.grad_clip)
        return loss, lr


def training_path(precision: Precision, scaled: bool) -> str:
    """The log line naming the arithmetic a training step runs in, and why."""
    if not precision.reduced:
        how = "float32 throughout"
    else:
        scaling = ", loss scaled by a GradScaler" if scaled else ""
        how = (f"forward in {precision.name} autocast{scaling}; loss, float32 master weights and "
               f"optimiser state in float32")
    return f"training {how} ({precision.describe()})"


def train_step(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               target: torch.Tensor, weights: torch.Tensor, *, precision: Precision,
               scaler: torch.amp.GradScaler | None = None, grad_clip: float | None = None) -> torch.Tensor:
    """One optimisation step on a batch; returns the float32 loss.

    The forward runs under `precision`'s autocast (none for fp32); the loss, backward into the
    float32 weights and the optimiser run outside it, in float32. A `scaler` (float16) scales the loss."""
    with precision.autocast(inputs.device):
        pred = model(inputs)
    loss = criterion(pred.float(), target, weights)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(unwrap(model).parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(unwrap(model).parameters(), grad_clip)
        optimizer.step()
    return loss


def to_device(batch: dict[str, torch.Tensor],
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, target heatmaps, keypoint weights) of a batch on the device, inputs in the model's layout."""
    x = batch["inputs"].to(device, non_blocking=True)
    if channels_last(device):
        x = x.contiguous(memory_format=torch.channels_last)
    return x, batch["heatmaps"].to(device, non_blocking=True), batch["weights"].to(device, non_blocking=True)

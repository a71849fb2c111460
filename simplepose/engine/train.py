"""The trainer: one process or torchrun/DDP, reduced precision where it pays, exact resume, validation, checkpoints.

Laid out as torchvision's reference training scripts: `train` sets the run up (device and process
group, seeds, data, model, optimiser, resume) and then, epoch after epoch, `train_one_epoch` runs
the iterations and `end_epoch` validates, keeps best.pth and writes the epoch's checkpoints.
One iteration (`train_step`) is what MMEngine's (Amp)OptimWrapper does: forward under autocast in
runtime.precision as resolved for the device (model/precision.py: bfloat16 on CPUs with AMX or
AVX512_BF16 and on CUDA with bf16, float16 on older CUDA, else float32), the loss in float32,
backward (through the GradScaler for float16), optional clipping of the gradient norm, optimiser
step; weights and optimiser state stay float32. The LR is set before it from the schedule
(engine/schedule.py).

Determinism: sampling and augmentation are functions of (seed, epoch, index) (engine/data.py), and
the RNG states travel in the checkpoints (engine/state.py), so a run resumed mid-epoch from
latest.pth repeats the uninterrupted run exactly.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from simplepose.allocator import keep_freed_memory
from simplepose.data.instances import PersonInstance
from simplepose.engine import distributed as du
from simplepose.engine.build import build_model, channels_last, freeze_batchnorm, place_model
from simplepose.engine.config import Config, OptimConfig, save_config
from simplepose.engine.curves import plot_training_curves
from simplepose.engine.data import (EpochSampler, SeededDataset, build_dataset, iters_per_epoch, load_instances,
                                    make_loader)
from simplepose.engine.evaluate import validate
from simplepose.engine.lock import WorkDirLock
from simplepose.engine.metrics_log import MetricLogger
from simplepose.engine.schedule import build_optimizer, lr_factor, scaled_base_lr, set_lr
from simplepose.engine.state import TrainState, load_training_checkpoint, save_training_checkpoint, seed_everything
from simplepose.engine.stopping import STOPPED_AT_ONCE, STOPPED_BY_SIGNAL, StopSignals
from simplepose.errors import CheckpointError, DataError
from simplepose.model.loss import KeypointMSELoss
from simplepose.model.precision import Precision, resolve_precision
from simplepose.threads import ThreadGovernor, set_threads

log = logging.getLogger("simplepose.train")

# called after every iteration with the state and {"loss", "lr", "model"}; may raise
# stopping.StopTraining to end training (nothing saved)
Hook = Callable[[TrainState, dict[str, Any]], None]
# writes the training checkpoint of the run's current state to a path
SaveCheckpoint = Callable[[Path], None]


def train(cfg: Config, resume: bool = False, hooks: list[Hook] | None = None,
          save_every_iters: int | None = None) -> TrainState:
    """Train as configured; returns the final state. `hooks` run after every iteration.

    The main process holds the work dir's lock (engine/lock.py) throughout: a second training
    in the same work dir is refused instead of mixing checkpoints and logs."""
    is_main = not du.launched_by_torchrun() or int(os.environ["RANK"]) == 0
    with WorkDirLock(cfg.runtime.work_dir) if is_main else contextlib.nullcontext():
        return _train(cfg, resume, hooks, save_every_iters)


def _train(cfg: Config, resume: bool, hooks: list[Hook] | None, save_every_iters: int | None) -> TrainState:
    """train() once the work dir is locked."""
    rt = cfg.runtime
    save_every_iters = save_every_iters if save_every_iters is not None else rt.save_every_iters
    device, info = du.setup_device(rt.device)
    if device.type == "cpu":
        keep_freed_memory()          # large activations would be page-faulted in on every step
    # runtime.threads pins the count; else the cores this process gets, re-checked as training runs
    set_threads(rt.threads)
    if not rt.threads and device.type == "cpu":
        hooks = [ThreadGovernor(), *(hooks or ())]
    seed_everything(rt.seed, rt.deterministic)
    work_dir = Path(rt.work_dir)
    if info.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, work_dir / "config.yaml")
    logger = MetricLogger(work_dir, enabled=info.is_main, tensorboard=rt.tensorboard)
    train_set, val_instances = _load_data(cfg)

    model = place_model(build_model(cfg), device, sync_bn=info.distributed and cfg.model.sync_bn)
    precision = resolve_precision(rt.precision, device)
    scaler = torch.amp.GradScaler("cuda") if precision.name == "fp16" and device.type == "cuda" else None
    if info.is_main:
        log.info("%s", training_path(precision, scaler is not None))
    batch = cfg.data.batch_size
    base_lr = scaled_base_lr(cfg.optim, batch * info.world_size)
    optimizer = build_optimizer(model, cfg.optim, base_lr)
    latest = work_dir / "latest.pth"
    state = _resume(latest, model, optimizer, scaler, batch, precision, logger) if resume else TrainState()
    if resume and state.epoch >= cfg.optim.epochs and info.is_main:
        log.warning("%s: this run already finished its %d epochs: nothing to train (set optim.epochs higher, "
                    "e.g. --set optim.epochs=%d, to train on from it)", latest, cfg.optim.epochs, cfg.optim.epochs + 1)
    save: SaveCheckpoint = functools.partial(save_training_checkpoint, model=model, optimizer=optimizer,
                                             scaler=scaler, state=state, cfg=cfg, precision=precision.name)
    ddp_model = _data_parallel(model, device, info)
    criterion = KeypointMSELoss(use_target_weight=True)
    n_iter = iters_per_epoch(len(train_set), batch, info.world_size, rt.max_iters_per_epoch)
    if info.is_main:
        log.info("%d training instances, %d per process per iteration, %d iterations per epoch, lr %.3g",
                 len(train_set), batch, n_iter, base_lr)

    with StopSignals() as stop:
        try:
            # one loader for the run (persistent workers); the sampler's epoch/start are set per epoch
            sampler = EpochSampler(len(train_set), state.epoch, rt.seed, True, info.rank, info.world_size)
            loader = make_loader(train_set, batch, sampler, cfg.data.workers, device)
            while state.epoch < cfg.optim.epochs:
                sampler.epoch, sampler.start = state.epoch, state.iter_in_epoch * batch
                train_one_epoch(ddp_model, criterion, optimizer, loader, device, state,
                                num_iters=n_iter, base_lr=base_lr, optim=cfg.optim, precision=precision,
                                scaler=scaler,
                                freeze_bn=cfg.model.freeze_bn, logger=logger, log_interval=rt.log_interval,
                                stop=stop, save_latest=functools.partial(save, latest),
                                save_every_iters=save_every_iters, hooks=hooks or ())
                end_epoch(cfg, model, state, val_instances, device, logger, save, stop)
                if du.any_process([stop.requested], device)[0] and state.epoch < cfg.optim.epochs:
                    raise KeyboardInterrupt(STOPPED_BY_SIGNAL)
        finally:
            logger.close()
    if info.is_main and logger.path.is_file():
        plot_training_curves(logger.path, work_dir / "curves.png", metric=rt.save_best or "Total AP")
    return state


def train_one_epoch(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader,
                    device: torch.device, state: TrainState, *, num_iters: int, base_lr: float,
                    optim: OptimConfig, precision: Precision, scaler: torch.amp.GradScaler | None,
                    freeze_bn: bool,
                    logger: MetricLogger, log_interval: int, stop: StopSignals, save_latest: Callable[[], None],
                    save_every_iters: int | None, hooks: Sequence[Hook]) -> None:
    """Run epoch `state.epoch` from iteration `state.iter_in_epoch` to `num_iters`, advancing `state`.

    model: the model to run (DDP-wrapped in a distributed job; hooks get the module inside);
    optim: the LR schedule (with base_lr), the gradient clipping and the number of epochs;
    precision, scaler: as train_step takes them.
    Every `save_every_iters` iterations, and when a signal arrived, save_latest is called on the main
    process (mid-epoch only: the epoch's end writes its own); after a signal training then stops.
    """
    info = du.get_info()
    net = du.unwrap(model)
    epoch = state.epoch
    model.train()
    if freeze_bn:
        freeze_batchnorm(model)
    bar = _progress(info.is_main, num_iters, state.iter_in_epoch, f"epoch {epoch + 1}/{optim.epochs}")
    t_data = time.perf_counter()
    for data in loader:
        if state.iter_in_epoch >= num_iters:
            break
        lr = base_lr * lr_factor(state.global_iter, epoch, optim)
        set_lr(optimizer, lr)
        x, target, weights = _to_device(data, device)
        data_time = time.perf_counter() - t_data
        loss = train_step(model, criterion, optimizer, x, target, weights, precision=precision, scaler=scaler,
                          grad_clip=optim.grad_clip)
        state.iter_in_epoch += 1
        state.global_iter += 1
        loss_value = float(loss.detach())
        # decided together: a rank that stops or raises alone would hang the others' all-reduce
        stop_now, bad_loss = du.any_process([stop.requested, not math.isfinite(loss_value)], loss.device)
        if bad_loss:
            raise FloatingPointError(f"loss is not finite at iteration {state.global_iter} "
                                     f"(this process: {loss_value})")
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3g}", lr=f"{lr:.2g}")
        if state.global_iter % log_interval == 0 or state.iter_in_epoch == num_iters:
            logger.write("train", state.global_iter, epoch=epoch + 1, iter=state.iter_in_epoch,
                         lr=lr, loss=float(du.all_reduce_mean(loss.detach())),
                         data_time=data_time, iter_time=time.perf_counter() - t_data)
        mid_epoch = state.iter_in_epoch < num_iters
        if mid_epoch and (stop_now or (save_every_iters and state.global_iter % save_every_iters == 0)):
            if info.is_main:
                save_latest()
            if stop_now:
                du.barrier()
                raise KeyboardInterrupt(STOPPED_BY_SIGNAL)
        for hook in hooks:
            hook(state, {"loss": loss_value, "lr": lr, "model": net})
        t_data = time.perf_counter()
    if bar is not None:
        bar.close()


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
            nn.utils.clip_grad_norm_(du.unwrap(model).parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(du.unwrap(model).parameters(), grad_clip)
        optimizer.step()
    return loss


def end_epoch(cfg: Config, model: nn.Module, state: TrainState, val_instances: Sequence[PersonInstance],
              device: torch.device, logger: MetricLogger, save: SaveCheckpoint,
              stop: StopSignals | None = None) -> None:
    """Close the epoch just trained: validate when due, keep best.pth, write epoch_<e>.pth and
    latest.pth (main process), drop old epoch files; all processes leave together.

    A signal during validation stops it at once: latest.pth then keeps the trained epoch, whose
    validation is skipped on --resume."""
    rt = cfg.runtime
    work_dir = Path(rt.work_dir)
    state.epoch += 1
    state.iter_in_epoch = 0
    record: dict[str, Any] = {"epoch": state.epoch}
    is_last = state.epoch == cfg.optim.epochs
    if val_instances and rt.val_interval > 0 and (state.epoch % rt.val_interval == 0 or is_last):
        try:
            with stop.interrupting() if stop is not None else contextlib.nullcontext():
                record.update(_validate_epoch(cfg, model, state, val_instances, device, logger, save))
        except KeyboardInterrupt as e:
            if str(e) == STOPPED_AT_ONCE:
                raise
            state.history.append(record)
            if du.get_info().is_main:
                save(work_dir / "latest.pth")
            raise KeyboardInterrupt(f"validation of epoch {state.epoch} interrupted; latest.pth holds the "
                                    f"trained epoch, --resume continues with epoch {state.epoch + 1}") from None
    state.history.append(record)
    if du.get_info().is_main:
        save(work_dir / f"epoch_{state.epoch}.pth")
        save(work_dir / "latest.pth")
        _prune_epochs(work_dir, state.epoch, rt.keep_checkpoints)
    du.barrier()


def _validate_epoch(cfg: Config, model: nn.Module, state: TrainState, val_instances: Sequence[PersonInstance],
                    device: torch.device, logger: MetricLogger, save: SaveCheckpoint) -> dict[str, float]:
    """Validate (every process); on the main process log the metrics and save best.pth when
    runtime.save_best improved. The metrics on the main process, {} elsewhere."""
    rt = cfg.runtime
    metrics = validate(cfg, model, val_instances, device, Path(rt.work_dir) / "val")
    if du.get_info().is_main:
        logger.write("val", state.global_iter, epoch=state.epoch, **metrics)
        log.info("epoch %d: %s", state.epoch,
                 ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, float)))
        key = rt.save_best
        if key and key in metrics and (state.best_metric is None or metrics[key] > state.best_metric):
            state.best_metric, state.best_epoch = float(metrics[key]), state.epoch
            save(Path(rt.work_dir) / "best.pth")
    state.best_metric, state.best_epoch = du.broadcast_object((state.best_metric, state.best_epoch))
    return metrics


def _load_data(cfg: Config) -> tuple[SeededDataset, list[PersonInstance]]:
    """The training set and the validation instances (none when validation is off)."""
    train_set = SeededDataset(build_dataset(cfg, load_instances(cfg, "train"), train=True))
    val_instances = load_instances(cfg, "val") if cfg.runtime.val_interval > 0 else []
    val_gt = cfg.resolve(cfg.data.val_gt)
    if val_instances and not (val_gt and Path(val_gt).exists()):
        # fail now, not after the first epoch
        raise DataError(val_gt, "validation ground truth (data.val_gt) not found")
    return train_set, val_instances


def _resume(latest: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
            batch_size: int, precision: Precision, logger: MetricLogger) -> TrainState:
    """The state of latest.pth, loaded into model, optimiser and scaler; the log cut back to it."""
    if not latest.is_file():
        raise CheckpointError(f"{latest}: nothing to resume from")
    state = load_training_checkpoint(latest, model, optimizer, scaler, batch_size, precision.name)
    log.info("resumed from %s at epoch %d iteration %d", latest, state.epoch + 1, state.iter_in_epoch)
    logger.drop_after(state.global_iter)
    return state


def _data_parallel(model: nn.Module, device: torch.device, info: du.DistInfo) -> nn.Module:
    """The model in DistributedDataParallel in a distributed job (this process's GPU on CUDA), else itself."""
    if not info.distributed:
        return model
    device_ids = [info.local_rank] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def _to_device(batch: dict[str, torch.Tensor],
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, target heatmaps, keypoint weights) of a batch on the device, inputs in the model's layout."""
    x = batch["inputs"].to(device, non_blocking=True)
    if channels_last(device):
        x = x.contiguous(memory_format=torch.channels_last)
    return x, batch["heatmaps"].to(device, non_blocking=True), batch["weights"].to(device, non_blocking=True)


def _progress(enabled: bool, total: int, initial: int, desc: str) -> tqdm | None:
    """A tqdm bar on rank 0, None elsewhere."""
    if not enabled:
        return None
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=False)


def _prune_epochs(work_dir: Path, epoch: int, keep: int) -> None:
    """Delete epoch_<e>.pth older than the last `keep` epochs."""
    for e in range(1, epoch - max(keep, 0) + 1):
        p = work_dir / f"epoch_{e}.pth"
        if p.exists():
            p.unlink()

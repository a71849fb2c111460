"""The trainer: one process or torchrun/DDP, AMP on CUDA, exact resume, validation, checkpoints.

Determinism: the sample order of epoch e is a permutation drawn from (seed, e); each sample's
augmentation is drawn from (seed, e, index), so a run resumed mid-epoch from `latest.pth` sees the
same batches, whatever the number of loader workers.
"""
from __future__ import annotations

import logging
import math
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from simplepose.engine import distributed as du
from simplepose.engine.build import build_model, channels_last, freeze_batchnorm, place_model
from simplepose.engine.config import Config, save_config
from simplepose.engine.curves import plot_training_curves
from simplepose.engine.data import (EpochSampler, SeededDataset, build_dataset, iters_per_epoch, load_instances,
                                    make_loader)
from simplepose.engine.metrics_log import MetricLogger
from simplepose.engine.schedule import build_optimizer, lr_factor, scaled_base_lr, set_lr
from simplepose.engine.state import TrainState, load_training_checkpoint, save_training_checkpoint, seed_everything
from simplepose.errors import CheckpointError, DataError

log = logging.getLogger("simplepose.train")


# ----------------------------------------------------------------------------------------------
# the loop


class StopTraining(Exception):
    """Raised by a hook to end training early (the state is not saved: like a killed process)."""


Hook = Callable[[TrainState, dict[str, Any]], None]


def _collate_inputs(batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool):
    """Move a batch to the device."""
    x = batch["inputs"].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, batch["heatmaps"].to(device, non_blocking=True), batch["weights"].to(device, non_blocking=True)


def train(cfg: Config, resume: bool = False, hooks: list[Hook] | None = None,
          save_every_iters: int | None = None) -> TrainState:
    """Train as configured; returns the final state. `hooks` run after every iteration."""
    from simplepose.engine.evaluate import validate
    from simplepose.model.loss import KeypointMSELoss

    rt = cfg.runtime
    save_every_iters = save_every_iters if save_every_iters is not None else rt.save_every_iters
    device, info = du.setup_device(rt.device)
    if rt.threads:
        torch.set_num_threads(rt.threads)
    seed_everything(rt.seed, rt.deterministic)
    work_dir = Path(rt.work_dir)
    if info.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, work_dir / "config.yaml")
    logger = MetricLogger(work_dir, enabled=info.is_main, tensorboard=rt.tensorboard)

    train_instances = load_instances(cfg, "train")
    train_set = SeededDataset(build_dataset(cfg, train_instances, train=True))
    val_instances = load_instances(cfg, "val") if rt.val_interval > 0 else []
    val_gt = cfg.resolve(cfg.data.val_gt)
    if val_instances and not (val_gt and Path(val_gt).exists()):
        # fail now, not after the first epoch
        raise DataError(val_gt, "validation ground truth (data.val_gt) not found")

    model = place_model(build_model(cfg), device, sync_bn=info.distributed and cfg.model.sync_bn)
    use_amp = rt.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    batch = cfg.data.batch_size
    base_lr = scaled_base_lr(cfg.optim, batch * info.world_size)
    optimizer = build_optimizer(model, cfg.optim, base_lr)
    state = TrainState()
    latest = work_dir / "latest.pth"
    if resume:
        if not latest.is_file():
            raise CheckpointError(f"{latest}: nothing to resume from")
        state = load_training_checkpoint(latest, model, optimizer, scaler, cfg.data.batch_size)
        log.info("resumed from %s at epoch %d iteration %d", latest, state.epoch + 1, state.iter_in_epoch)
        logger.drop_after(state.global_iter)
    ddp_model: nn.Module = model
    if info.distributed:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if device.type == "cuda" else None)
    criterion = KeypointMSELoss(use_target_weight=True)
    n_iter = iters_per_epoch(len(train_set), batch, info.world_size, rt.max_iters_per_epoch)
    if info.is_main:
        log.info("%d training instances, %d per process per iteration, %d iterations per epoch, lr %.3g",
                 len(train_set), batch, n_iter, base_lr)

    stop_signal: list[int] = []
    old_handlers = _install_signal_handlers(stop_signal)
    try:
        # one loader for the run (persistent workers); the sampler's epoch/start are set per epoch
        sampler = EpochSampler(len(train_set), state.epoch, rt.seed, True, info.rank, info.world_size)
        loader = make_loader(train_set, batch, sampler, cfg.data.workers, device)
        while state.epoch < cfg.optim.epochs:
            epoch = state.epoch
            sampler.epoch, sampler.start = epoch, state.iter_in_epoch * batch
            ddp_model.train()
            if cfg.model.freeze_bn:
                freeze_batchnorm(ddp_model)
            bar = _progress(info.is_main, n_iter, state.iter_in_epoch, f"epoch {epoch + 1}/{cfg.optim.epochs}")
            t_data = time.perf_counter()
            for data in loader:
                if state.iter_in_epoch >= n_iter:
                    break
                lr = base_lr * lr_factor(state.global_iter, epoch, cfg.optim)
                set_lr(optimizer, lr)
                x, target, weights = _collate_inputs(data, device, channels_last(device))
                data_time = time.perf_counter() - t_data
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    pred = ddp_model(x)
                loss = criterion(pred.float(), target, weights)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if cfg.optim.grad_clip:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if cfg.optim.grad_clip:
                        nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                    optimizer.step()
                state.iter_in_epoch += 1
                state.global_iter += 1
                loss_value = float(loss.detach())
                # decided together: a rank that stops or raises alone would hang the others' all-reduce
                stop_now, bad_loss = du.any_process([bool(stop_signal), not math.isfinite(loss_value)], loss.device)
                if bad_loss:
                    raise FloatingPointError(f"loss is not finite at iteration {state.global_iter} "
                                             f"(this process: {loss_value})")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_value:.3g}", lr=f"{lr:.2g}")
                if state.global_iter % rt.log_interval == 0 or state.iter_in_epoch == n_iter:
                    logger.write("train", state.global_iter, epoch=epoch + 1, iter=state.iter_in_epoch,
                                 lr=lr, loss=float(du.all_reduce_mean(loss.detach())),
                                 data_time=data_time, iter_time=time.perf_counter() - t_data)
                mid_epoch = state.iter_in_epoch < n_iter
                if mid_epoch and (stop_now or (save_every_iters and state.global_iter % save_every_iters == 0)):
                    if info.is_main:
                        save_training_checkpoint(latest, model, optimizer, scaler, state, cfg)
                    if stop_now:
                        du.barrier()
                        raise KeyboardInterrupt("stopped by a signal; resume with --resume")
                for hook in hooks or []:
                    hook(state, {"loss": loss_value, "lr": lr, "model": model})
                t_data = time.perf_counter()
            if bar is not None:
                bar.close()
            # epoch done
            state.epoch += 1
            state.iter_in_epoch = 0
            record: dict[str, Any] = {"epoch": state.epoch}
            is_last = state.epoch == cfg.optim.epochs
            if val_instances and rt.val_interval > 0 and (state.epoch % rt.val_interval == 0 or is_last):
                metrics = validate(cfg, model, val_instances, device, work_dir / "val")
                if info.is_main:
                    record.update(metrics)
                    logger.write("val", state.global_iter, epoch=state.epoch, **metrics)
                    log.info("epoch %d: %s", state.epoch,
                             ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, float)))
                    key = rt.save_best
                    if key and key in metrics and (state.best_metric is None or metrics[key] > state.best_metric):
                        state.best_metric, state.best_epoch = float(metrics[key]), state.epoch
                        save_training_checkpoint(work_dir / "best.pth", model, optimizer, scaler, state, cfg)
                state.best_metric, state.best_epoch = du.broadcast_object((state.best_metric, state.best_epoch))
            state.history.append(record)
            if info.is_main:
                save_training_checkpoint(work_dir / f"epoch_{state.epoch}.pth", model, optimizer, scaler, state, cfg)
                save_training_checkpoint(latest, model, optimizer, scaler, state, cfg)
                _prune_epochs(work_dir, state.epoch, rt.keep_checkpoints)
            du.barrier()
            if du.any_process([bool(stop_signal)], device)[0] and state.epoch < cfg.optim.epochs:
                raise KeyboardInterrupt("stopped by a signal; resume with --resume")
    finally:
        _restore_signal_handlers(old_handlers)
        logger.close()
    if info.is_main and logger.path.is_file():
        plot_training_curves(logger.path, work_dir / "curves.png", metric=rt.save_best or "Total AP")
    return state


def _progress(enabled: bool, total: int, initial: int, desc: str):
    """A tqdm bar on rank 0, None elsewhere."""
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=False)


def _prune_epochs(work_dir: Path, epoch: int, keep: int) -> None:
    """Delete epoch_<e>.pth older than the last `keep` epochs."""
    for e in range(1, epoch - max(keep, 0) + 1):
        p = work_dir / f"epoch_{e}.pth"
        if p.exists():
            p.unlink()


def _install_signal_handlers(flag: list[int]) -> dict[int, Any]:
    """SIGTERM/SIGINT set `flag`; the loop then saves latest.pth and stops (main thread only)."""
    old: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, lambda signum, frame: flag.append(signum))
    except ValueError:  # not the main thread
        pass
    return old


def _restore_signal_handlers(old: dict[int, Any]) -> None:
    """Put back the handlers replaced by _install_signal_handlers."""
    for sig, handler in old.items():
        signal.signal(sig, handler)

"""The trainer: one process or torchrun/DDP, reduced precision where it pays, exact resume, validation, checkpoints.

Laid out as torchvision's reference training scripts: `train` sets the run up (device and process
group, seeds, data, model, optimiser, resume) and then, epoch after epoch, `train_one_epoch` runs
the iterations and `end_epoch` validates, keeps best.pth and writes the epoch's checkpoints.
An iteration is three small objects' work: the optimisation step (engine/optim_step.py: LR
schedule, precision, loss scaling, clipping), the progress over the loader (engine/progress.py:
bar and log records) and the checkpoint saver (engine/saver.py: latest, every N iterations,
epochs, best); what stays here is the order and the decisions all processes take together.

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
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from simplepose.allocator import keep_freed_memory
from simplepose.data.instances import PersonInstance
from simplepose.engine import distributed
from simplepose.engine.build import build_model, freeze_batchnorm, place_model
from simplepose.engine.config import Config, save_config
from simplepose.engine.curves import plot_training_curves
from simplepose.engine.data import EpochSampler, SeededDataset, build_dataset, iters_per_epoch, load_instances, make_loader
from simplepose.engine.evaluate import validate
from simplepose.engine.lock import WorkDirLock
from simplepose.engine.metrics_log import MetricLogger
from simplepose.engine.optim_step import OptimStep, training_path
from simplepose.engine.progress import EpochProgress
from simplepose.engine.saver import CheckpointSaver
from simplepose.engine.schedule import build_optimizer, scaled_base_lr
from simplepose.engine.state import TrainState, load_training_checkpoint, save_training_checkpoint, seed_everything
from simplepose.engine.stopping import STOPPED_AT_ONCE, STOPPED_BY_SIGNAL, StopSignals
from simplepose.errors import CheckpointError, DataError
from simplepose.model.checkpoint import read_checkpoint_file
from simplepose.model.loss import KeypointMSELoss
from simplepose.model.pose_model import unwrap
from simplepose.model.precision import Precision, resolve_precision
from simplepose.threads import ThreadGovernor, set_threads

log = logging.getLogger("simplepose.train")

# called after every iteration with the state and {"loss", "lr", "model"}; may raise
# stopping.StopTraining to end training (nothing saved)
Hook = Callable[[TrainState, dict[str, Any]], None]


def train(cfg: Config, resume: bool = False, hooks: list[Hook] | None = None,
          save_every_iters: int | None = None, overwrite: bool = False) -> TrainState:
    """Train as configured; returns the final state. `hooks` run after every iteration.

    The main process holds the work dir's lock (engine/lock.py) throughout: a second training
    in the same work dir is refused instead of mixing checkpoints and logs. A work dir holding a
    finished or stopped run is continued only with `resume`; `overwrite` moves that run aside first."""
    is_main = not distributed.launched_by_torchrun() or int(os.environ["RANK"]) == 0
    with WorkDirLock(cfg.runtime.work_dir) if is_main else contextlib.nullcontext():
        if is_main and not resume:
            _claim_work_dir(Path(cfg.runtime.work_dir), overwrite)
        return _train(cfg, resume, hooks, save_every_iters)


# what a run leaves in its work dir (config.yaml is rewritten by every run and not counted)
_RUN_FILES = re.compile(r"^(latest\.pth|best\.pth|epoch_\d+\.pth|log\.jsonl|curves\.png|events\.out\.tfevents\..*)$")


def _claim_work_dir(work_dir: Path, overwrite: bool) -> None:
    """Refuse a fresh run in a work dir holding another (the remedies named); with overwrite move
    that run's files into work_dir/replaced-<n>/ first."""
    found = sorted(p for p in work_dir.iterdir() if _RUN_FILES.match(p.name)) if work_dir.is_dir() else []
    if not found:
        return
    if not overwrite:
        latest = work_dir / "latest.pth"
        what = f"latest.pth at epoch {_epoch_of(latest)}" if latest.is_file() else found[0].name
        raise DataError(work_dir, f"holds a training run ({what}): continue it with --resume, train into "
                                  "another folder with --work-dir, or pass --overwrite to move that run aside")
    n = 1
    while (work_dir / f"replaced-{n}").exists():
        n += 1
    aside = work_dir / f"replaced-{n}"
    aside.mkdir()
    for p in found + [q for q in (work_dir / "config.yaml", work_dir / "val") if q.exists()]:
        os.replace(p, aside / p.name)
    log.warning("%s: moved the previous run in this work dir to %s (--overwrite)", work_dir, aside)


def _epoch_of(checkpoint: Path) -> str:
    """The epoch a training checkpoint records, '?' when it cannot be read."""
    try:
        meta = read_checkpoint_file(checkpoint)[0].get("meta", {})
        return str(int(meta["epoch"]))
    except Exception:  # only for the message: any unreadable file reads as '?'
        return "?"


def _train(cfg: Config, resume: bool, hooks: list[Hook] | None, save_every_iters: int | None) -> TrainState:
    """train() once the work dir is locked."""
    rt = cfg.runtime
    device, info = distributed.setup_device(rt.device)
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
    state = _resume(latest, model, optimizer, scaler, batch, precision, logger, cfg.optim) if resume else TrainState()
    if resume and state.epoch >= cfg.optim.epochs and info.is_main:
        log.warning("%s: this run already finished its %d epochs: nothing to train (set optim.epochs higher, "
                    "e.g. --set optim.epochs=%d, to train on from it)", latest, cfg.optim.epochs, cfg.optim.epochs + 1)
    save = functools.partial(save_training_checkpoint, model=model, optimizer=optimizer,
                             scaler=scaler, state=state, cfg=cfg, precision=precision.name)
    saver = CheckpointSaver(work_dir, save, save_every_iters if save_every_iters is not None else rt.save_every_iters,
                            rt.keep_checkpoints, info.is_main)
    ddp_model = _data_parallel(model, device, info)
    step = OptimStep(optimizer, KeypointMSELoss(use_target_weight=True), cfg.optim, base_lr, precision, scaler, device)
    n_iter = iters_per_epoch(len(train_set), batch, info.world_size, rt.max_iters_per_epoch)
    progress = EpochProgress(logger, n_iter, rt.log_interval, cfg.optim.epochs, show_bar=info.is_main)
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
                train_one_epoch(ddp_model, loader, state, step=step, progress=progress, saver=saver, stop=stop,
                                hooks=hooks or (), freeze_bn=cfg.model.freeze_bn)
                end_epoch(cfg, model, state, val_instances, device, logger, saver, stop)
                if distributed.any_process([stop.requested], device)[0] and state.epoch < cfg.optim.epochs:
                    raise KeyboardInterrupt(STOPPED_BY_SIGNAL)
        finally:
            logger.close()
    if info.is_main and logger.path.is_file():
        plot_training_curves(logger.path, work_dir / "curves.png", metric=rt.save_best or "Total AP")
    return state


def train_one_epoch(model: nn.Module, loader: DataLoader, state: TrainState, *, step: OptimStep,
                    progress: EpochProgress, saver: CheckpointSaver, stop: StopSignals,
                    hooks: Sequence[Hook] = (), freeze_bn: bool = False) -> None:
    """Run epoch `state.epoch` from iteration `state.iter_in_epoch` to `progress.num_iters`, advancing `state`.

    model: the model to run (DDP-wrapped in a distributed job; hooks get the module inside).
    Every `saver.every_iters` iterations, and when a signal arrived, latest.pth is saved on the main
    process (mid-epoch only: the epoch's end writes its own); after a signal training then stops.
    """
    net = unwrap(model)
    model.train()
    if freeze_bn:
        freeze_batchnorm(model)
    for batch in progress.log_every(loader, state):
        loss, lr = step(model, batch, state)
        state.iter_in_epoch += 1
        state.global_iter += 1
        loss_value = float(loss.detach())
        # decided together: a rank that stops or raises alone would hang the others' all-reduce
        stop_now, bad_loss = distributed.any_process([stop.requested, not math.isfinite(loss_value)], loss.device)
        if bad_loss:
            raise FloatingPointError(f"loss is not finite at iteration {state.global_iter} "
                                     f"(this process: {loss_value})")
        progress.update(state, loss, lr)
        if progress.mid_epoch(state) and (stop_now or saver.due(state.global_iter)):
            saver.save_latest()
            if stop_now:
                distributed.barrier()
                raise KeyboardInterrupt(STOPPED_BY_SIGNAL)
        for hook in hooks:
            hook(state, {"loss": loss_value, "lr": lr, "model": net})


def end_epoch(cfg: Config, model: nn.Module, state: TrainState, val_instances: Sequence[PersonInstance],
              device: torch.device, logger: MetricLogger, saver: CheckpointSaver,
              stop: StopSignals | None = None) -> None:
    """Close the epoch just trained: validate when due, keep best.pth, write epoch_<e>.pth and
    latest.pth (main process), drop old epoch files; all processes leave together.

    A signal during validation stops it at once: latest.pth then keeps the trained epoch, whose
    validation is skipped on --resume."""
    rt = cfg.runtime
    state.epoch += 1
    state.iter_in_epoch = 0
    record: dict[str, Any] = {"epoch": state.epoch}
    is_last = state.epoch == cfg.optim.epochs
    if val_instances and rt.val_interval > 0 and (state.epoch % rt.val_interval == 0 or is_last):
        try:
            with stop.interrupting() if stop is not None else contextlib.nullcontext():
                record.update(_validate_epoch(cfg, model, state, val_instances, device, logger, saver))
        except KeyboardInterrupt as e:
            if str(e) == STOPPED_AT_ONCE:
                raise
            state.history.append(record)
            saver.save_latest()
            raise KeyboardInterrupt(f"validation of epoch {state.epoch} interrupted; latest.pth holds the "
                                    f"trained epoch, --resume continues with epoch {state.epoch + 1}") from None
    state.history.append(record)
    saver.save_epoch(state.epoch)
    distributed.barrier()


def _validate_epoch(cfg: Config, model: nn.Module, state: TrainState, val_instances: Sequence[PersonInstance],
                    device: torch.device, logger: MetricLogger, saver: CheckpointSaver) -> dict[str, float]:
    """Validate (every process); on the main process log the metrics and save best.pth when
    runtime.save_best improved. The metrics on the main process, {} elsewhere."""
    rt = cfg.runtime
    metrics = validate(cfg, model, val_instances, device, Path(rt.work_dir) / "val")
    if distributed.get_info().is_main:
        logger.write("val", state.global_iter, epoch=state.epoch, **metrics)
        log.info("epoch %d: %s", state.epoch,
                 ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, float)))
        key = rt.save_best
        if key and key in metrics and (state.best_metric is None or metrics[key] > state.best_metric):
            state.best_metric, state.best_epoch = float(metrics[key]), state.epoch
            saver.save_best()
    state.best_metric, state.best_epoch = distributed.broadcast_object((state.best_metric, state.best_epoch))
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
            batch_size: int, precision: Precision, logger: MetricLogger, optim: Any = None) -> TrainState:
    """The state of latest.pth, loaded into model, optimiser and scaler; the log cut back to it."""
    if not latest.is_file():
        raise CheckpointError(f"{latest}: nothing to resume from")
    state = load_training_checkpoint(latest, model, optimizer, scaler, batch_size, precision.name, optim)
    log.info("resumed from %s at epoch %d iteration %d", latest, state.epoch + 1, state.iter_in_epoch)
    logger.drop_after(state.global_iter)
    return state


def _data_parallel(model: nn.Module, device: torch.device, info: distributed.DistInfo) -> nn.Module:
    """The model in DistributedDataParallel in a distributed job (this process's GPU on CUDA), else itself."""
    if not info.distributed:
        return model
    device_ids = [info.local_rank] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

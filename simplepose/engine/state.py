"""The resumable training state: where training is, the RNG states, and the checkpoint that holds both.

A training checkpoint is an MMPose-loadable file (state_dict, meta, optimizer, as MMEngine's
CheckpointHook writes) with extra entries: train_state (TrainState), rng (Python, numpy, torch and
CUDA generators), scaler (AMP), config, and job (world size and per-process batch). Unlike MMEngine's
resume, the RNG states are restored too, which makes a resumed run repeat the uninterrupted one
exactly; the job must be the same, since the sampler position and the scaled LR depend on it.
"""
from __future__ import annotations

import logging
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from simplepose.engine import distributed
from simplepose.engine.config import Config
from simplepose.errors import CheckpointError
from simplepose.model.checkpoint import (load_state_dict_checked, normalise_state_dict, read_checkpoint_file,
                                         save_checkpoint)
from simplepose.model.pose_model import unwrap

log = logging.getLogger("simplepose.train")


@dataclass
class TrainState:
    """Where training is: the next epoch/iteration to run and the best validation so far."""

    epoch: int = 0               # epoch in progress (0-based)
    iter_in_epoch: int = 0       # iterations of `epoch` already done
    global_iter: int = 0         # iterations done in total
    best_metric: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) RNG states, in tensors and plain types."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    random.setstate(_to_tuple(state["python"]))
    npst = state["numpy"]
    np.random.set_state(("MT19937", npst["key"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(x: Any) -> Any:
    """Lists back to tuples, recursively (random.setstate needs tuples)."""
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch; optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def save_training_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                             scaler: torch.amp.GradScaler | None, state: TrainState, cfg: Config,
                             precision: str) -> None:
    """Model (MMPose-loadable) + optimiser + scaler + train state + RNG states, atomically;
    meta["precision"] names the resolved precision the steps ran in ("fp32", "bf16", "fp16")."""
    extra = {"train_state": asdict(state), "rng": rng_state(), "config": cfg.to_dict(),
             "job": {"world_size": distributed.get_info().world_size, "batch_size": cfg.data.batch_size}}
    if scaler is not None:
        extra["scaler"] = scaler.state_dict()
    save_checkpoint(path, model, optimizer=optimizer,
                    meta={"epoch": state.epoch, "iter": state.global_iter, "experiment": cfg.name,
                          "precision": precision},
                    extra=extra)


_RESUMED_OPTIM_KEYS = ("lr", "weight_decay", "momentum", "warmup_iters", "warmup_ratio", "milestones", "gamma",
                       "auto_scale_lr", "base_batch_size", "grad_clip")


def _changed_optim_settings(path: Path, saved: Any, optim: Any, optimizer: torch.optim.Optimizer) -> None:
    """Warn about each optimiser setting that differs from the checkpoint's: the current value wins
    (the LR schedule is recomputed every iteration; weight decay and momentum are set on the groups)."""
    if not isinstance(saved, dict):
        return
    changed = [(k, saved[k], getattr(optim, k)) for k in _RESUMED_OPTIM_KEYS
               if k in saved and saved[k] != getattr(optim, k)]
    for group in optimizer.param_groups:
        group["weight_decay"] = optim.weight_decay
        if "momentum" in group:
            group["momentum"] = optim.momentum
    if changed:
        log.warning("%s: resumed with other optimiser settings than it was trained with: %s; the current values "
                    "apply from here on (the run no longer repeats an uninterrupted one)", path,
                    ", ".join(f"optim.{k} {old!r} -> {new!r}" for k, old, new in changed))


def load_training_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                             scaler: torch.amp.GradScaler | None, batch_size: int,
                             precision: str | None = None, optim: Any = None) -> TrainState:
    """Restore what save_training_checkpoint wrote; returns the train state.

    A checkpoint written in another precision than `precision` resumes (with a warning): the run
    goes on, but no longer repeats the uninterrupted one exactly. Optimiser settings of the current
    config `optim` (an OptimConfig) that differ from the checkpoint's win, with a warning naming each."""
    raw, _ = read_checkpoint_file(path)
    if not isinstance(raw, dict) or any(k not in raw for k in ("train_state", "optimizer", "state_dict", "rng")):
        raise CheckpointError(f"{path}: not a resumable training checkpoint (no state_dict/train_state/optimizer/rng)")
    train_state = _checked_train_state(path, raw["train_state"])
    for key in ("config", "meta", "job"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise CheckpointError(f"{path}: its {key} is a {type(raw[key]).__name__}, not a mapping")
    sd, _ = normalise_state_dict({"state_dict": raw["state_dict"]}, source=str(path))
    load_state_dict_checked(unwrap(model), sd, strict=True, source=str(path))
    saved_optim = (raw.get("config") or {}).get("optim")
    saved_optim = saved_optim if isinstance(saved_optim, dict) else {}
    saved = saved_optim.get("optimizer")
    if isinstance(saved, str) and saved.lower() != type(optimizer).__name__.lower():
        # another optimiser's state (Adam's moments into SGD) loads without complaint and trains wrongly
        raise CheckpointError(f"{path}: written with optim.optimizer {saved!r}, resumed with "
                              f"{type(optimizer).__name__.lower()!r}; resume with the same optimizer")
    try:
        optimizer.load_state_dict(raw["optimizer"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: the optimizer state does not fit this model and optimizer: {e}") from None
    _check_optimizer_shapes(path, optimizer)
    if optim is not None:
        _changed_optim_settings(path, saved_optim, optim, optimizer)
    if scaler is not None and "scaler" in raw:
        try:
            scaler.load_state_dict(raw["scaler"])
        except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as e:
            raise CheckpointError(f"{path}: the gradient scaler state is unusable ({type(e).__name__}: {e})") from None
    job = raw.get("job")
    here = {"world_size": distributed.get_info().world_size, "batch_size": batch_size}
    if isinstance(job, dict) and job != here:
        # the sampler's position and the scaled LR depend on both: a different job resumes wrongly
        raise CheckpointError(f"{path}: written by a job with {job}, resumed with {here}; resume with the "
                              "same number of processes and data.batch_size")
    saved_precision = (raw.get("meta") or {}).get("precision")
    if precision is not None and saved_precision is not None and saved_precision != precision:
        log.warning("%s was trained in %s and resumes in %s: training goes on, but does not repeat an "
                    "uninterrupted run exactly (set runtime.precision=%s for that)", path, saved_precision,
                    precision, saved_precision)
    try:
        set_rng_state(raw["rng"])
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, IndexError, OverflowError) as e:
        raise CheckpointError(f"{path}: its RNG state is unusable ({type(e).__name__}: {str(e)[:120]})") from None
    return train_state


def _checked_train_state(path: Path, value: Any) -> TrainState:
    """The train state a checkpoint records: exactly TrainState's fields, counts whole numbers >= 0."""
    names = set(TrainState.__dataclass_fields__)
    if not isinstance(value, dict) or set(value) - names:
        extra = sorted(map(str, set(value) - names))[:3] if isinstance(value, dict) else type(value).__name__
        raise CheckpointError(f"{path}: train_state is not simplepose's ({extra})")
    for key in ("epoch", "iter_in_epoch", "global_iter"):
        v = value.get(key, 0)
        if type(v) is not int or not 0 <= v < 2 ** 40:
            raise CheckpointError(f"{path}: train_state.{key} is {str(v)[:40]}, not a count >= 0")
    if not isinstance(value.get("history", []), list):
        raise CheckpointError(f"{path}: train_state.history is not a list")
    return TrainState(**value)


def _check_optimizer_shapes(path: Path, optimizer: torch.optim.Optimizer) -> None:
    """Every per-parameter optimiser tensor (moments, momentum) has its parameter's shape: another
    shape would load and fail at the first step."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for name, value in optimizer.state.get(param, {}).items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                    raise CheckpointError(f"{path}: optimizer state {name!r} has shape {tuple(value.shape)} for a "
                                          f"parameter of shape {tuple(param.shape)}")


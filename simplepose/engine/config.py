"""Experiment configuration: typed dataclasses, loaded from YAML, overridable with `--set k=v`.

Every problem is a ConfigError naming where the value came from (the YAML file, or `--set`) and the key.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simplepose.errors import ConfigError
from simplepose.io import atomic_write
from simplepose.tracking.flowtrack import FlowTrackConfig

OVERRIDES = "--set"   # where override values come from, as error messages name it


@dataclass
class ModelConfig:
    """SimpleBaseline architecture and its initialisation."""

    depth: int = 50                         # ResNet depth: 18, 34, 50, 101, 152
    num_keypoints: int = 17
    deconv_channels: int = 256
    num_deconv: int = 3
    load_from: str | None = None            # whole-model checkpoint (path or URL), head included
    backbone_init: str | None = None        # backbone-only checkpoint (e.g. torchvision ResNet URL)
    sync_bn: bool = False                   # convert BatchNorm to SyncBatchNorm under DDP (CUDA only)
    freeze_bn: bool = False                 # BatchNorm in eval mode while training (frozen statistics)


@dataclass
class DataConfig:
    """Where the data is, how it is cropped and encoded, and how it is batched."""

    dataset: str = "posetrack18"            # "posetrack18" or "coco"
    data_root: str = "data/posetrack18"     # image paths in annotations are relative to this
    train_ann: str = "annotations/posetrack18_train.json"   # relative to data_root unless absolute
    val_ann: str = "annotations/posetrack18_val.json"       # merged val file (instances to predict)
    train_images: str = ""                  # image folder of train file_names, relative to data_root
    val_images: str = ""                    # image folder of val file_names (COCO: val2017)
    val_gt: str = "annotations/val"         # PoseTrack: per-video GT folder for the evaluator;
                                            # COCO: the GT json
    val_bbox_file: str | None = None        # detections for val (None: ground-truth boxes, as MMPose)
    bbox_score_thr: float = 0.0             # detections below this score are dropped
    input_size: list[int] = field(default_factory=lambda: [192, 256])    # (w, h)
    heatmap_size: list[int] = field(default_factory=lambda: [48, 64])   # (w, h)
    sigma: float = 2.0
    batch_size: int = 64                    # per process (GPU)
    val_batch_size: int = 32                # per process
    workers: int = 2
    flip_test: bool = True
    aug: dict[str, Any] = field(default_factory=dict)   # fields of data.transforms' AugmentConfig


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (MMEngine semantics, stepped every iteration)."""

    optimizer: str = "adam"                 # "adam", "adamw" or "sgd"
    lr: float = 5e-4
    weight_decay: float = 0.0
    momentum: float = 0.9                   # sgd only
    epochs: int = 20
    warmup_iters: int = 500                 # LinearLR(begin=0, end=warmup_iters)
    warmup_ratio: float = 0.001             # start factor of the warm-up
    milestones: list[int] = field(default_factory=lambda: [10, 15])   # epochs
    gamma: float = 0.1
    auto_scale_lr: bool = True              # lr *= total batch / base_batch_size
    base_batch_size: int = 512
    grad_clip: float | None = None          # max grad norm, None: no clipping


@dataclass
class RuntimeConfig:
    """Seeds, devices, logging, validation and checkpointing."""

    work_dir: str = "work_dirs/run"
    seed: int = 0
    deterministic: bool = False             # torch.use_deterministic_algorithms + cudnn flags
    device: str = "auto"                    # "auto", "cpu", "cuda"
    amp: bool = True                        # mixed precision where the device supports it (CUDA)
    val_interval: int = 1                   # epochs; 0 disables validation during training
    save_best: str | None = "Total AP"      # metric that selects best.pth (greater is better)
    log_interval: int = 20                  # iterations between JSON-lines log records
    tensorboard: bool = True                # write TensorBoard events when tensorboard is installed
    max_iters_per_epoch: int | None = None  # cap (for smoke runs); None: the whole epoch
    save_every_iters: int | None = None     # also write latest.pth every N iterations (mid-epoch resume)
    keep_checkpoints: int = 1               # epoch_*.pth files to keep besides latest.pth/best.pth
    threads: int | None = None              # torch.set_num_threads, None: leave as is


@dataclass
class Config:
    """A whole experiment."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    track: FlowTrackConfig = field(default_factory=FlowTrackConfig)   # `simplepose track`
    name: str = "experiment"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON serialisable)."""
        return dataclasses.asdict(self)

    def resolve(self, path: str | None) -> str | None:
        """A data path: absolute, URL, or relative to data.data_root."""
        if path is None or path == "":
            return None
        if "://" in path or os.path.isabs(path):
            return path
        return os.path.join(self.data.data_root, path)


# ----------------------------------------------------------------------------------------------
# typed conversion


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, allows None) of `X | None` / Optional[X]."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check/convert one value to its declared type; ConfigError naming the key otherwise."""
    inner, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(source, f"'{key}' may not be null", key=key)
    origin = typing.get_origin(inner)

    def bad(expected: str) -> ConfigError:
        """The error for a value that is not `expected`."""
        return ConfigError(source, f"'{key}' must be {expected}, got {value!r}", key=key)

    if inner is bool:
        if isinstance(value, bool):
            return value
        raise bad("true or false")
    if inner is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise bad("an integer")
        return value
    if inner is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if inner is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        (item_tp,) = typing.get_args(inner)
        return [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad("a mapping")
        return dict(value)
    if dataclasses.is_dataclass(inner):
        if not isinstance(value, dict):
            raise bad("a mapping")
        return _build(inner, value, source, prefix=key + ".")
    return value


def _build(cls: type, values: dict[str, Any], source: str, prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from a dict, rejecting unknown keys by name."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(source, f"unknown config key '{prefix}{unknown[0]}' "
                          f"(known in '{prefix or 'top level'}': {', '.join(sorted(names))})",
                          key=prefix + unknown[0])
    kwargs = {k: _coerce(v, hints[k], prefix + k, source) for k, v in values.items()}
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any], source: str = "<config>") -> Config:
    """A Config from a nested dict; unknown keys and wrong types raise ConfigError."""
    if not isinstance(values, dict):
        raise ConfigError(source, "a config must be a YAML mapping")
    cfg = _build(Config, values, source)
    _validate(cfg, source)
    return cfg


def _validate(cfg: Config, source: str) -> None:
    """Range checks that types alone do not catch."""
    problems = []
    if cfg.data.batch_size < 1 or cfg.data.val_batch_size < 1:
        problems.append("data.batch_size and data.val_batch_size must be >= 1")
    for key in ("input_size", "heatmap_size"):
        v = getattr(cfg.data, key)
        if len(v) != 2 or min(v) <= 0:
            problems.append(f"data.{key} must be two positive numbers (w, h), got {v}")
    if cfg.runtime.log_interval < 1:
        problems.append("runtime.log_interval must be >= 1")
    if cfg.optim.epochs < 1:
        problems.append("optim.epochs must be >= 1")
    problems += [f"track.{p}" for p in cfg.track.check()]
    if problems:
        raise ConfigError(source, "; ".join(problems))


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> Config:
    """Read a YAML config and apply `key.sub=value` overrides (values parsed as YAML scalars)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "config file not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(path, f"malformed YAML: {e}") from None
    cfg = config_from_dict(values, str(path))
    return apply_overrides(cfg, overrides or [])


def parse_override(text: str) -> tuple[list[str], Any]:
    """'optim.lr=1e-3' -> (['optim', 'lr'], 0.001); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(OVERRIDES, f"override '{text}' is not of the form key=value", key=text)
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(OVERRIDES, f"override '{text}' has an empty key", key=text)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _looks_like_float(value):
        value = float(value)   # YAML 1.1 reads "1e-3" as a string
    return key.split("."), value


def _looks_like_float(s: str) -> bool:
    """True for strings like 1e-3 that YAML 1.1 leaves as text."""
    try:
        float(s)
    except ValueError:
        return False
    return s.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity")


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """A new Config with each `a.b=value` applied (type-checked against the dataclass)."""
    values = cfg.to_dict()
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = values
        for i, k in enumerate(keys[:-1]):
            if not isinstance(node, dict) or k not in node:
                raise ConfigError(OVERRIDES, f"unknown config key '{'.'.join(keys[:i + 1])}' in override "
                                  f"'{text}'", key=".".join(keys))
            if node[k] is None:
                node[k] = {}
            node = node[k]
        if not isinstance(node, dict):
            raise ConfigError(OVERRIDES, f"'{'.'.join(keys[:-1])}' is not a section (override '{text}')")
        node[keys[-1]] = value
    return config_from_dict(values, OVERRIDES)


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write(path, lambda f: yaml.safe_dump(cfg.to_dict(), f, sort_keys=False))

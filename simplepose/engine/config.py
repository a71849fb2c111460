"""Experiment configuration: typed dataclasses, loaded from YAML, overridable with `--set k=v`.

Every problem is a ConfigError naming where the value came from (the YAML file, or `--set`) and the key.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simplepose.data.augment import AugmentConfig
from simplepose.engine.datasets import DATASETS
from simplepose.errors import ConfigError
from simplepose.io import atomic_write
from simplepose.model.head import heatmap_output_size
from simplepose.model.precision import PRECISIONS
from simplepose.tracking.online import TrackConfig

OVERRIDES = "--set"   # where override values come from, as error messages name it

DEPTHS = (18, 34, 50, 101, 152)                     # the ResNets model.resnet builds
OPTIMIZERS = ("adam", "adamw", "sgd")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# YAML's anchors let a few bytes expand exponentially ("billion laughs"): bound what a config holds
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 100_000
MAX_CONFIG_DEPTH = 32


def _finite(x: float) -> bool:
    """True for a finite number."""
    return math.isfinite(x)


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

    def check(self) -> list[str]:
        """Problems with the values, each starting with its key (empty when they are usable)."""
        checks = [
            (self.depth in DEPTHS, f"depth must be one of {', '.join(map(str, DEPTHS))}, got {self.depth}"),
            (self.num_keypoints >= 1, f"num_keypoints must be >= 1, got {self.num_keypoints}"),
            (self.deconv_channels >= 1, f"deconv_channels must be >= 1, got {self.deconv_channels}"),
            (1 <= self.num_deconv <= 5, f"num_deconv must be in 1..5, got {self.num_deconv}"),
        ]
        return [text for ok, text in checks if not ok]


@dataclass
class DataConfig:
    """Where the data is, how it is cropped and encoded, and how it is batched."""

    dataset: str = "posetrack18"            # a row of engine.datasets.DATASETS: "posetrack18",
                                            # "posetrack21" or "coco"
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
    image_cache_mb: float = 0               # decoded frames kept per loading process (0: none), worth it
                                            # when they fit and recur (data/dataset.py)
    flip_test: bool = True
    aug: dict[str, Any] = field(default_factory=dict)   # fields of data.augment's AugmentConfig

    def check(self) -> list[str]:
        """Problems with the values, each starting with its key (empty when they are usable)."""
        checks = [
            (self.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"),
            (self.batch_size >= 1 and self.val_batch_size >= 1, "batch_size and val_batch_size must be >= 1"),
            (_finite(self.sigma) and self.sigma > 0, f"sigma must be a finite number > 0, got {self.sigma}"),
            (self.workers >= 0, f"workers must be >= 0, got {self.workers}"),
            (_finite(self.image_cache_mb) and self.image_cache_mb >= 0,
             f"image_cache_mb must be a finite number >= 0, got {self.image_cache_mb}"),
            (_finite(self.bbox_score_thr), f"bbox_score_thr must be a finite number, got {self.bbox_score_thr}"),
        ]
        problems = [text for ok, text in checks if not ok]
        for key in ("input_size", "heatmap_size"):
            v = getattr(self, key)
            if len(v) != 2 or min(v) <= 0:
                problems.append(f"{key} must be two positive numbers (w, h), got {v}")
        if self.sizes_usable() and (self.input_size[0] % 32 or self.input_size[1] % 32):
            # the backbone's stride is 32: other sizes give heatmaps the decoder would mis-scale
            problems.append(f"input_size must be multiples of 32 (the backbone's stride), got {self.input_size}")
        return problems + _aug_problems(self.aug)

    def sizes_usable(self) -> bool:
        """Whether input_size and heatmap_size are each two positive numbers."""
        return all(len(v) == 2 and min(v) > 0 for v in (self.input_size, self.heatmap_size))


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

    def check(self) -> list[str]:
        """Problems with the values, each starting with its key (empty when they are usable)."""
        checks = [
            (self.optimizer.lower() in OPTIMIZERS,
             f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            (_finite(self.lr) and self.lr >= 0, f"lr must be a finite number >= 0, got {self.lr}"),
            (_finite(self.weight_decay) and self.weight_decay >= 0,
             f"weight_decay must be a finite number >= 0, got {self.weight_decay}"),
            (_finite(self.momentum) and 0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.warmup_iters >= 0, f"warmup_iters must be >= 0, got {self.warmup_iters}"),
            (_finite(self.warmup_ratio) and 0 < self.warmup_ratio <= 1,
             f"warmup_ratio must be in (0, 1], got {self.warmup_ratio}"),
            (all(v >= 0 for v in self.milestones), f"milestones must be >= 0, got {self.milestones}"),
            (_finite(self.gamma) and self.gamma > 0, f"gamma must be a finite number > 0, got {self.gamma}"),
            (self.base_batch_size >= 1, f"base_batch_size must be >= 1, got {self.base_batch_size}"),
            (self.grad_clip is None or (_finite(self.grad_clip) and self.grad_clip > 0),
             f"grad_clip must be null or a finite number > 0, got {self.grad_clip}"),
        ]
        return [text for ok, text in checks if not ok]


@dataclass
class RuntimeConfig:
    """Seeds, devices, logging, validation and checkpointing."""

    work_dir: str = "work_dirs/run"
    seed: int = 0
    deterministic: bool = False             # torch.use_deterministic_algorithms + cudnn flags
    device: str = "auto"                    # "auto", "cpu", "cuda"
    precision: str = "auto"                 # "auto", "fp32", "bf16", "fp16" (model/precision.py)
    amp: bool | None = None                 # former flag, read as an alias: false -> precision fp32
    val_interval: int = 1                   # epochs; 0 disables validation during training
    save_best: str | None = "Total AP"      # metric that selects best.pth (greater is better)
    log_interval: int = 20                  # iterations between JSON-lines log records
    tensorboard: bool = True                # write TensorBoard events when tensorboard is installed
    max_iters_per_epoch: int | None = None  # cap (for smoke runs); None: the whole epoch
    save_every_iters: int | None = None     # also write latest.pth every N iterations (mid-epoch resume)
    keep_checkpoints: int = 1               # epoch_*.pth files to keep besides latest.pth/best.pth
    threads: int | None = None              # torch.set_num_threads, None: leave as is

    def check(self) -> list[str]:
        """Problems with the values, each starting with its key (empty when they are usable)."""
        checks = [
            (DEVICE_PATTERN.fullmatch(self.device) is not None,
             f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"),
            (0 <= self.seed < 2 ** 32, f"seed must be in 0 .. 2**32 - 1, got {self.seed}"),
            (self.work_dir.strip() != "", "work_dir must not be empty (it would write into the current folder)"),
            (self.val_interval >= 0, f"val_interval must be >= 0, got {self.val_interval}"),
            (self.log_interval >= 1, "log_interval must be >= 1"),
            (self.keep_checkpoints >= 0, f"keep_checkpoints must be >= 0, got {self.keep_checkpoints}"),
            (self.threads is None or self.threads >= 1, f"threads must be null or >= 1, got {self.threads}"),
            (self.max_iters_per_epoch is None or self.max_iters_per_epoch >= 1,
             f"max_iters_per_epoch must be null or >= 1, got {self.max_iters_per_epoch}"),
            (self.save_every_iters is None or self.save_every_iters >= 1,
             f"save_every_iters must be null or >= 1, got {self.save_every_iters}"),
        ]
        return [text for ok, text in checks if not ok]


@dataclass
class Config:
    """A whole experiment."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    track: TrackConfig = field(default_factory=TrackConfig)   # `simplepose track`, `infer --track`
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
    _apply_amp_alias(cfg, source)
    _validate(cfg, source)
    return cfg


def _apply_amp_alias(cfg: Config, source: str) -> None:
    """Read the former `runtime.amp` flag as `runtime.precision` (true: auto, false: fp32), then drop it."""
    rt = cfg.runtime
    if rt.amp is None:
        return
    if rt.amp is False:
        if rt.precision not in ("auto", "fp32"):
            raise ConfigError(source, f"runtime.amp is false but runtime.precision is {rt.precision!r}; "
                              "give runtime.precision only", key="runtime.amp")
        rt.precision = "fp32"
    rt.amp = None


def _aug_problems(aug: dict[str, Any]) -> list[str]:
    """What is wrong with data.aug (keys relative to data): unknown keys, wrong types, probabilities outside [0, 1], ..."""
    fields = {f.name: f for f in dataclasses.fields(AugmentConfig)}
    problems = []
    for key, value in aug.items():
        name = f"aug.{key}"
        if key not in fields:
            problems.append(f"{name} is not a key of aug (known: {', '.join(fields)})")
            continue
        default = getattr(AugmentConfig(), key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"{name} must be true or false, got {value!r}")
            continue
        if isinstance(default, tuple):
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) and v > 0 for v in value)
            if not ok or value[0] > value[1]:
                problems.append(f"{name} must be two positive numbers [low, high] with low <= high, got {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            problems.append(f"{name} must be a finite number, got {value!r}")
            continue
        if isinstance(default, int) and value != int(value):
            problems.append(f"{name} must be an integer, got {value!r}")
        elif key.endswith("_prob") and not 0 <= value <= 1:
            problems.append(f"{name} is a probability and must be in [0, 1], got {value!r}")
        elif key == "max_reduce" and value not in (1, 2, 4, 8):
            problems.append(f"{name} must be 1, 2, 4 or 8, got {value!r}")
        elif value < 0:
            problems.append(f"{name} must be >= 0, got {value!r}")
    return problems


def _cross_section_problems(cfg: Config) -> list[str]:
    """Values that are right only together with another section's (full keys)."""
    d, m = cfg.data, cfg.model
    if not d.sizes_usable() or d.input_size[0] % 32 or d.input_size[1] % 32 or not 1 <= m.num_deconv <= 5:
        return []           # reported by the sections' own checks
    expected = list(heatmap_output_size(d.input_size, m.num_deconv))
    if d.heatmap_size != expected:
        return [f"data.heatmap_size must be {expected} (what the network outputs for input_size "
                f"{d.input_size} and {m.num_deconv} deconvolutions), got {d.heatmap_size}"]
    return []


def _validate(cfg: Config, source: str) -> None:
    """Range checks that types alone do not catch, all at once and before any data is read: each
    section's own check, then the checks across sections."""
    sections = {"model": cfg.model, "data": cfg.data, "optim": cfg.optim, "runtime": cfg.runtime, "track": cfg.track}
    problems = [f"{name}.{p}" for name, section in sections.items() for p in section.check()]
    problems += _cross_section_problems(cfg)
    if problems:
        first_key = re.search(r"[a-z_]+(\.[a-z_]+)+", problems[0])
        raise ConfigError(source, "; ".join(problems), key=first_key.group(0) if first_key else None)


def _safe_yaml(text: str) -> Any:
    """yaml.safe_load, refusing a document too large, too deep or expanding through aliases."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"larger than {MAX_CONFIG_BYTES} bytes")
    # compose first: the node graph stays small (aliases are shared), so it can be sized cheaply
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _node_size(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _node_size(root: yaml.Node) -> None:
    """Raise ValueError when the composed YAML, aliases expanded, is too large or deep."""
    budget = MAX_CONFIG_NODES
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ValueError(f"expands to more than {MAX_CONFIG_NODES} values (YAML aliases?)")
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(f"nested deeper than {MAX_CONFIG_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> Config:
    """Read a YAML config and apply `key.sub=value` overrides (values parsed as YAML scalars)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "config file not found")
    try:
        values = _safe_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(path, f"malformed YAML: {e}") from None
    except (ValueError, RecursionError) as e:
        raise ConfigError(path, f"config refused: {e}") from None
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
        value = _safe_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except (ValueError, RecursionError) as e:
        raise ConfigError(OVERRIDES, f"override '{key}' refused: {e}", key=key) from None
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

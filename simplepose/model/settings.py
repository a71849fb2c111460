"""What a checkpoint records about the data its model expects: input and heatmap size, sigma, keypoints.

A network of this kind runs at any input size, so the size it was trained at has to come from what
was saved with it. In order of precedence:

1. our training checkpoints: the saved training config, `config["data"]` (input_size, heatmap_size,
   sigma, dataset), which simplepose's trainer writes beside the weights;
2. MMPose checkpoints that carry their config as text, `meta["cfg"]` (1.x) or `meta["config"]`
   (0.x): the codec's `input_size` / 0.x `image_size`, `heatmap_size` and `sigma`, read with regular
   expressions in every form mmengine writes (one-line or pretty_text's multi-line tuples, JSON,
   YAML; the text is never executed);
3. MMPose 1.x's `meta["dataset_meta"]`: the dataset name and flip indices.

What none of them gives stays None; the caller decides on a default and says it guessed.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from simplepose.errors import CheckpointError
from simplepose.model.head import heatmap_output_size

log = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = (192, 256)  # (w, h) assumed for a checkpoint that records none
# The largest input or heatmap side read from a file (a checkpoint's config, an MMPose config text,
# ONNX metadata): a 4096x4096 input is 200 MB of float32 per person, far above any pose model
MAX_INPUT_SIDE = 4096


@dataclass(frozen=True)
class DataSettings:
    """A checkpoint's recorded data settings; sizes are (w, h), None where nothing records them."""

    input_size: tuple[int, int] | None = None
    heatmap_size: tuple[int, int] | None = None
    sigma: float | None = None
    dataset: str | None = None
    flip_indices: tuple[int, ...] | None = None
    source: str | None = None        # where input_size/heatmap_size/sigma were read, for messages


def data_settings(raw: Any, meta: Mapping[str, Any], source: str = "<checkpoint>") -> DataSettings:
    """The data settings recorded in a loaded checkpoint object `raw` (with its meta), see the module doc."""
    found: dict[str, Any] = {}
    where = None
    config = raw.get("config") if isinstance(raw, Mapping) else None
    data = config.get("data") if isinstance(config, Mapping) else None
    if isinstance(data, Mapping):
        where = "its saved training config"
        found = _from_config(data, source)
    else:
        for key in ("cfg", "config"):
            if isinstance(meta.get(key), str):
                found = _from_config_text(meta[key], source, key)
                if found:
                    where = f"the MMPose config in its meta[{key!r}]"
                    break
    dataset_meta = meta.get("dataset_meta")
    if isinstance(dataset_meta, Mapping):
        if found.get("dataset") is None and isinstance(dataset_meta.get("dataset_name"), str):
            found["dataset"] = dataset_meta["dataset_name"]
        flips = dataset_meta.get("flip_indices")
        if isinstance(flips, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in flips):
            found["flip_indices"] = tuple(flips)
    return DataSettings(**found, source=where)


def _from_config(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """input_size, heatmap_size, sigma and dataset of our saved config's `data` section, checked."""
    out: dict[str, Any] = {}
    for key in ("input_size", "heatmap_size"):
        if data.get(key) is not None:
            out[key] = _size(data[key], source, f"config.data.{key}")
    sigma = data.get("sigma")
    if sigma is not None:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise CheckpointError(f"{source}: config.data.sigma is {sigma!r}, not a positive number")
        out["sigma"] = float(sigma)
    if isinstance(data.get("dataset"), str):
        out["dataset"] = data["dataset"]
    return out


def _size(value: Any, source: str, record: str) -> tuple[int, int]:
    """A (w, h) pair of positive integers, or a CheckpointError naming the record."""
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and \
        all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise CheckpointError(f"{source}: {record} is {str(value)[:40]!r}, not two positive integers (w, h)")
    if max(value) > MAX_INPUT_SIDE:
        raise CheckpointError(f"{source}: {record} is {value[0]}x{value[1]}, a side over {MAX_INPUT_SIDE} "
                              "(simplepose's limit for a recorded size)")
    return int(value[0]), int(value[1])


# every form mmengine writes a pair in: `(96, 128)` / `[96, 128]` on one line, pretty_text's one value per
# line with a trailing comma (what a checkpoint's meta['cfg'] holds), JSON, and YAML's block list (with
# or without its `!!python/tuple` tag)
_PAIR = (r"['\"]?[ \t]*[=:][ \t]*(?:!!python/tuple)?"
         r"(?:\s*[\(\[]\s*(\d+)\s*,\s*(\d+)\s*,?\s*[\)\]]|[ \t]*\n\s*-[ \t]*(\d+)[ \t]*\n\s*-[ \t]*(\d+)\b)")
_TEXT_PATTERNS = {
    "input_size": re.compile(r"\b(?:input_size|image_size)" + _PAIR),
    "heatmap_size": re.compile(r"\bheatmap_size" + _PAIR),
    "sigma": re.compile(r"\bsigma['\"]?\s*[=:]\s*(\d+(?:\.\d*)?|\.\d+)\b"),
}


def _from_config_text(text: str, source: str, key: str) -> dict[str, Any]:
    """input_size, heatmap_size and sigma written in an MMPose config text; the first of several
    differing values (with a warning)."""
    out: dict[str, Any] = {}
    for name, pattern in _TEXT_PATTERNS.items():
        values = list(dict.fromkeys(tuple(g for g in m.groups() if g is not None) for m in pattern.finditer(text)))
        values = [v for v in values if all(float(x) > 0 for x in v)]
        if not values:
            continue
        if len(values) > 1:
            log.warning("%s: meta[%r] gives several %s values %s; using the first", source, key, name,
                        ", ".join("x".join(v) for v in values))
        first = values[0]
        if name != "sigma" and any(len(x) > 6 or int(x) > MAX_INPUT_SIDE for x in first):
            raise CheckpointError(f"{source}: meta[{key!r}] gives {name} {'x'.join(x[:8] for x in first)} "
                                  f"(first digits), a side over {MAX_INPUT_SIDE} (simplepose's limit for a recorded size)")
        out[name] = float(first[0]) if name == "sigma" else (int(first[0]), int(first[1]))
    return out


def checkpoint_input_size(settings: DataSettings, source: str, num_deconv: int = 3) -> tuple[int, int]:
    """The input size (w, h) a checkpoint records; 192x256 with a warning when it records none.

    A recorded heatmap size that the network (num_deconv upsamplings of the stride-32 backbone) would
    not produce at that input size is reported; decoding always uses the heatmaps' actual size.
    """
    size = settings.input_size
    if size is None:
        log.warning("%s: the checkpoint records no input size; assuming %dx%d (w x h). If the model was "
                    "trained at another size, pass it (--input-size W H, or input_size=)", source,
                    *DEFAULT_INPUT_SIZE)
        return DEFAULT_INPUT_SIZE
    if size[0] % 32 or size[1] % 32:
        raise CheckpointError(f"{source}: records input size {size[0]}x{size[1]} (from {settings.source}), "
                              "which is not a multiple of 32; pass an input size explicitly")
    log.info("%s: input size %dx%d (w x h) from %s", source, size[0], size[1], settings.source)
    produced = heatmap_output_size(size, num_deconv) if num_deconv <= 5 else None   # beyond 5: stride < 1
    if settings.heatmap_size is not None and produced is not None and tuple(settings.heatmap_size) != produced:
        log.warning("%s: records heatmap size %dx%d, but the network gives %dx%d at input %dx%d; decoding "
                    "uses the network's", source, *settings.heatmap_size, *produced, *size)
    return size

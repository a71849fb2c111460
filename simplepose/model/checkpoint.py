"""Checkpoints: MMPose 1.x / 0.x / ours / torchvision ImageNet ResNet in, MMPose-loadable files out.

Every state dict is brought to MMPose 1.x names (backbone.*, head.*): a `state_dict` wrapper and a
leading `module.` are removed, `keypoint_head.` (MMPose 0.x) becomes `head.`, 0.x `final_layer.<i>.*`
becomes `final_layer.*`, the data preprocessor's mean/std buffers are dropped, and a torchvision
ResNet (conv1.*, layer1.*, ..., fc.*) is put under `backbone.` with fc.* dropped.
A URL is read from its cached local copy (simplepose.download).

Reading never runs code from the file: torch.load(weights_only=True) with torch's allow-list plus a
few exact names (numpy arrays and scalars, an inert stand-in for mmengine's log buffer); anything else
in the pickle is refused with a CheckpointError naming it. There is no fallback to a full unpickler.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import pickletools
import re
import threading
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from simplepose.data.keypoints import SCHEMAS, KeypointSchema, get_schema, mmpose_dataset_meta
from simplepose.download import local_path
from simplepose.errors import CheckpointError
from simplepose.io import atomic_write, remove_stale_temp_files
from simplepose.model.pose_model import SimpleBaseline, unwrap
from simplepose.model.resnet import depth_from_blocks
from simplepose.model.settings import DataSettings, data_settings

log = logging.getLogger(__name__)

_DROPPED_KEYS = ("data_preprocessor.mean", "data_preprocessor.std")


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------

class _HistoryBuffer:
    """Inert stand-in for mmengine's HistoryBuffer (the loss/LR logs in an mmengine training
    checkpoint's `message_hub`): it only keeps the pickled state; nothing is imported or executed."""

    def __setstate__(self, state: Any) -> None:
        """Keep the pickled state as data."""
        self.state = state

    def __repr__(self) -> str:
        """Names what it stands for."""
        return "<mmengine HistoryBuffer (not loaded)>"


def _numpy_globals() -> list[tuple[Any, str]]:
    """numpy's array/scalar rebuild functions under the exact names numpy 1.x and 2.x pickle them with."""
    reconstruct = np.zeros(1).__reduce__()[0]   # numpy.(_)core.multiarray._reconstruct
    scalar = np.float32(0).__reduce__()[0]      # numpy.(_)core.multiarray.scalar
    return [(reconstruct, f"{core}.multiarray._reconstruct") for core in ("numpy.core", "numpy._core")] + \
        [(scalar, f"{core}.multiarray.scalar") for core in ("numpy.core", "numpy._core")] + \
        [(np.ndarray, "numpy.ndarray"), (np.dtype, "numpy.dtype")]


# What a checkpoint may hold beyond torch's own weights-only allow-list (tensors, storages, dtypes,
# OrderedDict, plain containers): numpy arrays and scalars of plain numeric dtypes (MMPose 1.x keeps
# its `meta["dataset_meta"]` colours/sigmas and mmengine its logs in them) and mmengine's log buffer
# as an inert stand-in. Every entry is one exact name: the weights-only unpickler resolves nothing
# else, follows no attribute paths and refuses protocol-4 opcodes (STACK_GLOBAL).
_NUMERIC_DTYPE_CLASSES = list(dict.fromkeys(type(np.dtype(t)) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.longlong, np.uint8, np.uint16, np.uint32, np.uint64,
    np.ulonglong, np.float16, np.float32, np.float64)))
_SAFE_GLOBALS: list[Any] = [*_numpy_globals(), *_NUMERIC_DTYPE_CLASSES,
                            (_HistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer")]
# torch.serialization.safe_globals edits one process-wide list: loads in several threads take turns,
# so that one thread leaving the context does not take the entries from under another's load
_LOAD_LOCK = threading.Lock()


def _torch_load(path: Path) -> Any:
    """torch.load on the CPU with weights_only=True (plus _SAFE_GLOBALS): no code in the file runs."""
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(_SAFE_GLOBALS), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # refused below if unsafe
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: refused to load: {_refusal(str(e))}. A checkpoint may hold only "
                              "tensors and plain data: simplepose loads it weights-only and never runs code "
                              "from it (if you trust this file, re-save its state_dict yourself)") from None


def _refusal(message: str) -> str:
    """The one reason in torch's multi-line weights-only error: the global or opcode it refused."""
    if m := re.search(r"unsupported global:? (?:global )?(\S+)", message, re.IGNORECASE):
        return f"it references {m.group(1)}, which is not tensor data"
    if m := re.search(r"Unsupported operand (\d+)", message):
        code = int(m.group(1))
        name = next((op.name for op in pickletools.opcodes if ord(op.code) == code), "unknown")
        return f"it uses pickle opcode {name} ({code}), which a weights-only load does not accept"
    lines = [line.strip() for line in message.split("WeightsUnpickler error:")[-1].splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Weights only load failed", "Check the doc"))]
    return lines[-1] if lines else "the weights-only unpickler refused it"


def read_checkpoint_file(path_or_url: str | os.PathLike) -> tuple[Any, Path]:
    """The raw object saved in a checkpoint file or URL, and the local path it was read from.

    A file save_checkpoint wrote is checked against the sha256 it carries before anything is read.
    """
    path = local_path(path_or_url)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    signed = _check_digest(path)
    try:
        raw = _torch_load(path)
    except CheckpointError:
        raise
    except Exception as e:  # torch.load raises many types on corrupt input
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {first})") from None
    meta = raw.get("meta") if isinstance(raw, Mapping) else None
    if not signed and isinstance(meta, Mapping) and meta.get(_DIGEST_META_KEY):
        raise CheckpointError(f"{path}: written by simplepose with a sha256 digest, but the digest is missing or "
                              "damaged (the file was altered after it was written)")
    return raw, path


# save_checkpoint's files end with a zip archive comment (which torch.load and MMPose ignore)
# holding the sha256 of every byte before it: _DIGEST_TAG + 64 hex digits.
_DIGEST_TAG = b"simplepose-sha256:"
_DIGEST_LEN = len(_DIGEST_TAG) + 64
_EOCD = b"PK\x05\x06"  # the zip's end-of-central-directory record: 22 bytes, then the comment
_DIGEST_META_KEY = "simplepose_digest"


def _digest_split(data: memoryview) -> tuple[memoryview, bytes]:
    """torch.save's zip bytes as (all but their 2-byte comment length, what to write after them: the
    comment length and the digest comment), without copying the data."""
    if len(data) < 22 or bytes(data[-22:-18]) != _EOCD or bytes(data[-2:]) != b"\0\0":
        raise RuntimeError("torch.save wrote an unexpected archive layout; cannot add the checkpoint digest")
    body, length = data[:-2], _DIGEST_LEN.to_bytes(2, "little")
    h = hashlib.sha256(body)
    h.update(length)
    return body, length + _DIGEST_TAG + h.hexdigest().encode("ascii")


def _check_digest(path: Path) -> bool:
    """False for a file without our digest comment; True when it has one and it matches; raises otherwise."""
    size = path.stat().st_size
    if size < 22 + _DIGEST_LEN:
        return False
    with open(path, "rb") as f:
        f.seek(size - 22 - _DIGEST_LEN)
        eocd, comment = f.read(22), f.read()
    if eocd[:4] != _EOCD or int.from_bytes(eocd[-2:], "little") != _DIGEST_LEN:
        return False
    expected = comment[len(_DIGEST_TAG):].decode("ascii", "replace")
    if not comment.startswith(_DIGEST_TAG) or not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise CheckpointError(f"{path}: corrupt: the sha256 digest at its end is damaged")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = size - _DIGEST_LEN
        while remaining > 0 and (chunk := f.read(min(1 << 22, remaining))):
            h.update(chunk)
            remaining -= len(chunk)
    found = h.hexdigest()
    if found != expected:
        raise CheckpointError(f"{path}: corrupt: its sha256 is {found[:16]}..., but simplepose recorded "
                              f"{expected[:16]}... when writing it (the file changed after it was written: "
                              "a damaged disk or copy, or an edit)")
    return True


def load_checkpoint(path_or_url: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict in MMPose 1.x names, meta) from an MMPose 0.x/1.x, simplepose or torchvision file."""
    raw, path = read_checkpoint_file(path_or_url)
    return normalise_state_dict(raw, source=str(path))


def normalise_state_dict(raw: Any, source: str = "<state dict>") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Unwrap and rename a loaded checkpoint object to MMPose 1.x names; returns (state dict, meta)."""
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{source}: expected a dict (state dict or {{'state_dict', 'meta'}}), "
                              f"got {type(raw).__name__}")
    meta: dict[str, Any] = {}
    sd: Any = raw
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if wrapper in raw and isinstance(raw[wrapper], Mapping):
            sd = raw[wrapper]
            meta = dict(raw.get("meta") or {}) if isinstance(raw.get("meta"), Mapping) else {}
            break
    bad = [k for k, v in sd.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: state dict entry {bad[0]!r} is not a named tensor")
    if not sd:
        raise CheckpointError(f"{source}: the state dict is empty")
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if key in _DROPPED_KEYS:
            continue
        if key.startswith("keypoint_head."):
            key = "head." + key[len("keypoint_head."):]
        out[key] = value
    out = _rename_old_final_layer(out, source)
    if _is_torchvision_resnet(out):
        meta.setdefault("format", "torchvision_resnet")
        out = {f"backbone.{k}": v for k, v in out.items() if not k.startswith("fc.")}
    return out, meta


def _rename_old_final_layer(sd: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """MMPose 0.x `head.final_layer.<i>.*` (Sequential) -> `head.final_layer.*` when it holds one conv."""
    pattern = re.compile(r"^head\.final_layer\.(\d+)\.(.+)$")
    indices = sorted({int(m.group(1)) for k in sd if (m := pattern.match(k))})
    if not indices:
        return sd
    if len(indices) > 1:
        raise CheckpointError(f"{source}: the head has {len(indices) - 1} extra conv layer(s) before the final "
                              f"1x1 conv (head.final_layer.{indices[0]}.*); only SimpleBaseline heads without "
                              "extra conv layers are supported")
    return {(f"head.final_layer.{m.group(2)}" if (m := pattern.match(k)) else k): v for k, v in sd.items()}


def _is_torchvision_resnet(sd: Mapping[str, torch.Tensor]) -> bool:
    """True for a bare torchvision ResNet state dict (conv1.weight and layer1.* at the top level)."""
    return "conv1.weight" in sd and any(k.startswith("layer1.") for k in sd) \
        and not any(k.startswith(("backbone.", "head.")) for k in sd)


# ----------------------------------------------------------------------------------------------
# architecture inference and checked loading
# ----------------------------------------------------------------------------------------------

def infer_arch(sd: Mapping[str, torch.Tensor], source: str = "<state dict>") -> dict[str, int]:
    """SimpleBaseline constructor arguments (depth, num_keypoints, deconv_channels, num_deconv) from weights."""
    blocks: list[int] = []
    for stage in range(1, 5):
        idx = {int(m.group(1)) for k in sd if (m := re.match(rf"^backbone\.layer{stage}\.(\d+)\.", k))}
        blocks.append(max(idx) + 1 if idx else 0)
    if blocks[0] == 0:
        raise CheckpointError(f"{source}: no backbone.layer1.* weights; not a ResNet SimpleBaseline checkpoint "
                              f"(first keys: {', '.join(list(sd)[:5])})")
    bottleneck = "backbone.layer1.0.conv3.weight" in sd
    depth = depth_from_blocks(tuple(blocks), bottleneck)
    if depth is None:
        raise CheckpointError(f"{source}: {'bottleneck' if bottleneck else 'basic'} blocks per stage {blocks} "
                              "match no ResNet depth of 18/34/50/101/152")
    if "head.final_layer.weight" not in sd:
        raise CheckpointError(f"{source}: no head.final_layer.weight; cannot tell the number of keypoints")
    deconvs = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^head\.deconv_layers\.(\d+)\.weight$", k))
                      and sd[k].dim() == 4})
    deconv_channels = int(sd[f"head.deconv_layers.{deconvs[0]}.weight"].shape[1]) if deconvs else 256
    return {"depth": depth, "num_keypoints": int(sd["head.final_layer.weight"].shape[0]),
            "deconv_channels": deconv_channels, "num_deconv": len(deconvs)}


@dataclass
class LoadReport:
    """Keys of a load: missing from the checkpoint, and present in it but unused."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        """'all keys matched', or the counts and first few names of missing and unexpected keys."""
        if not self.missing and not self.unexpected:
            return "all keys matched"
        return "; ".join(f"{len(keys)} {what} key(s): {_abbrev(keys)}"
                         for what, keys in (("missing", self.missing), ("unexpected", self.unexpected)) if keys)


def _abbrev(keys: list[str], limit: int = 8) -> str:
    """First few keys, then a count of the rest."""
    head = ", ".join(keys[:limit])
    return head + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_dict_checked(module: nn.Module, sd: Mapping[str, torch.Tensor], strict: bool = True,
                            source: str = "<state dict>", prefix: str = "") -> LoadReport:
    """Copy matching tensors into module; shape mismatches always raise, missing/unexpected only if strict.

    `prefix` selects the checkpoint keys meant for `module` (e.g. "backbone." for a backbone alone).
    """
    own = module.state_dict()
    given = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    for key, value in given.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise CheckpointError(f"{source}: tensor {prefix}{key} has shape {tuple(value.shape)} in the checkpoint "
                                  f"but {tuple(own[key].shape)} in the model")
    # BN's num_batches_tracked is absent from older files (e.g. torchvision's ImageNet ResNets) and
    # unused in eval and with momentum BN; it keeps the model's value instead of counting as missing.
    report = LoadReport(missing=[prefix + k for k in own if k not in given and not k.endswith("num_batches_tracked")],
                        unexpected=[prefix + k for k in given if k not in own])
    if strict and (report.missing or report.unexpected):
        raise CheckpointError(f"{source}: checkpoint does not fit the model: {report}")
    module.load_state_dict({k: v for k, v in given.items() if k in own}, strict=False)
    if report.missing or report.unexpected:
        log.warning("%s: %s", source, report)
    return report


def build_model_from_state_dict(sd: Mapping[str, torch.Tensor], source: str = "<state dict>",
                                strict: bool = True) -> nn.Module:
    """A SimpleBaseline with the architecture inferred from the weights, loaded with them (eval mode)."""
    model = SimpleBaseline(**infer_arch(sd, source))
    load_state_dict_checked(model, sd, strict=strict, source=source)
    return model.eval()


def load_model(path_or_url: str | os.PathLike, strict: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """(SimpleBaseline in eval mode, meta) from any supported checkpoint file or URL."""
    model, meta, _ = load_model_and_settings(path_or_url, strict)
    return model, meta


def load_model_and_settings(path_or_url: str | os.PathLike,
                            strict: bool = True) -> tuple[nn.Module, dict[str, Any], DataSettings]:
    """(SimpleBaseline in eval mode, meta, the data settings the file records: input size etc.)."""
    raw, path = read_checkpoint_file(path_or_url)
    sd, meta = normalise_state_dict(raw, source=str(path))
    if meta.get("format") == "torchvision_resnet":
        raise CheckpointError(f"{path_or_url}: holds only ImageNet backbone weights (no head); "
                              "use load_backbone_weights() to initialise a model for training")
    model = build_model_from_state_dict(sd, source=str(path_or_url), strict=strict)
    return model, meta, data_settings(raw, meta, source=str(path_or_url))


def load_backbone_weights(model: nn.Module, path_or_url: str | os.PathLike) -> LoadReport:
    """Load the backbone.* tensors of a checkpoint (e.g. torchvision ImageNet ResNet) into model.backbone."""
    sd, _ = load_checkpoint(path_or_url)
    return load_state_dict_checked(model.backbone, sd, strict=True, source=str(path_or_url), prefix="backbone.")


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------

def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    meta: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                    schema: KeypointSchema | str | None = None) -> Path:
    """Atomically write {"state_dict" (MMPose 1.x names, CPU), "meta", ["optimizer"], **extra}.

    MMPose/mmengine's load_checkpoint reads it as is (`state_dict` key, no `module.` prefix), and
    meta["dataset_meta"] is the keypoint metadata MMPose's init_model takes from a checkpoint (its
    flip test swaps keypoints by its flip_indices). The keypoint set is `schema`, else meta["schema"],
    else the dataset of a training config in extra["config"], else PoseTrack18 for 17 keypoints. The file
    ends with the sha256 of its bytes (a zip comment torch.load ignores), checked whenever simplepose
    reads it. Temporary files left in the folder by interrupted writes whose writer is gone are
    removed first (simplepose.io.remove_stale_temp_files).
    """
    net = unwrap(model)
    state = net.state_dict()
    sd = type(state)((k, v.detach().cpu()) for k, v in state.items())
    if hasattr(state, "_metadata"):
        sd._metadata = state._metadata  # type: ignore[attr-defined]
    full_meta: dict[str, Any] = {"simplepose_version": _version()}
    if hasattr(net, "arch"):
        full_meta["arch"] = net.arch()
    full_meta.update(meta or {})
    keypoints = _checkpoint_schema(schema, full_meta, extra, getattr(net, "num_keypoints", None))
    if keypoints is not None and "dataset_meta" not in full_meta:
        full_meta["dataset_meta"] = mmpose_dataset_meta(keypoints)
    full_meta[_DIGEST_META_KEY] = "sha256 of the file before its zip comment"
    obj: dict[str, Any] = {"state_dict": sd, "meta": full_meta}
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    for key, value in (extra or {}).items():
        if key in obj:
            raise ValueError(f"extra key {key!r} would overwrite the checkpoint's {key!r}")
        obj[key] = value
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    body, trailer = _digest_split(buffer.getbuffer())
    remove_stale_temp_files(Path(path).parent)
    return atomic_write(path, lambda f: (f.write(body), f.write(trailer)), mode="wb")


def _checkpoint_schema(schema: KeypointSchema | str | None, meta: Mapping[str, Any],
                       extra: Mapping[str, Any] | None, num_keypoints: int | None) -> KeypointSchema | None:
    """The keypoint set a checkpoint is saved for (see save_checkpoint); None when none fits."""
    if schema is not None:
        chosen = get_schema(schema) if isinstance(schema, str) else schema
        if num_keypoints is not None and chosen.num_keypoints != num_keypoints:
            raise ValueError(f"schema {chosen.name!r} has {chosen.num_keypoints} keypoints, the model {num_keypoints}")
        return chosen
    config = (extra or {}).get("config")
    data = config.get("data") if isinstance(config, Mapping) else None
    for name in (meta.get("schema"), data.get("dataset") if isinstance(data, Mapping) else None, "posetrack18"):
        if isinstance(name, str) and name in SCHEMAS:
            chosen = SCHEMAS[name]
            if num_keypoints is None or chosen.num_keypoints == num_keypoints:
                return chosen
    return None


def _version() -> str:
    """simplepose's version string."""
    try:
        return _package_version("simplepose")
    except Exception:
        return "unknown"

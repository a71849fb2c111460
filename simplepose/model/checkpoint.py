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
import math
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
MAX_KEYPOINTS = 1000   # keypoint channels of a head (COCO-WholeBody has 133)


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


# numpy dtypes a checkpoint may hold, by the name numpy pickles them with: plain numbers only. A
# dtype's pickle may carry fields, object members or another element size in its BUILD state; with
# numpy 1.x an array of such a forged dtype dereferences pointers from the file.
_PLAIN_DTYPES = {name: np.dtype(name) for name in
                 ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")}
_MAX_ARRAY_DIMS = 32


def _refuse(problem: str) -> pickle.UnpicklingError:
    """The error that makes _torch_load refuse the file with this one-line reason."""
    return pickle.UnpicklingError(problem)


class _PlainDtype:
    """numpy.dtype(spec, False, True) as read from a checkpoint: a plain numeric dtype; its BUILD state
    may only name the byte order (no fields, subarrays, object members or element size)."""

    def __new__(cls, spec: Any = None, align: Any = False, copy: Any = True) -> "_PlainDtype":
        """The dtype named by spec, when it is one of _PLAIN_DTYPES."""
        if not isinstance(spec, str) or spec not in _PLAIN_DTYPES or align is not False or copy is not True:
            raise _refuse(f"numpy dtype {str(spec)[:20]!r} is not a plain numeric dtype")
        self = object.__new__(cls)
        self.dtype, self.built = _PLAIN_DTYPES[spec], False
        return self

    def __setstate__(self, state: Any) -> None:
        """Apply numpy's dtype state (3, byte order, None, None, None, -1, -1, 0); refuse anything else."""
        plain = isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[2:] == \
            (None, None, None, -1, -1, 0) and state[1] in ("<", ">", "|", "=")
        if self.built or not plain:
            raise _refuse(f"forged numpy dtype {self.dtype.str!r}: its pickled state adds fields, object members "
                          "or another element size")
        self.built = True
        if state[1] in ("<", ">") and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(state[1])


class _NdarrayName:
    """What the name numpy.ndarray stands for in a checkpoint: only the first argument of numpy's
    array rebuild function; calling it is refused."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_NdarrayName":
        """Refused: an array is rebuilt from bytes only (numpy's _reconstruct + BUILD)."""
        raise _refuse("numpy.ndarray is called directly: only arrays rebuilt from their bytes are accepted")


class _PendingArray:
    """A numpy array being rebuilt: BUILD gives its (version, shape, dtype, fortran order, bytes); the
    loaded object holds the plain ndarray instead (_plain_values)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_PendingArray":
        """Refused: made only by _plain_reconstruct."""
        raise _refuse("an array placeholder is called directly")

    def __setstate__(self, state: Any) -> None:
        """Make the array: a plain dtype, a shape of non-negative ints and exactly as many bytes as it needs."""
        ok = isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[2], _PlainDtype) \
            and isinstance(state[1], tuple) and len(state[1]) <= _MAX_ARRAY_DIMS and isinstance(state[4], bytes) \
            and all(type(n) is int and n >= 0 for n in state[1]) and isinstance(state[3], bool)
        if not ok or getattr(self, "array", None) is not None:
            raise _refuse("a numpy array whose pickled state is not a plain numeric array")
        _, shape, dtype, fortran, raw = state
        if math.prod(shape) * dtype.dtype.itemsize != len(raw):
            raise _refuse(f"a numpy array of shape {shape[:4]} holds {len(raw)} bytes, not the "
                          f"{math.prod(shape) * dtype.dtype.itemsize} its shape needs")
        flat = np.frombuffer(raw, dtype=dtype.dtype).copy()
        self.array = flat.reshape(shape, order="F" if fortran else "C")


def _plain_reconstruct(subtype: Any, shape: Any, typecode: Any) -> _PendingArray:
    """numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'), as numpy pickles every array."""
    if subtype is not _NdarrayName or shape != (0,) or typecode != b"b":
        raise _refuse("numpy's array rebuild function is called with other arguments than numpy's own")
    pending = object.__new__(_PendingArray)
    pending.array = None
    return pending


def _plain_scalar(dtype: Any, data: Any) -> Any:
    """numpy.core.multiarray.scalar(dtype, bytes): a scalar of a plain dtype from exactly its bytes."""
    if not isinstance(dtype, _PlainDtype) or not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
        raise _refuse("a numpy scalar that is not a plain number of its dtype's size")
    return np.frombuffer(data, dtype=dtype.dtype)[0]


def _empty_bytes(*args: Any) -> bytes:
    """bytes() as protocol 2 pickles b'' (an empty array's data); any argument is refused (bytes(n)
    would allocate n bytes)."""
    if args:
        raise _refuse("bytes is called with arguments")
    return b""


@dataclass(frozen=True)
class _BoundMethodName:
    """What an mmengine training checkpoint pickles as `getattr(buffer, "min")` (a HistoryBuffer's
    statistics methods) becomes here: the method's name only; no attribute is looked up."""

    name: str


def _inert_getattr(obj: Any, name: Any) -> _BoundMethodName:
    """Stands in for builtins.getattr in the unpickler: names the attribute, never resolves it (a real
    getattr there would reach any attribute of any loaded object, and through them run code)."""
    return _BoundMethodName(str(name))


def _numpy_globals() -> list[tuple[Any, str]]:
    """The stand-ins for numpy's pickled names (numpy 1.x numpy.core, numpy 2.x numpy._core)."""
    return [(_plain_reconstruct, f"{core}.multiarray._reconstruct") for core in ("numpy.core", "numpy._core")] + \
        [(_plain_scalar, f"{core}.multiarray.scalar") for core in ("numpy.core", "numpy._core")] + \
        [(_NdarrayName, "numpy.ndarray"), (_PlainDtype, "numpy.dtype"),
         (_PendingArray, "simplepose.model.checkpoint._PendingArray"), (_empty_bytes, "builtins.bytes")]


def _plain_values(obj: Any, seen: set[int]) -> Any:
    """obj with every rebuilt array placeholder replaced by its ndarray (containers changed in place)."""
    if isinstance(obj, _PendingArray):
        if obj.array is None:
            raise CheckpointError("a numpy array in it was never given its data")
        return obj.array
    if id(obj) in seen or not isinstance(obj, (dict, list, tuple, _HistoryBuffer)):
        return obj
    seen.add(id(obj))
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _plain_values(value, seen)
    elif isinstance(obj, list):
        obj[:] = [_plain_values(value, seen) for value in obj]
    elif isinstance(obj, tuple):
        return type(obj)(_plain_values(value, seen) for value in obj) if type(obj) is tuple else obj
    else:
        obj.state = _plain_values(getattr(obj, "state", None), seen)
    return obj


# What a checkpoint may hold beyond torch's own weights-only allow-list (tensors, storages, dtypes,
# OrderedDict, plain containers): numpy arrays and scalars of plain numeric dtypes (MMPose 1.x keeps
# its `meta["dataset_meta"]` colours/sigmas and mmengine its logs in them), rebuilt by the stand-ins
# above, and the parts of mmengine's raw training checkpoints
# (epoch_N.pth, best_*.pth) as inert stand-ins: its log buffer and the getattr its buffers' methods are
# pickled with. Every entry is one exact name: the
# weights-only unpickler resolves nothing else, follows no attribute paths and refuses protocol-4
# opcodes (STACK_GLOBAL).
_SAFE_GLOBALS: list[Any] = [*_numpy_globals(), (_HistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer"),
                            (_inert_getattr, "builtins.getattr")]
# torch.serialization.safe_globals edits one process-wide list: loads in several threads take turns,
# so that one thread leaving the context does not take the entries from under another's load
_LOAD_LOCK = threading.Lock()


def _torch_load(path: Path) -> Any:
    """torch.load on the CPU with weights_only=True (plus _SAFE_GLOBALS): no code in the file runs."""
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(_SAFE_GLOBALS), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # refused below if unsafe
            raw = torch.load(path, map_location="cpu", weights_only=True)
        return _plain_values(raw, set())
    except RecursionError:
        raise CheckpointError(f"{path}: refused to load: its data is nested too deeply") from None
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
            _log_ignored(raw, wrapper, source)
            break
    bad = [k for k, v in sd.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: state dict entry {str(bad[0])[:80]!r} is not a named tensor")
    for key, value in sd.items():
        _check_plain_tensor(key, value, source)
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


_PLAIN_TENSOR_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
                        torch.int16, torch.int8, torch.uint8, torch.bool)


def _check_plain_tensor(key: str, t: torch.Tensor, source: str) -> None:
    """A CheckpointError unless t is a dense CPU tensor of a real dtype whose elements its data holds
    (a stride-0 view of a few bytes may declare a shape of terabytes)."""
    if t.layout != torch.strided or t.is_quantized or t.device.type != "cpu" or t.dtype not in _PLAIN_TENSOR_DTYPES:
        what = f"{t.layout}, {t.dtype}" + (", quantised" if t.is_quantized else "") + f", on {t.device.type}"
        raise CheckpointError(f"{source}: tensor {key[:80]} is not a dense tensor of real numbers ({what})")
    if t.numel() * t.element_size() > t.untyped_storage().nbytes():
        raise CheckpointError(f"{source}: tensor {key[:80]} declares shape {tuple(t.shape)} with strides {t.stride()}, "
                              f"more elements than the {t.untyped_storage().nbytes()} bytes of data it holds")


_MMENGINE_TRAINING_PARTS = ("message_hub", "param_schedulers")


def _log_ignored(raw: Mapping[str, Any], wrapper: str, source: str) -> None:
    """Say which parts of a checkpoint beside its weights and meta are not used (training state)."""
    ignored = [str(k) for k in raw if k not in (wrapper, "meta", "config")]
    if not ignored:
        return
    # an mmengine training checkpoint (epoch_N.pth, best_*.pth): the user may wonder what became of its state
    level = logging.INFO if any(k in raw for k in _MMENGINE_TRAINING_PARTS) else logging.DEBUG
    log.log(level, "%s: using its %s; ignored: %s (training state, read as inert data)", source, wrapper,
            ", ".join(ignored))


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
    final = sd["head.final_layer.weight"]
    if final.dim() != 4 or not 0 < final.shape[0] <= MAX_KEYPOINTS:
        raise CheckpointError(f"{source}: the head has {final.shape[0] if final.dim() else 0} keypoint channels "
                              f"(head.final_layer.weight of shape {tuple(final.shape)}); expected 1..{MAX_KEYPOINTS}")
    if not 0 < deconv_channels <= 4096 or len(deconvs) > 5:
        raise CheckpointError(f"{source}: the head has {len(deconvs)} deconv layers of {deconv_channels} channels; "
                              "expected at most 5 of at most 4096")
    return {"depth": depth, "num_keypoints": int(final.shape[0]),
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

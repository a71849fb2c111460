"""The numeric precision a network runs in: one setting, `auto | fp32 | bf16 | fp16`, resolved per device.

`auto` picks bfloat16 where the device multiplies bfloat16 natively and float32 elsewhere:
- CPU: AMX tiles or AVX512_BF16, asked of PyTorch's own CPU feature probe (`torch.cpu`,
  the one its CPU compiler uses), never guessed from the CPU's model name. AVX-512 without BF16
  (or AVX2) only emulates bf16 through float32 and is slower than float32, so `auto` stays there.
- CUDA: bfloat16 where `torch.cuda.is_bf16_supported()` (Ampere and newer), else float16 autocast,
  the mixed precision the trainer's former `amp` flag meant on CUDA.
An explicit `bf16`/`fp16` is honoured on any device (emulated ones with a warning); `fp32` always runs
float32. Reduced precision means autocast: weights, the loss, optimiser state and the decoded
heatmaps stay float32.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import ContextManager

import torch

log = logging.getLogger("simplepose.precision")

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: its name ("fp32", "bf16" or "fp16") and why it was chosen."""

    name: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the network computes in."""
        return _DTYPES[self.name]

    @property
    def reduced(self) -> bool:
        """Whether this is a 16-bit precision (autocast on)."""
        return self.name != "fp32"

    def autocast(self, device: torch.device | str) -> ContextManager:
        """torch.autocast in this precision on `device`, a no-op context for fp32."""
        if not self.reduced:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(device).type, dtype=self.dtype)

    def describe(self) -> str:
        """One line for the log: which path runs and why."""
        return f"precision {self.name}: {self.reason}"


def cpu_bf16_support() -> tuple[bool, str]:
    """(native bf16 matmul on this CPU, what was found), from PyTorch's CPU feature probe."""
    probe = getattr(torch, "cpu", None)
    amx = getattr(probe, "_is_amx_tile_supported", None)
    avx512_bf16 = getattr(probe, "_is_avx512_bf16_supported", None)
    if amx is None or avx512_bf16 is None:
        return False, "this PyTorch cannot report the CPU's bf16 support"
    if not torch.backends.mkldnn.is_available():
        return False, "this PyTorch has no oneDNN (mkldnn) for bf16 kernels"
    found = [name for name, probe_fn in (("AMX", amx), ("AVX512_BF16", avx512_bf16)) if _ask(probe_fn)]
    if found:
        return True, "CPU has " + " and ".join(found)
    return False, "CPU has neither AMX nor AVX512_BF16 (bf16 would be emulated, slower than fp32)"


def cuda_bf16_support(device: torch.device) -> bool:
    """Whether the CUDA device computes bfloat16 natively."""
    try:
        with torch.cuda.device(device):
            return bool(torch.cuda.is_bf16_supported())
    except (RuntimeError, AssertionError):
        return False


def resolve_precision(requested: str, device: torch.device | str) -> Precision:
    """The precision `requested` ("auto", "fp32", "bf16", "fp16") means on `device`."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    device = torch.device(device)
    if device.type == "cuda":
        native = cuda_bf16_support(device)
        found = "CUDA device with bf16" if native else "CUDA device without bf16"
    elif device.type == "cpu":
        native, found = cpu_bf16_support()
    else:
        native, found = False, f"{device.type} device"
    if requested == "auto":
        if native:
            return Precision("bf16", f"auto: {found}")
        if device.type == "cuda":
            return Precision("fp16", f"auto: {found}, float16 autocast")
        return Precision("fp32", f"auto: {found}")
    if requested == "fp32":
        return Precision("fp32", "requested")
    emulated = (requested == "bf16" and not native) or (requested == "fp16" and device.type != "cuda")
    if emulated:
        log.warning("precision %s requested on a device without native %s support (%s): it runs, "
                    "probably slower than fp32", requested, requested, found)
        return Precision(requested, f"requested ({found}: emulated)")
    return Precision(requested, f"requested ({found})")


def _ask(probe_fn: object) -> bool:
    """A torch.cpu feature probe's answer, False where it fails."""
    try:
        return bool(probe_fn())  # type: ignore[operator]
    except (RuntimeError, AttributeError):
        return False

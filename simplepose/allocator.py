"""The process's memory allocator: glibc malloc told to keep large freed blocks for reuse.

Why: glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and
returns it to the system on free, so a tensor that size is page-faulted in, and zeroed by the
kernel, one 4 KiB page at a time, on every call that makes it. ResNet-50's layer-1 activations at
256x192 are that big from ~20 images per pass (50 MB in bf16 at 32, 100 MB in fp32 at batch 32
in training), and the faults can cost more than the arithmetic: with the blocks kept, small convs,
whole inference passes and the training step all ran faster at about the same peak memory
(numbers in benchmarks/README.md; `benchmarks/inference.py` and `benchmarks/train_step.py` run
with and without SIMPLEPOSE_MALLOC=system re-measure them). Kept blocks are reused by the next call
of the same shape, so memory stays near the run's peak instead of being handed back and
faulted in again, as PyTorch's CUDA caching allocator, jemalloc and tcmalloc do.

How: mallopt(M_MMAP_MAX, 0), every block from malloc's heap, and mallopt(M_TRIM_THRESHOLD, 1 GiB),
freed memory at the heap's top kept up to that size. It is set once per process, by the CPU
inference and training entry points (inference.topdown.TopDownPredictor, the one predict
path of PoseEstimator and the test loop, and engine.train), only where the C library is
glibc and no other allocator (jemalloc, tcmalloc, mimalloc) was preloaded; SIMPLEPOSE_MALLOC=system
leaves malloc as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

log = logging.getLogger("simplepose.allocator")

OPT_OUT = "SIMPLEPOSE_MALLOC"          # =system: leave the C library's malloc settings alone
_M_TRIM_THRESHOLD = -1                  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30                # bytes of free heap top kept before any goes back
_PRELOADED = ("jemalloc", "tcmalloc", "mimalloc")

_applied: str | None = None             # the outcome, once decided for this process


def keep_freed_memory() -> str:
    """Set glibc malloc to serve big tensors from its heap and keep freed blocks (once per
    process); returns the line saying what was done, or why not."""
    global _applied
    if _applied is None:
        _applied = _configure()
        log.debug("memory: %s", _applied)
    return _applied


def _configure() -> str:
    """Apply the settings where they can be; the outcome as one line."""
    if os.environ.get(OPT_OUT, "").strip().lower() == "system":
        return f"malloc left as the system set it ({OPT_OUT}=system)"
    preload = os.environ.get("LD_PRELOAD", "")
    other = next((name for name in _PRELOADED if name in preload), None)
    if other is not None:
        return f"malloc left to the preloaded {other}"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "malloc left as it is (not glibc: its allocator decides)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError) as e:
        return f"malloc left as it is (mallopt unavailable: {e})"
    if not ok:
        return "malloc left as it is (glibc refused the mallopt settings)"
    return "glibc malloc keeps freed blocks for reuse (no per-call mmap of large tensors)"

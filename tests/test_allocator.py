"""The malloc setting: a large tensor made again reuses its pages instead of faulting them in anew.

Each case runs in a fresh interpreter (the setting is process-wide and, once made, stays made) and
counts the process's minor page faults (getrusage) while a 64 MiB tensor is made and filled eight
times after sixteen to warm up: with glibc's defaults every one is a fresh mmap, 16384 faults of
4 KiB pages each time (unless transparent huge pages are always on, which folds them into 2 MiB
faults); with the blocks kept the heap stops growing within the warm-up (torch's 64-byte-aligned
blocks leave splinters: it grew up to 8 times here, then never again) and the fills reuse its pages.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
_MIB64_PAGES = (64 << 20) // 4096

_PROBE = """
import json, resource, torch
from simplepose.allocator import keep_freed_memory
line = keep_freed_memory()
def fill():
    x = torch.empty(16 << 20)           # 64 MiB of float32
    x.fill_(1.0)
    del x
for _ in range(16):                     # the first ones grow the heap (alignment leaves splinters)
    fill()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):
    fill()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"line": line, "faults_per_fill": faults / 8}))
"""


def _probe(**env: str) -> dict:
    """Run the probe in a fresh interpreter with `env` added; its line and faults per fill."""
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                         cwd=_REPO, env={**os.environ, "PYTHONPATH": str(_REPO), **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _thp_always() -> bool:
    """Whether transparent huge pages are on for every mapping (faults then come in 2 MiB)."""
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the setting applies to glibc's malloc only")


@glibc_only
def test_kept_blocks_are_reused_without_page_faults() -> None:
    kept = _probe(SIMPLEPOSE_MALLOC="", LD_PRELOAD="")
    assert kept["line"].startswith("glibc malloc keeps freed blocks")
    assert kept["faults_per_fill"] < 0.02 * _MIB64_PAGES


@glibc_only
def test_opting_out_leaves_malloc_faulting_as_before() -> None:
    system = _probe(SIMPLEPOSE_MALLOC="system", LD_PRELOAD="")
    assert system["line"] == "malloc left as the system set it (SIMPLEPOSE_MALLOC=system)"
    if not _thp_always():        # the control: glibc's defaults map and fault the tensor every time
        assert system["faults_per_fill"] > 0.5 * _MIB64_PAGES


def test_a_preloaded_allocator_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from simplepose import allocator
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    monkeypatch.delenv(allocator.OPT_OUT, raising=False)
    assert allocator._configure() == "malloc left to the preloaded jemalloc"

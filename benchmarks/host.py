"""The machine a benchmark ran on and how busy it was; every benchmark prints both beside its numbers."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")


def cpu() -> str:
    """CPU model, the cores this process may run on, and the vector flags that matter for torch and numpy."""
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        info = ""
    fields = dict((k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in info.splitlines() if ":" in line))
    model, flags = fields.get("Model name", "unknown CPU"), set(fields.get("Flags", "").split())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, flags {' '.join(f for f in FLAGS if f in flags) or '-'}"


def load() -> str:
    """The 1, 5 and 15-minute load averages, runnable / total tasks, and the machine's core count."""
    try:
        parts = Path("/proc/loadavg").read_text().split()
        return f"load {parts[0]} {parts[1]} {parts[2]} (runnable/total {parts[3]}) on {os.cpu_count()} cores"
    except OSError:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"

"""How many intra-op threads to run: the cores this process can actually get, not all it may use.

Why: PyTorch splits each operator's work evenly over its OpenMP threads and waits at a barrier for
the last one. When another busy process shares the cores (a browser, a compile, a CI neighbour,
`yes > /dev/null`), one of our threads is descheduled for whole time slices and every operator
waits for it, so all cores can be slower than fewer (benchmarks/competing_process.py measures it).

How: the other runnable tasks are counted from the kernel's `procs_running` (/proc/stat), sampled
over a short window, less this process's own running threads and its children's (data loader
workers are our own work); the thread count is the cores in this process's affinity mask less that
mean, rounded, at least 1. `ThreadGovernor` re-checks it during training, as competitors come and
go. Where /proc is missing (not Linux) every core of the affinity mask is used. An explicit thread
count (`--threads`, runtime.threads) always wins.
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

SAMPLES = 20                # procs_running readings per estimate
SAMPLE_INTERVAL_S = 0.002   # between readings: 0.04 s per estimate (0.2% of RECHECK_S)
RECHECK_S = 20.0            # ThreadGovernor: seconds between estimates


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask; the CPU count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _procs_running() -> int | None:
    """The kernel's count of runnable tasks right now; None without /proc/stat."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _running_in(task_dir: Path) -> int:
    """Threads in state R under a /proc/PID/task folder (0 where it cannot be read)."""
    n = 0
    try:
        for task in task_dir.iterdir():
            try:
                stat = (task / "stat").read_bytes()
            except OSError:
                continue
            # "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses)
            if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"R":
                n += 1
    except OSError:
        pass
    return n


def _own_running() -> int:
    """Running threads of this process and of its children (e.g. data loader workers)."""
    own = Path("/proc/self/task")
    n = _running_in(own)
    children: set[str] = set()
    try:
        for task in own.iterdir():
            try:
                children.update((task / "children").read_text().split())
            except OSError:
                continue
    except OSError:
        return n
    return n + sum(_running_in(Path("/proc") / pid / "task") for pid in children)


def competing_load(samples: int = SAMPLES, interval_s: float = SAMPLE_INTERVAL_S) -> float | None:
    """Mean number of runnable tasks that are not this process's or its children's; None without /proc."""
    seen = []
    for i in range(samples):
        running = _procs_running()
        if running is None:
            return None
        seen.append(max(0, running - _own_running()))
        if i + 1 < samples:
            time.sleep(interval_s)
    return sum(seen) / len(seen)


def threads_for(cores: int, others: float | None) -> int:
    """Threads to use on `cores` cores with `others` competing runnable tasks (None: unknown, all cores)."""
    if others is None:
        return cores
    return max(1, min(cores, math.floor(cores - others + 0.5)))


def choose_threads(pinned: int | None = None) -> tuple[int, str]:
    """(threads, why): `pinned` when given, else the cores this process gets now (module docstring)."""
    if pinned:
        return pinned, "as asked"
    cores = usable_cores()
    others = competing_load()
    if others is None:
        return cores, f"{cores} core(s); no /proc to see other busy processes"
    return threads_for(cores, others), f"{cores} core(s), {others:.1f} other busy task(s) on average"


def set_threads(pinned: int | None = None) -> int:
    """torch.set_num_threads(choose_threads(pinned)); logs the choice when it is not the core count."""
    threads, why = choose_threads(pinned)
    torch.set_num_threads(threads)
    level = logging.INFO if threads != usable_cores() and not pinned else logging.DEBUG
    log.log(level, "%d CPU thread(s): %s", threads, why)
    return threads


class ThreadGovernor:
    """A training hook that re-chooses the thread count every RECHECK_S seconds (competitors come and go)."""

    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        """Start counting from now; the first choice is set_threads()'s, made before training."""
        self.recheck_s = recheck_s
        self.last = time.monotonic()

    def __call__(self, state: Any = None, info: Any = None) -> None:
        """Re-choose when RECHECK_S seconds have passed since the last choice."""
        now = time.monotonic()
        if now - self.last < self.recheck_s:
            return
        threads, why = choose_threads()
        if threads != torch.get_num_threads():
            log.info("%d CPU thread(s) from now on: %s", threads, why)
            torch.set_num_threads(threads)
        self.last = time.monotonic()

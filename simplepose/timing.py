"""Wall and CPU time per named stage, accumulated over many calls: `with clock("flow"): ...`.

Process CPU time is kept beside wall time because on a shared, loaded machine it is the better
guess of what a single-threaded stage costs unloaded.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class StageClock:
    """Seconds spent per stage: `wall[stage]` and `cpu[stage]` (process time), summed over calls."""

    def __init__(self, stages: Iterable[str] = ()):
        """stages: names present from the start with 0 seconds (others are added on first use)."""
        self.wall: dict[str, float] = {s: 0.0 for s in stages}
        self.cpu: dict[str, float] = {s: 0.0 for s in stages}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time the block and add it to `stage` (also when the block raises)."""
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - w0, time.process_time() - c0)

    def add(self, stage: str, wall: float, cpu: float = 0.0) -> None:
        """Add time measured elsewhere (e.g. a detector run outside the block) to `stage`."""
        self.wall[stage] = self.wall.get(stage, 0.0) + wall
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu

    def reset(self) -> None:
        """Every stage back to 0 seconds."""
        for d in (self.wall, self.cpu):
            for k in d:
                d[k] = 0.0

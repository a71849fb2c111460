"""StageClock: time accumulates per stage, across calls and raised blocks."""
from __future__ import annotations

import time

import pytest

from simplepose.timing import StageClock


def test_stages_accumulate_wall_and_cpu_time() -> None:
    clock = StageClock(["flow", "pose"])
    assert clock.wall == {"flow": 0.0, "pose": 0.0} and clock.cpu == {"flow": 0.0, "pose": 0.0}
    for _ in range(2):
        with clock("flow"):
            end = time.process_time() + 0.02
            while time.process_time() < end:      # busy: CPU time advances as much as the loop ran
                pass
    assert clock.cpu["flow"] >= 0.04 and clock.wall["flow"] >= clock.cpu["flow"] * 0.5
    assert clock.wall["pose"] == 0.0
    clock.add("detector", 1.5)
    assert clock.wall["detector"] == 1.5 and clock.cpu["detector"] == 0.0
    clock.reset()
    assert set(clock.wall.values()) == {0.0} and set(clock.cpu.values()) == {0.0}


def test_a_raising_block_is_still_counted() -> None:
    clock = StageClock()
    with pytest.raises(KeyError):
        with clock("association"):
            time.sleep(0.01)
            raise KeyError("x")
    assert clock.wall["association"] >= 0.009

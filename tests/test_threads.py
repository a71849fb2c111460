"""The thread count from the cores this process gets: the rule, and what counts as competition."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from simplepose import threads


@pytest.mark.parametrize("cores, others, expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 6.0, 1), (16, 1.0, 15), (16, 3.5, 13), (2, None, 2),
])
def test_threads_are_the_cores_other_tasks_leave(cores: int, others: float | None, expected: int) -> None:
    assert threads.threads_for(cores, others) == expected


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_our_own_children_are_not_competition() -> None:
    """A busy child (a data loader worker) is our own running work: counted as ours, not as another's."""
    assert threads._own_running() == 1                       # this thread, reading /proc
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert threads._own_running() == 2                   # a busy loop is always runnable (R)
    finally:
        child.kill()
        child.wait()
    assert threads._own_running() == 1


def test_a_pinned_count_wins_and_is_set() -> None:
    before = torch.get_num_threads()
    try:
        assert threads.set_threads(1) == 1 and torch.get_num_threads() == 1
        assert threads.choose_threads(3) == (3, "as asked")
    finally:
        torch.set_num_threads(before)


def test_the_chosen_count_is_within_the_affinity_mask() -> None:
    n, why = threads.choose_threads()
    assert 1 <= n <= threads.usable_cores() and "core(s)" in why

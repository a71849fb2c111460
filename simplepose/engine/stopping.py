"""Ending training early: by a signal (latest.pth saved first, so --resume continues) or by a hook.

SIGTERM (a scheduler's pre-emption) and SIGINT (Ctrl-C) only set a flag; the loop reads it once per
iteration, all ranks together, so that no process leaves the others waiting in a collective.
A second signal stops at once (KeyboardInterrupt), and so does the first one inside
``StopSignals.interrupting()`` (validation: nothing there is worth waiting for).
"""
from __future__ import annotations

import contextlib
import signal
from types import FrameType, TracebackType
from typing import Any, Iterator

STOPPED_BY_SIGNAL = "stopped by a signal; resume with --resume"
STOPPED_AT_ONCE = "stopped at once by a second signal; --resume continues from the last latest.pth"


class StopTraining(Exception):
    """Raised by a hook to end training early (the state is not saved: like a killed process)."""


class StopSignals:
    """While active, SIGTERM/SIGINT are recorded instead of ending the process (main thread only)."""

    def __init__(self) -> None:
        """Inactive until entered as a context manager."""
        self.received: list[int] = []
        self._old: dict[int, Any] = {}
        self._interrupting = False

    @property
    def requested(self) -> bool:
        """True once a signal has arrived."""
        return bool(self.received)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        """The handler: remember the signal; raise KeyboardInterrupt for a second one, or inside
        interrupting()."""
        self.received.append(signum)
        if len(self.received) > 1:
            raise KeyboardInterrupt(STOPPED_AT_ONCE)
        if self._interrupting:
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")

    @contextlib.contextmanager
    def interrupting(self) -> Iterator[None]:
        """Within this block a signal raises KeyboardInterrupt at once (also one already received)."""
        if self.received:
            raise KeyboardInterrupt(f"{signal.Signals(self.received[0]).name} received")
        self._interrupting = True
        try:
            yield
        finally:
            self._interrupting = False

    def __enter__(self) -> StopSignals:
        """Install the handlers (signals can only be handled in the main thread: elsewhere none)."""
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._record)
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Put back the handlers that were replaced."""
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

"""Ending training early: by a signal (latest.pth saved first, so --resume continues) or by a hook.

SIGTERM (a scheduler's pre-emption) and SIGINT (Ctrl-C) only set a flag; the loop reads it once per
iteration, all ranks together, so that no process leaves the others waiting in a collective.
"""
from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any

STOPPED_BY_SIGNAL = "stopped by a signal; resume with --resume"


class StopTraining(Exception):
    """Raised by a hook to end training early (the state is not saved: like a killed process)."""


class StopSignals:
    """While active, SIGTERM/SIGINT are recorded instead of ending the process (main thread only)."""

    def __init__(self) -> None:
        """Inactive until entered as a context manager."""
        self.received: list[int] = []
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a signal has arrived."""
        return bool(self.received)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        """The handler: remember the signal."""
        self.received.append(signum)

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

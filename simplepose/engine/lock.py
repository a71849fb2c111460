"""One training per work dir: an exclusive lock on `<work_dir>/.simplepose.lock`, held while it trains.

The lock is the kernel's (``fcntl.flock``), so it is released when the process ends in any way,
``kill -9`` included, and a stale lock file never blocks a later run. The file holds the pid of
the holder for the error message. Where ``fcntl`` is missing (Windows) no lock is taken.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from simplepose.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".simplepose.lock"


class WorkDirLock:
    """Context manager: hold the work dir's lock, or raise ConfigError naming who holds it."""

    def __init__(self, work_dir: str | os.PathLike):
        self.path = Path(work_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> WorkDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(self.path.parent, f"work dir in use by another training (pid {holder}); wait for "
                              "it to end or choose another runtime.work_dir / --work-dir",
                              key="runtime.work_dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)          # closing releases the lock
            self._fd = None

"""Training metrics log: one JSON object per line, plus TensorBoard scalars when tensorboard is installed.

A record is {"mode": "train" | "val", "step": global iteration, "time": Unix seconds, **fields}; NaN
and infinity are written as null, so every line is strict JSON. engine/curves.py draws loss and AP
from it; a resumed run first drops the records logged after its checkpoint.

A run killed while appending leaves an incomplete last line: readers skip it with a warning and a
logger opening the log cuts it off; a damaged line before the last one is a DataError. The log is
never opened through a symbolic link (O_NOFOLLOW): a link planted at log.jsonl is refused.
"""
from __future__ import annotations

import errno
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from simplepose.errors import DataError
from simplepose.io import atomic_write

log = logging.getLogger("simplepose.train")


def _clean(value: Any) -> Any:
    """JSON-safe scalars: tensors/numpy to Python, NaN/inf to None."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricLogger:
    """Appends records to `<work_dir>/log.jsonl`; mirrors numeric fields to TensorBoard."""

    def __init__(self, work_dir: str | os.PathLike, enabled: bool = True, tensorboard: bool = True):
        """A log in work_dir (nothing written when not `enabled`: processes other than rank 0)."""
        self.enabled = enabled
        self.path = Path(work_dir) / "log.jsonl"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink() or self.path.exists():
            self._cut_incomplete_line()
        if tensorboard:
            try:
                # here, not at the top: optional (the tensorboard package) and slow to import
                from torch.utils.tensorboard import SummaryWriter
            except Exception:  # noqa: BLE001 - tensorboard is optional
                log.debug("tensorboard not installed: JSON-lines log only")
            else:
                self._tb = SummaryWriter(log_dir=str(Path(work_dir) / "tensorboard"))

    def write(self, mode: str, step: int, **fields: Any) -> None:
        """One record: {"mode", "step", "time", **fields}; flushed at once."""
        if not self.enabled:
            return
        record = {"mode": mode, "step": int(step), "time": round(time.time(), 3)}
        record.update({k: _clean(v) for k, v in fields.items()})
        fd = _open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "wb") as f:
            f.write((json.dumps(record) + "\n").encode())     # one write: appends do not interleave
        if self._tb is not None:
            for k, v in record.items():
                if k not in ("mode", "step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{mode}/{k}", v, int(step))
            self._tb.flush()

    def drop_after(self, step: int) -> None:
        """Forget records past `step` (logged after the checkpoint a resumed run restarts from)."""
        if not self.enabled or not (self.path.is_symlink() or self.path.exists()):
            return
        kept = [json.dumps(r) + "\n" for r in read_log(self.path) if r.get("step", 0) <= step]
        atomic_write(self.path, lambda f: f.writelines(kept))

    def _cut_incomplete_line(self) -> None:
        """Cut an incomplete last line (a killed writer's) off the log, with a warning."""
        data = _read(self.path)
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        log.warning("%s: incomplete last line (an interrupted write) dropped: %r", self.path, data[keep:][:80])
        fd = _open(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, keep)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _open(path: Path, flags: int) -> int:
    """os.open without following a symbolic link; DataError naming the log if it is one."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DataError(path, "is a symbolic link: refusing to use a training log through it") from None
        raise


def _read(path: Path) -> bytes:
    """The log's bytes, read without following a symbolic link."""
    with os.fdopen(_open(path, os.O_RDONLY), "rb") as f:
        return f.read()


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a JSON-lines log; an incomplete last line is skipped with a warning."""
    path = Path(path)
    lines = _read(path).split(b"\n")
    records = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif i == len(lines):                  # no newline after it: the write was cut short
            log.warning("%s: incomplete last line (an interrupted write) skipped: %r", path, line[:80])
        else:
            raise DataError(path, f"line {i} is not a JSON record: {line[:80]!r}")
    return records

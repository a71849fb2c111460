"""Training metrics log: one JSON object per line, plus TensorBoard scalars when tensorboard is installed.

A record is {"mode": "train" | "val", "step": global iteration, "time": Unix seconds, **fields}; NaN
and infinity are written as null, so every line is strict JSON. engine/curves.py draws loss and AP
from it; a resumed run first drops the records logged after its checkpoint.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

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
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in record.items():
                if k not in ("mode", "step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{mode}/{k}", v, int(step))
            self._tb.flush()

    def drop_after(self, step: int) -> None:
        """Forget records past `step` (logged after the checkpoint a resumed run restarts from)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines(keepends=True)
                if line.strip() and json.loads(line).get("step", 0) <= step]
        atomic_write(self.path, lambda f: f.writelines(kept))

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a JSON-lines log."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

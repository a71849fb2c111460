"""Where and when a training run writes its checkpoints (timm's CheckpointSaver).

latest.pth: every `every_iters` iterations and when a signal stops the run mid-epoch (the resume
point); at an epoch's end epoch_<e>.pth and latest.pth, with epoch files older than the last
`keep` removed; best.pth when the validation metric improved. Only the main process writes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

# writes the training checkpoint of the run's current state to a path
SaveCheckpoint = Callable[[Path], None]


class CheckpointSaver:
    """The run's checkpoint files in work_dir, written through `save` on the main process only."""

    def __init__(self, work_dir: Path, save: SaveCheckpoint, every_iters: int | None = None, keep: int = 1,
                 is_main: bool = True) -> None:
        """every_iters: latest.pth every so many global iterations (None/0: never mid-epoch);
        keep: how many epoch_<e>.pth files stay."""
        self.work_dir = Path(work_dir)
        self.save = save
        self.every_iters = every_iters
        self.keep = keep
        self.is_main = is_main

    def due(self, global_iter: int) -> bool:
        """Whether latest.pth is due after this global iteration."""
        return bool(self.every_iters) and global_iter % self.every_iters == 0

    def save_latest(self) -> None:
        """latest.pth: the point --resume continues from."""
        if self.is_main:
            self.save(self.work_dir / "latest.pth")

    def save_best(self) -> None:
        """best.pth: the epoch with the best validation metric so far."""
        if self.is_main:
            self.save(self.work_dir / "best.pth")

    def save_epoch(self, epoch: int) -> None:
        """epoch_<epoch>.pth and latest.pth; epoch files older than the last `keep` are removed."""
        if not self.is_main:
            return
        self.save(self.work_dir / f"epoch_{epoch}.pth")
        self.save(self.work_dir / "latest.pth")
        for e in range(1, epoch - max(self.keep, 0) + 1):
            path = self.work_dir / f"epoch_{e}.pth"
            if path.exists():
                path.unlink()

"""One epoch's progress: the loader as an iterator that times it, a bar, and the train records.

As torchvision's `metric_logger.log_every(loader, freq, header)`: the training loop iterates
`progress.log_every(loader, state)` and reports each step's loss and LR with `update`; the bar
(main process only) and the log records every `log_interval` global iterations come from here.
data_time is the wait for the loader's batch; iter_time the whole iteration.
"""
from __future__ import annotations

import time
from typing import Iterable, Iterator, TypeVar

import torch
from tqdm import tqdm

from simplepose.engine import distributed
from simplepose.engine.metrics_log import MetricLogger
from simplepose.engine.state import TrainState

Batch = TypeVar("Batch")


class EpochProgress:
    """Iterations `state.iter_in_epoch` .. num_iters of an epoch over a loader, with bar and log."""

    def __init__(self, logger: MetricLogger, num_iters: int, log_interval: int, epochs: int,
                 show_bar: bool = True) -> None:
        """num_iters: iterations per epoch; epochs: the run's number (for the bar's label)."""
        self.logger = logger
        self.num_iters = num_iters
        self.log_interval = log_interval
        self.epochs = epochs
        self.show_bar = show_bar
        self._bar: tqdm | None = None
        self._started = 0.0
        self._data_time = 0.0

    def log_every(self, loader: Iterable[Batch], state: TrainState) -> Iterator[Batch]:
        """The loader's batches until the epoch's iteration count is reached, timed."""
        self._bar = None
        if self.show_bar:
            self._bar = tqdm(total=self.num_iters, initial=state.iter_in_epoch,
                             desc=f"epoch {state.epoch + 1}/{self.epochs}", dynamic_ncols=True, leave=False)
        self._started = time.perf_counter()
        for batch in loader:
            if state.iter_in_epoch >= self.num_iters:
                break
            self._data_time = time.perf_counter() - self._started
            yield batch
            self._started = time.perf_counter()
        if self._bar is not None:
            self._bar.close()

    def update(self, state: TrainState, loss: torch.Tensor, lr: float) -> None:
        """After an iteration: the bar, and every log_interval iterations (and the epoch's last) a
        train record with the loss averaged over the processes (all of them call this)."""
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{float(loss.detach()):.3g}", lr=f"{lr:.2g}")
        if state.global_iter % self.log_interval == 0 or state.iter_in_epoch == self.num_iters:
            self.logger.write("train", state.global_iter, epoch=state.epoch + 1, iter=state.iter_in_epoch,
                              lr=lr, loss=float(distributed.all_reduce_mean(loss.detach())),
                              data_time=self._data_time, iter_time=time.perf_counter() - self._started)

    def mid_epoch(self, state: TrainState) -> bool:
        """Whether iterations of this epoch remain (its end writes its own checkpoints)."""
        return state.iter_in_epoch < self.num_iters

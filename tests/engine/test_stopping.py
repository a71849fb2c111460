"""Stopping early: a signal saves latest.pth and stops (resumable), a non-finite loss stops at once."""
from __future__ import annotations

import math
import os
import signal

import pytest
import torch

from simplepose.engine.state import TrainState
from simplepose.engine.stopping import STOPPED_BY_SIGNAL, StopSignals
from simplepose.engine.train import train
from tests.engine.tiny_run import tiny_config

COMMON = ("optim.epochs=2", "runtime.max_iters_per_epoch=4", "data.workers=0")


def _signal_at(n: int):
    """A hook sending SIGTERM to this process right after global iteration n."""
    def hook(state: TrainState, info: dict) -> None:
        if state.global_iter == n:
            os.kill(os.getpid(), signal.SIGTERM)
    return hook


def _raw_state(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["train_state"]


def test_signal_mid_epoch_saves_latest_and_stops(synth_root, tmp_path):
    cfg = tiny_config(synth_root, tmp_path / "w", *COMMON)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match=STOPPED_BY_SIGNAL):
        train(cfg, hooks=[_signal_at(1)])
    assert signal.getsignal(signal.SIGTERM) is before
    # the signal is read at the next iteration, which is the last one latest.pth holds
    saved = _raw_state(tmp_path / "w" / "latest.pth")
    assert (saved["epoch"], saved["iter_in_epoch"], saved["global_iter"]) == (0, 2, 2)
    state = train(cfg, resume=True)
    assert (state.epoch, state.global_iter) == (2, 8)


def test_signal_in_the_last_iteration_stops_after_the_epoch(synth_root, tmp_path):
    cfg = tiny_config(synth_root, tmp_path / "w", *COMMON)
    with pytest.raises(KeyboardInterrupt, match=STOPPED_BY_SIGNAL):
        train(cfg, hooks=[_signal_at(4)])
    saved = _raw_state(tmp_path / "w" / "latest.pth")
    assert (saved["epoch"], saved["iter_in_epoch"], saved["global_iter"]) == (1, 0, 4)


def test_non_finite_loss_stops_training(synth_root, tmp_path):
    def poison(state: TrainState, info: dict) -> None:
        if state.global_iter == 1:
            with torch.no_grad():
                for p in info["model"].parameters():
                    p.fill_(math.nan)

    cfg = tiny_config(synth_root, tmp_path / "w", *COMMON)
    with pytest.raises(FloatingPointError, match="loss is not finite at iteration 2"):
        train(cfg, hooks=[poison])


def test_stop_signals_record_and_restore():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and stop.received == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_signal_stops_at_once():
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt, match="second signal"):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):       # the handler runs between bytecodes
                pass


def test_signal_during_validation_stops_it_and_keeps_the_epoch(synth_root, tmp_path, monkeypatch):
    """Ctrl-C in validation does not wait for the rest of it; latest.pth holds the trained epoch."""
    import time

    from simplepose.engine import train as train_module
    finished = []

    def slow_validate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(300):            # 30 s of "validation" unless interrupted
            time.sleep(0.1)
        finished.append(True)
        return {"Total AP": 0.0}

    monkeypatch.setattr(train_module, "validate", slow_validate)
    cfg = tiny_config(synth_root, tmp_path / "w", *COMMON, "runtime.val_interval=1")
    with pytest.raises(KeyboardInterrupt, match="validation of epoch 1 interrupted"):
        train(cfg)
    assert not finished
    saved = _raw_state(tmp_path / "w" / "latest.pth")
    assert (saved["epoch"], saved["iter_in_epoch"], saved["global_iter"]) == (1, 0, 4)

"""The resumable training state: RNG states restored exactly; a checkpoint resumes only the job that wrote it."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.engine.config import Config, apply_overrides
from simplepose.engine.state import (TrainState, load_training_checkpoint, rng_state, save_training_checkpoint,
                                     set_rng_state)
from simplepose.errors import CheckpointError
from simplepose.model.pose_model import SimpleBaseline


def test_resume_refuses_a_different_job(tmp_path: Path) -> None:
    """The sampler position and the scaled LR depend on batch and world size: a changed job is refused."""
    model = SimpleBaseline(depth=18, deconv_channels=16, num_keypoints=17)
    opt = torch.optim.Adam(model.parameters())
    cfg = apply_overrides(Config(), ["data.batch_size=4"])
    save_training_checkpoint(tmp_path / "latest.pth", model, opt, None, TrainState(epoch=1), cfg, "fp32")
    assert load_training_checkpoint(tmp_path / "latest.pth", model, opt, None, 4).epoch == 1
    with pytest.raises(CheckpointError, match="batch_size"):
        load_training_checkpoint(tmp_path / "latest.pth", model, opt, None, 8)


def test_rng_state_round_trip() -> None:
    saved = rng_state()
    first = (random.random(), float(np.random.rand()), float(torch.rand(())))
    set_rng_state(saved)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == first


def test_resume_refuses_a_different_optimizer(tmp_path: Path) -> None:
    """Adam's moments loaded into SGD would train on silently with the wrong state."""
    model = SimpleBaseline(depth=18, deconv_channels=16, num_keypoints=17)
    cfg = apply_overrides(Config(), ["data.batch_size=4", "optim.optimizer=adam"])
    save_training_checkpoint(tmp_path / "latest.pth", model, torch.optim.Adam(model.parameters()), None,
                             TrainState(epoch=1), cfg, "fp32")
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match="optim.optimizer 'adam'.*'sgd'"):
        load_training_checkpoint(tmp_path / "latest.pth", model, sgd, None, 4)


def test_checkpoint_records_its_precision(tmp_path: Path, caplog) -> None:
    """meta["precision"] is what the steps ran in; resuming in another precision warns, and goes on."""
    model = SimpleBaseline(depth=18, deconv_channels=16, num_keypoints=17)
    opt = torch.optim.Adam(model.parameters())
    cfg = apply_overrides(Config(), ["data.batch_size=4"])
    save_training_checkpoint(tmp_path / "latest.pth", model, opt, None, TrainState(epoch=1), cfg, "bf16")
    assert torch.load(tmp_path / "latest.pth", weights_only=False)["meta"]["precision"] == "bf16"
    with caplog.at_level("WARNING", logger="simplepose.train"):
        load_training_checkpoint(tmp_path / "latest.pth", model, opt, None, 4, "bf16")
    assert not caplog.records
    with caplog.at_level("WARNING", logger="simplepose.train"):
        assert load_training_checkpoint(tmp_path / "latest.pth", model, opt, None, 4, "fp32").epoch == 1
    assert any("trained in bf16 and resumes in fp32" in r.getMessage() for r in caplog.records)

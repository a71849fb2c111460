"""Fixtures of the MMPose 1.3.2 pipeline goldens shared by the data tests."""
from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def geo(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "geometry.npz")


@pytest.fixture(scope="module")
def val(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "val_pipeline.npz"), \
        json.loads((mmpose_golden_dir / "val_pipeline.json").read_text())["instances"]


@pytest.fixture(scope="module")
def train(mmpose_golden_dir):
    return np.load(mmpose_golden_dir / "train_pipeline_scripted.npz"), \
        json.loads((mmpose_golden_dir / "train_pipeline_scripted.json").read_text())["instances"]

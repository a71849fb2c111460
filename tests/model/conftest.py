"""Fixtures shared by the model tests: the fill-rule golden model and MMPose's forward goldens."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simplepose.model.checkpoint import build_model_from_state_dict
from simplepose.model.pose_model import SimpleBaseline
from tests.model.fill_rule import fill_state_dict


@pytest.fixture(scope="module")
def golden_model(mmpose_golden_dir: Path) -> SimpleBaseline:
    """ResNet-50 SimpleBaseline with the goldens' fill-rule weights."""
    return build_model_from_state_dict(fill_state_dict(mmpose_golden_dir))


@pytest.fixture(scope="module")
def forward_golden(mmpose_golden_dir: Path) -> dict[str, np.ndarray]:
    """model_forward.npz arrays."""
    with np.load(mmpose_golden_dir / "model_forward.npz") as z:
        return {k: z[k] for k in z.files}

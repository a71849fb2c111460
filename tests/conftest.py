"""Shared fixtures: the workplace's shared data (real samples and goldens), found in one place."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    """SIMPLEPOSE_SHARED if set, else ../shared beside the checkout; None if absent."""
    env = os.environ.get("SIMPLEPOSE_SHARED")
    candidate = Path(env) if env else _REPO.parent / "shared"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Root of the shared folder; skips the test where it is absent (outside the workplace)."""
    d = _shared_dir()
    if d is None:
        pytest.skip("shared data not found: set SIMPLEPOSE_SHARED or place ../shared beside the checkout")
    return d


@pytest.fixture(scope="session")
def samples_dir(shared_dir: Path) -> Path:
    """Real MMPose test samples (PoseTrack18 and COCO)."""
    return shared_dir / "data" / "mmpose_test_samples"


@pytest.fixture(scope="session")
def mmpose_golden_dir(shared_dir: Path) -> Path:
    """Goldens produced with MMPose 1.3.2."""
    return shared_dir / "golden" / "mmpose"


@pytest.fixture(scope="session")
def poseval_golden_dir(shared_dir: Path) -> Path:
    """Goldens produced with the official poseval."""
    return shared_dir / "golden" / "posetrack_eval"


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """4 train videos and 2 val videos of 8 frames, 192x144 images."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_posetrack_dataset(root, SynthOptions(videos={"train": 4, "val": 2}, frames=8, seed=3,
                                                  image_size=(192, 144)), progress=False)
    return root

"""The small synthetic dataset, generated once for the generator's tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.synthetic.small_dataset import generate_small


@pytest.fixture(scope="package")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    """The small dataset's root and its summary (generated once for these tests)."""
    out = tmp_path_factory.mktemp("synth") / "posetrack18"
    return out, generate_small(out)

"""simplepose: SimpleBaseline top-down 2D human pose estimation for PoseTrack18, in plain PyTorch.

`from simplepose import PoseEstimator` is the public inference entry point; it is imported lazily so
that `import simplepose` (and the CLI) stays light.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["PoseEstimator", "__version__"]


def __getattr__(name: str) -> Any:
    """Lazy access to PoseEstimator (pulls in torch and OpenCV only when used)."""
    if name == "PoseEstimator":
        # torch and OpenCV load on first use, so that `import simplepose` and the CLI stay light
        from simplepose.inference.estimator import PoseEstimator
        return PoseEstimator
    raise AttributeError(f"module 'simplepose' has no attribute {name!r}")

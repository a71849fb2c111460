"""The goldens' deterministic weights and input, rebuilt from their formulas, and their flip indices
(shared by model/inference tests)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

# COCO-17 left/right swap used by the flip-test goldens
FLIP_INDICES = [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def fill_tensor(index: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The manifest entry's tensor under the rule in weight_fill_rule.json (float64 maths, float32 out)."""
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    n = int(np.prod(shape))
    t = np.arange(n, dtype=np.float64)
    s = np.sin(0.37 * t + 1e-4 * t * t + index)
    if len(shape) == 4:
        v = np.sqrt(2.0 / (n // shape[0])) * s
    elif name.endswith("running_mean"):
        v = 0.05 * s
    elif name.endswith("running_var"):
        v = 1.0 + 0.2 * s
    elif name.endswith(".weight"):
        v = 1.0 + 0.1 * s
    elif name.endswith(".bias"):
        v = 0.05 * s
    else:
        raise ValueError(f"no fill rule for {name}")
    return v.astype(np.float32).reshape(shape)


def manifest_entries(golden_dir: Path) -> list[dict]:
    """The manifest's 338 entries in state_dict order."""
    return json.loads((golden_dir / "model_state_dict_manifest.json").read_text())["keys"]


def fill_state_dict(golden_dir: Path, naming: str = "1.x") -> dict[str, torch.Tensor]:
    """Fill-rule state dict keyed by MMPose 1.x names, or 0.x names with naming='0.x'."""
    key = "name" if naming == "1.x" else "mmpose0x_name"
    return {e[key]: torch.from_numpy(fill_tensor(e["index"], e["name"], tuple(e["shape"])))
            for e in manifest_entries(golden_dir)}


def golden_input(golden_dir: Path) -> torch.Tensor:
    """model_forward.npz's input x (2, 3, 256, 192), rebuilt from its formula."""
    b, c, h, w = np.meshgrid(np.arange(2), np.arange(3), np.arange(256), np.arange(192), indexing="ij")
    x = np.sin(0.031 * (c + 1) * h + 0.017 * w + 0.5 * b) + 0.5 * np.cos(0.023 * (b + 1) * w - 0.041 * h + c)
    return torch.from_numpy(x.astype(np.float32))

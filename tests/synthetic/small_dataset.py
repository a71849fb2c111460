"""The small synthetic dataset the generator's tests read (fixture `dataset`), and helpers shared by them."""
from __future__ import annotations

import json
from pathlib import Path

from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

SIZE = (256, 192)
FRAMES = 12
VIDEOS = {"train": 3, "val": 3}


def generate_small(out: Path, seed: int = 3) -> dict:
    """The small dataset every test here reads."""
    return generate_posetrack_dataset(out, SynthOptions(videos=VIDEOS, frames=FRAMES, seed=seed, image_size=SIZE),
                                      progress=False)


def load_json(path: Path) -> dict:
    """One JSON file."""
    with open(path) as f:
        return json.load(f)

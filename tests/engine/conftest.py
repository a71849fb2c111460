"""A small synthetic PoseTrack18-layout dataset and a tiny training config for the engine tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.engine.config import Config, apply_overrides, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """4 train videos and 2 val videos of 8 frames, 192x144 images."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_posetrack_dataset(root, SynthOptions(videos={"train": 4, "val": 2}, frames=8, seed=3,
                                                  image_size=(192, 144)), progress=False)
    return root


def tiny_config(data_root: Path, work_dir: Path, *overrides: str) -> Config:
    """configs/synthetic_tiny.yaml on `data_root`, one thread, no validation unless overridden."""
    cfg = load_config(CONFIGS / "synthetic_tiny.yaml")
    return apply_overrides(cfg, [f"data.data_root={data_root}", f"runtime.work_dir={work_dir}",
                                 "runtime.threads=1", "runtime.val_interval=0", "runtime.tensorboard=false",
                                 *overrides])


def random_model_files(data_root: Path, work_dir: Path) -> tuple[Path, Path, Path]:
    """(config.yaml, checkpoint of a seeded random tiny model, val detections) for command tests."""
    import torch

    from simplepose.engine.build import build_model
    from simplepose.engine.config import save_config

    cfg = tiny_config(data_root, work_dir)
    ckpt = work_dir / "model.pth"
    torch.manual_seed(0)
    torch.save({"state_dict": build_model(cfg).state_dict(), "meta": {"schema": "posetrack18"}}, ckpt)
    config = work_dir / "cfg.yaml"
    save_config(cfg, config)
    return config, ckpt, data_root / "annotations" / "posetrack18_val_human_detections.json"

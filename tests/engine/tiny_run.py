"""A tiny training config on the synthetic dataset (fixture `synth_root`) and a random model's files."""
from __future__ import annotations

from pathlib import Path

from simplepose.engine.config import Config, apply_overrides, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


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

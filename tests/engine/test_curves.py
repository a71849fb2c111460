"""Training-curve PNG: the curves are drawn where the logged values say."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from simplepose.engine.curves import plot_training_curves

LOSS_BGR = (200, 80, 0)
AP_BGR = (0, 140, 0)


def _mask(img: np.ndarray, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.all(np.abs(img.astype(int) - bgr) <= 10, axis=-1)


def test_curves_follow_the_log(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"mode": "train", "step": s, "loss": 1.0 / (1 + s)} for s in range(0, 100, 5)]
    rows += [{"mode": "val", "step": s, "Total AP": ap} for s, ap in ((50, 20.0), (100, 60.0))]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    img = cv2.imread(str(plot_training_curves(log, tmp_path / "curves.png")))
    assert img.shape == (600, 720, 3)
    top, bottom = img[:300], img[300:]
    loss = _mask(top, LOSS_BGR)
    assert loss.any() and not _mask(bottom, LOSS_BGR).any()
    ys, xs = np.nonzero(loss)
    # falling loss: the curve starts high on the left and ends low on the right
    assert ys[xs <= xs.min() + 3].mean() < ys[xs >= xs.max() - 3].mean()
    ys, xs = np.nonzero(_mask(bottom, AP_BGR))
    assert len(xs) and ys[xs <= xs.min() + 3].mean() > ys[xs >= xs.max() - 3].mean()  # rising AP


def test_no_validation_yet(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"mode": "train", "step": 1, "loss": 0.5}) + "\n")
    img = cv2.imread(str(plot_training_curves(log, tmp_path / "c.png")))
    assert not _mask(img[300:], AP_BGR).any()

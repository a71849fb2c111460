"""Training-curve PNG: the curves are drawn where the logged values say, with matplotlib and without."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from simplepose.engine.curves import AP_BGR, LOSS_BGR, plot_training_curves

BACKENDS = ["opencv", pytest.param("matplotlib", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None, reason="matplotlib not installed"))]


def _mask(img: np.ndarray, bgr: tuple[int, int, int]) -> np.ndarray:
    return np.all(np.abs(img.astype(int) - bgr) <= 10, axis=-1)


def _backend(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "opencv":
        monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib raises ImportError


def _write_log(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_curves_follow_the_log(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _backend(backend, monkeypatch)
    rows = [{"mode": "train", "step": s, "loss": 1.0 / (1 + s)} for s in range(0, 100, 5)]
    rows += [{"mode": "val", "step": s, "Total AP": ap} for s, ap in ((50, 20.0), (100, 60.0))]
    img = cv2.imread(str(plot_training_curves(_write_log(tmp_path / "log.jsonl", rows), tmp_path / "curves.png")))
    assert img.shape == (600, 720, 3)
    top, bottom = img[:300], img[300:]
    loss = _mask(top, LOSS_BGR)
    assert loss.any() and not _mask(bottom, LOSS_BGR).any()
    ys, xs = np.nonzero(loss)
    # falling loss: the curve starts high on the left and ends low on the right
    assert ys[xs <= xs.min() + 3].mean() < ys[xs >= xs.max() - 3].mean()
    ys, xs = np.nonzero(_mask(bottom, AP_BGR))
    assert len(xs) and ys[xs <= xs.min() + 3].mean() > ys[xs >= xs.max() - 3].mean()  # rising AP


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_validation_yet(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _backend(backend, monkeypatch)
    log = _write_log(tmp_path / "log.jsonl", [{"mode": "train", "step": 1, "loss": 0.5}])
    img = cv2.imread(str(plot_training_curves(log, tmp_path / "c.png")))
    assert not _mask(img[300:], AP_BGR).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_final_evaluation_shown_without_validation(tmp_path: Path, backend: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _backend(backend, monkeypatch)
    rows = [{"mode": "train", "step": s, "loss": 1.0 / (1 + s)} for s in range(0, 100, 5)]
    log = _write_log(tmp_path / "log.jsonl", rows)
    img = cv2.imread(str(plot_training_curves(log, tmp_path / "c.png", final=(95, 71.5))))
    ys, xs = np.nonzero(_mask(img[300:], AP_BGR))
    assert len(xs) > 10
    loss_x = np.nonzero(_mask(img[:300], LOSS_BGR))[1]
    assert abs(xs.mean() - loss_x.max()) < 15         # the point sits at the last iteration

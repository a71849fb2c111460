"""Training curves as a PNG: train loss and validation AP against iterations, from the metrics log.

Drawn with OpenCV (no plotting dependency), one panel per curve, written atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from simplepose.engine.metrics_log import read_log
from simplepose.visualize import save_image

_W, _H = 720, 300          # one panel, pixels
_MARGIN = (70, 20, 30, 45)  # left, right, top, bottom
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _panel(title: str, xs: np.ndarray, ys: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """One white panel (H, W, 3) with axes, min/max tick labels and the curve ys(xs)."""
    img = np.full((_H, _W, 3), 255, np.uint8)
    left, right, top, bottom = _MARGIN
    x0, x1, y0, y1 = left, _W - right, top, _H - bottom
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    cv2.putText(img, title, (x0, top - 8), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        cv2.putText(img, "no data", (x0 + 10, (y0 + y1) // 2), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        return img
    xmin, xmax = float(xs.min()), float(xs.max())
    ymin, ymax = float(ys.min()), float(ys.max())
    xmax = xmax if xmax > xmin else xmin + 1.0
    ymax = ymax if ymax > ymin else ymin + 1.0
    px = x0 + (xs - xmin) / (xmax - xmin) * (x1 - x0)
    py = y1 - (ys - ymin) / (ymax - ymin) * (y1 - y0)
    pts = np.stack([px, py], axis=1).round().astype(np.int32)
    cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
    if len(pts) < 30:
        for p in pts:
            cv2.circle(img, (int(p[0]), int(p[1])), 3, colour, -1, cv2.LINE_AA)
    for value, y in ((ymax, y0 + 12), (ymin, y1)):
        cv2.putText(img, f"{value:.4g}", (4, y), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for value, x in ((xmin, x0), (xmax, x1 - 40)):
        cv2.putText(img, f"{value:.0f}", (x, y1 + 16), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "iteration", ((x0 + x1) // 2 - 30, _H - 8), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def plot_training_curves(log_path: str | os.PathLike, out_path: str | os.PathLike,
                         metric: str = "Total AP") -> Path:
    """Draw train loss and the validation `metric` against iterations from a log.jsonl; PNG, atomic."""
    records = read_log(log_path)
    train = [r for r in records if r.get("mode") == "train" and isinstance(r.get("loss"), (int, float))]
    val = [r for r in records if r.get("mode") == "val" and isinstance(r.get(metric), (int, float))]
    loss = _panel("train loss", np.array([r["step"] for r in train], float),
                  np.array([r["loss"] for r in train], float), (200, 80, 0))
    ap = _panel(f"val {metric}", np.array([r["step"] for r in val], float),
                np.array([r[metric] for r in val], float), (0, 140, 0))
    return save_image(out_path, np.concatenate([loss, ap], axis=0))

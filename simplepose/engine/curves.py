"""Training curves as a PNG: train loss and validation AP against iterations, from the metrics log.

Drawn with matplotlib (Agg backend, a dependency) where it imports, else with OpenCV as a
plain fallback; one panel per curve, written atomically. Where no validation ran during training
(val_interval 0, as in the demo), a final evaluation given by the caller is shown as one point.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simplepose.engine.metrics_log import read_log
from simplepose.io import atomic_write
from simplepose.visualize import save_image

_W, _H = 720, 300          # one panel, pixels
_MARGIN = (70, 20, 30, 45)  # left, right, top, bottom
_FONT = cv2.FONT_HERSHEY_SIMPLEX
LOSS_BGR = (200, 80, 0)
AP_BGR = (0, 140, 0)


def _panel(title: str, xs: np.ndarray, ys: np.ndarray, colour: tuple[int, int, int],
           xrange: tuple[float, float] | None = None) -> np.ndarray:
    """One white panel (H, W, 3) with axes, min/max tick labels and the curve ys(xs); xrange: x axis limits."""
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
    xmin, xmax = xrange if xrange is not None else (float(xs.min()), float(xs.max()))
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


def _draw_opencv(loss: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], title: str) -> np.ndarray:
    """Both panels stacked (2H, W, 3) with OpenCV, on the same iteration axis."""
    xs = np.concatenate([loss[0], val[0]])
    xs = xs[np.isfinite(xs)]
    xrange = (float(xs.min()), float(xs.max())) if len(xs) else None
    return np.concatenate([_panel("train loss", *loss, LOSS_BGR, xrange), _panel(title, *val, AP_BGR, xrange)],
                          axis=0)


def _draw_matplotlib(plt: Any, loss: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                     title: str, out_path: Path, percent: bool) -> Path:
    """Both panels with matplotlib into out_path (PNG, atomic); percent: the value axis spans 0..100."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(_W / 100, 2 * _H / 100), dpi=100, sharex=True)
    rgb = [tuple(c / 255 for c in bgr[::-1]) for bgr in (LOSS_BGR, AP_BGR)]
    top.plot(*loss, color=rgb[0], lw=2, marker="o" if len(loss[0]) < 3 else None, ms=5)
    top.set_title("train loss", fontsize=10)
    top.set_yscale("log" if len(loss[1]) and (loss[1] > 0).all() else "linear")
    bottom.plot(*val, color=rgb[1], lw=2, marker="o" if len(val[0]) < 30 else None, ms=5)
    for x, y in zip(*val) if len(val[0]) <= 3 else ():
        bottom.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(-8, 6), ha="right")
    bottom.set_title(title, fontsize=10)
    if percent:
        bottom.set_ylim(0, 100)
    if not len(val[0]):
        bottom.text(0.5, 0.5, "no validation logged", ha="center", va="center", transform=bottom.transAxes)
    bottom.set_xlabel("iteration")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.09, hspace=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write(out_path, lambda f: f.write(buf.getvalue()), mode="wb")


def plot_training_curves(log_path: str | os.PathLike, out_path: str | os.PathLike,
                         metric: str = "Total AP", final: tuple[int, float] | None = None) -> Path:
    """Draw train loss and the validation `metric` against iterations from a log.jsonl; PNG, atomic.

    final: (iteration, value) of an evaluation after training, shown when the log has no validation.
    """
    records = read_log(log_path)
    train = [r for r in records if r.get("mode") == "train" and isinstance(r.get("loss"), (int, float))]
    val = [r for r in records if r.get("mode") == "val" and isinstance(r.get(metric), (int, float))]
    loss = (np.array([r["step"] for r in train], float), np.array([r["loss"] for r in train], float))
    points = (np.array([r["step"] for r in val], float), np.array([r[metric] for r in val], float))
    title = f"val {metric}"
    if not val and final is not None:
        points = (np.array([final[0]], float), np.array([final[1]], float))
        title = f"{metric} of the final evaluation (no validation during training)"
    try:
        import matplotlib        # loaded only to draw (a dependency); OpenCV draws a plain version without it
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return save_image(out_path, _draw_opencv(loss, points, title))
    percent = metric.endswith("AP") and bool(((points[1] >= 0) & (points[1] <= 100)).all())
    return _draw_matplotlib(plt, loss, points, title, Path(out_path), percent)

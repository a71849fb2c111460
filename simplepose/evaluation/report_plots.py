"""The evaluation report's figures, drawn with matplotlib's Agg backend from the report's JSON.

One function per figure; each takes pyplot and the report dict (``report.build_report_data``) and
returns the figure with its margins, or None when there is nothing to draw. The numbers drawn
are the report's, so each figure's CSV (written by ``report``) holds exactly what it shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from simplepose.evaluation.diagnosis import CLASSES, ORACLE_CLASSES
from simplepose.evaluation.poseval_files import JOINT_NAMES, NUM_JOINTS

Figure = tuple[Any, dict[str, float]]      # a matplotlib figure and its subplots_adjust margins
BLUE, ORANGE, PURPLE = "#3b6fb6", "#e08a2c", "#7a4fb0"
CLASS_COLOURS = {"good": "#4caf50", "jitter": "#ffc107", "inversion": "#1e88e5", "swap": "#8e24aa",
                 "miss": "#f44336", "background_fp": "#607d8b", "background_fn": "#212121"}
# precision-recall panels: poseval joint indices
CURVE_PANELS = (("head and shoulders", (14, 13, 12, 8, 9)), ("arms", (7, 10, 6, 11)),
                ("legs", (2, 3, 1, 4, 0, 5)))
JOINT_LABELS = [n.replace("_", " ") for n in JOINT_NAMES[:NUM_JOINTS]]


def nan_array(values: list) -> np.ndarray:
    """JSON numbers (None = NaN) as a float array."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def ap_per_joint(plt: Any, r: dict[str, Any]) -> Figure:
    """AP bars per joint, the compared predictions beside them."""
    x = np.arange(NUM_JOINTS)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    compare = r.get("compare")
    width = 0.4 if compare else 0.8
    ax.bar(x - (width / 2 if compare else 0), nan_array(r["evaluation"]["ap"][:NUM_JOINTS]), width,
           label="prediction", color=BLUE)
    if compare:
        ax.bar(x + width / 2, nan_array(compare["evaluation"]["ap"][:NUM_JOINTS]), width,
               label=compare["name"], color=ORANGE)
        ax.legend()
    ax.set_xticks(x, JOINT_LABELS, rotation=45, ha="right")
    ax.set_ylabel("AP (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    return fig, {"bottom": 0.3, "left": 0.07}


def pr_curves(plt: Any, r: dict[str, Any]) -> Figure:
    """Precision against recall per joint, in three panels (left joints dashed)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    for a, (title, group) in zip(axes, CURVE_PANELS):
        for j in group:
            c = r["pr_curves"][j]
            style = "--" if JOINT_NAMES[j].startswith("left") else "-"
            a.plot(nan_array(c["recall"]), nan_array(c["precision"]), style, label=JOINT_LABELS[j])
        a.set_title(title, fontsize=10)
        a.set_xlim(0, 100)
        a.set_ylim(0, 100)
        a.set_xlabel("recall (%)")
        a.grid(alpha=0.3)
        a.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("precision (%)")
    return fig, {"bottom": 0.14, "top": 0.92, "left": 0.06, "wspace": 0.06}


def per_sequence(plt: Any, r: dict[str, Any]) -> Figure:
    """Histograms of the per-sequence Total AP (and MOTA)."""
    seq = r["per_sequence"]
    has_mota = bool(seq) and "mota" in seq[0]
    fig, axes = plt.subplots(1, 2 if has_mota else 1, figsize=(10 if has_mota else 6, 3.4), squeeze=False)
    axes[0, 0].hist(nan_array([s["ap"] for s in seq]), bins=20, range=(0, 100), color=BLUE)
    axes[0, 0].set_xlabel("sequence Total AP (%)")
    axes[0, 0].set_ylabel("sequences")
    if has_mota:
        mota = nan_array([s["mota"] for s in seq])
        axes[0, 1].hist(mota[np.isfinite(mota)], bins=20, color=PURPLE)
        axes[0, 1].set_xlabel("sequence MOTA Total (%)")
    for a in axes[0]:
        a.yaxis.get_major_locator().set_params(integer=True)
    return fig, {"bottom": 0.16}


def by_group(plt: Any, r: dict[str, Any]) -> Figure:
    """Total AP by person size and by visible joints."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for a, key, title in ((axes[0], "by_size", "person size"), (axes[1], "by_visible", "visible joints")):
        groups = r[key]["groups"]
        a.bar(np.arange(len(groups)), nan_array([g["ap"][NUM_JOINTS] for g in groups]), color=BLUE)
        a.set_xticks(np.arange(len(groups)), [g["name"] for g in groups])
        a.set_ylim(0, 100)
        a.set_ylabel("Total AP (%)")
        a.set_title(f"AP by {title}", fontsize=10)
    return fig, {"wspace": 0.25}


def diagnosis(plt: Any, r: dict[str, Any]) -> Figure:
    """Per joint, the share of predicted joints in each error class (stacked bars)."""
    counts = r["diagnosis"]["counts"]
    x = np.arange(NUM_JOINTS)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    totals = np.sum([nan_array(counts[c][:NUM_JOINTS]) for c in CLASSES], axis=0)
    left = np.zeros(NUM_JOINTS)
    for c in CLASSES:
        share = 100 * nan_array(counts[c][:NUM_JOINTS]) / np.maximum(totals, 1)
        ax.barh(x, share, left=left, color=CLASS_COLOURS[c], label=c.replace("_", " "))
        left += share
    ax.set_yticks(x, JOINT_LABELS)
    ax.invert_yaxis()
    ax.set_xlabel("share of predicted joints (%)")
    ax.set_xlim(0, 100)
    ax.legend(ncol=6, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.13))
    return fig, {"left": 0.14, "top": 0.88, "bottom": 0.12}


def oracle(plt: Any, r: dict[str, Any]) -> Figure:
    """Total AP gained if each error class alone were fixed."""
    gains = [r["diagnosis"]["oracle_gain"][c][NUM_JOINTS] or 0.0 for c in ORACLE_CLASSES]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(np.arange(len(gains)), gains, color=[CLASS_COLOURS[c] for c in ORACLE_CLASSES])
    ax.set_xticks(np.arange(len(gains)), [c.replace("background_", "bg ") for c in ORACLE_CLASSES])
    ax.set_ylabel("Total AP gained if fixed")
    ax.grid(axis="y", alpha=0.3)
    return fig, {"left": 0.12, "bottom": 0.12}


def timelines(plt: Any, r: dict[str, Any]) -> Figure | None:
    """One strip per worst-MOTA sequence: id switches (red) over misses + false positives (grey)."""
    tl = r.get("timelines")
    if not tl:
        return None
    height = 0.9 * len(tl) + 0.6
    fig, axes = plt.subplots(len(tl), 1, figsize=(10, height), squeeze=False)
    for a, t in zip(axes[:, 0], tl):
        pos = np.arange(len(t["switches"]))
        a.bar(pos, np.array(t["misses"]) + np.array(t["fps"]), color="#cfd8dc", width=1.0)
        a.vlines(np.flatnonzero(np.array(t["switches"]) > 0), 0, 1, transform=a.get_xaxis_transform(),
                 color="#d32f2f", lw=2)
        a.set_xlim(-0.5, max(len(pos), 1) - 0.5)
        a.set_yticks([])
        a.set_ylabel(t["video"], rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlabel("evaluated frame (red: id switch; grey: misses + false positives)")
    return fig, {"left": 0.2, "top": 0.97, "bottom": 0.72 / height, "hspace": 0.4}


FIGURES: dict[str, Callable[[Any, dict[str, Any]], Figure | None]] = {
    "ap_per_joint": ap_per_joint, "pr_curves": pr_curves, "per_sequence": per_sequence, "by_group": by_group,
    "diagnosis": diagnosis, "oracle": oracle, "timelines": timelines,
}


def draw_plots(out: Path, r: dict[str, Any]) -> dict[str, str | None]:
    """Every figure as out/<name>.png; the file name by figure, None where not drawn (or no matplotlib)."""
    try:
        import matplotlib        # loaded only to draw (a dependency; the page falls back to tables without it)
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return dict.fromkeys(FIGURES)
    drawn: dict[str, str | None] = {}
    for name, draw in FIGURES.items():
        made = draw(plt, r)
        drawn[name] = None
        if made is not None:
            fig, margins = made
            fig.subplots_adjust(**{"left": 0.08, "right": 0.98, "top": 0.92, "bottom": 0.18, **margins})
            fig.savefig(out / f"{name}.png", dpi=80)
            plt.close(fig)
            drawn[name] = f"{name}.png"
    return drawn

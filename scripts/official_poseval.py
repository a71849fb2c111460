"""Check prediction files against the official PoseTrack evaluation (poseval): every number side by side.

Runs the official command line, `python -m poseval.evaluate --groundTruth GT/ --predictions PRED/
--evalPoseEstimation --evalPoseTracking --outputDir TMP` (it writes total_AP_metrics.json and
total_MOT_metrics.json at full precision), and `simplepose eval GT PRED --tracking --json`, and
compares per joint (poseval's 15 joints and Total) AP, precision, recall, MOTA, MOTP, tracking
precision and recall; with --track-json (the --json of `simplepose track`), its printed totals too.
Numbers agree when they differ by at most --tol (percent; NaN only equals NaN). Exit status 0 when
everything agrees, 1 otherwise.

    python scripts/official_poseval.py GT_DIR PRED_DIR [--track-json M.json] [--poseval-python PY]

poseval is not a dependency of simplepose: install it where PY runs, e.g.
    python -m venv --system-site-packages /tmp/pv && /tmp/pv/bin/pip install motmetrics==1.4.0 shapely \\
        click tqdm pandas git+https://github.com/svenkreiss/poseval
(the MMPose-installed fork; its CLI crashes on a video with exactly one labeled frame).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout's simplepose, run from anywhere

from simplepose.cli import main as simplepose_main  # noqa: E402

TOL = 1e-6
# (row name, key in poseval's output, key in simplepose eval's JSON, tracking metric?)
ROWS = [("AP", "ap", "ap", False), ("precision", "pre", "precision", False), ("recall", "rec", "recall", False),
        ("MOTA", "mota", "mota", True), ("MOTP", "motp", "motp", True),
        ("MOT precision", "pre", "precision", True), ("MOT recall", "rec", "recall", True)]
# `simplepose track --json` metrics -> (row, Total)
TRACK_TOTALS = {"mAP": "AP", "MOTA": "MOTA", "MOTP": "MOTP", "precision": "MOT precision", "recall": "MOT recall"}


def has_poseval(python: str) -> bool:
    """Whether `python` imports poseval (and its motmetrics)."""
    done = subprocess.run([python, "-c", "import poseval.evaluate, motmetrics"], capture_output=True)
    return done.returncode == 0


def official(gt_dir: Path, pred_dir: Path, python: str, out: Path) -> tuple[dict, dict]:
    """poseval's (AP metrics, MOT metrics) from its command line."""
    cmd = [python, "-m", "poseval.evaluate", "--groundTruth", f"{gt_dir}/", "--predictions", f"{pred_dir}/",
           "--evalPoseEstimation", "--evalPoseTracking", "--outputDir", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"poseval failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return (json.loads((out / "total_AP_metrics.json").read_text()),
            json.loads((out / "total_MOT_metrics.json").read_text()))


def ours(gt_dir: Path, pred_dir: Path, out: Path) -> dict:
    """`simplepose eval GT PRED --tracking --json`'s numbers."""
    with contextlib.redirect_stdout(io.StringIO()):          # its tables: this script prints every number
        rc = simplepose_main(["eval", str(gt_dir), str(pred_dir), "--tracking", "--json", str(out)])
    if rc != 0:
        raise SystemExit("simplepose eval failed")
    return json.loads(out.read_text())


def _num(v: float | None) -> float:
    """A JSON number, None (our NaN) as NaN."""
    return math.nan if v is None else float(v)


def same(a: float, b: float, tol: float) -> bool:
    """Equal within tol, NaN only equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or (not math.isnan(a) and not math.isnan(b) and abs(a - b) <= tol)


def compare(gt_dir: Path, pred_dir: Path, python: str, track_json: Path | None = None,
            tol: float = TOL) -> tuple[list[tuple[str, str, float, float, float | None]], list[str]]:
    """Rows (metric, joint, poseval, simplepose eval, simplepose track or None) and the disagreements."""
    with tempfile.TemporaryDirectory() as tmp:
        ap, mot = official(gt_dir, pred_dir, python, Path(tmp) / "poseval")
        ev = ours(gt_dir, pred_dir, Path(tmp) / "eval.json")
    names = [ap["names"][str(i)] for i in range(16)]
    if [mot["names"][str(i)] for i in range(16)] != names or ev["joint_names"] != names:
        raise SystemExit(f"joint orders differ: poseval {names}, simplepose {ev['joint_names']}")
    track = json.loads(track_json.read_text())["metrics"] if track_json else {}
    track_total = {row: track[key] for key, row in TRACK_TOTALS.items() if key in track}
    rows, bad = [], []
    for row, pkey, skey, tracking in ROWS:
        theirs, mine = (mot, ev["tracking"]) if tracking else (ap, ev)
        for j, name in enumerate(names):
            a, b = float(theirs[pkey][j]), _num(mine[skey][j])
            t = _num(track_total[row]) if (j == 15 and row in track_total) else None
            rows.append((row, name, a, b, t))
            if not same(a, b, tol):
                bad.append(f"{row} {name}: poseval {a!r}, simplepose eval {b!r}")
            if t is not None and not same(a, t, tol):
                bad.append(f"{row} {name}: poseval {a!r}, simplepose track {t!r}")
    return rows, bad


def main(argv: list[str] | None = None) -> int:
    """Print the side-by-side table; 0 when every number agrees."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gt_dir", type=Path, help="ground-truth folder (one PoseTrack18 file per video)")
    p.add_argument("pred_dir", type=Path, help="prediction folder (same file names)")
    p.add_argument("--track-json", type=Path, help="the --json of the `simplepose track` run that wrote PRED_DIR")
    p.add_argument("--poseval-python", default=sys.executable, help="a python that imports poseval (default: this one)")
    p.add_argument("--tol", type=float, default=TOL, help=f"largest difference that agrees, percent (default {TOL})")
    args = p.parse_args(argv)
    if not has_poseval(args.poseval_python):
        print(f"{args.poseval_python} cannot import poseval (see this script's docstring)", file=sys.stderr)
        return 2
    rows, bad = compare(args.gt_dir, args.pred_dir, args.poseval_python, args.track_json, args.tol)
    print("| metric | joint | poseval | simplepose eval | simplepose track |")
    print("|---|---|---|---|---|")
    for row, name, a, b, t in rows:
        print(f"| {row} | {name} | {a:.6f} | {b:.6f} | {'' if t is None else f'{t:.6f}'} |")
    worst = max((abs(a - b) for _, _, a, b, _ in rows if not (math.isnan(a) or math.isnan(b))), default=0.0)
    print(f"{len(rows)} numbers compared, largest |poseval - simplepose eval| = {worst:.3g}")
    for line in bad:
        print("DIFFERS: " + line)
    print("all agree" if not bad else f"{len(bad)} differ beyond {args.tol}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

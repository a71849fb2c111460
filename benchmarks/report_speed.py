"""Time of the evaluation report against the evaluation itself, on the eval benchmark's case.

Builds the PoseTrack18-val-sized synthetic case of benchmarks/eval_speed.py (170 videos x 30
labelled frames, ~29k GT persons; no images, so no gallery), times the evaluation (loading + AP,
and the tracking metrics with --tracking) and then the report on top of it: its numbers
(diagnosis, breakdowns, curves), its plots and its files. Prints the ratio report / evaluation
and the machine.

    python benchmarks/report_speed.py [--videos 170] [--tracking] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_speed import generate  # noqa: E402  (the eval benchmark's case builder)
from host import cpu  # noqa: E402  (benchmarks/host.py)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=170)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (best is reported)")
    ap.add_argument("--tracking", action="store_true", help="also the tracking metrics and their report parts")
    args = ap.parse_args()

    import matplotlib  # noqa: F401  (imported once before timing: its import is not the report's cost)

    from simplepose.evaluation import report as report_module
    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.mota import evaluate_tracking
    from simplepose.evaluation.pose_ap import evaluate_data

    print(f"machine: {cpu()}")
    with tempfile.TemporaryDirectory(prefix="report_speed_") as tmp:
        root = Path(tmp)
        counts = generate(root, args.videos, 30, 6, 0)
        print(f"case: {args.videos} videos x 30 labelled frames, {counts['gt_persons']} GT persons, "
              f"{counts['pred_persons']} predicted persons")
        best: dict[str, float] = {}
        for i in range(args.repeat):
            t0 = time.perf_counter()
            data = load_eval_data(root / "gt", root / "pred")
            result = evaluate_data(data)
            tracking = evaluate_tracking(data) if args.tracking else None
            t1 = time.perf_counter()
            report, _ = report_module.build_report_data(data, result, tracking)
            t2 = time.perf_counter()
            report_module.write_report(root / f"report{i}", data, result, tracking)
            t3 = time.perf_counter()
            for key, value in (("evaluation", t1 - t0), ("report numbers", t2 - t1), ("report total", t3 - t2)):
                best[key] = min(best.get(key, float("inf")), value)
        print(f"evaluation{' + tracking' if args.tracking else ''}: {best['evaluation']:.2f} s")
        print(f"report: {best['report total']:.2f} s in all ({best['report numbers']:.2f} s of it the "
              f"diagnosis, breakdowns and curves, computed again inside write_report); best of {args.repeat}")
        print(f"report / evaluation: {best['report total'] / best['evaluation']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

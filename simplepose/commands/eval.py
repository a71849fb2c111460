"""`simplepose eval GT_DIR PRED_DIR [--json OUT] [--report DIR]`: the official PoseTrack18 mAP of prediction files;
with --tracking poseval's MOTA and the PoseTrack21 kit's keypoint HOTA."""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from simplepose.errors import ConfigError
from simplepose.io import write_json

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the eval command."""
    parser.add_argument("gt_dir", help="folder of ground-truth per-video PoseTrack18 files (annotations/val)")
    parser.add_argument("pred_dir", help="folder of prediction files with the same file names")
    parser.add_argument("--json", metavar="OUT", default=None,
                        help="write per-joint AP/precision/recall and the summary table to this JSON")
    parser.add_argument("--all", action="store_true", help="also print precision and recall rows")
    parser.add_argument("--tracking", action="store_true",
                        help="also compute the tracking metrics: poseval's MOTA, MOTP, precision, recall, the "
                             "PoseTrack21 kit's keypoint HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA, and jitter (keypoint acceleration error on consecutive labeled frames)")
    parser.add_argument("--hota-kit-defect", action="store_true",
                        help="keypoint HOTA as the PoseTrack21 kit is published: a frame without GT (predicted) "
                             "persons adds the whole sequence's predicted (GT) joints to FP (FN) "
                             "(anDoer/PoseTrack21#10, fixed by default)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar while reading")
    parser.add_argument("--report", metavar="DIR", default=None,
                        help="write an HTML report (plots, per-sequence AP, error diagnosis) to DIR/index.html")
    parser.add_argument("--compare", metavar="PRED2", default=None,
                        help="with --report: a second prediction folder shown beside the first, with differences")
    parser.add_argument("--images", metavar="ROOT", default=None,
                        help="with --report: folder the GT image file names are relative to (default: found "
                             "from the GT folder, e.g. ROOT/annotations/val -> ROOT)")
    parser.epilog = ("Frames are paired by file_name (then image id), not by position as poseval pairs them. "
                     "Ties: the numbers equal poseval's when joint scores are distinct; where equal scores mix "
                     "true and false positives (a warning says so) poseval's own AP depends on numpy's unstable "
                     "sort (it differs between machines, e.g. with AVX-512), and simplepose keeps list order.")


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table, optionally write JSON."""
    # the evaluator loads here, not at import: the CLI imports every command module for its parser
    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.hota import evaluate_hota, format_hota_table
    from simplepose.evaluation.jitter import evaluate_jitter, format_jitter
    from simplepose.evaluation.mota import evaluate_tracking, format_tracking_table, short_sequences
    from simplepose.evaluation.pose_ap import evaluate_data, format_table
    from simplepose.evaluation.report import Compared, find_images_root, write_report

    if (args.compare or args.images) and not args.report:
        raise ConfigError(None, "--compare and --images need --report DIR")
    if args.hota_kit_defect and not args.tracking:
        raise ConfigError(None, "--hota-kit-defect needs --tracking")
    t0 = time.perf_counter()
    data = load_eval_data(args.gt_dir, args.pred_dir, progress=args.progress)
    result = evaluate_data(data)
    log.info("evaluated %d videos, %d frames in %.2f s", len(result.videos), result.n_frames,
             time.perf_counter() - t0)
    rows = ("ap", "precision", "recall") if args.all else ("ap",)
    print(format_table(result, rows=rows))
    out = result.to_json()
    tracking = hota = None
    if args.tracking:
        tracking = evaluate_tracking(data)
        print()
        print(format_tracking_table(tracking))
        short = short_sequences(data)
        if short and np.isnan(tracking.summary).any():
            print(f"nan: MOTA needs >= 2 labelled frames per sequence (poseval leaves out each sequence's last "
                  f"frame); {len(short)} of {len(data.videos)} sequence(s) have fewer: {', '.join(short[:5])}"
                  f"{' ...' if len(short) > 5 else ''}")
        out["tracking"] = tracking.to_json()
        hota = evaluate_hota(data, kit_defect=args.hota_kit_defect)
        print()
        print(format_hota_table(hota))
        out["hota"] = hota.to_json()
        jitter = evaluate_jitter(data, tracking)
        print(format_jitter(jitter))
        out["jitter"] = jitter.to_json()
    if args.json:
        write_json(args.json, out, indent=1)
        log.info("wrote %s", args.json)
    if args.report:
        t0 = time.perf_counter()
        compare = None
        if args.compare:
            other = load_eval_data(args.gt_dir, args.compare, progress=args.progress)
            compare = Compared(args.compare, other, evaluate_data(other),
                               evaluate_tracking(other) if args.tracking else None,
                               evaluate_hota(other, kit_defect=args.hota_kit_defect) if args.tracking else None)
        images = args.images or find_images_root(args.gt_dir, data.file_names)
        index = write_report(args.report, data, result, tracking, compare, images,
                             extra={"gt": str(args.gt_dir), "pred": str(args.pred_dir)}, hota=hota)
        log.info("report in %.2f s", time.perf_counter() - t0)
        print(f"report: {index}")
    return 0

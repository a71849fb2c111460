"""Run the official PoseTrack21 evaluation kit's keypoint HOTA on a GT and a prediction folder and
print its numbers as JSON (the goldens of tests/evaluation/golden_hota and the peer of
benchmarks/eval_speed.py come from here).

The kit is not a dependency of simplepose, and none of its code is in this checkout: run this
script with a Python that has numpy, scipy and shapely, and point --kit at the kit's folder:

    git clone https://github.com/anDoer/PoseTrack21 /tmp/PoseTrack21
    python -m venv /tmp/pt21 && /tmp/pt21/bin/pip install numpy scipy shapely tqdm
    /tmp/pt21/bin/python scripts/posetrack21_kit.py --kit /tmp/PoseTrack21/eval/posetrack21 GT PRED [--fixed]

What the script changes in the kit, in memory, and nothing else:
1. numpy >= 1.24 removed ``np.int`` and ``np.float``; they are restored as ``int`` and ``float``.
2. The kit's loader cannot load a labelled frame without GT persons (it leaves the frame's head
   sizes None, or after ignore regions a 1-D empty array of poses): such frames are given empty
   (0, 15, 3) poses, ids and head sizes, so that its metric code runs on them as written.
3. With --fixed, anDoer/PoseTrack21#10: in the metric's two statements that add, for a frame
   without GT (predicted) persons, the sequence's predicted (GT) joint counts to FP (FN), the
   counts are replaced by that frame's (the metric's own per-frame variables), by rewriting the
   syntax tree of ``HOTAeypoints.eval_sequence``.

Output: {"fixed": bool, "seconds": float, "sequences": {file: {field: 19 x 16}}, "combined": {...}}
with the fields HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA, HOTA_TP, HOTA_FN, HOTA_FP
(19 alphas; 15 joints in the kit's order, then the total).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import json
import os
import sys
import tempfile
import textwrap
import time

import numpy as np

FIELDS = ["HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "HOTA_TP", "HOTA_FN", "HOTA_FP"]
# per-sequence count -> the metric's per-frame count of the same joints (issue #10)
_PER_FRAME = {"num_tracker_joints": "num_det_joints_t", "num_gt_joints": "num_gt_joints_t"}


def restore_numpy_aliases() -> None:
    """np.int and np.float for numpy >= 1.24 (np.bool exists again in numpy 2)."""
    for name, value in (("int", int), ("float", float), ("bool", bool)):
        if name not in np.__dict__:
            setattr(np, name, value)


def load_empty_gt_frames(trackeval) -> None:
    """Give labelled frames without GT persons empty arrays in the kit's loader."""
    dataset = trackeval.datasets.PoseTrack
    similarities, raw = dataset._calculate_p_similarities, dataset.get_raw_seq_data

    def fixed_similarities(self, gt_dets_t, tracker_dets_t, head_sizes_t):
        """The kit's similarities, with (0, 15, 3) poses for a frame without GT persons."""
        if len(gt_dets_t) == 0:
            gt_dets_t, head_sizes_t = np.empty((0, self.n_joints, 3)), np.empty(0)
        return similarities(self, gt_dets_t, tracker_dets_t, head_sizes_t)

    def fixed_raw(self, tracker, seq):
        """The kit's loading, then empty arrays for frames left without GT persons."""
        data = raw(self, tracker, seq)
        for t in range(data["num_timesteps"]):
            if len(data["gt_ids"][t]) == 0:
                data["gt_dets"][t] = np.empty((0, self.n_joints, 3))
                data["gt_ids"][t] = np.empty(0, dtype=int)
                data["head_sizes"][t] = np.empty(0)
        return data

    dataset._calculate_p_similarities = fixed_similarities
    dataset.get_raw_seq_data = fixed_raw


class _PerFrameCounts(ast.NodeTransformer):
    """`x += <sequence count>` -> `x += <frame count>`."""

    def __init__(self) -> None:
        """Nothing replaced yet."""
        self.replaced = 0

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AugAssign:
        """Replace a sequence count added in place by the frame's."""
        if isinstance(node.value, ast.Name) and node.value.id in _PER_FRAME:
            node.value = ast.copy_location(ast.Name(_PER_FRAME[node.value.id], ast.Load()), node.value)
            self.replaced += 1
        return node


def fix_issue_10(trackeval) -> None:
    """Rewrite HOTAeypoints.eval_sequence to add per-frame counts for frames without GT or predictions."""
    from posetrack21.trackeval.metrics import hota_pose
    cls = hota_pose.HOTAeypoints
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.eval_sequence)))
    fixer = _PerFrameCounts()
    tree = ast.fix_missing_locations(fixer.visit(tree))
    if fixer.replaced != 2:
        raise SystemExit(f"expected 2 statements to fix in the kit's eval_sequence, found {fixer.replaced}")
    namespace = dict(vars(hota_pose))
    exec(compile(tree, inspect.getsourcefile(cls), "exec"), namespace)
    cls.eval_sequence = namespace["eval_sequence"]


def run(kit: str, gt_dir: str, pred_dir: str, fixed: bool) -> dict:
    """Evaluate and return the kit's arrays."""
    sys.path.insert(0, os.path.abspath(kit))
    restore_numpy_aliases()
    import posetrack21.trackeval as trackeval
    load_empty_gt_frames(trackeval)
    if fixed:
        fix_issue_10(trackeval)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        tracker = os.path.join(tmp, "sequences")        # the kit reads a folder named 'sequences' as one tracker
        os.symlink(os.path.abspath(pred_dir), tracker)
        config = {**trackeval.Evaluator.get_default_eval_config(), "PRINT_RESULTS": False,
                  "OUTPUT_PAPER_SUMMARY": False, "TIME_PROGRESS": False, "LOG_ON_ERROR": None}
        t0 = time.perf_counter()
        evaluator = trackeval.Evaluator(config)
        dataset = trackeval.datasets.PoseTrack({"GT_FOLDER": os.path.abspath(gt_dir) + "/", "TRACKERS_FOLDER": tracker,
                                                "PRINT_CONFIG": False, "ASSURE_SINGLE_TRACKER": True})
        out, msg = evaluator.evaluate([dataset], [trackeval.metrics.HOTAeypoints()])
        seconds = time.perf_counter() - t0
    res = out["PoseTrack"]["sequences"]
    if res is None:
        raise SystemExit(f"the kit failed: {msg}")

    def numbers(r: dict) -> dict:
        """The result arrays as nested lists."""
        return {f: np.asarray(r[f], dtype=float).tolist() for f in FIELDS}

    return {"fixed": fixed, "seconds": seconds,
            "sequences": {k: numbers(v["person"]["HOTAeypoints"]) for k, v in res.items() if k != "COMBINED_SEQ"},
            "combined": numbers(res["COMBINED_SEQ"]["person"]["HOTAeypoints"])}


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gt_dir")
    ap.add_argument("pred_dir")
    ap.add_argument("--kit", required=True, help="the kit's folder: <PoseTrack21 checkout>/eval/posetrack21")
    ap.add_argument("--fixed", action="store_true", help="with anDoer/PoseTrack21#10 fixed")
    ap.add_argument("--out", help="write the JSON here instead of stdout")
    args = ap.parse_args()
    text = json.dumps(run(args.kit, args.gt_dir, args.pred_dir, args.fixed))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()

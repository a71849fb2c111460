"""Speed of simplepose's PoseTrack18 mAP against the official poseval on a val-sized case.

Generates a synthetic PoseTrack18-val-sized case (170 videos, 30 labelled frames each, about 6
persons per frame, ~29k GT persons, ~40 MB of JSON) into a temporary folder and times our
evaluation end to end, loading included. The official code (poseval, as MMPose calls it) took
46.8 s on such a case on this machine type (14.3 s loading, 32.5 s evaluateAP): that recorded
number is printed unless a poseval installation is given, in which case poseval is run on the
same files in the same run and its numbers are compared with ours.

    python benchmarks/eval_speed.py [--videos 170] [--keep DIR]
    POSEVAL_PYTHON=/path/to/venv/bin/python POSEVAL_PATH=/dir/containing/poseval \\
        python benchmarks/eval_speed.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RECORDED_OFFICIAL_S = 46.8          # poseval load_data_dir + evaluateAP on this case size
RECORDED_OFFICIAL_LOAD_S = 14.3

NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
         "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
# a standing person, in units of head sizes, relative to the head bottom
_TEMPLATE = np.array([
    [0, -0.6], [0, 0], [0, -1.3], [0, 0], [0, 0], [0.9, 0.3], [-0.9, 0.3], [1.2, 1.6], [-1.2, 1.6],
    [1.3, 2.8], [-1.3, 2.8], [0.6, 3.2], [-0.6, 3.2], [0.6, 4.8], [-0.6, 4.8], [0.6, 6.4],
    [-0.6, 6.4]])


def _polygon(rng: np.random.Generator, cx: float, cy: float, r: float) -> tuple[list, list]:
    """A random star-shaped (possibly concave) polygon with 8..24 integer vertices."""
    n = int(rng.integers(8, 25))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.4, 1.0, n)
    return ((cx + rad * np.cos(ang)).round().tolist(), (cy + rad * np.sin(ang)).round().tolist())


def make_video(rng: np.random.Generator, seq: int, n_labeled: int, persons: int,
               counter: list[int]) -> tuple[dict, dict]:
    """One video's GT and prediction dicts (PoseTrack18 per-video layout, as MMPose writes them)."""
    n_frames = 2 * n_labeled + 1
    name = f"{seq:06d}_mpii_test"
    images, gt_anns, pred_anns = [], [], []
    n_tracks = max(1, int(rng.integers(persons - 2, persons + 3)))
    start = rng.uniform([100, 100], [1700, 500], (n_tracks, 2))
    velocity = rng.normal(0, 3, (n_tracks, 2))
    head = rng.uniform(20, 70, n_tracks)
    for f in range(n_frames):
        image_id = 10000000000 + seq * 10000 + f
        labeled = f % 2 == 0 and f // 2 < n_labeled
        im = {"has_no_densepose": True, "is_labeled": labeled, "file_name": f"images/val/{name}/{f:06d}.jpg",
              "nframes": n_frames, "frame_id": image_id, "vid_id": f"{seq:06d}", "id": image_id,
              "width": 1920, "height": 1080}
        if labeled and rng.random() < 0.3:
            polys = [_polygon(rng, *rng.uniform([0, 0], [1920, 1080]), rng.uniform(50, 300))
                     for _ in range(int(rng.integers(1, 4)))]
            im["ignore_regions_x"] = [p[0] for p in polys]
            im["ignore_regions_y"] = [p[1] for p in polys]
        images.append(im)
        if not labeled:
            continue
        present = rng.random(n_tracks) < 0.93
        base = start + velocity * f                                      # (T, 2) head bottom
        kp = base[:, None, :] + _TEMPLATE[None] * head[:, None, None]    # (T, 17, 2)
        kp += rng.normal(0, 2, kp.shape)
        vis = (rng.random((n_tracks, 17)) > 0.05).astype(float)
        vis[:, 3:5] = 0
        for t in np.flatnonzero(present):
            k = np.concatenate([np.where(vis[t, :, None] > 0, kp[t].round(2), 0), vis[t, :, None]], 1)
            hx, hy = base[t] - [head[t] * 0.5, head[t] * 1.4]
            gt_anns.append({"bbox_head": [round(hx), round(hy), round(head[t]), round(head[t] * 1.2)],
                            "keypoints": k.ravel().tolist(), "track_id": int(t), "image_id": image_id,
                            "bbox": [float(kp[t, :, 0].min()), float(kp[t, :, 1].min()),
                                     float(np.ptp(kp[t, :, 0])), float(np.ptp(kp[t, :, 1]))],
                            "scores": [], "category_id": 1, "id": image_id * 100 + int(t),
                            "iscrowd": False, "num_keypoints": int(vis[t].sum())})
        # predictions: detected persons with noise of 0.05..1 head sizes, plus false positives
        detected = present & (rng.random(n_tracks) < 0.95)
        n_fp = int(rng.random() < 0.3)
        pk = kp[detected] + rng.normal(0, 1, (int(detected.sum()), 17, 2)) * (
            head[detected, None, None] * rng.choice([0.05, 0.1, 0.2, 0.6], (int(detected.sum()), 17, 1)))
        fp = rng.uniform([0, 0], [1920, 1080], (n_fp, 1, 2)) + _TEMPLATE[None] * 40
        pk = np.concatenate([pk, fp])
        # scores: 3 decimals plus a per-person offset of 1e-9 * (global person counter), so that
        # no two predictions of a joint share a score (AP is then independent of tie order)
        ps = rng.uniform(0.05, 1.0, (len(pk), 17)).round(3)
        ps += (counter[0] + np.arange(len(pk)))[:, None] * 1e-9
        counter[0] += len(pk)
        for i in range(len(pk)):
            trip = np.concatenate([pk[i].round(2), ps[i, :, None].round(4)], 1)
            pred_anns.append({"image_id": image_id, "keypoints": trip.ravel().tolist(),
                              "scores": ps[i].tolist(), "score": round(float(ps[i].mean()), 4),
                              "track_id": i})
    cats = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": NAMES,
             "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                          [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                          [4, 6], [5, 7]]}]
    gt = {"images": images, "annotations": gt_anns, "categories": cats}
    pred = {"images": [{"id": im["id"], "file_name": im["file_name"]} for im in images],
            "annotations": pred_anns, "categories": cats}
    return gt, pred


def generate(root: Path, videos: int, labeled: int, persons: int, seed: int) -> dict:
    """Write gt/ and pred/ folders; returns counts."""
    rng = np.random.default_rng(seed)
    (root / "gt").mkdir(parents=True, exist_ok=True)
    (root / "pred").mkdir(parents=True, exist_ok=True)
    n_gt = n_pred = 0
    counter = [0]
    seqs = rng.choice(np.arange(1, 30000), videos, replace=False)
    for seq in seqs:
        gt, pred = make_video(rng, int(seq), labeled, persons, counter)
        name = f"{int(seq):06d}_mpii_test.json"
        (root / "gt" / name).write_text(json.dumps(gt))
        (root / "pred" / name).write_text(json.dumps(pred))
        n_gt += len(gt["annotations"])
        n_pred += len(pred["annotations"])
    size = sum(p.stat().st_size for p in root.rglob("*.json"))
    return {"gt_persons": n_gt, "pred_persons": n_pred, "json_mb": size / 1e6}


_POSEVAL_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from poseval import eval_helpers
from poseval.evaluateAP import evaluateAP
gt, pr = eval_helpers.load_data_dir(["", sys.argv[1] + "/", sys.argv[2] + "/"])
t1 = time.perf_counter()
ap, pre, rec = evaluateAP(gt, pr, None, False, False)
t2 = time.perf_counter()
nan = lambda v: None if v != v else float(v)
out = {"load_s": t1 - t0, "eval_s": t2 - t1, "ap": [nan(v) for v in ap[:, 0]],
       "precision": [nan(v) for v in pre[:, 0]], "recall": [nan(v) for v in rec[:, 0]],
       "summary_ap": [nan(v) for v in eval_helpers.getCum(ap)]}
if len(sys.argv) > 3:
    from poseval.evaluateTracking import evaluateTracking
    gt, pr = eval_helpers.load_data_dir(["", sys.argv[1] + "/", sys.argv[2] + "/"])
    t3 = time.perf_counter()
    m = evaluateTracking(gt, pr, None, False, False)
    out["tracking_s"] = time.perf_counter() - t3
    out["mota"] = [nan(v) for v in m["mota"][0]]
    out["motp"] = [nan(v) for v in m["motp"][0]]
print(json.dumps(out))
"""


def run_poseval(python: str, path: str | None, gt: Path, pred: Path, tracking: bool = False) -> dict:
    """Run the official poseval in its own interpreter; returns its timings and numbers."""
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path
    argv = [python, "-c", _POSEVAL_SCRIPT, str(gt), str(pred)] + (["track"] if tracking else [])
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _max_diff(a: list, b: list) -> float:
    """Largest absolute difference; inf if NaN patterns differ."""
    d = 0.0
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return float("inf")
        if x is not None:
            d = max(d, abs(x - y))
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=170)
    ap.add_argument("--labeled", type=int, default=30, help="labelled frames per video")
    ap.add_argument("--persons", type=int, default=6, help="mean persons per frame")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of ours (best is reported)")
    ap.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    ap.add_argument("--tracking", action="store_true",
                    help="also time the tracking metrics (MOTA); poseval's needs motmetrics and is slow")
    args = ap.parse_args()

    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.pose_ap import evaluate_data, evaluate_posetrack

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="eval_speed_")
        root = Path(tmp.name)
    else:
        root = args.keep
    t = time.perf_counter()
    counts = generate(root, args.videos, args.labeled, args.persons, args.seed)
    print(f"case: {args.videos} videos x {args.labeled} labelled frames, {counts['gt_persons']} GT persons, "
          f"{counts['pred_persons']} predicted persons, {counts['json_mb']:.1f} MB JSON "
          f"(generated in {time.perf_counter() - t:.1f} s)")

    best_total, best_load = float("inf"), float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        data = load_eval_data(root / "gt", root / "pred")
        t1 = time.perf_counter()
        result = evaluate_data(data)
        t2 = time.perf_counter()
        if t2 - t0 < best_total:
            best_total, best_load = t2 - t0, t1 - t0
    ours = result.to_json()
    print(f"simplepose: {best_total:.3f} s end to end ({best_load:.3f} s loading, "
          f"{best_total - best_load:.3f} s matching + AP), best of {args.repeat}")
    print("summary AP:", " ".join(f"{h} {v:.2f}" for h, v in zip(ours["summary_header"], ours["summary_ap"])))
    assert evaluate_posetrack(root / "gt", root / "pred").to_json() == ours
    if args.tracking:
        from simplepose.evaluation.mota import evaluate_tracking
        t0 = time.perf_counter()
        tracking = evaluate_tracking(data)
        track_s = time.perf_counter() - t0
        print(f"simplepose tracking (MOTA etc.): {track_s:.3f} s after loading; "
              f"MOTA Total {tracking.mota[15]:.2f}, MOTP Total {tracking.motp[15]:.2f}")

    python = os.environ.get("POSEVAL_PYTHON")
    if python:
        off = run_poseval(python, os.environ.get("POSEVAL_PATH"), root / "gt", root / "pred", args.tracking)
        total = off["load_s"] + off["eval_s"]
        print(f"poseval (measured now): {total:.1f} s ({off['load_s']:.1f} s loading, "
              f"{off['eval_s']:.1f} s evaluateAP)")
        print(f"speed-up: {total / best_total:.1f}x")
        for key in ("ap", "precision", "recall", "summary_ap"):
            print(f"max |ours - poseval| {key}: {_max_diff(ours[key], off[key]):.2e}")
        if args.tracking:
            print(f"poseval tracking: {off['tracking_s']:.1f} s after loading (ours {track_s:.2f} s, "
                  f"{off['tracking_s'] / track_s:.0f}x)")
            mine = tracking.to_json()
            for key in ("mota", "motp"):
                print(f"max |ours - poseval| {key}: {_max_diff(mine[key], off[key]):.2e}")
    else:
        print(f"poseval (recorded, not run: set POSEVAL_PYTHON to run it): {RECORDED_OFFICIAL_S} s "
              f"({RECORDED_OFFICIAL_LOAD_S} s loading)")
        print(f"speed-up vs recorded: {RECORDED_OFFICIAL_S / best_total:.1f}x")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed of simplepose's evaluation against the official code on a PoseTrack18-val-sized case.

Generates a synthetic PoseTrack18-val-sized case (170 videos, 30 labelled frames each, about 6
persons per frame, ~28k GT persons, ~43 MB of JSON; every GT image carries ignore_regions_x/_y,
which the PoseTrack21 kit requires) into a temporary folder, then times, in the same run:

1. `simplepose eval` in process, end to end (loading the JSON files included): the PoseTrack18
   mAP, against the official poseval (`load_data_dir` + `evaluateAP`, as MMPose calls it) when
   POSEVAL_PYTHON names a Python that has poseval (the svenkreiss fork MMPose installs);
2. keypoint HOTA, against the official PoseTrack21 kit (scripts/posetrack21_kit.py) when
   PT21_KIT_PYTHON names a Python with numpy, scipy and shapely and PT21_KIT the kit's folder
   (<PoseTrack21 checkout>/eval/posetrack21): ours end to end (loading + HOTA) against the kit's
   whole run (its loading included), and our HOTA alone.

Each peer's numbers are compared with ours (largest difference printed). Ours run --repeat times
(best wall time reported, with its CPU time); the peers once. The machine is named in the output:
compare ratios measured in one run.

    python benchmarks/eval_speed.py [--videos 170] [--keep DIR]
    POSEVAL_PYTHON=/path/to/poseval-venv/bin/python \
    PT21_KIT_PYTHON=/path/to/kit-venv/bin/python PT21_KIT=/path/to/PoseTrack21/eval/posetrack21 \
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # measure this checkout's simplepose
from host import cpu, load  # noqa: E402  (benchmarks/host.py)


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
              "width": 1920, "height": 1080, "ignore_regions_x": [], "ignore_regions_y": []}
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
from poseval import eval_helpers
from poseval.evaluateAP import evaluateAP
t0 = time.perf_counter()
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


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time of repeat calls, the CPU time of that call, and its result."""
    best = (float("inf"), 0.0, None)
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        if w < best[0]:
            best = (w, c, out)
    return best


def time_ours(root: Path, repeat: int) -> dict:
    """Our mAP end to end (loading + AP) and keypoint HOTA (after loading, and end to end)."""
    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.hota import evaluate_hota
    from simplepose.evaluation.pose_ap import evaluate_data, evaluate_posetrack

    def end_to_end() -> tuple:
        """Load and compute AP; also returns the loading time."""
        t0 = time.perf_counter()
        data = load_eval_data(root / "gt", root / "pred")
        t1 = time.perf_counter()
        return data, evaluate_data(data), t1 - t0

    wall, cpu, (data, result, load_s) = _timed(end_to_end, repeat)
    ours = result.to_json()
    assert evaluate_posetrack(root / "gt", root / "pred").to_json() == ours
    hota_wall, hota_cpu, hota = _timed(lambda: evaluate_hota(data), repeat)
    both_wall, both_cpu, _ = _timed(lambda: evaluate_hota(load_eval_data(root / "gt", root / "pred")), repeat)
    return {"wall": wall, "cpu": cpu, "load": load_s, "ap": ours, "hota": hota, "hota_wall": hota_wall,
            "hota_cpu": hota_cpu, "hota_e2e_wall": both_wall, "hota_e2e_cpu": both_cpu}


def compare_poseval(python: str, root: Path, mine: dict) -> None:
    """poseval on the same files: its time, the ratio, the largest differences."""
    off = run_poseval(python, os.environ.get("POSEVAL_PATH"), root / "gt", root / "pred")
    total = off["load_s"] + off["eval_s"]
    print(f"poseval: {total:.2f} s ({off['load_s']:.2f} s loading, {off['eval_s']:.2f} s evaluateAP)")
    print(f"eval speed-up over poseval: {total / mine['wall']:.1f}x (loading {off['load_s'] / mine['load']:.1f}x)")
    for key in ("ap", "precision", "recall", "summary_ap"):
        print(f"  max |ours - poseval| {key}: {_max_diff(mine['ap'][key], off[key]):.2e}")


def compare_kit(python: str, kit: str, root: Path, mine: dict) -> None:
    """The PoseTrack21 kit on the same files, as published (these files have no empty frames, so #10
    plays no part): its time, the ratios, the largest difference of all its arrays."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "posetrack21_kit.py"
    out = subprocess.run([python, str(script), "--kit", kit, str(root / "gt"), str(root / "pred")],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    names = {"HOTA_TP": "TP", "HOTA_FN": "FN", "HOTA_FP": "FP"}
    diff = max(float(np.abs(np.asarray(v) - mine["hota"].combined[names.get(f, f)]).max())
               for f, v in doc["combined"].items())
    print(f"PoseTrack21 kit: {doc['seconds']:.1f} s (loading included); HOTA {100 * np.mean(doc['combined']['HOTA'], 0)[-1]:.2f}")
    print(f"keypoint HOTA speed-up over the kit: {doc['seconds'] / mine['hota_e2e_wall']:.0f}x end to end, "
          f"{doc['seconds'] / mine['hota_wall']:.0f}x counting our HOTA alone")
    print(f"  max |ours - kit| over all combined arrays (19 alphas x 16 columns, 11 fields): {diff:.2e}")


def main() -> int:
    """Generate the case, time ours and the peers that are configured."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=170)
    ap.add_argument("--labeled", type=int, default=30, help="labelled frames per video")
    ap.add_argument("--persons", type=int, default=6, help="mean persons per frame")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of ours (best is reported)")
    ap.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    args = ap.parse_args()

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="eval_speed_")
        root = Path(tmp.name)
    else:
        root = args.keep
    print(f"machine: {cpu()}; {load()} at the start")
    t = time.perf_counter()
    counts = generate(root, args.videos, args.labeled, args.persons, args.seed)
    print(f"case: {args.videos} videos x {args.labeled} labelled frames, {counts['gt_persons']} GT persons, "
          f"{counts['pred_persons']} predicted persons, {counts['json_mb']:.1f} MB JSON "
          f"(generated in {time.perf_counter() - t:.1f} s)")
    mine = time_ours(root, args.repeat)
    print(f"simplepose eval: {mine['wall']:.3f} s end to end ({mine['load']:.3f} s loading), CPU {mine['cpu']:.3f} s; "
          f"best of {args.repeat}")
    print("summary AP:", " ".join(f"{h} {v:.2f}" for h, v in zip(mine["ap"]["summary_header"], mine["ap"]["summary_ap"])))
    print(f"simplepose keypoint HOTA: {mine['hota_wall']:.3f} s after loading (CPU {mine['hota_cpu']:.3f} s), "
          f"{mine['hota_e2e_wall']:.3f} s end to end; HOTA {mine['hota'].summary()['HOTA'][-1]:.2f}")
    if os.environ.get("POSEVAL_PYTHON"):
        compare_poseval(os.environ["POSEVAL_PYTHON"], root, mine)
    else:
        print("poseval: not run (set POSEVAL_PYTHON)")
    if os.environ.get("PT21_KIT_PYTHON") and os.environ.get("PT21_KIT"):
        compare_kit(os.environ["PT21_KIT_PYTHON"], os.environ["PT21_KIT"], root, mine)
    else:
        print("PoseTrack21 kit: not run (set PT21_KIT_PYTHON and PT21_KIT)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The README's report screenshot: a report on a synthetic val split, rendered by headless Chromium.

Synthesises a small PoseTrack18-layout val split (frames and GT), makes predictions from the GT
with known errors (jitter, left/right inversions, far misses, dropped persons, false positives,
an id switch), evaluates them, writes the report and screenshots the top of its page:

    python scripts/report_screenshot.py [--out docs/report.png] [--keep DIR]

Needs matplotlib and Chromium (apt-get install chromium).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MIRROR17 = [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def screenshot(page: Path, png: Path, width: int, height: int, profile: Path) -> Path:
    """Render a local HTML page with headless Chromium into a PNG of width x height."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium found (apt-get install chromium)")
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                    f"--screenshot={png}", page.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    return png


def make_predictions(gt_dir: Path, pred_dir: Path, seed: int) -> None:
    """Per-video prediction files from the GT files, with errors of every kind."""
    rng = np.random.default_rng(seed)
    pred_dir.mkdir(parents=True)
    for v, path in enumerate(sorted(gt_dir.glob("*.json"))):
        doc = json.loads(path.read_text())
        anns = []
        n_frames = len(doc["images"])
        for ann in doc["annotations"]:
            kp = np.array(ann["keypoints"], float).reshape(17, 3)
            x, y, w, h = ann["bbox_head"]
            head = 0.6 * np.hypot(w, h)
            if rng.random() < 0.05:                                   # dropped: false negatives
                continue
            present = kp[:, 2] > 0
            xy = kp[:, :2] + rng.normal(0, 0.12 * head, (17, 2))
            u = rng.random()
            if u < 0.15:                                              # jittered limbs
                xy += rng.normal(0, 0.55 * head, (17, 2)) * (rng.random((17, 1)) < 0.4)
            elif u < 0.22:                                            # left/right confusion
                xy = xy[MIRROR17]
                present = present[MIRROR17]
            elif u < 0.3:                                             # a far miss on two joints
                far = rng.choice(np.arange(5, 17), 2, replace=False)
                xy[far] += rng.normal(0, 3 * head, (2, 2))
            frame = next(i for i, im in enumerate(doc["images"]) if im["id"] == ann["image_id"])
            track = ann["track_id"]
            if v == 0 and frame >= n_frames // 2:                     # an id switch half way
                track = {0: 1, 1: 0}.get(track, track)
            out = np.concatenate([np.where(present[:, None], xy, 0), present[:, None] * 1.0], axis=1)
            score = float(np.clip(rng.normal(0.8 if u >= 0.3 else 0.5, 0.15), 0.05, 1))
            anns.append({"image_id": ann["image_id"], "track_id": int(track), "keypoints": out.ravel().tolist(),
                         "scores": (np.clip(score + rng.normal(0, 0.05, 17), 0.01, 1) * present).tolist()})
        for im in doc["images"]:                                      # false positives
            if rng.random() < 0.15:
                xy = np.array([im.get("width", 640), im.get("height", 480)]) * rng.uniform(0.2, 0.8, 2)
                kp = np.concatenate([xy + rng.normal(0, 30, (17, 2)), np.ones((17, 1))], axis=1)
                anns.append({"image_id": im["id"], "track_id": 900 + len(anns), "keypoints": kp.ravel().tolist(),
                             "scores": rng.uniform(0.05, 0.5, 17).tolist()})
        doc["annotations"] = anns
        (pred_dir / path.name).write_text(json.dumps(doc))


def main() -> int:
    """Build the case, write the report, take the screenshot."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/report.png"))
    ap.add_argument("--keep", type=Path, default=None, help="build the case and the report in this folder")
    ap.add_argument("--height", type=int, default=5600, help="screenshot height in CSS pixels (the whole page)")
    ap.add_argument("--scale", type=float, default=0.75, help="resize the screenshot by this factor")
    args = ap.parse_args()

    from PIL import Image

    from simplepose.evaluation.eval_data import load_eval_data
    from simplepose.evaluation.mota import evaluate_tracking
    from simplepose.evaluation.pose_ap import evaluate_data
    from simplepose.evaluation.report import find_images_root, write_report
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="report_shot_")
    root = args.keep or Path(tmp.name)
    generate_posetrack_dataset(root / "data", SynthOptions(videos={"val": 6}, frames=12, seed=3, splits=("val",)),
                               progress=False)
    gt = root / "data" / "annotations" / "val"
    make_predictions(gt, root / "pred", seed=0)
    data = load_eval_data(gt, root / "pred")
    index = write_report(root / "report", data, evaluate_data(data), evaluate_tracking(data),
                         images_root=find_images_root(gt, data.file_names),
                         title="PoseTrack18 evaluation report (synthetic val split)")
    shot = screenshot(index, root / "shot.png", 1100, args.height, root / "profile")
    image = Image.open(shot).convert("RGB")
    image = image.resize((round(image.width * args.scale), round(image.height * args.scale)), Image.LANCZOS)
    image = image.quantize(colors=96, method=Image.Quantize.MEDIANCUT)   # a small PNG for the README
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"report: {index}\nscreenshot: {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

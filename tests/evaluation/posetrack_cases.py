"""Hand-made PoseTrack18 cases for the evaluator tests: one video of GT persons, predictions from them."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np


_NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def person(rng: np.random.Generator, image_id: int, track: int, x0: float) -> dict:
    """A GT person: 15 annotated joints (ears zero), 40x40 head box -> head size 0.6*40*sqrt2."""
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + rng.uniform(0, 200, 17)
    kp[:, 1] = 100 + rng.uniform(0, 400, 17)
    kp[:, 2] = 1
    kp[3:5] = 0
    return {"image_id": image_id, "track_id": track, "keypoints": kp.round(2).ravel().tolist(),
            "bbox_head": [x0, 100, 40, 40], "id": image_id * 100 + track}


def write_case(root: Path, n_frames: int = 4, n_people: int = 3, seed: int = 0) -> tuple[Path, Path, dict]:
    """One video of GT; returns gt_dir, pred_dir and the GT dict (predictions not written)."""
    rng = np.random.default_rng(seed)
    images = [{"id": 10000000 + i, "file_name": f"images/val/000001_mpii_test/{i:06d}.jpg",
               "is_labeled": True} for i in range(n_frames)]
    anns = [person(rng, im["id"], t, 300.0 * t) for im in images for t in range(n_people)]
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "keypoints": _NAMES}]}
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    return gt_dir, pred_dir, gt


def as_prediction(gt: dict) -> dict:
    """GT persons as predictions with per-joint scores."""
    pred = copy.deepcopy(gt)
    for a in pred["annotations"]:
        a["scores"] = [0.9] * 17
        a.pop("bbox_head")
    return pred


def write_pred(pred_dir: Path, pred: dict) -> None:
    """Write the prediction file of the one video."""
    (pred_dir / "000001_mpii_test.json").write_text(json.dumps(pred))

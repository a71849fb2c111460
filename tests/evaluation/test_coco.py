"""COCO keypoint AP through pycocotools on the real COCO sample annotations."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simplepose.data.instances import PosePrediction
from simplepose.errors import DataError
from simplepose.evaluation.coco import STAT_NAMES, evaluate_coco_keypoints


def _gt_predictions(gt_json: Path, shift: float = 0.0) -> list[PosePrediction]:
    preds = []
    for a in json.loads(gt_json.read_text())["annotations"]:
        if a.get("iscrowd") or a.get("num_keypoints", 0) == 0:
            continue
        k = np.array(a["keypoints"], np.float64).reshape(17, 3)
        preds.append(PosePrediction(image_id=a["image_id"], bbox_xywh=np.array(a["bbox"], float),
                                    keypoints=(k[:, :2] + shift).astype(np.float32),
                                    keypoint_scores=(k[:, 2] > 0).astype(np.float32), area=float(a["area"])))
    return preds


def test_ground_truth_as_predictions_ap_1(samples_dir: Path, tmp_path: Path) -> None:
    gt_json = samples_dir / "coco" / "test_coco.json"
    preds = _gt_predictions(gt_json)
    out = tmp_path / "results.json"
    stats = evaluate_coco_keypoints(gt_json, preds, out)
    assert list(stats) == list(STAT_NAMES)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    written = json.loads(out.read_text())
    assert len(written) == len(preds)
    assert all(len(r["keypoints"]) == 51 and r["category_id"] == 1 for r in written)


def test_shifted_predictions_lower_ap(samples_dir: Path) -> None:
    gt_json = samples_dir / "coco" / "test_coco.json"
    stats = evaluate_coco_keypoints(gt_json, _gt_predictions(gt_json, shift=8.0))
    assert 0.0 <= stats["AP"] < 1.0


def test_no_predictions_and_unknown_image(samples_dir: Path) -> None:
    gt_json = samples_dir / "coco" / "test_coco.json"
    assert set(evaluate_coco_keypoints(gt_json, []).values()) == {0.0}
    p = PosePrediction(image_id=123456789, bbox_xywh=np.zeros(4), keypoints=np.zeros((17, 2), np.float32),
                       keypoint_scores=np.zeros(17, np.float32), area=1.0)
    with pytest.raises(DataError, match="123456789"):
        evaluate_coco_keypoints(gt_json, [p])

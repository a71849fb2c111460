"""Prediction files from PosePrediction records, scored by the evaluator."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simplepose.data.instances import PosePrediction
from simplepose.data.posetrack import PoseTrackVideo, load_posetrack_videos
from simplepose.errors import DataError
from simplepose.evaluation.pose_ap import evaluate_posetrack
from simplepose.evaluation.prediction_files import write_posetrack_predictions


def _gt_predictions(gt_dir: Path) -> list[PosePrediction]:
    """Every annotated GT person as a prediction: GT coordinates, score 1 where annotated."""
    preds = []
    for f in sorted(gt_dir.glob("*.json")):
        for a in json.loads(f.read_text())["annotations"]:
            k = np.array(a["keypoints"], np.float64).reshape(17, 3)
            present = ~np.all(k == 0, axis=1)
            if not present.any():
                continue
            preds.append(PosePrediction(image_id=a["image_id"], bbox_xywh=np.array(a["bbox"], float),
                                        keypoints=k[:, :2].astype(np.float32),
                                        keypoint_scores=present.astype(np.float32),
                                        area=float(np.prod(a["bbox"][2:])), box_score=1.0))
    return preds


def _videos(gt_dir: Path) -> list[PoseTrackVideo]:
    return load_posetrack_videos(gt_dir)


def test_ground_truth_as_predictions_scores_100(samples_dir: Path, tmp_path: Path) -> None:
    gt_dir = samples_dir / "posetrack18" / "annotations" / "val"
    preds = _gt_predictions(gt_dir)
    # a near-duplicate with a lower box score must be removed by OKS-NMS
    dup = preds[0]
    preds.append(PosePrediction(image_id=dup.image_id, bbox_xywh=dup.bbox_xywh, keypoints=dup.keypoints + 1,
                                keypoint_scores=dup.keypoint_scores, area=dup.area, box_score=0.5))
    paths = write_posetrack_predictions(preds, _videos(gt_dir), tmp_path / "pred")
    assert sorted(p.name for p in paths) == sorted(p.name for p in gt_dir.glob("*.json"))
    r = evaluate_posetrack(gt_dir, tmp_path / "pred")
    assert np.all(r.ap == 100) and np.all(r.precision == 100) and np.all(r.recall == 100)
    assert np.all(r.summary_ap == 100)
    n_written = 0
    for p in paths:
        out = json.loads(p.read_text())
        gt = json.loads((gt_dir / p.name).read_text())
        assert out["images"] == [{"id": im["id"], "file_name": im["file_name"]} for im in gt["images"]]
        # the category MMPose's PoseTrack18Metric writes: the released file's names and 19-link skeleton
        assert out["categories"] == [{k: gt["categories"][0][k] for k in ("supercategory", "id", "name", "keypoints",
                                                                         "skeleton")}]
        assert len(out["categories"][0]["skeleton"]) == 19
        by_image: dict = {}
        for a in out["annotations"]:
            assert a["scores"] == a["keypoints"][2::3]
            by_image.setdefault(a["image_id"], []).append(a)
        for anns in by_image.values():
            assert [a["track_id"] for a in anns] == list(range(len(anns)))
            assert [a["score"] for a in anns] == sorted((a["score"] for a in anns), reverse=True)
        n_written += len(out["annotations"])
    assert n_written == len(preds) - 1


def test_person_score_is_rescored(samples_dir: Path, tmp_path: Path) -> None:
    gt_dir = samples_dir / "posetrack18" / "annotations" / "val"
    videos = _videos(gt_dir)
    im = videos[0].images[0]
    kp = np.tile(np.array([[500.0, 500.0]], np.float32), (17, 1)) + np.arange(17)[:, None] * 10
    s = np.full(17, 0.1, np.float32)
    s[:4] = [0.3, 0.5, 0.7, 0.15]
    p = PosePrediction(image_id=im["id"], bbox_xywh=np.array([450, 450, 200, 200.0]), keypoints=kp,
                       keypoint_scores=s, area=40000.0, box_score=0.8)
    write_posetrack_predictions([p], videos, tmp_path)
    ann = json.loads((tmp_path / f"{videos[0].name}.json").read_text())["annotations"][0]
    assert ann["score"] == pytest.approx(0.8 * 0.5, rel=1e-6)
    assert ann["track_id"] == 0 and ann["image_id"] == im["id"]


def test_unknown_image_id(samples_dir: Path, tmp_path: Path) -> None:
    gt_dir = samples_dir / "posetrack18" / "annotations" / "val"
    p = PosePrediction(image_id=-5, bbox_xywh=np.zeros(4), keypoints=np.zeros((17, 2), np.float32),
                       keypoint_scores=np.zeros(17, np.float32), area=1.0)
    with pytest.raises(DataError, match="image id -5"):
        write_posetrack_predictions([p], _videos(gt_dir), tmp_path)


def test_own_track_ids(samples_dir: Path, tmp_path: Path) -> None:
    """use_track_ids writes the predictions' ids (must be unique per frame)."""
    gt_dir = samples_dir / "posetrack18" / "annotations" / "val"
    preds = _gt_predictions(gt_dir)
    for i, p in enumerate(preds):
        p.track_id = 100 + i
    write_posetrack_predictions(preds, _videos(gt_dir), tmp_path / "a", use_track_ids=True)
    ids = sorted(a["track_id"] for f in (tmp_path / "a").glob("*.json")
                 for a in json.loads(f.read_text())["annotations"])
    assert ids == [100 + i for i in range(len(preds))]
    assert np.all(evaluate_posetrack(gt_dir, tmp_path / "a").ap == 100)
    preds[1].track_id = preds[0].track_id
    preds[1].image_id = preds[0].image_id
    with pytest.raises(DataError, match="used twice"):
        write_posetrack_predictions(preds, _videos(gt_dir), tmp_path / "b", use_track_ids=True)

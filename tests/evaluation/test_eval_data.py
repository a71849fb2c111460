"""Loading a GT folder and its prediction folder: pairing of files and frames."""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.evaluation.eval_data import load_eval_data
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred


def test_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    with pytest.raises(DataError, match="prediction file"):
        load_eval_data(gt_dir, pred_dir)
    pred = as_prediction(gt)
    short = copy.deepcopy(pred)
    short["images"] = short["images"][:-1]
    write_pred(pred_dir, short)
    with caplog.at_level(logging.WARNING):
        data = load_eval_data(gt_dir, pred_dir)    # the missing frame counts as predicted empty
    assert "1 ground-truth frame(s) with people have no prediction frame" in caplog.text
    assert "000003.jpg" in caplog.text and np.bincount(data.pred.frame).tolist() == [3, 3, 3]
    other = copy.deepcopy(pred)
    for im in other["images"]:
        im["file_name"] = im["file_name"].replace("000001_mpii", "000002_mpii")
        im["id"] += 100
    write_pred(pred_dir, other)
    with pytest.raises(DataError, match="no frame pairs with the ground truth"):
        load_eval_data(gt_dir, pred_dir)


def test_frames_pair_by_file_name_not_position(tmp_path: Path) -> None:
    """A prediction file listing its images in reverse order is still perfect (poseval: 83.3 AP)."""
    from simplepose.evaluation.pose_ap import evaluate_data

    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
    pred["images"].reverse()
    write_pred(pred_dir, pred)
    result = evaluate_data(load_eval_data(gt_dir, pred_dir))
    assert result.ap[15] == pytest.approx(100.0)
    pred["images"] = [dict(im, file_name=im["file_name"].replace(".jpg", ".png")) for im in pred["images"]]
    write_pred(pred_dir, pred)                       # names differ: paired by image id instead
    assert evaluate_data(load_eval_data(gt_dir, pred_dir)).ap[15] == pytest.approx(100.0)


@pytest.mark.parametrize("track", [float("nan"), "3", float("inf")])
def test_track_ids_must_be_finite_numbers(tmp_path: Path, track) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
    pred["annotations"][1]["track_id"] = track
    (pred_dir / "000001_mpii_test.json").write_text(json.dumps(pred))   # json writes NaN as NaN
    with pytest.raises(DataError, match="track_id"):
        load_eval_data(gt_dir, pred_dir)


def test_empty_polygon_frame_drops_persons_without_keypoints(tmp_path: Path) -> None:
    """A frame whose only ignore polygon is empty is still an ignore frame, as in poseval:
    nothing lies inside, but its persons without keypoints (GT and predicted) are dropped."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    for a in (gt["annotations"][0], gt["annotations"][3]):     # one person of frames 0 and 1
        a["keypoints"] = [0] * 51
    pred = as_prediction(gt)
    gt["images"][0].update(ignore_regions_x=[[]], ignore_regions_y=[[]])
    gt["images"][1].update(ignore_regions_x=[], ignore_regions_y=[])
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(gt))
    write_pred(pred_dir, pred)
    data = load_eval_data(gt_dir, pred_dir)
    assert np.bincount(data.gt.frame).tolist() == [2, 3, 3, 3]
    assert np.bincount(data.pred.frame).tolist() == [2, 3, 3, 3]
    assert data.gt.has.sum() == 10 * 15          # the kept person of frame 1 has none

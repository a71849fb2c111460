"""Loading a GT folder and its prediction folder: pairing of files and frames."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.evaluation.eval_data import load_eval_data
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred


def test_errors(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    with pytest.raises(DataError, match="prediction file"):
        load_eval_data(gt_dir, pred_dir)
    pred = as_prediction(gt)
    short = copy.deepcopy(pred)
    short["images"] = short["images"][:-1]
    write_pred(pred_dir, short)
    with pytest.raises(DataError, match="3 prediction frames but 4"):
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

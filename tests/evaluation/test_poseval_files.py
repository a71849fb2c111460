"""Reading one per-video GT or prediction file as poseval does: clear errors for bad files."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from simplepose.errors import DataError
from simplepose.evaluation.poseval_files import read_video_file
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred


def test_errors(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path)
    gt_file, pred_file = gt_dir / "000001_mpii_test.json", pred_dir / "000001_mpii_test.json"
    pred = as_prediction(gt)
    dup = copy.deepcopy(pred)
    dup["annotations"][1]["track_id"] = dup["annotations"][0]["track_id"]
    write_pred(pred_dir, dup)
    with pytest.raises(DataError, match="used twice in one frame"):
        read_video_file(pred_file, is_gt=False)
    pred_file.write_text("{not json")
    with pytest.raises(DataError, match="malformed JSON"):
        read_video_file(pred_file, is_gt=False)
    bad = copy.deepcopy(pred)
    bad["annotations"][2]["keypoints"] = [1, 2, 3]
    write_pred(pred_dir, bad)
    with pytest.raises(DataError, match="annotation id"):
        read_video_file(pred_file, is_gt=False)
    nohead = copy.deepcopy(gt)
    del nohead["annotations"][0]["bbox_head"]
    gt_file.write_text(json.dumps(nohead))
    with pytest.raises(DataError, match="bbox_head"):
        read_video_file(gt_file, is_gt=True)

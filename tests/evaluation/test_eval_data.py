"""Loading a GT folder and its prediction folder: pairing of files and frames."""
from __future__ import annotations

import copy
from pathlib import Path

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

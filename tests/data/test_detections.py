"""Detections in COCO results format: categories, thresholds and numbers read strictly."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from simplepose.data.cocostyle import ImageInfo
from simplepose.data.detections import load_detections
from simplepose.errors import DataError

IMAGES = {1: ImageInfo(image_id=1, file_name="a.jpg", image_path="/a.jpg", index=0)}


def _write(tmp_path: Path, dets: list) -> Path:
    p = tmp_path / "dets.json"
    p.write_text(json.dumps(dets))
    return p


def test_category_id_must_be_an_integer(tmp_path: Path) -> None:
    """MMPose compares category_id == 1: '1' would drop every detection without a word."""
    p = _write(tmp_path, [{"image_id": 1, "category_id": "1", "bbox": [1, 2, 30, 40], "score": 0.9}])
    with pytest.raises(DataError, match=r"detection \[0\].*'category_id' must be an integer, got '1'"):
        load_detections(p, IMAGES)


def test_all_of_another_category_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = _write(tmp_path, [{"image_id": 1, "category_id": 2, "bbox": [1, 2, 30, 40], "score": 0.9}])
    with caplog.at_level(logging.WARNING):
        assert load_detections(p, IMAGES) == []
    assert "skipped 1 of 1 detection(s) whose category_id is not 1" in caplog.text


def test_score_strings_and_nan_threshold_are_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40], "score": "0.9"}])
    with pytest.raises(DataError, match="'score' holds '0.9', which is not a number"):
        load_detections(p, IMAGES)
    p = _write(tmp_path, [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9}])
    with pytest.raises(DataError, match="finite"):
        load_detections(p, IMAGES, score_thr=float("nan"))

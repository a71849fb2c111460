"""The dataset table: each name's reader, evaluator, keypoints and video flag, and the refusal of others."""
from __future__ import annotations

import pytest

from simplepose.data.coco import load_coco_keypoints
from simplepose.data.keypoints import COCO, POSETRACK18
from simplepose.data.posetrack import load_posetrack, load_posetrack_boxes
from simplepose.engine.datasets import DATASETS, dataset_spec
from simplepose.engine.scoring import evaluate_coco_predictions, evaluate_posetrack_predictions
from simplepose.errors import ConfigError


def test_rows_hold_what_each_dataset_is():
    pt, coco = dataset_spec("posetrack18"), dataset_spec("coco")
    assert (pt.reader, pt.evaluator, pt.schema, pt.video) == (
        load_posetrack, evaluate_posetrack_predictions, POSETRACK18, True)
    assert (coco.reader, coco.evaluator, coco.schema, coco.video) == (
        load_coco_keypoints, evaluate_coco_predictions, COCO, False)
    # PoseTrack21: PoseTrack18's reader, scoring and keypoints on its per-video files (docs/datasets.md)
    pt21 = dataset_spec("posetrack21")
    assert (pt21.reader, pt21.evaluator, pt21.schema, pt21.video) == (pt.reader, pt.evaluator, POSETRACK18, True)
    # without detections `track` takes every GT box of PoseTrack21, posed or not; PoseTrack18's posed ones
    assert (pt21.box_reader(), pt.box_reader()) == (load_posetrack_boxes, load_posetrack)
    assert all(name == spec.name for name, spec in DATASETS.items())


def test_unknown_name_is_a_config_error_naming_the_key_and_the_rows():
    with pytest.raises(ConfigError, match=r"data\.dataset.*unknown dataset 'mpii' \(posetrack18, posetrack21, coco"):
        dataset_spec("mpii")

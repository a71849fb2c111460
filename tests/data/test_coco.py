"""COCO person-keypoint and detection readers against the real MMPose COCO samples."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from simplepose.data.annotations import load_image_records
from simplepose.data.coco import load_coco_keypoints
from simplepose.data.cocostyle import ImageInfo
from simplepose.data.detections import load_detections
from simplepose.errors import DataError

# test_coco.json, read by eye: 14 persons in 4 images, none crowd; 1202706 (image 40083) and
# 508900 (image 196141) have num_keypoints 0 and no annotated keypoint, so 12 remain.
KEPT_IDS = [442619, 198196, 230195, 460541, 488308, 1717641, 1724673,
            437295, 467657, 531914, 533949, 543117]


@pytest.fixture(scope="module")
def coco_dir(samples_dir: Path) -> Path:
    return samples_dir / "coco"


@pytest.fixture(scope="module")
def coco_json(coco_dir: Path) -> Path:
    return coco_dir / "test_coco.json"


@pytest.fixture(scope="module")
def persons(coco_json: Path, coco_dir: Path):
    return load_coco_keypoints(coco_json, coco_dir, check_images=True)


def test_zero_keypoint_persons_are_dropped(persons, coco_json: Path, coco_dir: Path, caplog):
    assert [p.ann_id for p in persons] == KEPT_IDS
    with caplog.at_level(logging.DEBUG, logger="simplepose.data.cocostyle"):
        everyone = load_coco_keypoints(coco_json, coco_dir, drop_invalid=False)
    assert len(everyone) == 14 and "num_keypoints == 0" not in caplog.text
    with caplog.at_level(logging.DEBUG, logger="simplepose.data.cocostyle"):
        load_coco_keypoints(coco_json, coco_dir)
    assert "dropped 2 annotation(s) with num_keypoints == 0" in caplog.text


def test_fields(persons, coco_dir: Path):
    first = persons[0]                                   # annotation 442619 of image 785 (640 x 425)
    assert first.image_path == str(coco_dir / "000000000785.jpg") and first.image_id == 785
    assert first.image_size == (640, 425)
    np.testing.assert_array_equal(first.bbox_xywh, [280.79, 44.73, 218.7, 346.68])
    assert first.video_id is None and first.frame_index == 0 and first.track_id is None
    assert first.head_bbox_xywh is None and first.ignore_regions == [] and first.score == 1.0
    assert first.keypoints.shape == (17, 3) and first.keypoints.dtype == np.float32
    assert set(np.unique(np.concatenate([p.keypoints[:, 2] for p in persons]))) <= {0.0, 1.0}  # COCO's v=2 -> 1
    # num_keypoints of the kept persons, read from the file, counts the annotated keypoints
    assert [int((p.keypoints[:, 2] > 0).sum()) for p in persons] == [17, 14, 15, 15, 15, 12, 17, 16, 16, 15, 16, 13]


def test_boxes_clip_at_the_right_edge(persons):
    boxes = {p.ann_id: p.reference_box() for p in persons}
    # image 197388 is 640 wide: 372.58 + 266.63 = 639.21 and 540.04 + 99.96 = 640.0 both clip to 639
    assert boxes[533949][2] == np.float32(639) and boxes[531914][2] == np.float32(639)
    np.testing.assert_array_equal(boxes[488308], np.float32([555.57, 99.84, 555.57 + 48.32, 99.84 + 113.05]))
    np.testing.assert_array_equal(boxes[543117][:2], np.float32([0.5, 43.74]))


def test_image_records(coco_json: Path, coco_dir: Path):
    records = load_image_records(coco_json, coco_dir)
    assert list(records) == [785, 40083, 196141, 197388]
    rec = records[40083]
    assert isinstance(rec, ImageInfo) and rec.image_size == (500, 333) and rec.video_id is None
    assert rec.image_path == str(coco_dir / "000000040083.jpg") and rec.index == 1


def test_detections(coco_dir: Path, coco_json: Path):
    det_json = coco_dir / "test_coco_det_AP_H_56.json"
    raw = json.loads(det_json.read_text())
    dets = load_detections(det_json, load_image_records(coco_json, coco_dir))
    assert len(dets) == 118 == len(raw)
    names = {785: "000000000785.jpg", 40083: "000000040083.jpg", 196141: "000000196141.jpg",
             197388: "000000197388.jpg"}
    assert all(d.image_path == str(coco_dir / names[d.image_id]) for d in dets)
    np.testing.assert_array_equal([d.score for d in dets], np.float32([r["score"] for r in raw]))
    assert all(d.video_id is None and d.image_size is None for d in dets)
    half = load_detections(det_json, load_image_records(coco_json, coco_dir), score_thr=0.5)
    assert len(half) == sum(r["score"] >= 0.5 for r in raw) and 0 < len(half) < 118


def test_bad_coco_files(tmp_path: Path, coco_json: Path, coco_dir: Path):
    doc = json.loads(coco_json.read_text())
    doc["annotations"][2]["keypoints"] = doc["annotations"][2]["keypoints"][:-3]
    bad = tmp_path / "person_keypoints_bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"person_keypoints_bad\.json \(annotation id 230195\).*48 values"):
        load_coco_keypoints(bad, coco_dir)
    doc = json.loads(coco_json.read_text())
    doc["images"][3]["width"] = 0
    bad.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"images\[3\] \(id 197388\)\): image size must be positive"):
        load_coco_keypoints(bad, coco_dir)
    with pytest.raises(DataError, match="image file not found"):
        load_coco_keypoints(coco_json, tmp_path, check_images=True)
    bad.write_text("{")
    with pytest.raises(DataError, match="malformed JSON"):
        load_coco_keypoints(bad, coco_dir)

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


def test_ignore_regions_follow_the_shared_rule(tmp_path: Path) -> None:
    """Polygons as data.cocostyle.parse_ignore_regions reads them; errors name the image."""
    gt_dir, _, gt = write_case(tmp_path)
    gt_file = gt_dir / "000001_mpii_test.json"
    square = [[0, 100, 100, 0], [0, 0, 100, 100]]
    doc = copy.deepcopy(gt)
    doc["images"][1].update(ignore_regions_x=[square[0]], ignore_regions_y=[square[1]])
    doc["images"][2].update(ignore_regions_x=[], ignore_regions_y=[])      # no regions
    doc["images"][3].update(ignore_regions_x=[[]], ignore_regions_y=[[]])  # an empty polygon
    gt_file.write_text(json.dumps(doc))
    video = read_video_file(gt_file, is_gt=True)
    assert sorted(video.polygons) == [1, 3]
    assert [p.tolist() for p in video.polygons[1]] == [[[0, 0], [100, 0], [100, 100], [0, 100]]]
    assert video.polygons[3] == []
    for xs, ys, problem in [([[0, 1]], [[0, 1]], "has 2 points"),
                            ([[0, 1, None]], [[0, 1, 2]], "NaN, null or infinite"),
                            ([[0, 1, 2]], [[0, 1]], "differ in length")]:
        doc["images"][2].update(ignore_regions_x=xs, ignore_regions_y=ys)
        gt_file.write_text(json.dumps(doc))
        with pytest.raises(DataError, match=problem) as err:
            read_video_file(gt_file, is_gt=True)
        assert err.value.record == f"image 2 (id {doc['images'][2]['id']})"


def test_bad_rows_name_the_annotation(tmp_path: Path) -> None:
    """Keypoint, head box and score rows are stacked with the offending annotation named."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    gt_file, pred_file = gt_dir / "000001_mpii_test.json", pred_dir / "000001_mpii_test.json"
    doc = copy.deepcopy(gt)
    doc["annotations"][4]["bbox_head"] = [1, 2, 3]
    gt_file.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="'bbox_head' has 3 values") as err:
        read_video_file(gt_file, is_gt=True)
    assert err.value.record == f"annotation id {doc['annotations'][4]['id']}"
    pred = as_prediction(gt)
    pred["annotations"][5]["scores"] = [0.5] * 16
    write_pred(pred_dir, pred)
    with pytest.raises(DataError, match="'scores' has 16 values") as err:
        read_video_file(pred_file, is_gt=False)
    assert err.value.record == f"annotation id {pred['annotations'][5]['id']}"


def test_posetrack21_layout(tmp_path: Path) -> None:
    """A PoseTrack21 submission without categories reads in the PoseTrack order; a PoseTrack21 GT
    file's boxes in unlabelled frames are not pose labels."""
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=3, n_people=2)
    pred = as_prediction(gt)
    with_names = read_video_file(_written(pred_dir, pred), is_gt=False)
    del pred["categories"]
    without = read_video_file(_written(pred_dir, pred), is_gt=False)
    assert (without.persons.xy == with_names.persons.xy).all()
    pt21 = copy.deepcopy(gt)
    for im in pt21["images"]:
        im["has_labeled_person"] = True
    pt21["images"][1]["is_labeled"] = False
    for a in pt21["annotations"]:
        a["person_id"] = a["track_id"]
    f = read_video_file(_written(gt_dir, pt21), is_gt=True)
    assert f.persons_per_frame.tolist() == [2, 0, 2] and f.labeled.tolist() == [True, False, True]
    del pt21["images"][1]["has_labeled_person"], pt21["images"][0]["has_labeled_person"], \
        pt21["images"][2]["has_labeled_person"]
    f = read_video_file(_written(gt_dir, pt21), is_gt=True)     # PoseTrack18: poseval's rule keeps them
    assert f.persons_per_frame.tolist() == [2, 2, 2]


def _written(folder: Path, doc: dict) -> Path:
    path = folder / "000001_mpii_test.json"
    path.write_text(json.dumps(doc))
    return path

@pytest.mark.parametrize("field, value, problem", [
    ("scores", "nan", r"'scores' hold NaN or infinity"),
    ("keypoints", "nan", r"'keypoints' hold NaN or infinity"),
    ("keypoints", "inf", r"'keypoints' hold NaN or infinity"),
    ("track_id", -1, r"'track_id' must be a whole number >= 0, got -1"),
    ("track_id", 2.5, r"'track_id' must be a whole number >= 0, got 2.5"),
])
def test_non_finite_values_and_odd_track_ids_are_refused(tmp_path: Path, field: str, value, problem: str) -> None:
    """NaN scores, NaN/Inf keypoints (JSON's non-standard literals), negative or fractional track ids:
    refused with the annotation named."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
    ann = pred["annotations"][3]
    if field == "track_id":
        ann["track_id"] = value
    else:
        ann[field] = list(ann[field])
        ann[field][1] = float(value)
    (pred_dir / "000001_mpii_test.json").write_text(json.dumps(pred))      # json writes NaN / Infinity
    with pytest.raises(DataError, match=problem) as err:
        read_video_file(pred_dir / "000001_mpii_test.json", is_gt=False)
    assert err.value.record == f"annotation id {ann['id']}"


def test_a_duplicate_annotation_id_is_refused(tmp_path: Path) -> None:
    """Two annotations with one id (in the ground truth or the predictions): refused, naming the id."""
    gt_dir, pred_dir, gt = write_case(tmp_path)
    doc = copy.deepcopy(gt)
    doc["annotations"][5]["id"] = doc["annotations"][2]["id"]
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match=f"annotation id {doc['annotations'][2]['id']} appears twice"):
        read_video_file(gt_dir / "000001_mpii_test.json", is_gt=True)


def test_too_many_predictions_in_one_frame_are_refused_before_matching(tmp_path: Path) -> None:
    """More than MAX_PERSONS_PER_FRAME predictions in one frame: one error naming the frame."""
    from simplepose.evaluation.poseval_files import MAX_PERSONS_PER_FRAME
    gt_dir, pred_dir, gt = write_case(tmp_path)
    pred = as_prediction(gt)
    first = pred["annotations"][0]
    pred["annotations"] = [dict(first, id=i, track_id=i) for i in range(MAX_PERSONS_PER_FRAME + 1)]
    write_pred(pred_dir, pred)
    with pytest.raises(DataError, match=rf"{MAX_PERSONS_PER_FRAME + 1} persons in one frame, over the limit"):
        read_video_file(pred_dir / "000001_mpii_test.json", is_gt=False)

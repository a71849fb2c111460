"""PoseTrack18 readers against the real MMPose samples, the MMPose goldens and hand-made bad files."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from simplepose.data.annotations import load_image_records
from simplepose.data.detections import load_detections
from simplepose.data.posetrack import (PoseTrackVideo, load_posetrack, load_posetrack_boxes,
                                       load_posetrack_image_records, load_posetrack_videos, read_image_size,
                                       video_image_records)
from simplepose.errors import DataError

VIDEOS = ["003418_mpii_test", "009473_mpii_test", "012834_mpii_test"]


@pytest.fixture(scope="module")
def pt_dir(samples_dir: Path) -> Path:
    """posetrack18/ of the real samples."""
    return samples_dir / "posetrack18"


@pytest.fixture(scope="module")
def merged_json(pt_dir: Path) -> Path:
    return pt_dir / "annotations" / "test_posetrack18_val.json"


@pytest.fixture(scope="module")
def per_video_dir(pt_dir: Path) -> Path:
    return pt_dir / "annotations" / "val"


@pytest.fixture(scope="module")
def merged(merged_json: Path, pt_dir: Path):
    return load_posetrack(merged_json, pt_dir)


def _key(inst) -> tuple:
    """Every field of an instance as comparable plain values."""
    return (inst.image_path, inst.image_id, inst.bbox_xywh.tobytes(), inst.keypoints.tobytes(), inst.image_size,
            inst.ann_id, inst.video_id, inst.frame_index, inst.track_id,
            None if inst.head_bbox_xywh is None else inst.head_bbox_xywh.tobytes(),
            tuple(p.tobytes() for p in inst.ignore_regions), inst.is_labeled, inst.score)


def _by_video(instances) -> dict[str, list[tuple]]:
    """Instances grouped by sequence, file order kept within each."""
    out: dict[str, list[tuple]] = {}
    for inst in instances:
        out.setdefault(inst.video_id, []).append(_key(inst))
    return out


def _write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


# ----------------------------------------------------------------------------- real samples

def test_merged_has_14_persons_in_mmpose_order(merged, mmpose_golden_dir: Path, samples_dir: Path):
    rows = json.loads((mmpose_golden_dir / "val_pipeline.json").read_text())["instances"]
    assert len(merged) == 14
    assert [i.ann_id for i in merged] == [r["ann_id"] for r in rows]
    assert [i.image_id for i in merged] == [r["img_id"] for r in rows]
    assert [i.image_path for i in merged] == [str(samples_dir / r["img_path"]) for r in rows]
    assert all(i.image_size == (r["ori_shape_hw"][1], r["ori_shape_hw"][0]) for i, r in zip(merged, rows))


def test_clipped_boxes_and_keypoints_equal_mmpose_goldens(merged, mmpose_golden_dir: Path):
    geo = np.load(mmpose_golden_dir / "geometry.npz")
    val = np.load(mmpose_golden_dir / "val_pipeline.npz")
    raw = np.stack([i.bbox_xywh for i in merged])
    np.testing.assert_array_equal(raw, geo["bbox_xywh_raw"][:14])
    clipped = np.stack([i.reference_box() for i in merged])
    np.testing.assert_array_equal(clipped, geo["bbox_xyxy_dataset"][:14])
    np.testing.assert_array_equal(clipped, val["bbox"])
    kps = np.stack([i.keypoints for i in merged])                                    # (14, 17, 3)
    assert kps.dtype == np.float32
    np.testing.assert_array_equal(kps[..., :2], val["keypoints"])
    np.testing.assert_array_equal(kps[..., 2], val["keypoints_visible"])


def test_head_boxes_tracks_and_frames(merged):
    first = merged[0]                          # annotation 1012834000000, read by eye from the file
    np.testing.assert_array_equal(first.head_bbox_xywh, [378, 503, 44, 53])
    assert first.head_bbox_xywh.dtype == np.float64
    assert first.track_id == 0 and first.video_id == "012834_mpii_test" and first.frame_index == 0
    assert first.is_labeled and first.score == 1.0
    assert all(i.head_bbox_xywh is not None and i.head_bbox_xywh.shape == (4,) for i in merged)
    assert [i.track_id for i in merged] == list(range(11)) + [0, 1, 0]
    assert [i.video_id for i in merged] == ["012834_mpii_test"] * 11 + ["009473_mpii_test"] * 2 + ["003418_mpii_test"]
    last = merged[-1]                          # 1003418000000
    np.testing.assert_array_equal(last.head_bbox_xywh, [346, 337, 296, 237])
    np.testing.assert_array_equal(last.bbox_xywh, [214.25, 15.0, 1358.5, 1092.0])


def test_ignore_regions_are_polygons(merged, merged_json: Path):
    raw = {im["id"]: im for im in json.loads(merged_json.read_text())["images"]}
    for inst in merged:
        img = raw[inst.image_id]
        sizes = [len(x) for x in img["ignore_regions_x"]]
        assert [p.shape for p in inst.ignore_regions] == [(n, 2) for n in sizes]
        for poly, xs, ys in zip(inst.ignore_regions, img["ignore_regions_x"], img["ignore_regions_y"]):
            np.testing.assert_array_equal(poly[:, 0], xs)
            np.testing.assert_array_equal(poly[:, 1], ys)
    polys = merged[0].ignore_regions           # frame 012834: 4 regions, first starts at (3, 1079)
    assert len(polys) == 4 and tuple(polys[0][0]) == (3.0, 1079.0) and polys[0].dtype == np.float64
    assert [len(i.ignore_regions) for i in merged if i.video_id == "009473_mpii_test"] == [2, 2]


def test_per_video_and_merged_forms_agree(merged, per_video_dir: Path, pt_dir: Path):
    per_video = load_posetrack(per_video_dir, pt_dir)
    assert len(per_video) == 14
    assert [i.video_id for i in per_video][:1] == ["003418_mpii_test"]   # sorted file names
    assert _by_video(per_video) == _by_video(merged)
    assert sorted(map(_key, per_video)) == sorted(map(_key, merged))


def test_per_video_without_sizes_probes_image_headers(merged, per_video_dir: Path, pt_dir: Path, tmp_path: Path):
    for f in per_video_dir.glob("*.json"):      # the official per-video files carry no width/height
        doc = json.loads(f.read_text())
        for im in doc["images"]:
            del im["width"], im["height"]
        _write(tmp_path / "val" / f.name, doc)
    probed = load_posetrack(tmp_path / "val", pt_dir)
    assert _by_video(probed) == _by_video(merged)
    unsized = load_posetrack(tmp_path / "val", pt_dir, probe_sizes=False)
    assert all(i.image_size is None for i in unsized)
    i = next(i for i in unsized if i.ann_id == 1003418000000)    # leaves the image: not clipped
    np.testing.assert_array_equal(i.reference_box(), np.float32([214.25, 15.0, 1572.75, 1107.0]))


def test_read_image_size_matches_decoder(pt_dir: Path, tmp_path: Path):
    for jpg in sorted((pt_dir / "images" / "val").glob("*/*.jpg")):
        h, w = cv2.imread(str(jpg)).shape[:2]
        assert read_image_size(jpg) == (w, h)
    png = tmp_path / "x.png"
    cv2.imwrite(str(png), np.zeros((37, 53, 3), np.uint8))
    assert read_image_size(png) == (53, 37)
    assert read_image_size(tmp_path / "missing.jpg") is None
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert read_image_size(tmp_path / "junk.jpg") is None


def test_videos_from_both_forms(per_video_dir: Path, merged_json: Path):
    a = load_posetrack_videos(per_video_dir)
    b = load_posetrack_videos(merged_json)
    assert [v.name for v in a] == VIDEOS
    assert sorted(v.name for v in b) == VIDEOS
    for v in a:
        assert isinstance(v, PoseTrackVideo) and v.path.endswith(v.name + ".json")
        other = next(w for w in b if w.name == v.name)
        assert v.images == other.images and len(v.images) == 1
        assert len(v.categories[0]["keypoints"]) == 17 and v.categories == other.categories
    with pytest.raises(AttributeError):
        a[0].name = "x"                                                   # frozen


def test_check_images_passes_on_samples(merged_json: Path, pt_dir: Path):
    assert len(load_posetrack(merged_json, pt_dir, check_images=True)) == 14


# ----------------------------------------------------------------------------- MMPose's dropping

def _doc(merged_json: Path) -> dict:
    return json.loads(merged_json.read_text())


def test_drop_rules(merged_json: Path, pt_dir: Path, tmp_path: Path, caplog):
    doc = _doc(merged_json)
    anns = doc["annotations"]
    anns[0]["iscrowd"] = True
    anns[1]["num_keypoints"] = 0
    anns[2]["bbox"] = [1950.0, 10.0, 30.0, 40.0]          # right of a 1920-wide image: zero width clipped
    kp = np.array(anns[3]["keypoints"], dtype=float).reshape(17, 3)
    kp[:, :2] = np.where(kp[:, 2:] > 0, -3.0, 0.0)       # annotated, but every coordinate <= 0
    anns[3]["keypoints"] = kp.ravel().tolist()
    del anns[4]["num_keypoints"]                          # counted from coordinates: 12, kept
    del anns[5]["keypoints"]                              # skipped like MMPose
    anns[6]["keypoints"][2] = 2                           # visibility 2 -> 1
    anns[7]["bbox"] = [100.0, 100.0, 0.0, 50.0]           # zero-area as annotated
    path = _write(tmp_path / "drops.json", doc)
    with caplog.at_level(logging.WARNING, logger="simplepose.data.cocostyle"):
        kept = load_posetrack(path, pt_dir)
    dropped = {anns[k]["id"] for k in (0, 1, 2, 3, 5, 7)}
    assert [i.ann_id for i in kept] == [a["id"] for a in anns if a["id"] not in dropped]
    assert "zero-area" in caplog.text and str(anns[2]["id"]) in caplog.text and "2 annotation" in caplog.text
    assert kept[1].ann_id == anns[6]["id"] and kept[1].keypoints[0, 2] == 1.0
    everything = load_posetrack(path, pt_dir, drop_invalid=False)
    assert len(everything) == 13                          # all but the one without keypoints


# ----------------------------------------------------------------------------- bad input

def _bad(tmp_path: Path, merged_json: Path, edit) -> Path:
    """A copy of the merged sample with `edit(doc)` applied."""
    doc = _doc(merged_json)
    edit(doc)
    return _write(tmp_path / "bad.json", doc)


def _raises(path: Path, root: Path, *needles: str, **kw) -> None:
    with pytest.raises(DataError) as err:
        load_posetrack(path, root, **kw)
    msg = str(err.value)
    assert path.name in msg
    for n in needles:
        assert n in msg, msg


def test_malformed_json(tmp_path: Path, pt_dir: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [{"id": 1,')
    _raises(path, pt_dir, "malformed JSON")
    path.write_text('[1, 2]')
    _raises(path, pt_dir, "JSON object")
    _raises(tmp_path / "absent.json", pt_dir, "not found")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no per-video annotation files"):
        load_posetrack(tmp_path / "empty", pt_dir)


@pytest.mark.parametrize("edit, needles", [
    (lambda d: d.pop("annotations"), ["missing top-level field 'annotations'"]),
    (lambda d: d["images"][1].pop("file_name"), ["images[1] (id 10094730000)", "file_name"]),
    (lambda d: d["images"][2].pop("id"), ["images[2]", "missing field 'id'"]),
    (lambda d: d["annotations"][3].pop("image_id"), ["annotation id 1012834000003", "missing field 'image_id'"]),
    (lambda d: d["annotations"][3].update(image_id=123), ["annotation id 1012834000003", "123", "not in 'images'"]),
    (lambda d: d["images"][1].update(id=10128340000), ["images[1]", "duplicate image id"]),
    (lambda d: d["images"][0].pop("height"), ["images[0]", "only one of 'width' and 'height'"]),
    (lambda d: d["images"][0]["ignore_regions_y"].pop(), ["images[0]", "ignore_regions_x and ignore_regions_y"]),
    (lambda d: d["annotations"][2].update(track_id="a"), ["annotation id 1012834000002", "'track_id' must be an integer"]),
    (lambda d: d["annotations"][2].update(num_keypoints=None), ["annotation id 1012834000002", "'num_keypoints'"]),
], ids=["no-annotations", "no-file-name", "no-image-id", "no-ann-image-id", "unknown-image", "duplicate-image",
        "half-size", "ignore-regions", "track-id", "num-keypoints"])
def test_missing_or_inconsistent_fields(tmp_path: Path, merged_json: Path, pt_dir: Path, edit, needles):
    _raises(_bad(tmp_path, merged_json, edit), pt_dir, *needles)


def test_wrong_keypoint_counts(tmp_path: Path, merged_json: Path, pt_dir: Path):
    path = _bad(tmp_path, merged_json, lambda d: d["annotations"][4]["keypoints"].pop())
    _raises(path, pt_dir, "annotation id 1012834000004", "50 values", "not a multiple of 3", "expected 51")
    path = _bad(tmp_path, merged_json, lambda d: d["annotations"][2].update(keypoints=[0.0] * 48))
    _raises(path, pt_dir, "annotation id 1012834000002", "48 values", "expected 51")
    path = _bad(tmp_path, merged_json, lambda d: [a.update(keypoints=a["keypoints"][:48]) for a in d["annotations"]])
    _raises(path, pt_dir, "annotation id 1012834000000", "48 values", "expected 51")
    path = _bad(tmp_path, merged_json, lambda d: d["annotations"][5].update(keypoints="17 points"))
    _raises(path, pt_dir, "annotation id 1012834000005", "list of numbers")


def test_missing_image_files(tmp_path: Path, merged_json: Path, pt_dir: Path):
    load_posetrack(merged_json, tmp_path)                   # not checked by default
    _raises(merged_json, tmp_path, "image file not found", "images[0] (id 10128340000)",
            str(tmp_path / "images/val/012834_mpii_test/000000.jpg"), check_images=True)


@pytest.mark.parametrize("edit, needles", [
    (lambda d: d["annotations"][6].update(bbox=[10.0, 20.0, -5.0, 30.0]), ["annotation id 1012834000006", "negative"]),
    (lambda d: d["annotations"][6].update(bbox=[]), ["annotation id 1012834000006", "0 values, expected 4"]),
    (lambda d: d["annotations"][6].update(bbox=[1.0, 2.0, 3.0]), ["annotation id 1012834000006", "3 values"]),
    (lambda d: d["annotations"][6].update(bbox=[10.0, None, 5.0, 30.0]), ["annotation id 1012834000006", "NaN"]),
    (lambda d: d["annotations"][6].update(bbox=[10.0, "a", 5.0, 30.0]), ["annotation id 1012834000006", "not a number"]),
    (lambda d: d["annotations"][6].update(bbox_head=[1.0, 2.0]), ["annotation id 1012834000006", "bbox_head"]),
], ids=["negative", "empty", "short", "null", "string", "head-box"])
def test_bad_boxes(tmp_path: Path, merged_json: Path, pt_dir: Path, edit, needles):
    _raises(_bad(tmp_path, merged_json, edit), pt_dir, *needles)


def test_nan_values(tmp_path: Path, merged_json: Path, pt_dir: Path):
    doc = _doc(merged_json)
    doc["annotations"][9]["keypoints"][7] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(doc))                      # Python writes the NaN literal, json reads it
    _raises(path, pt_dir, "annotation id 1012834000009", "NaN")
    doc = _doc(merged_json)
    doc["annotations"][9]["bbox"][0] = float("inf")
    path.write_text(json.dumps(doc))
    _raises(path, pt_dir, "annotation id 1012834000009", "bbox", "infinity")
    doc = _doc(merged_json)
    doc["images"][0]["ignore_regions_x"][1][3] = None
    path.write_text(json.dumps(doc))
    _raises(path, pt_dir, "images[0]", "ignore region 1")


def test_per_video_error_names_the_video_file(tmp_path: Path, per_video_dir: Path, pt_dir: Path):
    for f in per_video_dir.glob("*.json"):
        doc = json.loads(f.read_text())
        if f.stem == "009473_mpii_test":
            doc["annotations"][1]["keypoints"] = doc["annotations"][1]["keypoints"][:-1]
        _write(tmp_path / "val" / f.name, doc)
    with pytest.raises(DataError, match=r"009473_mpii_test\.json \(annotation id 1009473000001\)"):
        load_posetrack(tmp_path / "val", pt_dir)


# ----------------------------------------------------------------------------- detections

@pytest.fixture(scope="module")
def det_json(pt_dir: Path) -> Path:
    return pt_dir / "annotations" / "test_posetrack18_human_detections.json"


def test_detections_all_and_thresholded(det_json: Path, per_video_dir: Path, pt_dir: Path):
    raw = json.loads(det_json.read_text())
    dets = load_detections(det_json, load_image_records(per_video_dir, pt_dir))
    assert len(dets) == 278 == len(raw)
    assert [d.image_id for d in dets] == [r["image_id"] for r in raw]
    np.testing.assert_array_equal(np.stack([d.bbox_xywh for d in dets]),
                                  np.float32([r["bbox"] for r in raw]).astype(np.float64))
    for d in dets:
        assert d.image_size is None and d.ann_id is None and d.score < 1.0
        assert d.image_path == str(pt_dir / "images" / "val" / d.video_id / "000000.jpg")
        assert d.frame_index == 0 and d.keypoints.shape == (17, 3) and (d.keypoints[:, 2] == 1).all()
    kept = load_detections(det_json, load_image_records(per_video_dir, pt_dir), score_thr=0.4)   # MMPose's PoseTrack18 setting
    assert len(kept) == 88 == sum(np.float32(r["score"]) >= np.float32(0.4) for r in raw)
    assert min(d.score for d in kept) >= 0.4


def test_detection_boxes_are_not_clipped(det_json: Path, merged_json: Path, pt_dir: Path):
    dets = load_detections(det_json, load_image_records(merged_json, pt_dir))
    low = [d for d in dets if d.bbox_xywh[1] + d.bbox_xywh[3] > 1079]
    assert len(low) == 2                                   # two boxes leave the 1080-high frames
    for d in low:
        x, y, w, h = d.bbox_xywh.astype(np.float32)
        np.testing.assert_array_equal(d.reference_box(), np.float32([x, y, x + w, y + h]))
        assert d.reference_box()[3] > 1079


def test_detection_image_sources_agree(det_json: Path, merged_json: Path, per_video_dir: Path, pt_dir: Path):
    a = load_detections(det_json, load_image_records(merged_json, pt_dir))
    b = load_detections(det_json, video_image_records(load_posetrack_videos(per_video_dir), pt_dir))
    c = load_detections(det_json, load_posetrack_image_records(per_video_dir, pt_dir))
    assert list(map(_key, a)) == list(map(_key, b)) == list(map(_key, c))
    assert a[0].ignore_regions and a[0].video_id == "012834_mpii_test"


def _dets(tmp_path: Path, det_json: Path, edit) -> Path:
    raw = json.loads(det_json.read_text())
    edit(raw)
    return _write(tmp_path / "dets.json", raw)


@pytest.mark.parametrize("edit, needles", [
    (lambda r: r[5].update(image_id=42), ["detection [5]", "image_id 42", "ground-truth"]),
    (lambda r: r[6].pop("score"), ["detection [6]", "missing field 'score'"]),
    (lambda r: r[7].update(bbox=[1.0, 2.0, 3.0, -4.0]), ["detection [7]", "negative"]),
    (lambda r: r[8].update(bbox=[1.0, 2.0, None, 4.0]), ["detection [8]", "NaN"]),
    (lambda r: r[9].update(bbox=[1.0, 2.0]), ["detection [9]", "2 values"]),
], ids=["unknown-image", "no-score", "negative", "null", "short"])
def test_bad_detections(tmp_path: Path, det_json: Path, merged_json: Path, pt_dir: Path, edit, needles):
    path = _dets(tmp_path, det_json, edit)
    with pytest.raises(DataError) as err:
        load_detections(path, load_image_records(merged_json, pt_dir))
    for n in [path.name, *needles]:
        assert n in str(err.value)


def test_detection_skips(tmp_path: Path, det_json: Path, merged_json: Path, pt_dir: Path, caplog):
    def edit(raw):
        raw[0]["category_id"] = 2
        raw[1]["bbox"][2] = 0.0
    path = _dets(tmp_path, det_json, edit)
    with caplog.at_level(logging.WARNING, logger="simplepose.data.detections"):
        dets = load_detections(path, load_image_records(merged_json, pt_dir))
    assert len(dets) == 276 and "zero-area" in caplog.text and "detection [1]" in caplog.text
    assert len(load_detections(path, load_image_records(merged_json, pt_dir), category_id=None, drop_invalid=False)) == 278
    path.write_text('{"image_id": 1}')
    with pytest.raises(DataError, match="JSON list"):
        load_detections(path, load_image_records(merged_json, pt_dir))


def test_posetrack21_file_box_only_persons_dropped_and_extra_fields_read_past(tmp_path: Path):
    """A PoseTrack21 per-video file (posetrack_data/val/<seq>.json): boxes on an unlabeled frame with
    all-zero keypoints, `person_id`, `has_labeled_person`, empty ignore regions on every frame, no image
    size, no `num_keypoints`: the box-only person is dropped (no keypoint), the posed ones keep their
    per-sequence track ids."""
    seq = "000001_bonn_train"
    kp = [0.0] * 51
    kp[0:3] = [10, 20, 1]
    kp[15:18] = [14, 30, 1]
    images = [{"is_labeled": labeled, "nframes": 2, "frame_id": 10000010000 + t, "id": 10000010000 + t,
               "vid_id": "000001", "file_name": f"images/train/{seq}/{t:06d}.jpg", "has_labeled_person": True,
               "ignore_regions_x": [], "ignore_regions_y": []} for t, labeled in enumerate((True, False))]
    anns = [{"bbox": [5, 10, 20, 40], "bbox_head": [8, 15, 6, 6], "category_id": 1, "image_id": 10000010000,
             "id": 1000001000000, "keypoints": kp, "person_id": 1024, "track_id": 3},
            {"bbox": [6, 11, 20, 40], "bbox_head": [9, 16, 6, 6], "category_id": 1, "image_id": 10000010001,
             "id": 1000001000100, "keypoints": [0] * 51, "person_id": 1024, "track_id": 3}]
    folder = tmp_path / "posetrack_data" / "train"
    _write(folder / f"{seq}.json", {"images": images, "annotations": anns, "categories": []})
    (inst,) = load_posetrack(folder, tmp_path)
    assert (inst.ann_id, inst.track_id, inst.video_id, inst.frame_index, inst.is_labeled) == (
        1000001000000, 3, seq, 0, True)
    assert inst.image_size is None and inst.ignore_regions == []
    assert inst.head_bbox_xywh.tolist() == [8, 15, 6, 6]
    videos = load_posetrack_videos(folder)
    assert [v.name for v in videos] == [seq] and [im["id"] for im in videos[0].images] == [10000010000, 10000010001]
    # the boxes a tracker takes without detections: the box-only person too
    posed, boxed = load_posetrack_boxes(folder, tmp_path)
    assert posed.ann_id == inst.ann_id and (boxed.ann_id, boxed.is_labeled, boxed.track_id) == (1000001000100, False, 3)
    assert boxed.bbox_xywh.tolist() == [6, 11, 20, 40] and not boxed.keypoints.any()

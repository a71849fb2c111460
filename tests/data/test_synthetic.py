"""Synthetic PoseTrack18 data: layout, naming, JSON structure, determinism, pixels, round trips."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from simplepose.data import synthetic as syn
from simplepose.data.annotations import load_image_records
from simplepose.data.detections import load_detections
from simplepose.data.posetrack import load_posetrack, load_posetrack_videos
from simplepose.data.keypoints import annotation_category

SIZE = (256, 192)
FRAMES = 12
VIDEOS = {"train": 3, "val": 3}
SEQ_RE = {"train": re.compile(r"^\d{6}_(mpii|bonn|mpiinew)_train$"),
          "val": re.compile(r"^\d{6}_(mpii|bonn|mpiinew)_test$")}


def _generate(out: Path, seed: int = 3) -> dict:
    """The small dataset every test here reads."""
    return syn.generate_posetrack_dataset(out, videos=VIDEOS, frames=FRAMES, seed=seed, image_size=SIZE,
                                          progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "posetrack18"
    return out, _generate(out)


def _load(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _point_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd ray casting (independent of OpenCV): bool (N,) strictly-inside-ish test."""
    x, y = pts[:, 0][:, None], pts[:, 1][:, None]
    x1, y1 = poly[:, 0][None], poly[:, 1][None]
    x2, y2 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    crosses = ((y1 > y) != (y2 > y))
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return ((crosses & (x < xs)).sum(1) % 2) == 1


# ------------------------------------------------------------------------------ naming and ids

def test_ids_and_names_follow_posetrack18(samples_dir):
    # the real sample: 003418_mpii_test frame 0 has image id 10034180000, first person 1003418000000
    real = _load(samples_dir / "posetrack18/annotations/val/003418_mpii_test.json")
    assert syn.image_id_of(3418, "mpii", 0) == real["images"][0]["id"] == real["images"][0]["frame_id"]
    assert syn.image_id_of(3418, "mpii", 0) * 100 == real["annotations"][0]["id"]
    assert syn.sequence_name(3418, "mpii", "val") == "003418_mpii_test"
    assert syn.sequence_name(1, "bonn", "train") == "000001_bonn_train"
    assert syn.image_id_of(1, "bonn", 29) == 20000010029
    assert syn.image_id_of(42, "mpiinew", 3) == 30000420003
    with pytest.raises(ValueError):
        syn.image_id_of(1, "mpii", 10000)
    with pytest.raises(ValueError):
        syn.sequence_name(1, "coco", "val")


def test_category_equals_the_real_files(samples_dir):
    for f in sorted((samples_dir / "posetrack18/annotations/val").glob("*.json")):
        assert _load(f)["categories"] == [annotation_category()]


def test_labeled_frames_schedule():
    val = syn.labeled_frames(30, "val")
    assert set(np.flatnonzero(val)) == set(range(0, 30, 4)) | set(range(10, 20))
    train = syn.labeled_frames(30, "train")
    assert set(np.flatnonzero(train)) == set(range(3, 27))
    assert syn.labeled_frames(1, "val").tolist() == [True]
    assert syn.labeled_frames(3, "val").sum() >= 2


# ------------------------------------------------------------------------------ layout and JSON

def test_layout_counts_and_file_names(dataset):
    root, summary = dataset
    for split, n in VIDEOS.items():
        s = summary["splits"][split]
        assert s["videos"] == n == len(s["sequences"]) == len(set(s["sequences"]))
        assert all(SEQ_RE[split].match(q) for q in s["sequences"])
        per_video = sorted((root / "annotations" / split).glob("*.json"))
        assert [p.stem for p in per_video] == sorted(s["sequences"])
        for seq in s["sequences"]:
            frames = sorted((root / "images" / split / seq).iterdir())
            assert [p.name for p in frames] == [f"{t:06d}.jpg" for t in range(FRAMES)]
            img = cv2.imread(str(frames[0]))
            assert img is not None and img.shape == (SIZE[1], SIZE[0], 3)
        merged = _load(root / "annotations" / f"posetrack18_{split}.json")
        assert len(merged["images"]) == n * FRAMES == s["frames"]
        assert len(merged["annotations"]) == s["persons"] > 0
        assert sum(im["is_labeled"] for im in merged["images"]) == s["labeled_frames"]
        dets = _load(root / "annotations" / f"posetrack18_{split}_human_detections.json")
        assert len(dets) == s["detections"]
    # sequence numbers are unique across splits (image ids never collide)
    nums = [q[:6] for s in summary["splits"].values() for q in s["sequences"]]
    assert len(nums) == len(set(nums))


def test_per_video_json_matches_the_official_structure(dataset, samples_dir):
    root, summary = dataset
    real = _load(samples_dir / "posetrack18/annotations/val/003418_mpii_test.json")
    real_image_keys = set(real["images"][0]) - {"mask_file"}
    real_ann_keys = set(real["annotations"][0])
    for split in VIDEOS:
        labeled = syn.labeled_frames(FRAMES, split)
        for seq in summary["splits"][split]["sequences"]:
            doc = _load(root / "annotations" / split / f"{seq}.json")
            assert set(doc) == {"categories", "images", "annotations"}
            number, seq_type = int(seq[:6]), seq.split("_")[1]
            ids = [im["id"] for im in doc["images"]]
            assert ids == [syn.image_id_of(number, seq_type, t) for t in range(FRAMES)]
            for t, im in enumerate(doc["images"]):
                assert im["file_name"] == f"images/{split}/{seq}/{t:06d}.jpg"
                assert (root / im["file_name"]).is_file()
                assert im["frame_id"] == im["id"] and im["vid_id"] == seq[:6] and im["nframes"] == FRAMES
                assert im["is_labeled"] is bool(labeled[t])
                assert (im["width"], im["height"]) == SIZE
                if im["is_labeled"]:
                    assert set(im) == real_image_keys
                    assert len(im["ignore_regions_x"]) == len(im["ignore_regions_y"])
                    for xs, ys in zip(im["ignore_regions_x"], im["ignore_regions_y"]):
                        assert len(xs) == len(ys) >= 3
                        assert all(isinstance(v, int) for v in xs + ys)
                else:  # like the released files: unlabeled frames carry no ignore regions
                    assert set(im) == real_image_keys - {"ignore_regions_x", "ignore_regions_y"}
            by_image: dict[int, list] = {}
            for a in doc["annotations"]:
                assert set(a) == real_ann_keys
                by_image.setdefault(a["image_id"], []).append(a)
            unlabeled_ids = {im["id"] for im in doc["images"] if not im["is_labeled"]}
            assert not unlabeled_ids & set(by_image)
            for iid, anns in by_image.items():
                assert [a["id"] for a in anns] == [iid * 100 + k for k in range(len(anns))]
                tracks = [a["track_id"] for a in anns]
                assert len(set(tracks)) == len(tracks) and all(0 <= t < 10000 for t in tracks)


def test_annotation_values_are_consistent(dataset):
    root, _ = dataset
    merged = _load(root / "annotations" / "posetrack18_val.json")
    w, h = SIZE
    kps = np.array([a["keypoints"] for a in merged["annotations"]], np.float64).reshape(-1, 17, 3)
    vis = kps[..., 2] > 0
    assert set(np.unique(kps[..., 2])) <= {0.0, 1.0}
    assert not vis[:, [3, 4]].any() and (kps[:, [3, 4]] == 0).all()      # ears never annotated
    assert (kps[~vis] == 0).all()                                          # unannotated = (0, 0, 0)
    assert 0 < (~vis[:, 5:]).sum()                                         # some joints unannotated
    assert vis[:, [0, 1, 2, *range(5, 17)]].mean() > 0.7                   # most are annotated
    pts = kps[vis][:, :2]
    assert (pts[:, 0] >= 0).all() and (pts[:, 0] <= w - 1).all()
    assert (pts[:, 1] >= 0).all() and (pts[:, 1] <= h - 1).all()
    for a, k, v in zip(merged["annotations"], kps, vis):
        assert a["num_keypoints"] == v.sum() >= syn.MIN_ANNOTATED
        assert a["iscrowd"] is False and a["category_id"] == 1 and a["scores"] == []
        # PoseTrack18's box: extent of the annotated joints grown 1.3x about its centre
        lo, hi = k[v, :2].min(0), k[v, :2].max(0)
        expect = [(lo[0] + hi[0]) / 2 - 0.65 * (hi[0] - lo[0]), (lo[1] + hi[1]) / 2 - 0.65 * (hi[1] - lo[1]),
                  1.3 * (hi[0] - lo[0]), 1.3 * (hi[1] - lo[1])]
        np.testing.assert_allclose(a["bbox"], expect, atol=2e-3)
        # head box: integers, square, 1.2x the head_top/head_bottom distance, centred on it
        hx, hy, hw, hh = a["bbox_head"]
        assert all(isinstance(v_, int) for v_ in a["bbox_head"]) and hw > 0 and hh > 0
        if v[1] and v[2]:
            mid = (k[1, :2] + k[2, :2]) / 2
            assert abs(hx + hw / 2 - mid[0]) <= 1.5 and abs(hy + hh / 2 - mid[1]) <= 1.5
            assert abs(hh - 1.2 * np.linalg.norm(k[2, :2] - k[1, :2])) <= 2.0
    # figures are large in the frame: person boxes mostly 40-100% of the image height
    heights = np.array([a["bbox"][3] for a in merged["annotations"]]) / h
    assert np.median(heights) > 0.45 and heights.max() < 1.2


def test_tracks_are_temporally_smooth(dataset):
    root, summary = dataset
    for seq in summary["splits"]["train"]["sequences"]:
        doc = _load(root / "annotations" / "train" / f"{seq}.json")
        frame_of = {im["id"]: t for t, im in enumerate(doc["images"])}
        head = {}
        for a in doc["annotations"]:
            x, y, w_, h_ = a["bbox_head"]
            head[(a["track_id"], frame_of[a["image_id"]])] = np.array([x + w_ / 2, y + h_ / 2])
        steps = [np.linalg.norm(head[(tr, t + 1)] - c) for (tr, t), c in head.items() if (tr, t + 1) in head]
        assert steps and max(steps) < 0.1 * SIZE[0]


def test_ignore_regions_hold_no_annotated_person(dataset):
    root, _ = dataset
    n_regions = 0
    for split in VIDEOS:
        merged = _load(root / "annotations" / f"posetrack18_{split}.json")
        by_image: dict[int, list] = {}
        for a in merged["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
        for im in merged["images"]:
            anns = by_image.get(im["id"], [])
            for xs, ys in zip(im.get("ignore_regions_x", []), im.get("ignore_regions_y", [])):
                n_regions += 1
                poly = np.stack([xs, ys], 1).astype(np.float64)
                for a in anns:
                    k = np.array(a["keypoints"], np.float64).reshape(17, 3)
                    assert not _point_in_polygon(k[k[:, 2] > 0, :2], poly).any(), (im["file_name"], a["id"])
    assert n_regions > 0


def test_detections_are_noisy_boxes_of_the_people(dataset):
    root, _ = dataset
    merged = _load(root / "annotations" / "posetrack18_val.json")
    dets = _load(root / "annotations" / "posetrack18_val_human_detections.json")
    image_ids = {im["id"] for im in merged["images"]}
    w, h = SIZE
    for d in dets:
        assert set(d) == {"bbox", "category_id", "image_id", "score"}
        assert d["image_id"] in image_ids and d["category_id"] == 1 and 0 < d["score"] <= 1
        x, y, bw, bh = d["bbox"]
        assert bw > 0 and bh > 0 and x >= 0 and y >= 0 and x + bw <= w - 1 + 1e-6 and y + bh <= h - 1 + 1e-6

    def iou(a, b):
        ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
        iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
        ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
        return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)

    det_by_image: dict[int, list] = {}
    for d in dets:
        det_by_image.setdefault(d["image_id"], []).append(d)
    found, gt_total, false_pos = 0, 0, 0
    for a in merged["annotations"]:
        k = np.array(a["keypoints"], np.float64).reshape(17, 3)
        v = k[:, 2] > 0
        tight = [*k[v, :2].min(0), *(k[v, :2].max(0) - k[v, :2].min(0))]
        gt_total += 1
        found += any(iou(tight, d["bbox"]) > 0.5 for d in det_by_image.get(a["image_id"], []))
    for iid, ds in det_by_image.items():
        gts = [a["bbox"] for a in merged["annotations"] if a["image_id"] == iid]
        false_pos += sum(all(iou(d["bbox"], g) < 0.1 for g in gts) for d in ds) if gts else 0
    assert found / gt_total > 0.85
    assert false_pos > 0
    # detections also cover unlabeled frames (as a detector run over the whole video would)
    assert {d["image_id"] for d in dets} - {im["id"] for im in merged["images"] if im["is_labeled"]}


# ------------------------------------------------------------------------------ pixels

def test_figures_are_visible_at_their_keypoints():
    rng = np.random.default_rng(11)
    video = syn.render_video(rng, 6, SIZE)
    bg = video.background.astype(np.int16)
    diffs = []
    for t, frame in enumerate(video.frames):
        for i in np.flatnonzero(video.present[t]):
            k = video.keypoints[t, i]
            for x, y in k[k[:, 2] > 0, :2]:
                xi, yi = int(round(x)), int(round(y))
                diffs.append(np.abs(frame[yi, xi].astype(np.int16) - bg[yi, xi]).max())
    diffs = np.array(diffs)
    assert len(diffs) > 20
    assert np.median(diffs) > 40 and (diffs > 15).mean() > 0.9
    # away from the figures the frame is the background plus at most the sensor noise (4 levels)
    for frame in video.frames:
        assert (np.abs(frame.astype(np.int16) - bg).max(-1) <= 4).mean() > 0.5


def _marker_luminance(root: Path, split: str, limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per annotated person: decoded-JPEG luminance at its annotated left and right limb joints."""
    merged = _load(root / "annotations" / f"posetrack18_{split}.json")
    by_image: dict[int, list] = {}
    for a in merged["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    out = []
    for im in merged["images"][:limit]:
        if im["id"] not in by_image:
            continue
        frame = cv2.imread(str(root / im["file_name"])).astype(np.float64)
        for a in by_image[im["id"]]:
            k = np.array(a["keypoints"]).reshape(17, 3)
            lum = [[frame[int(round(k[j, 1])), int(round(k[j, 0]))].mean() for j in range(side, 17, 2)
                    if k[j, 2] > 0] for side in (5, 6)]      # left joints 5,7,..,15; right 6,8,..,16
            out.append((np.array(lum[0]), np.array(lum[1])))
    return out


def test_jpeg_frames_show_side_coded_joint_markers(dataset):
    """Limb joints carry markers, light on one side of a figure and dark on the other.

    A joint hidden by the figure's own body stays annotated (as in PoseTrack), so a few show
    something else: hence majority checks.
    """
    root, _ = dataset
    consistent, light_left = [], []
    for left, right in _marker_luminance(root, "val"):
        if len(left) < 3 or len(right) < 3:
            continue
        left_light = np.median(left) > np.median(right)
        lights, darks = (left, right) if left_light else (right, left)
        consistent.append(((lights > 150).mean() + (darks < 90).mean()) / 2)
        light_left.append(left_light)
    assert len(consistent) > 20
    assert np.mean(consistent) > 0.85
    # the colour -> side assignment is drawn per figure (mirror-symmetric data): both occur
    assert 0.2 < np.mean(light_left) < 0.8


def test_fixed_sides_put_light_markers_on_the_left(tmp_path):
    out = tmp_path / "fixed"
    syn.generate_posetrack_dataset(out, videos=2, frames=4, seed=1, image_size=SIZE, splits=("val",),
                                   progress=False, fixed_sides=True)
    pairs = [(left, right) for left, right in _marker_luminance(out, "val") if len(left) and len(right)]
    assert len(pairs) > 5
    assert np.mean([np.median(left) > np.median(right) for left, right in pairs]) > 0.9


# ------------------------------------------------------------------------------ determinism

def test_deterministic_for_a_seed(dataset, tmp_path):
    root, summary = dataset
    again = tmp_path / "again"
    s2 = _generate(again)
    assert _files(root) == _files(again)
    assert {k: v for k, v in s2.items() if k not in ("seconds", "out_dir")} == \
        {k: v for k, v in summary.items() if k not in ("seconds", "out_dir")}
    other = tmp_path / "other"
    syn.generate_posetrack_dataset(other, videos={"val": 1}, frames=FRAMES, seed=4, image_size=SIZE,
                                   splits=("val",), progress=False)
    first = sorted((other / "images" / "val").rglob("*.jpg"))[0].read_bytes()
    assert first not in set(_files(root).values())


# ------------------------------------------------------------------------------ round trips

def _instances_by_ann(instances) -> dict[int, object]:
    return {inst.ann_id: inst for inst in instances}


def test_round_trip_through_the_posetrack_reader(dataset):
    root, _ = dataset
    for split in VIDEOS:
        merged = _load(root / "annotations" / f"posetrack18_{split}.json")
        per_video = load_posetrack(root / "annotations" / split, root, drop_invalid=False)
        from_merged = load_posetrack(root / "annotations" / f"posetrack18_{split}.json", root, drop_invalid=False)
        assert len(per_video) == len(from_merged) == len(merged["annotations"])
        a_idx, b_idx = _instances_by_ann(per_video), _instances_by_ann(from_merged)
        images = {im["id"]: im for im in merged["images"]}
        for ann in merged["annotations"]:
            im = images[ann["image_id"]]
            polys = [np.stack([x, y], 1) for x, y in zip(im["ignore_regions_x"], im["ignore_regions_y"])]
            for inst in (a_idx[ann["id"]], b_idx[ann["id"]]):
                assert Path(inst.image_path) == root / im["file_name"]
                assert inst.image_id == ann["image_id"] and inst.track_id == ann["track_id"]
                assert inst.video_id == im["file_name"].split("/")[2]
                assert inst.frame_index == int(Path(im["file_name"]).stem)
                assert inst.is_labeled and inst.image_size == SIZE
                np.testing.assert_allclose(inst.keypoints, np.array(ann["keypoints"]).reshape(17, 3), atol=1e-4)
                np.testing.assert_allclose(inst.bbox_xywh, ann["bbox"], atol=1e-9)
                np.testing.assert_allclose(inst.head_bbox_xywh, ann["bbox_head"], atol=1e-9)
                assert len(inst.ignore_regions) == len(polys)
                for got, want in zip(inst.ignore_regions, polys):
                    np.testing.assert_array_equal(got, want)
        # with MMPose's dropping nothing valid is lost (every synthetic person has >= 3 joints)
        kept = load_posetrack(root / "annotations" / f"posetrack18_{split}.json", root)
        assert len(kept) == len(merged["annotations"])


def test_round_trip_of_frame_records(dataset):
    root, summary = dataset
    per_video = load_posetrack_videos(root / "annotations" / "val")
    merged = load_posetrack_videos(root / "annotations" / "posetrack18_val.json")
    assert [v.name for v in per_video] == sorted(summary["splits"]["val"]["sequences"])
    assert sorted(v.name for v in merged) == [v.name for v in per_video]
    by_name = {v.name: v for v in merged}
    for v in per_video:
        assert v.images == by_name[v.name].images and len(v.images) == FRAMES


def test_detections_load_against_the_ground_truth(dataset):
    root, summary = dataset
    dets = load_detections(root / "annotations" / "posetrack18_val_human_detections.json",
                           load_image_records(root / "annotations" / "posetrack18_val.json", root))
    assert len(dets) == summary["splits"]["val"]["detections"]
    assert all(d.video_id in summary["splits"]["val"]["sequences"] for d in dets)


# ------------------------------------------------------------------------------ API and CLI

def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        syn.generate_posetrack_dataset(tmp_path, videos=1, frames=2, image_size=(8, 8), progress=False)
    with pytest.raises(ValueError, match="frames"):
        syn.generate_posetrack_dataset(tmp_path, videos=1, frames=0, progress=False)
    with pytest.raises(ValueError, match="split"):
        syn.generate_posetrack_dataset(tmp_path, videos={"train": 1}, frames=2, progress=False)
    with pytest.raises(ValueError, match=">= 1"):
        syn.generate_posetrack_dataset(tmp_path, videos=0, frames=2, progress=False)


def test_synth_command_writes_dataset_and_overlays(tmp_path, capsys):
    from simplepose.commands import synth

    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    out = tmp_path / "d"
    args = parser.parse_args([str(out), "--videos", "val=1", "--splits", "val", "--frames", "5",
                              "--width", "160", "--height", "128", "--seed", "2", "--draw", "--draw-count", "1",
                              "--quiet"])
    assert synth.run(args) == 0
    text = capsys.readouterr().out
    assert "val: 1 videos, 5 frames" in text
    overlays = list((out / "overlays" / "val").glob("*.png"))
    assert len(overlays) == 1
    img = cv2.imread(str(overlays[0]))
    assert img.shape == (128, 160, 3)
    raw = cv2.imread(str(sorted((out / "images" / "val").rglob("000000.jpg"))[0]))
    assert np.abs(img.astype(int) - raw.astype(int)).max() > 100      # something was drawn
    bad = parser.parse_args([str(out), "--width", "8"])
    assert synth.run(bad) == 2


def test_rewrites_its_own_output_but_refuses_foreign_folders(tmp_path):
    out = tmp_path / "d"
    syn.generate_posetrack_dataset(out, videos=2, frames=3, seed=0, image_size=(96, 64), splits=("val",),
                                   progress=False)
    first = sorted(p.name for p in (out / "annotations" / "val").glob("*.json"))
    syn.generate_posetrack_dataset(out, videos=1, frames=3, seed=5, image_size=(96, 64), splits=("val",),
                                   progress=False)
    second = sorted(p.name for p in (out / "annotations" / "val").glob("*.json"))
    assert len(first) == 2 and len(second) == 1            # no stale per-video files left behind
    assert len(list((out / "images" / "val").iterdir())) == 1
    assert _load(out / syn.MARKER)["complete"] is True
    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        syn.generate_posetrack_dataset(foreign, videos=1, frames=2, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"

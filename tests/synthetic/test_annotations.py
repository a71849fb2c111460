"""Synthetic annotations: naming, ids, labeled frames, the per-video JSON's structure and values, detections."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.data.keypoints import annotation_category
from simplepose.synthetic.annotations import (detectability, detections, image_id_of, labeled_frames, miss_probability,
                                              sequence_name)
from simplepose.synthetic.camera import Canvas, still_camera
from simplepose.synthetic.render import MIN_ANNOTATED, Video, render_video
from tests.synthetic.small_dataset import FRAMES, SIZE, VIDEOS, load_json


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
    real = load_json(samples_dir / "posetrack18/annotations/val/003418_mpii_test.json")
    assert image_id_of(3418, "mpii", 0) == real["images"][0]["id"] == real["images"][0]["frame_id"]
    assert image_id_of(3418, "mpii", 0) * 100 == real["annotations"][0]["id"]
    assert sequence_name(3418, "mpii", "val") == "003418_mpii_test"
    assert sequence_name(1, "bonn", "train") == "000001_bonn_train"
    assert image_id_of(1, "bonn", 29) == 20000010029
    assert image_id_of(42, "mpiinew", 3) == 30000420003
    with pytest.raises(ValueError):
        image_id_of(1, "mpii", 10000)
    with pytest.raises(ValueError):
        sequence_name(1, "coco", "val")


def test_category_equals_the_real_files(samples_dir):
    for f in sorted((samples_dir / "posetrack18/annotations/val").glob("*.json")):
        assert load_json(f)["categories"] == [annotation_category()]


def test_labeled_frames_schedule():
    val = labeled_frames(30, "val")
    assert set(np.flatnonzero(val)) == set(range(0, 30, 4)) | set(range(10, 20))
    train = labeled_frames(30, "train")
    assert set(np.flatnonzero(train)) == set(range(3, 27))
    assert labeled_frames(1, "val").tolist() == [True]
    assert labeled_frames(3, "val").sum() >= 2


# ------------------------------------------------------------------------------ JSON

def test_per_video_json_matches_the_official_structure(dataset, samples_dir):
    root, summary = dataset
    real = load_json(samples_dir / "posetrack18/annotations/val/003418_mpii_test.json")
    real_image_keys = set(real["images"][0]) - {"mask_file"}
    real_ann_keys = set(real["annotations"][0])
    for split in VIDEOS:
        labeled = labeled_frames(FRAMES, split)
        for seq in summary["splits"][split]["sequences"]:
            doc = load_json(root / "annotations" / split / f"{seq}.json")
            assert set(doc) == {"categories", "images", "annotations"}
            number, seq_type = int(seq[:6]), seq.split("_")[1]
            ids = [im["id"] for im in doc["images"]]
            assert ids == [image_id_of(number, seq_type, t) for t in range(FRAMES)]
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
    merged = load_json(root / "annotations" / "posetrack18_val.json")
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
        assert a["num_keypoints"] == v.sum() >= MIN_ANNOTATED
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
        doc = load_json(root / "annotations" / "train" / f"{seq}.json")
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
        merged = load_json(root / "annotations" / f"posetrack18_{split}.json")
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
    merged = load_json(root / "annotations" / "posetrack18_val.json")
    dets = load_json(root / "annotations" / "posetrack18_val_human_detections.json")
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
    assert found / gt_total > 0.75       # the miss model misses 10-12% of a generated set's persons
    assert false_pos > 0
    # detections also cover unlabeled frames (as a detector run over the whole video would)
    assert {d["image_id"] for d in dets} - {im["id"] for im in merged["images"] if im["is_labeled"]}


def test_miss_probability_by_hand():
    # a large, fully visible, slow person: the base rate only
    assert miss_probability(0.5, 0.0, 0.0, 0.01) == pytest.approx(0.03)
    # each cause on its own, then all four failing the person independently
    assert miss_probability(0.15, 0.0, 0.0, 0.0) == pytest.approx(1 - 0.97 * (1 - 0.8 * 0.5))     # half-way small
    assert miss_probability(0.5, 0.25, 0.0, 0.0) == pytest.approx(1 - 0.97 * (1 - 0.125))         # 0.25^1.5
    assert miss_probability(0.5, 0.0, 0.25, 0.0) == pytest.approx(1 - 0.97 * (1 - 0.5 * 0.125))
    assert miss_probability(0.5, 0.0, 0.0, 0.12) == pytest.approx(1 - 0.97 * (1 - 0.4 * 0.5))     # half-way blurred
    assert miss_probability(0.15, 0.25, 0.25, 0.12) == pytest.approx(1 - 0.97 * 0.6 * 0.875 * 0.9375 * 0.8)
    assert miss_probability(0.01, 1.0, 1.0, 1.0) == pytest.approx(1.0)


def test_detectability_is_uniform_each_frame_and_correlated_over_frames():
    u = detectability(np.random.default_rng(0), 400, 500, 0.9)
    assert u.shape == (400, 500) and ((u >= 0) & (u <= 1)).all()
    low = u < 0.1
    assert low.mean() == pytest.approx(0.1, abs=0.005)
    # P(u_t < 0.1 | u_{t-1} < 0.1) for an AR(1) Gaussian of correlation 0.9: the bivariate normal
    # CDF at its 10% quantiles over 0.1 = 0.69; independent frames would give 0.1
    assert (low[1:] & low[:-1]).sum() / low[:-1].sum() == pytest.approx(0.69, abs=0.02)
    independent = detectability(np.random.default_rng(0), 400, 500, 0.0) < 0.1
    assert (independent[1:] & independent[:-1]).sum() / independent[:-1].sum() == pytest.approx(0.1, abs=0.01)


W, H = 320, 240


def _still_person(cx: float, cy: float, height: float) -> np.ndarray:
    """15 annotatable joints (and the ears) of a standing person (17, 2): a column of points about (cx, cy)."""
    ys = cy + height * (np.linspace(0, 1, 17) - 0.5)
    xs = cx + 0.15 * height * np.tile([-1.0, 1.0], 9)[:17]
    return np.stack([xs, ys], 1)


def _hand_built_video(joints: np.ndarray, covered: np.ndarray, heights: np.ndarray) -> Video:
    """A Video of persons with the given joints (T, P, 17, 2), covered flags (T, P, 17) and heights (T, P):
    joints in the image and not covered are annotated; no pixels (detections do not look at them)."""
    t, p = joints.shape[:2]
    inside = (joints[..., 0] >= 0) & (joints[..., 0] <= W - 1) & (joints[..., 1] >= 0) & (joints[..., 1] <= H - 1)
    ann = inside & ~covered
    ann[..., [3, 4]] = False                                          # ears: never annotated
    kps = np.concatenate([np.where(ann[..., None], joints, 0.0), ann[..., None].astype(float)], -1)
    boxes = np.zeros((t, p, 4))
    for ti in range(t):
        for i in range(p):
            v = joints[ti, i][ann[ti, i]]
            boxes[ti, i] = [*v.min(0), *v.max(0)]
    return Video(frames=[np.zeros((H, W, 3), np.uint8)] * t, keypoints=kps, head_boxes=np.zeros((t, p, 4)),
                 present=ann.sum(-1) >= 3, visible_boxes=boxes, joints=joints, covered=covered, heights=heights,
                 ignore_polygons=[[] for _ in range(t)], background=np.zeros((H, W, 3), np.uint8),
                 canvas=Canvas((0, 0), (W, H)), camera=still_camera(t))


def _miss_rates(video: Video, seeds: int) -> np.ndarray:
    """Fraction of frames (P,) in which no detection's centre falls near (10 px) the person's visible box,
    over seeds."""
    t, p = video.present.shape
    missed = np.zeros(p)
    for seed in range(seeds):
        dets = detections(np.random.default_rng(seed), video, 1, "mpii", (W, H))
        by_frame: dict[int, list] = {}
        for d in dets:
            if d["score"] >= 0.5:                     # the false positives score below 0.45
                x, y, bw, bh = d["bbox"]
                by_frame.setdefault(d["image_id"], []).append((x + bw / 2, y + bh / 2))
        for ti in range(t):
            centres = by_frame.get(image_id_of(1, "mpii", ti), [])
            for i in range(p):
                x1, y1, x2, y2 = video.visible_boxes[ti, i]
                missed[i] += not any(x1 - 10 <= cx <= x2 + 10 and y1 - 10 <= cy <= y2 + 10 for cx, cy in centres)
    return missed / (seeds * t)


def test_small_truncated_occluded_and_fast_persons_are_missed_more_than_a_big_central_one():
    t = 10
    big = np.repeat(_still_person(40, 120, 200)[None], t, 0)          # large, fully visible, still
    small = np.repeat(_still_person(100, 60, 30)[None], t, 0)          # an eighth of the frame height
    cut = np.repeat(_still_person(W - 1 + 6, 120, 180)[None], t, 0)   # its right-hand joints outside
    occluded = np.repeat(_still_person(170, 120, 180)[None], t, 0)
    fast = np.stack([_still_person(260 if k % 2 else 215, 120, 180) for k in range(t)])   # 45 px (25%) a frame
    joints = np.stack([big, small, cut, occluded, fast], 1)                                # (T, 5, 17, 2)
    covered = np.zeros(joints.shape[:3], bool)
    covered[:, 3, 5:13] = True                                        # 8 of its 15 joints under someone
    heights = np.array([200, 30, 180, 180, 180], float)[None].repeat(t, 0)
    video = _hand_built_video(joints, covered, heights)
    assert video.present.all()
    rates = _miss_rates(video, 300)
    assert rates[0] == pytest.approx(0.03, abs=0.02)                  # the base rate only
    # small (1/8 of the frame height, 5/8 of the way from 1/4 to 1/20): 1 - 0.97 (1 - 0.8 x 5/8);
    # cut (7 of 15 joints outside): 1 - 0.97 (1 - 0.5 (7/15)^1.5); occluded: 1 - 0.97 (1 - (8/15)^1.5);
    # fast (moves 25% of its height a frame, past the 20% of full blur): 1 - 0.97 (1 - 0.4)
    for i, want in ((1, 0.515), (2, 0.184), (3, 0.407), (4, 0.418)):
        assert rates[i] == pytest.approx(want, abs=0.07) and rates[i] > 3 * rates[0]


def _miss_runs(bursty: bool) -> list[int]:
    """Lengths of the runs of consecutive missed frames of every person of a few rendered videos."""
    runs = []
    for seed in range(3):
        video = render_video(np.random.default_rng(seed), 60, (160, 120), persons=(3, 3))
        dets = detections(np.random.default_rng(100 + seed), video, 1, "mpii", (160, 120), bursty_misses=bursty)
        for i in range(video.present.shape[1]):
            run = 0
            for t in range(60):
                iid = image_id_of(1, "mpii", t)
                x1, y1, x2, y2 = video.visible_boxes[t, i]
                hit = any(abs(d["bbox"][0] - x1) < 0.5 * (x2 - x1) and abs(d["bbox"][1] - y1) < 0.5 * (y2 - y1)
                          for d in dets if d["image_id"] == iid and d["score"] >= 0.5)
                if video.present[t, i] and not hit:
                    run += 1
                elif run:
                    runs.append(run)
                    run = 0
            if run:
                runs.append(run)
    return runs


def test_bursty_misses_come_in_runs():
    bursty, independent = _miss_runs(True), _miss_runs(False)
    assert bursty and np.mean(bursty) > np.mean(independent or [1]) and max(bursty) >= 3

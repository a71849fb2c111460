"""`simplepose infer` on the real sample frames and video, frame sources, writers, box matching and its messages."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from simplepose.cli import main
from simplepose.inference.boxes import match_file_names
from simplepose.errors import DataError
from simplepose.inference.video import VideoWriter, open_frames
from simplepose.visualize import save_image
from tests.cli_subprocess import cli_env, run_cli
from tests.commands.cli_errors import one_error_line


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight ResNet-18 SimpleBaseline with a narrow head, saved with our checkpoint writer.

    The head is re-drawn (Kaiming) so that heatmap maxima (keypoint scores) spread over ~0.1 .. 0.5
    instead of MMPose's near-zero from-scratch head init.
    """
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    model = SimpleBaseline(depth=18, deconv_channels=32).eval()
    with torch.no_grad():
        for module in model.head.modules():
            if isinstance(module, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)):
                torch.nn.init.kaiming_normal_(module.weight)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "res18_random.pth", model)


@pytest.fixture(scope="module")
def posetrack_dir(samples_dir: Path) -> Path:
    return samples_dir / "posetrack18"


def _infer(*argv: str | Path) -> int:
    """Run `simplepose infer` in-process."""
    torch.set_num_threads(1)
    return main(["infer", *map(str, argv)])


def _results(out_dir: Path) -> list[dict]:
    with open(out_dir / "results.json") as f:
        return json.load(f)


def _check_record_structure(rec: dict, k: int = 17) -> None:
    """COCO results record: types and lengths, score = box score x mean keypoint score above 0.2."""
    assert rec["category_id"] == 1 and isinstance(rec["image_id"], int)
    assert len(rec["keypoints"]) == 3 * k and len(rec["bbox"]) == 4
    s = np.asarray(rec["keypoints"]).reshape(k, 3)[:, 2]
    assert s.max() > 0.2 and s.std() > 0.01                # the test model gives varied scores
    expected = rec["box_score"] * (s[s > 0.2].mean() if (s > 0.2).any() else 0.0)
    assert rec["score"] == pytest.approx(expected, abs=1e-3)


def test_infer_gt_boxes_on_sample_frames(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    from simplepose import PoseEstimator
    ann = posetrack_dir / "annotations" / "test_posetrack18_val.json"
    out = tmp_path / "out"
    pt_out = tmp_path / "posetrack"
    # FlowTrack's box NMS and OKS-NMS off: every GT person is kept, in order (each sequence is one frame)
    assert _infer(tiny_checkpoint, posetrack_dir / "images" / "val", "--boxes", ann, "--out-dir", out, "--draw",
                  "--track", "--posetrack-out", pt_out, "--set", "track.box_nms_thr=1.0", "track.oks_nms_thr=1.0") == 0
    results = _results(out)

    gt = json.loads(ann.read_text())
    name_of = {im["id"]: im["file_name"] for im in gt["images"]}
    size_of = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    # Every GT person of the sample is valid (num_keypoints > 0, not crowd): one record each, in order.
    assert len(results) == len(gt["annotations"]) == 14
    by_image: dict[int, list[dict]] = {}
    for rec in results:
        _check_record_structure(rec)
        assert name_of[rec["image_id"]].endswith(rec["file_name"])       # frame matched to its record
        assert rec["box_score"] == 1.0
        by_image.setdefault(rec["image_id"], []).append(rec)
    for image_id, recs in by_image.items():
        assert [r["track_id"] for r in recs] == list(range(len(recs)))   # each sequence starts afresh
        anns = [a for a in gt["annotations"] if a["image_id"] == image_id]
        w, h = size_of[image_id]
        for rec, a in zip(recs, anns, strict=True):                      # GT box clipped to the image
            x, y, bw, bh = a["bbox"]
            x1, y1 = np.clip([x, y], 0, [w - 1, h - 1])
            x2, y2 = np.clip([x + bw, y + bh], 0, [w - 1, h - 1])
            np.testing.assert_allclose(rec["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=1e-3)

    # Independent computation: the estimator on one image with the same boxes.
    image_id = gt["images"][0]["id"]
    recs = by_image[image_id]
    est = PoseEstimator.from_checkpoint(tiny_checkpoint)
    image = cv2.imread(str(posetrack_dir / name_of[image_id]))
    direct = est.predict(image, np.array([r["bbox"] for r in recs]))
    got = np.array([r["keypoints"] for r in recs]).reshape(-1, 17, 3)
    np.testing.assert_allclose(got, direct, atol=2e-3)

    # PoseTrack18 prediction files: the GT's frames, our track ids, readable by the official metric.
    gt_dir = posetrack_dir / "annotations" / "val"
    for gt_file in sorted(gt_dir.glob("*.json")):
        pred = json.loads((pt_out / gt_file.name).read_text())
        gt_video = json.loads(gt_file.read_text())
        assert [im["id"] for im in pred["images"]] == [im["id"] for im in gt_video["images"]]
        tracks = [a["track_id"] for a in pred["annotations"]]
        assert len(tracks) == len(set(tracks)) and set(tracks) <= set(range(len(gt_video["annotations"])))
    assert main(["eval", str(gt_dir), str(pt_out), "--tracking"]) == 0

    overlays = sorted((out / "overlays").rglob("*.jpg"))
    assert [p.relative_to(out / "overlays").as_posix() for p in overlays] == [
        f"{v}/000000.jpg" for v in ("003418_mpii_test", "009473_mpii_test", "012834_mpii_test")]
    for p in overlays:
        drawn = cv2.imread(str(p))
        original = cv2.imread(str(posetrack_dir / "images" / "val" / p.relative_to(out / "overlays")))
        assert drawn.shape == original.shape
        assert np.abs(drawn.astype(int) - original).max() > 100             # something was drawn


def test_infer_gt_boxes_from_per_video_folder(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    # The official per-video layout gives the same persons as the merged file, in the same order.
    ann = json.loads((posetrack_dir / "annotations" / "test_posetrack18_val.json").read_text())
    out = tmp_path / "out"
    assert _infer(tiny_checkpoint, posetrack_dir / "images" / "val", "--boxes", posetrack_dir / "annotations" / "val",
                  "--no-flip", "--out-dir", out) == 0
    results = _results(out)
    order = {im["id"]: im["file_name"] for im in ann["images"]}
    expected = sorted(ann["annotations"], key=lambda a: order[a["image_id"]])   # stable: file order within
    assert [r["image_id"] for r in results] == [a["image_id"] for a in expected]
    for r, a in zip(results, expected):
        assert r["bbox"][:2] == pytest.approx(np.clip(a["bbox"][:2], 0, None).tolist(), abs=1e-3)


def test_infer_detections_matched_through_images_json(tiny_checkpoint: Path, posetrack_dir: Path,
                                                      tmp_path: Path) -> None:
    dets_path = posetrack_dir / "annotations" / "test_posetrack18_human_detections.json"
    ann = posetrack_dir / "annotations" / "test_posetrack18_val.json"
    out = tmp_path / "out"
    assert _infer(tiny_checkpoint, posetrack_dir / "images" / "val", "--boxes", dets_path, "--images-json", ann,
                  "--det-thr", "0.9", "--no-flip", "--batch-size", "3", "--out-dir", out) == 0
    results = _results(out)
    dets = json.loads(dets_path.read_text())
    kept = [d for d in dets if np.float32(d["score"]) >= np.float32(0.9)]
    assert len(results) == len(kept) == 8
    # Records follow the input images' order (sorted paths), detections in file order within an image.
    name_of = {im["id"]: im["file_name"] for im in json.loads(ann.read_text())["images"]}
    order = sorted(range(len(kept)), key=lambda i: name_of[kept[i]["image_id"]])
    for rec, i in zip(results, order):
        _check_record_structure(rec)
        assert rec["image_id"] == kept[i]["image_id"]
        assert rec["box_score"] == pytest.approx(kept[i]["score"], rel=1e-6)
        np.testing.assert_allclose(rec["bbox"], kept[i]["bbox"], rtol=1e-6)
        assert name_of[rec["image_id"]].endswith(rec["file_name"])


def test_infer_video_whole_frame_with_tracking(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    video = posetrack_dir / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4"
    out = tmp_path / "out"
    video_out = tmp_path / "overlay.mp4"
    assert _infer(tiny_checkpoint, video, "--track", "--video-out", video_out, "--draw", "--out-dir", out) == 0
    results = _results(out)
    assert [r["frame_index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["image_id"] for r in results] == [0, 1, 2, 3, 4]
    for r in results:
        _check_record_structure(r)
        assert r["bbox"] == [0.0, 0.0, 1280.0, 720.0]
        assert r["track_id"] == 0                      # the same whole-frame "person" all along
    frames = list(open_frames(video_out))
    assert len(frames) == 5 and frames[0].image.shape == (720, 1280, 3)
    assert sorted(p.name for p in (out / "overlays").iterdir()) == [f"{i:06d}.jpg" for i in range(5)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temp files left


def test_infer_video_with_frame_indexed_detections(tiny_checkpoint: Path, posetrack_dir: Path,
                                                   tmp_path: Path) -> None:
    video = posetrack_dir / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4"
    # Two persons in frames 0 and 2 (image_id = frame number), frame 1 empty, one low-score box dropped.
    dets = [{"image_id": f, "category_id": 1, "bbox": [100.0 + 5 * f, 100.0, 200.0, 400.0], "score": 0.9}
            for f in (0, 2)]
    dets += [{"image_id": f, "category_id": 1, "bbox": [800.0, 150.0, 180.0, 420.0], "score": 0.8} for f in (0, 2)]
    dets += [{"image_id": 3, "category_id": 1, "bbox": [10.0, 10.0, 50.0, 50.0], "score": 0.1}]
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    out = tmp_path / "out"
    # iou similarity: a random-weight model's poses say nothing about identity, its boxes do
    assert _infer(tiny_checkpoint, video, "--boxes", det_file, "--track", "--similarity", "iou", "--no-flip",
                  "--out-dir", out) == 0
    results = _results(out)
    assert [(r["frame_index"], r["bbox"][0]) for r in results] == [(0, 100.0), (0, 800.0), (2, 110.0), (2, 800.0)]
    # The boxes barely move, the gap of one frame is within --max-age: identities are kept.
    assert [r["track_id"] for r in results] == [0, 1, 0, 1]


def test_infer_coco_gt_boxes_and_numbered_detections(tiny_checkpoint: Path, samples_dir: Path,
                                                     tmp_path: Path) -> None:
    coco = samples_dir / "coco"
    out = tmp_path / "gt"
    assert _infer(tiny_checkpoint, coco, "--boxes", coco / "test_coco.json", "--no-flip", "--out-dir", out) == 0
    results = _results(out)
    gt = json.loads((coco / "test_coco.json").read_text())
    # MMPose drops the two annotations with num_keypoints == 0 (ids checked by hand in the file).
    valid = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    assert len(results) == len(valid) == 12
    name_of = {im["id"]: im["file_name"] for im in gt["images"]}
    for rec in results:
        _check_record_structure(rec)
        assert rec["file_name"] == name_of[rec["image_id"]]
    assert sorted(r["image_id"] for r in results) == sorted(a["image_id"] for a in valid)

    # Detections without --images-json: image_id is the number in the file name (000000000785.jpg).
    dets_path = coco / "test_coco_det_AP_H_56.json"
    out = tmp_path / "det"
    assert _infer(tiny_checkpoint, coco, "--boxes", dets_path, "--det-thr", "0.9", "--no-flip", "--out-dir", out) == 0
    results = _results(out)
    kept = [d for d in json.loads(dets_path.read_text()) if np.float32(d["score"]) >= np.float32(0.9)]
    assert len(results) == len(kept) == 14
    for rec in results:
        assert int(Path(rec["file_name"]).stem) == rec["image_id"]
    assert sorted((r["image_id"], r["box_score"]) for r in results) == \
        sorted((d["image_id"], float(np.float32(d["score"]))) for d in kept)


def test_infer_video_with_posetrack_annotations(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    video = posetrack_dir / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4"
    # A hand-made PoseTrack-style file: frames 1 and 3 of this sequence labelled, one person each;
    # frames are matched by the number in their file name; the box leaves the image and is clipped.
    images = [{"id": 10000010000 + f, "file_name": f"images/val/000001_mpiinew_test/{f:06d}.jpg",
               "vid_id": "000001", "frame_id": 10000010000 + f, "width": 1280, "height": 720}
              for f in range(5)]
    kps = [500.0, 300.0, 2] * 17
    anns = [{"id": i, "image_id": 10000010000 + f, "bbox": [400.0, 200.0, 300.0, 600.0], "keypoints": kps,
             "num_keypoints": 17, "iscrowd": 0, "track_id": 0, "category_id": 1} for i, f in enumerate((1, 3))]
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": []}))
    out = tmp_path / "out"
    assert _infer(tiny_checkpoint, video, "--boxes", ann, "--no-flip", "--out-dir", out) == 0
    results = _results(out)
    assert [(r["frame_index"], r["image_id"]) for r in results] == [(1, 10000010001), (3, 10000010003)]
    for r in results:
        assert r["bbox"] == [400.0, 200.0, 300.0, 519.0]          # y2 = 800 clipped to height - 1


def test_infer_errors(tiny_checkpoint: Path, posetrack_dir: Path, samples_dir: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert _infer(tiny_checkpoint, tmp_path / "missing.jpg", "--out-dir", out) == 2
    assert "input not found" in capsys.readouterr().err
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(b"this is not a video" * 10)
    assert _infer(tiny_checkpoint, bad_video, "--out-dir", out) == 2
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "video" in err
    # PoseTrack annotations do not name any COCO image.
    ann = posetrack_dir / "annotations" / "test_posetrack18_val.json"
    assert _infer(tiny_checkpoint, samples_dir / "coco", "--boxes", ann, "--out-dir", out) == 2
    assert "matches none of the 4 input images" in capsys.readouterr().err
    # Detections whose image ids are no input image's number.
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 1.0}]))
    assert _infer(tiny_checkpoint, samples_dir / "coco", "--boxes", dets, "--out-dir", out) == 2
    assert "image_id 5" in capsys.readouterr().err
    # PoseTrack output without PoseTrack image records.
    assert _infer(tiny_checkpoint, samples_dir / "coco", "--posetrack-out", tmp_path / "pt", "--out-dir", out) == 2
    assert "--posetrack-out needs PoseTrack" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _infer(tiny_checkpoint, empty, "--out-dir", out) == 2
    assert "no image files" in capsys.readouterr().err
    assert not (out / "results.json").exists()


def test_match_file_names_by_longest_suffix(tmp_path: Path) -> None:
    names = ["images/val/a/000000.jpg", "images/val/b/000000.jpg", "images/val/b/000001.jpg"]
    paths = [str(tmp_path / "x" / "b" / "000000.jpg"), str(tmp_path / "b" / "000001.jpg"), str(tmp_path / "c.jpg")]
    assert match_file_names(paths, names, "ann.json") == [1, 2, None]
    with pytest.raises(DataError, match="several records"):
        match_file_names([str(tmp_path / "c" / "000000.jpg")], names, "ann.json")


def test_match_file_names_memory_does_not_grow_with_record_depth(tmp_path: Path) -> None:
    """200 records of 1500 path components (each under the 4096-character limit) against shallow inputs:
    the suffix index stays under 20 MB (indexing every suffix: 1769 MiB), and the match is found."""
    import tracemalloc
    deep = ["/".join(["d"] * 1500) + f"/v{i}/000001.jpg" for i in range(200)]
    paths = [str(tmp_path / "v7" / "000001.jpg")]
    tracemalloc.start()
    try:
        got = match_file_names(paths, deep, "ann.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == [7] and peak < 20 * 2 ** 20


def test_video_writer_round_trip_and_abort(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]
    with VideoWriter(tmp_path / "v.avi", fps=10) as w:
        for f in frames:
            w.write(f)
        w.write(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))      # other size: resized
    back = list(open_frames(tmp_path / "v.avi"))
    assert len(back) == 4 and back[0].image.shape == (48, 64, 3)
    for f, b in zip(frames, back):                                       # MJPG: lossy but close
        assert np.abs(b.image.astype(int) - f).mean() < 4
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "w.mp4") as w:
            w.write(frames[0])
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.avi"]
    with pytest.raises(DataError, match="unsupported video extension"):
        VideoWriter(tmp_path / "v.gif")


def test_frame_sources(posetrack_dir: Path, tmp_path: Path) -> None:
    folder = posetrack_dir / "videos" / "000001_mpiinew_test"
    src = open_frames(folder)
    names = [f.name for f in src]
    assert names == [f"{i:06d}.jpg" for i in range(5)] and len(src) == 5
    single = open_frames(folder / "000003.jpg")
    (frame,) = list(single)
    assert frame.name == "000003.jpg" and frame.image.shape == (720, 1280, 3)
    save_image(tmp_path / "a" / "x.png", frame.image)
    assert np.array_equal(cv2.imread(str(tmp_path / "a" / "x.png")), frame.image)   # PNG: lossless
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="unknown input type"):
        open_frames(tmp_path / "notes.txt")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(DataError, match="cannot decode"):
        list(open_frames(tmp_path / "bad.jpg"))


def test_schema_comes_from_the_checkpoint(tiny_checkpoint: Path, samples_dir: Path, tmp_path: Path) -> None:
    """A COCO checkpoint is flip-tested with COCO's pairs (eyes swap) unless --schema says otherwise."""
    from simplepose.model.checkpoint import load_checkpoint, save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    state, _ = load_checkpoint(tiny_checkpoint)
    model = SimpleBaseline(depth=18, deconv_channels=32)
    model.load_state_dict(state)
    coco_ckpt = save_checkpoint(tmp_path / "coco.pth", model, meta={"schema": "coco"})
    image = samples_dir / "coco" / "000000000785.jpg"
    runs = {}
    for name, extra in (("meta", []), ("coco", ["--schema", "coco"]), ("pt", ["--schema", "posetrack18"])):
        assert _infer(coco_ckpt, image, "--out-dir", tmp_path / name, *extra) == 0
        runs[name] = np.asarray(_results(tmp_path / name)[0]["keypoints"]).reshape(17, 3)
    np.testing.assert_array_equal(runs["meta"], runs["coco"])
    # PoseTrack's pairs keep keypoints 1 and 2 in place under the flip: the eyes differ
    assert not np.array_equal(runs["meta"][1:3], runs["pt"][1:3])


def test_infer_non_utf8_file_names(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    """Image and video names that are not UTF-8 (lone surrogates in Python) are read, not a segfault."""
    frames = tmp_path / "frames"
    frames.mkdir()
    src = sorted((posetrack_dir / "images" / "val").rglob("*.jpg"))[0]
    bad = frames / os.fsdecode(b"bad\xff.jpg")
    bad.write_bytes(src.read_bytes())
    done = run_cli("infer", tiny_checkpoint, frames, "--out-dir", tmp_path / "out", "--draw", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = _results(tmp_path / "out")
    assert len(results) == 1 and results[0]["file_name"] == bad.name
    assert (tmp_path / "out" / "overlays" / bad.name).is_file()

    video = posetrack_dir / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4"
    bad_video = tmp_path / os.fsdecode(b"clip\xfe.mp4")
    bad_video.write_bytes(video.read_bytes())
    out_video = tmp_path / os.fsdecode(b"over\xfd.avi")
    done = run_cli("infer", tiny_checkpoint, bad_video, "--out-dir", tmp_path / "vout", "--video-out", out_video, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out_video.is_file() and out_video.stat().st_size > 0


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint whose final layer's weights are NaN: every heatmap, so every keypoint, is NaN."""
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    model = SimpleBaseline(depth=18, deconv_channels=32).eval()
    with torch.no_grad():
        last = [m for m in model.head.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.fill_(float("nan"))
    return save_checkpoint(tmp_path_factory.mktemp("nan") / "nan.pth", model)


def _one_frame(posetrack_dir: Path, tmp_path: Path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    src = sorted((posetrack_dir / "images" / "val").rglob("*.jpg"))[0]
    (frames / "000000.jpg").write_bytes(src.read_bytes())
    return frames


def test_infer_refuses_to_write_nan_from_a_nan_model(nan_checkpoint: Path, posetrack_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A model whose output is not finite gives one clear error, not results.json holding NaN."""
    out = tmp_path / "out"
    assert _infer(nan_checkpoint, _one_frame(posetrack_dir, tmp_path), "--no-flip", "--out-dir", out) == 2
    err = capsys.readouterr().err.strip().replace("\r", "\n").splitlines()[-1]
    assert err.startswith("simplepose infer: error: ") and "results.json" in err and "NaN" in err
    assert not (out / "results.json").exists()


@pytest.mark.parametrize("score", ["1e400", "Infinity", "1e300"])
def test_infer_refuses_a_detection_score_beyond_float32(tiny_checkpoint: Path, posetrack_dir: Path,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        score: str) -> None:
    """A score that is infinite (1e400 parses as inf) or overflows float32 (1e300) is refused with the
    detection named; whatever is written is strict JSON."""
    frames = _one_frame(posetrack_dir, tmp_path)
    dets = tmp_path / "dets.json"
    dets.write_text(f'[{{"image_id": 0, "category_id": 1, "bbox": [100, 100, 200, 400], "score": {score}}}]')
    images = tmp_path / "images.json"
    images.write_text('{"images": [{"id": 0, "file_name": "000000.jpg", "width": 1920, "height": 1080}]}')
    out = tmp_path / "out"
    code = _infer(tiny_checkpoint, frames, "--boxes", dets, "--images-json", images, "--no-flip", "--out-dir", out)
    err = capsys.readouterr().err
    if (out / "results.json").exists():
        json.loads((out / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    assert code == 2, err
    assert "simplepose infer: error: " in err and "dets.json" in err and "detection [0]" in err


def test_infer_uses_the_checkpoints_input_size(tiny_checkpoint: Path, samples_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """A model trained at 96x128 (its saved config) is run at 96x128 by infer, and --input-size
    overrides it; a size that is not a multiple of 32 is refused with one line."""
    from simplepose import PoseEstimator
    from simplepose.model.checkpoint import load_model, save_checkpoint
    model, _ = load_model(tiny_checkpoint)
    small = save_checkpoint(tmp_path / "small.pth", model,
                            extra={"config": {"data": {"input_size": [96, 128], "heatmap_size": [24, 32]}}})
    image = samples_dir / "coco" / "000000000785.jpg"
    runs = {}
    for name, extra in (("recorded", []), ("override", ["--input-size", "192", "256"])):
        assert _infer(small, image, "--out-dir", tmp_path / name, *extra) == 0
        (rec,) = _results(tmp_path / name)
        runs[name] = (np.asarray(rec["keypoints"]).reshape(17, 3), np.asarray([rec["bbox"]]))
    for name, size in (("recorded", (96, 128)), ("override", (192, 256))):
        keypoints, box = runs[name]
        expected = PoseEstimator(model, input_size=size).predict(image, box)[0]
        np.testing.assert_allclose(keypoints, expected, rtol=0, atol=1e-4)
    assert np.abs(runs["recorded"][0][:, :2] - runs["override"][0][:, :2]).max() > 1.0
    capsys.readouterr()
    assert _infer(small, image, "--out-dir", tmp_path / "bad", "--input-size", "100", "128") == 2
    assert "simplepose infer: error: " in capsys.readouterr().err


def test_infer_gt_boxes_equal_the_test_command(tiny_checkpoint: Path, posetrack_dir: Path, tmp_path: Path) -> None:
    """One box path: `infer --boxes GT.json --posetrack-out` writes the very numbers `simplepose test` writes
    for the same GT boxes (float32 boxes as in MMPose's dataset), on the real PoseTrack18 samples."""
    from simplepose.engine.config import save_config
    from tests.engine.tiny_run import tiny_config

    ann = posetrack_dir / "annotations" / "test_posetrack18_val.json"
    cfg = tiny_config(posetrack_dir, tmp_path / "work", "data.val_ann=annotations/test_posetrack18_val.json",
                      "data.input_size=[192,256]", "data.heatmap_size=[48,64]")
    save_config(cfg, tmp_path / "cfg.yaml")
    assert main(["test", str(tmp_path / "cfg.yaml"), str(tiny_checkpoint), "--out-dir", str(tmp_path / "test"),
                 "--precision", "fp32"]) == 0
    assert _infer(tiny_checkpoint, posetrack_dir / "images" / "val", "--boxes", ann, "--out-dir", tmp_path / "inf",
                  "--posetrack-out", tmp_path / "pt", "--precision", "fp32") == 0
    names = sorted(p.name for p in (posetrack_dir / "annotations" / "val").glob("*.json"))
    for name in names:
        want = json.loads((tmp_path / "test" / "predictions" / name).read_text())["annotations"]
        got = json.loads((tmp_path / "pt" / name).read_text())["annotations"]
        assert len(got) == len(want) > 0
        for g, w in zip(got, want, strict=True):
            assert (g["image_id"], g["keypoints"], g["scores"]) == (w["image_id"], w["keypoints"], w["scores"])


def test_infer_without_boxes_says_it_uses_the_whole_frame(samples_dir: Path, tmp_path: Path, caplog) -> None:
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(depth=18, deconv_channels=16))
    image = next((samples_dir / "posetrack18" / "images" / "val").rglob("*.jpg"))
    with caplog.at_level(logging.INFO):
        assert main(["infer", str(ckpt), str(image), "--out-dir", str(tmp_path / "out"), "--no-flip"]) == 0
    assert "ONE person filling the WHOLE frame" in caplog.text
    assert "track." not in caplog.text            # no tracking: no tracking settings
    assert "memory:" not in caplog.text           # the allocator's line is for --verbose (debug)


@pytest.mark.parametrize("device, words", [("tpu", "unknown device 'tpu'"), ("cuda:7", "CUDA"),
                                           ("gpu0", "unknown device")])
def test_infer_device_unknown_or_unavailable(device: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the device")
    image = tmp_path / "x.jpg"
    image.write_bytes(b"")
    assert main(["infer", str(tmp_path / "m.pth"), str(image), "--device", device]) == 2
    one_error_line(capsys, "infer", "--device: ", *words.split(","))


@pytest.mark.parametrize("option", ["--det-thr", "--kpt-thr", "--fps"])
def test_infer_refuses_nan_thresholds(option: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["infer", str(tmp_path / "m.pth"), str(tmp_path), option, "nan"])
    assert e.value.code == 2
    assert f"argument {option}: must be a finite number, got 'nan'" in capsys.readouterr().err


def test_sigterm_in_infer_leaves_no_temp_video(tmp_path: Path) -> None:
    """SIGTERM while the overlay video is being written: the hidden temp file is removed, exit 143."""
    import signal
    import subprocess
    import sys
    import time

    import cv2
    import numpy as np
    import torch

    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pth", SimpleBaseline(depth=18, deconv_channels=16))
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(400):
        cv2.imwrite(str(frames / f"{i:06d}.jpg"), np.full((48, 64, 3), i % 255, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "simplepose", "infer", str(ckpt), str(frames), "--batch-size",
                             "1", "--out-dir", str(out), "--video-out", str(out / "v.mp4")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    try:
        for _ in range(1200):                        # until the temp video exists (or 120 s)
            if any(p.name.startswith(".v.") for p in out.iterdir()) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().strip().splitlines()[-1] == "simplepose infer: interrupted: terminated by SIGTERM"
    assert sorted(p.name for p in out.iterdir()) == []


def test_infer_on_a_folder_of_videos_under_torchrun_writes_the_one_process_files(tmp_path: Path) -> None:
    """A folder of 3 videos in 2 CPU processes (torchrun, gloo): whole videos per process, each video's
    files in OUT_DIR/<video name>/, byte for byte those of one process."""
    import subprocess
    import sys

    from simplepose.engine.build import build_model
    from tests.engine.tiny_run import tiny_config

    torch.manual_seed(0)
    ckpt = tmp_path / "model.pth"
    torch.save({"state_dict": build_model(tiny_config(tmp_path, tmp_path)).state_dict(),
                "meta": {"schema": "posetrack18"}}, ckpt)
    videos = tmp_path / "videos"
    videos.mkdir()
    rng = np.random.default_rng(0)
    for name, frames in (("a", 3), ("b", 2), ("c", 2)):
        with VideoWriter(videos / f"{name}.avi", fps=5) as w:
            for _ in range(frames):
                w.write(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    args = [ckpt, videos, "--track", "--draw", "--input-size", "64", "96"]
    one = run_cli("infer", *args, "--out-dir", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "simplepose", "infer", *map(str, args), "--out-dir", str(tmp_path / "two")],
                         env=cli_env(), capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    # a (3 frames) to process 0; b to process 1 (0 < 3 frames), c too (2 < 3)
    assert "process 0 of 2: a.avi" in two.stderr and "process 1 of 2: b.avi, c.avi" in two.stderr
    files = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert files == again
    assert {p.parts[0] for p in files} == {"a", "b", "c"}
    assert len([p for p in files if p.parts[1] == "overlays"]) == 7                 # every frame of every video
    lines = (tmp_path / "one" / "a" / "tracks.jsonl").read_text().splitlines()
    assert [json.loads(ln)["sequence"] for ln in lines] == ["a"] * 3



def test_infer_with_a_checkpoint_of_unknown_keypoints_is_one_line(tmp_path: Path, capsys) -> None:
    """A 5-keypoint checkpoint naming no keypoint set: one error line naming the counts, exit 2."""
    import cv2
    import numpy as np

    from simplepose.model.pose_model import SimpleBaseline
    torch.save({"state_dict": SimpleBaseline(18, 5, deconv_channels=16).state_dict()}, tmp_path / "k5.pth")
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 48, 3), np.uint8))
    assert main(["infer", str(tmp_path / "k5.pth"), str(tmp_path / "a.png"), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "k5.pth: predicts 5 keypoints, and no keypoint set simplepose knows fits" in err[0]

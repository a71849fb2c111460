"""A PoseTrack21-layout split end to end: `synth --format posetrack21`, `train`, `test`, `track`, `eval`.

What the PoseTrack21 files hold and what its evaluation kit (anDoer/PoseTrack21, eval/posetrack21)
reads are its documented rules (doc/dataset_structure.md and the kit's PoseTrack dataset reader):
per-video files posetrack_data/<split>/<seq>.json and nothing else in those folders (the kit reads
every file there), every frame with `is_labeled`, `has_labeled_person` and ignore-region lists, every
annotation with a head box, `track_id` and `person_id`; a prediction file per GT file whose images
are the GT's in the GT's order (the kit pairs them by position and asserts equal ids), each person
with an integer `track_id` unique in its frame, 17 (x, y, score) keypoints and 17 `scores`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from simplepose.cli import main
from simplepose.engine.config import save_config
from tests.engine.tiny_run import tiny_config

PT21 = ("data.dataset=posetrack21", "data.train_ann=posetrack_data/train", "data.val_ann=posetrack_data/val",
        "data.val_gt=posetrack_data/val")


@pytest.fixture(scope="module")
def pt21(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(dataset root, config, checkpoint of a one-iteration model) on a synthetic PoseTrack21 split."""
    root = tmp_path_factory.mktemp("pt21")
    assert main(["synth", str(root), "--format", "posetrack21", "--videos", "train=1,val=2", "--frames", "4",
                 "--width", "128", "--height", "96", "--seed", "1", "--quiet"]) == 0
    work = tmp_path_factory.mktemp("work")
    cfg = work / "cfg.yaml"
    save_config(tiny_config(root, work / "w", "optim.epochs=1", "runtime.max_iters_per_epoch=1", *PT21), cfg)
    assert main(["train", str(cfg)]) == 0
    return root, cfg, work / "w" / "latest.pth"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_synth_writes_posetrack21_files(pt21):
    root = pt21[0]
    for split in ("train", "val"):
        folder = root / "posetrack_data" / split
        files = sorted(folder.iterdir())
        assert files and all(f.suffix == ".json" for f in files)        # no marker among the kit's inputs
        for f in files:
            doc = _json(f)
            assert all(im["file_name"].startswith(f"images/{split}/{f.stem}/") for im in doc["images"])
            assert all({"is_labeled", "has_labeled_person", "ignore_regions_x", "ignore_regions_y"} <= set(im)
                       for im in doc["images"])
            labeled = {im["id"] for im in doc["images"] if im["is_labeled"]}
            for a in doc["annotations"]:
                assert {"bbox", "bbox_head", "track_id", "person_id", "keypoints"} <= set(a)
                assert (a["image_id"] in labeled) == any(a["keypoints"])    # boxes only on unlabeled frames
            assert any(a["image_id"] not in labeled for a in doc["annotations"])
    assert not (root / "annotations").exists()


def test_test_track_and_eval_run_on_posetrack21(pt21, tmp_path: Path):
    root, cfg, ckpt = pt21
    gt = root / "posetrack_data" / "val"
    assert main(["test", str(cfg), str(ckpt), "--out-dir", str(tmp_path / "test")]) == 0
    assert sorted(p.name for p in (tmp_path / "test" / "predictions").glob("*.json")) == \
        sorted(p.name for p in gt.iterdir())
    dets = root / "posetrack_data" / "posetrack21_val_human_detections.json"
    assert main(["track", str(cfg), str(ckpt), "--bbox-file", str(dets), "--out-dir", str(tmp_path / "track"),
                 "--json", str(tmp_path / "track.json")]) == 0
    pred = tmp_path / "track" / "predictions_unfiltered"
    people = 0
    for f in sorted(gt.iterdir()):
        truth, mine = _json(f), _json(pred / f.name)
        assert [im["id"] for im in mine["images"]] == [im["id"] for im in truth["images"]]
        ids_per_frame: dict[int, list[int]] = {}
        for a in mine["annotations"]:
            assert isinstance(a["track_id"], int) and a["track_id"] >= 0
            assert len(a["keypoints"]) == 51 and len(a["scores"]) == 17
            ids_per_frame.setdefault(a["image_id"], []).append(a["track_id"])
        assert all(len(ids) == len(set(ids)) for ids in ids_per_frame.values())
        people += len(mine["annotations"])
    assert people > 0
    assert main(["eval", str(gt), str(pred), "--tracking", "--json", str(tmp_path / "eval.json")]) == 0
    assert "MOTA" in json.dumps(_json(tmp_path / "eval.json"))


def test_track_without_detections_takes_every_ground_truth_box(pt21):
    """PoseTrack21 boxes people on frames without pose labels too: `track` given no detections takes
    all of those boxes (PoseTrack18's rule would keep the posed persons only)."""
    from simplepose.data.posetrack import load_posetrack_videos, video_image_records
    from simplepose.engine.config import load_config
    from simplepose.engine.track import load_val_boxes

    root, cfg_path, _ = pt21
    cfg = load_config(cfg_path)
    per_image: dict[int, int] = {}
    for f in sorted((root / "posetrack_data" / "val").iterdir()):
        for a in _json(f)["annotations"]:
            per_image[a["image_id"]] = per_image.get(a["image_id"], 0) + 1
    images = video_image_records(load_posetrack_videos(cfg.resolve(cfg.data.val_gt)), root)
    boxes = load_val_boxes(cfg, images, None)
    assert {iid: len(b[0]) for iid, b in boxes.items()} == per_image
    assert any(not images[iid].is_labeled for iid in boxes)

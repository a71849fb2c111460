"""Synthetic dataset writer: layout, determinism, round trips through the readers, API and CLI."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from simplepose.cli import main
from simplepose.commands import synth
from simplepose.data.annotations import load_image_records
from simplepose.data.detections import load_detections
from simplepose.data.posetrack import load_posetrack, load_posetrack_videos
from simplepose.errors import DataError
from simplepose.synthetic.writer import MARKER, SynthOptions, generate_posetrack_dataset
from tests.synthetic.small_dataset import FRAMES, SIZE, VIDEOS, generate_small, load_json

SEQ_RE = {"train": re.compile(r"^\d{6}_(mpii|bonn|mpiinew)_train$"),
          "val": re.compile(r"^\d{6}_(mpii|bonn|mpiinew)_test$")}


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path: its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------ layout

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
        merged = load_json(root / "annotations" / f"posetrack18_{split}.json")
        assert len(merged["images"]) == n * FRAMES == s["frames"]
        assert len(merged["annotations"]) == s["persons"] > 0
        assert sum(im["is_labeled"] for im in merged["images"]) == s["labeled_frames"]
        dets = load_json(root / "annotations" / f"posetrack18_{split}_human_detections.json")
        assert len(dets) == s["detections"]
    # sequence numbers are unique across splits (image ids never collide)
    nums = [q[:6] for s in summary["splits"].values() for q in s["sequences"]]
    assert len(nums) == len(set(nums))


# ------------------------------------------------------------------------------ determinism

def test_deterministic_for_a_seed(dataset, tmp_path):
    root, summary = dataset
    again = tmp_path / "again"
    s2 = generate_small(again)
    assert _files(root) == _files(again)
    assert {k: v for k, v in s2.items() if k not in ("seconds", "out_dir")} == \
        {k: v for k, v in summary.items() if k not in ("seconds", "out_dir")}
    other = tmp_path / "other"
    generate_posetrack_dataset(other, SynthOptions(videos={"val": 1}, frames=FRAMES, seed=4, image_size=SIZE,
                                                   splits=("val",)), progress=False)
    first = sorted((other / "images" / "val").rglob("*.jpg"))[0].read_bytes()
    assert first not in set(_files(root).values())


SWITCHES = ("camera_motion", "enter_leave", "crossings", "fast_motion", "bursty_misses")


def test_features_are_on_by_default_and_recorded(dataset):
    root, summary = dataset
    marker = load_json(root / MARKER)
    want = {"fixed_sides": False, **{k: True for k in SWITCHES}}
    assert marker["features"] == summary["features"] == want


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_switch_turns_its_feature_off_through_the_cli(tmp_path, monkeypatch, switch):
    """--no-<switch> reaches the renderer (or the detector simulation) and the marker records it."""
    from simplepose.synthetic import writer
    seen: list[dict] = []
    for name in ("render_video", "detections"):
        real = getattr(writer, name)
        monkeypatch.setattr(writer, name, lambda *a, _real=real, **k: seen.append(k) or _real(*a, **k))
    out = tmp_path / "off"
    assert main(["synth", str(out), "--videos", "val=1", "--splits", "val", "--frames", "3", "--width", "96",
                 "--height", "72", "--quiet", f"--no-{switch.replace('_', '-')}"]) == 0
    assert load_json(out / MARKER)["features"] == {"fixed_sides": False, **{k: k != switch for k in SWITCHES}}
    passed = {k: v for call in seen for k, v in call.items() if k in SWITCHES}
    assert passed == {k: k != switch for k in SWITCHES}


# ------------------------------------------------------------------------------ round trips

def _instances_by_ann(instances) -> dict[int, object]:
    """Instances by annotation id."""
    return {inst.ann_id: inst for inst in instances}


def test_round_trip_through_the_posetrack_reader(dataset):
    root, _ = dataset
    for split in VIDEOS:
        merged = load_json(root / "annotations" / f"posetrack18_{split}.json")
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
    with pytest.raises(DataError, match="image_size"):
        generate_posetrack_dataset(tmp_path, SynthOptions(videos=1, frames=2, image_size=(8, 8)), progress=False)
    with pytest.raises(DataError, match="frames"):
        generate_posetrack_dataset(tmp_path, SynthOptions(videos=1, frames=0), progress=False)
    with pytest.raises(DataError, match="split"):
        generate_posetrack_dataset(tmp_path, SynthOptions(videos={"train": 1}, frames=2), progress=False)
    with pytest.raises(DataError, match=">= 1"):
        generate_posetrack_dataset(tmp_path, SynthOptions(videos=0, frames=2), progress=False)
    with pytest.raises(DataError, match="plain folder names"):
        generate_posetrack_dataset(tmp_path, SynthOptions(videos=1, frames=2, splits=("",)), progress=False)


def test_synth_command_writes_dataset_and_overlays(tmp_path, capsys):
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
    with pytest.raises(DataError, match="image_size"):
        synth.run(parser.parse_args([str(out), "--width", "8"]))
    # the CLI reports it as every command's errors: one line, exit status 2
    assert main(["synth", str(out), "--width", "8", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("simplepose synth: error: ")


def test_rewrites_its_own_output_but_refuses_foreign_folders(tmp_path):
    out = tmp_path / "d"
    generate_posetrack_dataset(out, SynthOptions(videos=2, frames=3, seed=0, image_size=(96, 64),
                                                 splits=("val",)), progress=False)
    first = sorted(p.name for p in (out / "annotations" / "val").glob("*.json"))
    generate_posetrack_dataset(out, SynthOptions(videos=1, frames=3, seed=5, image_size=(96, 64),
                                                 splits=("val",)), progress=False)
    second = sorted(p.name for p in (out / "annotations" / "val").glob("*.json"))
    assert len(first) == 2 and len(second) == 1            # no stale per-video files left behind
    assert len([p for p in (out / "images" / "val").iterdir() if p.is_dir()]) == 1
    assert load_json(out / MARKER)["complete"] is True
    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        generate_posetrack_dataset(foreign, SynthOptions(videos=1, frames=2), progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("split", ["../x", "{abs}", "a/b", ".", ".."])
def test_split_names_must_be_plain_names(tmp_path, capsys, split):
    """A split is a folder name under images/ and annotations/: paths are refused, nothing outside touched."""
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    out = tmp_path / "d"
    generate_posetrack_dataset(out, SynthOptions(videos=1, frames=2, seed=0, image_size=(64, 64),
                                                 splits=("val",)), progress=False)
    name = str(victim) if split == "{abs}" else split
    (out / "images" / "x").mkdir()                      # what "../x" under images/ names
    (out / "images" / "x" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="split"):
        generate_posetrack_dataset(out / "images", SynthOptions(videos=1, frames=2, splits=(name,)),
                                   progress=False)
    with pytest.raises(DataError, match="split"):
        generate_posetrack_dataset(out, SynthOptions(videos=1, frames=2, splits=(name,)), progress=False)
    assert main(["synth", str(out), "--splits", f"val,{name}", "--videos", "1", "--frames", "2", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("simplepose synth: error: ")
    assert (victim / "keep.txt").read_text() == "mine" and (out / "images" / "x" / "keep.txt").read_text() == "mine"
    assert (out / "images" / "val").is_dir() and load_json(out / MARKER)["complete"] is True


def test_rewrite_keeps_files_it_did_not_write(tmp_path):
    """A user's file inside a split folder of a synthetic dataset stops the rewrite, and survives."""
    out = tmp_path / "d"
    generate_posetrack_dataset(out, SynthOptions(videos=1, frames=2, seed=0, image_size=(64, 64),
                                                 splits=("val",)), progress=False)
    mine = out / "annotations" / "val" / "my_notes.txt"
    mine.write_text("mine")
    with pytest.raises(DataError, match="my_notes.txt"):
        generate_posetrack_dataset(out, SynthOptions(videos=1, frames=2, seed=1, image_size=(64, 64),
                                                     splits=("val",)), progress=False)
    assert mine.read_text() == "mine"


def test_rerun_after_an_interrupted_run(tmp_path, monkeypatch):
    """A run killed mid-split leaves only files its markers list, so the next run may replace them."""
    from simplepose.synthetic import writer
    out = tmp_path / "d"
    calls = []

    def dying_write(path, image, quality):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt                       # as if killed while writing video 2's frames
        path.write_bytes(b"x")
    monkeypatch.setattr(writer, "_write_jpeg", dying_write)
    with pytest.raises(KeyboardInterrupt):
        generate_posetrack_dataset(out, SynthOptions(videos=2, frames=2, seed=0, image_size=(64, 64),
                                                     splits=("val",), draw=2), progress=False)
    monkeypatch.undo()
    generate_posetrack_dataset(out, SynthOptions(videos=2, frames=2, seed=0, image_size=(64, 64),
                                                 splits=("val",)), progress=False)
    assert load_json(out / MARKER)["complete"] is True


@pytest.mark.parametrize("argv, problem", [
    (["--frames", "9999"], "frames must be in 1..1000, got 9999"),
    (["--frames", "1000"], "a moving camera over 1000 frames of 384x288 may need a background of up to"),
    (["--width", "30000"], "image_size 30000x288 must be 32x32 to 4096x4096"),
    (["--height", "0"], "image_size 384x0 must be 32x32"),
])
def test_synth_sizes_beyond_the_limits_are_one_line(tmp_path, capsys, argv, problem):
    """Frame counts, sizes and camera paths whose memory would explode: one error line, exit 2, no output."""
    assert main(["synth", str(tmp_path / "out"), "--quiet", "--videos", "1", "--splits", "val", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0] and not (tmp_path / "out").exists()

def test_options_check_names_every_problem():
    assert SynthOptions().check() == []
    problems = SynthOptions(frames=0, persons=(3, 2), videos={"train": 1}).check()
    assert len(problems) == 3
    assert problems[0].startswith("frames must be in 1..1000") and "persons range (3, 2)" in problems[1]
    assert problems[2] == "no video count for split(s) ['val']"


def test_posetrack21_layout_rewrites_its_split_folders_and_keeps_a_users_file(tmp_path):
    """PoseTrack21's split folders hold only the per-video files (the kit reads every file there): their
    ownership is recorded in posetrack_data/'s marker, and rewriting still refuses a user's file."""
    out = tmp_path / "d"
    options = dict(layout="posetrack21", frames=2, image_size=(64, 64), splits=("val",))
    generate_posetrack_dataset(out, SynthOptions(videos=2, seed=0, **options), progress=False)
    generate_posetrack_dataset(out, SynthOptions(videos=1, seed=5, **options), progress=False)
    files = sorted(p.name for p in (out / "posetrack_data" / "val").iterdir())
    assert len(files) == 1 and files[0].endswith("_test.json")          # no stale file, no marker
    assert (out / "posetrack_data" / "posetrack21_val_human_detections.json").is_file()
    assert not (out / "annotations").exists()
    mine = out / "posetrack_data" / "val" / "my_notes.txt"
    mine.write_text("mine")
    with pytest.raises(DataError, match="my_notes.txt"):
        generate_posetrack_dataset(out, SynthOptions(videos=1, seed=6, **options), progress=False)
    assert mine.read_text() == "mine"

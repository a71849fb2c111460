"""`simplepose infer --track`: the same loop as `simplepose track`, its per-frame lines, and edge cases."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from simplepose.cli import main
from simplepose.commands.track import add_tracking_arguments, tracking_overrides
from simplepose.engine.build import build_model
from simplepose.engine.config import save_config
from simplepose.engine.infer import track_frames, tracking_config
from simplepose.inference.boxes import BoxProvider
from simplepose.inference.video import VideoWriter, open_frames
from simplepose.tracking.flowtrack import FlowTracker
from simplepose.tracking.online import OnlineTracker
from tests.engine.tiny_run import tiny_config
from tests.tracking.scenes import SIGMAS, TemplateEstimator, scene, texture

PW, PH = 60, 120                                       # the person patch of the hand-built scenes


@pytest.fixture(scope="module")
def random_model(synth_root, tmp_path_factory):
    """(config file, checkpoint) of a random-weight tiny model on the synthetic split."""
    tmp = tmp_path_factory.mktemp("model")
    cfg = tiny_config(synth_root, tmp)
    torch.manual_seed(0)
    ckpt = tmp / "model.pth"
    torch.save({"state_dict": build_model(cfg).state_dict(), "meta": {"schema": "posetrack18"}}, ckpt)
    config = tmp / "cfg.yaml"
    save_config(cfg, config)
    return config, ckpt


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_infer_track_writes_the_files_track_writes(synth_root, random_model, tmp_path):
    config, ckpt = random_model
    ann = synth_root / "annotations"
    dets = ann / "posetrack18_val_human_detections.json"
    torch.set_num_threads(1)
    assert main(["track", str(config), str(ckpt), "--bbox-file", str(dets), "--similarity", "flow",
                 "--det-every", "2", "--smooth", "--out-dir", str(tmp_path / "track")]) == 0   # infer smooths
    out = tmp_path / "infer"
    assert main(["infer", str(ckpt), str(synth_root / "images" / "val"), "--boxes", str(dets), "--images-json",
                 str(ann / "posetrack18_val.json"), "--input-size", "64", "96", "--track", "--similarity", "flow",
                 "--det-every", "2", "--det-thr", "0.4", "--out-dir", str(out),
                 "--posetrack-out", str(tmp_path / "pt")]) == 0
    track_files = sorted((tmp_path / "track" / "predictions").glob("*.json"))
    assert [p.name for p in track_files] == sorted(p.name for p in (tmp_path / "pt").glob("*.json"))
    for p in track_files:                                # one loop: byte for byte the same predictions
        assert json.loads(p.read_text()) == json.loads((tmp_path / "pt" / p.name).read_text())
    assert any(json.loads(p.read_text())["annotations"] for p in track_files)

    lines = _lines(out / "tracks.jsonl")
    videos = json.loads((ann / "posetrack18_val.json").read_text())["images"]
    assert len(lines) == len(videos) == 16
    assert [(r["sequence"], r["frame"]) for r in lines] == \
        [(Path(im["file_name"]).parent.name, int(Path(im["file_name"]).stem)) for im in videos]
    results = json.loads((out / "results.json").read_text())
    flat = [(r["image_id"], p["track_id"], p["bbox"]) for r in lines for p in r["persons"]]
    assert flat == [(r["image_id"], r["track_id"], r["bbox"]) for r in results]
    for r in lines:                                       # ids unique per frame, from 0 per sequence
        ids = [p["track_id"] for p in r["persons"]]
        assert len(ids) == len(set(ids)) and all(len(p["keypoints"]) == len(p["keypoint_scores"]) == 17
                                                 for p in r["persons"])
    # frames 1, 3, 5, 7 of each video get no detections (--det-every 2): their persons are all propagated
    assert all(p["propagated"] for r in lines if r["frame"] % 2 for p in r["persons"])


class FindingEstimator(TemplateEstimator):
    """A stand-in network that finds the person: the template pose in the person's true box (found by
    template matching) for every box whose centre lies on the person, score 0.1 elsewhere."""

    def __init__(self, patch: np.ndarray):
        super().__init__()
        self.patch = patch

    def predict(self, image: np.ndarray, boxes: np.ndarray, bbox_format: str = "xyxy") -> np.ndarray:
        """(N, K, 3) poses for boxes (N, 4) xyxy."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        _, score, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(gray, self.patch, cv2.TM_CCOEFF_NORMED))
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        out = super().predict(image, b, bbox_format)
        true = super().predict(image, np.array([[x, y, x + PW, y + PH]]), bbox_format)[0]
        centre = (b[:, :2] + b[:, 2:]) / 2
        on = (score > 0.9) & (centre >= [x, y]).all(1) & (centre <= [x + PW, y + PH]).all(1)
        out[on] = true
        out[~on, :, 2] = 0.1
        return out


PATCH = texture(np.random.default_rng(7), PH, PW)


def _folder(tmp_path: Path, names: list[str], xs: list[int | None]) -> Path:
    """A folder of frames of one textured person (PATCH) at top-left (x, 50) (None: nobody there)."""
    rng = np.random.default_rng(1)
    bg, patch = texture(rng, 240, 320), PATCH
    folder = tmp_path / "seq"
    folder.mkdir()
    for name, x in zip(names, xs):
        cv2.imwrite(str(folder / name), scene(rng, (240, 320), [] if x is None else [(patch, (x, 50))], bg))
    return folder


def _track(folder: Path, dets: dict[int, list[float]], *overrides: str) -> list:
    """track_frames with the finding estimator; dets: image number -> box xywh (score 0.9)."""
    rows = [{"image_id": i, "category_id": 1, "bbox": b, "score": 0.9} for i, b in dets.items()]
    det_file = folder.parent / "dets.json"
    det_file.write_text(json.dumps(rows))
    source = open_frames(folder)
    cfg = tracking_config(list(overrides), whole_frame=False)
    provider = BoxProvider(source, str(det_file), det_thr=cfg.det_thr)
    return list(track_frames(source, provider, OnlineTracker(FlowTracker(FindingEstimator(PATCH), SIGMAS, cfg))))


def test_frame_gaps_in_a_folder_are_unseen_frames(tmp_path):
    # numbered 0, 1, 5 (naturally sorted: 5 before 10): the gap of 3 frames outlasts max_age 2
    folder = _folder(tmp_path, ["1.png", "0.png", "5.png", "10.png"], [60, 60, 60, 60])
    out = _track(folder, {i: [60, 50, PW, PH] for i in (0, 1, 5, 10)}, "track.max_age=2", "track.propagate=false",
                 "track.similarity=iou")
    assert [r.frame.number for r in out] == [0, 1, 5, 10]
    assert [r.tracks.track_ids.tolist() for r in out] == [[0], [0], [1], [2]]


def test_every_detection_missed_for_several_frames_propagation_keeps_the_id(tmp_path):
    xs = [40 + 8 * t for t in range(6)]
    folder = _folder(tmp_path, [f"{t:06d}.png" for t in range(6)], xs)
    out = _track(folder, {t: [xs[t], 50, PW, PH] for t in (0, 5)})           # frames 1-4: no detection
    assert [r.tracks.track_ids.tolist() for r in out] == [[0]] * 6
    assert [r.tracks.propagated.tolist() for r in out] == [[False], [True], [True], [True], [True], [False]]
    for r, x in zip(out[1:5], xs[1:5]):                 # the propagated box follows the person
        assert abs(r.persons.boxes_xywh[0, 0] + r.persons.boxes_xywh[0, 2] / 2 - (x + PW / 2)) < 3


def test_a_person_leaving_and_re_entering(tmp_path):
    # in view for frames 0-1, gone 2-3 (no detection, no person in the image), back at 4: re-linked
    # by multiflow within max_age; gone for 7 frames: a new track
    xs = [100, 100, None, None, 100] + [None] * 6 + [100]
    folder = _folder(tmp_path, [f"{t:06d}.png" for t in range(len(xs))], xs)
    out = _track(folder, {t: [100, 50, PW, PH] for t, x in enumerate(xs) if x is not None},
                 "track.propagate=false", "track.max_age=5")
    ids = [r.tracks.track_ids.tolist() for r in out]
    assert ids[:5] == [[0], [0], [], [], [0]] and ids[5:11] == [[]] * 6 and ids[11] == [1]


def test_empty_frames_and_a_one_frame_video_with_a_detector_finding_nobody(random_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.inference.test_detector import _const_model
    _, ckpt = random_model
    nobody = _const_model(tmp_path / "nobody.onnx", [np.array([[[0, 0, 10, 10, 0.1]]])])    # below 0.3
    assert onnx.load(nobody)
    video = tmp_path / "one.avi"
    with VideoWriter(video, fps=5) as w:
        w.write(np.full((96, 128, 3), 90, np.uint8))
    out = tmp_path / "out"
    torch.set_num_threads(1)
    assert main(["infer", str(ckpt), str(video), "--detector", nobody, "--track", "--out-dir", str(out),
                 "--video-out", str(tmp_path / "overlay.avi")]) == 0
    assert json.loads((out / "results.json").read_text()) == []
    assert _lines(out / "tracks.jsonl") == [{"sequence": "one", "frame": 0, "name": "000000", "image_id": 0,
                                             "persons": []}]
    assert len(list(open_frames(tmp_path / "overlay.avi"))) == 1
    # no boxes at all: the one whole-frame person, id 0
    assert main(["infer", str(ckpt), str(video), "--track", "--out-dir", str(out)]) == 0
    (line,) = _lines(out / "tracks.jsonl")
    assert [(p["track_id"], p["bbox"]) for p in line["persons"]] == [(0, [0.0, 0.0, 128.0, 96.0])]


def test_nan_keypoints_are_written_as_absent_when_tracking(synth_root, tmp_path):
    from simplepose.model.checkpoint import save_checkpoint
    from simplepose.model.pose_model import SimpleBaseline
    model = SimpleBaseline(depth=18, deconv_channels=32).eval()
    with torch.no_grad():
        [m for m in model.head.modules() if isinstance(m, torch.nn.Conv2d)][-1].weight.fill_(float("nan"))
    ckpt = save_checkpoint(tmp_path / "nan.pth", model)
    out = tmp_path / "out"
    frames = sorted(p for p in (synth_root / "images" / "val").iterdir() if p.is_dir() and p.name[0] != ".")[0]
    assert main(["infer", str(ckpt), str(frames), "--track", "--input-size", "64", "96", "--out-dir", str(out)]) == 0
    lines = _lines(out / "tracks.jsonl")
    assert len(lines) == 8
    for line in lines:
        for p in line["persons"]:
            assert p["keypoint_scores"] == [0.0] * 17 and p["keypoints"] == [[0.0, 0.0]] * 17


def test_tracking_flags_and_settings(capsys, random_model, tmp_path):
    assert tracking_config(["track.max_age=9"], whole_frame=True).max_age == 9
    whole = tracking_config([], whole_frame=True)
    assert (whole.propagate, whole.det_every, whole.similarity) == (False, 1, "iou")
    assert tracking_config(["track.similarity=oks"], whole_frame=True).similarity == "oks"     # given wins
    assert tracking_config([], whole_frame=False).smooth.enabled                                # infer smooths
    assert not tracking_config(["track.smooth.enabled=false"], whole_frame=False).smooth.enabled
    parser = argparse.ArgumentParser()
    add_tracking_arguments(parser)
    assert [tracking_overrides(parser.parse_args(a)) for a in ([], ["--smooth"], ["--no-smooth"])] == \
        [[], ["track.smooth.enabled=true"], ["track.smooth.enabled=false"]]
    _, ckpt = random_model
    assert main(["infer", str(ckpt), str(tmp_path), "--similarity", "oks"]) == 2
    assert "need --track" in capsys.readouterr().err
    assert main(["infer", str(ckpt), str(tmp_path), "--track", "--set", "data.sigma=3"]) == 2
    assert "only track.* settings" in capsys.readouterr().err
    assert main(["infer", str(ckpt), str(tmp_path), "--track", "--det-every", "0"]) == 2
    assert "det_every" in capsys.readouterr().err

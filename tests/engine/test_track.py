"""The tracking loop and `simplepose track` on a tiny synthetic split."""
from __future__ import annotations

import json

import numpy as np
import torch

from simplepose.cli import main
from simplepose.data.posetrack import load_posetrack
from simplepose.engine.build import build_model
from simplepose.engine.config import apply_overrides, save_config
from simplepose.inference.estimator import PoseEstimator
from simplepose.engine.track import evaluate_run, track_videos
from tests.engine.tiny_run import random_model_files, tiny_config


class OracleEstimator:
    """Returns the ground-truth pose of the GT box it is given (visible joints score 1, others 0)."""

    def __init__(self, instances):
        """instances: the val split's GT PersonInstances."""
        self.poses = {}
        for p in instances:
            kp = np.zeros((p.num_keypoints, 3), np.float32)
            kp[:, :2] = p.keypoints[:, :2]
            kp[:, 2] = p.keypoints[:, 2] > 0
            self.poses[tuple(np.round(p.reference_box(), 2).tolist())] = kp

    def predict(self, image, boxes, bbox_format="xyxy"):
        """(N, K, 3) GT poses of the boxes (N, 4) xyxy."""
        return np.stack([self.poses[tuple(np.round(np.float32(b), 2).tolist())] for b in boxes]).reshape(-1, 17, 3)

    def oks_areas(self, boxes, bbox_format="xyxy"):
        """Box areas (N,)."""
        return np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)


def test_ground_truth_boxes_and_poses_track_without_id_switches(synth_root, tmp_path):
    cfg = tiny_config(synth_root, tmp_path, "track.propagate=false", "track.similarity=iou",
                      "track.box_nms_thr=1.0", "track.oks_nms_thr=1.0")
    gt = load_posetrack(cfg.resolve(cfg.data.val_ann), cfg.data.data_root)
    run = track_videos(cfg, OracleEstimator(gt), progress=False)
    assert run.frames == 16 and len(run.videos) == 2
    assert len(run.unfiltered) == len(gt)                  # GT boxes exist on labeled frames only
    evaluation = evaluate_run(cfg, run, tmp_path / "out")
    m = evaluation.metrics()
    assert m["mAP"] > 99 and m["MOTA"] > 95 and m["IDSW"] == 0, m
    files = sorted(p.name for p in evaluation.predictions.glob("*.json"))
    assert files == sorted(p.name for p in (synth_root / "annotations" / "val").glob("*.json"))
    ann = json.loads((evaluation.predictions / files[0]).read_text())["annotations"]
    assert ann and all(isinstance(a["track_id"], int) for a in ann)


def test_track_command_matches_eval_tracking_on_its_files(synth_root, tmp_path, capsys):
    config, ckpt, dets = random_model_files(synth_root, tmp_path)
    out = tmp_path / "track"
    rc = main(["track", str(config), str(ckpt), "--bbox-file", str(dets), "--similarity", "flow",
               "--det-every", "2", "--out-dir", str(out), "--json", str(tmp_path / "m.json"),
               "--report", str(tmp_path / "report"), "--set", "track.out_box_thr=0.0", "track.out_kpt_thr=0.0", "track.smooth.enabled=true"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "MOTA Total" in printed and f"predictions: {out.resolve() / 'predictions'}" in printed
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["config"]["similarity"] == "flow" and metrics["config"]["det_every"] == 2
    rc = main(["eval", str(synth_root / "annotations" / "val"), str(out / "predictions"), "--tracking",
               "--json", str(tmp_path / "e.json")])
    assert rc == 0
    ev = json.loads((tmp_path / "e.json").read_text())
    m = metrics["metrics"]
    assert ev["summary_ap"][-1] == m["mAP"] and ev["tracking"]["mota"][15] == m["MOTA"]
    assert sum(ev["tracking"]["per_joint_counts"]["num_switches"]) == m["IDSW"]
    # the report holds exactly what `simplepose eval --tracking` computes on the same files
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["evaluation"] == ev and f"report: {tmp_path / 'report' / 'index.html'}" in printed


def test_track_command_rejects_a_bad_similarity_setting(synth_root, tmp_path, capsys):
    cfg = tiny_config(synth_root, tmp_path)
    config = tmp_path / "cfg.yaml"
    save_config(cfg, config)
    rc = main(["track", str(config), str(tmp_path / "none.pth"), "--set", "track.flow.method=farneback"])
    assert rc == 2
    assert "track.flow.method" in capsys.readouterr().err


def test_track_with_a_detector_that_finds_nobody(synth_root, tmp_path):
    cfg = tiny_config(synth_root, tmp_path)
    torch.manual_seed(0)
    estimator = PoseEstimator(build_model(cfg), input_size=tuple(cfg.data.input_size), flip_test=False)
    calls = []

    def nobody(image):
        calls.append(image.shape)
        return np.zeros((0, 4)), np.zeros(0)

    run = track_videos(apply_overrides(cfg, ["track.det_every=3"]), estimator, progress=False, detector=nobody)
    assert run.frames == 16 and run.unfiltered == [] and len(calls) == 6     # frames 0, 3, 6 of each video
    m = evaluate_run(cfg, run, tmp_path / "out").metrics()
    assert m["recall"] == 0 and m["IDSW"] == 0 and m["MOTA"] <= 0   # poseval: a dummy miss + FP per empty frame

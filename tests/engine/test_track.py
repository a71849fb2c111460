"""The tracking loop and `simplepose track` on a tiny synthetic split."""
from __future__ import annotations

import json

import numpy as np
import pytest
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
    assert m["mAP"] > 99 and m["MOTA"] > 95 and m["IDSW"] == 0 and m["HOTA"] > 95, m
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
    assert ev["hota"]["total"]["HOTA"] == m["HOTA"] and "| HOTA | DetA | AssA |" in printed
    # the report holds exactly what `simplepose eval --tracking` computes on the same files
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["evaluation"] == ev and f"report: {tmp_path / 'report' / 'index.html'}" in printed


@pytest.mark.parametrize("setting, key", [("track.flow.method=farneback", "track.flow.method"),
                                          ("track.tracker=sort", "track.tracker"),
                                          ("track.sort.pose_weight=2", "sort.pose_weight")])
def test_track_command_rejects_a_bad_tracking_setting(synth_root, tmp_path, capsys, setting, key):
    cfg = tiny_config(synth_root, tmp_path)
    config = tmp_path / "cfg.yaml"
    save_config(cfg, config)
    rc = main(["track", str(config), str(tmp_path / "none.pth"), "--set", setting])
    assert rc == 2
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err


def test_both_trackers_give_the_same_persons_and_flowsort_tracks_ground_truth_without_switches(synth_root,
                                                                                              tmp_path):
    runs, switches = {}, {}
    for tracker in ("flowsort", "flowtrack"):
        cfg = tiny_config(synth_root, tmp_path, f"track.tracker={tracker}", "track.propagate=false",
                          "track.box_nms_thr=1.0", "track.oks_nms_thr=1.0")
        gt = load_posetrack(cfg.resolve(cfg.data.val_ann), cfg.data.data_root)
        run = track_videos(cfg, OracleEstimator(gt), progress=False)
        switches[tracker] = evaluate_run(cfg, run, tmp_path / tracker).metrics()["IDSW"]
        runs[tracker] = [(p.image_id, p.bbox_xywh.tolist(), p.keypoints.tolist()) for p in run.unfiltered]
    assert runs["flowsort"] == runs["flowtrack"]
    # GT boxes on the labeled frames only (every other frame empty): FlowTrack's multiflow loses one
    # person across an empty frame (one switch of its joints), FlowSORT's motion model keeps it
    assert switches["flowsort"] == 0 and switches["flowtrack"] > 0, switches


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


def test_track_command_with_ground_truth_boxes_says_so(synth_root, tmp_path, capsys):
    """Without a box file the ground truth's boxes are tracked: no detections, no detection interval."""
    config, ckpt, _ = random_model_files(synth_root, tmp_path)
    assert main(["track", str(config), str(ckpt), "--out-dir", str(tmp_path / "track")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(("FlowSORT:", "FlowTrack:")))
    assert "ground-truth boxes (labeled frames only)" in line and "detections" not in line

def test_track_under_torchrun_shards_videos_and_writes_the_one_process_files(tmp_path):
    """`track` in 2 CPU processes (torchrun, gloo): whole videos per process, rank 0 scores; the
    prediction folders are byte for byte those of one process, and so are the printed tables."""
    import subprocess
    import sys

    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    from tests.cli_subprocess import cli_env, run_cli

    root = tmp_path / "data"       # 3 videos: one process gets two, the other one
    generate_posetrack_dataset(root, SynthOptions(videos={"val": 3}, frames=4, seed=2, image_size=(128, 96),
                                                  splits=("val",)), progress=False)
    config, ckpt, dets = random_model_files(root, tmp_path)
    one = run_cli("track", config, ckpt, "--bbox-file", dets, "--out-dir", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "simplepose", "track", str(config), str(ckpt), "--bbox-file", str(dets),
                          "--out-dir", str(tmp_path / "two")], env=cli_env(), capture_output=True, text=True,
                         timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    for folder in ("predictions", "predictions_unfiltered"):
        files = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one" / folder).rglob("*")}
        again = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two" / folder).rglob("*")}
        assert len(files) == 4 and files == again           # 3 videos and the folder's marker
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["predictions", "predictions_unfiltered"]
    tables = [[ln for ln in r.stdout.splitlines() if ln.startswith("|") or "frames" in ln] for r in (one, two)]
    assert tables[0] == tables[1] and len(tables[0]) > 6


def test_track_under_torchrun_a_bad_image_ends_every_process_with_one_line(tmp_path):
    """One process meets a corrupt image: it says so in one line, the other process's collective fails
    and it says in one line that another process stopped; no Python traceback from either."""
    import subprocess
    import sys

    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset
    from tests.cli_subprocess import cli_env

    root = tmp_path / "data"
    generate_posetrack_dataset(root, SynthOptions(videos={"val": 3}, frames=4, seed=2, image_size=(128, 96),
                                                  splits=("val",)), progress=False)
    config, ckpt, dets = random_model_files(root, tmp_path)
    bad = sorted(p for p in (root / "images" / "val").iterdir() if p.is_dir() and not p.name.startswith("."))[0] \
        / "000001.jpg"
    bad.write_bytes(b"not an image")
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "simplepose", "track", str(config), str(ckpt), "--bbox-file", str(dets),
                          "--out-dir", str(tmp_path / "two")], env=cli_env(), capture_output=True, text=True,
                         timeout=600)
    assert two.returncode != 0
    assert f"simplepose track: error: {bad}: cannot decode image" in two.stderr, two.stderr[-3000:]
    assert "simplepose track: error: another process of this torchrun job stopped" in two.stderr, two.stderr[-3000:]
    assert "[rank0]: Traceback" not in two.stderr and "[rank1]: Traceback" not in two.stderr, two.stderr[-3000:]

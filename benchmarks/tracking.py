"""FlowTrack ablation in the paper's shape on the synthetic val split, and the flow + association cost.

Rows (all on the val split's noisy detections unless said otherwise; output filter as the paper:
boxes >= 0.5, joints >= 0.4 before MOTA):

  (1) no propagation + iou      (2) no propagation + oks
  (3) propagation + iou         (4) propagation + oks
  (5) propagation + flow        (6) propagation + multiflow
  greedy: the previous tracker (tracking/greedy.py, OKS then IoU, no propagation): the reference
  GT boxes: ground-truth boxes (labeled frames only) + multiflow, an upper bound on the boxes

Columns: mAP (filtered; unfiltered in brackets), MOTA, ID switches, FP, FN (summed over joints),
ms/frame of detector (reading the detection file: ~0), flow, pose network and association (box
NMS, OKS-NMS, similarity, matching), wall time with the process's CPU time in brackets (on a
shared, loaded machine the CPU time is the better guess of the unloaded cost of the single-threaded
stages). Then the cost of flow + association alone on a synthetic 1080p frame with 10 persons (LK
and DIS, 1 OpenCV thread), with the pose network replaced by a stand-in that knows where the
persons are. The machine (lscpu model and flags) and its load are printed with the numbers. The paper's numbers (PoseTrack17 val, ResNet-50, FPN-DCN boxes): (1) 69.3 mAP / 59.8
MOTA, (3) 72.4 / 62.1, (5) 62.4 MOTA, (6) 62.9 MOTA.

    python benchmarks/tracking.py --data DEMO_OUT/data --checkpoint DEMO_OUT/work/latest.pth [--set runtime.threads=1]

The demo's val split has 6 videos, too few to separate rows by a point of MOTA; for the README's
main table, score the demo's model on 24 unseen ones:

    simplepose synth VAL24 --splits val --videos 24 --seed 11
    python benchmarks/tracking.py --data VAL24 --checkpoint DEMO_OUT/work/latest.pth

(on a loaded machine one torch thread is several times faster for this small pose network than two)

--compare (issue 20): every tracker on the same per-frame persons. FlowTrack's pipeline runs once per
split, with and without propagation; its persons, the previous frame's poses moved by the flow, the
boxes' colour histograms and the limb colours are cached (--cache, under a fingerprint of the
checkpoint, the annotations and the pipeline's code); FlowSORT (tracking/flowsort.py), FlowTrack's
own ids, the last-frame greedy IoU and boxmot's ByteTrack and OC-SORT (tracking_peers.py, run by the
python in PEER_PYTHON) then only assign ids. Every tracker's thresholds are tuned on --train by
MOTA, frozen, and reported on each --val split with mAP, MOTA, IDSW, FP, FN, keypoint HOTA / DetA /
AssA and the ids' ms/frame, with FlowSORT's ablation rows, a row of ids from the ground truth (what
is left to id assignment), the kinds of id changes and the margins over the better peer; first, the
ids' cost for 10 persons (alone: --ids-cost):

    python benchmarks/tracking.py --compare --checkpoint DEMO_OUT/work/latest.pth \
        --train SEED101 --val SEED202 SEED303 SEED505 SEED606
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.data.geometry import pairwise_iou  # noqa: E402
from simplepose.data.keypoints import get_schema  # noqa: E402
from simplepose.engine.config import apply_overrides, load_config  # noqa: E402
from simplepose.data.image import read_image  # noqa: E402
from simplepose.engine.track import TrackRun, evaluate_run, track_videos, write_folder  # noqa: E402
from simplepose.evaluation.eval_data import load_eval_data  # noqa: E402
from simplepose.evaluation.pose_ap import pairwise_distances  # noqa: E402
from simplepose.inference.estimator import PoseEstimator  # noqa: E402
from simplepose.timing import StageClock  # noqa: E402
from simplepose.tracking.appearance import LIMBS, colour_histograms, limb_colours  # noqa: E402
from simplepose.tracking.flowsort import FlowSortConfig, FlowSortIds, FlowSortTracker  # noqa: E402
from simplepose.tracking.flowtrack import FlowTrackConfig, FlowTracker  # noqa: E402
from simplepose.tracking.greedy import GreedyPoseTracker  # noqa: E402
from simplepose.tracking.matching import greedy_match  # noqa: E402
from simplepose.tracking.online import TrackConfig  # noqa: E402
from host import cpu, load  # noqa: E402  (benchmarks/host.py)

ROWS = [("(1) no propagation + iou", ["track.propagate=false", "track.similarity=iou"]),
        ("(2) no propagation + oks", ["track.propagate=false", "track.similarity=oks"]),
        ("(3) propagation + iou", ["track.similarity=iou"]),
        ("(4) propagation + oks", ["track.similarity=oks"]),
        ("(5) propagation + flow", ["track.similarity=flow"]),
        ("(6) propagation + multiflow", ["track.similarity=multiflow"])]


class GreedyTracker(FlowTracker):
    """The previous tracker (greedy OKS then IoU, last frame only) inside the same loop, no propagation."""

    def reset(self) -> None:
        """New video: the greedy tracker forgets its tracks too."""
        super().reset()
        self.greedy = GreedyPoseTracker(self.sigmas, max_age=self.cfg.max_age)

    def _associate(self, boxes, scores, poses, frame, propagated):
        """Track ids from GreedyPoseTracker.update."""
        if len(boxes) == 0:
            self.greedy.frame = frame
            return np.zeros(0, np.int64)
        return self.greedy.update(poses, np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1), frame)


def ablation(args: argparse.Namespace) -> None:
    """The ablation table on the val split."""
    base = load_config(args.config or Path(args.checkpoint).with_name("config.yaml"), [f"data.data_root={args.data}"])
    if not args.config_track:      # a checkpoint's config.yaml keeps the track settings of its training day
        base = replace(base, track=TrackConfig(tracker="flowtrack"))
    base = apply_overrides(base, args.set)
    if base.runtime.threads:
        torch.set_num_threads(base.runtime.threads)
    estimator = PoseEstimator.from_checkpoint(args.checkpoint, input_size=tuple(base.data.input_size),
                                              flip_test=base.data.flip_test, schema=base.data.dataset)
    dets = str(Path(args.data) / "annotations" / "posetrack18_val_human_detections.json")
    sigmas = get_schema(base.data.dataset).sigmas_array
    runs = [(name, apply_overrides(base, o), dets) for name, o in ROWS]
    greedy = apply_overrides(base, ["track.propagate=false", "track.similarity=oks"])
    runs.append(("greedy OKS/IoU (previous tracker)", greedy, dets))
    runs.append(("GT boxes + multiflow", apply_overrides(base, ["data.val_bbox_file=null"]), ""))
    print(f"ablation start: {load()}")
    print("| row | mAP (unfiltered) | MOTA | IDSW | FP | FN | det ms | flow ms | pose ms | assoc ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for name, cfg, bbox in runs:
        kind = GreedyTracker if name.startswith("greedy") else FlowTracker
        tracker = kind(estimator, sigmas, cfg.track)
        run = track_videos(cfg, estimator, bbox_file=bbox or None, progress=False, tracker=tracker)
        m = evaluate_run(cfg, run, Path(args.out) / name.split()[0].strip("()")).metrics()
        wall, cpu = run.ms_per_frame, {k: 1000 * v / max(run.frames, 1) for k, v in tracker.clock.cpu.items()}
        results[name] = m
        cols = " | ".join(f"{wall[k]:.{d}f} ({cpu[k]:.{d}f})" for k, d in (("detector", 2), ("flow", 2), ("pose", 1),
                                                                           ("association", 2)))
        print(f"| {name} | {m['mAP']:.1f} ({m['mAP_unfiltered']:.1f}) | {m['MOTA']:.1f} | {m['IDSW']} | {m['FP']} | "
              f"{m['FN']} | {cols} |", flush=True)
    print(f"ablation end: {load()}; ms/frame are wall (process CPU in brackets)")
    ref = results["greedy OKS/IoU (previous tracker)"]["MOTA"]
    print(f"\nMOTA vs the previous greedy tracker measured in this run ({ref:.1f}): " + ", ".join(
        f"{n.split()[0]} {m['MOTA'] - ref:+.1f}" for n, m in results.items() if n[0] == "("))


class _Template:
    """A stand-in pose network that knows where the persons are (its cost is left out of the flow +
    association timing): for each box, template joints laid into the true box of the person it
    overlaps most (score 0.9), or into the box itself with score 0.1 when it overlaps none. Laying
    the template into the given box instead would shrink the persons frame after frame, since a
    propagated box is the joints' extent + 15%, and pile up tracks."""

    frac = np.stack([np.tile([0.3, 0.7], 9)[:17], np.linspace(0.05, 0.95, 17)], 1)   # (17, 2)

    def __init__(self) -> None:
        """No persons until the loop sets `truth` (P, 4) xyxy for each frame."""
        self.truth = np.zeros((0, 4))

    def predict(self, image, boxes, bbox_format="xyxy"):
        """(N, 17, 3) template poses."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        iou = pairwise_iou(b, self.truth)     # (N, P)
        hit = iou.max(1, initial=0.0) > 0.3
        src = np.where(hit[:, None], self.truth[iou.argmax(1)] if self.truth.size else b, b)
        out = np.empty((len(b), 17, 3), np.float32)
        out[:, :, :2] = src[:, None, :2] + self.frac[None] * (src[:, None, 2:] - src[:, None, :2])
        out[:, :, 2] = np.where(hit, 0.9, 0.1)[:, None]
        return out


def flow_cost(frames: int = 30, repeats: int = 3) -> None:
    """ms per 1080p frame of flow and association with 10 moving persons (camera pan included), the
    median of `repeats` runs of `frames` frames."""
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (1300, 2300)).astype(np.float32), (0, 0), 3)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    starts = rng.uniform([50, 100], [1500, 400], (10, 2))
    vel = rng.uniform(-8, 8, (10, 2))
    patches = [cv2.GaussianBlur(rng.uniform(0, 255, (500, 200)).astype(np.float32), (0, 0), 3) for _ in range(10)]
    patches = [cv2.normalize(p, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8) for p in patches]
    cv2.setNumThreads(1)
    for method in ("lk", "dis"):
        runs = []                                                    # (flow, assoc) wall and CPU ms/frame
        for _ in range(repeats):
            cfg = FlowTrackConfig(similarity="multiflow")
            cfg.flow.method = method
            pose_net = _Template()
            tr = FlowTracker(pose_net, np.full(17, 0.07), cfg)
            for t in range(frames):
                pan = 3 * t
                img = big[100:1180, 100 + pan:2020 + pan].copy()
                boxes = []
                for p, s, v in zip(patches, starts, vel):
                    x, y = np.clip(s + v * t, 0, [1920 - 200, 1080 - 500]).astype(int)
                    img[y:y + 500, x:x + 200] = p
                    boxes.append([x, y, x + 200, y + 500])
                bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                pose_net.truth = np.array(boxes, np.float64)
                tr.step(bgr, np.array(boxes, np.float64) if t % 3 == 0 else np.zeros((0, 4)),
                        np.full(10 if t % 3 == 0 else 0, 0.9))
            runs.append([1000 * d[k] / tr.frames for d in (tr.clock.wall, tr.clock.cpu) for k in ("flow", "association")])
        f, a, fc, ac = np.median(np.array(runs), axis=0)
        print(f"1080p, 10 persons, {method}: flow {f:.1f} ms + association {a:.1f} ms = {f + a:.1f} ms/frame wall; "
              f"CPU {fc:.1f} + {ac:.1f} = {fc + ac:.1f} ms/frame (median of {repeats} runs of {frames} frames; "
              f"multiflow over 3 poses per track, propagation on, detections every 3rd frame, 1 OpenCV thread; "
              f"{len(tr.tracks)} tracks alive at the end; {load()})")
    cv2.setNumThreads(-1)



# ------------------------------------------------------------------------------------------------
# Trackers side by side on the same cached per-frame persons (--compare)

PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/peers/boxmot-venv/bin/python")
PEER_SCRIPT = Path(__file__).with_name("tracking_peers.py")


@dataclass
class CachedFrame:
    """One frame's persons as FlowTrack's pipeline produced them, and what the id trackers need."""

    image_id: int
    frame_index: int
    boxes: np.ndarray           # (N, 4) xyxy
    scores: np.ndarray          # (N,) box scores
    poses: np.ndarray           # (N, K, 3)
    moved: np.ndarray | None    # (P, K, 3) the previous frame's poses moved into this frame by the flow
    flowtrack_ids: np.ndarray   # (N,) FlowTrack's own ids
    live_ids: np.ndarray        # (N,) the ids FlowSortTracker gave live (the replay must give the same)
    predictions: list           # (N,) PosePrediction, unfiltered, in person order
    features: np.ndarray | None = None   # (N, D) colour histograms of the boxes (tracking/appearance.py)
    limbs: np.ndarray | None = None      # (N, 12, 3) colours along the poses' limbs (tracking/appearance.py)


@dataclass
class CachedSplit:
    """A split's cached persons: frames in video order, the videos, the config that scores them."""

    frames: list[CachedFrame]
    video_of: list[int]         # per frame: its video number
    videos: list
    cfg: Any
    image_hw: tuple[int, int]
    pose_ms: float              # the pose network's wall ms per frame when caching


class _Recorder(FlowSortTracker):
    """FlowSortTracker that records each frame's persons, moved previous poses and FlowTrack's ids."""

    def reset(self) -> None:
        """A new video (the records are kept)."""
        super().reset()
        if not hasattr(self, "records"):
            self.records = []

    def _associate(self, boxes, scores, poses, frame, propagated):
        """Record, then the usual ids."""
        moved = self.moved_previous()
        ids = super()._associate(boxes, scores, poses, frame, propagated)
        self.records.append((boxes.copy(), scores.copy(), poses.astype(np.float64), moved, self.inner_ids.copy(), ids))
        return ids


def fingerprint(data: str, checkpoint: str) -> str:
    """16 hex digits of a sha256 over what the cached persons depend on: the checkpoint, the split's
    annotations and detections, and the source of the pipeline that finds them."""
    h = hashlib.sha256()
    files = [Path(checkpoint), *sorted((Path(data) / "annotations").rglob("*.json")),
             *sorted((REPO / "simplepose").glob("tracking/*.py")), *sorted((REPO / "simplepose").glob("inference/*.py"))]
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cache_split(data: str, checkpoint: str, propagate: bool, cache_dir: Path) -> CachedSplit:
    """The split's persons from FlowTrack's pipeline (propagation on or off), computed once and pickled under
    a name that changes with the checkpoint, the data and the pipeline's code (fingerprint)."""
    name = cache_dir / f"{Path(data).name}_{'prop' if propagate else 'det'}_{fingerprint(data, checkpoint)}.pkl"
    cfg = load_config(Path(checkpoint).with_name("config.yaml"), [f"data.data_root={data}"])
    cfg = replace(cfg, track=TrackConfig(propagate=propagate))
    if name.exists():
        with open(name, "rb") as f:
            frames, video_of, videos, hw, pose_ms = pickle.load(f)
        return CachedSplit(frames, video_of, videos, cfg, hw, pose_ms)
    torch.set_num_threads(1)       # the small pose network runs faster on one thread of a loaded machine
    estimator = PoseEstimator.from_checkpoint(checkpoint, input_size=tuple(cfg.data.input_size),
                                              flip_test=cfg.data.flip_test, schema=cfg.data.dataset)
    rec = _Recorder(estimator, get_schema(cfg.data.dataset).sigmas_array, cfg.track)
    dets = str(Path(data) / "annotations" / "posetrack18_val_human_detections.json")
    run = track_videos(cfg, estimator, bbox_file=dets, progress=False, tracker=rec)
    by_image: dict[int, list] = {}
    for p in run.unfiltered:
        by_image.setdefault(p.image_id, []).append(p)
    frames, video_of = [], []
    records = iter(rec.records)
    for v, video in enumerate(run.videos):
        for img in video.images:
            boxes, scores, poses, moved, inner, live = next(records)
            preds = by_image.get(int(img["id"]), [])
            assert len(preds) == len(boxes)
            frames.append(CachedFrame(int(img["id"]), preds[0].frame_index if preds else -1, boxes, scores, poses,
                                      moved, inner, live, preds))
            video_of.append(v)
    add_features(frames)
    first = run.videos[0].images[0]
    hw = (int(first.get("height", 0) or 0), int(first.get("width", 0) or 0))
    if not all(hw):
        hw = read_image(Path(run.unfiltered[0].image_path)).shape[:2]
    out = (frames, video_of, run.videos, hw, run.ms_per_frame["pose"])
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(name, "wb") as f:
        pickle.dump(out, f)
    return CachedSplit(*out[:3], cfg, hw, out[4])


def add_features(frames: list[CachedFrame]) -> None:
    """Every cached frame's colour histograms and limb colours, from its image (frames without persons get none)."""
    kpt_thr = FlowSortConfig().kpt_score_thr
    for f in frames:
        image = read_image(Path(f.predictions[0].image_path)) if f.predictions else None
        f.features = colour_histograms(image, f.boxes) if image is not None else np.zeros((0, 64), np.float32)
        f.limbs = limb_colours(image, f.poses, kpt_thr) if image is not None else np.zeros((0, len(LIMBS), 3))


def _frame_numbers(split: CachedSplit) -> list[int]:
    """A running frame number per cached frame (consecutive within a video)."""
    out, last, n = [], None, 0
    for v in split.video_of:
        n = n + 1 if v == last else 0
        out.append(n)
        last = v
    return out


def ids_flowsort(split: CachedSplit, sort: FlowSortConfig) -> tuple[list[np.ndarray], float, float]:
    """FlowSORT's ids per frame and its wall / CPU ms per frame (association + motion)."""
    ids = FlowSortIds(get_schema(split.cfg.data.dataset).sigmas_array, sort)
    clock = StageClock(["ids"])
    out, last = [], None
    for f, v, n in zip(split.frames, split.video_of, _frame_numbers(split)):
        if v != last:
            ids.reset()
            last = v
        with clock("ids"):
            out.append(ids.update(n, f.boxes, f.scores, f.poses, f.moved, f.features, f.limbs))
    k = 1000 / len(split.frames)
    return out, clock.wall["ids"] * k, clock.cpu["ids"] * k


def ids_last_frame_iou(split: CachedSplit, thr: float) -> tuple[list[np.ndarray], float, float]:
    """The last-frame greedy IoU tracker (MMPose 0.x demo, rtmlib's PoseTracker): each person takes the id of
    the previous frame's person it overlaps most (greedy, IoU >= thr), else a new id."""
    clock = StageClock(["ids"])
    out, last, prev_boxes, prev_ids, next_id = [], None, np.zeros((0, 4)), np.zeros(0, np.int64), 0
    for f, v in zip(split.frames, split.video_of):
        with clock("ids"):
            if v != last:
                prev_boxes, prev_ids, next_id, last = np.zeros((0, 4)), np.zeros(0, np.int64), 0, v
            ids = np.full(len(f.boxes), -1, np.int64)
            for r, c in greedy_match(pairwise_iou(f.boxes, prev_boxes), thr):
                ids[r] = prev_ids[c]
            new = np.flatnonzero(ids < 0)
            ids[new] = np.arange(next_id, next_id + len(new))
            next_id += len(new)
            prev_boxes, prev_ids = f.boxes, ids
        out.append(ids)
    k = 1000 / len(split.frames)
    return out, clock.wall["ids"] * k, clock.cpu["ids"] * k


def ids_peer(split: CachedSplit, name: str, sets: list[dict],
             work: Path) -> list[tuple[list[np.ndarray], float, float]]:
    """Per parameter set, a boxmot tracker's ids per frame (-1: not output) and its wall / CPU ms per frame,
    run in the peer venv (one process for all sets)."""
    work.mkdir(parents=True, exist_ok=True)
    counts = [len(f.boxes) for f in split.frames]
    src, dst = work / "persons.npz", work / f"{name}.npz"
    np.savez(src, boxes=np.concatenate([f.boxes for f in split.frames]).reshape(-1, 4),      # these persons, always
             scores=np.concatenate([f.scores for f in split.frames]),
             frame_start=np.concatenate([[0], np.cumsum(counts)]), video=np.array(split.video_of),
             image_hw=np.array(split.image_hw))
    subprocess.run([PEER_PYTHON, str(PEER_SCRIPT), str(src), str(dst), name, json.dumps(sets)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = np.load(dst)
    return [(np.split(res["ids"][s], np.cumsum(counts)[:-1]), 1000 * res["wall"][s].mean(), 1000 * res["cpu"][s].mean())
            for s in range(len(sets))]


def tracked_run(split: CachedSplit, ids: list[np.ndarray]) -> TrackRun:
    """The split's persons with these ids (persons with id -1 left out), unfiltered and after the output
    filter as `simplepose track` applies it."""
    t = split.cfg.track
    unfiltered, filtered = [], []
    for f, fid in zip(split.frames, ids):
        for p, i in zip(f.predictions, fid.tolist()):
            if i < 0:
                continue
            unfiltered.append(replace(p, track_id=int(i)))
            if p.box_score >= t.out_box_thr:
                low = p.keypoint_scores < t.out_kpt_thr
                filtered.append(replace(p, track_id=int(i), keypoints=np.where(low[:, None], 0, p.keypoints),
                                        keypoint_scores=np.where(low, 0, p.keypoint_scores)))
    return TrackRun(filtered, unfiltered, split.videos, len(split.frames), {})


def score(split: CachedSplit, ids: list[np.ndarray], out: Path) -> dict[str, Any]:
    """mAP, MOTA, IDSW, FP, FN (and keypoint HOTA when the evaluator has it) of the split's persons with these
    ids (persons with id -1 left out), after the output filter as `simplepose track` applies it."""
    return evaluate_run(split.cfg, tracked_run(split, ids), out).metrics()


def gt_pairing(split: CachedSplit, out: Path) -> list[np.ndarray]:
    """Per frame, each person's ground-truth track id (-1: none): in every labelled frame the output persons and
    the labelled ones are paired to match the most joints (PCKh 0.5, as MOTA counts them; scipy's Hungarian)."""
    own = own_ids(split, 0)
    pred_dir = write_folder(tracked_run(split, own).filtered, split.videos, out / "pairing_input")
    data = load_eval_data(split.cfg.resolve(split.cfg.data.val_gt), pred_dir)
    gt_index = np.full(len(data.pred.frame), -1, np.int64)
    pair_pred, pair_gt, _, match = pairwise_distances(data.gt, data.pred, data.n_frames)
    joints = match.sum(1)
    frame_of_pair = data.pred.frame[pair_pred]
    for f in np.unique(frame_of_pair):
        sel = np.flatnonzero(frame_of_pair == f)
        preds, gts = np.unique(pair_pred[sel]), np.unique(pair_gt[sel])
        counts = np.zeros((len(preds), len(gts)))
        counts[np.searchsorted(preds, pair_pred[sel]), np.searchsorted(gts, pair_gt[sel])] = joints[sel]
        for r, c in zip(*linear_sum_assignment(-counts)):
            if counts[r, c] > 0:
                gt_index[preds[r]] = gts[c]
    video_names = [v.name for v in split.videos]
    to_gt = {(video_names.index(data.videos[data.video_of_frame[data.pred.frame[p]]]), int(data.pred.track[p])):
             int(data.gt.track[g]) for p, g in enumerate(gt_index) if g >= 0}
    return [np.array([to_gt.get((v, int(i)), -1) for i in o], np.int64) for o, v in zip(own, split.video_of)]


def ids_oracle(split: CachedSplit, pairing: list[np.ndarray]) -> list[np.ndarray]:
    """Ids from the ground truth: a paired person (gt_pairing) takes its labelled person's track id, every other
    person an id of its own. No online tracker knows these ids; they show how much of the score is left to id
    assignment on these persons."""
    first = 1 + max((int(p.max()) for p in pairing if len(p)), default=0)    # own ids after the GT ids
    return [np.where(p >= 0, p, own) for p, own in zip(pairing, own_ids(split, first))]


def own_ids(split: CachedSplit, first: int) -> list[np.ndarray]:
    """Per frame, an id of its own for every person: first, first + 1, ... running through each video."""
    out, n, last = [], first, None
    for f, v in zip(split.frames, split.video_of):
        n = first if v != last else n
        out.append(np.arange(n, n + len(f.boxes), dtype=np.int64))
        n, last = n + len(f.boxes), v
    return out


def switch_kinds(split: CachedSplit, ids: list[np.ndarray], pairing: list[np.ndarray]) -> dict[str, int]:
    """How a labelled person's id changes between the frames it is paired in (gt_pairing): the new id was born
    there ("new id"), was not output in the previous frame ("came back"), was on a box overlapping this one
    at IoU > 0.5 in the previous frame ("stayed on its box": the person under the box changed), or on
    another box ("jumped")."""
    kinds = dict.fromkeys(("new id", "came back", "stayed on its box", "jumped"), 0)
    last: dict[tuple[int, int], int] = {}
    born: dict[tuple[int, int], int] = {}
    for k, (f, v, fid, gid) in enumerate(zip(split.frames, split.video_of, ids, pairing)):
        for i in fid.tolist():
            born.setdefault((v, i), k)
        prev = k - 1 if k and split.video_of[k - 1] == v else None
        for i in np.flatnonzero((gid >= 0) & (fid >= 0)):
            key, new = (v, int(gid[i])), int(fid[i])
            if key in last and last[key] != new:
                before = np.flatnonzero(ids[prev] == new) if prev is not None else np.zeros(0, np.int64)
                if born[(v, new)] == k:
                    kinds["new id"] += 1
                elif len(before) == 0:
                    kinds["came back"] += 1
                elif pairwise_iou(f.boxes[i:i + 1], split.frames[prev].boxes[before]).max() > 0.5:
                    kinds["stayed on its box"] += 1
                else:
                    kinds["jumped"] += 1
            last[key] = new
    return kinds


OURS_GRID = [dict(match_thr=m, pose_weight=w) for m in (0.05, 0.1, 0.2, 0.3) for w in (0.0, 0.25, 0.5, 0.75, 1.0)]
BYTE_GRID = [dict(track_thresh=t, match_thresh=m, track_buffer=30) for t in (0.3, 0.45, 0.6) for m in (0.8, 0.9, 0.95)]
OCSORT_GRID = [dict(det_thresh=d, iou_threshold=i, min_hits=h, max_age=30) for d in (0.3, 0.5) for i in (0.05, 0.1, 0.3)
               for h in (1, 3)]
IOU_GRID = [0.05, 0.1, 0.3, 0.5]
ABLATION = [("FlowSORT (default)", {}), ("- appearance (colour histograms)", dict(appearance_weight=0.0)),
            ("- limb colours", dict(limb_weight=0.0)), ("- Kalman (last box)", dict(motion="last")),
            ("+ flow motion per track", dict(cmc="flow")), ("+ camera motion (global flow median)", dict(cmc="global")),
            ("greedy instead of Hungarian", dict(assignment="greedy")),
            ("- second round (ByteTrack)", dict(second_round=False)), ("- re-update (OC-SORT)", dict(oru=False)),
            ("- pose (IoU only)", dict(pose_weight=0.0)), ("short memory (max_age 5)", dict(max_age=5)),
            ("- dropping unconfirmed", dict(drop_unconfirmed=False)),
            ("+ direction consistency (OC-SORT inertia 0.2)", dict(direction_weight=0.2)),
            ("+ best OKS over the last 3 poses", dict(pose_history=3))]


def _better(m: dict, best: dict | None) -> bool:
    """Higher MOTA, then fewer ID switches."""
    return best is None or (m["MOTA"], -m["IDSW"]) > (best["MOTA"], -best["IDSW"])


def tune(split: CachedSplit, out: Path) -> dict[str, Any]:
    """Every tracker's thresholds chosen on the (train) split by MOTA: {tracker: params}."""
    chosen: dict[str, Any] = {}
    best = None
    for params in OURS_GRID:
        m = score(split, ids_flowsort(split, replace(FlowSortConfig(), **params))[0], out / "t")
        print(f"  tune FlowSORT {params}: MOTA {m['MOTA']:.2f} IDSW {m['IDSW']}", flush=True)
        if _better(m, best):
            best, chosen["flowsort"] = m, params
    best = None
    for thr in IOU_GRID:
        m = score(split, ids_last_frame_iou(split, thr)[0], out / "t")
        print(f"  tune last-frame IoU {thr}: MOTA {m['MOTA']:.2f} IDSW {m['IDSW']}", flush=True)
        if _better(m, best):
            best, chosen["iou"] = m, thr
    for name, grid in (("bytetrack", BYTE_GRID), ("ocsort", OCSORT_GRID)):
        best = None
        for params, (ids, _, _) in zip(grid, ids_peer(split, name, grid, out / "peer")):
            m = score(split, ids, out / "t")
            print(f"  tune {name} {params}: MOTA {m['MOTA']:.2f} IDSW {m['IDSW']}", flush=True)
            if _better(m, best):
                best, chosen[name] = m, params
    return chosen


def _row(name: str, m: dict, ms: tuple[float, float]) -> str:
    """A markdown table row."""
    hota = " | ".join(f"{m[k]:.1f}" if m.get(k) is not None else "-" for k in ("HOTA", "DetA", "AssA"))
    return (f"| {name} | {m['mAP']:.1f} | {m['MOTA']:.1f} | {m['IDSW']} | {m['FP']} | {m['FN']} | {hota} | "
            f"{ms[0]:.3f} ({ms[1]:.3f}) |")


def report(split: CachedSplit, kind: str, tuned: dict, out: Path) -> dict[str, dict]:
    """The rows of one val split and input kind with the frozen thresholds; prints the table."""
    rows: dict[str, tuple[dict, tuple[float, float]]] = {}
    ours = replace(FlowSortConfig(), **tuned["flowsort"])
    ids, w, c = ids_flowsort(split, FlowSortConfig())
    rows["FlowSORT (default)"] = (score(split, ids, out / "ours"), (w, c))
    pairing = gt_pairing(split, out)
    kinds = {"FlowSORT (default)": switch_kinds(split, ids, pairing)}
    ids, w, c = ids_flowsort(split, ours)
    rows[f"FlowSORT (tuned {tuned['flowsort']})"] = (score(split, ids, out / "ours_tuned"), (w, c))
    ft = "FlowTrack (propagation + multiflow)" if kind == "prop" else "FlowTrack (no propagation, multiflow)"
    rows[ft] = (score(split, [f.flowtrack_ids for f in split.frames], out / "flowtrack"), (float("nan"),) * 2)
    rows["ids from the ground truth"] = (score(split, ids_oracle(split, pairing), out / "oracle"),
                                         (float("nan"),) * 2)
    ids, w, c = ids_last_frame_iou(split, tuned["iou"])
    rows[f"last-frame greedy IoU (tuned {tuned['iou']})"] = (score(split, ids, out / "iou"), (w, c))
    for name in ("bytetrack", "ocsort"):
        (ids, w, c), = ids_peer(split, name, [tuned[name]], out / "peer")
        label = {"bytetrack": "ByteTrack", "ocsort": "OC-SORT"}[name]
        rows[f"{label} (boxmot 25.0.0, tuned {tuned[name]})"] = (score(split, ids, out / name), (w, c))
        kinds[label] = switch_kinds(split, ids, pairing)
    if kind == "prop":
        for name, change in ABLATION[1:]:
            ids, w, c = ids_flowsort(split, replace(FlowSortConfig(), **change))
            rows[f"FlowSORT {name}"] = (score(split, ids, out / "".join(ch for ch in name if ch.isalnum())), (w, c))
    print("| tracker | mAP | MOTA | IDSW | FP | FN | HOTA | DetA | AssA | ids ms/frame wall (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (m, ms) in rows.items():
        print(_row(name, m, ms), flush=True)
    print("\nid changes of the labelled persons (switch_kinds): " + "; ".join(
        f"{name} {sum(k.values())} ({', '.join(f'{kind} {n}' for kind, n in k.items())})" for name, k in kinds.items()))
    return {k: v[0] for k, v in rows.items()}


def association_cost(frames: int = 300, persons: int = 10) -> None:
    """ms per frame of FlowSORT's ids (association + Kalman motion) for `persons` walking persons with poses,
    and of boxmot's ByteTrack and OC-SORT on the same boxes (their update() in the peer venv)."""
    rng = np.random.default_rng(0)
    start = rng.uniform([0, 0], [1700, 500], (persons, 2))
    vel = rng.uniform(-6, 6, (persons, 2))
    layouts = rng.uniform(0, 1, (persons, 17, 2))
    boxes = [np.concatenate([start + vel * t, start + vel * t + [200, 500]], 1) for t in range(frames)]
    poses = []
    for b in boxes:
        p = np.empty((persons, 17, 3))
        p[:, :, :2] = b[:, None, :2] + layouts * 200 + rng.normal(0, 2, (persons, 17, 2))
        p[:, :, 2] = 0.9
        poses.append(p)
    ids, no_limbs = FlowSortIds(np.full(17, 0.07), FlowSortConfig()), FlowSortIds(np.full(17, 0.07),
                                                                                 FlowSortConfig(limb_weight=0.0))
    clock = StageClock(["ids", "ids without limbs", "appearance", "limbs"])
    image = cv2.cvtColor(rng.integers(0, 256, (1080, 1920, 3), np.uint8), cv2.COLOR_BGR2HSV)   # saturated noise
    for t in range(frames):
        moved = poses[t - 1] + np.concatenate([np.repeat(vel[:, None], 17, 1), np.zeros((persons, 17, 1))], 2) \
            if t else None
        with clock("appearance"):
            feats = colour_histograms(image, boxes[t])
        with clock("limbs"):
            limbs = limb_colours(image, poses[t], 0.3)
        with clock("ids"):
            ids.update(t, boxes[t], np.full(persons, 0.9), poses[t], moved, feats, limbs)
        with clock("ids without limbs"):
            no_limbs.update(t, boxes[t], np.full(persons, 0.9), poses[t], moved, feats)
    ms = {k: (1000 * clock.wall[k] / frames, 1000 * clock.cpu[k] / frames) for k in clock.wall}
    ours, look = ms["ids"], ms["appearance"]
    split = CachedSplit([CachedFrame(t, t, b, np.full(persons, 0.9), p, None, np.zeros(0), np.zeros(0), [])
                         for t, (b, p) in enumerate(zip(boxes, poses))], [0] * frames, [], None, (1080, 1920), 0.0)
    peers = ids_peer(split, "bytetrack", [{}], Path("/tmp/simplepose_assoc_cost")) + \
        ids_peer(split, "ocsort", [{}], Path("/tmp/simplepose_assoc_cost"))
    print(f"ids for {persons} persons, {frames} frames: FlowSORT {ours[0]:.3f} ms/frame wall ({ours[1]:.3f} CPU; "
          f"{ms['ids without limbs'][0]:.3f} ({ms['ids without limbs'][1]:.3f}) without the limb colours) "
          f"+ colour histograms of 200 x 500 boxes in a 1080p frame {look[0]:.3f} ({look[1]:.3f}) + limb colours "
          f"{ms['limbs'][0]:.3f} ({ms['limbs'][1]:.3f}); "
          f"boxmot ByteTrack {peers[0][1]:.3f} ({peers[0][2]:.3f}), OC-SORT {peers[1][1]:.3f} ({peers[1][2]:.3f}) "
          f"(defaults; {load()})")


def margins(rows: dict[str, dict], tracker: str) -> str:
    """One tracker against the better of ByteTrack / OC-SORT on a split: MOTA and HOTA differences, the ratio
    of ID switches to the fewer of theirs, and mAP against FlowTrack's (issue 20's bar: >= +1.0, <= 0.8x,
    >= +1.0, not below)."""
    m = rows[tracker]
    peers = [v for k, v in rows.items() if k.startswith(("ByteTrack", "OC-SORT"))]
    flowtrack = next(v for k, v in rows.items() if k.startswith("FlowTrack"))
    return (f"MOTA {m['MOTA'] - max(p['MOTA'] for p in peers):+.2f}, ID switches "
            f"{m['IDSW'] / max(min(p['IDSW'] for p in peers), 1):.3f}x, HOTA "
            f"{m['HOTA'] - max(p['HOTA'] for p in peers):+.2f}, mAP {m['mAP'] - flowtrack['mAP']:+.2f} vs FlowTrack")


def compare(args: argparse.Namespace) -> None:
    """Tune every tracker on --train, freeze, report on every --val split, both input kinds, and the margins
    of FlowSORT and of the ground truth's ids over the better peer."""
    out, cache = Path(args.out), Path(args.cache)
    print(f"compare start: {load()}")
    summary = []
    for kind in ("det", "prop"):
        train = cache_split(args.train, args.checkpoint, kind == "prop", cache)
        print(f"\n### {'detector + propagated' if kind == 'prop' else 'detector'} boxes: tuning on {args.train} "
              f"(pose network {train.pose_ms:.1f} ms/frame when cached)")
        tuned = tune(train, out / "train" / kind)
        print(f"frozen: {tuned}")
        for val in args.val:
            split = cache_split(val, args.checkpoint, kind == "prop", cache)
            print(f"\n#### {val} ({len(split.videos)} videos, {len(split.frames)} frames), "
                  f"{'detector + propagated' if kind == 'prop' else 'detector'} boxes")
            rows = report(split, kind, tuned, out / Path(val).name / kind)
            name = f"{Path(val).name}, {'detector + propagated' if kind == 'prop' else 'detector'} boxes"
            summary += [f"| {name} | FlowSORT (default) | {margins(rows, 'FlowSORT (default)')} |",
                        f"| {name} | ids from the ground truth | {margins(rows, 'ids from the ground truth')} |"]
    print("\n### Margins over the better of ByteTrack / OC-SORT\n\n| split | ids | margins |\n|---|---|---|")
    print("\n".join(summary))
    print(f"compare end: {load()}")


def main() -> None:
    """Parse arguments, print the machine, the ablation and the flow cost."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="synthetic dataset root (simplepose synth / demo DIR/data)")
    p.add_argument("--checkpoint", help="a model trained on it (demo DIR/work/latest.pth)")
    p.add_argument("--config", help="its config (default: config.yaml beside the checkpoint)")
    p.add_argument("--out", default="/tmp/simplepose_tracking_bench", help="prediction folders")
    p.add_argument("--set", nargs="*", default=[], help="config overrides for every row")
    p.add_argument("--config-track", action="store_true",
                   help="take the track settings from the config (default: FlowTrack with its defaults)")
    p.add_argument("--flow-only", action="store_true", help="only the 1080p flow + association cost")
    p.add_argument("--ids-cost", action="store_true", help="only the ids' cost for 10 persons (FlowSORT and peers)")
    p.add_argument("--compare", action="store_true",
                   help="trackers side by side on cached persons: tune on --train, report on each --val")
    p.add_argument("--train", help="--compare: the split every tracker's thresholds are tuned on")
    p.add_argument("--val", nargs="*", default=[], help="--compare: the splits reported")
    p.add_argument("--cache", default="/tmp/simplepose_tracking_cache", help="--compare: cached persons")
    args = p.parse_args()
    t0 = time.perf_counter()
    print(f"{cpu()}, torch {torch.get_num_threads()} threads, OpenCV {cv2.getNumThreads()} threads")
    if args.compare or args.ids_cost:
        association_cost()
    if args.compare:
        compare(args)
    elif not (args.flow_only or args.ids_cost):
        ablation(args)
    if not (args.compare or args.ids_cost):
        flow_cost()
    print(f"benchmark wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

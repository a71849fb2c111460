"""Synthetic cases for keypoint HOTA, written deterministically; golden_hota/<case>.json holds what
the PoseTrack21 evaluation kit computes on them, with anDoer/PoseTrack21#10 fixed ("fixed") and as
published ("published").

The goldens come from the kit itself (anDoer/PoseTrack21, folder eval/posetrack21, its
``HOTAeypoints`` metric) run by scripts/posetrack21_kit.py (which says what it changes in the kit,
in memory: numpy aliases, loading labelled frames without GT persons, and with --fixed issue #10);
none of the kit's code is here. To regenerate, from the checkout:

    git clone https://github.com/anDoer/PoseTrack21 /tmp/PoseTrack21
    python -m venv /tmp/pt21 && /tmp/pt21/bin/pip install numpy scipy shapely tqdm
    python tests/evaluation/hota_cases.py /tmp/hota_cases
    for c in $(ls /tmp/hota_cases); do
      /tmp/pt21/bin/python scripts/posetrack21_kit.py --kit /tmp/PoseTrack21/eval/posetrack21 \
          /tmp/hota_cases/$c/gt /tmp/hota_cases/$c/pred --out /tmp/hota_cases/$c.published.json
      /tmp/pt21/bin/python scripts/posetrack21_kit.py --kit /tmp/PoseTrack21/eval/posetrack21 \
          /tmp/hota_cases/$c/gt /tmp/hota_cases/$c/pred --fixed --out /tmp/hota_cases/$c.fixed.json
    done
    python tests/evaluation/hota_cases.py --collect /tmp/hota_cases tests/evaluation/golden_hota

Made with the kit at commit 3e61960 (numpy 2.4.6, scipy 1.17.1, shapely 2.2.0). A golden keeps,
per field, the per-joint means over the 19 alphas (combined and per sequence) and the total
column at each alpha (combined), to 12 significant digits, and a digest of the inputs.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
         "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
# a standing person in head sizes, relative to the head bottom (17 joints, ears at the head bottom)
_TEMPLATE = np.array([
    [0, -0.6], [0, 0], [0, -1.3], [0, 0], [0, 0], [0.9, 0.3], [-0.9, 0.3], [1.2, 1.6], [-1.2, 1.6],
    [1.3, 2.8], [-1.3, 2.8], [0.6, 3.2], [-0.6, 3.2], [0.6, 4.8], [-0.6, 4.8], [0.6, 6.4], [-0.6, 6.4]])
FIELDS = ["HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "HOTA_TP", "HOTA_FN", "HOTA_FP"]


class Video:
    """One sequence under construction: GT and predicted persons per frame."""

    def __init__(self, seq: int, n_frames: int, pt21: bool = False) -> None:
        """n_frames labelled frames, no persons yet."""
        self.name = f"{seq:06d}_mpii_test"
        self.seq, self.pt21 = seq, pt21
        self.labeled = [True] * n_frames
        self.ignore: list[list[tuple[list, list]]] = [[] for _ in range(n_frames)]
        self.gt: list[list[dict]] = [[] for _ in range(n_frames)]
        self.pred: list[list[dict]] = [[] for _ in range(n_frames)]

    def image_id(self, f: int) -> int:
        """PoseTrack-style image id."""
        return 10000000000 + self.seq * 10000 + f

    def add_gt(self, f: int, track: int, kp: np.ndarray, head: float) -> None:
        """A GT person: kp (17, 3), head box of width head and height 1.2 head above the head bottom."""
        hx, hy = kp[1, 0] - head / 2, kp[1, 1] - 1.4 * head
        self.gt[f].append({"track_id": track, "keypoints": kp, "bbox_head": [hx, hy, head, 1.2 * head]})

    def add_pred(self, f: int, track: int, kp: np.ndarray) -> None:
        """A predicted person: kp (17, 3) (third value the score)."""
        self.pred[f].append({"track_id": track, "keypoints": kp})

    def documents(self) -> tuple[dict, dict]:
        """The GT and prediction documents (PoseTrack18 layout, or PoseTrack21's with pt21)."""
        images, gt_anns, pred_anns = [], [], []
        n = len(self.labeled)
        for f in range(n):
            iid = self.image_id(f)
            im = {"is_labeled": self.labeled[f], "nframes": n, "frame_id": iid, "id": iid,
                  "vid_id": f"{self.seq:06d}", "file_name": f"images/val/{self.name}/{f:06d}.jpg",
                  "ignore_regions_x": [r[0] for r in self.ignore[f]],
                  "ignore_regions_y": [r[1] for r in self.ignore[f]]}
            if self.pt21:
                im["image_id"] = iid
                im["has_labeled_person"] = bool(self.gt[f])
            images.append(im)
            for p in self.gt[f]:
                a = {"bbox_head": [round(float(v), 2) for v in p["bbox_head"]], "category_id": 1,
                     "image_id": iid, "id": iid * 100 + len(gt_anns) % 100, "track_id": p["track_id"],
                     "keypoints": np.round(p["keypoints"], 2).ravel().tolist()}
                if self.pt21:
                    a["person_id"] = 1000 + p["track_id"]
                    a["bbox"] = [0, 0, 10, 10]
                gt_anns.append(a)
            for p in self.pred[f]:
                kp = np.round(p["keypoints"], 2)
                pred_anns.append({"image_id": iid, "track_id": p["track_id"], "keypoints": kp.ravel().tolist(),
                                  "scores": kp[:, 2].tolist(), "score": float(kp[:, 2].mean())})
        cats = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": NAMES}]
        gt = {"images": images, "annotations": gt_anns, "categories": cats}
        pred_images = [{"file_name": im["file_name"], "id": im["id"], "frame_id": im["frame_id"]} for im in images]
        pred = {"images": pred_images, "annotations": pred_anns}
        if not self.pt21:
            pred["categories"] = cats
        return gt, pred


def pose(rng: np.random.Generator, center: np.ndarray, head: float, absent: float = 0.1) -> np.ndarray:
    """A GT pose (17, 3): the template at center with jitter, ears and some joints absent."""
    kp = np.zeros((17, 3))
    kp[:, :2] = center + _TEMPLATE * head + rng.normal(0, 0.05 * head, (17, 2))
    kp[:, 2] = 1
    gone = rng.random(17) < absent
    gone[3:5] = True
    kp[gone] = 0
    return kp


def predict(rng: np.random.Generator, gt_kp: np.ndarray, head: float, noise: float = 0.15,
            drop: float = 0.05) -> np.ndarray:
    """A prediction of a GT pose: noise in head sizes (some joints far off), scores, some joints missing."""
    kp = np.zeros((17, 3))
    scale = head * noise * rng.choice([0.3, 1.0, 3.0], (17, 1), p=[0.5, 0.4, 0.1])
    kp[:, :2] = gt_kp[:, :2] + rng.normal(0, 1, (17, 2)) * scale
    kp[:, 2] = rng.uniform(0.1, 1.0, 17)
    missing = (rng.random(17) < drop) | ((gt_kp[:, 0] == 0) & (rng.random(17) < 0.5))
    kp[missing] = 0
    kp[3:5] = 0
    return kp


def _walkers(rng: np.random.Generator, video: Video, n_tracks: int, frames: range,
             id_of: callable = None, p_present: float = 0.9, p_detect: float = 0.9) -> None:
    """People walking; GT and predictions (pred track id from id_of(track, frame))."""
    n = len(video.labeled)
    start = rng.uniform([150, 150], [1500, 400], (n_tracks, 2))
    vel = rng.normal(0, 8, (n_tracks, 2))
    heads = rng.uniform(25, 60, n_tracks)
    for f in frames:
        for t in range(n_tracks):
            if rng.random() > p_present:
                continue
            kp = pose(rng, start[t] + vel[t] * f, heads[t])
            video.add_gt(f, t, kp, heads[t])
            if rng.random() < p_detect:
                video.add_pred(f, id_of(t, f) if id_of else t, predict(rng, kp, heads[t]))
    assert n >= len(frames)


def case_switches(rng: np.random.Generator) -> list[Video]:
    """Two sequences: id switches and fragments, a duplicate prediction, false positives."""
    a = Video(101, 8)
    _walkers(rng, a, 4, range(8), id_of=lambda t, f: 1 - t if (t < 2 and f >= 4) else t)
    b = Video(102, 6)
    _walkers(rng, b, 3, range(6), id_of=lambda t, f: t + 10 * (f // 3))
    dup = b.pred[2][0]["keypoints"].copy()
    b.add_pred(2, 99, dup)                                      # identical duplicate: similarity tie
    for f in range(6):
        fp = pose(rng, rng.uniform([200, 200], [1500, 500]), 40)
        fp[:, 2] = rng.uniform(0.1, 0.5, 17)
        b.add_pred(f, 50 + f % 2, fp)
    return [a, b]


def case_empty_frames(rng: np.random.Generator) -> list[Video]:
    """Labelled frames without GT persons, without predicted persons, without either; a sequence
    with no prediction at all and one with no GT person at all."""
    a = Video(201, 9)
    _walkers(rng, a, 3, range(9))
    a.gt[2], a.gt[3] = [], []                    # predictions but no GT
    a.pred[5], a.pred[6] = [], []                # GT but no predictions
    a.gt[8], a.pred[8] = [], []                  # neither
    b = Video(202, 4)
    _walkers(rng, b, 2, range(4), p_detect=0.0)    # GT only
    c = Video(203, 3)
    _walkers(rng, c, 2, range(3))
    c.gt = [[] for _ in range(3)]                  # predictions only
    return [a, b, c]


def case_ignore_regions(rng: np.random.Generator) -> list[Video]:
    """Ignore polygons (convex, concave, clockwise) over some joints, over whole persons (GT and
    predicted), an ignore frame whose polygons are all empty, joints exactly on an edge."""
    v = Video(301, 6)
    _walkers(rng, v, 4, range(6), p_present=1.0, p_detect=1.0)
    for f in range(6):
        g = v.gt[f][0]["keypoints"]
        x0, y0 = g[:, 0].min() - 5, g[:, 1].min() - 5
        x1, y1 = g[:, 0].max() + 5, g[:, 1].max() + 5
        if f == 0:       # whole first person (GT and its prediction, mostly)
            v.ignore[f] = [([x0, x1, x1, x0], [y0, y0, y1, y1])]
        elif f == 1:     # its upper body, clockwise concave polygon
            ym = (y0 + y1) / 2
            xm = (x0 + x1) / 2
            v.ignore[f] = [([x0, x0, xm, x1, x1], [y0, ym, ym - 10, ym, y0])]
        elif f == 2:     # an empty polygon list entry only
            v.ignore[f] = [([], [])]
        elif f == 3:     # a vertical edge through a GT joint's x (on the edge: not inside)
            jx, jy = g[5, 0], g[5, 1]
            v.ignore[f] = [([jx, jx + 300, jx + 300, jx], [jy - 100, jy - 100, jy + 100, jy + 100])]
        elif f == 4:     # a region over a false positive only
            fp = pose(rng, np.array([1700.0, 300.0]), 40)
            v.add_pred(f, 77, fp)
            v.ignore[f] = [([1600, 1800, 1800, 1600], [100, 100, 900, 900]), ([10, 20, 15], [10, 10, 30])]
        else:            # all GT persons and predictions inside: the frame keeps no person
            v.ignore[f] = [([0, 5000, 5000, 0], [0, 0, 5000, 5000])]
    return [v]


def case_unlabeled_and_invalid(rng: np.random.Generator) -> list[Video]:
    """Unlabelled frames with GT and predictions (not evaluated), joints with x <= 0 or y <= 0,
    persons without a present joint (GT and predicted), a GT person absent from some frames."""
    v = Video(401, 10)
    _walkers(rng, v, 3, range(10))
    for f in (1, 3, 6):
        v.labeled[f] = False
    kp = v.gt[0][0]["keypoints"]
    kp[0, 0] = -3.0                                  # x <= 0: absent for HOTA
    kp[2, 1] = 0.0                                   # y == 0: absent
    if v.pred[0]:
        v.pred[0][0]["keypoints"][5, :2] = [12.0, -1.0]
    empty = np.zeros((17, 3))
    v.add_gt(2, 20, empty.copy(), 30.0)              # GT person with no joint
    v.add_pred(4, 30, empty.copy())                  # predicted person with no joint
    v.add_pred(7, 31, np.tile([-5.0, -5.0, 0.3], (17, 1)))
    return [v]


def case_pt21_mixed(rng: np.random.Generator) -> list[Video]:
    """PoseTrack21 layout (person_id, has_labeled_person, prediction files without categories),
    three sequences of different lengths mixing all of the above, people crossing."""
    videos = []
    for i, n in enumerate((12, 5, 7)):
        v = Video(501 + i, n, pt21=True)
        _walkers(rng, v, 5 - i, range(n), id_of=lambda t, f: t if f < n // 2 else (t * 7 + 3) % 11)
        videos.append(v)
    a = videos[0]
    a.labeled[0] = a.labeled[11] = False
    a.gt[4] = []
    a.pred[7] = []
    # two people crossing: nearly coincident at frame 9
    c = np.array([900.0, 300.0])
    for f in range(8, 11):
        for t, dx in ((40, -1), (41, 1)):
            kp = pose(rng, c + [dx * 30 * (f - 9), 0], 40)
            a.add_gt(f, t, kp, 40)
            a.add_pred(f, t if f < 10 else 81 - t, predict(rng, kp, 40))
    videos[1].ignore[2] = [([0, 4000, 4000], [0, 0, 4000])]
    return videos


def case_crowd(rng: np.random.Generator) -> list[Video]:
    """A crowd: people a fraction of a head apart, so that joints compete (many Hungarian
    assignments), identical predictions of two people (similarity ties), ids shuffled midway."""
    v = Video(601, 6)
    centers = np.array([[600.0 + 12 * i, 300.0 + 5 * (i % 2)] for i in range(6)])
    perm = rng.permutation(6)
    for f in range(6):
        for t in range(6):
            kp = pose(rng, centers[t] + [3.0 * f, 0], 45)
            v.add_gt(f, t, kp, 45)
            if (t, f) != (5, 2):
                v.add_pred(f, int(perm[t]) if f >= 3 else t, predict(rng, kp, 45, noise=0.3))
        twin = v.pred[f][0]["keypoints"].copy()
        v.add_pred(f, 20, twin)                      # the same pose twice
    return [v]


CASES = {"h01_switches": case_switches, "h02_empty_frames": case_empty_frames,
         "h03_ignore_regions": case_ignore_regions, "h04_unlabeled_invalid": case_unlabeled_and_invalid,
         "h05_pt21_mixed": case_pt21_mixed, "h06_crowd": case_crowd}


def write_case(name: str, root: Path) -> tuple[Path, Path]:
    """Write case `name` as root/gt and root/pred; returns them."""
    rng = np.random.default_rng(sorted(CASES).index(name) + 2024)
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir(parents=True, exist_ok=True)
    pred_dir.mkdir(parents=True, exist_ok=True)
    for v in CASES[name](rng):
        gt, pred = v.documents()
        (gt_dir / f"{v.name}.json").write_text(json.dumps(gt))
        (pred_dir / f"{v.name}.json").write_text(json.dumps(pred))
    return gt_dir, pred_dir


def input_digest(root: Path) -> str:
    """sha256 over the written gt/ and pred/ files (names and bytes), to check the inputs still match."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.json")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _numbers(arrays: dict, full: bool) -> dict:
    """Per field the per-joint means over the alphas (16,), and with full the total column per alpha (19,)."""
    out = {}
    for f in FIELDS:
        a = np.asarray(arrays[f], dtype=float)
        entry = {"joint": [float(f"{v:.12g}") for v in a.mean(axis=0)]}
        if full:
            entry["alpha_total"] = [float(f"{v:.12g}") for v in a[:, -1]]
        out[f] = entry
    return out


def _collect(runs: Path, out: Path) -> None:
    """Merge the kit's outputs (published and fixed) into one golden JSON per case."""
    out.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        golden: dict = {"inputs_sha256": input_digest(runs / name)}
        for mode in ("published", "fixed"):
            doc = json.loads((runs / f"{name}.{mode}.json").read_text())
            golden[mode] = {"combined": _numbers(doc["combined"], True),
                            "sequences": {k.removesuffix(".json"): _numbers(v, False)
                                          for k, v in sorted(doc["sequences"].items())}}
        (out / f"{name}.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "--collect":
        _collect(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        for case in CASES:
            write_case(case, Path(sys.argv[1]) / case)

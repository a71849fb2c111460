"""The official PoseTrack18 multi-person pose metric (poseval's per-joint AP), exact and vectorised.

Reproduces poseval's `load_data_dir` + `evaluateAP` + `getCum` (the table MMPose reports) on a
folder of ground-truth per-video files and a folder of prediction files with the same names.
The semantics (frame selection, ignore regions, PCKh@0.5 matching, the greedy person assignment,
VOC all-point AP) are described in the golden cases' README; here every step works on flat numpy
arrays over all persons and joints of all videos at once.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from simplepose.errors import DataError
from simplepose.io import read_json


# poseval's joint order (index 0..14), then the mean ("total") at index 15.
JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "nose", "head_top", "total",
)
# PoseTrack18 keypoint name (as in categories[0].keypoints) -> poseval joint index.
_POSEVAL_INDEX: dict[str, int] = {
    "right_ankle": 0, "right_knee": 1, "right_hip": 2, "left_hip": 3, "left_knee": 4,
    "left_ankle": 5, "right_wrist": 6, "right_elbow": 7, "right_shoulder": 8,
    "left_shoulder": 9, "left_elbow": 10, "left_wrist": 11, "head_bottom": 12, "nose": 13,
    "head_top": 14,
}
NUM_JOINTS = 15
SUMMARY_HEADER: tuple[str, ...] = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")
# Joints averaged into each summary column (poseval's getCum), Total is index 15 itself.
_SUMMARY_GROUPS: tuple[tuple[int, ...], ...] = (
    (14, 12, 13), (8, 9), (7, 10), (6, 11), (2, 3), (1, 4), (0, 5), (15,),
)
PCKH_THRESHOLD = 0.5
MISSING_SCORE = -9999.0     # poseval's score for joints of a person without `scores`
MAX_TRACK_ID = 10000
# images/<...>/<6 digits>_<mpii|bonn|mpiinew>[_...]/<frame number>.<ext>, frame < 10000
_FILE_NAME_RE = re.compile(r"(?:^|/)(\d+)_(mpii|bonn|mpiinew)(?:_[^/]*)?/(\d+)\.[^/]*$")


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

@dataclass
class _Persons:
    """Persons of one role (GT or prediction) as flat arrays, in frame then annotation order."""

    frame: np.ndarray            # (N,) int64 frame position (per video while reading, global later)
    xy: np.ndarray               # (N, 15, 2) float64 joint coordinates
    has: np.ndarray              # (N, 15) bool joint present (not exactly (0, 0, 0))
    score: np.ndarray            # (N, 15) float64 joint score (predictions), NaN for GT
    head: np.ndarray             # (N,) float64 head size (GT), NaN for predictions
    track: np.ndarray            # (N,) float64 track id

    @staticmethod
    def empty() -> "_Persons":
        """No persons."""
        return _Persons(np.zeros(0, np.int64), np.zeros((0, NUM_JOINTS, 2)),
                        np.zeros((0, NUM_JOINTS), bool), np.zeros((0, NUM_JOINTS)),
                        np.zeros(0), np.zeros(0))

    def take(self, index: np.ndarray) -> "_Persons":
        """The persons selected by an index or mask array."""
        return _Persons(self.frame[index], self.xy[index], self.has[index], self.score[index],
                        self.head[index], self.track[index])

    @staticmethod
    def concat(parts: list["_Persons"]) -> "_Persons":
        """Concatenate persons of several videos."""
        if not parts:
            return _Persons.empty()
        return _Persons(*(np.concatenate([getattr(p, f) for p in parts])
                          for f in ("frame", "xy", "has", "score", "head", "track")))


@dataclass
class _Video:
    """One parsed per-video file."""

    path: Path
    n_frames: int
    file_names: list[str]
    persons: _Persons
    gt_count: np.ndarray                     # (n_frames,) annotations per frame
    polygons: dict[int, list[np.ndarray]]    # frame -> ignore polygons (M, 2) (GT only)


def _joint_table(path: Path, data: dict) -> tuple[int, np.ndarray]:
    """Number of keypoints K per person and the (K,) poseval index of each (-1 = dropped)."""
    cats = data.get("categories")
    if not isinstance(cats, list) or len(cats) != 1 or not isinstance(cats[0], dict):
        raise DataError(path, "expected exactly one entry in 'categories'")
    if cats[0].get("name") != "person":
        raise DataError(path, "categories[0].name must be 'person'")
    names = cats[0].get("keypoints")
    if not isinstance(names, list) or len(names) not in (15, 17):
        raise DataError(path, "categories[0].keypoints must list 15 or 17 keypoint names")
    table = np.array([_POSEVAL_INDEX.get(n, -1) for n in names], dtype=np.int64)
    missing = sorted(set(_POSEVAL_INDEX) - set(names))
    if missing:
        raise DataError(path, f"categories[0].keypoints lacks {missing}")
    return len(names), table


def _float_rows(path: Path, rows: list, width: int, what: str, ann_ids: list) -> np.ndarray:
    """Stack equal-length numeric lists into a float64 array (N, width), with clear errors."""
    if not rows:
        return np.zeros((0, width))
    try:
        arr = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1] != width:
        for i, r in enumerate(rows):
            ok = isinstance(r, list) and len(r) == width and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
            if not ok:
                raise DataError(path, f"'{what}' must be a list of {width} numbers",
                                record=f"annotation id {ann_ids[i]}")
        raise DataError(path, f"bad '{what}' values")  # pragma: no cover
    return arr


def _check_track_ids(path: Path, anns: list[dict], ann_ids: list) -> np.ndarray:
    """Track ids as float64 (N,); poseval requires them and requires < 10000."""
    out = np.empty(len(anns))
    for i, a in enumerate(anns):
        t = a.get("track_id")
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise DataError(path, "'track_id' must be a number", record=f"annotation id {ann_ids[i]}")
        if t >= MAX_TRACK_ID:
            raise DataError(path, f"track_id {t} must be < {MAX_TRACK_ID}",
                            record=f"annotation id {ann_ids[i]}")
        out[i] = t
    return out


def _read_polygons(path: Path, image: dict, frame: int) -> list[np.ndarray] | None:
    """Ignore polygons of one GT image, None when the image has none (poseval's rule)."""
    xs, ys = image.get("ignore_regions_x"), image.get("ignore_regions_y")
    if xs is None or ys is None:
        return None
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise DataError(path, "ignore_regions_x / ignore_regions_y must be lists of equal length",
                        record=f"image {frame} (id {image.get('id')})")
    polys = []
    for x, y in zip(xs, ys):
        if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y):
            raise DataError(path, "an ignore polygon's x and y lists differ in length",
                            record=f"image {frame} (id {image.get('id')})")
        if 0 < len(x) < 3:
            raise DataError(path, f"an ignore polygon has {len(x)} points (needs at least 3)",
                            record=f"image {frame} (id {image.get('id')})")
        try:
            polys.append(np.array([x, y], dtype=np.float64).T.reshape(-1, 2))
        except (TypeError, ValueError):
            raise DataError(path, "ignore polygon coordinates must be numbers",
                            record=f"image {frame} (id {image.get('id')})") from None
    return polys if polys else None


def read_video_file(path: str | os.PathLike, is_gt: bool) -> _Video:
    """Parse one PoseTrack18 per-video file (GT or predictions) the way poseval reads it."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object with 'images', 'annotations', 'categories'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise DataError(path, f"missing or non-list '{key}'")
    k, table = _joint_table(path, data)
    images = data["images"]
    pos_of_id: dict[Any, int] = {}
    file_names = []
    video_key = None
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise DataError(path, "every image needs 'id' and 'file_name'", record=f"image {i}")
        if im["id"] in pos_of_id:
            raise DataError(path, f"duplicate image id {im['id']}", record=f"image {i}")
        pos_of_id[im["id"]] = i
        m = _FILE_NAME_RE.search(im["file_name"])
        if m is None or int(m.group(3)) >= 10000:
            raise DataError(path, f"file_name {im['file_name']!r} is not of the PoseTrack form "
                            "'images/<split>/<6 digits>_<mpii|bonn|mpiinew>_<...>/<frame < 10000>.jpg'",
                            record=f"image {i}")
        if video_key is None:
            video_key = m.group(1)
        elif int(m.group(1)) != int(video_key):       # poseval would silently use the first video
            raise DataError(path, "images of more than one video in one file "
                            f"({video_key} and {m.group(1)})", record=f"image {i}")
        file_names.append(im["file_name"])

    anns, frames = [], []
    for a in data["annotations"]:
        if not isinstance(a, dict):
            raise DataError(path, "every annotation must be an object")
        pos = pos_of_id.get(a.get("image_id"))
        if pos is not None:          # annotations pointing at no image are ignored (poseval)
            anns.append(a)
            frames.append(pos)
    ann_ids = [a.get("id", f"#{i}") for i, a in enumerate(anns)]
    n = len(anns)
    for i, a in enumerate(anns):
        if "keypoints" not in a:
            raise DataError(path, "annotation without 'keypoints'", record=f"annotation id {ann_ids[i]}")
    kp = _float_rows(path, [a["keypoints"] for a in anns], 3 * k, "keypoints", ann_ids).reshape(n, k, 3)
    keep = table >= 0
    kp15 = np.zeros((n, NUM_JOINTS, 3))
    kp15[:, table[keep]] = kp[:, keep]
    has = ~np.all(kp15 == 0, axis=2)
    xy = kp15[:, :, :2].copy()
    track = _check_track_ids(path, anns, ann_ids)
    score = np.full((n, NUM_JOINTS), np.nan)
    head = np.full(n, np.nan)
    polygons: dict[int, list[np.ndarray]] = {}
    if is_gt:
        boxes = []
        for i, a in enumerate(anns):
            if "bbox_head" not in a:
                raise DataError(path, "ground-truth annotation without 'bbox_head'",
                                record=f"annotation id {ann_ids[i]}")
            boxes.append(a["bbox_head"])
        hb = _float_rows(path, boxes, 4, "bbox_head", ann_ids)
        # poseval: x2 = x + w, y2 = y + h, head size = 0.6 * |(x2, y2) - (x1, y1)|
        dx = (hb[:, 0] + hb[:, 2]) - hb[:, 0]
        dy = (hb[:, 1] + hb[:, 3]) - hb[:, 1]
        head = 0.6 * np.sqrt(dx * dx + dy * dy)
        for i, im in enumerate(images):
            polys = _read_polygons(path, im, i)
            if polys is not None:
                polygons[i] = polys
    else:
        rows, with_scores = [], np.zeros(n, bool)
        for i, a in enumerate(anns):
            s = a.get("scores")
            if s:                                   # missing, None or [] -> no scores
                if not isinstance(s, list) or len(s) != k:
                    raise DataError(path, f"'scores' must be a list of {k} numbers",
                                    record=f"annotation id {ann_ids[i]}")
                rows.append(s)
                with_scores[i] = True
        sc = _float_rows(path, rows, k, "scores", [ann_ids[i] for i in np.flatnonzero(with_scores)])
        sc15 = np.full((len(rows), NUM_JOINTS), np.nan)
        sc15[:, table[keep]] = sc[:, keep]
        score[:] = MISSING_SCORE
        score[with_scores] = sc15
        frame_arr = np.asarray(frames, dtype=np.int64)
        _check_unique_tracks(path, frame_arr, track, file_names)
    frame_arr = np.asarray(frames, dtype=np.int64)
    gt_count = np.bincount(frame_arr, minlength=len(images))
    persons = _Persons(frame_arr, xy, has, score, head, track)
    return _Video(path, len(images), file_names, persons, gt_count, polygons)


def _check_unique_tracks(path: Path, frame: np.ndarray, track: np.ndarray, file_names: list[str]) -> None:
    """poseval refuses prediction files with a track id used twice in one frame."""
    if len(frame) < 2:
        return
    order = np.lexsort((track, frame))
    f, t = frame[order], track[order]
    dup = np.flatnonzero((f[1:] == f[:-1]) & (t[1:] == t[:-1]))
    if len(dup):
        i = dup[0]
        raise DataError(path, f"track_id {t[i]:g} used twice in one frame",
                        record=f"image {f[i]} ({file_names[f[i]]})")


# --------------------------------------------------------------------------------------------
# Ignore regions: strict point-in-polygon (points on an edge or vertex are outside, as shapely)
# --------------------------------------------------------------------------------------------

# Shewchuk's orient2d filter bound is (3 + 16e) e with e = 2^-53; twice that, to be safe.
_CCW_ERRBOUND = 4.0 * float(np.finfo(np.float64).eps)


def _orientation(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                 px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Exact sign (-1, 0, 1) of the cross product (b - a) x (p - a), for arrays of equal shape."""
    left = (bx - ax) * (py - ay)
    right = (by - ay) * (px - ax)
    det = left - right
    bound = _CCW_ERRBOUND * (np.abs(left) + np.abs(right))
    sign = np.sign(det).astype(np.int8)
    unsure = np.flatnonzero(~(np.abs(det) > bound))     # also catches NaN
    for i in unsure:      # rare: (near-)collinear triples, decided in exact rational arithmetic
        fa, fb, fp = ((Fraction(float(ax[i])), Fraction(float(ay[i]))),
                      (Fraction(float(bx[i])), Fraction(float(by[i]))),
                      (Fraction(float(px[i])), Fraction(float(py[i]))))
        d = (fb[0] - fa[0]) * (fp[1] - fa[1]) - (fb[1] - fa[1]) * (fp[0] - fa[0])
        sign[i] = (d > 0) - (d < 0)
    return sign


def points_in_polygons(points: np.ndarray, point_group: np.ndarray,
                       polygons: list[np.ndarray], polygon_group: np.ndarray) -> np.ndarray:
    """Which points lie strictly inside any polygon of their group: (P,) bool.

    points (P, 2); point_group (P,) int; polygons: list of (M, 2) vertex arrays (closed
    implicitly); polygon_group (Q,) int. Even-odd rule with exact orientation tests; points on
    an edge or a vertex are not inside (shapely's `contains`).
    """
    n_pts = len(points)
    inside = np.zeros(n_pts, bool)
    polys = [(q, p) for q, p in enumerate(polygons) if len(p) >= 3]
    if n_pts == 0 or not polys:
        return inside
    q_idx = np.array([q for q, _ in polys])
    q_group = np.asarray(polygon_group)[q_idx]
    boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for _, p in polys])
    # candidate (point, polygon) pairs: same group, point in the polygon's bounding box
    order = np.argsort(q_group, kind="stable")
    sorted_groups = q_group[order]
    lo = np.searchsorted(sorted_groups, point_group, "left")
    hi = np.searchsorted(sorted_groups, point_group, "right")
    reps = hi - lo
    pair_pt = np.repeat(np.arange(n_pts), reps)
    pair_q = order[np.repeat(lo, reps) + _ranks_within(reps)]
    x, y = points[pair_pt, 0], points[pair_pt, 1]
    b = boxes[pair_q]
    in_box = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
    pair_pt, pair_q = pair_pt[in_box], pair_q[in_box]
    if len(pair_pt) == 0:
        return inside
    # expand candidate pairs to polygon edges
    n_edges = np.array([len(p) for _, p in polys])
    starts = np.concatenate([[0], np.cumsum(n_edges)[:-1]])
    verts = np.concatenate([p for _, p in polys])
    nxt = np.concatenate([np.roll(np.arange(s, s + m), -1) for s, m in zip(starts, n_edges)])
    reps = n_edges[pair_q]
    e_pair = np.repeat(np.arange(len(pair_pt)), reps)
    e_idx = np.repeat(starts[pair_q], reps) + _ranks_within(reps)
    ax, ay = verts[e_idx, 0], verts[e_idx, 1]
    bx, by = verts[nxt[e_idx], 0], verts[nxt[e_idx], 1]
    px, py = points[pair_pt[e_pair], 0], points[pair_pt[e_pair], 1]
    straddle = (ay > py) != (by > py)
    maybe_on = ((px >= np.minimum(ax, bx)) & (px <= np.maximum(ax, bx))
                & (py >= np.minimum(ay, by)) & (py <= np.maximum(ay, by)))
    need = np.flatnonzero(straddle | maybe_on)
    orient = np.zeros(len(e_pair), np.int8)
    orient[need] = _orientation(ax[need], ay[need], bx[need], by[need], px[need], py[need])
    on_edge = maybe_on & (orient == 0)
    crossing = straddle & (orient != 0) & ((orient > 0) == (by > ay))
    n_pairs = len(pair_pt)
    on_any = np.bincount(e_pair, weights=on_edge, minlength=n_pairs) > 0
    crossings = np.bincount(e_pair, weights=crossing, minlength=n_pairs).astype(np.int64)
    pair_inside = (crossings % 2 == 1) & ~on_any
    inside[pair_pt[pair_inside]] = True
    return inside


def _ranks_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


# --------------------------------------------------------------------------------------------
# Loading a GT / prediction folder pair into global arrays of evaluated frames
# --------------------------------------------------------------------------------------------

@dataclass
class EvalData:
    """Evaluated frames of all videos: GT and predicted persons after poseval's cleanup."""

    gt: _Persons
    pred: _Persons
    n_frames: int                    # evaluated frames (frames with at least one GT annotation)
    video_of_frame: np.ndarray       # (n_frames,) index into `videos`
    videos: list[str] = field(default_factory=list)


def resolve_gt_dir(path: str | os.PathLike) -> Path:
    """The per-video GT folder; a merged file 'x/posetrack18_val.json' means 'x/val/' (the reference's rule)."""
    path = Path(path)
    if path.is_file():
        folder = path.parent / path.stem.split("_")[-1]
        if not folder.is_dir():
            raise DataError(path, f"the official evaluation needs the per-video GT files; {folder} not found")
        return folder
    return path


def _gt_files(gt_dir: Path) -> list[Path]:
    """The ground-truth per-video files, sorted by name."""
    if not gt_dir.is_dir():
        raise DataError(gt_dir, "ground-truth folder not found")
    files = sorted(p for p in gt_dir.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise DataError(gt_dir, "no .json ground-truth files in the folder")
    return files


def load_eval_data(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                   progress: bool = False) -> EvalData:
    """Read every GT file and its prediction file; keep frames with GT people; apply ignore regions.

    gt_dir: folder of per-video GT files (or a merged 'posetrack18_<split>.json' beside a
    '<split>/' folder of them); pred_dir: prediction files with the same names.
    """
    gt_dir, pred_dir = resolve_gt_dir(gt_dir), Path(pred_dir)
    if not pred_dir.is_dir():
        raise DataError(pred_dir, "prediction folder not found")
    files = _gt_files(gt_dir)
    if progress:
        from tqdm import tqdm
        files_iter = tqdm(files, desc="reading", unit="video")
    else:
        files_iter = files
    gt_parts, pr_parts, video_of_frame, names = [], [], [], []
    poly_list, poly_frame = [], []
    offset = 0
    for vi, gt_path in enumerate(files_iter):
        pred_path = pred_dir / gt_path.name
        if not pred_path.is_file():
            raise DataError(pred_path, f"prediction file for ground truth {gt_path.name} not found")
        g = read_video_file(gt_path, is_gt=True)
        p = read_video_file(pred_path, is_gt=False)
        if g.n_frames != p.n_frames:
            raise DataError(pred_path, f"{p.n_frames} prediction frames but {g.n_frames} "
                            f"ground-truth frames in {gt_path}")
        kept = g.gt_count > 0                                  # frames with GT annotations
        new_index = np.cumsum(kept) - 1 + offset               # frame -> global evaluated frame
        gp, pp = g.persons, p.persons
        gp = gp.take(kept[gp.frame])
        pp = pp.take(kept[pp.frame])
        gp.frame = new_index[gp.frame]
        pp.frame = new_index[pp.frame]
        gt_parts.append(gp)
        pr_parts.append(pp)
        for f, polys in g.polygons.items():
            if kept[f]:
                for poly in polys:
                    poly_list.append(poly)
                    poly_frame.append(new_index[f])
        n_kept = int(kept.sum())
        video_of_frame.append(np.full(n_kept, vi))
        names.append(gt_path.stem)
        offset += n_kept
    gt = _Persons.concat(gt_parts)
    pred = _Persons.concat(pr_parts)
    # persons in frame order, keeping annotation order within a frame
    gt = gt.take(np.argsort(gt.frame, kind="stable"))
    pred = pred.take(np.argsort(pred.frame, kind="stable"))
    if poly_list:
        poly_frame_arr = np.asarray(poly_frame, dtype=np.int64)
        ignore_frames = np.zeros(offset, bool)
        ignore_frames[poly_frame_arr] = True
        gt = _apply_ignore_regions(gt, poly_list, poly_frame_arr, ignore_frames)
        pred = _apply_ignore_regions(pred, poly_list, poly_frame_arr, ignore_frames)
    vof = np.concatenate(video_of_frame) if video_of_frame else np.zeros(0, np.int64)
    return EvalData(gt, pred, offset, vof, names)


def _apply_ignore_regions(persons: _Persons, polygons: list[np.ndarray], polygon_frame: np.ndarray,
                          ignore_frames: np.ndarray) -> _Persons:
    """Drop joints strictly inside ignore polygons; in frames with polygons drop emptied persons."""
    in_frame = ignore_frames[persons.frame]
    person_idx, joint_idx = np.nonzero(persons.has & in_frame[:, None])
    pts = persons.xy[person_idx, joint_idx]
    inside = points_in_polygons(pts, persons.frame[person_idx], polygons, polygon_frame)
    has = persons.has.copy()
    has[person_idx[inside], joint_idx[inside]] = False
    persons = _Persons(persons.frame, persons.xy, has, persons.score, persons.head, persons.track)
    keep = ~in_frame | has.any(axis=1)
    return persons.take(keep)


# --------------------------------------------------------------------------------------------
# Matching and AP
# --------------------------------------------------------------------------------------------

@dataclass
class Detections:
    """Every predicted joint that enters AP: joint index, score, true-positive label."""

    joint: np.ndarray        # (D,) int64
    score: np.ndarray        # (D,) float64
    label: np.ndarray        # (D,) bool
    n_gt: np.ndarray         # (15,) int64 GT joints


def pairwise_distances(gt: _Persons, pred: _Persons, n_frames: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All same-frame (prediction, GT) pairs, ordered by prediction then GT.

    Returns pair_pred (M,), pair_gt (M,), distance (M, 15) in head sizes (inf where the
    joint is missing on either side), match (M, 15) bool (distance <= 0.5).
    """
    g_count = np.bincount(gt.frame, minlength=n_frames)
    g_start = np.cumsum(g_count) - g_count
    reps = g_count[pred.frame]
    pair_pred = np.repeat(np.arange(len(pred.frame)), reps)
    pair_gt = np.repeat(g_start[pred.frame], reps) + _ranks_within(reps)
    diff = pred.xy[pair_pred] - gt.xy[pair_gt]                       # (M, 15, 2)
    both = pred.has[pair_pred] & gt.has[pair_gt]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / gt.head[pair_gt, None]
    dist = np.where(both, dist, np.inf)
    return pair_pred, pair_gt, dist, dist <= PCKH_THRESHOLD


def assign(gt: _Persons, pred: _Persons, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """poseval's greedy person assignment.

    Returns the GT index each prediction is assigned to (-1 if none) (P,) and the match
    flags (P, 15) of each prediction's joints against its assigned GT (False if unassigned).
    """
    n_pred = len(pred.frame)
    assigned = np.full(n_pred, -1, np.int64)
    joint_ok = np.zeros((n_pred, NUM_JOINTS), bool)
    pair_pred, pair_gt, _, match = pairwise_distances(gt, pred, n_frames)
    m = len(pair_pred)
    if m == 0:
        return assigned, joint_ok
    n_gt_joints = gt.has.sum(axis=1)[pair_gt]
    count = match.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pck = np.where(n_gt_joints > 0, count / n_gt_joints, count)
    # each prediction keeps only its best GT (first in annotation order on ties)
    starts = np.flatnonzero(np.r_[True, pair_pred[1:] != pair_pred[:-1]])
    best = np.maximum.reduceat(pck, starts)
    lengths = np.diff(np.r_[starts, m])
    is_best = pck == np.repeat(best, lengths)
    first_best = np.minimum.reduceat(np.where(is_best, np.arange(m), m), starts)
    # each GT takes, among the predictions that kept it with pck > 0, the best (first on ties)
    cand = first_best[pck[first_best] > 0]
    if len(cand) == 0:
        return assigned, joint_ok
    order = np.lexsort((pair_pred[cand], -pck[cand], pair_gt[cand]))
    cand = cand[order]
    g_sorted = pair_gt[cand]
    winners = cand[np.r_[True, g_sorted[1:] != g_sorted[:-1]]]
    assigned[pair_pred[winners]] = pair_gt[winners]
    joint_ok[pair_pred[winners]] = match[winners]
    return assigned, joint_ok


def collect_detections(data: EvalData) -> Detections:
    """Assign predictions to GT and list every predicted joint with its score and label."""
    assigned, joint_ok = assign(data.gt, data.pred, data.n_frames)
    p_idx, j_idx = np.nonzero(data.pred.has)        # prediction order, then joint
    return Detections(joint=j_idx.astype(np.int64), score=data.pred.score[p_idx, j_idx],
                      label=joint_ok[p_idx, j_idx],
                      n_gt=data.gt.has.sum(axis=0).astype(np.int64))


def compute_metrics(det: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-joint AP, precision, recall (16,) in percent, index 15 = mean ignoring NaN."""
    ap = np.zeros(NUM_JOINTS + 1)
    pre = np.zeros(NUM_JOINTS + 1)
    rec = np.zeros(NUM_JOINTS + 1)
    n_det = np.bincount(det.joint, minlength=NUM_JOINTS)
    n_gt = det.n_gt.astype(np.float64)
    if len(det.joint):
        key = np.where(np.isnan(det.score), -np.inf, -det.score)   # poseval sorts NaN first
        order = np.lexsort((key, det.joint))                       # joint, then score descending
        joint = det.joint[order]
        label = det.label[order]
        start = np.cumsum(n_det) - n_det
        rank = np.arange(len(order)) - start[joint]
        width = int(n_det.max())
        lab = np.zeros((NUM_JOINTS, width), np.float64)             # (15, L) labels by rank
        lab[joint, rank] = label
        tp = np.cumsum(lab, axis=1)
        k = np.arange(1, width + 1, dtype=np.float64)
        valid = k[None, :] <= n_det[:, None]
        prec = np.where(valid, tp / k, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = tp / n_gt[:, None]
        # VOC all-point AP: precision envelope, summed where recall changes
        envelope = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
        prev = np.concatenate([np.zeros((NUM_JOINTS, 1)), recall[:, :-1]], axis=1)
        step = np.where(valid & (recall != prev), (recall - prev) * envelope, 0.0)
        with np.errstate(invalid="ignore"):
            ap_j = step.sum(axis=1) * 100
        last = np.maximum(n_det - 1, 0)
        tp_last = tp[np.arange(NUM_JOINTS), last]
        has_det = n_det > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ap[:NUM_JOINTS] = np.where(has_det, np.where(n_gt > 0, ap_j, np.nan), 0.0)
            pre[:NUM_JOINTS] = np.where(has_det, tp_last / np.maximum(n_det, 1) * 100, 0.0)
            rec[:NUM_JOINTS] = np.where(has_det, np.where(n_gt > 0, tp_last / n_gt * 100, np.nan), 0.0)
    for arr in (ap, pre, rec):
        arr[NUM_JOINTS] = _nanmean(arr[:NUM_JOINTS])
    return ap, pre, rec


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values, NaN if there are none."""
    ok = values[~np.isnan(values)]
    return float(ok.mean()) if len(ok) else math.nan


def summarize(values: np.ndarray) -> np.ndarray:
    """poseval's getCum: the 8 table columns (Head .. Ankl group means, NaN propagates; Total)."""
    return np.array([np.mean(values[list(g)]) for g in _SUMMARY_GROUPS])


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

@dataclass
class PoseTrackResult:
    """Per-joint AP / precision / recall (16,) in percent and the 8-column summaries."""

    ap: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_gt_joints: np.ndarray          # (15,) GT joints after ignore regions
    n_pred_joints: np.ndarray        # (15,) predicted joints that entered AP
    n_true_positives: np.ndarray     # (15,)
    n_frames: int                    # evaluated frames
    videos: list[str]

    @property
    def summary_ap(self) -> np.ndarray:
        return summarize(self.ap)

    @property
    def summary_precision(self) -> np.ndarray:
        return summarize(self.precision)

    @property
    def summary_recall(self) -> np.ndarray:
        return summarize(self.recall)

    def summary(self) -> dict[str, float]:
        """MMPose's stat names -> AP: 'Head AP' .. 'Ankl AP', 'AP' (Total)."""
        names = [f"{h} AP" for h in SUMMARY_HEADER[:-1]] + ["AP"]
        return dict(zip(names, (float(v) for v in self.summary_ap)))

    def to_json(self) -> dict[str, Any]:
        """The golden expected.json layout (percent, NaN as None)."""
        return {
            "joint_names": list(JOINT_NAMES),
            "ap": _nan_to_none(self.ap), "precision": _nan_to_none(self.precision),
            "recall": _nan_to_none(self.recall),
            "summary_header": list(SUMMARY_HEADER),
            "summary_ap": _nan_to_none(self.summary_ap),
            "summary_precision": _nan_to_none(self.summary_precision),
            "summary_recall": _nan_to_none(self.summary_recall),
            "n_gt_joints": self.n_gt_joints.tolist(), "n_pred_joints": self.n_pred_joints.tolist(),
            "n_true_positives": self.n_true_positives.tolist(),
            "frames_evaluated": self.n_frames, "sequences_evaluated": len(self.videos),
        }


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    """Floats with NaN replaced by None (JSON null)."""
    return [None if math.isnan(v) else float(v) for v in values]


def evaluate_data(data: EvalData) -> PoseTrackResult:
    """The metric on already loaded data."""
    det = collect_detections(data)
    ap, pre, rec = compute_metrics(det)
    return PoseTrackResult(
        ap=ap, precision=pre, recall=rec, n_gt_joints=det.n_gt,
        n_pred_joints=np.bincount(det.joint, minlength=NUM_JOINTS),
        n_true_positives=np.bincount(det.joint, weights=det.label, minlength=NUM_JOINTS).astype(np.int64),
        n_frames=data.n_frames, videos=data.videos)


def evaluate_posetrack(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                       progress: bool = False) -> PoseTrackResult:
    """poseval's per-joint AP of the prediction files in pred_dir against the GT files in gt_dir."""
    return evaluate_data(load_eval_data(gt_dir, pred_dir, progress=progress))


def _cell(v: float) -> str:
    """One table cell: one decimal, 'nan' for NaN."""
    return "nan" if math.isnan(v) else f"{v:.1f}"


def format_table(result: PoseTrackResult, label: str = "AP", rows: tuple[str, ...] = ("ap",)) -> str:
    """The seed's markdown table: Head Shou Elb Wri Hip Knee Ankl Total, one decimal.

    rows: any of "ap", "precision", "recall"; with one row its label is `label`, with several
    each row is named and the header's first cell is empty.
    """
    titles = {"ap": "AP", "precision": "Precision", "recall": "Recall"}
    corner = label if len(rows) == 1 else ""
    lines = ["| " + " | ".join([corner, *SUMMARY_HEADER]) + " |",
             "|" + "---|" * (len(SUMMARY_HEADER) + 1)]
    for r in rows:
        name = label if len(rows) == 1 else titles[r]
        values = summarize(getattr(result, r))
        lines.append("| " + " | ".join([name, *(_cell(v) for v in values)]) + " |")
    return "\n".join(lines)

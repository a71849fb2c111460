"""One per-video PoseTrack18 file (ground truth or predictions), read the way poseval reads it.

poseval converts each PoseTrack18 file to its older PoseTrack17 layout before evaluating; what
survives that conversion, and so what the metric sees, is:

* Joints by name. ``categories`` must hold exactly one ``person`` entry whose ``keypoints`` list
  has 15 or 17 names and contains all 15 evaluated joints; each name is mapped to poseval's joint
  index (``JOINT_NAMES``: right_ankle .. left_wrist, then ``neck`` = PoseTrack18's head_bottom,
  nose, head_top). Other names (the ears) are dropped.
* Frames are the ``images`` list in file order. A frame's persons are the annotations whose
  ``image_id`` is that image's ``id``, in ``annotations`` order; an annotation naming no image is
  skipped.
* ``file_name`` must have the form ``images/<...>/<6 digits>_<mpii|bonn|mpiinew>[_...]/<frame>.<ext>``
  with frame < 10000: poseval derives an image id from it and fails otherwise. That id plays no
  part in the metric. All images of a file must belong to one video.
* A keypoint is absent only when its triplet is exactly (0, 0, 0); anything else is present, so a
  GT joint with coordinates and visibility 0 is annotated, and a predicted (0, 0, s) is a
  prediction at the origin. The third value is otherwise unused.
* A predicted joint's score is ``scores[k]`` for its index k in the file's keypoint list, not the
  triplet's third value and not the person ``score``. A person without ``scores`` (or with an
  empty list) gets ``MISSING_SCORE`` (-9999) on every joint.
* A GT person needs ``bbox_head`` [x, y, w, h]; its head size is 0.6 times the diagonal, computed
  as poseval does from the corners (x, y) and (x + w, y + h).
* Every person needs a numeric ``track_id`` below ``MAX_TRACK_ID`` (poseval offsets them by
  video); predicted track ids must be unique within a frame.
* Ignore regions come from the GT image's ``ignore_regions_x``/``_y``. A frame whose
  ``ignore_regions_x`` is a non-empty list is an ignore frame even if all its polygons are empty:
  poseval then still applies its region step to that frame, which drops persons left without
  keypoints.
* ``is_labeled``, ``nframes``, ``vid_id``, ``frame_id``, ``bbox``, ``iscrowd``,
  ``num_keypoints``, ``category_id`` and the person ``score`` do not matter.

Malformed input raises ``DataError`` naming the file and the record.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
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
NUM_JOINTS = 15
# PoseTrack18 keypoint name (as in categories[0].keypoints) -> poseval joint index.
_POSEVAL_INDEX: dict[str, int] = {
    "right_ankle": 0, "right_knee": 1, "right_hip": 2, "left_hip": 3, "left_knee": 4,
    "left_ankle": 5, "right_wrist": 6, "right_elbow": 7, "right_shoulder": 8,
    "left_shoulder": 9, "left_elbow": 10, "left_wrist": 11, "head_bottom": 12, "nose": 13,
    "head_top": 14,
}
MISSING_SCORE = -9999.0     # poseval's score for joints of a person without `scores`
MAX_TRACK_ID = 10000
# images/<...>/<6 digits>_<mpii|bonn|mpiinew>[_...]/<frame number>.<ext>, frame < 10000
_FILE_NAME_RE = re.compile(r"(?:^|/)(\d+)_(mpii|bonn|mpiinew)(?:_[^/]*)?/(\d+)\.[^/]*$")


@dataclass
class Persons:
    """Persons of one role (GT or prediction) as flat arrays, in frame then annotation order."""

    frame: np.ndarray            # (N,) int64 frame position (per video while reading, global later)
    xy: np.ndarray               # (N, 15, 2) float64 joint coordinates
    has: np.ndarray              # (N, 15) bool joint present (not exactly (0, 0, 0))
    score: np.ndarray            # (N, 15) float64 joint score (predictions), NaN for GT
    head: np.ndarray             # (N,) float64 head size (GT), NaN for predictions
    track: np.ndarray            # (N,) float64 track id

    def take(self, index: np.ndarray) -> Persons:
        """The persons selected by an index or mask array."""
        return Persons(self.frame[index], self.xy[index], self.has[index], self.score[index],
                       self.head[index], self.track[index])

    @staticmethod
    def concat(parts: list[Persons]) -> Persons:
        """Concatenate the persons of one or more videos."""
        return Persons(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("frame", "xy", "has", "score", "head", "track")))


@dataclass
class VideoFile:
    """One parsed per-video file."""

    path: Path
    n_frames: int
    file_names: list[str]
    persons: Persons
    gt_count: np.ndarray                     # (n_frames,) annotations per frame
    polygons: dict[int, list[np.ndarray]]    # frame -> ignore polygons (M, 2) (GT only)


def joint_table(path: Path, data: dict) -> tuple[int, np.ndarray]:
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


def read_video_file(path: str | os.PathLike, is_gt: bool) -> VideoFile:
    """Parse one PoseTrack18 per-video file (GT or predictions) the way poseval reads it."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object with 'images', 'annotations', 'categories'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise DataError(path, f"missing or non-list '{key}'")
    k, table = joint_table(path, data)
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
    persons = Persons(frame_arr, xy, has, score, head, track)
    return VideoFile(path, len(images), file_names, persons, gt_count, polygons)


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

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
  part in the metric. All images of a file must belong to one video (poseval would silently
  count them all as the first one's).
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
* Ignore regions come from the GT image's ``ignore_regions_x``/``_y`` (parsed by
  ``simplepose.data.cocostyle.parse_ignore_regions``). A frame whose ``ignore_regions_x`` is a
  non-empty list is an ignore frame even if all its polygons are empty: poseval then still
  applies its region step to that frame, which drops persons left without keypoints.
* ``is_labeled``, ``nframes``, ``vid_id``, ``frame_id``, ``bbox``, ``iscrowd``,
  ``num_keypoints``, ``category_id`` and the person ``score`` do not matter to poseval's metrics;
  keypoint HOTA (``hota``) evaluates the frames whose ``is_labeled`` is true (``VideoFile.labeled``).

PoseTrack21 files (anDoer/PoseTrack21) are read with two differences, as its evaluation kit reads
them: a file without ``categories`` (a PoseTrack21 submission) has its 17 keypoints in the
PoseTrack order (nose, head_bottom, head_top, the ears, then the COCO body joints); and in a GT
file whose images carry ``has_labeled_person`` (the PoseTrack21 layout), annotations of frames
whose ``is_labeled`` is false are dropped: PoseTrack21 boxes people in unlabelled frames (for
box tracking), which poseval's rule would otherwise evaluate as pose labels without keypoints.
``person_id`` (PoseTrack21's re-identification id) and ``image_id`` on images are not used.

Malformed input raises ``DataError`` naming the file and the record.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from simplepose.data.cocostyle import document_lists, parse_ignore_regions, stack_rows
from simplepose.data.keypoints import POSETRACK18
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
POSEVAL_INDEX: dict[str, int] = {
    "right_ankle": 0, "right_knee": 1, "right_hip": 2, "left_hip": 3, "left_knee": 4,
    "left_ankle": 5, "right_wrist": 6, "right_elbow": 7, "right_shoulder": 8,
    "left_shoulder": 9, "left_elbow": 10, "left_wrist": 11, "head_bottom": 12, "nose": 13,
    "head_top": 14,
}
MISSING_SCORE = -9999.0     # poseval's score for joints of a person without `scores`
MAX_TRACK_ID = 10000
MAX_PERSONS_PER_FRAME = 1000   # persons in one frame at most (matching a frame is quadratic in them)
# images/<...>/<6 digits>_<mpii|bonn|mpiinew>[_...]/<frame number>.<ext>, frame < 10000
_FILE_NAME_RE = re.compile(r"(?:^|/)(\d+)_(mpii|bonn|mpiinew)(?:_[^/\n]*)?/(\d+)\.[^/\n]*$", re.MULTILINE)


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
    persons_per_frame: np.ndarray            # (n_frames,) annotations of each frame
    polygons: dict[int, list[np.ndarray]]    # ignore frame -> its polygons (M, 2), maybe none (GT only)
    image_ids: list[Any] = field(default_factory=list)   # `images[i].id`, in file order
    labeled: np.ndarray | None = None        # (n_frames,) bool `is_labeled` (GT only), see _labelled_frames


def _joint_table(path: Path, data: dict) -> tuple[int, np.ndarray]:
    """Number of keypoints K per person and the (K,) poseval index of each (-1 = dropped)."""
    cats = data.get("categories")
    if cats is None:          # PoseTrack21 submissions: the PoseTrack order, as its kit assumes
        names = list(POSETRACK18.keypoint_names)
        return len(names), np.array([POSEVAL_INDEX.get(n, -1) for n in names], dtype=np.int64)
    if not isinstance(cats, list) or len(cats) != 1 or not isinstance(cats[0], dict):
        raise DataError(path, "expected exactly one entry in 'categories'")
    if cats[0].get("name") != "person":
        raise DataError(path, "categories[0].name must be 'person'")
    names = cats[0].get("keypoints")
    if not isinstance(names, list) or len(names) not in (15, 17):
        raise DataError(path, "categories[0].keypoints must list 15 or 17 keypoint names")
    table = np.array([POSEVAL_INDEX.get(n, -1) for n in names], dtype=np.int64)
    missing = sorted(set(POSEVAL_INDEX) - set(names))
    if missing:
        raise DataError(path, f"categories[0].keypoints lacks {missing}")
    return len(names), table


class _Records(Sequence):
    """The 'annotation id N' of each annotation, made only when an error message needs one."""

    def __init__(self, anns: list[dict], index: Sequence[int] | None = None) -> None:
        """Records of anns (or of anns[i] for i in index, named by their place in anns)."""
        self.anns, self.index = anns, index

    def __len__(self) -> int:
        """Number of records."""
        return len(self.anns) if self.index is None else len(self.index)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        """The record of the i-th annotation."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        j = i if self.index is None else int(self.index[i])
        return f"annotation id {self.anns[j].get('id', f'#{j}')}"


def _labelled_frames(images: list[dict], persons_per_frame: np.ndarray) -> np.ndarray:
    """(n_frames,) bool: each image's `is_labeled`; an image without the flag is labelled iff it has
    GT annotations (poseval's rule)."""
    flags = [im.get("is_labeled") for im in images]
    return np.array([bool(f) if f is not None else n > 0 for f, n in zip(flags, persons_per_frame.tolist())],
                    dtype=bool)


def _posetrack21_labelled(images: list[dict], anns: list[dict], frames: list[int]) -> tuple[list, list]:
    """A PoseTrack21 GT file boxes people in unlabelled frames too (for tracking boxes); only the
    annotations of frames whose `is_labeled` is true are pose labels."""
    flags = [bool(im.get("is_labeled")) for im in images]
    keep = [flags[f] for f in frames]
    return [a for a, k in zip(anns, keep) if k], [f for f, k in zip(frames, keep) if k]


def _frame_positions(path: Path, images: list) -> tuple[dict[Any, int], list[str]]:
    """Image id -> position in `images`, and the file names; checks poseval's file-name form."""
    try:                   # the common, valid case in bulk; anything odd goes through the checks below
        if set(map(type, images)) <= {dict}:
            ids, names = [im["id"] for im in images], [im["file_name"] for im in images]
            pos_of_id = dict(zip(ids, range(len(ids))))
            # one match per line at most: all names match iff there are as many matches as names
            found = _FILE_NAME_RE.findall("\n".join(names)) if set(map(type, names)) <= {str} else []
            if len(pos_of_id) == len(ids) == len(found):
                videos, _, frame_numbers = zip(*found) if found else ((), (), ())
                if len(set(map(int, videos))) <= 1 and max(map(int, frame_numbers), default=0) < 10000:
                    return pos_of_id, names
    except (KeyError, TypeError):
        pass
    return _checked_frame_positions(path, images)


def _checked_frame_positions(path: Path, images: list) -> tuple[dict[Any, int], list[str]]:
    """_frame_positions one image at a time, naming the first image that breaks a rule."""
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
    return pos_of_id, file_names


def _track_ids(path: Path, anns: list[dict], records: Sequence[str]) -> np.ndarray:
    """Track ids as float64 (N,); poseval requires them and requires < 10000."""
    tracks = [a.get("track_id") for a in anns]
    if set(map(type, tracks)) <= {int, float}:
        try:
            out = np.array(tracks, dtype=np.float64)
            if np.isfinite(out).all() and ((out >= 0) & (out < MAX_TRACK_ID) & (out == np.floor(out))).all():
                return out
        except OverflowError:
            pass
    out = np.empty(len(anns))
    for i, a in enumerate(anns):
        t = a.get("track_id")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise DataError(path, f"'track_id' must be a finite number, got {t!r}", record=records[i])
        if t < 0 or t != int(t):
            raise DataError(path, f"'track_id' must be a whole number >= 0, got {t!r}", record=records[i])
        if t >= MAX_TRACK_ID:
            raise DataError(path, f"track_id {t} must be < {MAX_TRACK_ID}", record=records[i])
        out[i] = t
    return out


def duplicate_in_frame(frame: np.ndarray, track: np.ndarray) -> tuple[int, float] | None:
    """(frame, track id) of the first track id used twice in one frame, or None (frame, track: (N,))."""
    if len(frame) < 2:
        return None
    order = np.lexsort((track, frame))
    f, t = frame[order], track[order]
    dup = np.flatnonzero((f[1:] == f[:-1]) & (t[1:] == t[:-1]))
    return (int(f[dup[0]]), float(t[dup[0]])) if len(dup) else None


def _check_unique_tracks(path: Path, frame: np.ndarray, track: np.ndarray, file_names: list[str]) -> None:
    """poseval refuses prediction files with a track id used twice in one frame."""
    found = duplicate_in_frame(frame, track)
    if found is not None:
        f, t = found
        raise DataError(path, f"track_id {t:g} used twice in one frame", record=f"image {f} ({file_names[f]})")


def _head_sizes(path: Path, anns: list[dict], records: Sequence[str]) -> np.ndarray:
    """Head size (N,) of GT persons from `bbox_head`, computed from the corners as poseval does."""
    missing = next((i for i, a in enumerate(anns) if "bbox_head" not in a), None)
    if missing is not None:
        raise DataError(path, "ground-truth annotation without 'bbox_head'", record=records[missing])
    hb = stack_rows([a["bbox_head"] for a in anns], 4, path, records, "bbox_head")
    dx = (hb[:, 0] + hb[:, 2]) - hb[:, 0]      # x2 - x1 with x2 = x + w: not always exactly w
    dy = (hb[:, 1] + hb[:, 3]) - hb[:, 1]
    return 0.6 * np.sqrt(dx * dx + dy * dy)


def _joint_scores(path: Path, anns: list[dict], records: Sequence[str], k: int,
                  table: np.ndarray) -> np.ndarray:
    """Predicted joint scores (N, 15) from `scores`; MISSING_SCORE for persons without any."""
    with_scores = np.array([bool(a.get("scores")) for a in anns], dtype=bool)   # missing, None, []
    chosen = np.flatnonzero(with_scores)
    sc = stack_rows([anns[i]["scores"] for i in chosen], k, path, _Records(anns, chosen), "scores")
    keep = table >= 0
    score = np.full((len(anns), NUM_JOINTS), MISSING_SCORE)
    _refuse_non_finite(path, sc, [records[i] for i in chosen], "scores")
    sc15 = np.full((len(chosen), NUM_JOINTS), np.nan)
    sc15[:, table[keep]] = sc[:, keep]
    score[with_scores] = sc15
    return score


def _refuse_non_finite(path: Path, rows: np.ndarray, records: list[str], what: str) -> None:
    """DataError naming the first row (N, ...) holding NaN or infinity (JSON's non-standard literals)."""
    bad = np.flatnonzero(~np.isfinite(rows).reshape(len(rows), -1).all(1)) if rows.size else []
    if len(bad):
        raise DataError(path, f"'{what}' hold NaN or infinity", record=records[bad[0]])


def _check_annotation_ids(path: Path, anns: list[dict], records: list[str]) -> None:
    """DataError on an annotation id given twice (annotations without an id are not compared)."""
    seen: set = set()
    for a, rec in zip(anns, records):
        key = a.get("id")
        if key is None or isinstance(key, (list, dict)):
            continue
        if key in seen:
            raise DataError(path, f"annotation id {key} appears twice", record=rec)
        seen.add(key)


def _check_frame_sizes(path: Path, frame: np.ndarray, n_images: int, file_names: list[str]) -> None:
    """DataError when a frame holds more than MAX_PERSONS_PER_FRAME persons."""
    counts = np.bincount(frame, minlength=n_images)
    if len(counts) and counts.max() > MAX_PERSONS_PER_FRAME:
        f = int(counts.argmax())
        raise DataError(path, f"{counts[f]} persons in one frame, over the limit of {MAX_PERSONS_PER_FRAME}",
                        record=f"image {f} ({file_names[f]})")


def _ignore_frames(path: Path, images: list[dict]) -> dict[int, list[np.ndarray]]:
    """Frame position -> ignore polygons, for every frame with a non-empty `ignore_regions_x`."""
    out: dict[int, list[np.ndarray]] = {}
    for i, im in enumerate(images):
        xs, ys = im.get("ignore_regions_x"), im.get("ignore_regions_y")
        if (xs is None and ys is None) or (xs == [] and ys == []):
            continue                                    # no regions (most frames): nothing to parse
        polygons = parse_ignore_regions(im, path, f"image {i} (id {im.get('id')})")
        if polygons or im.get("ignore_regions_x"):     # only empty polygons: still an ignore frame
            out[i] = polygons
    return out


def _annotation_frames(path: Path, annotations: list, pos_of_id: dict[Any, int]) -> tuple[list[dict], list[int]]:
    """The annotations that name an image, and the position of that image; the others are ignored
    (poseval)."""
    if not set(map(type, annotations)) <= {dict}:
        raise DataError(path, "every annotation must be an object")
    try:
        frames = [pos_of_id.get(a.get("image_id")) for a in annotations]
    except TypeError:            # an unhashable image_id names no image
        frames = [pos_of_id.get(i) if isinstance(i, (int, float, str)) else None
                  for i in (a.get("image_id") for a in annotations)]
    if None not in frames:
        return annotations, frames
    keep = [f is not None for f in frames]
    return [a for a, k in zip(annotations, keep) if k], [f for f in frames if f is not None]


def read_video_file(path: str | os.PathLike, is_gt: bool) -> VideoFile:
    """Parse one PoseTrack18 per-video file (GT or predictions) the way poseval reads it."""
    path = Path(path)
    data = read_json(path)
    images, annotations = document_lists(data, path)
    k, table = _joint_table(path, data)
    pos_of_id, file_names = _frame_positions(path, images)

    anns, frames = _annotation_frames(path, annotations, pos_of_id)
    if is_gt and any("has_labeled_person" in im for im in images):
        anns, frames = _posetrack21_labelled(images, anns, frames)
    records = _Records(anns)
    n = len(anns)
    _check_frame_sizes(path, np.asarray(frames, dtype=np.int64), len(images), file_names)
    _check_annotation_ids(path, anns, records)
    missing = next((i for i, a in enumerate(anns) if "keypoints" not in a), None)
    if missing is not None:
        raise DataError(path, "annotation without 'keypoints'", record=records[missing])
    kp = stack_rows([a["keypoints"] for a in anns], 3 * k, path, records, "keypoints").reshape(n, k, 3)
    _refuse_non_finite(path, kp, records, "keypoints")
    source = np.empty(NUM_JOINTS, np.int64)                 # poseval joint -> its column in the file
    source[table[table >= 0]] = np.flatnonzero(table >= 0)
    kp = kp[:, source]                                      # (N, 15, 3) in poseval's joint order
    has = (kp != 0).any(axis=2)
    xy = kp[:, :, :2]
    track = _track_ids(path, anns, records)
    frame = np.asarray(frames, dtype=np.int64)
    if is_gt:
        score = np.full((n, NUM_JOINTS), np.nan)
        head = _head_sizes(path, anns, records)
        polygons = _ignore_frames(path, images)
    else:
        score = _joint_scores(path, anns, records, k, table)
        head = np.full(n, np.nan)
        polygons = {}
        _check_unique_tracks(path, frame, track, file_names)
    persons = Persons(frame, xy, has, score, head, track)
    per_frame = np.bincount(frame, minlength=len(images))
    labeled = _labelled_frames(images, per_frame) if is_gt else None
    return VideoFile(path, len(images), file_names, persons, per_frame, polygons, list(pos_of_id), labeled)

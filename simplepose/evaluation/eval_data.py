"""A ground-truth folder and its prediction folder, loaded into poseval's evaluated frames.

What poseval's ``load_data_dir`` keeps, in this order:

1. Every ``*.json`` file of the GT folder is one video (taken here in sorted name order; poseval
   uses ``glob``'s order, which only matters for AP under score ties). A prediction file of the
   same name must exist. GT and prediction frames are paired by ``file_name`` (then by image
   ``id`` for GT frames whose name the predictions lack), where poseval pairs them by position
   in ``images`` and silently misreads a reordered prediction file. Both agree when the files list
   the same frames in the same order (as every prediction file written by simplepose does). A GT
   frame with people but no paired prediction frame counts as predicted empty, and prediction
   frames with people but no GT frame are dropped; both are logged as warnings.
2. A frame is evaluated iff it has at least one GT annotation, whatever ``is_labeled`` says and
   even if that person has no keypoint; other frames are dropped together with their
   predictions. Persons without keypoints (GT or predicted) are kept at this stage.
3. Ignore regions are applied to the evaluated frames that have them
   (``simplepose.evaluation.polygons``).

The result holds all evaluated frames of all videos as one global frame index, videos in file
order and frames in file order within a video, with the persons of each frame in annotation
order.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from itertools import compress
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simplepose.errors import DataError
from simplepose.evaluation.poseval_files import Persons, VideoFile, read_video_file
from simplepose.evaluation.polygons import apply_ignore_regions

log = logging.getLogger(__name__)


@dataclass
class VideoSource:
    """One video as read: its GT file and its predictions paired to GT frame positions, before any
    frame selection (keypoint HOTA selects frames by its own rule)."""

    gt: VideoFile
    pred: Persons


@dataclass
class EvalData:
    """Evaluated frames of all videos: GT and predicted persons after poseval's cleanup."""

    gt: Persons
    pred: Persons
    n_frames: int                    # evaluated frames (frames with at least one GT annotation)
    video_of_frame: np.ndarray       # (n_frames,) index into `videos`
    videos: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)   # (n_frames,) GT image file_name of each frame
    sources: list[VideoSource] = field(default_factory=list)   # per video, as read
    # (n_frames,) int64 each frame's position in its GT file's `images` (its frame number in the video)
    frame_position: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


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


def pair_frames(gt: VideoFile, pred: VideoFile) -> np.ndarray:
    """(gt.n_frames,) int64: the prediction frame paired with each GT frame by file name, else by
    image id, -1 where none pairs; each prediction frame pairs at most once."""
    def key(name: str) -> str:
        return name.replace("\\", "/")

    if pred.file_names == gt.file_names and len(set(gt.file_names)) == gt.n_frames:
        return np.arange(gt.n_frames, dtype=np.int64)          # the usual case: the same frames in order
    by_name: dict[str, int] = {}
    for j, name in enumerate(pred.file_names):
        if by_name.setdefault(key(name), j) != j:
            raise DataError(pred.path, f"file_name {name!r} appears twice in 'images'", record=f"image {j}")
    by_id = {image_id: j for j, image_id in enumerate(pred.image_ids)}
    gt_names = {key(n) for n in gt.file_names}
    pair = np.full(gt.n_frames, -1, dtype=np.int64)
    used = np.zeros(pred.n_frames, dtype=bool)
    for i, name in enumerate(gt.file_names):
        j = by_name.get(key(name))
        if j is None and i < len(gt.image_ids):
            j = by_id.get(gt.image_ids[i])
            if j is not None and key(pred.file_names[j]) in gt_names:
                j = None                     # that prediction frame is another GT frame's by name
        if j is not None and not used[j]:
            pair[i] = j
            used[j] = True
    return pair


def _paired_predictions(g: VideoFile, p: VideoFile) -> Persons:
    """The prediction persons with their frame renumbered to the paired GT frame; the unpaired
    are dropped, and what did not pair is logged."""
    pair = pair_frames(g, p)
    gt_of_pred = np.full(p.n_frames, -1, dtype=np.int64)
    gt_of_pred[pair[pair >= 0]] = np.flatnonzero(pair >= 0)
    lost_gt = np.flatnonzero((pair < 0) & (g.persons_per_frame > 0))
    if len(lost_gt):
        log.warning("%s: %d ground-truth frame(s) with people have no prediction frame of the same file_name "
                    "or id (first: %s); they count as predicted empty", p.path, len(lost_gt),
                    g.file_names[lost_gt[0]])
    lost_pred = np.flatnonzero((gt_of_pred < 0) & (p.persons_per_frame > 0))
    if len(lost_pred):
        log.warning("%s: %d prediction frame(s) with people pair with no ground-truth frame of %s (first: %s); "
                    "their predictions are ignored", p.path, len(lost_pred), g.path, p.file_names[lost_pred[0]])
    if not (pair >= 0).any() and g.n_frames:
        raise DataError(p.path, f"no frame pairs with the ground truth {g.path} by file_name or id "
                                f"(e.g. {g.file_names[0]!r} vs {p.file_names[0] if p.file_names else None!r})")
    pp = p.persons.take(gt_of_pred[p.persons.frame] >= 0)
    pp.frame = gt_of_pred[pp.frame]
    return pp


def _frame_ordered(persons: Persons) -> Persons:
    """The persons sorted by frame, stable (most files list them in frame order already)."""
    if len(persons.frame) < 2 or (persons.frame[1:] >= persons.frame[:-1]).all():
        return persons
    return persons.take(np.argsort(persons.frame, kind="stable"))


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
    files_iter = tqdm(files, desc="reading", unit="video") if progress else files
    gt_parts, pr_parts, video_of_frame, names, file_names, positions = [], [], [], [], [], []
    poly_list, poly_frame, ignore_frame_list, sources = [], [], [], []
    offset = 0
    for vi, gt_path in enumerate(files_iter):
        pred_path = pred_dir / gt_path.name
        if not pred_path.is_file():
            raise DataError(pred_path, f"prediction file for ground truth {gt_path.name} not found")
        g = read_video_file(gt_path, is_gt=True)
        p = read_video_file(pred_path, is_gt=False)
        kept = g.persons_per_frame > 0                         # frames with GT annotations
        new_index = np.cumsum(kept) - 1 + offset               # frame -> global evaluated frame
        pp = _paired_predictions(g, p)
        sources.append(VideoSource(g, pp))
        gp = replace(g.persons, frame=new_index[g.persons.frame])   # every GT person's frame is kept
        in_kept = kept[pp.frame]
        pp = replace(pp, frame=new_index[pp.frame]) if in_kept.all() else pp.take(in_kept)
        if not in_kept.all():
            pp.frame = new_index[pp.frame]
        gt_parts.append(gp)
        pr_parts.append(pp)
        for f, polys in g.polygons.items():
            if kept[f]:
                ignore_frame_list.append(new_index[f])
                for poly in polys:
                    poly_list.append(poly)
                    poly_frame.append(new_index[f])
        n_kept = int(kept.sum())
        video_of_frame.append(np.full(n_kept, vi))
        names.append(gt_path.stem)
        file_names.extend(compress(g.file_names, kept))
        positions.append(np.flatnonzero(kept))
        offset += n_kept
    gt = Persons.concat(gt_parts)
    pred = Persons.concat(pr_parts)
    # persons in frame order, keeping annotation order within a frame
    gt, pred = _frame_ordered(gt), _frame_ordered(pred)
    if ignore_frame_list:
        ignore_frames = np.zeros(offset, bool)
        ignore_frames[ignore_frame_list] = True
        poly_frame_arr = np.asarray(poly_frame, dtype=np.int64)
        gt = apply_ignore_regions(gt, poly_list, poly_frame_arr, ignore_frames)
        pred = apply_ignore_regions(pred, poly_list, poly_frame_arr, ignore_frames)
    return EvalData(gt, pred, offset, np.concatenate(video_of_frame), names, file_names, sources,
                    np.concatenate(positions).astype(np.int64))

"""PoseTrack18 readers: the official per-video folder and MMPose's merged single file.

Two on-disk forms hold the same annotations:

* per-video folder ``annotations/val/<seq>.json`` (as distributed; what poseval reads), read in
  sorted file-name order, the sequence name being the file stem;
* merged file ``annotations/posetrack18_{train,val}.json`` (what MMPose trains and tests on), read in
  file order, the sequence name being the folder of each frame (``images/val/<seq>/000000.jpg``).

Both give the same PersonInstances (per frame: same values, same annotation order; only the order
of the sequences may differ, as each file orders them). Instance semantics (dropping, clipping,
visibility) are MMPose's, see ``simplepose.data.cocostyle``.

Image sizes: MMPose clips ground-truth boxes with the ``width``/``height`` of the image record. The
merged files have them; the official per-video files do not. When a record lacks them and
``probe_sizes`` is on, the size is read from the image file's header (JPEG/PNG, a few hundred
bytes); if the file is absent the size stays None and the box is not clipped.

``load_posetrack_videos`` gives, per sequence, the raw frame records in file order (a
``PoseTrackVideo``), so prediction writers can emit files whose ``images`` list matches the
ground truth frame by frame, which is how poseval pairs them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from simplepose.data.cocostyle import (ImageInfo, PathLike, check_image_files, document_lists,
                                       parse_annotations, parse_images)
from simplepose.data.image import probe_image_size
from simplepose.data.instances import PersonInstance
from simplepose.errors import DataError
from simplepose.io import read_json

@dataclass(frozen=True)
class PoseTrackVideo:
    """One PoseTrack sequence as its ground-truth file holds it.

    name: sequence name, e.g. "003418_mpii_test" (per-video form: the json file stem).
    images: the raw image (frame) records in file order, as parsed from JSON: id, file_name,
        is_labeled, frame_id, vid_id, nframes, ignore_regions_x/_y, width/height when present.
    categories: the raw `categories` list of the file (keypoint names, skeleton).
    path: the json file the records came from.
    """

    name: str
    images: list[dict]
    categories: list[dict]
    path: str | None = None


def read_image_size(path: PathLike) -> tuple[int, int] | None:
    """(width, height) from a JPEG or PNG header without decoding; None if absent or unknown."""
    try:
        return probe_image_size(path)
    except DataError:
        return None


def _annotation_files(path: Path) -> list[Path]:
    """Sorted per-video json files of a folder (DataError if there are none)."""
    files = sorted(p for p in path.glob("*.json") if p.is_file())
    if not files:
        raise DataError(path, "no per-video annotation files (*.json) in this folder")
    return files


def _sources(path: PathLike) -> list[tuple[Path, str | None]]:
    """(json file, sequence name or None) pairs for a per-video folder or a merged file."""
    p = Path(path)
    if p.is_dir():
        return [(f, f.stem) for f in _annotation_files(p)]
    if not p.exists():
        raise DataError(p, "annotation path not found (expected a merged .json or a per-video folder)")
    return [(p, None)]


def _probe_sizes(images: list[ImageInfo], annotations: list) -> list[ImageInfo]:
    """Fill missing sizes of the annotated frames from the image files' headers."""
    annotated = {a.get("image_id") for a in annotations if isinstance(a, dict)}
    return [im if im.image_size is not None or im.image_id not in annotated else
            dataclasses.replace(im, image_size=read_image_size(im.image_path)) for im in images]


def _progress(items: list, desc: str):
    """A tqdm bar for long per-file loops (silent for a handful of files)."""
    return tqdm(items, desc=desc, unit="file", disable=len(items) < 20, leave=False)


def load_posetrack(path: PathLike, data_root: PathLike, drop_invalid: bool = True, *, check_images: bool = False,
                   probe_sizes: bool = True, num_keypoints: int = 17,
                   keypoints_required: bool = True) -> list[PersonInstance]:
    """PoseTrack18 or PoseTrack21 ground truth (per-video folder or merged file) -> PersonInstances.

    image_path = data_root / file_name. drop_invalid applies MMPose's dropping (crowd,
    num_keypoints == 0, zero box after clipping, all keypoints <= 0), also for testing, as MMPose
    does; keypoints_required=False keeps persons with a box and no keypoint (PoseTrack21's boxes on
    frames without pose labels). check_images raises a DataError for the first frame with persons
    but no image file.
    """
    out: list[PersonInstance] = []
    for file, name in _progress(_sources(path), "reading PoseTrack18"):
        images_raw, annotations = document_lists(read_json(file), file)
        images = parse_images(images_raw, file, data_root, video_name=name, videos=True)
        if probe_sizes:
            images = _probe_sizes(images, annotations)
        instances = parse_annotations(annotations, images, file, num_keypoints, drop_invalid, keypoints_required)
        if check_images:
            check_image_files(instances, images, file)
        out.extend(instances)
    return out


def load_posetrack_boxes(path: PathLike, data_root: PathLike) -> list[PersonInstance]:
    """Every person box of PoseTrack ground truth, with or without keypoints (crowds and boxes of zero
    area after clipping left out): the boxes a tracker takes when it is given no detections."""
    return load_posetrack(path, data_root, keypoints_required=False)


def load_posetrack_videos(path: PathLike) -> list[PoseTrackVideo]:
    """Per sequence, the raw ground-truth frame records in file order (per-video folder or merged file).

    Records are validated (object with integer `id` and a `file_name`). For a merged file, frames
    are grouped by their sequence folder, sequences in order of first appearance.
    """
    videos: list[PoseTrackVideo] = []
    for file, name in _progress(_sources(path), "reading PoseTrack18 videos"):
        doc = read_json(file)
        images_raw, _ = document_lists(doc, file, need_annotations=False)
        infos = parse_images(images_raw, file, ".", video_name=name, videos=True)
        categories = doc.get("categories", [])
        if not isinstance(categories, list):
            raise DataError(file, "top-level field 'categories' must be a list")
        if name is not None:
            videos.append(PoseTrackVideo(name=name, images=list(images_raw), categories=categories, path=str(file)))
            continue
        groups: dict[str, list[dict]] = {}
        for info, raw in zip(infos, images_raw):
            if info.video_id is None:
                raise DataError(file, f"cannot tell the sequence of frame '{info.file_name}' "
                                      "(expected images/<split>/<sequence>/<frame>.jpg)",
                                record=f"images[{info.index}] (id {info.image_id})")
            groups.setdefault(info.video_id, []).append(raw)
        videos.extend(PoseTrackVideo(name=v, images=imgs, categories=categories, path=str(file))
                      for v, imgs in groups.items())
    return videos


def video_image_records(videos: Sequence[PoseTrackVideo], data_root: PathLike) -> dict[int, ImageInfo]:
    """Image id -> ImageInfo for the frames of PoseTrackVideos (paths = data_root / file_name)."""
    index: dict[int, ImageInfo] = {}
    for video in videos:
        path = video.path or video.name
        for info in parse_images(video.images, path, data_root, video_name=video.name, videos=True):
            if info.image_id in index:
                raise DataError(path, f"image id {info.image_id} also occurs in another sequence",
                                record=f"images[{info.index}]")
            index[info.image_id] = info
    return index


def load_posetrack_image_records(path: PathLike, data_root: PathLike) -> dict[int, ImageInfo]:
    """Image id -> ImageInfo of a PoseTrack18 per-video folder or merged file."""
    return video_image_records(load_posetrack_videos(path), data_root)


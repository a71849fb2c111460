"""Any supported annotation source, recognised by its content: a COCO keypoints file, a merged
PoseTrack18 file or a PoseTrack18 per-video folder.

A merged PoseTrack18 file is told from a COCO file by its image records (``vid_id``/``frame_id``);
a folder is always the PoseTrack18 per-video form.
"""
from __future__ import annotations

from pathlib import Path

from simplepose.data.coco import load_coco_keypoints
from simplepose.data.cocostyle import ImageInfo, PathLike, document_lists, parse_images
from simplepose.data.instances import PersonInstance
from simplepose.data.posetrack import load_posetrack, load_posetrack_image_records
from simplepose.io import read_json


def _is_video_record(image: object) -> bool:
    """True for a PoseTrack frame record (it names its video or frame)."""
    return isinstance(image, dict) and ("vid_id" in image or "frame_id" in image)


def load_image_records(path: PathLike, image_root: PathLike) -> dict[int, ImageInfo]:
    """Image id -> ImageInfo from a COCO/merged PoseTrack file or a PoseTrack per-video folder."""
    if Path(path).is_dir():
        return load_posetrack_image_records(path, image_root)
    images_raw, _ = document_lists(read_json(path), path, need_annotations=False)
    is_video = any(_is_video_record(im) for im in images_raw[:1])
    return {im.image_id: im for im in parse_images(images_raw, path, image_root, videos=is_video)}


def load_annotated_persons(path: PathLike, image_root: PathLike,
                           probe_sizes: bool = True) -> list[PersonInstance]:
    """The ground-truth persons of a COCO or PoseTrack18 file or folder, as MMPose's dataset reads them."""
    if Path(path).is_dir():
        return load_posetrack(path, image_root, probe_sizes=probe_sizes)
    images_raw, _ = document_lists(read_json(path), path, need_annotations=False)
    if any(_is_video_record(im) for im in images_raw[:1]):
        return load_posetrack(path, image_root, probe_sizes=probe_sizes)
    return load_coco_keypoints(path, image_root)

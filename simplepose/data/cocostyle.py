"""COCO-style annotation primitives shared by every reader (COCO keypoints, PoseTrack18, detections)
and by the PoseTrack evaluator.

Semantics follow MMPose 1.3.2's ``BaseCocoStyleDataset`` (``parse_data_info`` and
``_is_valid_instance``):

* Order: images in file order, then each image's annotations in file order.
* Ground-truth boxes are kept raw in ``PersonInstance.bbox_xywh``; the image's ``width``/``height``
  become ``image_size`` so ``PersonInstance.reference_box()`` clips like MMPose.
* ``keypoints[:, 2]`` holds MMPose's ``keypoints_visible = min(1, v)``.
* With ``drop_invalid=True`` (MMPose's behaviour, in training *and* test mode) an annotation is
  dropped if it is a crowd, has ``num_keypoints == 0`` (counted from the coordinates when the
  field is absent), has a zero width or height after clipping (a logged warning), or has all
  keypoint coordinates ``<= 0``. Annotations without ``bbox`` or ``keypoints`` are skipped as
  MMPose skips them (logged).
* Ignore regions (PoseTrack's ``ignore_regions_x``/``_y``) follow poseval, which builds a shapely
  polygon of each: an empty polygon is no region, a polygon of 1 or 2 points is refused (shapely
  cannot build it), coordinates must be finite numbers.

Bad input (malformed JSON, missing fields, wrong keypoint counts, negative or malformed boxes,
NaN/null numbers, missing image files when checked) raises ``DataError`` naming the file, the
record and the problem.
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from simplepose.data.geometry import clip_xyxy
from simplepose.data.instances import PersonInstance
from simplepose.errors import DataError

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


@dataclass(frozen=True)
class ImageInfo:
    """One image record of a COCO-style file, validated and with its resolved path."""

    image_id: int
    file_name: str
    image_path: str                             # image_root / file_name
    index: int                                  # position in the file's `images` list
    image_size: tuple[int, int] | None = None   # (width, height) if the record has them
    video_id: str | None = None                 # PoseTrack sequence name; None for COCO
    frame_index: int = 0
    is_labeled: bool = True
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, each (M, 2) f64


# ----------------------------------------------------------------------------- small validators

def int_field(rec: Mapping, key: str, path: PathLike, where: str) -> int:
    """rec[key] as an int, or a DataError naming the record."""
    if key not in rec:
        raise DataError(path, f"missing field '{key}'", record=where)
    value = rec[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or float(value) != int(value):
        raise DataError(path, f"field '{key}' must be an integer, got {value!r}", record=where)
    return int(value)


def flag_field(rec: Mapping, key: str, default: bool, path: PathLike, where: str) -> bool:
    """rec[key] as a flag: true/false or 0/1 (a string such as "false" would read as true)."""
    value = rec.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise DataError(path, f"field '{key}' must be true, false, 0 or 1, got {value!r}", record=where)


def frame_number(stem: str) -> int | None:
    """The number a file stem spells in ASCII digits ("000123" -> 123), else None.

    str.isdigit() also accepts superscripts and other scripts' digits, some of which int() refuses.
    """
    return int(stem) if stem.isascii() and stem.isdigit() and len(stem) <= 18 else None


def document_lists(doc: Any, path: PathLike, need_annotations: bool = True) -> tuple[list, list]:
    """Check a COCO-style top level and return its (images, annotations) lists."""
    if not isinstance(doc, dict):
        raise DataError(path, f"expected a JSON object with 'images' and 'annotations', got {type(doc).__name__}")
    keys = ("images", "annotations") if need_annotations else ("images",)
    for key in keys:
        if key not in doc:
            raise DataError(path, f"missing top-level field '{key}'")
        if not isinstance(doc[key], list):
            raise DataError(path, f"top-level field '{key}' must be a list, got {type(doc[key]).__name__}")
    return doc["images"], doc.get("annotations", [])


def parse_ignore_regions(img: Mapping, path: PathLike, where: str) -> list[np.ndarray]:
    """PoseTrack's ignore_regions_x/_y lists -> polygons, each (M, 2) float64, M >= 3 (poseval's rule)."""
    xs, ys = img.get("ignore_regions_x"), img.get("ignore_regions_y")
    if xs is None and ys is None:
        return []
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise DataError(path, "ignore_regions_x and ignore_regions_y must be lists of equal length", record=where)
    polygons = []
    for j, (px, py) in enumerate(zip(xs, ys)):
        if not isinstance(px, list) or not isinstance(py, list) or len(px) != len(py):
            raise DataError(path, f"ignore region {j}: x and y lists differ in length or are not lists",
                            record=where)
        if not px:
            continue
        if len(px) < 3:
            raise DataError(path, f"ignore region {j} has {len(px)} points (a polygon needs at least 3)",
                            record=where)
        try:
            poly = np.stack([np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)], axis=1)
        except (TypeError, ValueError):
            raise DataError(path, f"ignore region {j}: coordinates must be numbers", record=where) from None
        if not np.isfinite(poly).all():
            raise DataError(path, f"ignore region {j}: NaN, null or infinite coordinate", record=where)
        polygons.append(poly)
    return polygons


def parse_image_size(img: Mapping, path: PathLike, where: str) -> tuple[int, int] | None:
    """(width, height) from the record, None if it has neither."""
    has_w, has_h = "width" in img, "height" in img
    if not has_w and not has_h:
        return None
    if has_w != has_h:
        raise DataError(path, "has only one of 'width' and 'height'", record=where)
    w, h = int_field(img, "width", path, where), int_field(img, "height", path, where)
    if w <= 0 or h <= 0:
        raise DataError(path, f"image size must be positive, got width {w} height {h}", record=where)
    return w, h


MAX_PATH_CHARS = 4096   # Linux PATH_MAX: no longer name can be opened


def checked_file_name(name: Any, path: PathLike, where: str) -> str:
    """A record's file_name, refused (DataError) when no file can have it: empty, a NUL character, a
    lone surrogate that is no escaped byte, or longer than MAX_PATH_CHARS."""
    if not isinstance(name, str) or not name:
        raise DataError(path, "missing or empty field 'file_name'", record=where)
    if len(name) > MAX_PATH_CHARS:
        raise DataError(path, f"file_name {name[:24]!r}... is {len(name)} characters long, over {MAX_PATH_CHARS}",
                        record=where)
    if "\0" in name:
        raise DataError(path, f"file_name {name!r} holds a NUL character", record=where)
    try:
        # surrogateescape: \udc80-\udcff stand for the bytes of a name that is not UTF-8 (os.fsencode
        # gives the file its bytes back); any other lone surrogate names no file
        name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise DataError(path, f"file_name {name!r} holds a lone surrogate (not text)", record=where) from None
    return name


def parse_images(images: list, path: PathLike, image_root: PathLike, video_name: str | None = None,
                 videos: bool = False) -> list[ImageInfo]:
    """Validate an `images` list and resolve paths; with `videos`, derive sequence and frame.

    The sequence name is `video_name` if given, else the folder holding the frame
    (images/val/<seq>/000000.jpg). The frame index is the file stem when it is a number, else the
    frame's position within its sequence.
    """
    root = Path(image_root)
    out: list[ImageInfo] = []
    seen: dict[int, int] = {}
    per_video_count: dict[str | None, int] = {}
    for i, img in enumerate(images):
        where = f"images[{i}]"
        if not isinstance(img, dict):
            raise DataError(path, f"image record must be an object, got {type(img).__name__}", record=where)
        image_id = int_field(img, "id", path, where)
        where = f"images[{i}] (id {image_id})"
        if image_id in seen:
            raise DataError(path, f"duplicate image id {image_id} (also images[{seen[image_id]}])", record=where)
        seen[image_id] = i
        file_name = checked_file_name(img.get("file_name"), path, where)
        video_id, frame_index = None, 0
        if videos:
            rel = PurePosixPath(file_name.replace("\\", "/"))
            video_id = video_name if video_name is not None else (rel.parent.name or None)
            position = per_video_count.get(video_id, 0)
            per_video_count[video_id] = position + 1
            number = frame_number(rel.stem)
            frame_index = position if number is None else number
        is_labeled = flag_field(img, "is_labeled", True, path, where)
        out.append(ImageInfo(
            image_id=image_id, file_name=file_name, image_path=str(root / file_name), index=i,
            image_size=parse_image_size(img, path, where), video_id=video_id, frame_index=frame_index,
            is_labeled=is_labeled, ignore_regions=parse_ignore_regions(img, path, where)))
    return out


# ------------------------------------------------------------------------------ annotations

def stack_rows(rows: list, width: int | None, path: PathLike, records: list[str], what: str) -> np.ndarray:
    """Stack equal-length number lists into (N, width) float64, naming the first bad row."""
    if not rows:
        return np.zeros((0, width or 0), dtype=np.float64)
    try:
        # no dtype first: numpy would turn "12.5" into 12.5; strings give a 'U' array, null an object one
        arr = np.asarray(rows)
        if arr.dtype.kind in "fiuO" and arr.ndim == 2 and (width is None or arr.shape[1] == width):
            if arr.dtype.kind != "O" or not any(isinstance(v, (str, bool)) for v in arr.ravel()):
                return arr.astype(np.float64)
    except (TypeError, ValueError):
        pass
    for row, rec in zip(rows, records):       # slow path: find and name the culprit
        if not isinstance(row, (list, tuple)):
            raise DataError(path, f"'{what}' must be a list of numbers, got {type(row).__name__}", record=rec)
        text = next((v for v in row if isinstance(v, (str, bool))), None)
        if text is not None:
            raise DataError(path, f"'{what}' holds {text!r}, which is not a number", record=rec)
        if width is not None and len(row) != width:
            hint = " (not a multiple of 3)" if what == "keypoints" and len(row) % 3 else ""
            expected = f"{width} ({width // 3} x,y,v triples)" if what == "keypoints" else str(width)
            raise DataError(path, f"'{what}' has {len(row)} values{hint}, expected {expected}", record=rec)
        try:
            np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(path, f"'{what}' holds a value that is not a number", record=rec) from None
    raise DataError(path, f"'{what}' lists differ in length", record=records[0])


def first_bad(mask: np.ndarray) -> int | None:
    """Index of the first True in a (N,) mask, or None."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _annotation_order(annotations: list, images: list[ImageInfo], path: PathLike) -> list[tuple[int, ImageInfo]]:
    """(annotation index, its image) of every annotation with a box and keypoints, in MMPose's order:
    images in file order, then each image's annotations in file order."""
    by_image: dict[int, list[int]] = {im.image_id: [] for im in images}
    first_of_id: dict[int, int] = {}
    for j, ann in enumerate(annotations):
        where = f"annotations[{j}]"
        if not isinstance(ann, dict):
            raise DataError(path, f"annotation must be an object, got {type(ann).__name__}", record=where)
        ann_id = int_field(ann, "id", path, where)
        if ann_id in first_of_id:
            raise DataError(path, f"annotation id {ann_id} appears twice (also annotations[{first_of_id[ann_id]}])",
                            record=where)
        first_of_id[ann_id] = j
        image_id = int_field(ann, "image_id", path, f"annotation id {ann_id}")
        if image_id not in by_image:
            raise DataError(path, f"image_id {image_id} is not in 'images'", record=f"annotation id {ann_id}")
        by_image[image_id].append(j)
    order: list[tuple[int, ImageInfo]] = []
    skipped_fields = []
    for im in images:
        for j in by_image[im.image_id]:
            ann = annotations[j]
            if "bbox" not in ann or "keypoints" not in ann:
                skipped_fields.append(ann["id"])
                continue
            order.append((j, im))
    if skipped_fields:
        logger.info("%s: skipped %d annotation(s) without 'bbox' or 'keypoints' (as MMPose does), "
                    "first: annotation id %s", path, len(skipped_fields), skipped_fields[0])
    return order


def _box_and_keypoint_arrays(anns: list[dict], records: list[str], path: PathLike,
                             num_keypoints: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated boxes (N, 4) float64 xywh and keypoints (N, K, 3) float32 with visibility min(1, v)."""
    boxes = stack_rows([a["bbox"] for a in anns], 4, path, records, "bbox")                  # (N, 4)
    kps = stack_rows([a["keypoints"] for a in anns], 3 * num_keypoints, path, records, "keypoints")  # (N, 3K)
    bad = first_bad(~np.isfinite(boxes).all(axis=1))
    if bad is not None:
        raise DataError(path, f"'bbox' holds NaN, null or infinity: {anns[bad]['bbox']}", record=records[bad])
    bad = first_bad(~np.isfinite(kps).all(axis=1))
    if bad is not None:
        raise DataError(path, "'keypoints' hold NaN, null or infinity", record=records[bad])
    bad = first_bad((boxes[:, 2:] < 0).any(axis=1))
    if bad is not None:
        raise DataError(path, f"negative box width or height: bbox {anns[bad]['bbox']}", record=records[bad])
    kps32 = kps.astype(np.float32).reshape(len(anns), num_keypoints, 3)                        # (N, K, 3)
    kps32[..., 2] = np.minimum(1, kps32[..., 2])
    return boxes, kps32


def _invalid_reasons(anns: list[dict], records: list[str], boxes: np.ndarray, kps32: np.ndarray,
                     images: list[ImageInfo], path: PathLike, keypoints_required: bool) -> list[tuple[str, np.ndarray]]:
    """MMPose's `_is_valid_instance` rules, vectorised: (reason, (N,) bool mask of the annotations it drops);
    without keypoints_required, the two rules on keypoints are left out (a person box is valid alone)."""
    # MMPose's clipped box in float32 (image size unknown: no clipping), for the zero-box rule.
    xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)                # (N, 4) f64
    sizes = np.array([im.image_size if im.image_size else (np.inf, np.inf) for im in images],
                     dtype=np.float64)                                                          # (N, 2)
    xyxy32 = clip_xyxy(xyxy, sizes)
    zero_box = ((xyxy32[:, 2:] - xyxy32[:, :2]) <= 0).any(axis=1)
    n_kp = np.array([int_field(a, "num_keypoints", path, rec) if "num_keypoints" in a else -1
                     for a, rec in zip(anns, records)], dtype=np.int64)
    counted = np.count_nonzero(kps32[..., :2].max(axis=2), axis=1)
    n_kp = np.where(n_kp < 0, counted, n_kp)
    crowd = np.array([flag_field(a, "iscrowd", False, path, rec) for a, rec in zip(anns, records)], dtype=bool)
    kp_nonpositive = kps32[..., :2].reshape(len(anns), -1).max(axis=1) <= 0
    reasons = [("crowd", crowd), ("zero-area box after clipping", zero_box)]
    if keypoints_required:
        reasons[1:1] = [("num_keypoints == 0", n_kp == 0)]
        reasons.append(("all keypoint coordinates <= 0", kp_nonpositive))
    return reasons


def _keep_mask(reasons: list[tuple[str, np.ndarray]], records: list[str], path: PathLike) -> np.ndarray:
    """(N,) bool: the annotations no reason drops; each reason's drops logged (zero boxes as a warning)."""
    keep = np.ones(len(records), dtype=bool)
    for name, mask in reasons:
        dropped = keep & mask
        if dropped.any():
            first = records[int(np.flatnonzero(dropped)[0])]
            level = logging.WARNING if name.startswith("zero") else logging.DEBUG
            logger.log(level, "%s: dropped %d annotation(s) with %s, first: %s", path, int(dropped.sum()), name, first)
        keep &= ~mask
    return keep


def _topdown_instances(anns: list[dict], records: list[str], images: list[ImageInfo], boxes: np.ndarray,
                       kps32: np.ndarray, kept: np.ndarray, path: PathLike) -> list[PersonInstance]:
    """One PersonInstance per kept annotation (MMPose's `_get_topdown_data_infos`), head boxes validated."""
    with_head = [i for i in kept if anns[i].get("bbox_head") not in (None, [])]
    heads = stack_rows([anns[i]["bbox_head"] for i in with_head], 4, path,
                       [records[i] for i in with_head], "bbox_head")                           # (H, 4)
    bad = first_bad(~np.isfinite(heads).all(axis=1))
    if bad is not None:
        raise DataError(path, "'bbox_head' holds NaN, null or infinity", record=records[with_head[bad]])
    head_of = dict(zip(with_head, heads))
    out = []
    for i in kept:
        ann, im = anns[i], images[i]
        track = None if ann.get("track_id") is None else int_field(ann, "track_id", path, records[i])
        out.append(PersonInstance(
            image_path=im.image_path, image_id=im.image_id, bbox_xywh=boxes[i].copy(), keypoints=kps32[i],
            image_size=im.image_size, ann_id=int(ann["id"]), video_id=im.video_id, frame_index=im.frame_index,
            track_id=track, head_bbox_xywh=head_of.get(i),
            ignore_regions=im.ignore_regions, is_labeled=im.is_labeled))
    return out


def parse_annotations(annotations: list, images: list[ImageInfo], path: PathLike, num_keypoints: int = 17,
                      drop_invalid: bool = True, keypoints_required: bool = True) -> list[PersonInstance]:
    """COCO-style person annotations -> PersonInstances in MMPose's order, validated and filtered.

    The steps of MMPose's reader: order and parse (`parse_data_info`), the validity rules
    (`_is_valid_instance`, checked always, applied with drop_invalid), then the instances
    (`_get_topdown_data_infos`). keypoints_required=False keeps the persons that have a box but no
    keypoint (PoseTrack21 boxes people on frames without pose labels): the boxes a tracker may use.
    """
    order = _annotation_order(annotations, images, path)
    if not order:
        return []
    anns = [annotations[j] for j, _ in order]
    ann_images = [im for _, im in order]
    records = [f"annotation id {a['id']}" for a in anns]
    boxes, kps32 = _box_and_keypoint_arrays(anns, records, path, num_keypoints)
    reasons = _invalid_reasons(anns, records, boxes, kps32, ann_images, path, keypoints_required)
    keep = _keep_mask(reasons, records, path) if drop_invalid else np.ones(len(anns), dtype=bool)
    return _topdown_instances(anns, records, ann_images, boxes, kps32, np.flatnonzero(keep), path)


def check_image_files(instances: Sequence[PersonInstance], images: Sequence[ImageInfo], path: PathLike) -> None:
    """Raise a DataError for the first image (in file order) that has instances but no file."""
    used = {inst.image_id for inst in instances}
    for im in images:
        if im.image_id in used and not os.path.isfile(im.image_path):
            raise DataError(path, f"image file not found: {im.image_path}",
                            record=f"images[{im.index}] (id {im.image_id})")


# ------------------------------------------------------------------------------ results

def result_record(image_id: int, keypoints: np.ndarray, keypoint_scores: np.ndarray, score: float,
                  bbox_xywh: np.ndarray) -> dict[str, Any]:
    """One COCO results record: image_id, category_id 1, keypoints [x, y, score] * K, score, bbox."""
    kp = np.asarray(keypoints, np.float32)                       # (K, 2)
    ks = np.asarray(keypoint_scores, np.float32)                 # (K,)
    return {"image_id": int(image_id), "category_id": 1,
            "keypoints": np.concatenate([kp, ks[:, None]], axis=1).ravel().tolist(),
            "score": float(score), "bbox": np.asarray(bbox_xywh, np.float64).tolist()}

"""Person detections in COCO results format (a JSON list of image_id, bbox xywh, score, category_id).

Semantics follow MMPose 1.3.2's ``BaseCocoStyleDataset._load_detection_results``: detections of
another category are skipped, boxes are read as float32 and never clipped, and every detection
becomes a ``PersonInstance`` with ``is_detection=True``.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from simplepose.data.cocostyle import ImageInfo, PathLike, first_bad, int_field, stack_rows
from simplepose.data.instances import PersonInstance
from simplepose.errors import DataError
from simplepose.io import read_json

logger = logging.getLogger(__name__)


def load_detections(json_path: PathLike, images: Mapping[int, ImageInfo], *, score_thr: float = 0.0,
                    category_id: int | None = 1, num_keypoints: int = 17,
                    drop_invalid: bool = True) -> list[PersonInstance]:
    """Detections in COCO results format -> PersonInstances for top-down testing.

    `images` maps the image ids the detections name to their records
    (``simplepose.data.annotations.load_image_records``). A detection is kept when
    float32(score) >= score_thr (MMPose's PoseTrack18 detection configs use 0.4; its COCO config
    none); keypoints are zeros with visibility 1. Zero-area boxes are skipped with a logged warning
    (`drop_invalid`); MMPose would keep them and produce NaN poses.
    """
    if not np.isfinite(score_thr):
        raise DataError(json_path, f"the detection score threshold must be a finite number, got {score_thr}")
    dets = read_json(json_path)
    if not isinstance(dets, list):
        raise DataError(json_path, f"expected a JSON list of detections, got {type(dets).__name__}")
    rows, keep_recs = [], []
    other_category = 0
    for j, det in enumerate(dets):
        where = f"detection [{j}]"
        if not isinstance(det, dict):
            raise DataError(json_path, f"detection must be an object, got {type(det).__name__}", record=where)
        for key in ("image_id", "bbox", "score"):
            if key not in det:
                raise DataError(json_path, f"missing field '{key}'", record=where)
        if category_id is not None and "category_id" in det:
            # an int, not "1": MMPose compares with == and would drop such detections without a word
            if int_field(det, "category_id", json_path, where) != category_id:
                other_category += 1
                continue
        image_id = int_field(det, "image_id", json_path, where)
        if image_id not in images:
            raise DataError(json_path, f"image_id {image_id} is not among the ground-truth images", record=where)
        rows.append(det)
        keep_recs.append(where + f" (image id {image_id})")
    if other_category:
        logger.log(logging.INFO if rows else logging.WARNING, "%s: skipped %d of %d detection(s) whose "
                   "category_id is not %s (the person category)", json_path, other_category, len(dets), category_id)
    if not rows:
        return []
    boxes = stack_rows([d["bbox"][:4] if isinstance(d["bbox"], list) else d["bbox"] for d in rows],
                        4, json_path, keep_recs, "bbox")                                      # (N, 4)
    scores = stack_rows([[d["score"]] for d in rows], 1, json_path, keep_recs, "score")[:, 0]  # (N,)
    _check_boxes(boxes, scores, rows, json_path, keep_recs)
    boxes32 = boxes.astype(np.float32)
    scores32 = scores.astype(np.float32)
    keep = ~(scores32 < np.float32(score_thr))
    if drop_invalid:
        zero = keep & ((boxes32[:, 2:] <= 0).any(axis=1))
        if zero.any():
            logger.warning("%s: skipped %d detection(s) with a zero-area box, first: %s",
                           json_path, int(zero.sum()), keep_recs[int(np.flatnonzero(zero)[0])])
            keep &= ~zero
    kps = np.zeros((num_keypoints, 3), dtype=np.float32)
    kps[:, 2] = 1.0
    out = []
    for i in np.flatnonzero(keep):
        im = images[int(rows[i]["image_id"])]
        out.append(PersonInstance(
            image_path=im.image_path, image_id=im.image_id, bbox_xywh=boxes32[i].astype(np.float64),
            keypoints=kps.copy(), image_size=None, ann_id=None, is_detection=True, video_id=im.video_id,
            frame_index=im.frame_index, ignore_regions=im.ignore_regions, is_labeled=im.is_labeled,
            score=float(scores32[i])))
    return out


def _check_boxes(boxes: np.ndarray, scores: np.ndarray, rows: list[dict], json_path: PathLike,
                 records: list[str]) -> None:
    """Boxes (N, 4) and scores (N,) finite as float32 and box sizes not negative, else a DataError."""
    # finite as float32 too: boxes and scores are used in float32, where 1e300 is infinity
    f32 = np.finfo(np.float32).max                     # False for NaN too
    bad = first_bad(~(np.abs(boxes) <= f32).all(axis=1) | ~(np.abs(scores) <= f32))
    if bad is not None:
        raise DataError(json_path, "'bbox' or 'score' holds NaN, null, infinity or a value beyond float32 "
                                   "(|x| > 3.4e38)", record=records[bad])
    bad = first_bad((boxes[:, 2:] < 0).any(axis=1))
    if bad is not None:
        raise DataError(json_path, f"negative box width or height: bbox {rows[bad]['bbox']}", record=records[bad])

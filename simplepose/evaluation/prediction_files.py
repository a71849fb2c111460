"""Per-video PoseTrack18 prediction files from model outputs, as the reference writes them.

After rescoring and OKS-NMS (simplepose.evaluation.rescore), each ground-truth video gets one
file <video name>.json with
  images:      [{"id", "file_name"}] for every frame of the GT video, in the GT's order,
  categories:  one "person" category: the 17 PoseTrack18 keypoint names and the released files' 19-link
               skeleton, as MMPose's PoseTrack18Metric writes it,
  annotations: per kept person {"image_id", "keypoints": [x, y, score] * 17, "scores": [17],
               "score": rescored person score, "track_id"}.
By default track_id is the person's rank within its frame after NMS (0, 1, ... by descending
score), as the reference's PoseTrack18 metric writes it; with use_track_ids the predictions'
own track ids are written (for tracking output). The official poseval accepts the files as
they are.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simplepose.data.instances import PosePrediction
from simplepose.data.keypoints import POSETRACK18, KeypointSchema, prediction_category
from simplepose.errors import DataError
from simplepose.evaluation.rescore import KEYPOINT_SCORE_THR, NMS_THR, postprocess
from simplepose.io import write_json


def _image_index(gt_videos: Sequence[Any]) -> dict[Any, tuple[int, dict]]:
    """Image id -> (video index, raw image record)."""
    index: dict[Any, tuple[int, dict]] = {}
    for vi, video in enumerate(gt_videos):
        for im in video.images:
            if "id" not in im or "file_name" not in im:
                raise DataError(getattr(video, "path", None) or video.name,
                                "image record without 'id' or 'file_name'")
            if im["id"] in index:
                raise DataError(getattr(video, "path", None) or video.name,
                                f"image id {im['id']} occurs twice in the ground-truth videos")
            index[im["id"]] = (vi, im)
    return index


def build_prediction_files(predictions: Sequence[PosePrediction], gt_videos: Sequence[Any],
                           schema: KeypointSchema = POSETRACK18, score_thr: float = KEYPOINT_SCORE_THR,
                           nms_thr: float = NMS_THR, use_track_ids: bool = False) -> dict[str, dict]:
    """Video name -> prediction file content (see the module docstring)."""
    index = _image_index(gt_videos)
    for i, p in enumerate(predictions):
        if p.image_id not in index:
            raise DataError(None, f"prediction {i} refers to image id {p.image_id}, "
                            "which is in none of the ground-truth videos")
    keep, scores = postprocess(predictions, schema.sigmas_array, score_thr=score_thr, nms_thr=nms_thr)
    per_image: dict[Any, list[int]] = {}
    for i in keep.tolist():
        per_image.setdefault(predictions[i].image_id, []).append(i)
    category = prediction_category(schema)
    files: dict[str, dict] = {}
    for video in gt_videos:
        images, anns = [], []
        for im in video.images:
            images.append({"id": im["id"], "file_name": im["file_name"]})
            seen: set = set()
            for rank, i in enumerate(per_image.get(im["id"], [])):
                p = predictions[i]
                kp = np.asarray(p.keypoints, np.float32)
                ks = np.asarray(p.keypoint_scores, np.float32)
                track = rank
                if use_track_ids:
                    if p.track_id is None:
                        raise DataError(None, f"prediction {i} (image id {p.image_id}) has no track_id")
                    track = int(p.track_id)
                    if track in seen:
                        raise DataError(None, f"track_id {track} used twice in image id {p.image_id}")
                    seen.add(track)
                anns.append({"image_id": im["id"],
                             "keypoints": np.concatenate([kp, ks[:, None]], axis=1).ravel().tolist(),
                             "scores": ks.tolist(), "score": float(scores[i]), "track_id": track})
        files[video.name] = {"images": images, "categories": [category], "annotations": anns}
    return files


def write_posetrack_predictions(predictions: Sequence[PosePrediction], gt_videos: Sequence[Any],
                                out_dir: str | os.PathLike, **kwargs: Any) -> list[Path]:
    """Write one <video>.json per GT video into out_dir (atomically); returns the paths.

    gt_videos: simplepose.data.posetrack.load_posetrack_videos(...) records (name, images).
    Keyword arguments are those of build_prediction_files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in build_prediction_files(predictions, gt_videos, **kwargs).items():
        paths.append(write_json(out_dir / f"{name}.json", content))
    return paths

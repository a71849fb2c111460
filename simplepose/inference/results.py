"""What inference writes per frame: COCO results records and PosePrediction records of its poses.

A results record is COCO's (image_id, category_id 1, keypoints [x, y, score] * K, score, bbox) with
the person score rescored as the reference does (box score x mean keypoint score above 0.2), plus
box_score, the frame's file_name (images) or frame_index (videos), and track_id when tracking.

A tracking line (one per tracked frame, JSON Lines) is {"sequence", "frame" (the frame number in the
sequence), "name", "image_id", "persons": [{"track_id", "bbox" [x, y, w, h], "box_score", "score"
(rescored as above), "propagated" (the box came from the previous frame by flow), "keypoints"
[[x, y], ...] (K), "keypoint_scores" [K]}]}.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simplepose.data.cocostyle import result_record
from simplepose.data.instances import PosePrediction
from simplepose.evaluation.rescore import rescore
from simplepose.inference.boxes import FrameBoxes
from simplepose.inference.video import Frame


def result_records(frame: Frame, fb: FrameBoxes, poses: np.ndarray, track_ids: np.ndarray | None,
                   is_video: bool) -> list[dict[str, Any]]:
    """COCO results records (one per person) of a frame's poses (N, K, 3)."""
    scores = rescore(poses[:, :, 2], fb.scores)                 # (N,)
    out = []
    for i in range(poses.shape[0]):
        rec = result_record(fb.image_id, poses[i, :, :2], poses[i, :, 2], scores[i], fb.boxes_xywh[i])
        rec["box_score"] = float(fb.scores[i])
        if is_video:
            rec["frame_index"] = frame.index
        else:
            rec["file_name"] = frame.name
        if track_ids is not None:
            rec["track_id"] = int(track_ids[i])
        out.append(rec)
    return out


def frame_predictions(fb: FrameBoxes, poses: np.ndarray, areas: np.ndarray,
                      track_ids: np.ndarray | None) -> list[PosePrediction]:
    """PosePrediction records of a frame's poses (N, K, 3) with their OKS areas (N,)."""
    return [PosePrediction(image_id=int(fb.image_id), bbox_xywh=fb.boxes_xywh[i].copy(),
                           keypoints=poses[i, :, :2].copy(), keypoint_scores=poses[i, :, 2].copy(),
                           area=float(areas[i]), box_score=float(fb.scores[i]),
                           track_id=None if track_ids is None else int(track_ids[i]))
            for i in range(poses.shape[0])]


def tracking_line(frame: Frame, fb: FrameBoxes, poses: np.ndarray, track_ids: np.ndarray,
                  propagated: np.ndarray) -> dict[str, Any]:
    """The JSON line of one tracked frame: poses (N, K, 3), track_ids (N,), propagated (N,) bool."""
    scores = rescore(poses[:, :, 2], fb.scores)                 # (N,)
    kp = np.asarray(poses, np.float32)
    persons = [{"track_id": int(track_ids[i]), "bbox": np.asarray(fb.boxes_xywh[i], np.float64).tolist(),
                "box_score": float(fb.scores[i]), "score": float(scores[i]), "propagated": bool(propagated[i]),
                "keypoints": kp[i, :, :2].tolist(), "keypoint_scores": kp[i, :, 2].tolist()}
               for i in range(kp.shape[0])]
    return {"sequence": frame.sequence, "frame": frame.number, "name": frame.name, "image_id": int(fb.image_id),
            "persons": persons}

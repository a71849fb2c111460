"""Hand-built PoseTrack18 files for the diagnosis and report tests: a standing pose on a known head size."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
         "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
HEAD_BOX = 40.0
HEAD = 0.6 * HEAD_BOX * np.sqrt(2.0)         # head size of every GT person, pixels
# PoseTrack18 order, in head sizes from the head bottom; left and right at least 3 head sizes apart
TEMPLATE = np.array([[0, -1], [0, 0], [0, -2], [0, 0], [0, 0], [2, 1], [-2, 1], [3, 3], [-3, 3],
                     [3, 5], [-3, 5], [1.5, 6], [-1.5, 6], [1.5, 9], [-1.5, 9], [1.5, 12], [-1.5, 12]], float)
MIRROR17 = [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# PoseTrack18 keypoint -> poseval joint index (ears: None)
POSEVAL = [13, 12, 14, None, None, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0]


def pose(x0: float, y0: float = 100.0) -> np.ndarray:
    """The template pose (17, 2) in pixels with its head bottom at (x0, y0)."""
    return np.array([x0, y0]) + TEMPLATE * HEAD


def write_video(folder: Path, frames: list[list[dict]], name: str = "000001_mpii_test") -> None:
    """One per-video file; each person dict: xy (17, 2), track, and 'score' (prediction) or not (GT)."""
    folder.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for f, persons in enumerate(frames):
        image_id = 10000000 + f
        images.append({"id": image_id, "file_name": f"images/val/{name}/{f:06d}.jpg"})
        for p in persons:
            kp = np.concatenate([p["xy"], np.ones((17, 1))], axis=1)
            kp[3:5] = 0                                      # ears absent, as PoseTrack18's
            ann = {"image_id": image_id, "track_id": p["track"], "keypoints": kp.ravel().tolist()}
            if "score" in p:
                ann["scores"] = [p["score"]] * 17
            else:
                x, y = p["xy"][1] - [HEAD_BOX / 2, HEAD_BOX]
                ann["bbox_head"] = [float(x), float(y), HEAD_BOX, HEAD_BOX]
            anns.append(ann)
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person", "keypoints": NAMES}]}
    (folder / f"{name}.json").write_text(json.dumps(doc))

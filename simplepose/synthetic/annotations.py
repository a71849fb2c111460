"""PoseTrack18 annotations of a rendered video: names, ids, labeled frames, per-video JSON, detections.

Sequence names follow PoseTrack18 (``003418_mpii_test`` in val, ``000001_bonn_train`` in train);
image ids are ``type * 10**10 + sequence * 10**4 + frame`` (type mpii=1, bonn=2, mpiinew=3) and
annotation ids ``image_id * 100 + index in frame``, as in the released files. The person detections
are a noisy detector's output (COCO results): jittered true boxes, a few misses, false positives.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from simplepose.data.keypoints import annotation_category
from simplepose.synthetic.body import NUM_KPTS
from simplepose.synthetic.render import UNANNOTATED, Video

SEQ_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}


def sequence_name(number: int, seq_type: str, split: str) -> str:
    """PoseTrack18 sequence name, e.g. 003418_mpii_test (val) or 000001_bonn_train (train)."""
    if seq_type not in SEQ_TYPES:
        raise ValueError(f"unknown sequence type {seq_type!r}; one of {sorted(SEQ_TYPES)}")
    if not 0 <= number < 10**6:
        raise ValueError(f"sequence number {number} does not fit 6 digits")
    return f"{number:06d}_{seq_type}_{'train' if split == 'train' else 'test'}"


def image_id_of(number: int, seq_type: str, frame: int) -> int:
    """Image id as in PoseTrack18 (and poseval): type * 1e10 + sequence * 1e4 + frame."""
    if not 0 <= frame < 10**4:
        raise ValueError(f"frame index {frame} must be < 10000")
    return SEQ_TYPES[seq_type] * 10**10 + number * 10**4 + frame


def labeled_frames(num_frames: int, split: str) -> np.ndarray:
    """Which frames carry labels (bool (T,)): train a dense centre; val every 4th plus a centre."""
    t = np.arange(num_frames)
    if split == "train":
        n = max(1, int(round(0.8 * num_frames)))
        start = (num_frames - n) // 2
        mask = (t >= start) & (t < start + n)
    else:
        n = max(1, int(round(num_frames / 3)))
        start = (num_frames - n) // 2
        mask = (t % 4 == 0) | ((t >= start) & (t < start + n))
    if mask.sum() < min(2, num_frames):
        mask[[0, -1]] = True
    return mask


def person_bbox(keypoints: np.ndarray) -> list[float]:
    """PoseTrack18's person box: the annotated joints' extent, enlarged 1.3x about its centre (xywh)."""
    v = keypoints[:, 2] > 0
    lo, hi = keypoints[v, :2].min(0), keypoints[v, :2].max(0)
    c, ext = (lo + hi) / 2, (hi - lo) * 1.3
    return [round(float(c[0] - ext[0] / 2), 3), round(float(c[1] - ext[1] / 2), 3),
            round(float(ext[0]), 3), round(float(ext[1]), 3)]


def _num(x: float) -> float | int:
    """JSON number: ints stay ints (as in the released files), other values rounded to 2 decimals."""
    r = round(float(x), 2)
    return int(r) if r == int(r) else r


def _inside_any(points: np.ndarray, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Bool (N,): points inside or on any polygon."""
    out = np.zeros(len(points), bool)
    for poly in polygons:
        c = poly.reshape(-1, 1, 2).astype(np.float32)
        out |= np.array([cv2.pointPolygonTest(c, (float(x), float(y)), False) >= 0 for x, y in points], bool)
    return out


def video_json(video: Video, number: int, seq_type: str, split: str, labeled: np.ndarray,
               size: tuple[int, int]) -> dict[str, Any]:
    """The official per-video PoseTrack18 annotation dict (images, annotations, categories)."""
    name = sequence_name(number, seq_type, split)
    w, h = size
    num_frames = len(video.frames)
    images, anns = [], []
    for t in range(num_frames):
        iid = image_id_of(number, seq_type, t)
        rec: dict[str, Any] = {
            "has_no_densepose": True, "is_labeled": bool(labeled[t]),
            "file_name": f"images/{split}/{name}/{t:06d}.jpg", "nframes": num_frames,
            "frame_id": iid, "vid_id": f"{number:06d}", "id": iid, "width": w, "height": h,
        }
        if labeled[t]:
            kp = video.keypoints[t][video.present[t]]          # (P', 17, 3)
            pts = kp[kp[..., 2] > 0][:, :2]                    # annotated joints of the frame
            # a crowd polygon is an ignore region only where it holds no annotated joint
            kept = [poly for poly in video.ignore_polygons[t] if not _inside_any(pts, [poly]).any()]
            rec["ignore_regions_x"] = [poly[:, 0].tolist() for poly in kept]
            rec["ignore_regions_y"] = [poly[:, 1].tolist() for poly in kept]
        images.append(rec)
        if not labeled[t]:
            continue
        k = 0
        for i in np.flatnonzero(video.present[t]):
            kp = video.keypoints[t, i]
            anns.append({
                "bbox_head": [int(v) for v in video.head_boxes[t, i]],
                "keypoints": [_num(v) for v in kp.reshape(-1)],
                "track_id": int(i), "image_id": iid, "bbox": person_bbox(kp), "scores": [],
                "category_id": 1, "id": iid * 100 + k, "iscrowd": False,
                "num_keypoints": int((kp[:, 2] > 0).sum()),
            })
            k += 1
    return {"categories": [annotation_category()], "images": images, "annotations": anns}


def miss_probability(missed_before: bool, visible: float) -> float:
    """Bursty detector misses: P(miss) given a miss in the previous frame and the visible joint fraction.

    A burst starts with probability 0.01 + 0.3 (1 - visible)^2 (occluded persons are missed more)
    and goes on with probability 0.6 (bursts of 2.5 frames on average).
    """
    return 0.6 if missed_before else 0.01 + 0.3 * (1.0 - visible) ** 2


def detections(rng: np.random.Generator, video: Video, number: int, seq_type: str,
               size: tuple[int, int], bursty_misses: bool = True) -> list[dict[str, Any]]:
    """Noisy detector output for every frame: jittered true boxes, misses (bursty and occlusion-dependent,
    or independent 3% without bursty_misses), false positives."""
    w, h = size
    out = []
    missed = np.zeros(video.present.shape[1], bool)                 # per person: missed in frame t - 1
    for t in range(len(video.frames)):
        iid = image_id_of(number, seq_type, t)
        boxes, scores = [], []
        present = video.present[t]
        missed &= present
        for i in np.flatnonzero(present):
            vis = video.keypoints[t, i, :, 2].sum() / (NUM_KPTS - len(UNANNOTATED))
            p_miss = miss_probability(bool(missed[i]), float(vis)) if bursty_misses else 0.03
            missed[i] = rng.random() < p_miss
            if missed[i]:
                continue
            x1, y1, x2, y2 = video.visible_boxes[t, i]
            cw, ch = (x2 - x1) * rng.uniform(1.05, 1.25) + 4, (y2 - y1) * rng.uniform(1.05, 1.2) + 4
            cx = (x1 + x2) / 2 + rng.normal(0, 0.04) * cw
            cy = (y1 + y2) / 2 + rng.normal(0, 0.03) * ch
            boxes.append([cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2])
            scores.append(float(np.clip(0.55 + 0.4 * vis + rng.normal(0, 0.05), 0.3, 0.999)))
        for _ in range(int(rng.poisson(0.7))):
            bw, bh = rng.uniform(0.08, 0.3) * w, rng.uniform(0.15, 0.6) * h
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            boxes.append([x, y, x + bw, y + bh])
            scores.append(float(rng.uniform(0.05, 0.45)))
        for poly in video.ignore_polygons[t]:           # the crowd fools the detector too
            if rng.random() < 0.5:
                x1, y1 = poly.min(0)
                x2, y2 = poly.max(0)
                boxes.append([x1, y1, x2, y2])
                scores.append(float(rng.uniform(0.3, 0.7)))
        for (x1, y1, x2, y2), s in zip(boxes, scores):
            x1, x2 = np.clip([x1, x2], 0, w - 1)
            y1, y2 = np.clip([y1, y2], 0, h - 1)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            out.append({"bbox": [round(float(x1), 2), round(float(y1), 2), round(float(x2 - x1), 2),
                                 round(float(y2 - y1), 2)],
                        "category_id": 1, "image_id": iid, "score": round(s, 4)})
    return out

"""PoseTrack18 annotations of a rendered video: names, ids, labeled frames, per-video JSON, detections.

Sequence names follow PoseTrack18 (``003418_mpii_test`` in val, ``000001_bonn_train`` in train);
image ids are ``type * 10**10 + sequence * 10**4 + frame`` (type mpii=1, bonn=2, mpiinew=3) and
annotation ids ``image_id * 100 + index in frame``, as in the released files. The person detections
are a noisy detector's output (COCO results): jittered true boxes, misses, false positives.

Misses. A real person detector on PoseTrack-like video finds well under 99% of the people: its
recall falls for small, distant persons, for persons partly hidden by others or cut by the image
border, and for fast movers smeared by motion blur; and its failures last for several frames, since
consecutive frames look alike. The synthetic detector models these causes, each of which fails a
person independently in a frame (``miss_probability``, inputs from ``miss_causes``):

* base: ``BASE_MISS`` (3%) for a large, fully visible, slow person;
* size: a person shorter than ``SMALL_HEIGHT`` (a quarter of the frame height) is missed more, up
  to ``SMALL_MISS`` (80%) at ``TINY_HEIGHT`` (5%): on the Caltech benchmark most detectors miss most
  far pedestrians (under 30 px in 480 px frames), and COCO's small-object recall is about half the
  large-object recall. (The generator's figures are 0.39-0.69 of the frame height, so on its
  videos this cause does not act; it does on smaller figures.)
* occlusion: a fraction f of the person's joints in the image lie under a nearer figure: missed
  with f^1.5 (9% at f = 0.2, 41% at 0.55): CityPersons detectors miss about half of the heavily
  occluded pedestrians (35-80% hidden), roughly four times their miss rate on reasonably visible ones;
* truncation: a fraction f of the joints lies outside the image: missed with ``TRUNCATED_MISS``
  (0.5) x f^1.5, half the occlusion rate (border cuts are common in detector training data and,
  unlike an occluder, leave no second person for the detector's own NMS to confuse it with);
* motion: the person moves m of its body height per frame in the image (camera motion included);
  from ``BLUR_START`` (4%) to ``BLUR_FULL`` (20%) the miss probability rises linearly to
  ``BLUR_MISS`` (40%): detectors lose much of their accuracy on motion-blurred images (e.g. COCO-C's
  motion blur, Michaelis et al. 2019). The rendered frames are not blurred (the pose model sees
  them as it was trained), so this models only the detector's side of a blurred fast mover; the
  generator's figures move 3.5% of their height per frame (median), its runners up to 18%.

On two generated val sets (seeds 0 and 1) the mean miss probability of an annotated person is
12-15%; 7% (seed 1) and 11% (seed 0) of the labelled persons have no detector box scoring >= 0.4
at IoU >= 0.5 (the box of an overlapping person counts), against 6% and 3% with the earlier model
(a 1% base rate and bursts that followed occlusion only).

Bursts: each person has a detectability value per frame, uniform in [0, 1] in every frame but
correlated ``BURST_CORRELATION`` (0.9) from one frame to the next (an AR(1) Gaussian through its
CDF, ``detectability``); the person is missed where it falls below the miss probability. So each
frame's miss rate is exactly ``miss_probability``, and a miss is followed by another 60-80% of the
time (per-frame probabilities 3-30%); the correlation decays to 1/e in about 10 frames (a third
of a second at 30 fps). Without bursty misses, every person is missed independently with
``INDEPENDENT_MISS`` (3%) in every frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from simplepose.data.keypoints import annotation_category
from simplepose.synthetic.body import NUM_KPTS
from simplepose.synthetic.render import UNANNOTATED, Video

SEQ_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}
# the detector's misses (module docstring)
BASE_MISS = 0.03                           # a large, fully visible, slow person
SMALL_HEIGHT, TINY_HEIGHT, SMALL_MISS = 0.25, 0.05, 0.8   # body height / frame height; miss at TINY_HEIGHT
TRUNCATED_MISS = 0.5                       # x (fraction of joints outside the image)^1.5
BLUR_START, BLUR_FULL, BLUR_MISS = 0.04, 0.2, 0.4          # motion / body height per frame; miss at BLUR_FULL
BURST_CORRELATION = 0.9                    # frame-to-frame correlation of a person's detectability
INDEPENDENT_MISS = 0.03                    # without bursty misses


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


def _ignore_regions(video: Video, t: int) -> dict[str, list]:
    """Frame t's ignore regions as PoseTrack writes them: a crowd polygon is an ignore region only where
    it holds no annotated joint."""
    kp = video.keypoints[t][video.present[t]]              # (P', 17, 3)
    pts = kp[kp[..., 2] > 0][:, :2]                        # annotated joints of the frame
    kept = [poly for poly in video.ignore_polygons[t] if not _inside_any(pts, [poly]).any()]
    return {"ignore_regions_x": [poly[:, 0].tolist() for poly in kept],
            "ignore_regions_y": [poly[:, 1].tolist() for poly in kept]}


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
            rec.update(_ignore_regions(video, t))
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


def video_json_posetrack21(video: Video, number: int, seq_type: str, split: str,
                           labeled: np.ndarray) -> dict[str, Any]:
    """The per-video PoseTrack21 annotation dict (``posetrack_data/<split>/<seq>.json``).

    PoseTrack21's conventions: every frame where persons are in view has their boxes
    (``has_labeled_person``), with keypoints only on the pose-labeled frames (``is_labeled``) and
    all-zero keypoints elsewhere; every annotation has a head box, a per-sequence ``track_id`` and a
    dataset-wide ``person_id`` (here sequence number x 100 + figure); every frame lists its ignore
    regions (empty where it has none); no image sizes, no ``num_keypoints``, no ``iscrowd``.
    """
    name = sequence_name(number, seq_type, split)
    num_frames = len(video.frames)
    images, anns = [], []
    for t in range(num_frames):
        iid = image_id_of(number, seq_type, t)
        persons = [i for i in np.flatnonzero(video.present[t]) if (video.keypoints[t, i, :, 2] > 0).any()]
        regions = _ignore_regions(video, t) if labeled[t] else {"ignore_regions_x": [], "ignore_regions_y": []}
        images.append({"is_labeled": bool(labeled[t]), "nframes": num_frames, "frame_id": iid, "id": iid,
                       "vid_id": f"{number:06d}", "file_name": f"images/{split}/{name}/{t:06d}.jpg",
                       "has_labeled_person": bool(persons), **regions})
        for k, i in enumerate(persons):
            kp = video.keypoints[t, i]
            anns.append({
                "bbox": person_bbox(kp), "bbox_head": [int(v) for v in video.head_boxes[t, i]], "category_id": 1,
                "image_id": iid, "id": iid * 100 + k,
                "keypoints": [_num(v) for v in kp.reshape(-1)] if labeled[t] else [0] * (3 * NUM_KPTS),
                "person_id": number * 100 + int(i), "track_id": int(i),
            })
    return {"categories": [annotation_category()], "images": images, "annotations": anns}


def miss_probability(height: float, occluded: float, truncated: float, motion: float) -> float:
    """Per-frame probability that the detector misses a person: each cause (module docstring) fails it
    independently (height: body height / frame height; occluded, truncated: fractions of its joints;
    motion: image speed / body height per frame)."""
    p_small = SMALL_MISS * float(np.clip((SMALL_HEIGHT - height) / (SMALL_HEIGHT - TINY_HEIGHT), 0, 1))
    p_occluded = float(np.clip(occluded, 0, 1)) ** 1.5
    p_truncated = TRUNCATED_MISS * float(np.clip(truncated, 0, 1)) ** 1.5
    p_blur = BLUR_MISS * float(np.clip((motion - BLUR_START) / (BLUR_FULL - BLUR_START), 0, 1))
    hit = (1 - BASE_MISS) * (1 - p_small) * (1 - p_occluded) * (1 - p_truncated) * (1 - p_blur)
    return 1.0 - hit


def miss_causes(video: Video, t: int, i: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """What makes person i hard to detect in frame t: (height, occluded, truncated, motion) as
    miss_probability takes them, over the annotatable joints (not the ears)."""
    w, h = size
    joints = np.delete(video.joints[:, i], UNANNOTATED, axis=1)                  # (T, 15, 2)
    x, y = joints[t, :, 0], joints[t, :, 1]
    outside = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)                      # (15,)
    covered = np.delete(video.covered[t, i], UNANNOTATED)
    body = max(float(video.heights[t, i]), 1.0)
    other = t - 1 if t > 0 else min(1, len(joints) - 1)     # frame 0 takes its motion to frame 1
    speed = float(np.linalg.norm((joints[t] - joints[other]).mean(0)))
    return body / h, covered.sum() / max(int((~outside).sum()), 1), float(outside.mean()), speed / body


def detectability(rng: np.random.Generator, num_frames: int, num_persons: int, rho: float) -> np.ndarray:
    """Uniform (T, P) values, correlated rho from one frame to the next (an AR(1) Gaussian through its
    CDF): a person is missed in the frames where its value falls below its miss probability."""
    z = rng.standard_normal((num_frames, num_persons))
    for t in range(1, num_frames):
        z[t] = rho * z[t - 1] + math.sqrt(1 - rho ** 2) * z[t]
    return 0.5 * (1 + np.vectorize(math.erf, otypes=[float])(z / math.sqrt(2)))


def detections(rng: np.random.Generator, video: Video, number: int, seq_type: str,
               size: tuple[int, int], bursty_misses: bool = True) -> list[dict[str, Any]]:
    """Noisy detector output for every frame: jittered true boxes, misses (module docstring: caused by
    size, occlusion, truncation and motion, in bursts; or independent INDEPENDENT_MISS without
    bursty_misses), false positives."""
    w, h = size
    out = []
    num_frames, num_persons = video.present.shape
    if bursty_misses:
        u = detectability(rng, num_frames, num_persons, BURST_CORRELATION)
    for t in range(num_frames):
        iid = image_id_of(number, seq_type, t)
        boxes, scores = [], []
        for i in np.flatnonzero(video.present[t]):
            vis = video.keypoints[t, i, :, 2].sum() / (NUM_KPTS - len(UNANNOTATED))
            if bursty_misses:
                missed = u[t, i] < miss_probability(*miss_causes(video, t, i, size))
            else:
                missed = rng.random() < INDEPENDENT_MISS
            if missed:
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

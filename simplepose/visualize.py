"""Drawing poses, boxes, track ids and ignore regions on images (OpenCV, BGR uint8)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from simplepose.data.image import read_image
from simplepose.data.instances import PosePrediction
from simplepose.data.keypoints import KeypointSchema
from simplepose.io import atomic_write

# OpenCV draws at sub-pixel precision when coordinates carry SHIFT fractional bits (its `shift` argument).
SHIFT = 4
_ONE = 1 << SHIFT
_NO_TRACK_COLOUR = (200, 200, 200)
LABEL_HEIGHT = 0.03   # track-id digits, as a share of the frame's larger side


def fixed_point(xy: Sequence[float] | np.ndarray) -> tuple[int, int]:
    """A sub-pixel point (x, y) in OpenCV's fixed-point form (draw with shift=SHIFT)."""
    return int(round(float(xy[0]) * _ONE)), int(round(float(xy[1]) * _ONE))


def fixed_points(points: np.ndarray) -> np.ndarray:
    """Sub-pixel points (M, 2) x, y as int32 fixed-point (polygons; draw with shift=SHIFT)."""
    return np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2) * _ONE).astype(np.int32)


def fixed_length(length: float) -> int:
    """A sub-pixel radius or axis length in fixed-point form, truncated (draw with shift=SHIFT)."""
    return int(length * _ONE)


def hsv_colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    """One OpenCV HSV colour (hue in degrees / 2, wrapped to 0..180; 0..255 otherwise) as BGR ints."""
    px = np.array([[[hue % 180, saturation, value]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0])


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A distinct, bright BGR colour for a track id (golden-ratio hue steps)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    return hsv_colour(int(hue * 180), 220, 255)


def _check_image(image: np.ndarray) -> None:
    """Raise ValueError unless image is an (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be an (H, W, 3) uint8 BGR array, got {got}")


def draw_poses(
    image: np.ndarray,
    keypoints: np.ndarray,
    schema: KeypointSchema,
    score_thr: float = 0.3,
    track_ids: Sequence[int | None] | None = None,
    boxes_xywh: np.ndarray | None = None,
    radius: int | None = None,
    thickness: int | None = None,
) -> np.ndarray:
    """Return a copy of image with skeletons (links coloured by body side), boxes and track labels.

    keypoints: (N, K, 3) x, y, score (or (K, 3) for one person); a keypoint is drawn when its score
    is > score_thr and its coordinates are finite, a link when both ends are. Boxes and labels use
    the track id's colour (grey without track ids). radius/thickness default to the image size.
    """
    _check_image(image)
    kps = np.asarray(keypoints, dtype=np.float64)
    if kps.ndim == 2:
        kps = kps[None]
    if kps.ndim != 3 or kps.shape[1:] != (schema.num_keypoints, 3):
        raise ValueError(f"keypoints must be (N, {schema.num_keypoints}, 3) for schema {schema.name}, "
                         f"got {np.asarray(keypoints).shape}")
    n = kps.shape[0]
    if track_ids is not None and len(track_ids) != n:
        raise ValueError(f"{len(track_ids)} track ids for {n} persons")
    boxes = None
    if boxes_xywh is not None:
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        if len(boxes) != n:
            raise ValueError(f"{len(boxes)} boxes for {n} persons")
    out = image.copy()
    size = max(image.shape[:2])
    r = radius if radius is not None else max(2, int(round(size / 160)))
    th = thickness if thickness is not None else max(1, int(round(size / 240)))
    ok = np.isfinite(kps).all(-1) & (kps[..., 2] > score_thr)           # (N, K)
    kcol, lcol = schema.keypoint_colours, schema.link_colours
    for i in range(n):
        colour = _NO_TRACK_COLOUR if track_ids is None or track_ids[i] is None else track_colour(track_ids[i])
        for (a, b), c in zip(schema.skeleton, lcol):
            if ok[i, a] and ok[i, b]:
                cv2.line(out, fixed_point(kps[i, a]), fixed_point(kps[i, b]), c, th, cv2.LINE_AA, SHIFT)
        for k in np.flatnonzero(ok[i]):
            cv2.circle(out, fixed_point(kps[i, k]), fixed_length(r), kcol[k], -1, cv2.LINE_AA, SHIFT)
            cv2.circle(out, fixed_point(kps[i, k]), fixed_length(r), (0, 0, 0), 1, cv2.LINE_AA, SHIFT)
        anchor = None
        if boxes is not None and np.isfinite(boxes[i]).all():
            x, y, w, h = boxes[i]
            p1 = (int(round(x)), int(round(y)))
            p2 = (int(round(x + w)), int(round(y + h)))
            cv2.rectangle(out, p1, p2, colour, th, cv2.LINE_8)      # axis-aligned: crisp, no AA
            anchor = (x, y)
        elif ok[i].any():
            valid = kps[i, ok[i], :2]
            anchor = (valid[:, 0].min(), valid[:, 1].min() - 2 * r)
        if track_ids is not None and track_ids[i] is not None and anchor is not None:
            # digits LABEL_HEIGHT of the frame's larger side tall (at least 10 px): legible at any frame size
            px = max(10, int(round(LABEL_HEIGHT * size)))
            scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, px, th)
            org = (int(round(anchor[0])), max(px, int(round(anchor[1])) - th - 2))
            cv2.putText(out, str(int(track_ids[i])), org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                        th + 2, cv2.LINE_AA)
            cv2.putText(out, str(int(track_ids[i])), org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, th,
                        cv2.LINE_AA)
    return out


def draw_polygons(image: np.ndarray, polygons: Sequence[np.ndarray], colour: tuple[int, int, int] = (0, 0, 255),
                  alpha: float = 0.3) -> np.ndarray:
    """Return a copy of image with polygons (each (M, 2) x, y) shaded and outlined (ignore regions)."""
    _check_image(image)
    out = image.copy()
    polys = [fixed_points(p) for p in polygons if len(p) >= 3]
    if not polys:
        return out
    fill = out.copy()
    cv2.fillPoly(fill, polys, colour, cv2.LINE_AA, SHIFT)
    out = cv2.addWeighted(fill, alpha, out, 1 - alpha, 0)
    cv2.polylines(out, polys, True, colour, 1, cv2.LINE_AA, SHIFT)
    return out


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image atomically; the format follows the suffix (.png, .jpg)."""
    _check_image(image)
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ValueError(f"cannot encode an image as {path.suffix!r} for {path}")
    return atomic_write(path, lambda f: f.write(buf.tobytes()), mode="wb")


def save_overlay(path: str | os.PathLike, image: np.ndarray, keypoints: np.ndarray, schema: KeypointSchema,
                 ignore_regions: Sequence[np.ndarray] = (), **kwargs) -> Path:
    """Draw poses (and ignore regions) on image and save the result; kwargs go to draw_poses."""
    return save_image(path, draw_poses(draw_polygons(image, ignore_regions), keypoints, schema, **kwargs))


def save_prediction_overlays(predictions: Sequence[PosePrediction], schema: KeypointSchema, out_dir: str | os.PathLike,
                             count: int, score_thr: float = 0.3) -> int:
    """Draw the predictions of `count` images spread over the sorted image paths into out_dir as
    <video>_<frame>.jpg (keypoints with score >= score_thr); returns the number of images written."""
    by_image: dict[str, list[PosePrediction]] = {}
    for p in predictions:
        if p.image_path is not None:
            by_image.setdefault(p.image_path, []).append(p)
    written = 0
    for path in sorted(by_image)[:: max(1, len(by_image) // max(count, 1))][:count]:
        preds = by_image[path]
        kps = np.stack([np.concatenate([p.keypoints, p.keypoint_scores[:, None]], 1) for p in preds])  # (N, K, 3)
        boxes = np.stack([p.bbox_xywh for p in preds])                                                 # (N, 4)
        drawn = draw_poses(read_image(path), kps, schema, score_thr=score_thr, boxes_xywh=boxes)
        save_image(Path(out_dir) / f"{preds[0].video_id}_{preds[0].frame_index:06d}.jpg", drawn)
        written += 1
    return written

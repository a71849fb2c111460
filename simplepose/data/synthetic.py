"""Synthetic PoseTrack18 videos: articulated figures over textured backgrounds, in the official layout.

Writes, for each split (``train``, ``val``), under ``out_dir``:

- ``images/<split>/<seq>/<frame:06d>.jpg``: JPEG frames,
- ``annotations/<split>/<seq>.json``: one official PoseTrack18 file per video (what poseval reads),
- ``annotations/posetrack18_<split>.json``: all videos merged (the file MMPose trains and tests on),
- ``annotations/posetrack18_<split>_human_detections.json``: noisy person detections (COCO results).

Sequence names follow PoseTrack18 (``003418_mpii_test`` in val, ``000001_bonn_train`` in train);
image ids are ``type * 10**10 + sequence * 10**4 + frame`` (type mpii=1, bonn=2, mpiinew=3) and
annotation ids ``image_id * 100 + index in frame``, as in the released files.

Each figure is a 3-D stick body (yaw, lean, roll, walking joint angles) projected orthographically
and drawn with OpenCV: limbs as thick lines, torso polygon, head disc with a hair cap, nose dot,
hands, joint markers. A figure's two sides look different (one side cool coloured, blue arm and
green leg, with light joint markers; the other warm, red and magenta, with dark markers), so the
two arms and legs can be told apart; which side gets which is drawn per figure, keeping the data
mirror-symmetric as flip augmentation and the flip test require (see ``_style``).
Joints outside the image or covered by a nearer figure are left unannotated ``(0, 0, 0)``; ears are
never annotated (as in PoseTrack18). Small grey background "crowds" are surrounded by ignore
polygons and not annotated. Everything is deterministic for a seed.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from simplepose.data.keypoints import POSETRACK18, annotation_category
from simplepose.io import write_json
from simplepose.visualize import SHIFT, fixed_length, fixed_point, fixed_points, hsv_colour, save_overlay

log = logging.getLogger(__name__)

NUM_KPTS = 17
# Extra rendered points after the 17 PoseTrack18 keypoints.
PELVIS, L_TOE, R_TOE = 17, 18, 19
NUM_POINTS = 20
SEQ_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}
DEFAULT_VIDEOS = {"train": 16, "val": 6}
DEFAULT_IMAGE_SIZE = (384, 288)
UNANNOTATED = (3, 4)  # left_ear, right_ear: never annotated in PoseTrack18
MIN_ANNOTATED = 3     # a person with fewer annotated joints in a frame is not annotated there
MARKER = "synthetic_dataset.json"  # written last into out_dir: the generation summary

# Segment lengths as fractions of body height H.
_PROPORTIONS = {
    "head": 0.175, "torso": 0.29, "shoulder_half": 0.105, "hip_half": 0.075, "upper_arm": 0.165,
    "forearm": 0.15, "thigh": 0.245, "shin": 0.24, "foot": 0.06,
}


# --------------------------------------------------------------------------------------------
# naming and ids
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# poses
# --------------------------------------------------------------------------------------------

def _limb_dir(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit limb direction (T,3) in the body frame (x: person's left, y: down, z: forward)."""
    return np.stack([side * np.sin(abd), np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1)


def _wave(rng: np.random.Generator, t: np.ndarray, amp: float, fmin: float, fmax: float) -> np.ndarray:
    """A slow random drift: two sinusoids with random frequencies and phases (T,)."""
    out = np.zeros_like(t, dtype=np.float64)
    for _ in range(2):
        out += amp / 2 * np.sin(rng.uniform(fmin, fmax) * t + rng.uniform(0, 2 * np.pi))
    return out


def _joint_angles(rng: np.random.Generator, t: np.ndarray, crowd: bool) -> dict[str, np.ndarray]:
    """Walking-like joint angles in radians over time, within human ranges (each (T,))."""
    omega = rng.uniform(0.25, 0.6) * (0.3 if crowd else 1.0)
    ph = rng.uniform(0, 2 * np.pi)
    a_leg, a_arm = rng.uniform(5, 35), rng.uniform(5, 40)
    gait = np.sin(omega * t + ph)
    ang: dict[str, np.ndarray] = {}
    for s, sign in (("l", 1.0), ("r", -1.0)):
        hip_base = rng.uniform(-5, 20) if rng.random() > 0.15 else rng.uniform(30, 80)
        arm_base = rng.uniform(-20, 40) if rng.random() > 0.15 else rng.uniform(60, 160)
        ang[f"hip_flex_{s}"] = np.clip(hip_base + sign * a_leg * gait + _wave(rng, t, 10, 0.05, 0.2), -30, 100)
        knee = rng.uniform(0, 30) + rng.uniform(0, 50) * np.maximum(0, np.sin(omega * t + ph + (sign + 1) * np.pi / 2))
        ang[f"knee_{s}"] = np.clip(knee + _wave(rng, t, 10, 0.05, 0.2), 0, 130)
        ang[f"hip_abd_{s}"] = np.clip(rng.uniform(0, 18) + _wave(rng, t, 6, 0.05, 0.2), 0, 35)
        ang[f"sh_flex_{s}"] = np.clip(arm_base - sign * a_arm * gait + _wave(rng, t, 20, 0.05, 0.25), -60, 175)
        abd_base = rng.uniform(5, 50) if rng.random() > 0.2 else rng.uniform(60, 100)
        ang[f"sh_abd_{s}"] = np.clip(abd_base + _wave(rng, t, 20, 0.05, 0.25), 0, 110)
        ang[f"elbow_{s}"] = np.clip(rng.uniform(0, 100) + _wave(rng, t, 30, 0.05, 0.3), 0, 145)
    ang["lean"] = np.full_like(t, rng.uniform(-8, 15), dtype=np.float64) + _wave(rng, t, 6, 0.05, 0.2)
    ang["head_tilt"] = rng.uniform(-10, 15) + _wave(rng, t, 10, 0.05, 0.2)
    return {k: np.deg2rad(v) for k, v in ang.items()}


def body_points_3d(ang: Mapping[str, np.ndarray], prop: Mapping[str, float]) -> np.ndarray:
    """3-D points (T, 20, 3) in body-height units; pelvis at the origin, y down, z forward."""
    t = ang["lean"].shape[0]
    p = np.zeros((t, NUM_POINTS, 3))
    up = np.stack([np.zeros(t), -np.cos(ang["lean"]), np.sin(ang["lean"])], -1)
    neck = prop["torso"] * up
    head_a = ang["lean"] + ang["head_tilt"]
    head_up = np.stack([np.zeros(t), -np.cos(head_a), np.sin(head_a)], -1)
    head_fwd = np.stack([np.zeros(t), np.sin(head_a), np.cos(head_a)], -1)
    p[:, 1] = neck                                                    # head_bottom
    p[:, 2] = neck + prop["head"] * head_up                           # head_top
    p[:, 0] = neck + prop["head"] * (0.42 * head_up + 0.45 * head_fwd)  # nose, on the face
    p[:, 3] = p[:, 2] * 0.5 + p[:, 1] * 0.5                           # ears: not annotated
    p[:, 4] = p[:, 3]
    fwd = np.array([0.0, 0.0, 1.0])
    for side, sign, sh, el, wr, hp, kn, an, toe in (
        ("l", 1.0, 5, 7, 9, 11, 13, 15, L_TOE),
        ("r", -1.0, 6, 8, 10, 12, 14, 16, R_TOE),
    ):
        p[:, sh] = neck + np.array([sign * prop["shoulder_half"], 0, 0]) - 0.03 * up
        p[:, el] = p[:, sh] + prop["upper_arm"] * _limb_dir(ang[f"sh_flex_{side}"], ang[f"sh_abd_{side}"], sign)
        p[:, wr] = p[:, el] + prop["forearm"] * _limb_dir(
            ang[f"sh_flex_{side}"] + ang[f"elbow_{side}"], ang[f"sh_abd_{side}"], sign)
        p[:, hp] = np.array([sign * prop["hip_half"], 0, 0])
        p[:, kn] = p[:, hp] + prop["thigh"] * _limb_dir(ang[f"hip_flex_{side}"], ang[f"hip_abd_{side}"], sign)
        p[:, an] = p[:, kn] + prop["shin"] * _limb_dir(
            ang[f"hip_flex_{side}"] - ang[f"knee_{side}"], ang[f"hip_abd_{side}"], sign)
        p[:, toe] = p[:, an] + prop["foot"] * fwd
    return p


def project(points: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic view after yaw (about the vertical) and roll (in the image): (T,P,2), depth (T,P).

    yaw 0 faces the camera, so the person's left appears on the image's right.
    """
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    u = x * c + z * s
    depth = z * c - x * s                      # larger = nearer the camera
    cr, sr = np.cos(roll)[:, None], np.sin(roll)[:, None]
    xy = np.stack([u * cr - y * sr, u * sr + y * cr], -1)
    return xy, depth


@dataclass
class Figure:
    """One figure's trajectory and look: image points (T,20,2) px, depth (T,20), height (T,) px."""

    points: np.ndarray
    depth: np.ndarray
    height: np.ndarray
    ground: np.ndarray        # (T,) ground-line y in px (drawing order: larger = nearer)
    style: dict[str, Any]


def _style(rng: np.random.Generator, crowd: bool, fixed_sides: bool = False) -> dict[str, Any]:
    """Colours and thicknesses of one figure (crowd figures: greys, no markers).

    The two arms (and the two legs) of a figure always differ: one side is cool coloured (blue
    arm, green leg) with light joint markers, the other warm (red arm, magenta leg) with dark
    markers. Which side is which is drawn per figure unless fixed_sides (then cool = left): a fixed
    colour->side code would contradict horizontal-flip augmentation, which swaps the labels but
    not the colours, and the flip test. Per-figure assignment keeps the data mirror-symmetric:
    the side follows from the body's geometry, the colours tell the two limbs apart.
    """
    if crowd:
        g = [int(v) for v in rng.integers(70, 170, 6)]
        return {"shirt": (g[0],) * 3, "l_arm": (g[1],) * 3, "r_arm": (g[1],) * 3, "l_leg": (g[2],) * 3,
                "r_leg": (g[2],) * 3, "skin": (g[3],) * 3, "hair": (g[4],) * 3, "shoe": (g[5],) * 3,
                "l_mark": None, "r_mark": None, "nose": None, "limb_w": rng.uniform(0.05, 0.07)}
    sat = lambda: rng.uniform(150, 255)  # noqa: E731
    val = lambda: rng.uniform(130, 240)  # noqa: E731
    cool = {"arm": hsv_colour(rng.uniform(95, 125), sat(), val()),      # blue
            "leg": hsv_colour(rng.uniform(55, 90), sat(), val()),       # green / cyan
            "mark": (235, 245, 245)}                               # light markers
    warm = {"arm": hsv_colour(rng.uniform(-8, 12), sat(), val()),       # red / orange
            "leg": hsv_colour(rng.uniform(148, 172), sat(), val()),     # magenta / pink
            "mark": (25, 20, 20)}                                  # dark markers
    left, right = (cool, warm) if fixed_sides or rng.random() < 0.5 else (warm, cool)
    return {
        "shirt": hsv_colour(rng.uniform(0, 180), rng.uniform(0, 120), rng.uniform(60, 220)),
        "l_arm": left["arm"], "l_leg": left["leg"], "l_mark": left["mark"],
        "r_arm": right["arm"], "r_leg": right["leg"], "r_mark": right["mark"],
        "skin": hsv_colour(rng.uniform(5, 20), rng.uniform(60, 150), rng.uniform(110, 235)),
        "hair": hsv_colour(rng.uniform(0, 30), rng.uniform(50, 200), rng.uniform(20, 90)),
        "shoe": hsv_colour(rng.uniform(0, 180), rng.uniform(0, 60), rng.uniform(100, 170)),  # mid grey: both markers show
        "nose": (40, 40, 170),
        "limb_w": rng.uniform(0.055, 0.07),
    }


def make_figure(rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                crowd_box: tuple[float, float, float, float] | None = None,
                start_x: float | None = None, fixed_sides: bool = False) -> Figure:
    """Sample one moving figure (or a small crowd figure inside crowd_box (x0,y0,x1,y1)).

    start_x: the figure's horizontal start as a fraction of the width (random if None).
    """
    w, h = size
    t = np.arange(num_frames, dtype=np.float64)
    crowd = crowd_box is not None
    prop = {k: v * rng.uniform(0.92, 1.08) for k, v in _PROPORTIONS.items()}
    ang = _joint_angles(rng, t, crowd)
    pts3 = body_points_3d(ang, prop)
    yaw = np.deg2rad(rng.uniform(-55, 55) + _wave(rng, t, 25, 0.03, 0.12))
    roll = np.deg2rad(rng.uniform(-6, 6) + _wave(rng, t, 6, 0.05, 0.2))
    xy, depth = project(pts3, yaw, roll)
    if crowd:
        x0, y0, x1, y1 = crowd_box
        gy = np.full(num_frames, rng.uniform(y0 + 0.8 * (y1 - y0), y1))
        height = np.full(num_frames, rng.uniform(0.12, 0.18) * h)
        cx = rng.uniform(x0, x1) + _wave(rng, t, 0.01 * w, 0.02, 0.1)
    else:
        g0 = rng.uniform(0.8, 0.96)
        gfrac = np.clip(g0 + _wave(rng, t, 0.06, 0.02, 0.08), 0.78, 0.98)
        gy = gfrac * h
        height = h * (0.42 + 0.30 * (gfrac - 0.78) / 0.24) * rng.uniform(0.92, 1.05)
        # horizontal walk with reflections at the margins
        x0 = (rng.uniform(0.12, 0.88) if start_x is None else start_x) * w
        v = rng.choice([-1, 1]) * rng.uniform(0.002, 0.01) * w
        lo, hi = 0.12 * w, 0.88 * w
        span = hi - lo
        raw = (x0 - lo + v * t) % (2 * span)
        cx = lo + np.where(raw > span, 2 * span - raw, raw)
    lowest = xy[..., 1].max(axis=1)              # (T,) lowest point (feet) in body units
    pts = xy * height[:, None, None]
    pts[..., 0] += cx[:, None]
    pts[..., 1] += (gy - lowest * height)[:, None]
    return Figure(points=pts, depth=depth, height=height, ground=gy, style=_style(rng, crowd, fixed_sides))


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------

def draw_figure(image: np.ndarray, idmap: np.ndarray | None, fig: Figure, t: int, label: int) -> None:
    """Draw figure `fig` at frame t into image (and `label` into idmap), far parts first."""
    p, d, hpx, st = fig.points[t], fig.depth[t], float(fig.height[t]), fig.style
    limb_w = max(2, int(round(st["limb_w"] * hpx)))
    leg_w = max(2, int(round(st["limb_w"] * 1.25 * hpx)))
    mark_r = max(1.5, 0.028 * hpx)
    head_r = 0.5 * float(np.linalg.norm(p[2] - p[1]))
    parts: list[tuple[float, str, tuple]] = []
    # each limb chain is drawn as a unit (segments, hand, then its joint markers on top)
    for side, sh, el, wr, hp, kn, an, toe in (("l", 5, 7, 9, 11, 13, 15, L_TOE), ("r", 6, 8, 10, 12, 14, 16, R_TOE)):
        mark = st[f"{side}_mark"]
        arm = [(sh, el, st[f"{side}_arm"], limb_w), (el, wr, st[f"{side}_arm"], limb_w)]
        hand = (wr, 0.045 * hpx + 1, st["skin"])  # a clear skin-coloured hand disc about the wrist
        parts.append((d[[sh, el, wr]].mean(), "chain", (arm, hand, (sh, el, wr), mark)))
        leg = [(hp, kn, st[f"{side}_leg"], leg_w), (kn, an, st[f"{side}_leg"], leg_w), (an, toe, st["shoe"], leg_w)]
        parts.append((d[[hp, kn, an]].mean(), "chain", (leg, None, (hp, kn, an), mark)))
    parts.append((d[[5, 6, 11, 12]].mean(), "torso", None))
    parts.append((d[[1, 2]].mean() + 0.01, "head", None))
    parts.sort(key=lambda x: x[0])
    ln = cv2.LINE_AA
    for _, kind, args in parts:
        if kind == "chain":
            segments, hand, marks, mcol = args
            for a, b, colour, width in segments:
                cv2.line(image, fixed_point(p[a]), fixed_point(p[b]), colour, width, ln, SHIFT)
                if idmap is not None:
                    cv2.line(idmap, fixed_point(p[a]), fixed_point(p[b]), label, width, cv2.LINE_8, SHIFT)
            if hand is not None:
                k, r, colour = hand
                cv2.circle(image, fixed_point(p[k]), fixed_length(r), colour, -1, ln, SHIFT)
                if idmap is not None:
                    cv2.circle(idmap, fixed_point(p[k]), fixed_length(r), label, -1, cv2.LINE_8, SHIFT)
            if mcol is not None:
                for k in marks:
                    cv2.circle(image, fixed_point(p[k]), fixed_length(mark_r), mcol, -1, ln, SHIFT)
        elif kind == "torso":
            quad = p[[5, 6, 12, 11]]
            spine_top, spine_bot = 0.5 * (p[5] + p[6]), p[PELVIS]
            hull = cv2.convexHull(fixed_points(quad))
            cv2.fillConvexPoly(image, hull, st["shirt"], ln, SHIFT)
            cv2.line(image, fixed_point(spine_top), fixed_point(spine_bot), st["shirt"], max(3, int(0.14 * hpx)), ln, SHIFT)
            if idmap is not None:
                cv2.fillConvexPoly(idmap, hull, label, cv2.LINE_8, SHIFT)
                cv2.line(idmap, fixed_point(spine_top), fixed_point(spine_bot), label, max(3, int(0.14 * hpx)), cv2.LINE_8, SHIFT)
            if st["l_mark"] is not None:
                for k, mcol in ((5, st["l_mark"]), (6, st["r_mark"]), (11, st["l_mark"]), (12, st["r_mark"])):
                    cv2.circle(image, fixed_point(p[k]), fixed_length(mark_r), mcol, -1, ln, SHIFT)
        else:  # head: skin disc, hair cap on the head_top side, nose dot when facing the camera
            centre = 0.5 * (p[1] + p[2])
            cv2.circle(image, fixed_point(centre), fixed_length(head_r), st["skin"], -1, ln, SHIFT)
            if idmap is not None:
                cv2.circle(idmap, fixed_point(centre), fixed_length(head_r), label, -1, cv2.LINE_8, SHIFT)
            up = p[2] - p[1]
            angle = float(np.degrees(np.arctan2(up[1], up[0])))
            axes = (fixed_length(head_r), fixed_length(head_r * 0.55))
            cv2.ellipse(image, fixed_point(centre + 0.45 * up / 2), axes, angle + 90, 180, 360, st["hair"], -1, ln, SHIFT)
            if st["nose"] is not None and d[0] > d[[1, 2]].mean():
                cv2.circle(image, fixed_point(p[0]), fixed_length(max(1.2, 0.13 * head_r)), st["nose"], -1, ln, SHIFT)


def make_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Textured background (H,W,3) uint8: gradient sky/floor, smooth noise, muted shapes."""
    w, h = size
    top, bottom = rng.uniform(60, 200, 3), rng.uniform(40, 180, 3)
    horizon = rng.uniform(0.35, 0.6)
    y = np.linspace(0, 1, h)[:, None, None]
    img = np.where(y < horizon, top + (bottom - top) * 0.3 * y / horizon,
                   bottom * (0.8 + 0.2 * (y - horizon) / (1 - horizon)))
    img = np.broadcast_to(img, (h, w, 3)).astype(np.float32)
    ch, cw, fh, fw = max(2, h // 24), max(2, w // 24), max(2, h // 3), max(2, w // 3)
    # mostly grey (luminance) texture with a little colour
    coarse = (rng.normal(0, 16, (ch, cw, 1)) + rng.normal(0, 6, (ch, cw, 3))).astype(np.float32)
    fine = (rng.normal(0, 6, (fh, fw, 1)) + rng.normal(0, 2, (fh, fw, 3))).astype(np.float32)
    img = img + cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = img + cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(int(c) for c in rng.uniform(40, 200, 3))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h * 0.9)
        sx, sy = rng.uniform(0.04, 0.2) * w, rng.uniform(0.04, 0.2) * h
        if rng.random() < 0.5:
            cv2.rectangle(out, (int(cx - sx), int(cy - sy)), (int(cx + sx), int(cy + sy)), colour, -1)
        else:
            cv2.ellipse(out, (int(cx), int(cy)), (int(sx), int(sy)), float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return cv2.GaussianBlur(out, (3, 3), 0)


# --------------------------------------------------------------------------------------------
# one video
# --------------------------------------------------------------------------------------------

@dataclass
class Video:
    """A rendered video: frames, per-frame annotations (all frames) and crowd polygons."""

    frames: list[np.ndarray]                 # T x (H,W,3) uint8 BGR
    keypoints: np.ndarray                    # (T, P, 17, 3) float64 x, y, annotated (0/1); 0 rows zeroed
    head_boxes: np.ndarray                   # (T, P, 4) float64 xywh
    present: np.ndarray                      # (T, P) bool: person annotated in the frame
    visible_boxes: np.ndarray                # (T, P, 4) xyxy of the visible joints (for detections)
    ignore_polygons: list[np.ndarray]        # each (M, 2) int32
    background: np.ndarray                   # (H,W,3) uint8: the static scene (with the crowd), no figures


def _crowd(rng: np.random.Generator, num_frames: int, size: tuple[int, int],
           background: np.ndarray) -> list[np.ndarray]:
    """Draw a small static grey crowd into background; return its ignore polygon (or nothing)."""
    w, h = size
    if rng.random() < 0.4:
        return []
    bw, bh = rng.uniform(0.18, 0.32) * w, rng.uniform(0.18, 0.28) * h
    x0 = rng.uniform(0.02 * w, 0.98 * w - bw)
    y0 = rng.uniform(0.05 * h, 0.45 * h - bh * 0.5)
    box = (x0, y0, x0 + bw, y0 + bh)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(3, 7))):
        fig = make_figure(rng, num_frames, size, crowd_box=box)
        draw_figure(background, mask, fig, 0, 255)       # a static crowd: its first frame
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return []
    hull = cv2.convexHull(np.stack([xs, ys], 1).astype(np.int32))[:, 0, :].astype(np.float64)
    centre = hull.mean(0)
    hull = centre + (hull - centre) * 1.08 + np.sign(hull - centre) * 2
    hull[:, 0] = np.clip(hull[:, 0], 0, w - 1)
    hull[:, 1] = np.clip(hull[:, 1], 0, h - 1)
    return [np.round(hull).astype(np.int32)]


def _inside_any(points: np.ndarray, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Bool (N,): points inside or on any polygon."""
    out = np.zeros(len(points), bool)
    for poly in polygons:
        c = poly.reshape(-1, 1, 2).astype(np.float32)
        out |= np.array([cv2.pointPolygonTest(c, (float(x), float(y)), False) >= 0 for x, y in points], bool)
    return out


def render_video(rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                 persons: tuple[int, int] = (2, 4), noise: int = 4, fixed_sides: bool = False) -> Video:
    """Render one video and its complete annotations (every frame; labels are chosen later)."""
    w, h = size
    background = make_background(rng, size)
    polygons = _crowd(rng, num_frames, size, background)
    n = int(rng.integers(persons[0], persons[1] + 1))
    # spread the start positions so figures begin apart and cross (occlude) later
    starts = 0.1 + 0.8 * (np.arange(n) + rng.uniform(0.3, 0.7, n)) / n
    figs = [make_figure(rng, num_frames, size, start_x=float(x), fixed_sides=fixed_sides)
            for x in rng.permutation(starts)]
    kps = np.zeros((num_frames, n, NUM_KPTS, 3))
    head_boxes = np.zeros((num_frames, n, 4))
    vis_boxes = np.zeros((num_frames, n, 4))
    present = np.zeros((num_frames, n), bool)
    frames = []
    idmap = np.zeros((h, w), np.uint8)
    for t in range(num_frames):
        img = background.copy()
        idmap[:] = 0
        order = np.argsort([f.ground[t] for f in figs], kind="stable")  # far (small ground y) first
        for i in order:
            draw_figure(img, idmap, figs[i], t, int(i) + 1)
        if noise:
            img = cv2.add(img, rng.integers(0, noise + 1, img.shape, dtype=np.uint8))
        frames.append(img)
        for i, f in enumerate(figs):
            p = f.points[t, :NUM_KPTS]
            inside = (p[:, 0] >= 0) & (p[:, 0] <= w - 1) & (p[:, 1] >= 0) & (p[:, 1] <= h - 1)
            xi = np.clip(np.round(p[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(p[:, 1]).astype(int), 0, h - 1)
            lab = idmap[yi, xi]
            ann = inside & (lab == i + 1)
            ann[list(UNANNOTATED)] = False
            # head box: a square about the head, 1.2x the head_bottom-head_top distance (annotators'
            # boxes are loose); its diagonal sets the PCKh threshold
            half = 0.6 * float(np.linalg.norm(p[2] - p[1]))
            c = 0.5 * (p[1] + p[2])
            head_boxes[t, i] = np.round([c[0] - half, c[1] - half, 2 * half, 2 * half])
            vp = p[ann]
            if ann.sum() < MIN_ANNOTATED or (np.ptp(vp, axis=0) < 2).any():
                continue  # too little of the person is visible to annotate (or a degenerate box)
            present[t, i] = True
            kps[t, i, ann, :2] = np.round(vp, 2)
            kps[t, i, ann, 2] = 1
            vis_boxes[t, i] = [vp[:, 0].min(), vp[:, 1].min(), vp[:, 0].max(), vp[:, 1].max()]
    return Video(frames, kps, head_boxes, present, vis_boxes, polygons, background)


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
            kept = [poly for poly in video.ignore_polygons if not _inside_any(pts, [poly]).any()]
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


def detections(rng: np.random.Generator, video: Video, number: int, seq_type: str,
               size: tuple[int, int]) -> list[dict[str, Any]]:
    """Noisy detector output for every frame: jittered true boxes, a few misses, false positives."""
    w, h = size
    out = []
    for t in range(len(video.frames)):
        iid = image_id_of(number, seq_type, t)
        boxes, scores = [], []
        for i in np.flatnonzero(video.present[t]):
            if rng.random() < 0.03:
                continue  # missed
            x1, y1, x2, y2 = video.visible_boxes[t, i]
            vis = video.keypoints[t, i, :, 2].sum() / (NUM_KPTS - len(UNANNOTATED))
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
        for poly in video.ignore_polygons:
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


# --------------------------------------------------------------------------------------------
# the dataset
# --------------------------------------------------------------------------------------------

def _videos_per_split(videos: int | Mapping[str, int] | None, splits: Sequence[str]) -> dict[str, int]:
    """Number of videos for each split from an int (all splits), a mapping, or None (defaults)."""
    if videos is None:
        return {s: DEFAULT_VIDEOS.get(s, DEFAULT_VIDEOS["val"]) for s in splits}
    if isinstance(videos, Mapping):
        missing = [s for s in splits if s not in videos]
        if missing:
            raise ValueError(f"no video count for split(s) {missing}")
        counts = {s: int(videos[s]) for s in splits}
    else:
        counts = {s: int(videos) for s in splits}
    bad = {s: n for s, n in counts.items() if n < 1}
    if bad:
        raise ValueError(f"video counts must be >= 1, got {bad}")
    return counts


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    """Encode and write one JPEG (frames are not fsynced one by one: annotations are written last)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {path}")
    path.write_bytes(buf.tobytes())


def generate_posetrack_dataset(
    out_dir: str | Path,
    videos: int | Mapping[str, int] | None = None,
    frames: int = 30,
    seed: int = 0,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    splits: Sequence[str] = ("train", "val"),
    persons: tuple[int, int] = (2, 4),
    jpeg_quality: int = 92,
    draw: int = 0,
    progress: bool = True,
    fixed_sides: bool = False,
) -> dict[str, Any]:
    """Write a synthetic PoseTrack18-layout dataset under out_dir; return a summary dict.

    videos: per-split count (int for every split, a {split: n} mapping, or None for
    DEFAULT_VIDEOS); image_size: (width, height); draw: number of ground-truth overlay PNGs per
    split written to out_dir/overlays/<split>/ for a human to look at; fixed_sides: cool colours
    always on the left (see _style; by default the colour->side assignment is drawn per figure).
    """
    out = Path(out_dir)
    w, h = (int(v) for v in image_size)
    if w < 32 or h < 32:
        raise ValueError(f"image_size {image_size} too small (need at least 32x32)")
    if not 1 <= frames < 10**4:
        raise ValueError(f"frames must be in 1..9999, got {frames}")
    if len(set(splits)) != len(splits) or not splits:
        raise ValueError(f"splits must be distinct and non-empty, got {splits}")
    if not 1 <= persons[0] <= persons[1] < 100:
        raise ValueError(f"persons range {persons} must satisfy 1 <= min <= max < 100")
    counts = _videos_per_split(videos, splits)
    _prepare_out_dir(out, splits)
    start = time.perf_counter()
    _write_marker(out, {"seed": seed, "image_size": [w, h], "frames_per_video": frames, "splits": {}},
                  complete=False)
    # unique sequence numbers across all splits, fixed by the seed
    total = sum(counts.values())
    numbers = np.random.default_rng([seed, 7919]).choice(np.arange(1, 25000), size=total, replace=False)
    summary: dict[str, Any] = {"out_dir": str(out), "image_size": [w, h], "frames_per_video": frames,
                               "seed": seed, "fixed_sides": fixed_sides, "splits": {}}
    offset = 0
    for si, split in enumerate(splits):
        nums = sorted(int(v) for v in numbers[offset:offset + counts[split]])
        offset += counts[split]
        labeled = labeled_frames(frames, split)
        merged: dict[str, Any] = {"categories": [annotation_category()], "images": [], "annotations": []}
        dets: list[dict[str, Any]] = []
        seqs, overlays = [], []
        bar = tqdm(nums, desc=f"synth {split}", unit="video", disable=not progress, leave=False)
        for vi, number in enumerate(bar):
            rng = np.random.default_rng([seed, si, number])
            seq_type = ("bonn" if rng.random() < 0.5 else "mpii") if split == "train" else "mpii"
            name = sequence_name(number, seq_type, split)
            video = render_video(rng, frames, (w, h), persons=persons, fixed_sides=fixed_sides)
            vdir = out / "images" / split / name
            vdir.mkdir(parents=True, exist_ok=True)
            for t, img in enumerate(video.frames):
                _write_jpeg(vdir / f"{t:06d}.jpg", img, jpeg_quality)
            vj = video_json(video, number, seq_type, split, labeled, (w, h))
            write_json(out / "annotations" / split / f"{name}.json", vj)
            merged["images"].extend(vj["images"])
            merged["annotations"].extend(vj["annotations"])
            dets.extend(detections(rng, video, number, seq_type, (w, h)))
            seqs.append(name)
            if vi < draw:
                overlays.append(_draw_overlay(out, split, name, vj, video, labeled))
        write_json(out / "annotations" / f"posetrack18_{split}.json", merged)
        write_json(out / "annotations" / f"posetrack18_{split}_human_detections.json", dets)
        summary["splits"][split] = {
            "videos": len(seqs), "sequences": seqs, "frames": len(merged["images"]),
            "labeled_frames": sum(bool(im["is_labeled"]) for im in merged["images"]),
            "persons": len(merged["annotations"]), "detections": len(dets),
            "ignore_polygons": sum(len(im.get("ignore_regions_x", [])) for im in merged["images"]),
            "overlays": [str(p) for p in overlays],
        }
    summary["seconds"] = round(time.perf_counter() - start, 3)
    _write_marker(out, summary, complete=True)
    log.info("synthetic PoseTrack18 written to %s in %.2f s", out, summary["seconds"])
    return summary


def _write_marker(out: Path, summary: Mapping[str, Any], complete: bool) -> None:
    """The marker file: what was generated (deterministic content: no paths, no timings)."""
    write_json(out / MARKER, {
        "generator": __name__, "complete": complete, "seed": summary["seed"],
        "image_size": summary["image_size"], "frames_per_video": summary["frames_per_video"],
        "splits": {k: {"sequences": v["sequences"], "persons": v["persons"]} for k, v in summary["splits"].items()},
    }, indent=1)


def _prepare_out_dir(out: Path, splits: Sequence[str]) -> None:
    """Refuse a non-empty folder that is not a synthetic dataset; clear the splits about to be rewritten.

    Stale files of an earlier run (e.g. per-video files of other sequences) would otherwise be read
    as ground truth by the evaluation, which lists annotations/<split>/*.json.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(f"{out} is not empty and holds no {MARKER}: refusing to write a synthetic dataset "
                         "into it (choose an empty or new folder)")
    for split in splits:
        for d in (out / "images" / split, out / "annotations" / split, out / "overlays" / split):
            if d.is_dir():
                shutil.rmtree(d)
        for f in (out / "annotations" / f"posetrack18_{split}.json",
                  out / "annotations" / f"posetrack18_{split}_human_detections.json"):
            f.unlink(missing_ok=True)


def _draw_overlay(out: Path, split: str, name: str, vj: dict[str, Any], video: Video,
                  labeled: np.ndarray) -> Path:
    """Ground-truth overlay PNG of the video's first labeled frame (skeletons, boxes, ignore regions)."""
    t = int(np.flatnonzero(labeled)[0])
    iid = vj["images"][t]["id"]
    anns = [a for a in vj["annotations"] if a["image_id"] == iid]
    kps = np.array([a["keypoints"] for a in anns], np.float32).reshape(-1, NUM_KPTS, 3)
    boxes = np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
    polys = [np.stack([x, y], 1) for x, y in zip(vj["images"][t].get("ignore_regions_x", []),
                                                   vj["images"][t].get("ignore_regions_y", []))]
    return save_overlay(out / "overlays" / split / f"{name}_{t:06d}.png", video.frames[t], kps, POSETRACK18,
                        ignore_regions=polys, track_ids=[a["track_id"] for a in anns], boxes_xywh=boxes)

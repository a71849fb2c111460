"""Synthetic figures: 3-D stick bodies in walking motion, projected into the image, and their look.

Each figure is a 3-D stick body (yaw, lean, roll, walking joint angles within human ranges) projected
orthographically. A figure's two sides look different (one side cool coloured, blue arm and green leg,
with light joint markers; the other warm, red and magenta, with dark markers), so the two arms and legs
can be told apart; which side gets which is drawn per figure, keeping the data mirror-symmetric as flip
augmentation and the flip test require (see ``_style``). It walks along the ground as its ``Walk``
says (which walk each figure gets is ``scene``'s choice); its points are in scene coordinates, the
image coordinates of a still camera (``render`` films them through ``camera``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simplepose.visualize import hsv_colour

NUM_KPTS = 17
# Extra rendered points after the 17 PoseTrack18 keypoints.
PELVIS, L_TOE, R_TOE = 17, 18, 19
NUM_POINTS = 20

# Segment lengths as fractions of body height H.
_PROPORTIONS = {
    "head": 0.175, "torso": 0.29, "shoulder_half": 0.105, "hip_half": 0.075, "upper_arm": 0.165,
    "forearm": 0.15, "thigh": 0.245, "shin": 0.24, "foot": 0.06,
}


def _limb_dir(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit limb direction (T,3) in the body frame (x: person's left, y: down, z: forward)."""
    return np.stack([side * np.sin(abd), np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1)


def _wave(rng: np.random.Generator, t: np.ndarray, amp: float, fmin: float, fmax: float) -> np.ndarray:
    """A slow random drift: two sinusoids with random frequencies and phases (T,)."""
    out = np.zeros_like(t, dtype=np.float64)
    for _ in range(2):
        out += amp / 2 * np.sin(rng.uniform(fmin, fmax) * t + rng.uniform(0, 2 * np.pi))
    return out


def _joint_angles(rng: np.random.Generator, t: np.ndarray, crowd: bool, tempo: float = 1.0) -> dict[str, np.ndarray]:
    """Walking-like joint angles in radians over time, within human ranges (each (T,)); tempo scales the
    gait frequency (runners step faster)."""
    omega = rng.uniform(0.25, 0.6) * (0.3 if crowd else tempo)
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
    """One figure's trajectory and look: points (T,20,2) px, depth (T,20), height (T,) px (in the scene,
    or in the image once filmed)."""

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
    cool = {"arm": hsv_colour(rng.uniform(95, 125), sat(), val()),     # blue
            "leg": hsv_colour(rng.uniform(55, 90), sat(), val()),      # green / cyan
            "mark": (235, 245, 245)}                                   # light markers
    warm = {"arm": hsv_colour(rng.uniform(-8, 12), sat(), val()),      # red / orange
            "leg": hsv_colour(rng.uniform(148, 172), sat(), val()),    # magenta / pink
            "mark": (25, 20, 20)}                                      # dark markers
    left, right = (cool, warm) if fixed_sides or rng.random() < 0.5 else (warm, cool)
    return {
        "shirt": hsv_colour(rng.uniform(0, 180), rng.uniform(0, 120), rng.uniform(60, 220)),
        "l_arm": left["arm"], "l_leg": left["leg"], "l_mark": left["mark"],
        "r_arm": right["arm"], "r_leg": right["leg"], "r_mark": right["mark"],
        "skin": hsv_colour(rng.uniform(5, 20), rng.uniform(60, 150), rng.uniform(110, 235)),
        "hair": hsv_colour(rng.uniform(0, 30), rng.uniform(50, 200), rng.uniform(20, 90)),
        # mid grey shoes, so that both the light and the dark markers show on them
        "shoe": hsv_colour(rng.uniform(0, 180), rng.uniform(0, 60), rng.uniform(100, 170)),
        "nose": (40, 40, 170),
        "limb_w": rng.uniform(0.055, 0.07),
    }


@dataclass(frozen=True)
class Walk:
    """How a figure crosses the scene: its centre starts at `start` and moves `speed` per frame (both
    fractions of the width), turning back at `lo` and `hi` (fractions of the width; beyond 0..1 the
    figure walks out of the image before turning). ground: the feet's mean height as a fraction of
    the image height (random if None), swaying by +-ground_sway; tempo scales the gait frequency."""

    start: float
    speed: float
    lo: float = 0.12
    hi: float = 0.88
    ground: float | None = None
    ground_sway: float = 0.06
    tempo: float = 1.0


def walk_x(walk: Walk, t: np.ndarray, width: int) -> np.ndarray:
    """The figure's centre x in px at frames t (T,): a straight walk reflected at lo and hi."""
    lo, hi = walk.lo * width, walk.hi * width
    span = hi - lo
    raw = (walk.start * width - lo + walk.speed * width * t) % (2 * span)
    return lo + np.where(raw > span, 2 * span - raw, raw)


def similar_style(rng: np.random.Generator, style: dict[str, Any]) -> dict[str, Any]:
    """A look like `style` (same clothes, same sides): every colour moved by at most 12 levels."""
    out = dict(style)
    for k, v in style.items():
        if isinstance(v, tuple) and k not in ("l_mark", "r_mark", "nose"):
            out[k] = tuple(int(np.clip(c + rng.integers(-12, 13), 0, 255)) for c in v)
    return out


def make_figure(rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                crowd_box: tuple[float, float, float, float] | None = None,
                walk: Walk | None = None, fixed_sides: bool = False,
                style: dict[str, Any] | None = None) -> Figure:
    """Sample one moving figure (or a small crowd figure inside crowd_box (x0,y0,x1,y1)).

    walk: how it moves (required unless crowd_box); style: its look (drawn if None).
    """
    w, h = size
    t = np.arange(num_frames, dtype=np.float64)
    crowd = crowd_box is not None
    if not crowd and walk is None:
        raise ValueError("a figure outside a crowd needs a walk")
    prop = {k: v * rng.uniform(0.92, 1.08) for k, v in _PROPORTIONS.items()}
    ang = _joint_angles(rng, t, crowd, tempo=1.0 if crowd else walk.tempo)
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
        g0 = rng.uniform(0.8, 0.96) if walk.ground is None else walk.ground
        gfrac = np.clip(g0 + _wave(rng, t, walk.ground_sway, 0.02, 0.08), 0.78, 0.98)
        gy = gfrac * h
        height = h * (0.42 + 0.30 * (gfrac - 0.78) / 0.24) * rng.uniform(0.92, 1.05)
        cx = walk_x(walk, t, w)
    lowest = xy[..., 1].max(axis=1)              # (T,) lowest point (feet) in body units
    pts = xy * height[:, None, None]
    pts[..., 0] += cx[:, None]
    pts[..., 1] += (gy - lowest * height)[:, None]
    look = _style(rng, crowd, fixed_sides) if style is None else style
    return Figure(points=pts, depth=depth, height=height, ground=gy, style=look)

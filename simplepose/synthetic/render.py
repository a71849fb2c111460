"""Rendering synthetic videos: backgrounds, figures drawn with OpenCV, background crowds, occlusion.

Figures are drawn far parts first: limbs as thick lines, torso polygon, head disc with a hair cap,
nose dot, hands, joint markers. An id map drawn alongside tells which figure is nearest at each pixel:
joints outside the image or covered by a nearer figure are left unannotated ``(0, 0, 0)``; ears are
never annotated (as in PoseTrack18). Small grey background "crowds" are surrounded by ignore polygons
and not annotated. The scene is filmed by a still or a moving camera (``camera``): the background,
the crowd, the figures and their annotations all go through each frame's camera map.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from simplepose.synthetic.body import L_TOE, NUM_KPTS, PELVIS, R_TOE, Figure, make_figure, similar_style
from simplepose.synthetic.camera import (Canvas, apply, canvas_for, moving_camera, polygon_in_view, scale_of,
                                         still_camera, view)
from simplepose.synthetic.scene import cast_video
from simplepose.visualize import SHIFT, fixed_length, fixed_point, fixed_points

UNANNOTATED = (3, 4)  # left_ear, right_ear: never annotated in PoseTrack18
MIN_ANNOTATED = 3     # a person with fewer annotated joints in a frame is not annotated there


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
            spine = fixed_point(spine_top), fixed_point(spine_bot)
            spine_w = max(3, int(0.14 * hpx))
            cv2.fillConvexPoly(image, hull, st["shirt"], ln, SHIFT)
            cv2.line(image, *spine, st["shirt"], spine_w, ln, SHIFT)
            if idmap is not None:
                cv2.fillConvexPoly(idmap, hull, label, cv2.LINE_8, SHIFT)
                cv2.line(idmap, *spine, label, spine_w, cv2.LINE_8, SHIFT)
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
            cv2.ellipse(image, fixed_point(centre + 0.45 * up / 2), axes, angle + 90, 180, 360, st["hair"], -1, ln,
                        SHIFT)
            if st["nose"] is not None and d[0] > d[[1, 2]].mean():
                nose_r = fixed_length(max(1.2, 0.13 * head_r))
                cv2.circle(image, fixed_point(p[0]), nose_r, st["nose"], -1, ln, SHIFT)


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


@dataclass
class Video:
    """A rendered video: frames, per-frame annotations (all frames), crowd polygons and the camera."""

    frames: list[np.ndarray]                 # T x (H,W,3) uint8 BGR
    keypoints: np.ndarray                    # (T, P, 17, 3) float64 x, y, annotated (0/1); 0 rows zeroed
    head_boxes: np.ndarray                   # (T, P, 4) float64 xywh
    present: np.ndarray                      # (T, P) bool: person annotated in the frame
    visible_boxes: np.ndarray                # (T, P, 4) xyxy of the visible joints (for detections)
    joints: np.ndarray                       # (T, P, 17, 2) every joint's image position, annotated or not
    covered: np.ndarray                      # (T, P, 17) bool: joint in the image but under a nearer figure
    heights: np.ndarray                      # (T, P) the figure's body height in image px
    ignore_polygons: list[list[np.ndarray]]  # per frame: the crowds in view, each (M, 2) int32
    background: np.ndarray                   # the canvas: the static scene (with the crowd), no figures
    canvas: Canvas                           # where the background lies in reference coordinates
    camera: np.ndarray                       # (T, 2, 3) reference -> image map of each frame

    def background_frame(self, t: int) -> np.ndarray:
        """The background as frame t sees it (H,W,3) uint8: the frame without figures and noise."""
        h, w = self.frames[t].shape[:2]
        return view(self.background, self.canvas, self.camera[t], (w, h))


def _crowd(rng: np.random.Generator, num_frames: int, size: tuple[int, int], background: np.ndarray,
           origin: tuple[int, int]) -> list[np.ndarray]:
    """Draw a small static grey crowd into the background canvas (reference point (0, 0) at canvas
    pixel origin); return its ignore polygon in reference coordinates (or nothing)."""
    w, h = size
    if rng.random() < 0.4:
        return []
    bw, bh = rng.uniform(0.18, 0.32) * w, rng.uniform(0.18, 0.28) * h
    x0 = rng.uniform(0.02 * w, 0.98 * w - bw)
    y0 = rng.uniform(0.05 * h, 0.45 * h - bh * 0.5)
    box = (x0, y0, x0 + bw, y0 + bh)
    mask = np.zeros(background.shape[:2], np.uint8)
    for _ in range(int(rng.integers(3, 7))):
        fig = make_figure(rng, num_frames, size, crowd_box=box)
        fig = replace(fig, points=fig.points + np.asarray(origin, np.float64))
        draw_figure(background, mask, fig, 0, 255)       # a static crowd: its first frame
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return []
    hull = cv2.convexHull(np.stack([xs, ys], 1).astype(np.int32))[:, 0, :].astype(np.float64)
    centre = hull.mean(0)
    hull = centre + (hull - centre) * 1.08 + np.sign(hull - centre) * 2
    return [hull - np.asarray(origin, np.float64)]


def _filmed(fig: Figure, camera: np.ndarray) -> Figure:
    """The figure as the camera (T, 2, 3) sees it: points and height in image pixels."""
    return replace(fig, points=apply(camera, fig.points), height=fig.height * scale_of(camera))


def render_video(rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                 persons: tuple[int, int] = (2, 4), noise: int = 4, fixed_sides: bool = False,
                 camera_motion: bool = True, enter_leave: bool = True, crossings: bool = True,
                 fast_motion: bool = True) -> Video:
    """Render one video and its complete annotations (every frame; labels are chosen later).

    camera_motion: a hand-held camera pans, zooms and shakes (camera.moving_camera), else it is still;
    enter_leave, crossings, fast_motion: the situations of scene.cast_video.
    """
    w, h = size
    camera = moving_camera(rng, num_frames, size) if camera_motion else still_camera(num_frames)
    canvas = canvas_for(camera, size)
    background = make_background(rng, canvas.size)
    crowds = _crowd(rng, num_frames, size, background, canvas.origin)
    n = int(rng.integers(persons[0], persons[1] + 1))
    cast = cast_video(rng, n, num_frames, crossings=crossings, enter_leave=enter_leave, fast_motion=fast_motion)
    figs: list[Figure] = []
    for walk, like in zip(cast.walks, cast.looks_like):
        style = None if like is None else similar_style(rng, figs[like].style)
        figs.append(make_figure(rng, num_frames, size, walk=walk, fixed_sides=fixed_sides, style=style))
    figs = [_filmed(f, camera) for f in figs]
    kps = np.zeros((num_frames, n, NUM_KPTS, 3))
    head_boxes = np.zeros((num_frames, n, 4))
    vis_boxes = np.zeros((num_frames, n, 4))
    present = np.zeros((num_frames, n), bool)
    covered = np.zeros((num_frames, n, NUM_KPTS), bool)
    frames = []
    polygons = []
    idmap = np.zeros((h, w), np.uint8)
    for t in range(num_frames):
        img = view(background, canvas, camera[t], size)
        polygons.append([q for q in (polygon_in_view(c, camera[t], size) for c in crowds) if q is not None])
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
            covered[t, i] = inside & (lab > 0) & (lab != i + 1)
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
    joints = np.stack([f.points[:, :NUM_KPTS] for f in figs], 1)                 # (T, P, 17, 2)
    heights = np.stack([f.height for f in figs], 1)                             # (T, P)
    return Video(frames, kps, head_boxes, present, vis_boxes, joints, covered, heights, polygons, background,
                 canvas, camera)

"""Who walks where in a synthetic video: ordinary walkers plus the situations that test a tracker.

Every figure walks left or right and turns back near the image's margins. On top of that, each
video may cast (each situation with its own switch and probability, figures never sharing a role):

* a crossing: two similarly dressed figures walk towards each other at different depths and meet
  mid-video, the nearer one covering the other (the second figure dresses like the first);
* an entering / leaving figure: it walks out across the left or right border and comes back, or
  walks in from outside, or walks out for good (out of the image it is not annotated, and it
  keeps its track id when it returns);
* a runner: 3.5-5% of the width per frame (13-19 px at 384 px), with a faster gait.

Speeds are fractions of the width per frame: walkers 0.2-1%, crossing figures 0.8-1.3%, figures
walking in or out 0.8-2%, runners 3.5-5%.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simplepose.synthetic.body import Walk

P_CROSSING, P_ENTER_LEAVE, P_FAST = 0.7, 0.7, 0.5   # chance that a video has each situation


@dataclass(frozen=True)
class Cast:
    """The figures' walks; looks_like[i]: the earlier figure that figure i dresses like (or None)."""

    walks: list[Walk]
    looks_like: list[int | None]


def _mirrored(walk: Walk) -> Walk:
    """The same walk seen in a mirror (left and right swapped)."""
    return replace(walk, start=1 - walk.start, speed=-walk.speed, lo=1 - walk.hi, hi=1 - walk.lo)


def crossing_walks(rng: np.random.Generator, num_frames: int) -> tuple[Walk, Walk]:
    """Two walks that meet at mid-video, at different depths (the second is the nearer or the farther)."""
    meet_x, meet_t = rng.uniform(0.35, 0.65), rng.uniform(0.4, 0.6) * (num_frames - 1)
    speed = rng.uniform(0.008, 0.013)
    ground = rng.uniform(0.82, 0.9)
    other = float(np.clip(ground + rng.choice([-1, 1]) * rng.uniform(0.03, 0.06), 0.8, 0.96))
    a = Walk(meet_x - speed * meet_t, speed, lo=0.05, hi=0.95, ground=ground, ground_sway=0.01)
    b = Walk(meet_x + speed * meet_t, -speed, lo=0.05, hi=0.95, ground=other, ground_sway=0.01)
    return (a, b) if rng.random() < 0.5 else (b, a)


def border_walk(rng: np.random.Generator, num_frames: int) -> Walk:
    """A walk across the left or right border: out and back (half the time), in from outside, or out."""
    mode = rng.choice(["out_and_back", "enter", "leave"], p=[0.5, 0.25, 0.25])
    if mode == "out_and_back":      # start inside, turn 12-20% of the width beyond the border
        start, turn = rng.uniform(0.04, 0.15), -rng.uniform(0.12, 0.2)
        speed = float(np.clip(2 * (start - turn) / (0.75 * max(num_frames - 1, 1)), 0.008, 0.02))
        walk = Walk(start, -speed, lo=turn, hi=0.88)
    elif mode == "enter":
        start = -rng.uniform(0.1, 0.2)
        walk = Walk(start, rng.uniform(0.008, 0.02), lo=start - 1e-3, hi=0.88)
    else:
        walk = Walk(rng.uniform(0.1, 0.4), -rng.uniform(0.01, 0.02), lo=-10.0, hi=0.88)
    return _mirrored(walk) if rng.random() < 0.5 else walk


def runner_walk(rng: np.random.Generator) -> Walk:
    """A fast runner: 3.5-5% of the width per frame, gait 1.8x faster, turning at the margins."""
    return Walk(rng.uniform(0.15, 0.85), rng.choice([-1, 1]) * rng.uniform(0.035, 0.05), tempo=1.8)


def cast_video(rng: np.random.Generator, n: int, num_frames: int, crossings: bool = True,
               enter_leave: bool = True, fast_motion: bool = True) -> Cast:
    """The walks of n figures: ordinary walkers, some replaced by the situations switched on."""
    # spread the start positions so figures begin apart and cross (occlude) later
    starts = 0.1 + 0.8 * (np.arange(n) + rng.uniform(0.3, 0.7, n)) / n
    walks = [Walk(float(x), float(rng.choice([-1, 1]) * rng.uniform(0.002, 0.01))) for x in rng.permutation(starts)]
    looks_like: list[int | None] = [None] * n
    roles = [role for role, on, p in (("crossing", crossings, P_CROSSING), ("border", enter_leave, P_ENTER_LEAVE),
                                      ("runner", fast_motion, P_FAST)) if on and rng.random() < p]
    free = list(range(n))
    for role in rng.permutation(roles):
        if role == "crossing" and len(free) >= 2:
            a, b = free.pop(0), free.pop(0)
            walks[a], walks[b] = crossing_walks(rng, num_frames)
            looks_like[b] = a
        elif role == "border" and free:
            walks[free.pop(0)] = border_walk(rng, num_frames)
        elif role == "runner" and free:
            walks[free.pop(0)] = runner_walk(rng)
    return Cast(walks, looks_like)

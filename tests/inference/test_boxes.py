"""Batching frames for the estimator: memory bounded by decoded pixels, not by a frame count."""
from __future__ import annotations

import numpy as np

from simplepose.inference.boxes import MAX_BATCH_PIXELS, BoxProvider, batch_frames
from simplepose.inference.video import Frame


def _frames(sizes: list[tuple[int, int]]) -> list[Frame]:
    """Frames of the given (h, w) whose pixels take no memory (a broadcast view)."""
    return [Frame(np.broadcast_to(np.zeros(1, np.uint8), (h, w, 3)), i, f"{i:06d}", None, "v", i)
            for i, (h, w) in enumerate(sizes)]


def test_batches_are_bounded_by_pixels() -> None:
    frames = _frames([(100, 100)] * 7 + [(1000, 1000)] + [(100, 100)] * 2)
    provider = BoxProvider(frames)          # no box file: one whole-frame box per frame
    sizes = [len(b) for b in batch_frames(frames, provider, max_persons=1000, max_pixels=25_000)]
    assert sizes == [3, 3, 2, 2]            # the 1000x1000 frame closes its batch at once


def test_default_budget_holds_four_4k_frames() -> None:
    frames = _frames([(2160, 3840)] * 10)
    sizes = [len(b) for b in batch_frames(frames, BoxProvider(frames), max_persons=1000)]
    assert sizes == [4, 4, 2] and MAX_BATCH_PIXELS == 4 * 2160 * 3840
    small = _frames([(96, 128)] * 40)       # small frames: more than the old 16 per batch
    assert [len(b) for b in batch_frames(small, BoxProvider(small), max_persons=1000)] == [40]

"""Runs a boxmot tracker (ByteTrack or OC-SORT) over cached per-frame persons; run by the peer venv's python.

    PEER/bin/python benchmarks/tracking_peers.py IN.npz OUT.npz bytetrack '[{"track_thresh": 0.5}, ...]'

IN.npz: ``boxes`` (P, 4) xyxy and ``scores`` (P,) of every person, frame after frame; ``frame_start``
(F + 1,) the offsets of each frame's persons; ``video`` (F,) each frame's video number (a new
number restarts the tracker); ``image_hw`` (2,) the frame size. For each of the S parameter sets,
OUT.npz holds in row s: ``ids`` (S, P) the id the tracker gave each person (-1: the tracker did not
output it), ``wall``/``cpu`` (S, F) seconds per update() call. A person is found in the tracker's output by its detection index (the last column
of boxmot's rows), so keypoints follow their box. This file imports boxmot, never simplepose.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def make(name: str, params: dict):
    """A fresh boxmot tracker."""
    from boxmot import ByteTrack, OcSort
    return {"bytetrack": ByteTrack, "ocsort": OcSort}[name](**params)


def main() -> None:
    """Read the persons, track every video with every parameter set, write the ids and the update times."""
    src, dst, name, sets = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    data = np.load(src)
    runs = [track(data, name, params) for params in sets]
    np.savez(dst, **{k: np.stack([r[i] for r in runs]) for i, k in enumerate(("ids", "wall", "cpu"))})


def track(data, name: str, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids (P,), wall (F,), cpu (F,)) of one tracker over every video."""
    boxes, scores, start, video = data["boxes"], data["scores"], data["frame_start"], data["video"]
    img = np.zeros((*[int(v) for v in data["image_hw"]], 3), np.uint8)
    ids = np.full(len(boxes), -1, np.int64)
    wall, cpu = np.zeros(len(video)), np.zeros(len(video))
    tracker, current = None, None
    for f in range(len(video)):
        if video[f] != current:
            tracker, current = make(name, params), video[f]
        a, b = int(start[f]), int(start[f + 1])
        dets = np.concatenate([boxes[a:b], scores[a:b, None], np.zeros((b - a, 1))], 1).astype(np.float32)
        w0, c0 = time.perf_counter(), time.process_time()
        out = tracker.update(dets.reshape(-1, 6), img)
        wall[f], cpu[f] = time.perf_counter() - w0, time.process_time() - c0
        for row in np.asarray(out).reshape(-1, 8):
            ids[a + int(row[7])] = int(row[4])
    return ids, wall, cpu


if __name__ == "__main__":
    main()

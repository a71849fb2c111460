"""The online tracking loop shared by `simplepose track` and `simplepose infer --track`: a tracker frame
by frame over a stream of frames from one or more sequences (videos, folders of frames).

The tracker is chosen by the track section (TrackConfig.tracker): ``flowsort`` (default;
tracking/flowsort.py: FlowTrack's persons, ids by Kalman motion, camera motion from the flow,
optimal assignment in ByteTrack's rounds, OC-SORT's re-update, flow-warped OKS fused with IoU) or
``flowtrack`` (the paper's tracker, tracking/flowtrack.py, unchanged).

Per frame: a new sequence resets the tracker (ids from 0) and the smoother; the person boxes are
asked for on every ``det_every``-th frame of the sequence only (counted by position, so a gap in
the frame numbers does not shift the schedule), the detector's time is counted as the detector
stage; FlowTracker.step tracks the frame (frame numbers with gaps count as unseen frames); the
keypoints are One-Euro smoothed when ``smooth.enabled``. Settings come from the tracker's config.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simplepose.tracking.flowsort import FlowSortConfig, FlowSortTracker
from simplepose.tracking.flowtrack import FlowTrackConfig, FlowTracker, FrameTracks
from simplepose.tracking.smoothing import PoseSmoother

Boxes = tuple[np.ndarray, np.ndarray]          # (D, 4) xyxy, (D,) scores
BoxSource = Callable[[np.ndarray], Boxes]      # image (H, W, 3) BGR -> the frame's person boxes
NO_BOXES: Boxes = (np.zeros((0, 4)), np.zeros(0))
_NEW = object()                                # the sequence before the first frame: matches none
TRACKERS = ("flowsort", "flowtrack")


@dataclass
class TrackConfig(FlowTrackConfig):
    """The track section: FlowTrack's settings, which tracker gives the ids, and FlowSORT's settings."""

    tracker: str = "flowsort"       # "flowsort" (FlowTrack's persons, SORT-family ids) or "flowtrack" (the paper's)
    sort: FlowSortConfig = field(default_factory=FlowSortConfig)

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        problems = super().check() + self.sort.check()
        if self.tracker not in TRACKERS:
            problems.append(f"tracker must be one of {', '.join(TRACKERS)}, got {self.tracker!r}")
        return problems


def make_tracker(estimator: Any, sigmas: np.ndarray, cfg: FlowTrackConfig) -> FlowTracker:
    """The tracker cfg.tracker names (a plain FlowTrackConfig: FlowTrack) over `estimator`, OKS sigmas (K,)."""
    if getattr(cfg, "tracker", "flowtrack") == "flowsort":
        return FlowSortTracker(estimator, sigmas, cfg, cfg.sort)
    return FlowTracker(estimator, sigmas, cfg)


class OnlineTracker:
    """One tracker (and smoother) driven frame by frame; see the module docstring."""

    def __init__(self, tracker: FlowTracker):
        """tracker: the FlowTracker or FlowSortTracker to drive (its cfg gives det_every and smoothing)."""
        self.tracker = tracker
        self.cfg = tracker.cfg
        self.smoother = PoseSmoother(self.cfg.smooth) if self.cfg.smooth.enabled else None
        self.sequence: Hashable = _NEW
        self.position = 0                      # frames of the current sequence seen so far

    def step(self, image: np.ndarray, sequence: Hashable, frame_index: int, boxes: BoxSource) -> FrameTracks:
        """The tracked persons of one frame (image H x W x 3 uint8 BGR) of `sequence`, frame number frame_index.

        boxes(image) gives the frame's person boxes; it is called on detection frames only.
        """
        if sequence != self.sequence:
            self.tracker.reset()
            if self.smoother is not None:
                self.smoother.reset()
            self.sequence, self.position = sequence, 0
        with self.tracker.clock("detector"):
            dets = boxes(image) if self.position % self.cfg.det_every == 0 else NO_BOXES
        out = self.tracker.step(image, *dets, frame_index=frame_index)
        self.position += 1
        if self.smoother is not None:
            out.keypoints = self.smoother(out.keypoints, out.track_ids, frame_index)
        return out

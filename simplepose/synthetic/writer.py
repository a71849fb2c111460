"""Writing a synthetic PoseTrack-layout dataset: rendered videos, their annotations and detections.

Writes, for each split (``train``, ``val``), under ``out_dir``, in the PoseTrack18 layout:

- ``images/<split>/<seq>/<frame:06d>.jpg``: JPEG frames,
- ``annotations/<split>/<seq>.json``: one official PoseTrack18 file per video (what poseval reads),
- ``annotations/posetrack18_<split>.json``: all videos merged (the file MMPose trains and tests on),
- ``annotations/posetrack18_<split>_human_detections.json``: noisy person detections (COCO results);

in the PoseTrack21 layout the same frames, ``posetrack_data/<split>/<seq>.json`` (PoseTrack21's
files: what its evaluation kit reads) and ``posetrack_data/posetrack21_<split>_human_detections.json``;

and the marker ``synthetic_dataset.json`` (what was generated; ``"complete": true`` once the rest is
written). Everything is deterministic for a seed.
"""
from __future__ import annotations

import logging
import re
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
from simplepose.errors import DataError
from simplepose.folders import check_owned, mark_owned, remove_owned
from simplepose.io import write_json
from simplepose.synthetic.annotations import (detections, labeled_frames, sequence_name, video_json,
                                              video_json_posetrack21)
from simplepose.synthetic.body import NUM_KPTS
from simplepose.synthetic.camera import canvas_pixels_bound
from simplepose.synthetic.render import Video, render_video
from simplepose.visualize import save_overlay

log = logging.getLogger(__name__)

DEFAULT_VIDEOS = {"train": 16, "val": 6}
DEFAULT_IMAGE_SIZE = (384, 288)
MAX_IMAGE_SIDE = 4096                # frame width and height at most
MAX_FRAMES = 1000                    # frames per video at most
MAX_CANVAS_PIXELS = 100_000_000      # a moving camera's background (which zoom and pan grow with frames)
MARKER = "synthetic_dataset.json"  # written last into out_dir: the generation summary
# The marker's "generator" value: the package, not __name__, so that the dataset's bytes depend on
# the seed and options only, not on which module holds the code.
_GENERATOR = "simplepose.synthetic"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")   # a split is one folder name, never a path


@dataclass(frozen=True)
class Layout:
    """Where one dataset layout keeps its files, relative to the dataset root ({split}: the split's name)."""

    annotations: str            # folder of the per-video files: <annotations>/<split>/<seq>.json
    merged: str | None          # all videos of a split in one file (MMPose's), None: not written
    detections: str             # the noisy detector's boxes (COCO results)
    marked_above: bool = False  # the split folders' files are listed in <annotations>/'s marker, not in
                                # their own: tools that read every file of a split folder see no marker


LAYOUTS: dict[str, Layout] = {
    "posetrack18": Layout("annotations", "annotations/posetrack18_{split}.json",
                          "annotations/posetrack18_{split}_human_detections.json"),
    # PoseTrack21 ships per-video files only (posetrack_data/<split>/); it has no detections file
    "posetrack21": Layout("posetrack_data", None, "posetrack_data/posetrack21_{split}_human_detections.json",
                          marked_above=True),
}


@dataclass
class SynthOptions:
    """What `generate_posetrack_dataset` writes: sizes, seed and the tracker's challenges switched on.

    videos: per-split count (int for every split, a {split: n} mapping, or None for DEFAULT_VIDEOS);
    layout: "posetrack18" or "posetrack21" (LAYOUTS; synthetic.annotations.video_json_posetrack21 says
    what PoseTrack21's files hold); image_size: (width, height); persons: (min, max) annotated
    figures per video; draw: number of ground-truth overlay PNGs per split written to
    out_dir/overlays/<split>/ for a human to look at;
    fixed_sides: cool colours always on the left (see body._style; by default the colour->side
    assignment is drawn per figure); bursty_misses: detector misses follow size, occlusion,
    truncation and motion and come in bursts (synthetic.annotations), else each person is missed
    independently with probability 0.03; camera_motion: a hand-held camera pans, zooms and shakes
    (synthetic.camera); enter_leave, crossings, fast_motion: figures walk out of and into the
    image, similarly dressed figures cross, runners (synthetic.scene).
    """

    videos: int | Mapping[str, int] | None = None
    layout: str = "posetrack18"
    frames: int = 30
    seed: int = 0
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    splits: Sequence[str] = ("train", "val")
    persons: tuple[int, int] = (2, 4)
    jpeg_quality: int = 92
    draw: int = 0
    fixed_sides: bool = False
    bursty_misses: bool = True
    camera_motion: bool = True
    enter_leave: bool = True
    crossings: bool = True
    fast_motion: bool = True

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        w, h = (int(v) for v in self.image_size)
        problems = []
        if self.layout not in LAYOUTS:
            problems.append(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if not 32 <= min(w, h) or max(w, h) > MAX_IMAGE_SIDE:
            problems.append(f"image_size {w}x{h} must be 32x32 to {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}")
        if not 1 <= self.frames <= MAX_FRAMES:
            problems.append(f"frames must be in 1..{MAX_FRAMES}, got {self.frames}")
        elif self.camera_motion and canvas_pixels_bound(self.frames, (w, h)) > MAX_CANVAS_PIXELS:
            problems.append(f"a moving camera over {self.frames} frames of {w}x{h} may need a background of up to "
                            f"{canvas_pixels_bound(self.frames, (w, h)) / 1e6:.0f} megapixels (limit "
                            f"{MAX_CANVAS_PIXELS / 1e6:.0f}): use fewer frames or a still camera (--no-camera-motion)")
        if len(set(self.splits)) != len(self.splits) or not self.splits:
            problems.append(f"splits must be distinct and non-empty, got {self.splits}")
        bad_names = [s for s in self.splits if not _PLAIN_NAME.fullmatch(s)]
        if bad_names:
            problems.append(f"split names must be plain folder names (letters, digits, '.', '_', '-', "
                            f"not starting with '.'), got {bad_names[0]!r}")
        if not 1 <= self.persons[0] <= self.persons[1] < 100:
            problems.append(f"persons range {self.persons} must satisfy 1 <= min <= max < 100")
        counts = self.video_counts()
        if isinstance(counts, str):
            problems.append(counts)
        return problems

    def video_counts(self) -> dict[str, int] | str:
        """Number of videos for each split, or what is wrong with `videos`."""
        if self.videos is None:
            return {s: DEFAULT_VIDEOS.get(s, DEFAULT_VIDEOS["val"]) for s in self.splits}
        if isinstance(self.videos, Mapping):
            missing = [s for s in self.splits if s not in self.videos]
            if missing:
                return f"no video count for split(s) {missing}"
            counts = {s: int(self.videos[s]) for s in self.splits}
        else:
            counts = {s: int(self.videos) for s in self.splits}
        bad = {s: n for s, n in counts.items() if n < 1}
        return f"video counts must be >= 1, got {bad}" if bad else counts

    def features(self) -> dict[str, bool]:
        """The switches, as the summary and the marker record them."""
        return {"fixed_sides": self.fixed_sides, "bursty_misses": self.bursty_misses,
                "camera_motion": self.camera_motion, "enter_leave": self.enter_leave,
                "crossings": self.crossings, "fast_motion": self.fast_motion}


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    """Encode and write one JPEG (frames are not fsynced one by one: annotations are written last)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {path}")
    path.write_bytes(buf.tobytes())


def generate_posetrack_dataset(out_dir: str | Path, options: SynthOptions | None = None,
                               progress: bool = True) -> dict[str, Any]:
    """Write a synthetic PoseTrack18- or PoseTrack21-layout dataset under out_dir; return a summary dict.

    Which switches were on is recorded in the summary and the marker ("features"). Bad options,
    and an out_dir that is neither empty nor a synthetic dataset, raise DataError.
    """
    out = Path(out_dir)
    opts = options if options is not None else SynthOptions()
    problems = opts.check()
    if problems:
        raise DataError(out, problems[0])
    counts = opts.video_counts()
    assert isinstance(counts, dict)                      # check() found no problem with it
    layout = LAYOUTS[opts.layout]
    _prepare_out_dir(out, opts.splits, layout)
    start = time.perf_counter()
    w, h = (int(v) for v in opts.image_size)
    summary: dict[str, Any] = {"out_dir": str(out), "image_size": [w, h], "frames_per_video": opts.frames,
                               "seed": opts.seed, "layout": opts.layout, "features": opts.features(), "splits": {}}
    _write_marker(out, summary, complete=False)
    # unique sequence numbers across all splits, fixed by the seed
    total = sum(counts.values())
    numbers = np.random.default_rng([opts.seed, 7919]).choice(np.arange(1, 25000), size=total, replace=False)
    offset = 0
    for si, split in enumerate(opts.splits):
        nums = sorted(int(v) for v in numbers[offset:offset + counts[split]])
        offset += counts[split]
        summary["splits"][split] = _write_split(out, opts, layout, si, split, nums, progress)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    _write_marker(out, summary, complete=True)
    log.info("synthetic %s written to %s in %.2f s", opts.layout, out, summary["seconds"])
    return summary


def _write_split(out: Path, opts: SynthOptions, layout: Layout, si: int, split: str, nums: Sequence[int],
                 progress: bool) -> dict[str, Any]:
    """Render and write the videos `nums` of split number `si`; the split's summary."""
    size = (int(opts.image_size[0]), int(opts.image_size[1]))
    labeled = labeled_frames(opts.frames, split)
    merged: dict[str, Any] = {"categories": [annotation_category()], "images": [], "annotations": []}
    dets: list[dict[str, Any]] = []
    seqs, overlays = [], []
    bar = tqdm(nums, desc=f"synth {split}", unit="video", disable=not progress, leave=False)
    for vi, number in enumerate(bar):
        rng = np.random.default_rng([opts.seed, si, number])
        seq_type = ("bonn" if rng.random() < 0.5 else "mpii") if split == "train" else "mpii"
        name = sequence_name(number, seq_type, split)
        video = render_video(rng, opts.frames, size, persons=opts.persons, fixed_sides=opts.fixed_sides,
                             camera_motion=opts.camera_motion, enter_leave=opts.enter_leave,
                             crossings=opts.crossings, fast_motion=opts.fast_motion)
        _mark_split_dirs(out, layout, split, name, opts.frames, labeled if vi < opts.draw else None)
        vdir = out / "images" / split / name
        vdir.mkdir(parents=True, exist_ok=True)
        for t, img in enumerate(video.frames):
            _write_jpeg(vdir / f"{t:06d}.jpg", img, opts.jpeg_quality)
        vj = (video_json_posetrack21(video, number, seq_type, split, labeled) if opts.layout == "posetrack21"
              else video_json(video, number, seq_type, split, labeled, size))
        write_json(out / layout.annotations / split / f"{name}.json", vj)
        merged["images"].extend(vj["images"])
        merged["annotations"].extend(vj["annotations"])
        dets.extend(detections(rng, video, number, seq_type, size, bursty_misses=opts.bursty_misses))
        seqs.append(name)
        if vi < opts.draw:
            overlays.append(_draw_overlay(out, split, name, vj, video, labeled))
    if layout.merged:
        write_json(out / layout.merged.format(split=split), merged)
    write_json(out / layout.detections.format(split=split), dets)
    labeled_ids = {im["id"] for im in merged["images"] if im["is_labeled"]}
    return {"videos": len(seqs), "sequences": seqs, "frames": len(merged["images"]),
            "labeled_frames": len(labeled_ids),
            "persons": sum(a["image_id"] in labeled_ids for a in merged["annotations"]),
            "boxes": len(merged["annotations"]), "detections": len(dets),
            "ignore_polygons": sum(len(im.get("ignore_regions_x", [])) for im in merged["images"]),
            "overlays": [str(p) for p in overlays]}


def _write_marker(out: Path, summary: Mapping[str, Any], complete: bool) -> None:
    """The marker file: what was generated (deterministic content: no paths, no timings)."""
    write_json(out / MARKER, {
        "generator": _GENERATOR, "complete": complete, "seed": summary["seed"],
        "image_size": summary["image_size"], "frames_per_video": summary["frames_per_video"],
        "layout": summary["layout"], "features": summary["features"],
        "splits": {k: {"sequences": v["sequences"], "persons": v["persons"]} for k, v in summary["splits"].items()},
    }, indent=1)


def _split_dirs(out: Path, layout: Layout, split: str) -> tuple[Path, Path, Path]:
    """The folders written for one split: images, per-video annotations, overlays."""
    return out / "images" / split, out / layout.annotations / split, out / "overlays" / split


def _owners(out: Path, layout: Layout, split: str) -> tuple[Path, Path, Path]:
    """The folders whose markers (simplepose.folders.mark_owned) own the split's folders."""
    images, annotations, overlays = _split_dirs(out, layout, split)
    return images, (out / layout.annotations if layout.marked_above else annotations), overlays


def _mark_split_dirs(out: Path, layout: Layout, split: str, name: str, frames: int,
                     labeled: np.ndarray | None) -> None:
    """Mark the split's folders as the project's, listing video `name`'s files before they are written
    (its overlay too when `labeled` is given; above the split folder, the split's detections too)."""
    images, annotations, overlays = _owners(out, layout, split)
    mark_owned(images, [f"{name}/{t:06d}.jpg" for t in range(frames)])
    if layout.marked_above:
        detections = Path(layout.detections.format(split=split)).relative_to(layout.annotations).as_posix()
        mark_owned(annotations, [f"{split}/{name}.json", detections])
    else:
        mark_owned(annotations, [f"{name}.json"])
    if labeled is not None:
        mark_owned(overlays, [f"{name}_{int(np.flatnonzero(labeled)[0]):06d}.png"])


def _prepare_out_dir(out: Path, splits: Sequence[str], layout: Layout) -> None:
    """Refuse a non-empty folder that is not a synthetic dataset; clear the splits about to be rewritten
    (only folders the project wrote, holding nothing else: simplepose.folders.remove_owned).

    Stale files of an earlier run (e.g. per-video files of other sequences) would otherwise be read
    as ground truth by the evaluation, which lists the split's annotation folder.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(out, "exists and is not a folder")
    if any(out.iterdir()) and not (out / MARKER).is_file():
        raise DataError(out, f"is not empty and holds no {MARKER}: refusing to write a synthetic dataset into it "
                             "(choose an empty or new folder)")
    for split in splits:                      # check all before deleting any
        for d in _owners(out, layout, split):
            check_owned(d)
    for split in splits:
        for d, owner in zip(_split_dirs(out, layout, split), _owners(out, layout, split)):
            if d == owner:
                remove_owned(d)
            elif d.exists():                  # owned by the marker above it, checked just now
                shutil.rmtree(d)
        for f in (layout.merged, layout.detections):
            if f:
                (out / f.format(split=split)).unlink(missing_ok=True)


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

"""Writing a synthetic PoseTrack18-layout dataset: rendered videos, their annotations and detections.

Writes, for each split (``train``, ``val``), under ``out_dir``:

- ``images/<split>/<seq>/<frame:06d>.jpg``: JPEG frames,
- ``annotations/<split>/<seq>.json``: one official PoseTrack18 file per video (what poseval reads),
- ``annotations/posetrack18_<split>.json``: all videos merged (the file MMPose trains and tests on),
- ``annotations/posetrack18_<split>_human_detections.json``: noisy person detections (COCO results),

and the marker ``synthetic_dataset.json`` (what was generated; ``"complete": true`` once the rest is
written). Everything is deterministic for a seed.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from simplepose.data.keypoints import POSETRACK18, annotation_category
from simplepose.errors import DataError
from simplepose.folders import check_owned, mark_owned, remove_owned
from simplepose.io import write_json
from simplepose.synthetic.annotations import detections, labeled_frames, sequence_name, video_json
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


def _videos_per_split(out: Path, videos: int | Mapping[str, int] | None, splits: Sequence[str]) -> dict[str, int]:
    """Number of videos for each split from an int (all splits), a mapping, or None (defaults)."""
    if videos is None:
        return {s: DEFAULT_VIDEOS.get(s, DEFAULT_VIDEOS["val"]) for s in splits}
    if isinstance(videos, Mapping):
        missing = [s for s in splits if s not in videos]
        if missing:
            raise DataError(out, f"no video count for split(s) {missing}")
        counts = {s: int(videos[s]) for s in splits}
    else:
        counts = {s: int(videos) for s in splits}
    bad = {s: n for s, n in counts.items() if n < 1}
    if bad:
        raise DataError(out, f"video counts must be >= 1, got {bad}")
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
    bursty_misses: bool = True,
    camera_motion: bool = True,
    enter_leave: bool = True,
    crossings: bool = True,
    fast_motion: bool = True,
) -> dict[str, Any]:
    """Write a synthetic PoseTrack18-layout dataset under out_dir; return a summary dict.

    videos: per-split count (int for every split, a {split: n} mapping, or None for
    DEFAULT_VIDEOS); image_size: (width, height); draw: number of ground-truth overlay PNGs per
    split written to out_dir/overlays/<split>/ for a human to look at; fixed_sides: cool colours
    always on the left (see body._style; by default the colour->side assignment is drawn per figure);
    bursty_misses: detector misses follow size, occlusion, truncation and motion and come in bursts
    (synthetic.annotations), else each person is missed independently with probability 0.03; camera_motion: a hand-held
    camera pans, zooms and shakes (synthetic.camera); enter_leave, crossings, fast_motion: figures walk
    out of and into the image, similarly dressed figures cross, runners (synthetic.scene). Which of
    these were on is recorded in the summary and the marker ("features").
    Bad arguments, and an out_dir that is neither empty nor a synthetic dataset, raise DataError.
    """
    out = Path(out_dir)
    w, h = (int(v) for v in image_size)
    if not 32 <= min(w, h) or max(w, h) > MAX_IMAGE_SIDE:
        raise DataError(out, f"image_size {w}x{h} must be 32x32 to {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}")
    if not 1 <= frames <= MAX_FRAMES:
        raise DataError(out, f"frames must be in 1..{MAX_FRAMES}, got {frames}")
    if camera_motion and canvas_pixels_bound(frames, (w, h)) > MAX_CANVAS_PIXELS:
        raise DataError(out, f"a moving camera over {frames} frames of {w}x{h} may need a background of up to "
                             f"{canvas_pixels_bound(frames, (w, h)) / 1e6:.0f} megapixels (limit "
                             f"{MAX_CANVAS_PIXELS / 1e6:.0f}): use fewer frames or a still camera (--no-camera-motion)")
    if len(set(splits)) != len(splits) or not splits:
        raise DataError(out, f"splits must be distinct and non-empty, got {splits}")
    bad_names = [s for s in splits if not _PLAIN_NAME.fullmatch(s)]
    if bad_names:
        raise DataError(out, f"split names must be plain folder names (letters, digits, '.', '_', '-', "
                             f"not starting with '.'), got {bad_names[0]!r}")
    if not 1 <= persons[0] <= persons[1] < 100:
        raise DataError(out, f"persons range {persons} must satisfy 1 <= min <= max < 100")
    counts = _videos_per_split(out, videos, splits)
    _prepare_out_dir(out, splits)
    start = time.perf_counter()
    features = {"fixed_sides": fixed_sides, "bursty_misses": bursty_misses, "camera_motion": camera_motion,
                "enter_leave": enter_leave, "crossings": crossings, "fast_motion": fast_motion}
    _write_marker(out, {"seed": seed, "image_size": [w, h], "frames_per_video": frames, "features": features,
                        "splits": {}}, complete=False)
    # unique sequence numbers across all splits, fixed by the seed
    total = sum(counts.values())
    numbers = np.random.default_rng([seed, 7919]).choice(np.arange(1, 25000), size=total, replace=False)
    summary: dict[str, Any] = {"out_dir": str(out), "image_size": [w, h], "frames_per_video": frames,
                               "seed": seed, "features": features, "splits": {}}
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
            video = render_video(rng, frames, (w, h), persons=persons, fixed_sides=fixed_sides,
                                 camera_motion=camera_motion, enter_leave=enter_leave, crossings=crossings,
                                 fast_motion=fast_motion)
            _mark_split_dirs(out, split, name, frames, labeled if vi < draw else None)
            vdir = out / "images" / split / name
            vdir.mkdir(parents=True, exist_ok=True)
            for t, img in enumerate(video.frames):
                _write_jpeg(vdir / f"{t:06d}.jpg", img, jpeg_quality)
            vj = video_json(video, number, seq_type, split, labeled, (w, h))
            write_json(out / "annotations" / split / f"{name}.json", vj)
            merged["images"].extend(vj["images"])
            merged["annotations"].extend(vj["annotations"])
            dets.extend(detections(rng, video, number, seq_type, (w, h), bursty_misses=bursty_misses))
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
        "generator": _GENERATOR, "complete": complete, "seed": summary["seed"],
        "image_size": summary["image_size"], "frames_per_video": summary["frames_per_video"],
        "features": summary["features"],
        "splits": {k: {"sequences": v["sequences"], "persons": v["persons"]} for k, v in summary["splits"].items()},
    }, indent=1)


def _split_dirs(out: Path, split: str) -> tuple[Path, Path, Path]:
    """The folders written for one split (each marked as the project's: simplepose.folders.mark_owned)."""
    return out / "images" / split, out / "annotations" / split, out / "overlays" / split


def _mark_split_dirs(out: Path, split: str, name: str, frames: int, labeled: np.ndarray | None) -> None:
    """Mark the split's folders as the project's, listing video `name`'s files before they are written
    (its overlay too when `labeled` is given)."""
    images, annotations, overlays = _split_dirs(out, split)
    mark_owned(images, [f"{name}/{t:06d}.jpg" for t in range(frames)])
    mark_owned(annotations, [f"{name}.json"])
    if labeled is not None:
        mark_owned(overlays, [f"{name}_{int(np.flatnonzero(labeled)[0]):06d}.png"])


def _prepare_out_dir(out: Path, splits: Sequence[str]) -> None:
    """Refuse a non-empty folder that is not a synthetic dataset; clear the splits about to be rewritten
    (only folders the project wrote, holding nothing else: simplepose.folders.remove_owned).

    Stale files of an earlier run (e.g. per-video files of other sequences) would otherwise be read
    as ground truth by the evaluation, which lists annotations/<split>/*.json.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(out, "exists and is not a folder")
    if any(out.iterdir()) and not (out / MARKER).is_file():
        raise DataError(out, f"is not empty and holds no {MARKER}: refusing to write a synthetic dataset into it "
                             "(choose an empty or new folder)")
    for split in splits:                      # check all before deleting any
        for d in _split_dirs(out, split):
            check_owned(d)
    for split in splits:
        for d in _split_dirs(out, split):
            remove_owned(d)
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

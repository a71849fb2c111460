"""`simplepose synth OUT_DIR`: write a synthetic PoseTrack18- or PoseTrack21-layout dataset."""
from __future__ import annotations

import argparse
import json

# synthetic.writer's DEFAULT_VIDEOS, DEFAULT_IMAGE_SIZE and LAYOUTS' names, spelled out here: importing
# that module would load OpenCV with the CLI's parser (tests/commands check that they agree)
DEFAULT_VIDEOS = {"train": 16, "val": 6}
DEFAULT_IMAGE_SIZE = (384, 288)
LAYOUT_NAMES = ("posetrack18", "posetrack21")


def _videos(text: str) -> int | dict[str, int]:
    """Parse --videos: 'N' for every split or 'train=16,val=6'."""
    try:
        if "=" not in text:
            return int(text)
        out = {}
        for part in text.split(","):
            split, n = part.split("=")
            out[split.strip()] = int(n)
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or split=N,split=N, got {text!r}") from None


def _splits(text: str) -> tuple[str, ...]:
    """Parse --splits 'train,val'."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise argparse.ArgumentTypeError("no split given")
    return parts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the synth command."""
    parser.add_argument("out_dir", metavar="OUT_DIR", help="dataset root to write (images/, annotations/)")
    parser.add_argument("--format", choices=LAYOUT_NAMES, default="posetrack18",
                        help="the dataset layout: posetrack18 (annotations/, merged files) or posetrack21 "
                             "(posetrack_data/<split>/<seq>.json, boxes on every frame) (default posetrack18)")
    default = ",".join(f"{k}={v}" for k, v in DEFAULT_VIDEOS.items())
    parser.add_argument("--videos", type=_videos, default=None,
                        help=f"videos per split: N for every split or train=N,val=M (default {default})")
    parser.add_argument("--frames", type=int, default=30, help="frames per video (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--width", type=int, default=DEFAULT_IMAGE_SIZE[0], help="frame width in pixels")
    parser.add_argument("--height", type=int, default=DEFAULT_IMAGE_SIZE[1], help="frame height in pixels")
    parser.add_argument("--splits", type=_splits, default=("train", "val"), help="comma-separated splits")
    parser.add_argument("--persons", type=int, nargs=2, default=(2, 4), metavar=("MIN", "MAX"),
                        help="annotated figures per video (default 2 4)")
    parser.add_argument("--draw", action="store_true",
                        help="write ground-truth overlay PNGs to OUT_DIR/overlays/<split>/ for a human to look at")
    parser.add_argument("--draw-count", type=int, default=3, metavar="N",
                        help="with --draw: overlays per split, one per video (default 3)")
    parser.add_argument("--no-bursty-misses", action="store_true",
                        help="detector misses independent (3%%) instead of following size, occlusion, "
                             "truncation and motion, in bursts")
    parser.add_argument("--no-camera-motion", action="store_true",
                        help="a still camera (default: a hand-held camera pans, zooms and shakes)")
    parser.add_argument("--no-enter-leave", action="store_true",
                        help="no figures walking out of or into the image (default: some do, across the borders)")
    parser.add_argument("--no-crossings", action="store_true",
                        help="no similarly dressed figures crossing each other's path (default: some do)")
    parser.add_argument("--no-fast-motion", action="store_true",
                        help="no runners (default: some figures move 3.5-5%% of the width per frame)")
    parser.add_argument("--fixed-sides", action="store_true",
                        help="cool colours / light markers always on the figures' left (default: drawn per "
                             "figure, which keeps the data mirror-symmetric for flip augmentation)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print a summary."""
    # OpenCV loads here, not at import: the CLI imports every command module for its parser
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    options = SynthOptions(
        videos=args.videos, layout=args.format, frames=args.frames, seed=args.seed,
        image_size=(args.width, args.height),
        splits=args.splits, persons=tuple(args.persons), draw=args.draw_count if args.draw else 0,
        fixed_sides=args.fixed_sides, bursty_misses=not args.no_bursty_misses,
        camera_motion=not args.no_camera_motion, enter_leave=not args.no_enter_leave,
        crossings=not args.no_crossings, fast_motion=not args.no_fast_motion)
    summary = generate_posetrack_dataset(args.out_dir, options, progress=not args.quiet)
    for split, s in summary["splits"].items():
        print(f"{split}: {s['videos']} videos, {s['frames']} frames ({s['labeled_frames']} labeled), "
              f"{s['persons']} annotated persons ({s['boxes']} boxes), {s['ignore_polygons']} ignore polygons, "
              f"{s['detections']} detections")
        for p in s["overlays"]:
            print(f"  overlay: {p}")
    print(f"written to {summary['out_dir']} in {summary['seconds']:.2f} s")
    if getattr(args, "verbose", False):
        print(json.dumps(summary, indent=1))
    return 0

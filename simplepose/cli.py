"""The `simplepose` command: one sub-command per module in simplepose/commands/."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from simplepose.errors import SimplePoseError

# sub-command -> (module, one-line help); modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("simplepose.commands.demo", "synthesise data, train a small model, evaluate, draw (CPU, ~6 min on 2 cores)"),
    "synth": ("simplepose.commands.synth", "write a synthetic PoseTrack18-layout dataset"),
    "train": ("simplepose.commands.train", "train from a YAML config (one process or torchrun)"),
    "test": ("simplepose.commands.test", "evaluate a checkpoint on a config's validation split"),
    "track": ("simplepose.commands.track", "track the val videos of a config (FlowTrack) and score mAP and MOTA"),
    "eval": ("simplepose.commands.eval", "official PoseTrack18 mAP of a prediction folder"),
    "infer": ("simplepose.commands.infer", "run a checkpoint on images, a folder or a video"),
    "export": ("simplepose.commands.export", "export a checkpoint to ONNX"),
}


def build_parser() -> argparse.ArgumentParser:
    """Parser with every sub-command's arguments."""
    parser = argparse.ArgumentParser(
        prog="simplepose",
        description="SimpleBaseline top-down pose estimation and tracking for PoseTrack18, in plain PyTorch.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except SimplePoseError as e:
        print(f"simplepose {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"simplepose {args.command}: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

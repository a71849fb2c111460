"""The `simplepose` command: one sub-command per module in simplepose/commands/."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from simplepose import __version__
from simplepose.errors import SimplePoseError

# sub-command -> (module, one-line help); modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("simplepose.commands.demo", "synthesise data, train a small model, evaluate, track, draw (CPU: 4-6 min on 2 cores with "
             "AMX or AVX512_BF16, several times longer on older or busy CPUs; configs/synthetic_demo.md)"),
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
    parser.add_argument("--version", action="version", version=f"simplepose {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).add_arguments(p)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that every cleanup (finally, except) runs."""


def _terminate(signum: int, frame: object) -> None:
    """The SIGTERM handler."""
    raise Terminated("terminated by SIGTERM")


def os_error_text(error: OSError) -> str:
    """`FILE: problem` of an OS error (the second file too for a rename)."""
    problem = error.strerror or str(error)
    where = " -> ".join(os.fsdecode(f) for f in (error.filename, error.filename2) if f is not None)
    return f"{where}: {problem}" if where else problem


def _peer_stopped(error: RuntimeError) -> bool:
    """Whether a torchrun job's collective failed because another of its processes stopped (gloo: the
    connection closed by the peer; NCCL: a distributed backend error), read from the error's class and
    where it was raised, so that the CLI needs no torch."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return False
    if any(c.__module__.startswith("torch.distributed") for c in type(error).__mro__):
        return True
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "torch/distributed/" in tb.tb_frame.f_code.co_filename.replace(os.sep, "/")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        # SIGTERM would end the process without unwinding: temp files (a video being written) stay
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = None
    try:
        return int(module.run(args) or 0)
    except SimplePoseError as e:
        print(f"simplepose {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        # disk full, read-only, permissions, a folder where a file goes: the OS's words and the file
        print(f"simplepose {args.command}: error: {os_error_text(e)}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        if not _peer_stopped(e):
            raise
        print(f"simplepose {args.command}: error: another process of this torchrun job stopped (its error is "
              "above), so this one stops too", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"simplepose {args.command}: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(e, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

"""Command-line sub-commands: each module has add_arguments(parser) and run(args) -> int."""
from __future__ import annotations

import argparse

# model.precision.PRECISIONS, spelled out here: importing that module would load torch with the CLI's
# parser (tests/commands check that the two agree)
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")


def add_precision_argument(parser: argparse.ArgumentParser, default: str, why: str) -> None:
    """--precision {auto,fp32,bf16,fp16} with this command's default and the reason for it."""
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=default,
                        help=f"numeric precision of the network: auto (bf16 where the CPU has AMX or "
                             f"AVX512_BF16, or a CUDA GPU with bf16; fp32 elsewhere), fp32, bf16 or fp16; "
                             f"default {default}: {why}")

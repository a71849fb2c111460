"""`simplepose export CHECKPOINT OUT.onnx`: ONNX with a dynamic batch, checked against PyTorch."""
from __future__ import annotations

import argparse

from simplepose.commands import add_precision_argument
from simplepose.errors import SimplePoseError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the export command."""
    parser.add_argument("checkpoint", help="MMPose 0.x/1.x or simplepose checkpoint (path or URL)")
    parser.add_argument("output", help="ONNX file to write")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"),
                        help="network input width and height (multiples of 32); default: the size the "
                             "checkpoint records (its training config, or MMPose's config text), else 192 256 "
                             "with a warning")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the onnxruntime comparison with PyTorch")
    parser.add_argument("--tolerance", type=float, default=None,
                        help="largest accepted |ONNX - PyTorch| heatmap difference (default 1e-4 for fp32, "
                             "1e-2 for bf16/fp16)")
    add_precision_argument(parser, "fp32", "the precision PyTorch runs in for the check (the ONNX graph is "
                                           "float32); auto compares with the path `infer` would run")


def run(args: argparse.Namespace) -> int:
    """Export, compare ONNX Runtime with PyTorch on random inputs at batch 1 and 3, then write."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.inference.export import DEFAULT_TOLERANCE, export_verified
    from simplepose.model.precision import resolve_precision
    from simplepose.model.checkpoint import load_model_and_settings
    from simplepose.model.settings import checkpoint_input_size

    if args.input_size is not None and any(v <= 0 or v % 32 for v in args.input_size):
        raise SimplePoseError(f"input size {args.input_size[0]}x{args.input_size[1]} must be a positive "
                              "multiple of 32 in both dimensions")
    model, _, settings = load_model_and_settings(args.checkpoint)
    if args.input_size is not None:
        size = (args.input_size[0], args.input_size[1])
    else:
        size = checkpoint_input_size(settings, args.checkpoint, model.num_deconv)
    precision = resolve_precision(args.precision, "cpu").name
    tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE[precision]
    path, diff = export_verified(model, args.output, size, opset=args.opset,
                                 tolerance=None if args.no_verify else tolerance, precision=precision)
    print(f"wrote {path} (ResNet-{model.depth}, {model.num_keypoints} keypoints, input 3x{size[1]}x{size[0]}, "
          f"dynamic batch, opset {args.opset})")
    if diff is not None:
        print(f"onnxruntime vs PyTorch ({precision}): max abs heatmap difference {diff:.3g} (batches 1 and 3), "
              f"within {tolerance:g}")
    return 0

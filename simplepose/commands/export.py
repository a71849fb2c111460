"""`simplepose export CHECKPOINT OUT.onnx`: ONNX with a dynamic batch, checked against PyTorch."""
from __future__ import annotations

import argparse

from simplepose.errors import SimplePoseError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the export command."""
    parser.add_argument("checkpoint", help="MMPose 0.x/1.x or simplepose checkpoint (path or URL)")
    parser.add_argument("output", help="ONNX file to write")
    parser.add_argument("--input-size", type=int, nargs=2, default=(192, 256), metavar=("W", "H"),
                        help="network input width and height (default 192 256)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the onnxruntime comparison with PyTorch")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest accepted |ONNX - PyTorch| heatmap difference (default 1e-4)")


def run(args: argparse.Namespace) -> int:
    """Export, compare ONNX Runtime with PyTorch on random inputs at batch 1 and 3, then write."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.inference.export import export_verified
    from simplepose.model.checkpoint import load_model

    model, _ = load_model(args.checkpoint)
    size = (args.input_size[0], args.input_size[1])
    if size[0] % 32 or size[1] % 32:
        raise SimplePoseError(f"input size {size[0]}x{size[1]} must be a multiple of 32 in both dimensions")
    path, diff = export_verified(model, args.output, size, opset=args.opset,
                                 tolerance=None if args.no_verify else args.tolerance)
    print(f"wrote {path} (ResNet-{model.depth}, {model.num_keypoints} keypoints, input 3x{size[1]}x{size[0]}, "
          f"dynamic batch, opset {args.opset})")
    if diff is not None:
        print(f"onnxruntime vs PyTorch: max abs heatmap difference {diff:.3g} (batches 1 and 3), "
              f"within {args.tolerance:g}")
    return 0

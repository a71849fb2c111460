"""`simplepose export CHECKPOINT OUT.onnx`: ONNX with a dynamic batch, checked against PyTorch; with
`--int8 --calibrate CONFIG`, statically quantised to int8 on crops of the config's train split and
checked on held-out ones (simplepose.inference.export)."""
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
    parser.add_argument("--int8", action="store_true",
                        help="write the model quantised to int8 (QDQ; OpenVINO runs it on AMX-INT8/VNNI); "
                             "needs --calibrate")
    parser.add_argument("--calibrate", metavar="CONFIG",
                        help="with --int8: experiment config whose train split gives the calibration crops")
    parser.add_argument("--calibration-count", type=int, default=128,
                        help="with --int8: train persons sampled (default 128); a quarter is held out for the check")
    parser.add_argument("--min-agreement", type=float, default=0.9,
                        help="with --int8: smallest accepted share of confident held-out joints decoding within "
                             "one heatmap pixel of float32 (default 0.9)")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override --calibrate's config values, e.g. --set data.data_root=/data/posetrack18")
    add_precision_argument(parser, "fp32", "the precision PyTorch runs in for the check (the ONNX graph is "
                                           "float32); auto compares with the path `infer` would run")


def run(args: argparse.Namespace) -> int:
    """Export, compare ONNX Runtime with PyTorch on random inputs at batch 1 and 3, then write."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.inference.deployed import export_metadata
    from simplepose.inference.estimator import schema_from_meta
    from simplepose.inference.export import DEFAULT_TOLERANCE, export_verified, require_export_packages
    from simplepose.model.precision import resolve_precision
    from simplepose.model.checkpoint import load_model_and_settings
    from simplepose.model.settings import checkpoint_input_size

    if args.input_size is not None and any(v <= 0 or v % 32 for v in args.input_size):
        raise SimplePoseError(f"input size {args.input_size[0]}x{args.input_size[1]} must be a positive "
                              "multiple of 32 in both dimensions")
    if args.int8 and not args.calibrate:
        raise SimplePoseError("--int8 needs --calibrate CONFIG: crops of its train split set the activation ranges")
    if args.int8 and args.calibration_count < 2:
        raise SimplePoseError(f"--calibration-count must be >= 2 (some to calibrate, some to check), "
                              f"got {args.calibration_count}")
    if not 0 <= args.min_agreement <= 1:
        raise SimplePoseError(f"--min-agreement must be within [0, 1], got {args.min_agreement:g}")
    require_export_packages(args.output, verify=args.int8 or not args.no_verify)    # before the slow part
    model, meta, settings = load_model_and_settings(args.checkpoint)
    if args.input_size is not None:
        size = (args.input_size[0], args.input_size[1])
    else:
        size = checkpoint_input_size(settings, args.checkpoint, model.num_deconv)
    # what a runtime needs beside the graph (PoseEstimator.from_onnx reads it back)
    schema = schema_from_meta(meta, model.num_keypoints, source=args.checkpoint, dataset=settings.dataset).name
    if args.int8:
        return _export_int8(args, model, size, export_metadata(size, schema, "int8"))
    precision = resolve_precision(args.precision, "cpu").name
    tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE[precision]
    path, diff = export_verified(model, args.output, size, opset=args.opset,
                                 tolerance=None if args.no_verify else tolerance, precision=precision,
                                 metadata=export_metadata(size, schema, "float32"))
    print(f"wrote {path} (ResNet-{model.depth}, {model.num_keypoints} keypoints, input 3x{size[1]}x{size[0]}, "
          f"dynamic batch, opset {args.opset})")
    if diff is not None:
        print(f"onnxruntime vs PyTorch ({precision}): max abs heatmap difference {diff:.3g} (batches 1 and 3), "
              f"within {tolerance:g}")
    return 0


def _export_int8(args: argparse.Namespace, model, size: tuple[int, int], metadata: dict[str, str]) -> int:
    """Calibrate on three quarters of the sampled train crops, check on the rest, write, print."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.engine.config import apply_overrides, load_config
    from simplepose.engine.data import calibration_crops
    from simplepose.inference.export import export_int8_verified
    from simplepose.model.head import heatmap_output_size

    cfg = load_config(args.calibrate, args.overrides)
    if tuple(cfg.data.input_size) != size:      # crop at the exported size (the heatmap size follows)
        hw, hh = heatmap_output_size(size, model.num_deconv)
        cfg = apply_overrides(cfg, [f"data.input_size=[{size[0]},{size[1]}]", f"data.heatmap_size=[{hw},{hh}]"])
    crops = calibration_crops(cfg, args.calibration_count)
    held = max(1, len(crops) // 4)
    path, agreement = export_int8_verified(model, args.output, crops[held:], crops[:held], size, args.opset,
                                           args.min_agreement, metadata)
    print(f"wrote {path} (int8 QDQ, ResNet-{model.depth}, {model.num_keypoints} keypoints, input 3x{size[1]}x"
          f"{size[0]}, dynamic batch, opset {args.opset}; activation ranges from {len(crops) - held} train crops)")
    print(f"int8 vs float32 on {held} held-out crops: {agreement:.1%} of the confident joints decode within one "
          f"heatmap pixel (required {args.min_agreement:.0%})")
    return 0

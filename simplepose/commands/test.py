"""`simplepose test CONFIG CHECKPOINT`: predict the configured val split, write predictions, print the table."""
from __future__ import annotations

import argparse
from pathlib import Path

from simplepose.commands import add_precision_argument
from simplepose.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `simplepose test`."""
    parser.add_argument("config", help="YAML experiment config (its data section is used)")
    parser.add_argument("checkpoint", help="checkpoint path or URL (simplepose or MMPose 0.x/1.x)")
    parser.add_argument("--bbox-file", help="person detections (COCO results json) instead of GT boxes")
    parser.add_argument("--out-dir", help="where prediction files and metrics.json go (default "
                        "<runtime.work_dir>/test; a relative work_dir is taken from the current folder, as "
                        "`train` takes it)")
    parser.add_argument("--json", metavar="OUT", help="also write the metrics (and per-joint detail) to this JSON")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. --set data.data_root=/data/posetrack18")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: runtime.device)")
    add_precision_argument(parser, "fp32", "the test loop reproduces the reference numbers exactly; "
                                           "auto or bf16 run faster within ~0.2 AP")
    parser.add_argument("--report", metavar="DIR", default=None,
                        help="also write an HTML evaluation report (PoseTrack18) to DIR/index.html")


def run(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint; prints the PoseTrack18 table or the COCO stats."""
    # torch loads here, not at import: the CLI imports every command module for its parser
    from simplepose.engine import distributed
    from simplepose.engine.config import load_config
    from simplepose.engine.data import load_instances
    from simplepose.engine.datasets import dataset_spec
    from simplepose.engine.evaluate import evaluate_predictions, predict_instances, write_evaluation_report
    from simplepose.io import write_json
    from simplepose.model.checkpoint import load_model

    cfg = load_config(args.config, args.overrides)
    if args.report and not dataset_spec(cfg.data.dataset).video:
        raise ConfigError(args.config, "--report needs a PoseTrack (video) dataset", key="data.dataset")
    device, info = (distributed.setup_device(args.device, "--device", None) if args.device
                    else distributed.setup_device(cfg.runtime.device))
    try:
        model, _ = load_model(args.checkpoint)
        model = model.to(device).eval()
        instances = load_instances(cfg, "val", bbox_file=args.bbox_file)
        predictions = predict_instances(cfg, model, instances, device, keep_bar=True,
                                        precision=args.precision)
        if not info.is_main:
            return 0
        out_dir = Path(args.out_dir or Path(cfg.runtime.work_dir) / "test").absolute()
        evaluation = evaluate_predictions(cfg, predictions, out_dir)
        metrics = write_json(out_dir / "metrics.json", evaluation.to_json(), indent=1)
        if args.json:
            write_json(args.json, evaluation.to_json(), indent=1)
    finally:
        distributed.cleanup()
    print(evaluation.table)
    print(f"predictions: {Path(evaluation.predictions).absolute()}")
    print(f"metrics: {metrics}" + (f" and {Path(args.json).absolute()}" if args.json else ""))
    if args.report:
        print(f"report: {Path(write_evaluation_report(evaluation, args.report)).absolute()}")
    return 0

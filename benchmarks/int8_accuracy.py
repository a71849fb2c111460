"""int8 post-training quantisation of a trained model: Total AP against fp32 and bf16, and speed.

Quantises the checkpoint as `simplepose export --int8` does (ONNX Runtime static QDQ, activation
ranges from --calibration train crops of --data, agreement checked on a held-out quarter), runs the
int8 file with OpenVINO (AMX-INT8 / VNNI kernels; ONNX Runtime when OpenVINO is not installed) inside
the test loop, and scores fp32, bf16 (where native) and int8 predictions on the val split of --val
(default --data) with the official PoseTrack18 metric. int8 is worth shipping only if it costs
<= 0.5 Total AP. Prints the machine, per-joint AP, and each test loop's wall time.

    python benchmarks/int8_accuracy.py --data DEMO_OUT/data --checkpoint DEMO_OUT/work/latest.pth [--val VAL24]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from host import cpu  # noqa: E402  (benchmarks/host.py)
from inference import Int8Model  # noqa: E402  (benchmarks/inference.py)
from simplepose.engine.config import apply_overrides, load_config  # noqa: E402
from simplepose.engine.data import calibration_crops, load_instances  # noqa: E402
from simplepose.engine.evaluate import evaluate_predictions, predict_instances  # noqa: E402
from simplepose.inference.export import int8_agreement, onnx_bytes, quantize_int8  # noqa: E402
from simplepose.model.checkpoint import load_model  # noqa: E402
from simplepose.model.precision import cpu_bf16_support  # noqa: E402


def main() -> int:
    """Quantise, predict the val split three ways, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset root with the train split (calibration)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--val", help="dataset root whose val split is scored (default --data)")
    p.add_argument("--config", default=str(REPO / "configs" / "synthetic_demo.yaml"))
    p.add_argument("--calibration", type=int, default=128, help="train crops sampled; a quarter is held out")
    args = p.parse_args()
    threads = torch.get_num_threads()
    print(f"machine: {cpu()}; torch {torch.__version__}, {threads} threads")
    cfg = apply_overrides(load_config(args.config), [f"data.data_root={args.data}"])
    model, _ = load_model(args.checkpoint)
    model.eval()
    crops = calibration_crops(cfg, args.calibration)
    held = max(1, len(crops) // 4)
    t0 = time.perf_counter()
    data = onnx_bytes(model, tuple(cfg.data.input_size))
    int8 = quantize_int8(data, crops[held:])
    agreement = int8_agreement(data, int8, crops[:held])
    print(f"int8: quantised on {len(crops) - held} train crops in {time.perf_counter() - t0:.1f} s; "
          f"{agreement:.1%} of the confident joints of {held} held-out crops within one heatmap pixel of float32")
    try:
        net = Int8Model(int8, "openvino", threads)
    except ImportError:
        net = Int8Model(int8, "onnxruntime", threads)
    cfg = apply_overrides(cfg, [f"data.data_root={args.val or args.data}"])
    val = load_instances(cfg, "val")
    runs = [("fp32", model, "fp32")] + ([("bf16", model, "bf16")] if cpu_bf16_support()[0] else []) \
        + [(f"int8 ({net.name})", net, "fp32")]
    print(f"{len(val)} val persons, flip test {'on' if cfg.data.flip_test else 'off'}")
    print("| network | Head | Shou | Elb | Wri | Hip | Knee | Ankl | Total AP | test loop s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, network, precision in runs:
            t0 = time.perf_counter()
            predictions = predict_instances(cfg, network, val, "cpu", progress=False, precision=precision)
            seconds = time.perf_counter() - t0
            m = evaluate_predictions(cfg, predictions, Path(tmp) / name.split()[0]).metrics
            totals[name] = m["Total AP"]
            joints = " | ".join(f"{m[k + ' AP']:.1f}" for k in ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl"))
            print(f"| {name} | {joints} | {m['Total AP']:.2f} | {seconds:.1f} |", flush=True)
    int8_name = runs[-1][0]
    print(f"int8 - fp32: {totals[int8_name] - totals['fp32']:+.2f} Total AP (int8 is worth shipping at >= -0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

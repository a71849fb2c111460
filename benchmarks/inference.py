"""Inference speed of the res50 256x192 SimpleBaseline on CPU, against MMPose 1.3.2.

Measures, in one run:
  * the fp32 (and bf16) matmul peak (torch.mm, n=2048 and 4096, the fastest call) and the
    model's GFLOP per instance (FlopCounterMode),
  * end to end: PoseEstimator.predict on the 3 real PoseTrack18 sample frames with their 14 GT boxes,
    flip test on, JPEG decoding included (one predict call per image, and one predict_batch call),
  * the same end to end in bf16 (precision="auto" on a CPU with AMX / AVX512_BF16: the fused
    oneDNN model in bf16) and its ratio to the bf16 model-only rate (the pre/post-processing share),
  * model only (heatmaps from a ready input batch) at batch 1, 8, 16 and 32, flip test off and on:
    PyTorch eager as MMPose runs it (plain), BN folded + channels_last, our default inference path
    (oneDNN fused conv+ReLU / conv+add+ReLU on folded weights, original and flipped copy in one pass,
    chunked) in fp32 and bf16, and as peers on the same folded model and input, when installed:
    ONNX Runtime (fp32) and OpenVINO (fp32 and bf16 inference precision hints),
  * each as persons/s and as the fraction of the FLOP bound (GFLOP per person / matmul peak of its
    dtype: fp32 rows against the fp32 torch.mm peak, bf16 rows against the bf16 one).
The machine (CPU model and its fp32/bf16 instruction sets) is named in the first lines, and the
malloc setting every simplepose predict path makes (simplepose/allocator.py; SIMPLEPOSE_MALLOC=system
measures without it); the peers in this process (ONNX Runtime, OpenVINO) run under it too.
MMPose is measured in the same run when MMPOSE_PYTHON names the peer venv's python; otherwise the
recorded baseline (shared/peers/mmpose/mmpose_baseline.md) is printed and labelled as such.
Every timing is the median of --repeats runs after one warm-up; `others` is the share of the
machine's CPU time used by other processes meanwhile (read from /proc/stat): trust rows with low values.
"per CPU-s" is persons per second of this process's own CPU time: on a shared machine, at 1 thread
(--threads 1), it is far less sensitive to other processes than the wall-clock rate.

Opt-in section `int8`: the model statically quantised to int8 by ONNX
Runtime (QDQ; calibrated on random inputs, so for speed only), run by ONNX Runtime and by OpenVINO
(AMX-INT8 / VNNI kernels where the CPU has them); its "of bound" column uses the bf16 matmul peak.

Usage: python benchmarks/inference.py [--repeats 3] [--sections e2e,model,bf16,onnx,openvino,mmpose[,int8]]
       [--batches 1,8,16,32] [--sweep]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simplepose.allocator import keep_freed_memory  # noqa: E402
from simplepose.inference.estimator import PoseEstimator  # noqa: E402
from simplepose.inference.topdown import BF16_CHUNK, DEFAULT_CHUNK  # noqa: E402
from simplepose.model.fusion import fold_batchnorm, prepare_for_inference, prepare_in_precision  # noqa: E402
from simplepose.model.precision import Precision, cpu_bf16_support  # noqa: E402
from host import cpu  # noqa: E402  (benchmarks/host.py)
from simplepose.model.pose_model import SimpleBaseline, predict_heatmaps  # noqa: E402

SHARED = Path(os.environ.get("SIMPLEPOSE_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "data" / "mmpose_test_samples" / "posetrack18"
FLIP_INDICES = [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
BATCHES = (1, 8, 16, 32)
# Recorded in shared/peers/mmpose/mmpose_baseline.md (same machine type, idle, torch threads 2).
MMPOSE_RECORDED = {"e2e_flip": (4.1, None), ("model", 1, False): (9.4, None), ("model", 1, True): (4.7, None),
                   ("model", 8, False): (10.6, None), ("model", 8, True): (5.2, None),
                   ("model", 32, False): (7.7, None), ("model", 32, True): (3.8, None)}

_HZ = os.sysconf("SC_CLK_TCK")
_NCPU = os.cpu_count() or 1


def _busy_seconds() -> float:
    """CPU-busy seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / _HZ


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall time of fn over repeats (after warm-up) and the median CPU share of other processes."""
    for _ in range(warmup):
        fn()
    walls, cpus, others = [], [], []
    for _ in range(repeats):
        busy0, own0, t0 = _busy_seconds(), sum(os.times()[:2]), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        own = sum(os.times()[:2]) - own0
        walls.append(wall)
        cpus.append(own)
        others.append(max(0.0, (_busy_seconds() - busy0 - own) / (wall * _NCPU)))
    return {"median_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "others": statistics.median(others)}


def matmul_peak(repeats: int = 5, sizes: tuple[int, ...] = (2048, 4096), dtype: torch.dtype = torch.float32) -> float:
    """torch.mm GFLOP/s in dtype at the current thread count: the fastest of repeats over sizes.

    The best, not the median: a peak. 4096 too because AMX bf16 reached its rate only there (a
    median at 2048 read 1018 GFLOP/s in one run, where the network itself ran at 1.3x that)."""
    best = 0.0
    for n in sizes:
        a, b, c = (torch.randn(n, n).to(dtype) for _ in range(3))
        for _ in range(3):
            torch.mm(a, b, out=c)
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def model_gflop(model: torch.nn.Module) -> float:
    """GFLOP of one 3x256x192 instance (2 per multiply-accumulate of conv/deconv/matmul)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 256, 192))
    return counter.get_total_flops() / 1e9


def benchmark_model() -> SimpleBaseline:
    """res50 SimpleBaseline (17 keypoints) with PyTorch's default init, as MMPose's baseline had."""
    torch.manual_seed(0)
    model = SimpleBaseline(50, 17)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return model.eval()


def gt_boxes() -> list[tuple[Path, np.ndarray]]:
    """(image path, xywh boxes (N, 4)) of the 3 sample frames, from the annotation file."""
    ann = json.loads((SAMPLES / "annotations" / "test_posetrack18_val.json").read_text())
    groups: dict[int, list] = {}
    for a in ann["annotations"]:
        groups.setdefault(a["image_id"], []).append(a["bbox"])
    return [(SAMPLES / im["file_name"], np.array(groups[im["id"]], np.float64))
            for im in ann["images"] if im["id"] in groups]


def row(name: str, persons: int, r: dict[str, float], gflop_per_person: float, peak: float,
        mmpose: tuple[float, float | None] | None = None, mmpose_src: str = "") -> dict:
    """Print one result line (wall-clock rate, rate per CPU-second, ratios to MMPose) and return it."""
    rate, cpu_rate = persons / r["median_s"], persons / max(r["cpu_s"], 1e-9)
    frac = rate * gflop_per_person / peak
    extra = ""
    if mmpose and mmpose[0]:
        extra = f"  | MMPose {mmpose[0]:5.2f}/s{mmpose_src} x{rate / mmpose[0]:.2f}"
        if mmpose[1]:
            extra += f"; per CPU-s {mmpose[1]:5.2f} x{cpu_rate / mmpose[1]:.2f}"
    print(f"{name:<48} {rate:6.2f}/s {frac:6.1%} of bound  per CPU-s {cpu_rate:6.2f}  others {r['others']:.2f}"
          f"{extra}", flush=True)
    return {"name": name, "persons_per_s": rate, "persons_per_cpu_s": cpu_rate, "bound_fraction": frac,
            "others_cpu": r["others"], "mmpose": mmpose}


class OpenVinoModel(torch.nn.Module):
    """The BN-folded model compiled by OpenVINO (dynamic batch) behind the nn.Module call interface."""

    def __init__(self, model: torch.nn.Module, precision: str, threads: int) -> None:
        """precision: OpenVINO's INFERENCE_PRECISION_HINT ("f32" or "bf16")."""
        super().__init__()
        import openvino as ov  # optional peer: only when installed
        t0 = time.perf_counter()
        graph = ov.convert_model(fold_batchnorm(model).eval(), example_input=torch.zeros(1, 3, 256, 192),
                                 input=[(-1, 3, 256, 192)])
        self.compiled = ov.Core().compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                               "INFERENCE_NUM_THREADS": threads,
                                                               "PERFORMANCE_HINT": "LATENCY"})
        self.request = self.compiled.create_infer_request()
        self.setup_s = time.perf_counter() - t0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> heatmaps (N, K, H/4, W/4) float32."""
        out = self.request.infer({0: x.detach().float().contiguous().numpy()})
        return torch.from_numpy(next(iter(out.values())).copy())


class Int8Model(torch.nn.Module):
    """An int8 ONNX model (bytes, simplepose.inference.export.quantize_int8) behind the nn.Module call
    interface, run by ONNX Runtime or OpenVINO (optional peers: ImportError when not installed)."""

    def __init__(self, data: bytes, runtime: str, threads: int) -> None:
        """runtime: "onnxruntime" or "openvino"."""
        super().__init__()
        if runtime == "openvino":
            import openvino as ov
            core = ov.Core()
            request = core.compile_model(core.read_model(data), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                                      "PERFORMANCE_HINT": "LATENCY"}
                                         ).create_infer_request()
            self.name = f"OpenVINO {ov.__version__.split('-')[0]}"
            self.run = lambda x: next(iter(request.infer({0: x}).values()))
        else:
            from simplepose.inference.export import onnx_session
            session = onnx_session(data, threads)
            self.name = "onnxruntime"
            self.run = lambda x: session.run(["heatmaps"], {"input": x})[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> heatmaps (N, K, h, w) float32."""
        return torch.from_numpy(np.array(self.run(x.detach().float().contiguous().numpy()), np.float32))


# Runs inside the MMPose peer venv (MMPOSE_PYTHON): the same measurements through MMPose's own API.
_MMPOSE_SNIPPET = r"""
import json, os, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch
threads, repeats, sections = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
frames, batches = json.loads(sys.argv[4]), json.loads(sys.argv[5])
torch.set_num_threads(threads)
import mmpose
from mmengine.config import Config
from mmpose.apis import inference_topdown, init_model
from mmpose.models.utils.tta import flip_heatmaps
cfg = Config.fromfile(os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs", "body_2d_keypoint",
                      "topdown_heatmap", "posetrack18", "td-hm_res50_8xb64-20e_posetrack18-256x192.py"))
cfg.model.backbone.init_cfg = None
model = init_model(cfg, checkpoint=None, device="cpu").eval()
fi = model.dataset_meta["flip_indices"]
def timed(fn):
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time(); fn()
        walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)
out = {"threads": torch.get_num_threads()}
if "e2e" in sections:
    n = sum(len(b) for _, b in frames)
    w, c = timed(lambda: [inference_topdown(model, p, np.array(b), bbox_format="xywh") for p, b in frames])
    out["e2e_flip"] = (n / w, n / c)
def fwd(x, flip):
    with torch.no_grad():
        h = model.head.forward(model.extract_feat(x))
        if flip:
            hf = model.head.forward(model.extract_feat(x.flip(-1)))
            h = (h + flip_heatmaps(hf, flip_indices=fi, flip_mode="heatmap", shift_heatmap=True)) * 0.5
    return h
if "model" in sections:
    for bs in batches:
        x = torch.randn(bs, 3, 256, 192)
        for flip in (False, True):
            w, c = timed(lambda: fwd(x, flip))
            out[f"model_{bs}_{int(flip)}"] = (bs / w, bs / c)
print("RESULT " + json.dumps(out))
"""


def run_mmpose(repeats: int, threads: int, sections: set[str], frames: list[tuple[Path, np.ndarray]],
               batches: tuple[int, ...] = BATCHES) -> dict:
    """MMPose 1.3.2 measured now in the peer venv (MMPOSE_PYTHON) at the same thread count; {} if unset."""
    python = os.environ.get("MMPOSE_PYTHON")
    if not python:
        return {}
    wanted = ",".join(sorted(sections & {"e2e", "model"}))
    arg = json.dumps([(str(p), b.tolist()) for p, b in frames])
    busy0, t0 = _busy_seconds(), time.perf_counter()
    proc = subprocess.run([python, "-c", _MMPOSE_SNIPPET, str(threads), str(repeats), wanted, arg,
                           json.dumps(list(batches))],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"MMPose peer run failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        return {}
    rec = json.loads(lines[-1][len("RESULT "):])
    out: dict = {"e2e_flip": tuple(rec["e2e_flip"]) if "e2e_flip" in rec else None}
    for key, value in rec.items():
        if key.startswith("model_"):
            _, bs, flip = key.split("_")
            out[("model", int(bs), bool(int(flip)))] = tuple(value)
    # the peer's own CPU time is part of busy time; what is left is other processes' share
    out["others"] = max(0.0, (_busy_seconds() - busy0 - _children_cpu()) / (wall * _NCPU))
    return out


def _children_cpu() -> float:
    """CPU seconds used by finished child processes of this process."""
    t = os.times()
    return t.children_user + t.children_system


def main() -> int:
    """Run the selected sections and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sections", default="e2e,model,bf16,onnx,openvino,mmpose")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="model-only batch sizes")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep the chunk size (images per pass), fp32 and (with bf16) bf16")
    parser.add_argument("--json", help="write all rows to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = set(args.sections.split(","))
    batches = tuple(int(b) for b in args.batches.split(","))
    threads = torch.get_num_threads()
    print(f"machine: {cpu()}")
    # as every CPU predict path runs (inference/topdown.py); MMPose runs with its own process's malloc
    print(f"memory: {keep_freed_memory()}")
    print(f"torch {torch.__version__}, {threads} threads, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; chunk = {DEFAULT_CHUNK} images per pass "
          f"(fp32), {BF16_CHUNK} (bf16)")
    native_bf16, found = cpu_bf16_support()
    if "bf16" in sections and not native_bf16:
        print(f"bf16 rows skipped: {found}")
        sections.discard("bf16")

    model = benchmark_model()
    gflop = model_gflop(model)
    peak = matmul_peak(args.repeats + 2)
    peaks = {"fp32": peak, "bf16": matmul_peak(args.repeats + 2, dtype=torch.bfloat16) if "bf16" in sections else peak}
    print(f"model: {gflop:.3f} GFLOP per 256x192 instance ({2 * gflop:.2f} with flip); matmul peak fp32 "
          f"{peak:.1f} GFLOP/s -> bound {peak / gflop:.1f} persons/s ({peak / gflop / 2:.1f} with flip)"
          + (f"; bf16 {peaks['bf16']:.1f} GFLOP/s -> {peaks['bf16'] / gflop:.1f} ({peaks['bf16'] / gflop / 2:.1f})"
             if "bf16" in sections else ""))
    frames = gt_boxes()
    mm = run_mmpose(args.repeats, threads, sections, frames, batches) if "mmpose" in sections else {}
    src = " (measured now)" if mm else " (recorded)"
    if mm:
        print(f"MMPose 1.3.2 measured now in the peer venv at {threads} threads "
              f"(others' CPU share during that run: {mm['others']:.2f})")
    else:
        mm = MMPOSE_RECORDED
        print("MMPOSE_PYTHON not set: MMPose numbers are the recorded baseline of "
              "shared/peers/mmpose/mmpose_baseline.md (another machine: AMD EPYC Zen 3, AVX2, 2 threads)")
    rows: list[dict] = []

    n = sum(len(b) for _, b in frames)
    images, boxes = [p for p, _ in frames], [b for _, b in frames]
    e2e_rates: dict[str, float] = {}
    if "e2e" in sections:
        for name in ("fp32", "bf16") if "bf16" in sections else ("fp32",):
            est = PoseEstimator(model, precision=name)
            r = timed(lambda: [est.predict(p, b) for p, b in frames], args.repeats)
            rows.append(row(f"e2e {name} predict() per image, flip, {len(frames)} images", n, r, 2 * gflop,
                            peaks[name], mm.get("e2e_flip"), src))
            r = timed(lambda: est.predict_batch(images, boxes), args.repeats)
            rows.append(row(f"e2e {name} predict_batch() all images, flip", n, r, 2 * gflop, peaks[name],
                            mm.get("e2e_flip"), src))
            e2e_rates[name] = rows[-1]["persons_per_s"]
        if "onnx" in sections:
            est = PoseEstimator(model, backend="onnxruntime")
            r = timed(lambda: [est.predict(p, b) for p, b in frames], args.repeats)
            rows.append(row("e2e fp32 predict() per image, flip, onnxruntime", n, r, 2 * gflop, peak,
                            mm.get("e2e_flip"), src))

    fast = prepare_for_inference(model)  # what PoseEstimator runs in fp32: fused oneDNN kernels when available
    fast_name = "fused" if type(fast).__name__ == "FusedSimpleBaseline" else "folded+CL"
    backends: list[tuple[str, str, torch.nn.Module, int | None]] = []
    if "model" in sections:
        backends += [("fp32", "eager plain (as MMPose), unchunked", model, None),
                     ("fp32", "eager BN-folded+channels_last, unchunked", prepare_for_inference(model, fuse=False), None),
                     ("fp32", f"eager {fast_name}, chunk {DEFAULT_CHUNK} (default)", fast, DEFAULT_CHUNK)]
    if "bf16" in sections:
        fast16, used = prepare_in_precision(model, Precision("bf16", "benchmark"))
        backends += [("bf16", f"{type(fast16).__name__} bf16, chunk {BF16_CHUNK} (default)", fast16, BF16_CHUNK)]
    if "onnx" in sections:
        from simplepose.inference.export import OnnxRuntimeModel
        ort = OnnxRuntimeModel(model, num_threads=threads)
        backends += [("fp32", f"onnxruntime, chunk {DEFAULT_CHUNK}", ort, DEFAULT_CHUNK)]
    if "openvino" in sections:
        try:
            for name, hint in (("fp32", "f32"), ("bf16", "bf16")):
                ov_model = OpenVinoModel(model, hint, threads)
                print(f"OpenVINO {hint}: convert + compile {ov_model.setup_s:.1f} s")
                backends += [(name, f"OpenVINO {hint}, unchunked", ov_model, None)]
        except ImportError:
            print("OpenVINO not installed: its rows are skipped (pip install openvino)")
    if "int8" in sections:
        from simplepose.inference.export import onnx_bytes, quantize_int8
        t0 = time.perf_counter()
        calibration = np.random.default_rng(0).standard_normal((8, 3, 256, 192)).astype(np.float32)
        int8 = quantize_int8(onnx_bytes(model), calibration)
        print(f"int8: export + quantise {time.perf_counter() - t0:.1f} s (random calibration: for speed only)")
        for runtime in ("onnxruntime", "openvino"):
            try:
                q = Int8Model(int8, runtime, threads)
            except ImportError as e:
                print(f"int8 through {runtime} skipped: {e}")
                continue
            backends += [("bf16", f"int8 QDQ {q.name}, unchunked", q, None)]
    model_rates: dict[tuple[str, int, bool], float] = {}
    for dtype_name, name, net, chunk in backends:
        for bs in batches:
            x = torch.randn(bs, 3, 256, 192)
            for flip in (False, True):
                fi = FLIP_INDICES if flip else None
                r = timed(lambda: predict_heatmaps(net, x, fi, chunk_size=chunk), args.repeats)
                rows.append(row(f"model {name}, b{bs}{' flip' if flip else ''}", bs, r,
                                gflop * (2 if flip else 1), peaks[dtype_name], mm.get(("model", bs, flip)), src))
                if "default" in name:
                    model_rates[(dtype_name, bs, flip)] = rows[-1]["persons_per_s"]
    for name, rate in e2e_rates.items():
        ref = model_rates.get((name, 16, True))
        if ref:
            print(f"e2e {name} predict_batch (flip, {n} persons) / model-only {name} (b16 flip): "
                  f"{rate / ref:.0%}")
    if args.sweep:
        x = torch.randn(32, 3, 256, 192)
        swept = [("fp32", fast_name, fast)] + ([("bf16", f"{type(fast16).__name__} bf16", fast16)]
                                              if "bf16" in sections else [])
        for dtype_name, name, net in swept:
            for flip in (False, True):
                for chunk in (2, 4, 6, 8, 12, 16, 28, 32):
                    fi = FLIP_INDICES if flip else None
                    r = timed(lambda: predict_heatmaps(net, x, fi, chunk_size=chunk), max(1, args.repeats - 1))
                    rows.append(row(f"sweep: {name}, 32 persons, {chunk} images/pass{', flip' if flip else ''}",
                                    32, r, gflop * (2 if flip else 1), peaks[dtype_name]))
    print(f"load average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        from simplepose.io import write_json
        write_json(args.json, {"machine": cpu(), "threads": threads, "gflop": gflop, "matmul_peak": peaks,
                               "rows": rows}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ONNX export of a SimpleBaseline (dynamic batch) and its check against PyTorch with onnxruntime.

The exported graph is always float32 (ONNX Runtime's CPU provider has no fast bf16 convolutions).
The check compares it with PyTorch in a chosen precision: fp32 (default, tolerance 1e-4 on the
heatmaps) or the reduced precision the model would run in here (bf16: tolerance 1e-2, as bf16 keeps
8 significant bits, ~1% of a heatmap peak near 1 after ~50 layers).

int8 (`quantize_int8`): ONNX Runtime's static post-training quantisation of that float32 graph, in
QDQ form (QuantizeLinear/DequantizeLinear pairs around each convolution: int8 per-channel weights,
uint8 activations whose ranges are the min-max over calibration crops). OpenVINO runs such a file
on AMX-INT8 / VNNI kernels; ONNX Runtime runs it too, slowly on CPU. Its check (`int8_agreement`)
is on keypoints, not heatmap values: the share of confident joints on held-out crops whose int8
heatmap maximum lies within one heatmap pixel of the float32 one.
"""
from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simplepose.data.codec import heatmap_maximum
from simplepose.errors import SimplePoseError
from simplepose.io import atomic_write
from simplepose.model.fusion import fold_batchnorm, prepare_in_precision
from simplepose.model.precision import resolve_precision

log = logging.getLogger(__name__)

# default largest |ONNX - PyTorch| heatmap difference, by the precision PyTorch runs in (see above)
DEFAULT_TOLERANCE = {"fp32": 1e-4, "bf16": 1e-2, "fp16": 1e-2}


def onnx_bytes(model: nn.Module, input_size: tuple[int, int] = (192, 256), opset: int = 17,
               fold_bn: bool = True) -> bytes:
    """The ONNX model: input "input" (batch, 3, H, W) f32 -> output "heatmaps" (batch, K, H/4, W/4).

    The batch dimension is dynamic. BN is folded into the convs first (same numbers, fewer nodes).
    """
    net = fold_batchnorm(model) if fold_bn else model
    net = net.eval().float()
    dummy = torch.zeros(2, 3, input_size[1], input_size[0])
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript exporter deprecation notices
        torch.onnx.export(net, (dummy,), buffer, input_names=["input"], output_names=["heatmaps"],
                          opset_version=opset, dynamic_axes={"input": {0: "batch"}, "heatmaps": {0: "batch"}},
                          do_constant_folding=True, dynamo=False)
    return buffer.getvalue()


def export_onnx(model: nn.Module, path: str | os.PathLike, input_size: tuple[int, int] = (192, 256),
                opset: int = 17, fold_bn: bool = True) -> Path:
    """Write the model as ONNX (see onnx_bytes) atomically to path."""
    data = onnx_bytes(model, input_size, opset, fold_bn)
    return atomic_write(path, lambda f: f.write(data), mode="wb")


def onnx_session(model: str | os.PathLike | bytes, num_threads: int | None = None):
    """An onnxruntime CPU InferenceSession (from a file or ONNX bytes) with all graph optimisations."""
    import onnxruntime as ort  # optional (the `export` extra): needed only when ONNX Runtime runs
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads:
        options.intra_op_num_threads = num_threads
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxRuntimeModel(nn.Module):
    """A SimpleBaseline run by onnxruntime behind the nn.Module call interface (torch in, torch out)."""

    def __init__(self, model: nn.Module, input_size: tuple[int, int] = (192, 256), num_threads: int | None = None):
        super().__init__()
        self.num_keypoints = getattr(model, "num_keypoints", None)
        self.session = onnx_session(onnx_bytes(model, input_size), num_threads or torch.get_num_threads())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> heatmaps (N, K, H/4, W/4)."""
        x = x.detach().float().contiguous().cpu().numpy()
        return torch.from_numpy(self.session.run(["heatmaps"], {"input": x})[0])


def verify_onnx(model: nn.Module, source: str | os.PathLike | bytes, input_size: tuple[int, int] = (192, 256),
                batch_sizes: tuple[int, ...] = (1, 3), seed: int = 0, precision: str = "fp32") -> float:
    """Max |ONNX - PyTorch| over random inputs of several batch sizes (checks the dynamic batch too),
    PyTorch running in `precision` ("fp32", or e.g. "auto": its fast inference form, bf16 on AMX CPUs).

    `source` is an ONNX file or its bytes. Raises SimplePoseError when onnx or onnxruntime refuse
    the model (e.g. an opset too old for its operators) or when either side outputs NaN/infinity,
    where a difference would mean nothing.
    """
    import onnx  # optional (the `export` extra): needed only to check an exported file
    name = "the ONNX model" if isinstance(source, bytes) else str(source)
    try:
        onnx.checker.check_model(onnx.load_from_string(source) if isinstance(source, bytes) else str(source))
        session = onnx_session(source)
    except Exception as e:  # onnx's and onnxruntime's errors derive from Exception only
        raise SimplePoseError(f"{name}: onnx/onnxruntime cannot run it: {e}") from None
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    wanted = resolve_precision(precision, "cpu")
    model, used = prepare_in_precision(model.eval(), wanted) if wanted.reduced else (model.eval(), wanted)
    log.info("export check: PyTorch in %s", used.describe())
    for n in batch_sizes:
        x = torch.randn(n, 3, input_size[1], input_size[0], generator=gen)
        with torch.inference_mode():
            ref = model(x).float().numpy()
        if not np.isfinite(ref).all():
            raise SimplePoseError(f"{name}: the PyTorch model outputs NaN or infinity (batch {n}): "
                                  "broken weights cannot be verified")
        got = session.run(["heatmaps"], {"input": x.numpy()})[0]
        if got.shape != ref.shape:
            raise SimplePoseError(f"{name}: ONNX output shape {got.shape} != PyTorch {ref.shape} at batch {n}")
        if not np.isfinite(got).all():
            raise SimplePoseError(f"{name}: ONNX Runtime outputs NaN or infinity (batch {n})")
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def with_metadata(data: bytes, metadata: dict[str, str] | None) -> bytes:
    """The ONNX model `data` with `metadata` entries set in its metadata_props (graph unchanged)."""
    if not metadata:
        return data
    import onnx  # optional (the `export` extra): needed only to write a file
    model = onnx.load_from_string(data)
    kept = [p for p in model.metadata_props if p.key not in metadata]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def require_export_packages(path: str | os.PathLike, verify: bool = True) -> None:
    """A SimplePoseError naming the `export` extra when onnx (or, to verify, onnxruntime) is missing."""
    try:
        import onnx  # noqa: F401  optional (the `export` extra): probed only
        if verify:
            import onnxruntime  # noqa: F401  optional (the `export` extra): probed only
    except ImportError as e:
        raise SimplePoseError(f"{path}: ONNX export needs the onnx package{' and onnxruntime' if verify else ''} "
                              f"({e}): pip install 'simplepose[export]'") from None


def _exported(model: nn.Module, path: str | os.PathLike, input_size: tuple[int, int], opset: int) -> bytes:
    """onnx_bytes, its failure a SimplePoseError naming the file that would have been written."""
    try:
        return onnx_bytes(model, input_size, opset)
    except (RuntimeError, ValueError) as e:
        raise SimplePoseError(f"{path}: ONNX export at opset {opset} failed: {e}") from None


def export_verified(model: nn.Module, path: str | os.PathLike, input_size: tuple[int, int] = (192, 256),
                    opset: int = 17, tolerance: float | None = 1e-4, precision: str = "fp32",
                    metadata: dict[str, str] | None = None) -> tuple[Path, float | None]:
    """Export, compare with PyTorch (in `precision`) in memory, and write the file (with `metadata`
    in its metadata_props) only if it passed (tolerance None: no comparison). Returns (path, max
    difference or None)."""
    require_export_packages(path, verify=tolerance is not None)
    data = _exported(model, path, input_size, opset)
    diff = None
    if tolerance is not None:
        diff = verify_onnx(model, data, input_size, precision=precision)
        if not diff <= tolerance:
            raise SimplePoseError(f"{path}: onnxruntime differs from PyTorch by {diff:.3g} (max abs heatmap "
                                  f"difference), above the tolerance {tolerance:g}; nothing written "
                                  "(--no-verify writes it unchecked)")
    data = with_metadata(data, metadata)
    return atomic_write(path, lambda f: f.write(data), mode="wb"), diff


def _quantization_api():
    """onnxruntime.quantization, or a SimplePoseError saying how to install it."""
    try:
        from onnxruntime import quantization  # optional (the `export` extra), with onnx
    except ImportError as e:
        raise SimplePoseError(f"int8 export needs onnxruntime and onnx ({e}): pip install 'simplepose[export]'") \
            from None
    return quantization


def _check_crops(crops: np.ndarray, what: str) -> np.ndarray:
    """crops as (N, 3, H, W) float32 with N >= 1 and finite values, else a SimplePoseError."""
    crops = np.asarray(crops, np.float32)
    if crops.ndim != 4 or crops.shape[1] != 3 or len(crops) == 0:
        raise SimplePoseError(f"{what} must be (N, 3, H, W) crops with N >= 1, got shape {crops.shape}")
    if not np.isfinite(crops).all():
        raise SimplePoseError(f"{what} contain NaN or infinity")
    return crops


def quantize_int8(data: bytes, calibration: np.ndarray, batch: int = 8) -> bytes:
    """The float32 ONNX model `data` (onnx_bytes) statically quantised to int8 (QDQ, module docstring),
    activation ranges from calibration (N, 3, H, W) normalised crops fed `batch` at a time."""
    q = _quantization_api()
    calibration = _check_crops(calibration, "calibration crops")
    feeds = iter([{"input": calibration[i:i + batch]} for i in range(0, len(calibration), batch)])

    class Crops(q.CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            """The next calibration batch, or None when all were fed."""
            return next(feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(data)
        # it logs advice (shape-inference pre-processing) on the root logger that changes nothing here
        root = logging.getLogger()
        was = root.disabled
        root.disabled = True
        try:
            q.quantize_static(str(src), str(dst), Crops(), quant_format=q.QuantFormat.QDQ,
                              activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                              per_channel=True, calibrate_method=q.CalibrationMethod.MinMax)
        except Exception as e:  # onnx's and onnxruntime's errors derive from Exception only
            raise SimplePoseError(f"int8 quantisation failed: {e}") from None
        finally:
            root.disabled = was
        return dst.read_bytes()


def int8_agreement(float32: bytes, int8: bytes, crops: np.ndarray, score_thr: float = 0.3) -> float:
    """Share of joints with float32 heatmap maximum >= score_thr on crops (N, 3, H, W) whose int8
    maximum lies within one heatmap pixel (Chebyshev) of the float32 one; 1.0 if none is confident."""
    crops = _check_crops(crops, "check crops")
    outs = []
    for source in (float32, int8):
        heatmaps = onnx_session(source).run(["heatmaps"], {"input": crops})[0]     # (N, K, h, w)
        if not np.isfinite(heatmaps).all():
            raise SimplePoseError("the int8 check: ONNX Runtime outputs NaN or infinity")
        outs.append(heatmap_maximum(np.ascontiguousarray(heatmaps, np.float32)))
    (loc32, val32), (loc8, _) = outs
    confident = val32 >= score_thr                                                  # (N, K)
    if not confident.any():
        return 1.0
    near = np.abs(loc8 - loc32).max(-1) <= 1                                        # (N, K)
    return float(near[confident].mean())


def export_int8_verified(model: nn.Module, path: str | os.PathLike, calibration: np.ndarray, check: np.ndarray,
                         input_size: tuple[int, int] = (192, 256), opset: int = 17,
                         min_agreement: float = 0.9,
                         metadata: dict[str, str] | None = None) -> tuple[Path, float]:
    """Export, quantise to int8 on the calibration crops, measure int8_agreement on the held-out
    check crops, and write the file (with `metadata`) only if it is >= min_agreement. Returns
    (path, agreement)."""
    require_export_packages(path)
    data = _exported(model, path, input_size, opset)
    int8 = quantize_int8(data, calibration)
    agreement = int8_agreement(data, int8, check)
    if not agreement >= min_agreement:
        raise SimplePoseError(f"{path}: only {agreement:.1%} of the confident joints of the held-out crops decode "
                              f"within one heatmap pixel of float32 after int8 quantisation, under the "
                              f"required {min_agreement:.0%}; nothing written")
    int8 = with_metadata(int8, metadata)
    return atomic_write(path, lambda f: f.write(int8), mode="wb"), agreement

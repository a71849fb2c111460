"""ONNX export of a SimpleBaseline (dynamic batch) and its check against PyTorch with onnxruntime.

The exported graph is always float32 (ONNX Runtime's CPU provider has no fast bf16 convolutions).
The check compares it with PyTorch in a chosen precision: fp32 (default, tolerance 1e-4 on the
heatmaps) or the reduced precision the model would run in here (bf16: tolerance 1e-2, as bf16 keeps
8 significant bits, ~1% of a heatmap peak near 1 after ~50 layers).
"""
from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

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


def export_verified(model: nn.Module, path: str | os.PathLike, input_size: tuple[int, int] = (192, 256),
                    opset: int = 17, tolerance: float | None = 1e-4,
                    precision: str = "fp32") -> tuple[Path, float | None]:
    """Export, compare with PyTorch (in `precision`) in memory, and write the file only if it passed
    (tolerance None: no comparison). Returns (path, max difference or None)."""
    try:
        data = onnx_bytes(model, input_size, opset)
    except (RuntimeError, ValueError) as e:
        raise SimplePoseError(f"{path}: ONNX export at opset {opset} failed: {e}") from None
    diff = None
    if tolerance is not None:
        diff = verify_onnx(model, data, input_size, precision=precision)
        if not diff <= tolerance:
            raise SimplePoseError(f"{path}: onnxruntime differs from PyTorch by {diff:.3g} (max abs heatmap "
                                  f"difference), above the tolerance {tolerance:g}; nothing written "
                                  "(--no-verify writes it unchecked)")
    return atomic_write(path, lambda f: f.write(data), mode="wb"), diff

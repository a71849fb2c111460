"""An exported ONNX file (`simplepose export`, float32 or int8) run by OpenVINO or ONNX Runtime.

`simplepose export` records in the file's ONNX metadata what a top-down estimator needs beside the
graph: the input size (`simplepose.input_size`, "W,H"), the keypoint schema (`simplepose.schema`)
and the number format (`simplepose.format`: float32 or int8). `read_export_info` reads them back
through the runtime that runs the file (ONNX Runtime's custom metadata map, OpenVINO's
rt_info['framework']), so the `onnx` package is needed only to export, and checks them against the
graph's own input and output shapes, so a file and its settings can never disagree; a file without
them (exported elsewhere) is refused with the way to re-export it. The runtimes are the `deploy` extra.

OpenVINO runs the int8 file on AMX-INT8 / VNNI kernels (faster than our bf16 network where the CPU
has them: benchmarks/README.md; `python benchmarks/inference.py --sections bf16,openvino,int8`
re-measures it) and the float32 one in its own fp32 kernels; ONNX Runtime runs both, int8 slowly
on CPU. Heatmaps come back float32 and are decoded by the same predict path as the PyTorch network's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simplepose.data.keypoints import SCHEMAS
from simplepose.errors import CheckpointError, SimplePoseError
from simplepose.inference.export import check_external_data, onnx_session
from simplepose.model.settings import MAX_INPUT_SIDE

INPUT_SIZE_KEY = "simplepose.input_size"
SCHEMA_KEY = "simplepose.schema"
FORMAT_KEY = "simplepose.format"
FORMATS = ("float32", "int8")
RUNTIMES = ("auto", "openvino", "onnxruntime")


@dataclass(frozen=True)
class ExportInfo:
    """What `simplepose export` recorded: input size (w, h), schema name, number format."""

    input_size: tuple[int, int]
    schema: str
    format: str
    num_keypoints: int


def export_metadata(input_size: tuple[int, int], schema: str, number_format: str) -> dict[str, str]:
    """The metadata entries `simplepose export` writes into a file."""
    if number_format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {number_format!r}")
    return {INPUT_SIZE_KEY: f"{int(input_size[0])},{int(input_size[1])}", SCHEMA_KEY: schema,
            FORMAT_KEY: number_format}


DEPLOY_EXTRA = "pip install 'simplepose[deploy]'"


def read_export_info(path: str | os.PathLike, runtime: str = "auto") -> ExportInfo:
    """The file's recorded settings as `runtime` reads them, checked against its graph's shapes."""
    runtime = available_runtime(runtime)
    handle = _open(Path(path), runtime, None)
    return _export_info(path, *(_openvino_view(path, handle) if runtime == "openvino" else _onnxruntime_view(path, handle)))


def _open(path: Path, runtime: str, num_threads: int | None):
    """OpenVINO's model (read, not compiled) or an ONNX Runtime session of the file."""
    if not path.is_file():
        raise SimplePoseError(f"{path}: no such file")
    try:
        if runtime == "openvino":
            import openvino as ov  # optional (the `deploy` extra)
            check_external_data(path)       # onnx_session checks it for ONNX Runtime
            return ov.Core().read_model(str(path))
        return onnx_session(path, num_threads)
    except ImportError as e:
        raise SimplePoseError(f"{path}: runtime {runtime} is not installed ({e}): {DEPLOY_EXTRA}") from None
    except SimplePoseError:
        raise                           # already one located line (external data refused)
    except Exception as e:  # the runtimes' parse errors derive from Exception only
        raise SimplePoseError(f"{path}: not an ONNX model {runtime} can read: {e}") from None


def _onnxruntime_view(path: str | os.PathLike, session) -> tuple[dict[str, str], list[int | str], list[int | str]]:
    """(metadata, input dims, output dims) of an ONNX Runtime session; dynamic dims are their names."""
    meta = dict(session.get_modelmeta().custom_metadata_map)
    _check_ports(path, len(session.get_inputs()), len(session.get_outputs()))
    return meta, list(session.get_inputs()[0].shape), list(session.get_outputs()[0].shape)


def _openvino_view(path: str | os.PathLike, model) -> tuple[dict[str, str], list[int | str], list[int | str]]:
    """(metadata, input dims, output dims) of an OpenVINO model: ONNX metadata is its rt_info['framework']."""
    meta = {k: model.get_rt_info(["framework", k]).astype(str) for k in (INPUT_SIZE_KEY, SCHEMA_KEY, FORMAT_KEY)
            if model.has_rt_info(["framework", k])}

    _check_ports(path, len(model.inputs), len(model.outputs))

    def dims(port) -> list[int | str]:
        return [d.get_length() if d.is_static else "?" for d in port.get_partial_shape()]
    return meta, dims(model.inputs[0]), dims(model.outputs[0])


def _check_ports(path: str | os.PathLike, n_inputs: int, n_outputs: int) -> None:
    """An exported pose model has one input and at least one output; anything else is refused."""
    if n_inputs != 1 or n_outputs < 1:
        raise SimplePoseError(f"{path}: the graph has {n_inputs} inputs and {n_outputs} outputs; an exported pose model "
                              "has one input and one output")


def _export_info(path: str | os.PathLike, meta: dict[str, str], graph_in: list[int | str],
                 graph_out: list[int | str]) -> ExportInfo:
    """ExportInfo from the file's metadata, checked against its graph's input and output dims."""
    missing = [k for k in (INPUT_SIZE_KEY, SCHEMA_KEY, FORMAT_KEY) if k not in meta]
    if missing:
        raise SimplePoseError(f"{path}: no {missing[0]} metadata: not written by `simplepose export` (re-export "
                              "it from its checkpoint with `simplepose export CHECKPOINT OUT.onnx`)")
    w, h = _recorded_size(path, meta[INPUT_SIZE_KEY])
    if meta[FORMAT_KEY] not in FORMATS:
        raise SimplePoseError(f"{path}: {FORMAT_KEY} {meta[FORMAT_KEY][:40]!r} is not one of {', '.join(FORMATS)}")
    if meta[SCHEMA_KEY] not in SCHEMAS:
        raise SimplePoseError(f"{path}: schema {meta[SCHEMA_KEY][:40]!r} is not one of {', '.join(SCHEMAS)}")
    if len(graph_in) != 4 or graph_in[1:] != [3, h, w]:
        raise SimplePoseError(f"{path}: the graph's input {graph_in} does not take 3x{h}x{w} crops as its "
                              f"{INPUT_SIZE_KEY} says")
    if len(graph_out) != 4 or not isinstance(graph_out[1], int):
        raise SimplePoseError(f"{path}: the graph's output {graph_out} is not (batch, K, h, w) heatmaps")
    schema = SCHEMAS[meta[SCHEMA_KEY]]
    if graph_out[1] != schema.num_keypoints:
        raise CheckpointError(f"{path}: the graph predicts {graph_out[1]} keypoints, schema {schema.name!r} has "
                              f"{schema.num_keypoints}")
    return ExportInfo((w, h), meta[SCHEMA_KEY], meta[FORMAT_KEY], graph_out[1])


def _recorded_size(path: str | os.PathLike, text: str) -> tuple[int, int]:
    """(w, h) of the input size metadata "W,H", each 1..MAX_INPUT_SIDE."""
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() and len(p.strip()) <= 6 for p in parts):
        raise SimplePoseError(f"{path}: {INPUT_SIZE_KEY} {text[:20] + ('...' if len(text) > 20 else '')!r} "
                              "is not 'W,H'")
    w, h = int(parts[0]), int(parts[1])
    if not 0 < w <= MAX_INPUT_SIDE or not 0 < h <= MAX_INPUT_SIDE:
        raise SimplePoseError(f"{path}: records input size {w}x{h}, a side over {MAX_INPUT_SIDE} or zero "
                              "(simplepose's limit for a recorded size)")
    return w, h



def available_runtime(requested: str = "auto") -> str:
    """The runtime to use: `requested`, or for auto OpenVINO where installed, else ONNX Runtime."""
    if requested not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {requested!r}")
    if requested != "auto":
        return requested
    try:
        import openvino  # noqa: F401  optional: probed only
        return "openvino"
    except ImportError:
        return "onnxruntime"


class DeployedModel(nn.Module):
    """An exported ONNX file behind the nn.Module call interface: (N, 3, H, W) -> heatmaps (N, K, h, w)."""

    def __init__(self, path: str | os.PathLike, runtime: str = "auto", num_threads: int | None = None) -> None:
        """Open the file in `runtime` (CPU), read its settings through it (read_export_info) and compile it."""
        super().__init__()
        self.path = Path(path)
        self.runtime = available_runtime(runtime)
        threads = num_threads or torch.get_num_threads()
        handle = _open(self.path, self.runtime, threads)
        if self.runtime == "openvino":
            self.info = _export_info(self.path, *_openvino_view(self.path, handle))
            self._run = self._compile_openvino(handle, threads)
        else:
            self.info = _export_info(self.path, *_onnxruntime_view(self.path, handle))
            self._run = lambda x: handle.run(None, {handle.get_inputs()[0].name: x})[0]
        self.num_keypoints = self.info.num_keypoints

    def _compile_openvino(self, model, threads: int):
        """OpenVINO's CPU compile of the read model: a function (N, 3, H, W) array -> heatmaps."""
        import openvino as ov  # optional (the `deploy` extra); _open has imported it already
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if self.info.format == "float32":   # else OpenVINO runs it in bf16 on AMX CPUs
            config["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
        except Exception as e:  # the runtime's own errors derive from Exception only
            raise SimplePoseError(f"{self.path}: openvino cannot run it: {e}") from None
        return lambda x: next(iter(request.infer({0: x}).values()))

    def describe(self) -> str:
        """One line for the log: which file runs in which format and runtime."""
        return f"{self.path.name} ({self.info.format} ONNX) run by {self.runtime}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float -> heatmaps (N, K, h, w) float32."""
        out = self._run(x.detach().float().contiguous().cpu().numpy())
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))

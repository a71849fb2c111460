"""An exported ONNX file (`simplepose export`, float32 or int8) run by OpenVINO or ONNX Runtime.

`simplepose export` records in the file's ONNX metadata what a top-down estimator needs beside the
graph: the input size (`simplepose.input_size`, "W,H"), the keypoint schema (`simplepose.schema`)
and the number format (`simplepose.format`: float32 or int8). `read_export_info` reads them back
and checks them against the graph's own input and output shapes, so a file and its settings can
never disagree; a file without them (exported elsewhere) is refused with the way to re-export it.

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

from simplepose.errors import SimplePoseError
from simplepose.inference.export import onnx_session

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


def read_export_info(path: str | os.PathLike) -> ExportInfo:
    """The file's recorded settings, checked against its graph's input and output shapes."""
    import onnx  # optional (the `export` / `openvino` extras): needed only for ONNX files
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise SimplePoseError(f"{path}: no such file") from None
    except Exception as e:  # onnx's parse errors derive from Exception only
        raise SimplePoseError(f"{path}: not an ONNX model: {e}") from None
    meta = {p.key: p.value for p in model.metadata_props}
    missing = [k for k in (INPUT_SIZE_KEY, SCHEMA_KEY, FORMAT_KEY) if k not in meta]
    if missing:
        raise SimplePoseError(f"{path}: no {missing[0]} metadata: not written by `simplepose export` (re-export "
                              "it from its checkpoint with `simplepose export CHECKPOINT OUT.onnx`)")
    try:
        w, h = (int(v) for v in meta[INPUT_SIZE_KEY].split(","))
    except ValueError:
        raise SimplePoseError(f"{path}: {INPUT_SIZE_KEY} {meta[INPUT_SIZE_KEY]!r} is not 'W,H'") from None
    if meta[FORMAT_KEY] not in FORMATS:
        raise SimplePoseError(f"{path}: {FORMAT_KEY} {meta[FORMAT_KEY]!r} is not one of {', '.join(FORMATS)}")
    graph_in = _dims(model.graph.input[0])
    if len(graph_in) != 4 or graph_in[1:] != [3, h, w]:
        raise SimplePoseError(f"{path}: the graph's input {graph_in} does not take 3x{h}x{w} crops as its "
                              f"{INPUT_SIZE_KEY} says")
    graph_out = _dims(model.graph.output[0])
    if len(graph_out) != 4 or not isinstance(graph_out[1], int):
        raise SimplePoseError(f"{path}: the graph's output {graph_out} is not (batch, K, h, w) heatmaps")
    return ExportInfo((w, h), meta[SCHEMA_KEY], meta[FORMAT_KEY], graph_out[1])


def _dims(value) -> list[int | str]:
    """A graph input's or output's shape: ints, or the names of dynamic dimensions."""
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]


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
        """Read the file's settings (read_export_info) and compile it for `runtime` on the CPU."""
        super().__init__()
        self.path = Path(path)
        self.info = read_export_info(self.path)
        self.num_keypoints = self.info.num_keypoints
        self.runtime = available_runtime(runtime)
        threads = num_threads or torch.get_num_threads()
        try:
            if self.runtime == "openvino":
                import openvino as ov  # optional (the `openvino` extra)
                core = ov.Core()
                config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
                if self.info.format == "float32":   # else OpenVINO runs it in bf16 on AMX CPUs
                    config["INFERENCE_PRECISION_HINT"] = "f32"
                compiled = core.compile_model(core.read_model(str(self.path)), "CPU", config)
                request = compiled.create_infer_request()
                self._run = lambda x: next(iter(request.infer({0: x}).values()))
            else:
                session = onnx_session(self.path, threads)
                self._run = lambda x: session.run(None, {session.get_inputs()[0].name: x})[0]
        except ImportError as e:
            raise SimplePoseError(f"{self.path}: runtime {self.runtime} is not installed ({e}): pip install "
                                  f"{'openvino' if self.runtime == 'openvino' else 'onnxruntime'}") from None
        except Exception as e:  # the runtimes' own errors derive from Exception only
            raise SimplePoseError(f"{self.path}: {self.runtime} cannot run it: {e}") from None

    def describe(self) -> str:
        """One line for the log: which file runs in which format and runtime."""
        return f"{self.path.name} ({self.info.format} ONNX) run by {self.runtime}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float -> heatmaps (N, K, h, w) float32."""
        out = self._run(x.detach().float().contiguous().cpu().numpy())
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))

"""The one top-down prediction step after the crop, shared by PoseEstimator and the test loop.

Normalised person crops (N, 3, H, W) -> the network on the crops and their mirror images in one
pass (the flip test: the mirrored heatmaps are flipped back, left/right channels swapped and
shifted one pixel, then averaged with the originals, as MMPose's ``flip_test`` with
``shift_heatmap=True``) -> heatmap decoding (argmax plus the quarter-pixel shift towards the
higher neighbour, float32 on the CPU) -> image pixels through each crop's center and scale.

The heatmap size used for decoding is the size of the heatmaps the network produced, so a model
and a config can never disagree about it.

`TopDownPredictor.prepared` is the one place a network is made ready for it: the precision resolved
for the device, BN folded and the oneDNN kernels fused (model/fusion.py), and the images per
forward pass chosen; PoseEstimator and the test loop both build their predictor with it.
"""
from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
import torch
from torch import nn

from simplepose.allocator import keep_freed_memory
from simplepose.data.codec import MSRAHeatmap
from simplepose.data.geometry import input_to_image
from simplepose.model.fusion import Autocast, FusedSimpleBaseline, prepare_in_precision
from simplepose.model.pose_model import predict_heatmaps
from simplepose.model.precision import Precision, resolve_precision

# Images (original + flipped copies) per forward pass on the CPU: passes small enough for the
# activations to stay in cache, large enough to keep the kernels busy. 16 was the fastest chunk, or
# within noise of it, in fp32 and in bf16 (res50 256x192, with simplepose.allocator's malloc
# setting), at less peak memory than 32; the sweep is in benchmarks/README.md, and
# `python benchmarks/inference.py --sweep` re-measures it.
DEFAULT_CHUNK = 16
BF16_CHUNK = 16
# how prepared() rewrites the network: always fused, fused only in reduced precision (float32 then
# runs the model as it is), or never (autocast over the model as it is when reduced)
Fuse = Literal["always", "reduced", "never"]


class TopDownPredictor:
    """Normalised crops with their centers/scales -> keypoints (N, K, 3): x, y image pixels, score."""

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], input_size: Sequence[int],
                 flip_indices: Sequence[int] | None = None, chunk_size: int | None = None,
                 device: torch.device | str | None = "cpu"):
        """model: (N, 3, H, W) -> (N, K, h, w); input_size (w, h); flip_indices None disables the flip
        test; chunk_size bounds images per forward pass; device None leaves inputs where they are."""
        self.model = model
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.flip_indices = None if flip_indices is None else list(flip_indices)
        self.chunk_size = chunk_size
        self.device = None if device is None else torch.device(device)
        if self.device is None or self.device.type == "cpu":
            keep_freed_memory()      # large activations would be page-faulted in on every pass
        self._codecs: dict[tuple[int, int], MSRAHeatmap] = {}
        self.precision = Precision("fp32", "the model as given")

    @classmethod
    def prepared(cls, model: nn.Module, input_size: Sequence[int], flip_indices: Sequence[int] | None = None, *,
                 precision: str | Precision = "auto", device: torch.device | str | None = "cpu",
                 fuse: Fuse = "always", chunk_size: int | None = None) -> "TopDownPredictor":
        """A predictor over `model` made ready for inference, in eval mode.

        precision: a name ("auto", "fp32", "bf16", "fp16") resolved for the device, or the Precision
        a model that is run as it is (an exported file) computes in. fuse: see Fuse; model/fusion.py
        falls back to float32 where the bf16 kernels cannot run, and `.precision` says what runs.
        device None: inputs stay where they are (a model not run by torch). chunk_size: images per
        pass, by default DEFAULT_CHUNK / BF16_CHUNK on the CPU and the whole batch elsewhere.
        """
        where = torch.device("cpu" if device is None else device)
        if isinstance(precision, Precision):
            net, used = model.eval(), precision
        else:
            wanted = resolve_precision(precision, where)
            model = model.to(where)
            if fuse == "always" or (fuse == "reduced" and wanted.reduced):
                net, used = prepare_in_precision(model, wanted)
            else:
                net, used = (Autocast(model.eval(), wanted) if wanted.reduced else model.eval()), wanted
        if chunk_size is None and where.type == "cpu":
            chunk_size = BF16_CHUNK if used.name == "bf16" else DEFAULT_CHUNK
        predictor = cls(net, input_size, flip_indices, chunk_size, device)
        predictor.precision = used
        return predictor

    @property
    def input_dtype(self) -> torch.dtype:
        """The dtype the crops are normalised into: the fused bf16 model's own, else float32."""
        fused = isinstance(self.model, FusedSimpleBaseline)
        return self.model.dtype if fused and self.model.dtype == torch.bfloat16 else torch.float32

    @property
    def channels_last(self) -> bool:
        """Whether the network takes channels_last input (the fused model)."""
        return isinstance(self.model, FusedSimpleBaseline)

    def heatmaps(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised inputs (N, 3, H, W) -> heatmaps (N, K, h, w), flip-test averaged if enabled."""
        if self.device is not None:
            inputs = inputs.to(self.device, non_blocking=True)
        return predict_heatmaps(self.model, inputs, self.flip_indices, chunk_size=self.chunk_size)

    def decode(self, heatmaps: torch.Tensor, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Heatmaps (N, K, h, w) of crops with centers, scales (N, 2) -> keypoints (N, K, 3) float32."""
        size = (int(heatmaps.shape[-1]), int(heatmaps.shape[-2]))
        codec = self._codecs.get(size)
        if codec is None:
            codec = self._codecs[size] = MSRAHeatmap(self.input_size, size)
        kp_input, scores = codec.decode(heatmaps.float().cpu())              # (N, K, 2), (N, K)
        kp_image = input_to_image(kp_input, centers, scales, self.input_size)
        return np.concatenate([kp_image, scores[..., None]], axis=-1).astype(np.float32)

    def keypoints(self, inputs: torch.Tensor, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Normalised crops (N, 3, H, W) with their centers, scales (N, 2) -> keypoints (N, K, 3) float32."""
        return self.decode(self.heatmaps(inputs), centers, scales)

"""The one top-down prediction step after the crop, shared by PoseEstimator and the test loop.

Normalised person crops (N, 3, H, W) -> the network on the crops and their mirror images in one
pass (the flip test: the mirrored heatmaps are flipped back, left/right channels swapped and
shifted one pixel, then averaged with the originals, as MMPose's ``flip_test`` with
``shift_heatmap=True``) -> heatmap decoding (argmax plus the quarter-pixel shift towards the
higher neighbour, float32 on the CPU) -> image pixels through each crop's center and scale.

The heatmap size used for decoding is the size of the heatmaps the network produced, so a model
and a config can never disagree about it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from simplepose.allocator import keep_freed_memory
from simplepose.data.codec import MSRAHeatmap
from simplepose.data.geometry import input_to_image
from simplepose.model.pose_model import predict_heatmaps


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

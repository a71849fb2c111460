"""SimpleBaseline (ResNet backbone + heatmap head) and running it: flip-test heatmap prediction.

state_dict keys are MMPose 1.x's (backbone.*, head.*), so MMPose checkpoints load one to one.
The flip test follows MMPose's `flip_test` with `shift_heatmap=True`: the width-flipped copy of each
input runs in the same forward pass, its heatmaps are mirrored back, left/right channels swapped and
shifted one column right (data.codec.flip_heatmaps), and the two heatmaps are averaged.
Inference-only rewrites of the model (BatchNorm folding, fused CPU kernels) are in model.fusion.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from simplepose.data.codec import flip_heatmaps
from simplepose.model.head import HeatmapHead
from simplepose.model.resnet import ResNet


class SimpleBaseline(nn.Module):
    """Top-down heatmap model: (N, 3, H, W) normalised RGB -> (N, K, H/4, W/4) heatmaps."""

    def __init__(self, depth: int = 50, num_keypoints: int = 17, deconv_channels: int = 256,
                 num_deconv: int = 3) -> None:
        """ResNet-`depth` backbone and a head of `num_deconv` deconvs of `deconv_channels` to K heatmaps."""
        super().__init__()
        self.depth = depth
        self.num_keypoints = num_keypoints
        self.deconv_channels = deconv_channels
        self.num_deconv = num_deconv
        self.backbone = ResNet(depth)
        self.head = HeatmapHead(self.backbone.out_channels, num_keypoints, deconv_channels, num_deconv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> heatmaps (N, K, H/32 * 2**num_deconv, W/32 * 2**num_deconv)."""
        return self.head(self.backbone(x))

    def weight_device(self) -> str:
        """Device type of the weights ("cpu", "cuda", ...)."""
        return self.backbone.conv1.weight.device.type

    def arch(self) -> dict[str, int]:
        """Constructor arguments, stored in checkpoint metadata."""
        return {"depth": self.depth, "num_keypoints": self.num_keypoints,
                "deconv_channels": self.deconv_channels, "num_deconv": self.num_deconv}


def flip_back(heatmaps_flipped: torch.Tensor, flip_indices: Sequence[int], shift: bool = True) -> torch.Tensor:
    """Heatmaps (N, K, h, w) of width-flipped inputs -> the original frame (via the codec's flip_heatmaps)."""
    return flip_heatmaps(heatmaps_flipped, flip_indices, shift=shift)


def predict_heatmaps(model: nn.Module, inputs: torch.Tensor, flip_indices: Sequence[int] | None = None,
                     shift: bool = True, chunk_size: int | None = None) -> torch.Tensor:
    """Heatmaps (N, K, h, w) of normalised inputs (N, 3, H, W); with flip_indices the flip test average.

    The flipped copy runs in the same forward pass as the original; chunk_size bounds the number of
    images (original + flipped) per pass so that activations stay in cache. Gradients are not tracked.
    A reduced-precision network's heatmaps are upcast to float32 before the flip average, so the
    result is always float32.
    """
    n = inputs.shape[0]
    flip = flip_indices is not None
    per_chunk = n if not chunk_size else max(1, chunk_size // 2 if flip else chunk_size)
    outs = []
    with torch.inference_mode():
        for start in range(0, n, per_chunk):
            x = inputs[start:start + per_chunk]
            if flip:
                x = torch.cat([x, x.flip(-1)])
            x = _match_memory_format(model, x)
            h = model(x).float()
            if flip:
                m = h.shape[0] // 2
                h = (h[:m] + flip_back(h[m:], flip_indices, shift)) * 0.5
            outs.append(h.contiguous())
    if not outs:
        return inputs.new_zeros((0,))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def _match_memory_format(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Convert x to channels_last when the model's first conv weight is channels_last."""
    w = next(model.parameters(), None)
    if w is not None and w.dim() == 4 and w.is_contiguous(memory_format=torch.channels_last) \
            and not w.is_contiguous():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel / DataParallel and torch.compile wrappers (nested ones
    too); any other model as it is. What is saved, loaded and clipped is always this network."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):     # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model

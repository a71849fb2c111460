"""SimpleBaseline heatmap head: deconvolutions (4x4, stride 2, BN, ReLU) and a 1x1 conv to K heatmaps.

Names follow MMPose's HeatmapHead: deconv_layers.<3i> (ConvTranspose2d), deconv_layers.<3i+1> (BN),
deconv_layers.<3i+2> (ReLU, no parameters) and final_layer (Conv2d with bias).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def heatmap_output_size(input_size: Sequence[int], num_deconv: int) -> tuple[int, int]:
    """Heatmap (w, h) that the stride-32 backbone and num_deconv 2x deconvolutions give for input (w, h)."""
    return input_size[0] // 32 * 2 ** num_deconv, input_size[1] // 32 * 2 ** num_deconv


class HeatmapHead(nn.Module):
    """(N, C_in, h, w) -> (N, K, h * 2**num_deconv, w * 2**num_deconv) heatmaps."""

    def __init__(self, in_channels: int = 2048, num_keypoints: int = 17, deconv_channels: int = 256,
                 num_deconv: int = 3) -> None:
        """`num_deconv` deconv/BN/ReLU stages of `deconv_channels`, then a 1x1 conv to K heatmaps."""
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(num_deconv):
            layers += [nn.ConvTranspose2d(channels, deconv_channels, 4, 2, 1, output_padding=0, bias=False),
                       nn.BatchNorm2d(deconv_channels), nn.ReLU(inplace=True)]
            channels = deconv_channels
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(channels, num_keypoints, 1, 1, 0)
        self.init_weights()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features -> heatmaps."""
        return self.final_layer(self.deconv_layers(features))

    def init_weights(self) -> None:
        """From-scratch init as MMPose's HeatmapHead: normal(0, 0.001) (de)convs, zero biases, BN 1/0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

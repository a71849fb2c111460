"""The small random models the export tests export (inference/test_export*.py, commands/test_export.py)."""
from __future__ import annotations

import torch

from simplepose.model.pose_model import SimpleBaseline


def bn_statistics_model() -> SimpleBaseline:
    """ResNet-18 SimpleBaseline (64-channel deconvs) with O(1) heatmaps and non-trivial BN statistics."""
    torch.manual_seed(0)
    model = SimpleBaseline(18, 17, deconv_channels=64)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
        elif isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)) and m in set(model.head.modules()):
            torch.nn.init.kaiming_normal_(m.weight)
    return model.eval()


def scaled_head_model() -> SimpleBaseline:
    """A small SimpleBaseline with O(1) heatmaps (the last conv scaled up from its tiny init)."""
    torch.manual_seed(0)
    model = SimpleBaseline(18, 17, deconv_channels=32)
    with torch.no_grad():
        model.head.final_layer.weight.mul_(50)
    return model.eval()

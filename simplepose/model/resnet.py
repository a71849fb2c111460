"""ResNet 18/34/50/101/152 backbone (torchvision v1.5 layout: stride on the 3x3 conv).

Parameter names follow MMPose's ResNet (conv1, bn1, layer<i>.<j>.conv1/bn1/..., downsample.0/1), which
are also torchvision's, so MMPose checkpoints and torchvision ImageNet weights load one to one.
Only the last stage is returned: (N, 512*expansion, H/32, W/32).
"""
from __future__ import annotations

import torch
from torch import nn

from simplepose.model.gemm_conv import Conv2d


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet 18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        """Convs of `planes` channels, the first strided; `downsample` maps the identity when shapes differ."""
        super().__init__()
        self.conv1 = Conv2d(in_channels, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block forward."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity  # in place: one activation-sized allocation less per block
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 bottleneck with a residual connection (ResNet 50/101/152)."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        """1x1 to `planes`, strided 3x3, 1x1 to 4x`planes`; `downsample` maps the identity when shapes differ."""
        super().__init__()
        self.conv1 = Conv2d(in_channels, planes, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = Conv2d(planes, planes * self.expansion, 1, 1, 0, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block forward."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity  # in place: one activation-sized allocation less per block
        return self.relu(out)


# depth -> (block type, blocks per stage)
ARCH: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def depth_from_blocks(blocks: tuple[int, ...], bottleneck: bool) -> int | None:
    """The ResNet depth with these blocks per stage and block type, or None if there is none."""
    for depth, (block, stage_blocks) in ARCH.items():
        if tuple(blocks) == stage_blocks and (block is Bottleneck) == bottleneck:
            return depth
    return None


class ResNet(nn.Module):
    """ResNet backbone returning the layer4 feature map (N, 512*expansion, H/32, W/32)."""

    def __init__(self, depth: int = 50) -> None:
        """Stem and four stages of the ResNet of this depth (18/34/50/101/152), initialised from scratch."""
        super().__init__()
        if depth not in ARCH:
            raise ValueError(f"unsupported ResNet depth {depth}; choose one of {sorted(ARCH)}")
        self.depth = depth
        block, stage_blocks = ARCH[depth]
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels = 64
        for i, num_blocks in enumerate(stage_blocks):
            planes = 64 * 2 ** i
            layer, in_channels = _make_layer(block, in_channels, planes, num_blocks, 1 if i == 0 else 2)
            self.add_module(f"layer{i + 1}", layer)
        self.out_channels = in_channels
        self.init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, C, H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def init_weights(self, zero_init_residual: bool = True) -> None:
        """From-scratch init as MMPose's ResNet: Kaiming (fan_out) convs, BN 1/0, last BN of each block 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)


def _make_layer(block: type[nn.Module], in_channels: int, planes: int, num_blocks: int,
                stride: int) -> tuple[nn.Sequential, int]:
    """One stage; a 1x1 conv + BN downsample starts it when the shape changes."""
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                   nn.BatchNorm2d(out_channels))
    blocks = [block(in_channels, planes, stride, downsample)]
    blocks += [block(out_channels, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks), out_channels

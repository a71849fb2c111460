"""A Conv2d that trains its small feature maps as one matrix product on the CPU.

oneDNN's convolution is slow at ResNet's last stage when the input is small: at 128x96 input
layer4 works on 4x3 pixels (batch 32: 384 output pixels, 512x512x3x3 weights), and its bf16
backward pass runs at a small fraction of torch.mm's rate. Written as im2col (nine shifted views of
the padded input) and one GEMM per pass, the three products (output, input gradient, weight
gradient) come near matmul speed, and the ResNet-18 demo's training step gets faster in bf16 and
fp32 (numbers in benchmarks/README.md; `python benchmarks/train_step.py --cases res18`
re-measures it). Larger maps keep oneDNN's kernel, which wins there,
and so does everything outside CPU training: inference, evaluation and export run the plain
convolution, so the reference numbers are untouched.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Output pixels per image up to which the GEMM form is used (4x3 = 12 at 128x96 input); at 8x6 = 48
# (layer3 at 128x96, layer4 at 256x192) oneDNN's kernel was faster.
GEMM_MAX_PIXELS = 16


def _windows(padded: torch.Tensor, k: int, stride: int, out_hw: tuple[int, int]) -> list[torch.Tensor]:
    """The k*k shifted, strided views of padded (B, Hp, Wp, C) that a k x k conv reads, each (B, Ho, Wo, C)."""
    ho, wo = out_hw
    return [padded[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            for i in range(k) for j in range(k)]


class _GemmConv(torch.autograd.Function):
    """y = conv2d(x, w, stride, padding k//2) without bias, as im2col + GEMM; y is channels_last."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:  # noqa: D102
        b, c, h, w = x.shape
        o, _, k, _ = weight.shape
        p = k // 2
        out_hw = ((h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1)
        padded = F.pad(x, (p, p, p, p)).permute(0, 2, 3, 1)                  # (B, Hp, Wp, C)
        # cols[(b, y, x), c * k*k + tap]: the weight's (O, C, kh, kw) order
        cols = torch.stack(_windows(padded, k, stride, out_hw), dim=-1).reshape(-1, c * k * k)
        w2d = weight.reshape(o, c * k * k)
        ctx.save_for_backward(cols, w2d)
        ctx.geometry = (b, c, h, w, k, p, stride, out_hw)
        return (cols @ w2d.t()).view(b, *out_hw, o).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:  # noqa: D102
        cols, w2d = ctx.saved_tensors
        b, c, h, w, k, p, stride, out_hw = ctx.geometry
        g = grad_y.permute(0, 2, 3, 1).reshape(-1, w2d.shape[0])             # (B*Ho*Wo, O)
        grad_w = (g.t() @ cols).view(-1, c, k, k)
        grad_cols = (g @ w2d).view(b, *out_hw, c, k * k)
        grad_padded = grad_cols.new_zeros(b, h + 2 * p, w + 2 * p, c)
        for tap, window in enumerate(_windows(grad_padded, k, stride, out_hw)):
            window += grad_cols[..., tap]                                     # col2im: views write through
        return grad_padded[:, p:p + h, p:p + w].permute(0, 3, 1, 2), grad_w, None


class Conv2d(nn.Conv2d):
    """nn.Conv2d (same parameters and state dict) whose CPU training pass on small maps is a GEMM."""

    def _use_gemm(self, x: torch.Tensor) -> bool:
        """Training on the CPU, a plain odd square kernel with 'same' padding, and a small output map."""
        if not (torch.is_grad_enabled() and x.device.type == "cpu" and x.dim() == 4):
            return False
        k, (sh, sw) = self.kernel_size[0], self.stride
        plain = (self.bias is None and self.groups == 1 and self.dilation == (1, 1) and self.padding_mode == "zeros"
                 and self.kernel_size == (k, k) and k % 2 == 1 and self.padding == (k // 2, k // 2) and sh == sw)
        if not plain:
            return False
        ho, wo = (x.shape[2] - 1) // sh + 1, (x.shape[3] - 1) // sw + 1
        return ho * wo <= GEMM_MAX_PIXELS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution; under CPU autocast the GEMM form computes in the autocast dtype, as conv2d does."""
        if not self._use_gemm(x):
            return super().forward(x)
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        with torch.autocast("cpu", enabled=False):
            return _GemmConv.apply(x.to(dtype), self.weight.to(dtype), self.stride[0])

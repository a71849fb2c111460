"""The GEMM form of small-map convolutions against torch's own conv2d (the independent truth)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simplepose.model import gemm_conv
from simplepose.model.gemm_conv import Conv2d


def _pair(cin: int, cout: int, k: int, stride: int) -> tuple[Conv2d, nn.Conv2d]:
    """A Conv2d and an nn.Conv2d with the same weights."""
    torch.manual_seed(0)
    ours = Conv2d(cin, cout, k, stride, k // 2, bias=False)
    ref = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _forward_backward(conv: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Output, input gradient and weight gradient of sum(conv(x) * r) for a fixed random r."""
    x = x.clone().requires_grad_()
    conv.zero_grad()
    y = conv(x)
    r = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    (y * r).sum().backward()
    return y.detach(), x.grad, conv.weight.grad.clone()


@pytest.mark.parametrize("k, stride, hw", [(3, 1, (4, 3)), (3, 2, (8, 6)), (3, 2, (5, 3)), (1, 2, (8, 5)),
                                           (1, 1, (3, 3))])
@pytest.mark.parametrize("channels_last", [False, True])
def test_output_and_gradients_equal_conv2d(k: int, stride: int, hw: tuple[int, int], channels_last: bool) -> None:
    ours, ref = _pair(16, 24, k, stride)
    x = torch.randn(3, 16, *hw, generator=torch.Generator().manual_seed(2))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert ours._use_gemm(x)
    for got, want in zip(_forward_backward(ours, x), _forward_backward(ref, x)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_large_maps_eval_and_no_grad_run_the_plain_convolution() -> None:
    ours, ref = _pair(8, 8, 3, 1)
    big = torch.randn(2, 8, 8, 6)
    assert 8 * 6 > gemm_conv.GEMM_MAX_PIXELS and not ours._use_gemm(big)
    small = torch.randn(2, 8, 4, 3)
    with torch.no_grad():
        assert not ours._use_gemm(small)
        assert torch.equal(ours(small), ref(small))      # inference: bit-identical to nn.Conv2d


def test_other_geometries_are_left_to_conv2d() -> None:
    x = torch.randn(2, 8, 4, 3)
    assert not Conv2d(8, 8, 3, 1, 0, bias=False)._use_gemm(x)        # not 'same' padding
    assert not Conv2d(8, 8, 3, 1, 1, bias=True)._use_gemm(x)         # bias
    assert not Conv2d(8, 8, 3, 1, 1, bias=False, groups=2)._use_gemm(x)
    assert not Conv2d(8, 8, 3, 1, 2, dilation=2, bias=False)._use_gemm(x)


def test_bf16_autocast_matches_conv2d_in_dtype_and_within_bf16_rounding() -> None:
    ours, ref = _pair(32, 32, 3, 1)
    x = torch.randn(4, 32, 4, 3, generator=torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, gx, gw = _forward_backward(ours, x)
        want, wx, ww = _forward_backward(ref, x)
    assert got.dtype == want.dtype == torch.bfloat16
    assert gw.dtype == ww.dtype == torch.float32                       # master weights stay fp32
    exact = F.conv2d(x, ref.weight.detach(), padding=1)
    scale = float(exact.abs().max())
    assert float((got.float() - exact).abs().max()) <= 0.02 * scale
    for a, b in ((gx, wx), (gw, ww)):
        assert float((a - b).abs().max()) <= 0.02 * float(b.abs().max())


def test_state_dict_is_nn_conv2d_s() -> None:
    ours, ref = _pair(4, 6, 3, 2)
    assert isinstance(ours, nn.Conv2d)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}

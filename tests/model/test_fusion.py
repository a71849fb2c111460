"""BatchNorm folding and the oneDNN-fused CPU model against the plain model and MMPose's forward goldens."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from simplepose.model import fusion
from simplepose.model.fusion import FusedSimpleBaseline, fold_batchnorm, prepare_for_inference, prepare_in_precision
from simplepose.model.pose_model import SimpleBaseline, predict_heatmaps
from simplepose.model.precision import Precision, cpu_bf16_support
from tests.model.fill_rule import FLIP_INDICES


@pytest.mark.parametrize("fuse", [False, True])
def test_inference_models_match_mmpose(golden_model: SimpleBaseline, forward_golden: dict, fuse: bool) -> None:
    """BN folding + channels_last (and the oneDNN-fused variant) keep heatmaps within the golden tolerance."""
    fast = prepare_for_inference(golden_model, fuse=fuse)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    if fuse and torch.backends.mkldnn.is_available():
        assert isinstance(fast, FusedSimpleBaseline)
    x = torch.from_numpy(forward_golden["input"])
    np.testing.assert_allclose(predict_heatmaps(fast, x).numpy(), forward_golden["heatmaps"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(predict_heatmaps(fast, x, FLIP_INDICES, chunk_size=2).numpy(),
                               forward_golden["heatmaps_flip_test"], rtol=1e-4, atol=1e-5)


def test_fusion_falls_back_when_kernels_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fused model that disagrees with the plain one is rejected: the folded model is used instead."""
    model = SimpleBaseline(18, 3, deconv_channels=16).eval()
    torch.nn.init.normal_(model.head.final_layer.weight, std=0.1)
    torch.nn.init.normal_(model.head.final_layer.bias, std=0.1)
    monkeypatch.setattr(fusion._FusedConv, "forward", lambda self, x, residual=None: x[:, :1] * 0 - 7.0)
    assert fusion.fuse_for_cpu(model) is None
    assert not isinstance(prepare_for_inference(model), FusedSimpleBaseline)


def test_fold_batchnorm_on_random_statistics() -> None:
    """Folding equals eval-mode BN for non-trivial BN statistics (deconv and conv alike)."""
    torch.manual_seed(0)
    model = SimpleBaseline(18, 3, deconv_channels=16, num_deconv=2).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    torch.nn.init.normal_(model.head.final_layer.weight, std=0.1)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        ref = model(x)
        got = fold_batchnorm(model)(x)
    assert ref.abs().max() > 1e-3
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5 * ref.abs().max().item())


@pytest.mark.skipif(not cpu_bf16_support()[0], reason="needs a CPU with native bf16 (AMX or AVX512_BF16)")
def test_bf16_fused_model_is_close_to_the_golden(golden_model: SimpleBaseline, forward_golden: dict) -> None:
    """The fused bf16 model runs bf16 weights and activations and gives float32 heatmaps within 2% of
    the golden's peak (bf16 keeps 8 significant bits), flip test included."""
    fast, used = prepare_in_precision(golden_model, Precision("bf16", "test"))
    assert isinstance(fast, FusedSimpleBaseline) and used.name == "bf16"
    assert all(p.dtype == torch.bfloat16 for p in fast.parameters())
    x = torch.from_numpy(forward_golden["input"])
    for flip, key in ((None, "heatmaps"), (FLIP_INDICES, "heatmaps_flip_test")):
        got = predict_heatmaps(fast, x, flip, chunk_size=2)
        ref = forward_golden[key]
        assert got.dtype == torch.float32
        err = np.abs(got.numpy() - ref).max() / np.abs(ref).max()
        assert 0 < err < 0.02, err  # not bit-equal (it is bf16) yet close


def test_bf16_falls_back_to_fp32_when_the_fused_kernels_refuse(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Fused bf16 kernels that raise give the float32 path, a warning and the reason in the precision."""
    model = SimpleBaseline(18, 3, deconv_channels=16).eval()
    real = fusion.FusedSimpleBaseline.to_dtype

    def refuse(self, dtype):
        if dtype != torch.float32:
            raise RuntimeError("no bf16 kernels")
        return real(self, dtype)
    monkeypatch.setattr(fusion.FusedSimpleBaseline, "to_dtype", refuse)
    with caplog.at_level("WARNING", logger="simplepose.precision"):
        fast, used = prepare_in_precision(model, Precision("bf16", "test"))
    assert used.name == "fp32" and "fallback" in used.describe()
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    assert "running fp32" in caplog.text


def test_interleave_phases_by_hand() -> None:
    """Phase (a, b) lands at row 2m+a, column 2l+b, read from its block at (m+a, l+b)."""
    # h = 1, w = 2, one channel: block p = 2a+b holds 6p + (3 * row + column) on its 2 x 3 grid
    phases = torch.arange(24.0).view(1, 4, 2, 3).contiguous(memory_format=torch.channels_last)
    out = fusion.interleave_phases(phases, 1, 2)
    # row 0: phase (0, 0) at (0, 0), (0, 1); phase (0, 1) at (0, 1), (0, 2) -> 0, 7, 1, 8
    # row 1: phase (1, 0) at (1, 0), (1, 1); phase (1, 1) at (1, 1), (1, 2) -> 15, 22, 16, 23
    assert out.tolist() == [[[[0.0, 7.0, 1.0, 8.0], [15.0, 22.0, 16.0, 23.0]]]]
    assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("cin,cout,size", [(24, 8, (5, 4)), (8, 16, (3, 6))])
def test_sub_pixel_head_equals_deconv_relu_final(cin: int, cout: int, size: tuple[int, int]) -> None:
    """The phase-wise head = ConvTranspose2d(4, 2, 1) + ReLU then the 1x1 final conv (PyTorch's ops), float32."""
    torch.manual_seed(0)
    deconv = torch.nn.ConvTranspose2d(cin, cout, 4, 2, 1).eval()
    final = torch.nn.Conv2d(cout, 5, 1).eval()
    x = torch.randn(3, cin, *size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = final(torch.relu(deconv(x)))
        got = fusion._SubPixelHead(deconv, final)(x)
    assert got.shape == ref.shape == (3, 5, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


@pytest.mark.parametrize("kernel,stride,padding", [(4, 2, 1), (3, 1, 1), (2, 2, 0), (6, 3, 2)])
def test_gemm_taps_deconv_equals_conv_transpose(kernel: int, stride: int, padding: int) -> None:
    """Matrix product + shifted tap sums = relu(ConvTranspose2d(x)) (PyTorch's op), float32, for kernels
    that are multiples of the stride."""
    torch.manual_seed(0)
    deconv = torch.nn.ConvTranspose2d(32, 6, kernel, stride, padding).eval()
    x = torch.randn(2, 32, 4, 3).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = torch.relu(deconv(x))
        got = fusion._GemmTapsDeconvReLU(deconv)(x)
    assert got.shape == ref.shape and got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


def test_reduced_forms_only_in_reduced_precision(golden_model: SimpleBaseline) -> None:
    """float32 keeps the direct deconv kernels (the goldens' summation order); bf16 gets the phase-wise head."""
    fp32 = fusion.fuse_for_cpu(golden_model)
    assert fp32 is not None and isinstance(fp32.final, fusion._FusedConv)
    assert not any(isinstance(m, (fusion._SubPixelHead, fusion._GemmTapsDeconvReLU)) for m in fp32.modules())
    if cpu_bf16_support()[0]:
        bf16 = fusion.fuse_for_cpu(golden_model, dtype=torch.bfloat16)
        assert bf16 is not None and isinstance(bf16.final, fusion._SubPixelHead)
        assert isinstance(bf16.deconvs[0], fusion._GemmTapsDeconvReLU) and len(bf16.deconvs) == golden_model.num_deconv - 1

"""BatchNorm folding and the oneDNN-fused CPU model against the plain model and MMPose's forward goldens."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from simplepose.model import fusion
from simplepose.model.fusion import FusedSimpleBaseline, fold_batchnorm, prepare_for_inference
from simplepose.model.pose_model import SimpleBaseline, predict_heatmaps
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

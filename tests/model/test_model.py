"""SimpleBaseline against MMPose's state-dict manifest and forward goldens (fill-rule weights)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.model.checkpoint import build_model_from_state_dict
from simplepose.model.loss import KeypointMSELoss
from simplepose.model.pose_model import (FusedSimpleBaseline, SimpleBaseline, fold_batchnorm, predict_heatmaps,
                                         prepare_for_inference)
from simplepose.model.resnet import ResNet
from tests.model.fill_rule import fill_state_dict, golden_input, manifest_entries

FLIP_INDICES = [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


@pytest.fixture(scope="module")
def golden_model(mmpose_golden_dir: Path) -> SimpleBaseline:
    """ResNet-50 SimpleBaseline with the goldens' fill-rule weights."""
    return build_model_from_state_dict(fill_state_dict(mmpose_golden_dir))


@pytest.fixture(scope="module")
def forward_golden(mmpose_golden_dir: Path) -> dict[str, np.ndarray]:
    """model_forward.npz arrays."""
    with np.load(mmpose_golden_dir / "model_forward.npz") as z:
        return {k: z[k] for k in z.files}


def test_state_dict_matches_manifest_in_order(mmpose_golden_dir: Path) -> None:
    """Names, order, shapes and dtypes equal MMPose's state_dict; 33,999,697 parameters."""
    entries = manifest_entries(mmpose_golden_dir)
    sd = SimpleBaseline(50, 17).state_dict()
    assert list(sd) == [e["name"] for e in entries]
    for e in entries:
        assert tuple(sd[e["name"]].shape) == tuple(e["shape"]), e["name"]
        assert str(sd[e["name"]].dtype) == f"torch.{e['dtype']}", e["name"]
    assert sum(p.numel() for p in SimpleBaseline(50, 17).parameters()) == 33_999_697


@pytest.mark.parametrize("depth, params", [(18, 11_176_512), (34, 21_284_672), (50, 23_508_032),
                                           (101, 42_500_160), (152, 58_143_808)])
def test_backbone_sizes_match_torchvision_without_fc(depth: int, params: int) -> None:
    """Parameter counts equal torchvision's published ResNets minus their fc layer."""
    with torch.device("meta"):
        net = ResNet(depth)
    assert sum(p.numel() for p in net.parameters()) == params
    assert net.out_channels == (512 if depth < 50 else 2048)


def test_resnet18_shapes() -> None:
    """ResNet-18 SimpleBaseline: stride 32 backbone, 4x-down heatmaps with K channels."""
    model = SimpleBaseline(18, 5).eval()
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 64, 32))
        heat = model(torch.zeros(1, 3, 64, 32))
    assert feats.shape == (1, 512, 2, 1) and heat.shape == (1, 5, 16, 8)


def test_input_formula_matches_golden(mmpose_golden_dir: Path, forward_golden: dict) -> None:
    """The test input rebuilt from its formula is the golden's input."""
    np.testing.assert_array_equal(golden_input(mmpose_golden_dir).numpy(), forward_golden["input"])


def test_forward_matches_mmpose(golden_model: SimpleBaseline, forward_golden: dict) -> None:
    """Backbone output (rel 1e-4) and heatmaps (atol 1e-5) equal MMPose's."""
    x = torch.from_numpy(forward_golden["input"])
    with torch.no_grad():
        feats = golden_model.backbone(x)
        heat = golden_model.head(feats)
    np.testing.assert_allclose(feats.numpy(), forward_golden["backbone_out"], rtol=1e-4,
                               atol=1e-4 * np.abs(forward_golden["backbone_out"]).max())
    np.testing.assert_allclose(heat.numpy(), forward_golden["heatmaps"], rtol=1e-4, atol=1e-5)


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
    from simplepose.model import pose_model
    model = SimpleBaseline(18, 3, deconv_channels=16).eval()
    torch.nn.init.normal_(model.head.final_layer.weight, std=0.1)
    torch.nn.init.normal_(model.head.final_layer.bias, std=0.1)
    monkeypatch.setattr(pose_model._FusedConv, "forward", lambda self, x, residual=None: x[:, :1] * 0 - 7.0)
    assert pose_model.fuse_for_cpu(model) is None
    assert not isinstance(prepare_for_inference(model), FusedSimpleBaseline)


def test_flip_test_matches_mmpose(golden_model: SimpleBaseline, forward_golden: dict) -> None:
    """Original and flipped copy in one pass, flipped back with the shift, averaged: equals MMPose."""
    x = torch.from_numpy(forward_golden["input"])
    heat = predict_heatmaps(golden_model, x, FLIP_INDICES)
    np.testing.assert_allclose(heat.numpy(), forward_golden["heatmaps_flip_test"], rtol=1e-4, atol=1e-5)
    chunked = predict_heatmaps(fold_batchnorm(golden_model), x, FLIP_INDICES, chunk_size=2)
    np.testing.assert_allclose(chunked.numpy(), forward_golden["heatmaps_flip_test"], rtol=1e-4, atol=1e-5)


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


def test_mse_loss_hand_computed() -> None:
    """Mean over N, K, h, w of weighted squared errors; zero-weight keypoints still count in the mean."""
    pred = torch.tensor([[[[1.0, 3.0]], [[2.0, 2.0]]]])  # (1, 2, 1, 2)
    target = torch.zeros_like(pred)
    weights = torch.tensor([[1.0, 0.0]])
    assert KeypointMSELoss(True)(pred, target, weights).item() == pytest.approx((1 + 9) / 4)
    assert KeypointMSELoss(False)(pred, target).item() == pytest.approx((1 + 9 + 4 + 4) / 4)
    assert KeypointMSELoss(True)(pred, target, torch.tensor([[0.5, 2.0]])).item() == pytest.approx(
        (0.5 * 10 + 2.0 * 8) / 4)
    with pytest.raises(ValueError, match="weights"):
        KeypointMSELoss(True)(pred, target, torch.ones(1, 3))

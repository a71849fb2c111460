"""SimpleBaseline against MMPose's state-dict manifest and forward goldens (fill-rule weights)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.model.fusion import fold_batchnorm
from simplepose.model.head import heatmap_output_size
from simplepose.model.loss import KeypointMSELoss
from simplepose.model.pose_model import SimpleBaseline, predict_heatmaps, unwrap
from simplepose.model.resnet import ResNet
from tests.model.fill_rule import FLIP_INDICES, golden_input, manifest_entries


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


def test_flip_test_matches_mmpose(golden_model: SimpleBaseline, forward_golden: dict) -> None:
    """Original and flipped copy in one pass, flipped back with the shift, averaged: equals MMPose."""
    x = torch.from_numpy(forward_golden["input"])
    heat = predict_heatmaps(golden_model, x, FLIP_INDICES)
    np.testing.assert_allclose(heat.numpy(), forward_golden["heatmaps_flip_test"], rtol=1e-4, atol=1e-5)
    chunked = predict_heatmaps(fold_batchnorm(golden_model), x, FLIP_INDICES, chunk_size=2)
    np.testing.assert_allclose(chunked.numpy(), forward_golden["heatmaps_flip_test"], rtol=1e-4, atol=1e-5)


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


@pytest.mark.parametrize("input_size, num_deconv", [((192, 256), 3), ((96, 128), 3), ((64, 96), 2), ((32, 32), 1)])
def test_heatmap_output_size_is_what_the_network_outputs(input_size: tuple[int, int], num_deconv: int) -> None:
    """The rule configs and checkpoints are checked against equals the network's actual output (w, h)."""
    model = SimpleBaseline(18, 17, deconv_channels=16, num_deconv=num_deconv).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, input_size[1], input_size[0]))
    assert heatmap_output_size(input_size, num_deconv) == (out.shape[-1], out.shape[-2])


def test_unwrap_reaches_the_network_inside_parallel_and_compiled_wrappers():
    net = torch.nn.Linear(2, 2)
    compiled = torch.compile(net)              # wraps now, compiles only when first called
    assert compiled is not net and unwrap(compiled) is net
    assert unwrap(torch.nn.DataParallel(compiled)) is net
    assert unwrap(net) is net

"""Checkpoint reading (MMPose 1.x/0.x, wrapped/bare, module., torchvision) and writing."""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from simplepose.errors import CheckpointError
from simplepose.model import checkpoint as ckpt
from simplepose.model.pose_model import SimpleBaseline
from tests.model.fill_rule import fill_state_dict, manifest_entries


def _small_model(k: int = 5) -> SimpleBaseline:
    """A ResNet-18 SimpleBaseline with 32-channel deconvs and random BN statistics."""
    torch.manual_seed(1)
    model = SimpleBaseline(18, k, deconv_channels=32, num_deconv=3)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    return model.eval()


@pytest.mark.parametrize("naming", ["1.x", "0.x"])
def test_manifest_loads_without_missing_or_unexpected_keys(mmpose_golden_dir: Path, naming: str) -> None:
    """The manifest's state dict in both namings loads strictly; every tensor arrives in place."""
    raw = fill_state_dict(mmpose_golden_dir, naming)
    sd, _ = ckpt.normalise_state_dict({"state_dict": raw, "meta": {"mmpose_version": "0.x"}})
    assert ckpt.infer_arch(sd) == {"depth": 50, "num_keypoints": 17, "deconv_channels": 256, "num_deconv": 3}
    model = SimpleBaseline(50, 17)
    report = ckpt.load_state_dict_checked(model, sd, strict=True)
    assert report.missing == [] and report.unexpected == []
    loaded = model.state_dict()
    for e in manifest_entries(mmpose_golden_dir)[::37]:
        torch.testing.assert_close(loaded[e["name"]], raw[e["name" if naming == "1.x" else "mmpose0x_name"]])


def test_wrappers_prefixes_and_old_names_round_trip(tmp_path: Path) -> None:
    """Bare, wrapped, module.-prefixed, 0.x keypoint_head and 0.x final_layer.0 all give the same model."""
    model = _small_model()
    sd = model.state_dict()
    variants = {
        "bare": dict(sd),
        "wrapped": {"state_dict": dict(sd), "meta": {"epoch": 3}},
        "ddp": {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
        "mmpose0x": {"state_dict": {k.replace("head.", "keypoint_head.", 1): v for k, v in sd.items()}},
        "final_seq": {k.replace("head.final_layer.", "keypoint_head.final_layer.0."): v for k, v in sd.items()},
        "preproc": {**sd, "data_preprocessor.mean": torch.zeros(3, 1, 1), "data_preprocessor.std": torch.ones(3, 1, 1)},
    }
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        ref = model(x)
    for name, obj in variants.items():
        path = tmp_path / f"{name}.pth"
        torch.save(obj, path)
        loaded, meta = ckpt.load_model(path)
        assert loaded.arch() == model.arch(), name
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), ref, rtol=0, atol=0, msg=name)
    assert ckpt.load_checkpoint(tmp_path / "wrapped.pth")[1] == {"epoch": 3}


def test_infers_depth_and_keypoints_for_every_depth() -> None:
    """Depth from blocks per stage and block type; K and deconv width from the head's weights."""
    for depth in (18, 34, 50, 101, 152):
        with torch.device("meta"):
            sd = SimpleBaseline(depth, 7, deconv_channels=64, num_deconv=2).state_dict()
        assert ckpt.infer_arch(sd) == {"depth": depth, "num_keypoints": 7, "deconv_channels": 64, "num_deconv": 2}


def test_odd_block_counts_are_refused() -> None:
    """Blocks per stage matching no ResNet depth raise a CheckpointError that names the counts."""
    with torch.device("meta"):
        sd = SimpleBaseline(18, 3).state_dict()
    sd = {k: v for k, v in sd.items() if not k.startswith("backbone.layer2.1.")}
    with pytest.raises(CheckpointError, match=r"\[2, 1, 2, 2\]"):
        ckpt.infer_arch(sd)


def test_torchvision_imagenet_weights_load_into_backbone(tmp_path: Path) -> None:
    """A torchvision-format ResNet state dict (with fc.*) fills the backbone 1:1; the head is untouched."""
    donor = _small_model()
    tv = {k[len("backbone."):]: v for k, v in donor.state_dict().items()
          if k.startswith("backbone.") and not k.endswith("num_batches_tracked")}  # old torchvision files lack it
    tv["fc.weight"], tv["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(tv, path)
    target = SimpleBaseline(18, 5, deconv_channels=32)
    head_before = {k: v.clone() for k, v in target.head.state_dict().items()}
    report = ckpt.load_backbone_weights(target, path)
    assert report.missing == [] and report.unexpected == []
    for k, v in donor.backbone.state_dict().items():
        torch.testing.assert_close(target.backbone.state_dict()[k], v, rtol=0, atol=0)
    for k, v in target.head.state_dict().items():
        torch.testing.assert_close(v, head_before[k], rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="backbone weights"):
        ckpt.load_model(path)


def test_shape_mismatch_names_the_tensor() -> None:
    """A tensor of the wrong shape is refused with its name and both shapes."""
    model = _small_model(5)
    sd = dict(model.state_dict())
    sd["head.final_layer.weight"] = torch.zeros(5, 16, 1, 1)
    with pytest.raises(CheckpointError, match=r"head\.final_layer\.weight.*\(5, 16, 1, 1\).*\(5, 32, 1, 1\)"):
        ckpt.load_state_dict_checked(SimpleBaseline(18, 5, deconv_channels=32), sd)


def test_missing_and_unexpected_keys_are_reported() -> None:
    """Strict loading lists missing and unexpected keys; non-strict returns them in the report."""
    sd = dict(_small_model().state_dict())
    del sd["backbone.layer1.0.bn1.running_var"]
    sd["head.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): backbone\.layer1\.0\.bn1\.running_var; "
                                              r"1 unexpected key\(s\): head\.extra\.weight"):
        ckpt.load_state_dict_checked(SimpleBaseline(18, 5, deconv_channels=32), sd)
    report = ckpt.load_state_dict_checked(SimpleBaseline(18, 5, deconv_channels=32), sd, strict=False)
    assert report.missing == ["backbone.layer1.0.bn1.running_var"] and report.unexpected == ["head.extra.weight"]


def test_extra_head_conv_layers_are_refused() -> None:
    """0.x heads with extra conv layers (final_layer.0 and final_layer.3) are not SimpleBaseline heads."""
    sd = {"keypoint_head.final_layer.0.weight": torch.zeros(4, 4, 3, 3),
          "keypoint_head.final_layer.3.weight": torch.zeros(2, 4, 1, 1)}
    with pytest.raises(CheckpointError, match="extra conv layer"):
        ckpt.normalise_state_dict(sd, "x.pth")


def test_corrupt_and_odd_files_raise_checkpoint_error(tmp_path: Path) -> None:
    """Garbage, truncated files, non-dicts and missing files name the file in a CheckpointError."""
    good = tmp_path / "good.pth"
    ckpt.save_checkpoint(good, _small_model())
    cases = {"garbage.pth": b"this is not a checkpoint", "truncated.pth": good.read_bytes()[:5000]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match=name):
            ckpt.load_checkpoint(tmp_path / name)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth: expected a dict"):
        ckpt.load_checkpoint(tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="absent.pth: checkpoint file not found"):
        ckpt.load_checkpoint(tmp_path / "absent.pth")


def test_metadata_with_unimportable_classes_still_loads(tmp_path: Path) -> None:
    """Pickled classes of absent packages (e.g. mmengine's message hub) become stubs; tensors load."""
    fake = types.ModuleType("fake_mmengine_logging")

    class HistoryBuffer:  # stands for mmengine.logging.HistoryBuffer
        def __init__(self) -> None:
            self.values = [1.0, 2.0]

    HistoryBuffer.__module__ = fake.__name__
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    fake.HistoryBuffer = HistoryBuffer
    sys.modules[fake.__name__] = fake
    try:
        sd = _small_model().state_dict()
        torch.save({"state_dict": sd, "meta": {"epoch": 1, "seed": np.int64(7), "hist": np.arange(3.0)},
                    "message_hub": {"log": HistoryBuffer()}, "evil": os.system}, tmp_path / "mm.pth")
    finally:
        del sys.modules[fake.__name__]
    loaded, meta = ckpt.load_checkpoint(tmp_path / "mm.pth")
    assert meta["epoch"] == 1 and meta["seed"] == 7 and meta["hist"].tolist() == [0.0, 1.0, 2.0]
    raw, _ = ckpt.read_checkpoint_file(tmp_path / "mm.pth")
    assert raw["evil"] is not os.system and issubclass(raw["evil"], ckpt._Stub)  # not importable code
    torch.testing.assert_close(loaded["head.final_layer.weight"], sd["head.final_layer.weight"])


def test_save_checkpoint_is_mmpose_layout_and_round_trips(tmp_path: Path) -> None:
    """{"state_dict" (1.x names), "meta", "optimizer"} readable with weights_only; no temp files left."""
    model = _small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    path = ckpt.save_checkpoint(tmp_path / "sub" / "ours.pth", model, optimizer=opt, meta={"epoch": 2},
                                extra={"note": "x"})
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"state_dict", "meta", "optimizer", "note"}
    assert list(raw["state_dict"]) == list(model.state_dict())
    assert raw["meta"]["epoch"] == 2 and raw["meta"]["arch"] == model.arch()
    assert sorted(p.name for p in path.parent.iterdir()) == ["ours.pth"]
    loaded, _ = ckpt.load_model(path)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)

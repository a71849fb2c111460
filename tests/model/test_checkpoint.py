"""Checkpoint reading (MMPose 1.x/0.x, wrapped/bare, module., torchvision) and writing."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
import warnings
import zipfile
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


def test_mmengine_metadata_loads_as_data_and_other_classes_are_refused(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy values and mmengine's HistoryBuffer (message_hub) load as inert data; any other class or
    function in the pickle (os.system, a class of another package) is refused with a CheckpointError."""
    class HistoryBuffer:  # stands for mmengine.logging.history_buffer.HistoryBuffer
        def __init__(self) -> None:
            self.values = [1.0, 2.0]

    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    sd = _small_model().state_dict()
    torch.save({"state_dict": sd, "meta": {"epoch": 1, "seed": np.int64(7), "hist": np.arange(3.0),
                                          "colours": np.zeros((2, 3), np.uint8)},
                "message_hub": {"log_scalars": {"loss": HistoryBuffer()}}}, tmp_path / "mm.pth")
    other = types.ModuleType("fake_plugin")
    HistoryBuffer.__module__ = other.__name__
    other.HistoryBuffer = HistoryBuffer
    monkeypatch.setitem(sys.modules, other.__name__, other)
    torch.save({"state_dict": sd, "hub": HistoryBuffer()}, tmp_path / "foreign.pth")
    torch.save({"state_dict": sd, "evil": os.system}, tmp_path / "evil.pth")
    monkeypatch.undo()  # nothing of the fake packages is importable while loading

    loaded, meta = ckpt.load_checkpoint(tmp_path / "mm.pth")
    assert meta["epoch"] == 1 and meta["seed"] == 7 and meta["hist"].tolist() == [0.0, 1.0, 2.0]
    assert meta["colours"].dtype == np.uint8 and meta["colours"].shape == (2, 3)
    raw, _ = ckpt.read_checkpoint_file(tmp_path / "mm.pth")
    buffer = raw["message_hub"]["log_scalars"]["loss"]
    assert type(buffer) is not HistoryBuffer and buffer.state == {"values": [1.0, 2.0]}
    torch.testing.assert_close(loaded["head.final_layer.weight"], sd["head.final_layer.weight"])
    with pytest.raises(CheckpointError, match=r"foreign\.pth: refused to load: .*fake_plugin\.HistoryBuffer"):
        ckpt.load_checkpoint(tmp_path / "foreign.pth")
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused to load: .*(posix|os)\.system"):
        ckpt.load_checkpoint(tmp_path / "evil.pth")


# For every module the old "tolerant" unpickler allowed names from (by prefix or wholesale), an
# attribute path from it to the builtins' dict: `<path>.get` then ("eval",) then (code,) runs code.
_FORMERLY_ALLOWED = {
    "torch": "__builtins__.get", "torch._utils": "_rebuild_tensor_v2.__builtins__.get",
    "torch._tensor": "_rebuild_from_type_v2.__builtins__.get",
    "torch.serialization": "_get_layout.__builtins__.get", "torch.nn.parameter": "__builtins__.get",
    "numpy": "__builtins__.get", "numpy._core.multiarray": "__builtins__.get",
    "numpy.core.multiarray": "__builtins__.get", "datetime": "__builtins__.get",
    "collections": "__builtins__.get", "copyreg": "_reconstructor.__builtins__.get",
    "builtins": "__dict__.get", "_codecs": "__loader__.exec_module.__builtins__.get",
}


def _text(value: str) -> bytes:
    """Pickle opcodes pushing a str (SHORT_BINUNICODE or BINUNICODE)."""
    b = value.encode()
    return b"\x8c" + bytes([len(b)]) + b if len(b) < 256 else b"X" + len(b).to_bytes(4, "little") + b


def _payload(module: str, name: str, marker: Path, opcode: str) -> bytes:
    """Protocol-4 opcodes (no STOP) that resolve module.name, call it with "eval" and call the result
    with code creating `marker`: harmless, and visible when it runs."""
    code = f"open({str(marker)!r}, 'w').close()"
    find = _text(module) + _text(name) + b"\x93" if opcode == "STACK_GLOBAL" else \
        b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    return b"\x80\x04" + find + _text("eval") + b"\x85R" + _text(code) + b"\x85R"


@pytest.mark.parametrize("module", sorted(_FORMERLY_ALLOWED))
def test_hand_built_pickles_with_dotted_names_never_run(tmp_path: Path, module: str) -> None:
    """Dotted names (STACK_GLOBAL, and GLOBAL under protocol 4) from every formerly allowed module:
    live payloads (the standard unpickler runs them), refused here with nothing run."""
    pytest.importorskip(module)
    marker = tmp_path / "ran"
    for opcode in ("STACK_GLOBAL", "GLOBAL"):
        data = _payload(module, _FORMERLY_ALLOWED[module], marker, opcode) + b"."
        pickle.loads(data)
        assert marker.exists(), f"{module} {opcode}: the payload is not live"
        marker.unlink()
        (tmp_path / "evil.pth").write_bytes(data)
        with pytest.raises(CheckpointError, match="evil.pth: refused to load"):
            ckpt.load_model(tmp_path / "evil.pth")
        assert not marker.exists(), f"{module} {opcode}: code ran"


def test_real_checkpoint_with_spliced_payload_is_refused(tmp_path: Path) -> None:
    """Our own checkpoint with a payload spliced before its pickle: it would load and work with a
    code-running loader (and run the payload); here it is refused and nothing runs."""
    model = _small_model()
    good = ckpt.save_checkpoint(tmp_path / "good.pth", model)
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                data = _payload("torch._utils", _FORMERLY_ALLOWED["torch._utils"], marker, "STACK_GLOBAL") \
                    + b"0" + data  # POP the payload's result, then the checkpoint's own pickle
            dst.writestr(info, data)
    x = torch.randn(1, 3, 64, 48)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch notes the protocol-4 opcodes
        raw = torch.load(evil, weights_only=False)
    assert marker.exists()  # live: a code-running load runs it ...
    marker.unlink()
    spliced = SimpleBaseline(18, 5, deconv_channels=32).eval()
    spliced.load_state_dict(raw["state_dict"])
    with torch.no_grad():
        torch.testing.assert_close(spliced(x), model(x), rtol=0, atol=0)  # ... and the model works
    for load in (ckpt.load_model, ckpt.load_checkpoint, ckpt.read_checkpoint_file):
        with pytest.raises(CheckpointError, match=r"evil\.pth: refused to load: .*opcode"):
            load(evil)
        assert not marker.exists()


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


def test_every_one_byte_corruption_of_our_checkpoint_is_refused(tmp_path: Path) -> None:
    """Changing any single byte of a file save_checkpoint wrote gives a CheckpointError; torch.load
    alone accepts a changed weight byte silently (the corruption this guards against)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    data = ckpt.save_checkpoint(tmp_path / "ours.pth", model, meta={"epoch": 3}).read_bytes()
    weight = model.weight.detach().numpy().tobytes()
    at = data.find(weight)
    assert at > 0
    bad = bytearray(data)
    bad[at] ^= 0x01
    (tmp_path / "bad.pth").write_bytes(bytes(bad))
    silently = torch.load(tmp_path / "bad.pth", weights_only=True)["state_dict"]["weight"]
    assert not torch.equal(silently, model.weight.detach())
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x20
        (tmp_path / "bad.pth").write_bytes(bytes(bad))
        with pytest.raises(CheckpointError, match="bad.pth: "):
            ckpt.read_checkpoint_file(tmp_path / "bad.pth")
    assert ckpt.load_checkpoint(tmp_path / "ours.pth")[1]["epoch"] == 3


def test_our_checkpoint_rewritten_without_its_digest_is_refused(tmp_path: Path) -> None:
    """The same archive re-zipped (its digest comment gone, content intact) no longer counts as ours."""
    good = ckpt.save_checkpoint(tmp_path / "ours.pth", torch.nn.Linear(3, 2))
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "rezip.pth", "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
    assert torch.load(tmp_path / "rezip.pth", weights_only=True)["state_dict"].keys() == {"weight", "bias"}
    with pytest.raises(CheckpointError, match="rezip.pth: .*digest is missing"):
        ckpt.read_checkpoint_file(tmp_path / "rezip.pth")


_WRITER = """
import os, sys, time
from simplepose.io import atomic_write
def write(f):
    f.write(b"x" * 4096)
    f.flush()
    if sys.argv[2] == "die":
        os.kill(os.getpid(), 9)   # as kill -9 during a checkpoint write
    print("writing", flush=True)
    time.sleep(120)
atomic_write(sys.argv[1], write, mode="wb")
"""


def test_fragments_of_killed_checkpoint_writes_are_removed_when_safe(tmp_path: Path) -> None:
    """save_checkpoint removes the temp file a kill -9 left, but not one a live writer is still
    writing, nor files that only look like temp files."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    killed = subprocess.run([sys.executable, "-c", _WRITER, str(tmp_path / "latest.pth"), "die"], env=env)
    assert killed.returncode == -9
    (dead,) = tmp_path.iterdir()
    assert dead.name.startswith(".latest.pth.") and dead.name.endswith(".tmp")
    live = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "epoch_1.pth"), "live"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline().strip() == "writing"
        (alive,) = [p for p in tmp_path.iterdir() if p.name.startswith(".epoch_1.pth.")]
        lookalikes = [".latest.pth.tmp", "notes.tmp", ".latest.pth.abcd1234.tmp", dead.name.replace("-", "_")]
        for name in lookalikes:
            (tmp_path / name).write_text("not the project's")
        ckpt.save_checkpoint(tmp_path / "epoch_2.pth", torch.nn.Linear(3, 2))
        assert not dead.exists() and alive.exists()
        assert all((tmp_path / name).exists() for name in lookalikes)
    finally:
        live.kill()
        live.wait()
    ckpt.save_checkpoint(tmp_path / "epoch_3.pth", torch.nn.Linear(3, 2))
    assert not alive.exists()  # its writer is gone now
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["epoch_2.pth", "epoch_3.pth", *lookalikes])


# MMPose 1.3.2's parse_pose_metainfo output for configs/_base_/datasets/posetrack18.py, written out
# by hand from that config (keypoint_info, skeleton_info, joint_weights, sigmas).
_PT18_NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
               "right_knee", "left_ankle", "right_ankle"]
_B, _G, _O = [51, 153, 255], [0, 255, 0], [255, 128, 0]
MMPOSE_POSETRACK18_META = {
    "dataset_name": "posetrack18",
    "num_keypoints": 17,
    "keypoint_id2name": dict(enumerate(_PT18_NAMES)),
    "keypoint_name2id": {n: i for i, n in enumerate(_PT18_NAMES)},
    "upper_body_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    "lower_body_ids": [11, 12, 13, 14, 15, 16],
    "flip_indices": [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    # (swap, name) per keypoint with a swap partner, kept when not yet listed: so both orders
    "flip_pairs": [(4, 3), (3, 4), (6, 5), (5, 6), (8, 7), (7, 8), (10, 9), (9, 10), (12, 11), (11, 12),
                   (14, 13), (13, 14), (16, 15), (15, 16)],
    "keypoint_colors": [_B, _B, _B, _B, _B, _G, _O, _G, _O, _G, _O, _G, _O, _G, _O, _G, _O],
    "num_skeleton_links": 16,
    "skeleton_links": [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
                       (6, 8), (7, 9), (8, 10), (0, 1), (0, 2), (1, 5), (1, 6)],
    "skeleton_link_colors": [_G, _G, _O, _O, _B, _B, _B, _B, _G, _O, _G, _O, _B, _B, _B, _B],
    "dataset_keypoint_weights": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5],
    "sigmas": [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
               0.087, 0.087, 0.089, 0.089],
}


def test_checkpoints_carry_the_dataset_meta_mmpose_reads(tmp_path: Path) -> None:
    """meta["dataset_meta"] equals what MMPose builds from its PoseTrack18 dataset config, is readable by
    a plain weights-only torch.load (what mmengine's loader does), and follows the saved keypoint set."""
    model = SimpleBaseline(18, 17, deconv_channels=32).eval()
    path = ckpt.save_checkpoint(tmp_path / "pt.pth", model,
                                extra={"config": {"data": {"dataset": "posetrack18"}}})
    meta = torch.load(path, map_location="cpu", weights_only=True)["meta"]
    assert meta["dataset_meta"] == MMPOSE_POSETRACK18_META
    assert [type(p) for p in meta["dataset_meta"]["flip_pairs"]] == [tuple] * 14
    # MMPose's init_model: dataset_meta from the checkpoint's meta when present
    assert ckpt.load_model(path)[1]["dataset_meta"]["flip_indices"][1:3] == [1, 2]  # head_bottom/top stay
    coco = ckpt.save_checkpoint(tmp_path / "coco.pth", model, extra={"config": {"data": {"dataset": "coco"}}})
    coco_meta = torch.load(coco, weights_only=True)["meta"]["dataset_meta"]
    assert coco_meta["dataset_name"] == "coco"
    assert coco_meta["flip_indices"] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert coco_meta["keypoint_id2name"][1] == "left_eye" and coco_meta["num_skeleton_links"] == 19
    assert torch.load(ckpt.save_checkpoint(tmp_path / "k5.pth", _small_model(5)),
                      weights_only=True)["meta"].get("dataset_meta") is None   # no 5-keypoint dataset
    with pytest.raises(ValueError, match="17 keypoints, the model 5"):
        ckpt.save_checkpoint(tmp_path / "bad.pth", _small_model(5), schema="posetrack18")


class _Forged:
    """Pickles as `reduce` with `state` (BUILD), the way numpy's own objects pickle."""

    def __init__(self, reduce: tuple, state: object) -> None:
        self.reduce, self.state = reduce, state

    def __reduce__(self) -> tuple:
        """(callable, args, state): GLOBAL, REDUCE, BUILD in the pickle."""
        return (*self.reduce, self.state)


def _reconstruct_fn() -> object:
    """numpy's array rebuild function (numpy.core or numpy._core)."""
    return np.zeros(1).__reduce__()[0]


def _forged_dtype(state: tuple, spec: str = "f8") -> _Forged:
    """numpy.dtype(spec, False, True) with a hand-made BUILD state."""
    return _Forged((np.dtype, (spec, False, True)), state)


_OBJECT_FIELD = (3, "|", None, ("a",), {"a": (_Forged((np.dtype, ("O8", False, True)), None), 0)}, 8, 1, 1)


@pytest.mark.parametrize("state", [
    _OBJECT_FIELD,                                                   # a field holding a Python object pointer
    (3, "<", None, ("a",), {"a": (np.dtype("f4"), 0)}, 8, 1, 0),     # a structured dtype
    (3, "<", None, None, None, 16, 8, 0),                            # an element size that is not f8's
    (3, "<", None, None, None, -1, -1, 1),                           # flags of an object dtype
])
def test_forged_numpy_dtype_is_refused_by_name(tmp_path: Path, state: tuple) -> None:
    """An f8 dtype whose BUILD state adds fields, an object member or another size (with numpy 1.24,
    freeing an array of it dereferences a pointer from the file): refused as a forged dtype, and no
    array is made of it."""
    array = _Forged((_reconstruct_fn(), (np.ndarray, (0,), b"b")),
                    (1, (1,), _forged_dtype(state), False, b"\x41" * 8))
    torch.save({"state_dict": _small_model().state_dict(), "meta": {"colours": array}}, tmp_path / "forged.pth")
    with pytest.raises(CheckpointError, match=r"forged\.pth: refused to load: .*numpy dtype"):
        ckpt.load_checkpoint(tmp_path / "forged.pth")


@pytest.mark.parametrize("value", [
    _Forged((np.dtype, ("O8", False, True)), (3, "|", None, None, None, -1, -1, 63)),   # an object dtype
    _Forged((_reconstruct_fn(), (np.ndarray, (0,), b"b")),                             # raw bytes shorter than the shape
            (1, (1000,), np.dtype("f8"), False, b"\0" * 8)),
    _Forged((np.ndarray, ((4,), "O")), None),                                          # an ndarray called directly
])
def test_other_numpy_forgeries_are_refused(tmp_path: Path, value: object) -> None:
    """Object dtypes, arrays whose bytes do not fill their shape, and ndarray called as a function are
    refused by the checkpoint loader."""
    torch.save({"state_dict": _small_model().state_dict(), "meta": {"x": value}}, tmp_path / "forged.pth")
    with pytest.raises(CheckpointError, match=r"forged\.pth: refused to load"):
        ckpt.load_checkpoint(tmp_path / "forged.pth")


def test_plain_numpy_values_of_every_numeric_dtype_round_trip(tmp_path: Path) -> None:
    """Arrays and scalars of every plain numeric dtype, both byte orders and Fortran order load equal."""
    values = {t: (np.arange(6) % 2 if t == "b1" else np.arange(6)).astype(t).reshape(2, 3) for t in
              ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", ">f4", ">i8")}
    values["fortran"] = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    values["empty"] = np.zeros((0, 3), np.float32)
    scalars = {"s64": np.float64(2.5), "i32": np.int32(-3), "b": np.bool_(True)}
    torch.save({"state_dict": _small_model().state_dict(), "meta": {**values, **scalars}}, tmp_path / "np.pth")
    _, meta = ckpt.load_checkpoint(tmp_path / "np.pth")
    for key, expected in {**values, **scalars}.items():
        assert isinstance(meta[key], (np.ndarray, np.generic)) and meta[key].dtype == expected.dtype, key
        np.testing.assert_array_equal(meta[key], expected)


@pytest.mark.parametrize("kind", ["stride0", "meta", "quantised", "sparse", "complex"])
def test_tensors_that_are_not_plain_data_are_refused(tmp_path: Path, kind: str) -> None:
    """A head weight that is a stride-0 view asking for far more than the file holds, a meta, quantised,
    sparse or complex tensor: one CheckpointError naming the tensor, before any model is built."""
    sd = _small_model().state_dict()
    weight = sd["head.final_layer.weight"]
    sd["head.final_layer.weight"] = {
        "stride0": torch.zeros(1, 1, 1, 1).expand(1 << 20, 1 << 16, 1, 1),
        "meta": torch.empty(weight.shape, device="meta"),
        "quantised": torch.quantize_per_tensor(weight, 0.1, 0, torch.qint8),
        "sparse": weight.reshape(weight.shape[0], -1).to_sparse(),
        "complex": weight.to(torch.complex64),
    }[kind]
    torch.save({"state_dict": sd}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match=r"odd\.pth: tensor head\.final_layer\.weight .*"):
        ckpt.load_model(tmp_path / "odd.pth")


def test_a_head_with_absurd_keypoint_count_is_refused(tmp_path: Path) -> None:
    """A checkpoint whose head claims more keypoints than any schema: refused before building the model."""
    sd = _small_model().state_dict()
    sd["head.final_layer.weight"] = torch.zeros(5000, 32, 1, 1)
    sd["head.final_layer.bias"] = torch.zeros(5000)
    torch.save({"state_dict": sd}, tmp_path / "wide.pth")
    with pytest.raises(CheckpointError, match=r"wide\.pth: the head has 5000 keypoint channels"):
        ckpt.load_model(tmp_path / "wide.pth")

MMENGINE_CHECKPOINT = Path(__file__).resolve().parent / "mmengine_checkpoint"


def test_a_real_mmengine_training_checkpoint_gives_its_weights(caplog: pytest.LogCaptureFixture) -> None:
    """epoch_N.pth as mmengine's Runner wrote it (mmengine_checkpoint/README.md): the weights are those the
    peer recorded, the config text gives its 96x128 size, and the training state it ignores is named."""
    import hashlib
    import json
    import logging

    from simplepose.model.settings import data_settings

    truth = json.loads((MMENGINE_CHECKPOINT / "epoch_1_small.json").read_text())
    with caplog.at_level(logging.INFO, logger="simplepose.model.checkpoint"):
        sd, meta = ckpt.load_checkpoint(MMENGINE_CHECKPOINT / "epoch_1_small.pth")
    assert list(sd) == list(truth["state_dict"])
    for name, want in truth["state_dict"].items():
        got = sd[name]
        assert (list(got.shape), str(got.dtype).replace("torch.", "")) == (want["shape"], want["dtype"])
        assert hashlib.sha256(got.contiguous().numpy().tobytes()).hexdigest() == want["sha256"], name
    assert sorted(meta) == truth["meta_keys"]
    assert data_settings({}, meta).input_size == (96, 128)
    assert "epoch_1_small.pth: using its state_dict; ignored: message_hub, optimizer, param_schedulers" in caplog.text


def _binunicode(value: str) -> bytes:
    """Pickle opcodes pushing a str with BINUNICODE (protocol 1+)."""
    b = value.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def test_getattr_in_a_checkpoint_resolves_nothing(tmp_path: Path) -> None:
    """mmengine pickles its buffers' methods as builtins.getattr calls: loading must name them, never look
    them up. A live payload (getattr from an allowed function to the builtins' eval) runs nothing here."""
    marker = tmp_path / "ran"
    getattr_of = lambda obj, name: b"h\x00" + obj + _binunicode(name) + b"\x86R"     # noqa: E731
    data = (b"\x80\x02cbuiltins\ngetattr\nq\x000"
            + getattr_of(b"ctorch._utils\n_rebuild_tensor_v2\n", "__globals__") + b"q\x010"
            + getattr_of(b"h\x01", "get") + _binunicode("__builtins__") + b"\x85Rq\x020"
            + getattr_of(b"h\x02", "get") + _binunicode("eval") + b"\x85R"
            + _binunicode(f"open({str(marker)!r}, 'w').close()") + b"\x85R.")
    pickle.loads(data)
    assert marker.exists(), "the payload is not live"
    marker.unlink()
    (tmp_path / "evil.pth").write_bytes(data)
    with pytest.raises(CheckpointError, match="evil.pth: "):
        ckpt.load_model(tmp_path / "evil.pth")
    assert not marker.exists()

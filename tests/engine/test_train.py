"""Trainer: exact resume after a mid-epoch kill, checkpoints, logs, and learning on synthetic data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from simplepose.engine.metrics_log import read_log
from simplepose.engine.state import TrainState
from simplepose.engine.stopping import StopTraining
from simplepose.engine.train import train
from simplepose.errors import CheckpointError, DataError
from tests.engine.tiny_run import tiny_config


def _raw(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _stop_at(n: int):
    """A hook that 'kills' training right after global iteration n (nothing saved at that point)."""
    def hook(state: TrainState, info: dict) -> None:
        if state.global_iter == n:
            raise StopTraining(f"killed after iteration {n}")
    return hook


@pytest.mark.parametrize("workers, precision", [(0, "fp32"), (1, "fp32"), (0, "bf16")])
def test_resume_mid_epoch_is_exact(synth_root, tmp_path, workers, precision):
    # 2 epochs x 4 iterations (batch 8); warm-up and a milestone make the LR depend on the position.
    # bf16: autocast forward, float32 weights and Adam state; the same kernels on the same machine
    # repeat bit for bit, so the resumed run must too
    common = ("optim.epochs=2", "runtime.max_iters_per_epoch=4", "optim.warmup_iters=3", "optim.milestones=[1]",
              f"data.workers={workers}", f"runtime.precision={precision}")
    full = tiny_config(synth_root, tmp_path / "full", *common)
    train(full)

    cut = tiny_config(synth_root, tmp_path / "cut", *common)
    with pytest.raises(StopTraining):
        # latest.pth is written every 2 iterations; the kill after iteration 7 leaves the one of
        # iteration 6 (epoch 2, iteration 2 of 4): the resumed run redoes iteration 7
        train(cut, hooks=[_stop_at(7)], save_every_iters=2)
    mid = _raw(tmp_path / "cut" / "latest.pth")
    assert (mid["train_state"]["epoch"], mid["train_state"]["iter_in_epoch"]) == (1, 2)
    assert mid["meta"]["precision"] == precision
    state = train(cut, resume=True)
    assert (state.epoch, state.global_iter) == (2, 8)

    a, b = _raw(tmp_path / "full" / "latest.pth"), _raw(tmp_path / "cut" / "latest.pth")
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    for i in sa:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[i][name], sb[i][name]), (i, name)
    # the losses logged after the resume point equal the uninterrupted run's
    la = {r["step"]: r["loss"] for r in read_log(tmp_path / "full" / "log.jsonl") if r["mode"] == "train"}
    lb = {r["step"]: r["loss"] for r in read_log(tmp_path / "cut" / "log.jsonl") if r["mode"] == "train"}
    assert all(la[s] == lb[s] for s in range(7, 9))


def test_resuming_a_finished_run_says_so(synth_root, tmp_path, caplog):
    import logging
    cfg = tiny_config(synth_root, tmp_path / "w", "optim.epochs=1", "runtime.max_iters_per_epoch=1")
    train(cfg)
    with caplog.at_level(logging.WARNING, logger="simplepose"):
        state = train(cfg, resume=True)
    assert state.epoch == 1
    assert "already finished its 1 epochs: nothing to train" in caplog.text and "optim.epochs=2" in caplog.text


def test_resume_needs_a_checkpoint(synth_root, tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(tiny_config(synth_root, tmp_path / "none"), resume=True)


def test_checkpoints_are_mmpose_style(synth_root, tmp_path):
    cfg = tiny_config(synth_root, tmp_path / "w", "optim.epochs=2", "runtime.max_iters_per_epoch=1",
                      "runtime.keep_checkpoints=1")
    train(cfg)
    files = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert "latest.pth" in files and "epoch_2.pth" in files and "epoch_1.pth" not in files
    raw = _raw(tmp_path / "w" / "latest.pth")
    assert set(raw) >= {"state_dict", "meta", "optimizer", "train_state", "rng"}
    assert all(k.startswith(("backbone.", "head.")) for k in raw["state_dict"])
    from simplepose.model.checkpoint import load_model
    model, _ = load_model(tmp_path / "w" / "latest.pth")
    assert model.arch()["depth"] == 18


@pytest.mark.slow
def test_tiny_model_learns(synth_root, tmp_path):
    """Loss falls and the synthetic val AP rises far above an untrained model's."""
    from simplepose.engine.evaluate import evaluate_predictions, predict_instances
    from simplepose.engine.data import load_instances
    from simplepose.engine.build import build_model

    # 20 epochs x 5 iterations of 16 crops (about 45 CPU-seconds)
    cfg = tiny_config(synth_root, tmp_path / "learn", "optim.epochs=20", "optim.lr=3e-3",
                      "optim.warmup_iters=10", "optim.milestones=[16]", "data.batch_size=16",
                      "runtime.val_interval=20", "data.flip_test=false")
    torch.manual_seed(cfg.runtime.seed)
    untrained = build_model(cfg)
    preds = predict_instances(cfg, untrained, load_instances(cfg, "val"), progress=False)
    base = evaluate_predictions(cfg, preds, tmp_path / "untrained").metrics

    losses: list[float] = []
    state = train(cfg, hooks=[lambda s, info: losses.append(info["loss"])])
    final = state.history[-1]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)                     # measured: 0.0127 -> 0.0085
    assert base["Total AP"] < 2.0                                # untrained: ~0.2
    assert final["Total AP"] > base["Total AP"] + 15, (base["Total AP"], final["Total AP"])   # measured: 23
    assert (tmp_path / "learn" / "best.pth").is_file()
    vals = [r for r in read_log(tmp_path / "learn" / "log.jsonl") if r["mode"] == "val"]
    assert vals and vals[-1]["Total AP"] == pytest.approx(final["Total AP"])


def test_a_second_training_into_a_run_is_refused_unless_resumed_or_overwritten(synth_root, tmp_path, caplog):
    """A finished run's work dir: a fresh `train` there is refused with the remedies and changes
    nothing; with overwrite the old run is moved aside whole and the new one starts from epoch 1."""
    work = tmp_path / "w"
    train(tiny_config(synth_root, work, "optim.epochs=2", "runtime.max_iters_per_epoch=1"))
    def files(folder: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    before = files(work)
    again = tiny_config(synth_root, work, "optim.epochs=1", "runtime.max_iters_per_epoch=1")
    with pytest.raises(DataError, match=r"w: holds a training run \(latest\.pth at epoch 2\): continue it with "
                                        r"--resume, .*--work-dir.*--overwrite"):
        train(again)
    assert files(work) == before
    train(again, overwrite=True)
    aside = work / "replaced-1"
    assert files(aside) == before
    assert _raw(work / "latest.pth")["meta"]["epoch"] == 1
    assert "moved the previous run in" in caplog.text


def test_an_empty_work_dir_setting_is_refused(synth_root, tmp_path):
    """runtime.work_dir= (empty) would write into the current folder: refused when the config is read."""
    from simplepose.errors import ConfigError
    with pytest.raises(ConfigError, match="runtime.work_dir must not be empty"):
        tiny_config(synth_root, tmp_path, "runtime.work_dir=")


def test_a_changed_learning_rate_on_resume_is_named_and_the_current_one_wins(synth_root, tmp_path, caplog):
    """Trained at lr 0.001 (no warm-up, no milestones, no scaling), resumed at 0.002: a warning names the
    change, and every iteration after the resume point runs (and logs) lr 0.002."""
    common = ("runtime.max_iters_per_epoch=2", "optim.warmup_iters=0", "optim.milestones=[]",
              "optim.auto_scale_lr=false")
    train(tiny_config(synth_root, tmp_path / "w", "optim.epochs=1", "optim.lr=0.001", *common))
    train(tiny_config(synth_root, tmp_path / "w", "optim.epochs=2", "optim.lr=0.002", *common), resume=True)
    assert "optim.lr 0.001 -> 0.002; the current values apply from here on" in caplog.text
    lrs = {r["step"]: r["lr"] for r in read_log(tmp_path / "w" / "log.jsonl") if r["mode"] == "train"}
    assert lrs == {1: 0.001, 2: 0.001, 3: 0.002, 4: 0.002}


def _hostile(raw: dict, kind: str) -> dict:
    """A training checkpoint with one part made hostile (the digest note dropped, as an editor would)."""
    raw["meta"].pop("simplepose_digest", None)
    if kind == "train_state_list":
        raw["train_state"] = [1, 2, 3]
    elif kind == "train_state_keys":
        raw["train_state"] = {**raw["train_state"], "epoch": -5, "evil": 1}
    elif kind == "rng":
        raw["rng"] = {"python": "x", "numpy": 3, "torch": torch.zeros(2)}
    elif kind == "optimizer_shapes":
        for value in raw["optimizer"]["state"].values():
            value["exp_avg"] = torch.zeros(7)
    elif kind == "config_list":
        raw["config"] = [1, 2]
    elif kind == "no_state_dict":
        del raw["state_dict"]
    elif kind == "meta_list":
        raw["meta"] = [1]
    return raw


@pytest.mark.parametrize("kind", ["train_state_list", "train_state_keys", "rng", "optimizer_shapes", "config_list",
                                  "no_state_dict", "meta_list"])
def test_a_hostile_latest_checkpoint_on_resume_is_one_error(synth_root, tmp_path, kind):
    """latest.pth edited to hold odd train state, RNG state, optimiser state shapes, config, meta or no
    weights: --resume stops with a CheckpointError naming the file and the part, before any step."""
    work = tmp_path / "w"
    cfg = tiny_config(synth_root, work, "optim.epochs=2", "runtime.max_iters_per_epoch=1")
    train(tiny_config(synth_root, work, "optim.epochs=1", "runtime.max_iters_per_epoch=1"))
    torch.save(_hostile(_raw(work / "latest.pth"), kind), work / "latest.pth")
    with pytest.raises(CheckpointError, match=r"latest\.pth: "):
        train(cfg, resume=True)

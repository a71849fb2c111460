"""Config loading, typed --set overrides, clear errors, and the shipped configs."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.engine.config import Config, apply_overrides, config_from_dict, load_config, parse_override
from simplepose.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_overrides_are_typed():
    cfg = apply_overrides(Config(), ["optim.lr=1e-3", "data.batch_size=16", "runtime.precision=fp32",
                                     "optim.milestones=[3, 5]", "data.input_size=[96,128]", "data.heatmap_size=[24,32]",
                                     "model.load_from=null", "runtime.work_dir=out/x", "data.aug.rotate_factor=30"])
    assert cfg.optim.lr == 1e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.data.batch_size == 16 and cfg.runtime.precision == "fp32"
    assert cfg.optim.milestones == [3, 5] and cfg.data.input_size == [96, 128]
    assert cfg.model.load_from is None and cfg.runtime.work_dir == "out/x"
    assert cfg.data.aug == {"rotate_factor": 30}
    assert parse_override("optim.lr=5") == (["optim", "lr"], 5)
    # an int given for a float field becomes a float
    assert apply_overrides(Config(), ["optim.lr=1"]).optim.lr == 1.0


@pytest.mark.parametrize("override, words", [
    ("optim.lrr=1", "optim.lrr"),
    ("optm.lr=1", "optm"),
    ("data.batch_size=1.5", "data.batch_size"),
    ("runtime.precision=int8", "runtime.precision"),
    ("optim.milestones=3", "optim.milestones"),
    ("data.batch_size=null", "data.batch_size"),
    ("novalue", "key=value"),
])
def test_bad_overrides_name_the_key(override, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        apply_overrides(Config(), [override])


def test_unknown_yaml_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 0.1\n  wармup: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'optim.wармup'") as e:
        load_config(p)
    assert str(p) in str(e.value)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        config_from_dict([1, 2])


def test_seed_recipe_config():
    cfg = load_config(CONFIGS / "posetrack18_res50_256x192.yaml")
    o = cfg.optim
    assert (o.optimizer, o.lr, o.epochs, o.warmup_iters, o.warmup_ratio, o.milestones, o.gamma) == \
        ("adam", 5e-4, 20, 500, 0.001, [10, 15], 0.1)
    assert (cfg.data.batch_size, o.base_batch_size, o.auto_scale_lr) == (64, 512, True)
    assert cfg.model.load_from.endswith("res50_coco_256x192-ec54d7f3_20200709.pth")
    assert cfg.data.input_size == [192, 256] and cfg.data.heatmap_size == [48, 64]
    assert cfg.runtime.save_best == "Total AP" and cfg.runtime.val_interval == 1
    coco = load_config(CONFIGS / "coco_res50_256x192.yaml")
    assert (coco.optim.epochs, coco.optim.milestones) == (210, [170, 200])
    assert coco.model.load_from is None and "resnet50" in coco.model.backbone_init


def test_every_shipped_config_loads():
    files = sorted(CONFIGS.glob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        load_config(f)


def test_demo_config_file_matches_the_demo():
    from simplepose.commands.demo import demo_config
    shipped = load_config(CONFIGS / "synthetic_demo.yaml")
    built = demo_config(data_root=shipped.data.data_root, work_dir=shipped.runtime.work_dir)
    assert shipped == built


@pytest.mark.parametrize("override, words", [("runtime.log_interval=0", "log_interval"),
                                             ("data.batch_size=0", "batch_size"),
                                             ("data.input_size=[192]", "input_size"),
                                             ("optim.epochs=0", "epochs")])
def test_out_of_range_values_name_the_key(override, words):
    with pytest.raises(ConfigError, match=words):
        apply_overrides(Config(), [override])


def test_config_errors_read_like_data_errors(tmp_path, capsys):
    """`<file or --set> (<key>): problem`, and one `simplepose CMD: error: ...` line from the CLI."""
    from simplepose.cli import main

    with pytest.raises(ConfigError) as e:
        apply_overrides(Config(), ["optim.lrr=1"])
    assert str(e.value).startswith("--set (optim.lrr): unknown config key 'optim.lrr'")
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  batch_size: many\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"{p} (data.batch_size): 'data.batch_size' must be an integer, got 'many'"
    assert isinstance(e.value, ValueError)
    assert main(["train", str(p)]) == 2
    assert capsys.readouterr().err == f"simplepose train: error: {e.value}\n"


@pytest.mark.parametrize("override, words", [
    ("optim.lr=-1", "optim.lr"), ("optim.lr=.nan", "optim.lr"), ("optim.weight_decay=-0.1", "optim.weight_decay"),
    ("model.depth=19", "model.depth"), ("runtime.device=tpu", "runtime.device"),
    ("data.input_size=[190,256]", "multiples of 32"), ("data.heatmap_size=[40,64]", "data.heatmap_size"),
    ("data.sigma=0", "data.sigma"), ("data.sigma=-1", "data.sigma"), ("data.workers=-1", "data.workers"),
    ("runtime.threads=-2", "runtime.threads"), ("optim.warmup_iters=-5", "optim.warmup_iters"),
    ("optim.optimizer=rmsprop", "optim.optimizer"), ("data.dataset=mpii", "data.dataset"),
    ("data.aug.flip_prob=1.5", "data.aug.flip_prob"), ("data.aug.nonsense=1", "data.aug.nonsense"),
    ("data.aug.scale_range=[1.5,0.5]", "data.aug.scale_range"), ("data.aug.rotate_factor=x", "rotate_factor"),
    ("data.aug.max_reduce=3", "max_reduce"),
    ("track.smooth.min_cutoff=0", "track.smooth.min_cutoff"), ("track.smooth.beta=-0.1", "track.smooth.beta"),
    ("track.smooth.d_cutoff=.nan", "track.smooth.d_cutoff"),
])
def test_values_are_range_checked_at_load(override, words):
    """Every out-of-range value is a ConfigError naming its key, raised before any data is read."""
    with pytest.raises(ConfigError, match=words.replace(".", r"\.").replace("[", r"\[")) as e:
        apply_overrides(Config(), [override])
    assert e.value.key is not None


def test_yaml_alias_bomb_is_refused(tmp_path):
    """A few hundred bytes of nested YAML aliases ("billion laughs") are refused, not expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="more than"):
        load_config(p)
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="config refused"):
        load_config(deep)
    with pytest.raises(ConfigError, match="refused"):
        apply_overrides(Config(), ["name=" + "[" * 50 + "]" * 50])


@pytest.mark.parametrize("amp, precision, expected", [(False, None, "fp32"), (True, None, "auto"),
                                                      (True, "bf16", "bf16"), (False, "fp32", "fp32")])
def test_former_amp_flag_is_read_as_precision(amp, precision, expected):
    runtime = {"amp": amp} if precision is None else {"amp": amp, "precision": precision}
    cfg = config_from_dict({"runtime": runtime})
    assert cfg.runtime.precision == expected and cfg.runtime.amp is None


def test_amp_false_contradicting_precision_is_refused():
    with pytest.raises(ConfigError, match="runtime.amp is false but runtime.precision is 'bf16'"):
        config_from_dict({"runtime": {"amp": False, "precision": "bf16"}})

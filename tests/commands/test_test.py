"""`simplepose test`: absolute paths, metrics.json beside the predictions, the same table as `eval`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from simplepose.cli import main
from simplepose.engine.config import load_config, save_config
from tests.engine.conftest import tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config path, checkpoint) of a one-iteration model on one synthetic val video."""
    from simplepose.synthetic.writer import SynthOptions, generate_posetrack_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_posetrack_dataset(root, SynthOptions(videos={"train": 1, "val": 1}, frames=4, seed=3,
                                                  image_size=(128, 96)), progress=False)
    work = tmp_path_factory.mktemp("work")
    cfg_path = work / "cfg.yaml"
    save_config(tiny_config(root, work / "w", "optim.epochs=1", "runtime.max_iters_per_epoch=1"), cfg_path)
    assert main(["train", str(cfg_path)]) == 0
    return cfg_path, work / "w" / "latest.pth"


def test_test_writes_metrics_json_and_prints_absolute_paths(trained, tmp_path: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path, ckpt = trained
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["test", str(cfg_path), str(ckpt), "--out-dir", "rel/out", "--json", "m.json"]) == 0
    captured = capsys.readouterr()
    out_dir = tmp_path / "rel" / "out"
    lines = captured.out.strip().splitlines()
    assert f"predictions: {out_dir / 'predictions'}" in lines
    assert f"metrics: {out_dir / 'metrics.json'} and {tmp_path / 'm.json'}" in lines
    metrics = json.loads((out_dir / "metrics.json").read_text())      # strict JSON: json reads NaN too
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert metrics["predictions"] == str(out_dir / "predictions")
    total = metrics["metrics"]["Total AP"]
    assert metrics["posetrack"]["summary_ap"][-1] == pytest.approx(total)
    # the finished progress bar keeps its own line: the table is not written over it
    assert "predict" in captured.err and not captured.err.endswith("\r")
    assert "\n" in captured.err[captured.err.rindex("predict"):]
    # `eval` on the written predictions prints the very same table
    table = [ln for ln in lines if ln.startswith("|")]
    cfg = load_config(cfg_path)
    assert main(["eval", cfg.resolve(cfg.data.val_gt), str(out_dir / "predictions")]) == 0
    assert [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")] == table

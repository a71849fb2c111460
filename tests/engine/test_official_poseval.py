"""scripts/official_poseval.py: `simplepose track`'s files scored by the official poseval equal our numbers.

Needs the official poseval (not a dependency): in this interpreter, or in the one named by
SIMPLEPOSE_POSEVAL_PYTHON; skipped otherwise.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from simplepose.cli import main
from tests.engine.tiny_run import random_model_files

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "official_poseval.py"


def _script():
    """The script as a module."""
    spec = importlib.util.spec_from_file_location("official_poseval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def poseval_python() -> str:
    """A python that imports poseval, or skip."""
    python = os.environ.get("SIMPLEPOSE_POSEVAL_PYTHON", sys.executable)
    if not _script().has_poseval(python):
        pytest.skip(f"official poseval not importable by {python}: pip install motmetrics==1.4.0 shapely click "
                    "tqdm pandas git+https://github.com/svenkreiss/poseval, or set SIMPLEPOSE_POSEVAL_PYTHON")
    return python


def test_track_files_score_the_same_in_official_poseval(synth_root, tmp_path, poseval_python, capsys):
    config, ckpt, dets = random_model_files(synth_root, tmp_path)
    out = tmp_path / "track"
    # no output filter: a random model's persons are all kept, so poseval sees FPs, misses and switches
    assert main(["track", str(config), str(ckpt), "--bbox-file", str(dets), "--out-dir", str(out),
                 "--json", str(tmp_path / "m.json"), "--set", "track.out_box_thr=0.0", "track.out_kpt_thr=0.0"]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert metrics["FP"] > 0 and metrics["FN"] > 0                      # the comparison is not a trivial one
    capsys.readouterr()
    rc = _script().main([str(synth_root / "annotations" / "val"), str(out / "predictions"),
                         "--track-json", str(tmp_path / "m.json"), "--poseval-python", poseval_python])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "112 numbers compared" in printed and "all agree" in printed


def test_a_disagreement_is_reported(poseval_golden_dir, tmp_path, poseval_python):
    case = poseval_golden_dir / "p06_tracking"
    rows, bad = _script().compare(case / "gt", case / "pred", poseval_python)
    assert len(rows) == 112 and bad == []
    # a track json claiming another MOTA than poseval computes is caught
    mota = next(a for row, joint, a, _, _ in rows if row == "MOTA" and joint == "total")
    fake = tmp_path / "m.json"
    fake.write_text(json.dumps({"metrics": {"MOTA": mota + 0.01}}))
    _, bad = _script().compare(case / "gt", case / "pred", poseval_python, track_json=fake)
    assert len(bad) == 1 and bad[0].startswith("MOTA total")

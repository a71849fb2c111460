"""The `simplepose eval` command: table on stdout, JSON in the golden layout, clear errors."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from simplepose.commands import eval as eval_cmd
from simplepose.errors import ConfigError, DataError


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return eval_cmd.run(parser.parse_args(list(argv)))


def test_eval_table_and_json(poseval_golden_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    case = poseval_golden_dir / "p07_joint_gaps_thresholds"
    out = tmp_path / "metrics.json"
    assert _run(str(case / "gt"), str(case / "pred"), "--json", str(out)) == 0
    want = json.loads((case / "expected.json").read_text())
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| AP | Head | Shou | Elb | Wri | Hip | Knee | Ankl | Total |"
    cells = ["nan" if v is None else f"{v:.1f}" for v in want["summary_ap"]]
    assert lines[2] == "| AP | " + " | ".join(cells) + " |"
    got = json.loads(out.read_text())
    for key in ("joint_names", "summary_header"):
        assert got[key] == want[key]
    for key in ("ap", "precision", "recall", "summary_ap", "summary_precision", "summary_recall"):
        assert len(got[key]) == len(want[key])
        for a, b in zip(got[key], want[key]):
            assert (a is None and b is None) or abs(a - b) <= 1e-6


def test_eval_missing_prediction_folder(poseval_golden_dir: Path, tmp_path: Path) -> None:
    case = poseval_golden_dir / "p01_clean_small"
    with pytest.raises(DataError, match="prediction folder not found"):
        _run(str(case / "gt"), str(tmp_path / "nope"))
    with pytest.raises(DataError, match="not found"):
        _run(str(case / "gt"), str(tmp_path))


def test_eval_report_and_compare(poseval_golden_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    case = poseval_golden_dir / "p01_clean_small"
    out = tmp_path / "report"
    assert _run(str(case / "gt"), str(case / "pred"), "--tracking", "--json", str(tmp_path / "m.json"),
                "--report", str(out), "--compare", str(case / "pred")) == 0
    assert f"report: {out / 'index.html'}" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["evaluation"] == json.loads((tmp_path / "m.json").read_text())
    assert set(report["compare"]["difference"]["summary_ap"]) <= {0.0, None}


def test_eval_compare_needs_report(poseval_golden_dir: Path) -> None:
    case = poseval_golden_dir / "p01_clean_small"
    with pytest.raises(ConfigError, match="need --report"):
        _run(str(case / "gt"), str(case / "pred"), "--compare", str(case / "pred"))

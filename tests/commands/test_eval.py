"""The `simplepose eval` command: table on stdout, JSON in the golden layout, clear errors (unwritable outputs too)."""
from __future__ import annotations

import argparse
import errno
import json
import os
from pathlib import Path

import pytest

from simplepose.cli import main
from simplepose.commands import eval as eval_cmd
from simplepose.errors import ConfigError, DataError
from tests.commands.cli_errors import one_error_line
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred


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


def test_tracking_nan_row_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One labelled frame per sequence: MOTA has no frame to count, and the command says why."""
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=1)
    write_pred(pred_dir, as_prediction(gt))
    assert _run(str(gt_dir), str(pred_dir), "--tracking") == 0
    out = capsys.readouterr().out
    assert "| nan |" in out
    assert "MOTA needs >= 2 labelled frames per sequence" in out and "1 of 1 sequence(s) have fewer: " \
        "000001_mpii_test" in out
    (tmp_path / "ok").mkdir()
    gt_dir, pred_dir, gt = write_case(tmp_path / "ok", n_frames=3)
    write_pred(pred_dir, as_prediction(gt))
    assert _run(str(gt_dir), str(pred_dir), "--tracking") == 0
    assert "MOTA needs" not in capsys.readouterr().out


def test_eval_help_explains_ties_and_pairing() -> None:
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "numpy's unstable sort" in text and "paired by file_name" in text


@pytest.fixture()
def tiny_gt(poseval_golden_dir: Path, tmp_path: Path) -> Path:
    """A copy of a small official-poseval case: tmp/gt and tmp/pred."""
    import shutil

    case = poseval_golden_dir / "p01_clean_small"
    for name in ("gt", "pred"):
        shutil.copytree(case / name, tmp_path / name)
    return tmp_path


def test_a_folder_where_a_file_goes(tiny_gt: Path, capsys: pytest.CaptureFixture) -> None:
    out = tiny_gt / "out.json"
    out.mkdir()
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    one_error_line(capsys, "eval", f"{out}: ", "folder")


def test_disk_full_names_the_file(tiny_gt: Path, capsys: pytest.CaptureFixture,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tiny_gt / "metrics.json"
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    one_error_line(capsys, "eval", f"{out}: ", "No space left on device")
    assert not out.exists() and not [p for p in tiny_gt.iterdir() if p.name.startswith(".")]


def test_read_only_folder_names_the_file(tiny_gt: Path, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tiny_gt / "metrics.json"
    assert main(["eval", str(tiny_gt / "gt"), str(tiny_gt / "pred"), "--json", str(out)]) == 2
    one_error_line(capsys, "eval", f"{out}: ", "Read-only file system")


@pytest.mark.parametrize("mode", ["fixed", "published"])
def test_eval_tracking_prints_and_writes_keypoint_hota(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        mode: str) -> None:
    """The kit's numbers (the golden of a case with empty frames) in the table and the JSON."""
    from tests.evaluation import hota_cases
    gt_dir, pred_dir = hota_cases.write_case("h02_empty_frames", tmp_path)
    flags = ["--hota-kit-defect"] if mode == "published" else []
    assert _run(str(gt_dir), str(pred_dir), "--tracking", "--json", str(tmp_path / "m.json"), *flags) == 0
    out = capsys.readouterr().out
    assert "| keypoint HOTA | Nose | Neck |" in out
    assert ("#10 fixed" in out) == (mode == "fixed") and ("as the kit is published" in out) == (mode != "fixed")
    golden_file = Path(__file__).parents[1] / "evaluation" / "golden_hota" / "h02_empty_frames.json"
    golden = json.loads(golden_file.read_text())[mode]
    hota = json.loads((tmp_path / "m.json").read_text())["hota"]
    assert hota["kit_defect"] == (mode == "published")
    for field in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA"):
        want = golden["combined"][field]["joint"]
        assert hota["per_joint"][field] == pytest.approx([100 * v for v in want], abs=1e-4), field
        assert f"| {field} | " + " | ".join(f"{100 * v:.1f}" for v in want) + " |" in out
    with pytest.raises(ConfigError, match="--hota-kit-defect needs --tracking"):
        _run(str(gt_dir), str(pred_dir), "--hota-kit-defect")


def test_eval_tracking_prints_and_writes_jitter(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """GT given as predictions: zero acceleration error; 4 frames (the last unmatched) give one triple per
    GT joint: 3 people x 15 joints."""
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=4, n_people=3)
    write_pred(pred_dir, as_prediction(gt))
    assert _run(str(gt_dir), str(pred_dir), "--tracking", "--json", str(tmp_path / "m.json")) == 0
    assert "0.00% of head size, 0.00 px, over 45 joint triples" in capsys.readouterr().out
    jitter = json.loads((tmp_path / "m.json").read_text())["jitter"]
    assert jitter["triples"] == [3] * 15 + [45] and jitter["pixels"][15] == 0.0


def test_compare_is_labelled_by_its_short_name(poseval_golden_dir: Path, tmp_path: Path) -> None:
    """Two runs' predictions/ folders: the label is what tells them apart, not an absolute path."""
    import shutil

    from simplepose.evaluation.report import short_label
    assert short_label("/a/runs/run2", "/a/runs/run1") == "run2"
    assert short_label("/a/b/predictions", "/a/c/predictions") == "b/predictions"
    assert short_label("/x/pred", "/x/pred") == "pred"
    case = poseval_golden_dir / "p01_clean_small"
    other = tmp_path / "second" / "pred"
    shutil.copytree(case / "pred", other)
    out = tmp_path / "report"
    assert _run(str(case / "gt"), str(case / "pred"), "--report", str(out), "--compare", str(other)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["compare"]["name"] == "second/pred" and report["inputs"]["compare"] == str(other)
    page = (out / "index.html").read_text()
    assert "AP second/pred" in page and str(tmp_path) not in page.split("<h2>")[1]

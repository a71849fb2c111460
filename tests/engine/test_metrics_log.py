"""JSON-lines metric log: a resumed run forgets what was logged after its checkpoint."""
from __future__ import annotations

import logging

import pytest

from simplepose.engine.metrics_log import MetricLogger, read_log
from simplepose.errors import DataError


def test_drop_after_keeps_records_up_to_the_step(tmp_path):
    logger = MetricLogger(tmp_path, tensorboard=False)
    for step in (1, 2, 3, 4):
        logger.write("train", step, loss=1.0 / step)
    logger.drop_after(2)
    logger.write("train", 3, loss=0.5)
    assert [(r["step"], r["loss"]) for r in read_log(tmp_path / "log.jsonl")] == [(1, 1.0), (2, 0.5), (3, 0.5)]


def _partial_log(tmp_path):
    """A log whose writer was killed in the middle of its third record."""
    path = tmp_path / "log.jsonl"
    path.write_text('{"mode": "train", "step": 1, "loss": 1.0}\n{"mode": "train", "step": 2, "loss": 0.5}\n'
                    '{"mode": "train", "st')
    return path


def test_resume_after_a_truncated_last_line(tmp_path, caplog):
    path = _partial_log(tmp_path)
    with caplog.at_level(logging.WARNING):
        logger = MetricLogger(tmp_path, tensorboard=False)      # a resumed run opens the log again
    assert any(str(path) in r.getMessage() and "incomplete last line" in r.getMessage() for r in caplog.records)
    logger.drop_after(5)
    logger.write("train", 3, loss=0.25)
    assert [(r["step"], r["loss"]) for r in read_log(path)] == [(1, 1.0), (2, 0.5), (3, 0.25)]


def test_read_log_skips_a_truncated_last_line(tmp_path, caplog):
    path = _partial_log(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert [r["step"] for r in read_log(path)] == [1, 2]
    assert any("incomplete last line" in r.getMessage() for r in caplog.records)
    path.write_text('{"mode": "train", "step": 1}\nnot json\n{"mode": "train", "step": 2}\n')
    with pytest.raises(DataError, match="line 2"):
        read_log(path)                                          # damage inside the log is not guessed away


def test_log_is_not_written_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "log.jsonl").symlink_to(target)
    with pytest.raises(DataError, match="symbolic link"):
        MetricLogger(work, tensorboard=False)
    (work / "log.jsonl").unlink()
    logger = MetricLogger(work, tensorboard=False)
    (work / "log.jsonl").symlink_to(target)                     # swapped in after the logger opened
    with pytest.raises(DataError, match="symbolic link"):
        logger.write("train", 1, loss=1.0)
    with pytest.raises(DataError, match="symbolic link"):
        logger.drop_after(0)
    assert target.read_text() == "precious\n" and (work / "log.jsonl").is_symlink()

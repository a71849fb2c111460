"""JSON-lines metric log: a resumed run forgets what was logged after its checkpoint."""
from __future__ import annotations

from simplepose.engine.metrics_log import MetricLogger, read_log


def test_drop_after_keeps_records_up_to_the_step(tmp_path):
    logger = MetricLogger(tmp_path, tensorboard=False)
    for step in (1, 2, 3, 4):
        logger.write("train", step, loss=1.0 / step)
    logger.drop_after(2)
    logger.write("train", 3, loss=0.5)
    assert [(r["step"], r["loss"]) for r in read_log(tmp_path / "log.jsonl")] == [(1, 1.0), (2, 0.5), (3, 0.5)]

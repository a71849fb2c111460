"""One training per work dir: a second one is refused; the lock dies with its holder, kill -9 too."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simplepose.cli import main
from simplepose.engine.config import save_config
from simplepose.engine.lock import LOCK_NAME, WorkDirLock
from simplepose.errors import ConfigError
from tests.engine.tiny_run import tiny_config


def test_second_training_in_a_work_dir_is_refused(synth_root: Path, tmp_path: Path, capsys) -> None:
    work = tmp_path / "w"
    cfg_path = tmp_path / "cfg.yaml"
    save_config(tiny_config(synth_root, work, "optim.epochs=1", "runtime.max_iters_per_epoch=1"), cfg_path)
    with WorkDirLock(work):                       # another training holds the work dir
        assert main(["train", str(cfg_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"simplepose train: error: {work} (runtime.work_dir): work dir in use by another "
                              "training (pid ")
        assert not (work / "latest.pth").exists()
    assert main(["train", str(cfg_path)]) == 0    # free again once the holder is done
    with WorkDirLock(work):                       # and train() released it
        pass


def test_lock_is_released_by_kill_9(tmp_path: Path) -> None:
    code = ("import sys, time; from simplepose.engine.lock import WorkDirLock\n"
            f"with WorkDirLock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert proc.stdout.readline().strip() == b"held"
        with pytest.raises(ConfigError, match=rf"pid {proc.pid}\)"):
            WorkDirLock(tmp_path).__enter__()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / LOCK_NAME).exists()        # a stale file, but no stale lock
    with WorkDirLock(tmp_path):
        pass

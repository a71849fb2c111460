"""The deterministic epoch sampler, batches per epoch, and the dataset-name dispatch."""
from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from simplepose.engine.config import Config, apply_overrides, save_config
from simplepose.engine.data import EpochSampler, iters_per_epoch, load_instances
from simplepose.errors import CheckpointError, ConfigError, DataError
from tests.cli_subprocess import cli_env, run_cli
from tests.engine.tiny_run import tiny_config


def test_sampler_shards_and_resumes():
    n, world = 10, 2
    full = [i for _, i in EpochSampler(n, epoch=3, seed=7)]
    assert sorted(full) == list(range(n))
    assert full != [i for _, i in EpochSampler(n, epoch=4, seed=7)]
    shards = [[i for _, i in EpochSampler(n, 3, 7, rank=r, world_size=world)] for r in range(world)]
    assert shards[0] == full[0::2] and shards[1] == full[1::2]
    # batch b of a 2-process run (batch 2 each) = batch b of one process (batch 4)
    for b in range(2):
        assert sorted(shards[0][2 * b:2 * b + 2] + shards[1][2 * b:2 * b + 2]) == sorted(full[4 * b:4 * b + 4])
    # resume: start skips samples of this rank's share
    assert [i for _, i in EpochSampler(n, 3, 7, start=4)] == full[4:]
    # round-up padding (MMEngine DefaultSampler): 7 samples on 2 ranks -> 4 each, first repeated
    padded = [[i for _, i in EpochSampler(7, 0, 0, shuffle=False, rank=r, world_size=2)] for r in range(2)]
    assert padded == [[0, 2, 4, 6], [1, 3, 5, 0]]
    assert iters_per_epoch(7, 2, 2) == 2 and iters_per_epoch(100, 8, 1) == 13 and iters_per_epoch(100, 8, 1, 5) == 5


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ConfigError, match=r"\(data\.dataset\): data\.dataset must be one of posetrack18, posetrack21, coco, "
                                          r"got 'mpii'"):
        apply_overrides(Config(), ["data.dataset=mpii"])    # refused at load time, before any data


@pytest.fixture
def corrupt_root(synth_root: Path, tmp_path: Path) -> Path:
    """A copy of the synthetic dataset whose train frames are all garbage bytes."""
    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    for jpg in (root / "images" / "train").rglob("*.jpg"):
        jpg.write_bytes(b"not a JPEG")
    return root


def _train_config(root: Path, tmp_path: Path, *overrides: str) -> Path:
    path = tmp_path / "cfg.yaml"
    save_config(tiny_config(root, tmp_path / "work", "optim.epochs=1", *overrides), path)
    return path


def test_worker_data_error_is_one_line(corrupt_root: Path, tmp_path: Path) -> None:
    """A dataset error in a loader worker reaches the user as the same one line as without workers."""
    done = run_cli("train", _train_config(corrupt_root, tmp_path, "data.workers=1"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "DataLoader worker" not in done.stderr
    text = re.sub(r"epoch \d+/\d+:[^\r\n]*?it/s\]", "", done.stderr)      # progress bars (not ended by a newline)
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == text.rstrip().splitlines()[-1]
    assert re.fullmatch(r"simplepose train: error: \S+/images/train/\S+\.jpg: cannot decode image "
                        r"\(corrupt file or unsupported format\)", errors[0]), errors[0]


@pytest.mark.parametrize("error", [
    DataError("a.json", "bad box", record="annotation 3"),
    DataError(None, "no path"),
    ConfigError("cfg.yaml", "must be > 0", key="optim.lr"),
    CheckpointError("x.pth: truncated"),
])
def test_errors_survive_pickling(error: Exception) -> None:
    """What crosses a process boundary comes back with its type, message and fields."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error) and vars(back) == vars(error)


def _group(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (what a training started in its own session spawned)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid and \
                        Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry))
            except (OSError, IndexError):
                pass                                   # ended meanwhile
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_trainer_ends_its_loader_processes(synth_root: Path, tmp_path: Path) -> None:
    """After kill -9 of a training with workers, no loader process (forkserver, worker, resource
    tracker) stays alive and the trainer's stdout reaches end of file."""
    cfg = _train_config(synth_root, tmp_path, "data.workers=2", "optim.epochs=1000", "data.batch_size=2")
    proc = subprocess.Popen([sys.executable, "-m", "simplepose", "train", str(cfg)], cwd=tmp_path, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    log = tmp_path / "work" / "log.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (log.is_file() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            time.sleep(0.2)
        assert log.is_file(), "training did not start within 120 s"
        assert len(_group(proc.pid)) >= 4                 # trainer, forkserver, 2 workers (+ resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reader = threading.Thread(target=proc.stdout.read, daemon=True)
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive(), "the killed trainer's stdout never reached end of file"
        deadline = time.monotonic() + 30
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group(proc.pid) == []
    finally:
        for pid in _group(proc.pid):                     # what this test started, should it fail
            os.kill(pid, signal.SIGKILL)
        proc.stdout.close()


def test_calibration_crops_are_unaugmented_train_crops(synth_root: Path, tmp_path: Path) -> None:
    """calibration_crops: (N, 3, H, W) float32 at the config's input size, the same draw for a seed,
    another for another seed, and at most every train person once."""
    from simplepose.engine.data import calibration_crops
    cfg = tiny_config(synth_root, tmp_path)
    w, h = cfg.data.input_size
    crops = calibration_crops(cfg, 6, seed=0)
    assert crops.shape == (6, 3, h, w) and crops.dtype == np.float32 and np.isfinite(crops).all()
    np.testing.assert_array_equal(crops, calibration_crops(cfg, 6, seed=0))
    assert not np.array_equal(crops, calibration_crops(cfg, 6, seed=1))
    persons = len(load_instances(cfg, "train"))
    everyone = calibration_crops(cfg, persons + 50)
    assert len(everyone) == persons
    assert len({c.tobytes() for c in everyone}) == persons          # no person drawn twice

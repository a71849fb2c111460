"""simplepose.io: strict JSON reading and writing, and folders the project owns."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.folders import OWNER_MARKER, replace_folder
from simplepose.io import read_json, write_json



@pytest.mark.parametrize("bad, where", [
    ([{"score": 0.5}, {"score": math.inf}], "[1].score"),
    ({"kpts": np.array([[1.0, np.nan]], np.float32)}, "kpts[0][1]"),
    (np.float64(-np.inf), "the value"),
])
def test_write_json_refuses_nan_and_infinity(tmp_path, bad, where):
    path = tmp_path / "out.json"
    with pytest.raises(DataError, match=rf"out\.json: {re.escape(where)} is NaN or infinity"):
        write_json(path, bad)
    assert not path.exists() and list(tmp_path.iterdir()) == []
    write_json(path, {"a": [1.5, None, np.float32(2.0)]})
    assert json.loads(path.read_text()) == {"a": [1.5, None, 2.0]}


def test_replace_folder_keeps_the_old_one_when_filling_fails(tmp_path):
    target = tmp_path / "preds"
    replace_folder(target, lambda d: (d / "a.json").write_text("1"))
    assert sorted(p.name for p in target.iterdir()) == [OWNER_MARKER, "a.json"]

    def fail(d):
        (d / "b.json").write_text("2")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError):
        replace_folder(target, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds"]                   # no temp folder left
    assert (target / "a.json").read_text() == "1" and not (target / "b.json").exists()



def test_deeply_nested_json_is_a_data_error(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply") as e:
        read_json(p)
    assert e.value.path == str(p)


@pytest.mark.parametrize("digits", [309, 400, 5000])
def test_huge_integers_are_a_data_error(tmp_path: Path, digits: int) -> None:
    p = tmp_path / "huge.json"
    p.write_text('[{"image_id": 0, "bbox": [1, 2, 3, ' + "9" * digits + '], "score": 1}]')
    with pytest.raises(DataError, match="out of range"):
        read_json(p)


def test_64_bit_integers_still_read(tmp_path: Path) -> None:
    p = tmp_path / "ok.json"
    p.write_text(f'{{"a": {2 ** 63 - 1}, "b": -{2 ** 63}, "d": {"9" * 25}, "c": NaN}}')  # NaN: the fallback path
    got = read_json(p)
    assert got["a"] == 2 ** 63 - 1 and got["b"] == -2 ** 63 and got["d"] == 1e25   # as orjson reads them


_KILLED_REPLACE = """
import os, signal, sys
from pathlib import Path
from simplepose.folders import replace_folder
out, stage = Path(sys.argv[1]), sys.argv[2]
real = os.replace
def replace(a, b):
    real(a, b)
    if stage == "moved_aside" and Path(a) == out:    # the old output moved aside, the new one not yet in
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
def fill(tmp):
    (tmp / "a.json").write_text("new")
    if stage == "filling":
        os.kill(os.getpid(), signal.SIGKILL)
replace_folder(out, fill)
"""


def test_kill_9_during_replace_folder_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    """kill -9 while the new folder is filled, and again between moving the old output aside and moving
    the new one in: the next run (even one that fails) puts the old output back and removes every
    temporary folder; the run after replaces it."""
    import subprocess
    import sys
    out = tmp_path / "predictions"
    replace_folder(out, lambda tmp: (tmp / "a.json").write_text("old"))
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    for stage in ("filling", "moved_aside"):
        killed = subprocess.run([sys.executable, "-c", _KILLED_REPLACE, str(out), stage], env=env)
        assert killed.returncode == -9
    debris = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    # the second run removed the first one's .tmp; its own .tmp and the .old holding the output are left
    assert sorted(name.rsplit(".", 1)[1] for name in debris) == ["old", "tmp"] and not out.exists()
    with pytest.raises(RuntimeError):
        replace_folder(out, lambda tmp: (_ for _ in ()).throw(RuntimeError("the next run fails")))
    assert (out / "a.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions"]
    replace_folder(out, lambda tmp: (tmp / "a.json").write_text("newer"))
    assert (out / "a.json").read_text() == "newer" and sorted(p.name for p in tmp_path.iterdir()) == ["predictions"]


_READ_UNDER_LIMIT = """
import resource, sys
from simplepose.errors import DataError
from simplepose.io import read_json
size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 300 * 2 ** 20, resource.RLIM_INFINITY))
try:
    read_json(sys.argv[1])
except DataError as e:
    print(e)
"""


def test_json_too_large_for_the_memory_limit_is_one_error(tmp_path: Path) -> None:
    """A 76 MB JSON list of 20 million floats (640 MB as Python objects) read under an address-space
    limit 300 MB above the process's: a DataError naming the file, not a MemoryError traceback."""
    import subprocess
    import sys
    path = tmp_path / "big.json"
    path.write_text("[" + "0.5," * 20_000_000 + "0.5]")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", _READ_UNDER_LIMIT, str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == f"{path}: too large to read: 76 MB of JSON do not fit in the memory this process may use"

"""Atomic file writing and strict JSON reading and writing with clear errors.

atomic_write names its temporary file `.<target name>.<host tag>-<pid>-<random>.tmp` beside the
target, so a fragment left by a killed writer (kill -9, power loss) can later be recognised as the
project's own and as dead: remove_stale_temp_files deletes exactly those. Temporary folders
(temp_folder_beside, and folders.replace_folder's `.tmp` and `.old`) follow the same rule.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from simplepose.errors import DataError

import orjson

log = logging.getLogger(__name__)

# .<name>.<8 hex host tag>-<pid>-<mkstemp's 8 random characters>.tmp (or .old: a folder moved aside)
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}\.(?P<kind>tmp|old)$")
STALE_AFTER_S = 24 * 3600  # a fragment of another host's writer untouched this long is dead too


def _host_tag() -> str:
    """8 hex characters naming this host in temp-file names."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (mode 0600) the mode open() would have given it (0666 & ~umask)."""
    os.chmod(path, 0o666 & ~_umask())


def usual_folder_mode(path: str | os.PathLike) -> None:
    """Give a folder made by mkdtemp (mode 0700) the mode mkdir would have given it (0777 & ~umask)."""
    os.chmod(path, 0o777 & ~_umask())


def temp_prefix(path: str | os.PathLike) -> str:
    """`.<name>.<host tag>-<pid>-`: how every temporary file or folder beside `path` begins (mkstemp
    and mkdtemp add 8 random characters and a .tmp or .old suffix)."""
    return f".{Path(path).name}.{_host_tag()}-{os.getpid()}-"


@contextmanager
def temp_folder_beside(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh folder beside `path` named for it (temp_prefix, .tmp), removed on exit; one left by a
    killed process is removed by remove_stale_temp_files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w") -> Path:
    """Call write(file) on a temp file beside `path`, then rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        usual_mode(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, path) from None
        raise
    return path


def _naming(error: OSError, path: Path) -> OSError:
    """The same OS error naming `path`, the file the user asked for (not our hidden temp file)."""
    if error.errno is None:
        return error
    if path.is_dir():
        return IsADirectoryError(error.errno, "is a folder, where a file is to be written", str(path))
    return type(error)(error.errno, error.strerror, str(path))


def remove_stale_temp_files(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files and folders left in `directory` whose writer is gone; returns them.

    Only names of the temp_prefix pattern, and only when no writer can still be writing: the process
    that created it (named in the name) is no longer running on this host, or it was last modified
    more than STALE_AFTER_S ago (a writer on another host). A `.old` folder (replace_folder's previous
    output, moved aside) is first put back when its writer died before the new output took its place.
    """
    removed: list[Path] = []
    host, now = _host_tag(), time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        is_dir = entry.is_dir(follow_symlinks=False)
        if match is None or not (is_dir or (entry.is_file(follow_symlinks=False) and match["kind"] == "tmp")):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            if not (old or (match["host"] == host and not _pid_alive(int(match["pid"])))):
                continue
            if is_dir:
                _restore_moved_aside(Path(entry.path), match["name"], match["kind"])
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone meanwhile, or not ours to delete
    if removed:
        log.info("removed %d temporary file(s) or folder(s) left by interrupted writes: %s", len(removed),
                 ", ".join(p.name for p in removed))
    return removed


def _restore_moved_aside(folder: Path, name: str, kind: str) -> None:
    """Put back `<folder>/<name>` (a previous output moved aside) when nothing has taken its place."""
    inner, target = folder / name, folder.parent / name
    if kind == "old" and inner.exists() and not os.path.lexists(target):
        os.replace(inner, target)
        log.warning("%s: put back the previous output that an interrupted run had moved aside", target)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (unknown counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but is not ours (EPERM), or cannot be told
    return True


def _json_default(obj: Any) -> Any:
    """Serialise numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _first_nonfinite(obj: Any, where: str = "") -> str | None:
    """Where in obj the first NaN or infinity is ("[3].keypoints[5]"); None if there is none."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where or "the value")
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _first_nonfinite(obj.tolist(), where)
    if isinstance(obj, dict):
        items: Any = ((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for w, v in items:
        found = _first_nonfinite(v, w)
        if found is not None:
            return found
    return None


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Write strict JSON atomically: a NaN or infinity is refused (DataError naming the file and the
    value's place) instead of being written as the non-standard NaN / Infinity; callers whose format
    has a meaning for a missing number write None there themselves."""
    text = _strict_dumps(path, obj, indent)
    return atomic_write(path, lambda f: f.write(text))


def _strict_dumps(path: str | os.PathLike, obj: Any, indent: int | None = None) -> str:
    """obj as strict JSON text; a NaN or infinity raises the DataError write_json describes."""
    # json.dumps then one write: json.dump streams through the slow pure-Python encoder
    try:
        return json.dumps(obj, indent=indent, default=_json_default, allow_nan=False)
    except ValueError:
        where = _first_nonfinite(obj) or "a value"
        raise DataError(path, f"{where} is NaN or infinity, which strict JSON cannot hold: file not written "
                              "(a model whose output is not finite?)") from None


def write_json_lines(path: str | os.PathLike, rows: Sequence[Any]) -> Path:
    """Write JSON Lines (one strict, compact JSON value per line) atomically, refusing NaN as write_json."""
    text = "".join(_strict_dumps(path, row) + "\n" for row in rows)
    return atomic_write(path, lambda f: f.write(text))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file (orjson: several times faster on large annotation files), turning I/O and
    syntax errors, and a file whose objects do not fit in the memory the process may use, into a
    DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        return _parse_json(path, path.read_bytes())
    except MemoryError:
        raise DataError(path, f"too large to read: {path.stat().st_size / 2 ** 20:.0f} MB of JSON do not fit in "
                              "the memory this process may use") from None


def _parse_json(path: Path, data: bytes) -> Any:
    """data parsed by orjson, else by json (which also reads NaN literals and locates syntax errors)."""
    try:
        return orjson.loads(data)
    except ValueError:
        pass  # json accepts what orjson refuses (NaN literals) and reports line and column
    try:
        return json.loads(data, parse_int=lambda text: _bounded_int(path, text))
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text: {e}") from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply (over 1000 levels)") from None


def _bounded_int(path: Path, text: str) -> int | float:
    """A JSON integer as orjson reads it: an int within 64 bits, else a float; a DataError beyond a
    float's range (Python's int() would refuse over 4300 digits, and float() overflows)."""
    if len(text) <= 20 and -2 ** 63 <= (value := int(text)) < 2 ** 64:
        return value
    if len(text.lstrip("-")) <= 308:
        return float(text)
    raise DataError(path, f"integer {text[:20]}... ({len(text)} digits) is out of range")

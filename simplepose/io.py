"""Atomic file writing and JSON reading with clear errors."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from simplepose.errors import DataError

import orjson


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w") -> Path:
    """Call write(file) on a temp file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _json_default(obj: Any) -> Any:
    """Serialise numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Write JSON atomically; NaN is written as null by the caller's choice of values."""
    # json.dumps then one write: json.dump streams through the slow pure-Python encoder
    text = json.dumps(obj, indent=indent, default=_json_default)
    return atomic_write(path, lambda f: f.write(text))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file (orjson: several times faster on large annotation files), turning I/O and
    syntax errors into a DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    data = path.read_bytes()
    try:
        return orjson.loads(data)
    except ValueError:
        pass  # json accepts what orjson refuses (NaN literals) and reports line and column
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text: {e}") from None

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


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (mode 0600) the mode open() would have given it (0666 & ~umask)."""
    os.chmod(path, 0o666 & ~_umask())


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "w") -> Path:
    """Call write(file) on a temp file beside `path`, then rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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

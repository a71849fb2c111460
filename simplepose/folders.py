"""Folders the project writes as a whole, and owns.

Such a folder holds the marker file OWNER_MARKER, a JSON object naming the project and listing
every file it wrote there. It may be replaced or removed later only if the marker is present and
nothing else is in it: files a user put there are never deleted. A replacement is filled in a fresh
temporary folder beside it and swapped in whole, so a reader never sees a half-written folder.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from simplepose.errors import DataError
from simplepose.io import remove_stale_temp_files, temp_prefix, usual_folder_mode, write_json


OWNER_MARKER = ".simplepose"        # no .json suffix: tools listing *.json in the folder do not see it
_OWNER = "simplepose"


def _files_under(folder: Path) -> list[str]:
    """Relative POSIX paths of the files (and links) under folder, the marker left out."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if (p.is_symlink() or not p.is_dir()) and p.name != OWNER_MARKER)


def mark_owned(folder: str | os.PathLike, planned: Iterable[str] = ()) -> Path:
    """Write the marker listing as the project's every file now under folder, and the `planned` ones
    (relative paths) about to be written: a run killed while writing them leaves no unlisted file."""
    folder = Path(folder)
    files = sorted(set(_files_under(folder)) | set(planned))
    return write_json(folder / OWNER_MARKER, {"written_by": _OWNER, "files": files}, indent=0)


def check_owned(folder: str | os.PathLike) -> None:
    """DataError unless folder is absent, or holds our marker and only the files it lists."""
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise DataError(folder, "exists and is not a folder: refusing to replace it")
    if not folder.exists():
        return
    marker = folder / OWNER_MARKER
    try:
        listed = json.loads(marker.read_text()) if marker.is_file() else None
    except (OSError, ValueError):
        listed = None
    if not (isinstance(listed, dict) and listed.get("written_by") == _OWNER and isinstance(listed.get("files"), list)):
        raise DataError(folder, f"exists and was not written by simplepose (no {OWNER_MARKER} marker): refusing "
                                "to delete it; remove it yourself or choose another output folder")
    foreign = sorted(set(_files_under(folder)) - set(listed["files"]))
    if foreign:
        raise DataError(folder, f"holds {foreign[0]!r}" + (f" and {len(foreign) - 1} more" if len(foreign) > 1 else "")
                                + ", not written by simplepose: refusing to delete it; move it elsewhere first")


def remove_owned(folder: str | os.PathLike) -> None:
    """Delete a folder the project wrote (check_owned first); nothing when it is absent."""
    check_owned(folder)
    if Path(folder).exists():
        shutil.rmtree(folder)


def replace_folder(folder: str | os.PathLike, fill: Callable[[Path], Any]) -> Path:
    """fill(tmp) a fresh temporary folder beside `folder`, mark it ours, and swap it in as a whole.

    An existing `folder` is replaced only if the project wrote it (check_owned, before any work).
    The temporary and moved-aside folders are named as simplepose.io's temp files: ones left by a
    killed run are removed (or put back) by the next run, first.
    """
    folder = Path(folder)
    remove_stale_temp_files(folder.parent)
    check_owned(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(folder), suffix=".tmp", dir=folder.parent))
    old: Path | None = None
    try:
        usual_folder_mode(tmp)                           # mkdtemp creates 0700
        fill(tmp)
        mark_owned(tmp)
        check_owned(folder)                              # again: a user may have written there meanwhile
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(folder), suffix=".old", dir=folder.parent))
            os.replace(folder, old / folder.name)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / folder.name).exists() and not folder.exists():
            os.replace(old / folder.name, folder)        # put the previous one back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder

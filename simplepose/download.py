"""Checkpoint URLs: a download into a cache folder, once, and the local path of a path or URL.

The cache is $SIMPLEPOSE_CACHE, else torch.hub's checkpoint folder ($TORCH_HOME/hub/checkpoints),
so files MMPose or torch.hub already fetched are reused. A download goes to a temporary file beside
its target and is renamed into place only when complete; a file name carrying a hex sha256 prefix
(torch.hub's `name-<prefix>.pth`) is checked against it. Failures raise a CheckpointError that says
how to proceed offline.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import torch.hub
from tqdm import tqdm

from simplepose.errors import CheckpointError

log = logging.getLogger(__name__)

_HASH_RE = re.compile(r"-([a-f0-9]{8,64})\.")  # torch.hub's convention: name-<sha256 prefix>.pth


def is_url(path: str | os.PathLike) -> bool:
    """True for http(s) and ftp URLs."""
    return str(path).split("://", 1)[0].lower() in ("http", "https", "ftp") and "://" in str(path)


def cache_dir() -> Path:
    """Download folder: $SIMPLEPOSE_CACHE, else torch.hub's ($TORCH_HOME/hub/checkpoints)."""
    env = os.environ.get("SIMPLEPOSE_CACHE")
    if env:
        return Path(env)
    return Path(torch.hub.get_dir()) / "checkpoints"


def local_path(path_or_url: str | os.PathLike) -> Path:
    """The path itself, or for a URL its cached local copy (downloaded first if absent)."""
    return download(str(path_or_url)) if is_url(path_or_url) else Path(path_or_url)


def download(url: str, directory: str | os.PathLike | None = None, timeout: float = 60.0,
             progress: bool = True) -> Path:
    """The cached local copy of `url`, downloading it first if absent (atomic, sha256-prefix checked)."""
    directory = Path(directory) if directory is not None else cache_dir()
    name = os.path.basename(urllib.parse.urlparse(url).path) or "checkpoint.pth"
    target = directory / name
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
                _copy_with_progress(response, out, name, progress)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise CheckpointError(
                f"{url}: download failed ({reason}). If this machine is offline, fetch the file "
                f"elsewhere and pass its local path, or place it at {target}") from None
        match = _HASH_RE.search(name)
        if match:
            digest = _sha256(tmp)
            if not digest.startswith(match.group(1)):
                raise CheckpointError(f"{url}: sha256 {digest[:len(match.group(1))]} does not match "
                                      f"the prefix {match.group(1)} in the file name (corrupt download)")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _copy_with_progress(src: Any, dst: Any, name: str, progress: bool) -> None:
    """Copy a response to a file with a tqdm bar when the size is known."""
    total = int(src.headers.get("Content-Length", 0) or 0) if hasattr(src, "headers") else 0
    if not progress:
        shutil.copyfileobj(src, dst)
        return
    with tqdm(total=total or None, unit="B", unit_scale=True, desc=name) as bar:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
            bar.update(len(chunk))


def _sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

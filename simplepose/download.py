"""Checkpoint URLs: verified downloads into a cache folder, and the local path of a path or URL.

- Only https is fetched, redirects included; plain http (and ftp) only with the explicit opt-in
  SIMPLEPOSE_ALLOW_INSECURE_DOWNLOADS=1.
- The cache folder is $SIMPLEPOSE_CACHE, else torch.hub's checkpoint folder ($TORCH_HOME/hub/checkpoints).
  A URL's copy lives in a sub-folder named after the URL's sha256 (`simplepose/<16 hex>/<file name>`),
  so two URLs whose files share a name never share a copy.
- A file name carrying a sha256 prefix, torch.hub's `name-<hex>.pth` or MMPose's
  `name-<8 hex>_<YYYYMMDD>.pth`, is checked against it on download and every time a cached copy is
  used; a copy torch.hub or MMPose already fetched into the folder itself (`<cache>/<name>`) is
  reused only when it passes that check. For other names the sha256 recorded at download
  (`<name>.sha256` beside the copy) is checked instead. A cached copy that fails is not used: the
  file is fetched again.
- The file is written to a temporary file beside its target and renamed into place only when complete
  and checked (simplepose.io.atomic_write, so it gets the usual file mode); temp files of killed
  downloads are removed by the next download into that folder once their writer is gone. A response
  shorter than its Content-Length, or over MAX_DOWNLOAD_BYTES (1 GiB: a checkpoint is smaller), is
  refused and nothing is kept. Failures raise a CheckpointError saying what was expected and what was
  found, or how to proceed offline.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO

import torch.hub
from tqdm import tqdm

from simplepose.errors import CheckpointError
from simplepose.io import atomic_write, remove_stale_temp_files

log = logging.getLogger(__name__)

INSECURE_ENV = "SIMPLEPOSE_ALLOW_INSECURE_DOWNLOADS"
# name-<sha256 prefix>.ext (torch.hub) or name-<sha256 prefix>_<YYYYMMDD>.ext (MMPose's model zoo)
_HASH_RE = re.compile(r"-([0-9a-f]{8,64})(?:_\d{8})?(?:\.[A-Za-z0-9]+)+$")
_CHUNK = 1 << 20
MAX_DOWNLOAD_BYTES = 1 << 30   # a checkpoint is under 1 GiB (ResNet-152 SimpleBaseline: about 270 MB)


def is_url(path: str | os.PathLike) -> bool:
    """True for http(s) and ftp URLs (non-https ones are refused when downloaded, not read as paths)."""
    return str(path).split("://", 1)[0].lower() in ("http", "https", "ftp") and "://" in str(path)


def cache_dir() -> Path:
    """Download folder: $SIMPLEPOSE_CACHE, else torch.hub's ($TORCH_HOME/hub/checkpoints)."""
    env = os.environ.get("SIMPLEPOSE_CACHE")
    if env:
        return Path(env)
    return Path(torch.hub.get_dir()) / "checkpoints"


def local_path(path_or_url: str | os.PathLike) -> Path:
    """The path itself, or for a URL its verified cached copy (downloaded first if needed)."""
    return download(str(path_or_url)) if is_url(path_or_url) else Path(path_or_url)


def expected_sha256_prefix(name: str) -> str | None:
    """The sha256 prefix a file name carries (torch.hub and MMPose conventions), else None."""
    match = _HASH_RE.search(name)
    return match.group(1) if match else None


def url_file_name(url: str) -> str:
    """The file name at the end of a URL's path ("checkpoint.pth" when it has none)."""
    name = os.path.basename(urllib.parse.urlparse(url).path)
    return name if name not in ("", ".", "..") else "checkpoint.pth"


def cache_path(url: str, directory: str | os.PathLike | None = None) -> Path:
    """Where the copy of `url` is kept: <cache>/simplepose/<sha256(url)[:16]>/<file name>."""
    root = Path(directory) if directory is not None else cache_dir()
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return root / "simplepose" / key / url_file_name(url)


def download(url: str, directory: str | os.PathLike | None = None, timeout: float = 60.0,
             progress: bool = True, allow_insecure: bool | None = None) -> Path:
    """The verified cached copy of `url`, downloading it first if there is none that passes the check.

    allow_insecure: fetch non-https URLs; None reads the SIMPLEPOSE_ALLOW_INSECURE_DOWNLOADS opt-in.
    """
    insecure = _insecure_allowed(allow_insecure)
    _check_scheme(url, url, insecure)
    root = Path(directory) if directory is not None else cache_dir()
    target = cache_path(url, root)
    prefix = expected_sha256_prefix(target.name)
    shared = root / target.name  # where torch.hub / MMPose put the same file
    for candidate in ([target, shared] if prefix else [target]):
        if candidate.is_file() and _cached_copy_ok(candidate, prefix, target):
            return candidate
    if prefix is None:
        log.warning("%s: the file name carries no sha256 prefix; the download cannot be verified", url)
    log.info("downloading %s to %s", url, target)
    remove_stale_temp_files(target.parent)
    digest = _fetch(url, target, prefix, timeout, progress, insecure)
    atomic_write(_digest_file(target), lambda f: f.write(digest + "\n"))
    return target


def _insecure_allowed(allow_insecure: bool | None) -> bool:
    """The explicit argument, else the environment opt-in."""
    if allow_insecure is not None:
        return bool(allow_insecure)
    return os.environ.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes")


def _check_scheme(url: str, original: str, insecure: bool) -> None:
    """Refuse a non-https URL (the original or a redirect target) unless insecure downloads are allowed."""
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme == "https" or (insecure and scheme in ("http", "ftp")):
        return
    via = "" if url == original else f" (redirected to {url})"
    raise CheckpointError(f"{original}: refusing to download over {scheme or 'no scheme'}{via}: only https "
                          f"is fetched; set {INSECURE_ENV}=1 to allow it, or fetch the file yourself "
                          "and pass its local path")


def _cached_copy_ok(path: Path, prefix: str | None, target: Path) -> bool:
    """Whether a cached copy matches the name's sha256 prefix, or else the digest recorded at download."""
    expected = prefix
    if expected is None and path == target:
        record = _digest_file(target)
        expected = record.read_text().strip() if record.is_file() else None
    if not expected:
        return True  # an unnamed, unrecorded copy written atomically for exactly this URL
    digest = _sha256(path)
    if digest.startswith(expected):
        return True
    log.warning("%s: cached copy not used: its sha256 begins %s, expected %s; fetching it again",
                path, digest[:len(expected)], expected)
    return False


def _fetch(url: str, target: Path, prefix: str | None, timeout: float, progress: bool, insecure: bool) -> str:
    """Download url atomically to target, checking the sha256 prefix; returns the full hex digest."""
    opener = urllib.request.build_opener(_RedirectGuard(url, insecure))
    digest = hashlib.sha256()

    def write(out: BinaryIO) -> None:
        with opener.open(url, timeout=timeout) as response:
            _copy(response, out, digest, url, progress)
        found = digest.hexdigest()
        if prefix is not None and not found.startswith(prefix):
            raise CheckpointError(f"{url}: the downloaded file's sha256 begins {found[:len(prefix)]}, but its "
                                  f"name says {prefix} (corrupt or substituted download; nothing was kept)")

    try:
        atomic_write(target, write, mode="wb")
    except CheckpointError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise CheckpointError(
            f"{url}: download failed ({reason}). If this machine is offline, fetch the file "
            f"elsewhere and pass its local path, or place it at {target}") from None
    return digest.hexdigest()


class _RedirectGuard(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to https URLs (or http/ftp with the insecure opt-in)."""

    def __init__(self, original: str, insecure: bool):
        super().__init__()
        self.original = original
        self.insecure = insecure

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        """Refuse a redirect that leaves https, before it is followed."""
        _check_scheme(urllib.parse.urljoin(req.full_url, newurl), self.original, self.insecure)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _copy(src: Any, dst: BinaryIO, digest: Any, url: str, progress: bool) -> None:
    """Copy a response to a file, hashing it, with a tqdm bar when asked for; a CheckpointError when it
    is over MAX_DOWNLOAD_BYTES or ends before its Content-Length."""
    text = str(src.headers.get("Content-Length", "") or "").strip() if hasattr(src, "headers") else ""
    total = int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None
    if total is not None and total > MAX_DOWNLOAD_BYTES:
        raise CheckpointError(f"{url}: the response announces {total} bytes, over the {MAX_DOWNLOAD_BYTES}-byte "
                              "limit of a checkpoint download (nothing was kept)")
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=url_file_name(url), disable=not progress) as bar:
        while chunk := src.read(_CHUNK):
            received += len(chunk)
            if received > MAX_DOWNLOAD_BYTES:
                raise CheckpointError(f"{url}: the response goes on over the {MAX_DOWNLOAD_BYTES}-byte limit of a "
                                      "checkpoint download (nothing was kept)")
            dst.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise CheckpointError(f"{url}: the response ended after {received} of its {total} bytes (an interrupted "
                              "download; nothing was kept: run again)")


def _digest_file(target: Path) -> Path:
    """The file beside a cached copy recording its sha256 at download."""
    return target.with_name(target.name + ".sha256")


def _sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()

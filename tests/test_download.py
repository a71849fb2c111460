"""Checkpoint URLs: https only, sha256 prefixes of both naming styles checked on download and on every
use of the cache, one cache entry per URL, the usual file mode, a clear message offline."""
from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading
import urllib.request
from functools import partial
from pathlib import Path
from typing import Iterator

import pytest
import torch

from simplepose import download as dl
from simplepose.errors import CheckpointError
from simplepose.model import checkpoint as ckpt
from simplepose.model.pose_model import SimpleBaseline


def _small_model(k: int = 5, seed: int = 1) -> SimpleBaseline:
    """A ResNet-18 SimpleBaseline with 32-channel deconvs and random BN statistics."""
    torch.manual_seed(seed)
    model = SimpleBaseline(18, k, deconv_channels=32, num_deconv=3)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    return model.eval()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """No request logging."""


class _Server:
    """A local HTTP server over a folder, for the tests (plain http needs the insecure opt-in)."""

    def __init__(self, root: Path):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, _Server]]:
    """(folder served over http, server); cache in tmp_path/cache; plain http allowed for 127.0.0.1."""
    root = tmp_path / "served"
    root.mkdir()
    monkeypatch.setenv("SIMPLEPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(dl.INSECURE_ENV, "1")
    server = _Server(root)
    try:
        yield root, server
    finally:
        server.close()


def _publish(root: Path, name_of_digest, model: SimpleBaseline | None = None) -> tuple[str, bytes]:
    """Save a checkpoint under root with the file name name_of_digest(sha256 hex); (name, bytes)."""
    tmp = ckpt.save_checkpoint(root / "staging.pth", model or _small_model())
    data = tmp.read_bytes()
    name = name_of_digest(hashlib.sha256(data).hexdigest())
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(root / name)
    return name, data


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_url_download_cache_and_offline_message(served: tuple[Path, _Server]) -> None:
    """torch.hub-style name: downloaded once, checked; offline the cached copy is still used."""
    root, server = served
    name, data = _publish(root, lambda d: f"small-{d[:8]}.pth")
    url = server.url(name)
    sd, _ = ckpt.load_checkpoint(url)
    assert dl.cache_path(url).read_bytes() == data
    server.close()
    assert _same_weights(ckpt.load_checkpoint(url)[0], sd)   # offline: the checked cached copy
    with pytest.raises(CheckpointError, match="offline.*local path"):
        ckpt.load_checkpoint(url.replace(name, "other.pth"))


@pytest.mark.parametrize("style", ["torch.hub", "mmpose"])
def test_wrong_sha256_prefix_is_refused_and_nothing_is_kept(served: tuple[Path, _Server], style: str) -> None:
    """A file whose sha256 does not start with the name's prefix (both naming styles) is refused,
    the error says what was expected and what was found, and no file or fragment stays behind."""
    root, server = served
    _, data = _publish(root, lambda d: "x.pth")
    found = hashlib.sha256(data).hexdigest()
    name = "small-00000000.pth" if style == "torch.hub" else "res50_posetrack18_256x192-00000000_20201028.pth"
    (root / name).write_bytes(data)
    with pytest.raises(CheckpointError, match=rf"sha256 begins {found[:8]}, but its name says 00000000"):
        ckpt.load_checkpoint(server.url(name))
    cache = Path(os.environ["SIMPLEPOSE_CACHE"])
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_mmpose_style_name_is_verified_on_every_use_of_the_cache(served: tuple[Path, _Server],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """MMPose's `name-<8 hex>_<date>.pth`: a cached copy that no longer matches is not used; it is
    fetched again when the server is there, and refused (not used) when it is not."""
    root, server = served
    name, data = _publish(root, lambda d: f"res50_posetrack18_256x192-{d[:8]}_20201028.pth")
    url = server.url(name)
    good, _ = ckpt.load_checkpoint(url)
    cached = dl.cache_path(url)
    ckpt.save_checkpoint(cached, _small_model(seed=2))              # replaced behind our back
    with caplog.at_level(logging.WARNING, logger="simplepose.download"):
        again, _ = ckpt.load_checkpoint(url)
    assert _same_weights(again, good) and cached.read_bytes() == data
    assert f"expected {hashlib.sha256(data).hexdigest()[:8]}" in caplog.text
    ckpt.save_checkpoint(cached, _small_model(seed=2))
    server.close()
    with pytest.raises(CheckpointError, match="download failed"):
        ckpt.load_checkpoint(url)


def test_urls_sharing_a_file_name_never_share_a_copy(served: tuple[Path, _Server]) -> None:
    """/a/model.pth and /b/model.pth (no hash in the name) are kept apart; a corrupted copy of an
    unhashed name fails the digest recorded at download and is fetched again."""
    root, server = served
    _publish(root, lambda d: "a/model.pth", _small_model(seed=1))
    _publish(root, lambda d: "b/model.pth", _small_model(seed=2))
    a, _ = ckpt.load_checkpoint(server.url("a/model.pth"))
    b, _ = ckpt.load_checkpoint(server.url("b/model.pth"))
    assert _same_weights(a, _small_model(seed=1).state_dict()) and _same_weights(b, _small_model(seed=2).state_dict())
    assert _same_weights(ckpt.load_checkpoint(server.url("a/model.pth"))[0], a)
    cached = dl.cache_path(server.url("a/model.pth"))
    cached.write_bytes(cached.read_bytes()[:-1] + b"\0")
    assert _same_weights(ckpt.load_checkpoint(server.url("a/model.pth"))[0], a)


def test_hub_cache_copy_is_reused_only_when_it_verifies(served: tuple[Path, _Server]) -> None:
    """A file already in torch.hub's folder under the URL's hashed name is used if it matches the
    name's prefix; a different file placed there under that name is ignored (and left alone)."""
    root, server = served
    name, data = _publish(root, lambda d: f"small-{d[:8]}.pth")
    cache = Path(os.environ["SIMPLEPOSE_CACHE"])
    cache.mkdir()
    impostor = ckpt.save_checkpoint(cache / name, _small_model(seed=3)).read_bytes()
    sd, _ = ckpt.load_checkpoint(server.url(name))
    assert _same_weights(sd, _small_model().state_dict()) and (cache / name).read_bytes() == impostor
    (cache / name).write_bytes(data)
    dl.cache_path(server.url(name)).unlink()
    server.close()
    assert dl.local_path(server.url(name)) == cache / name   # verified, so reused offline


def test_downloaded_file_gets_the_usual_mode(served: tuple[Path, _Server]) -> None:
    """Written through a temp file and a rename, with the umask's mode (0644 under 022), not 0600."""
    root, server = served
    name, _ = _publish(root, lambda d: f"small-{d[:8]}.pth")
    old = os.umask(0o022)
    try:
        path = dl.download(server.url(name), progress=False)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == [name, name + ".sha256"]


def test_non_https_urls_are_refused_without_the_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """http and ftp URLs (and a redirect from https to http) are refused before any connection."""
    monkeypatch.setenv("SIMPLEPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(dl.INSECURE_ENV, raising=False)
    for url in ("http://127.0.0.1:9/x-12345678.pth", "ftp://127.0.0.1:9/x.pth"):
        with pytest.raises(CheckpointError, match=rf"refusing to download over {url.split(':')[0]}.*{dl.INSECURE_ENV}=1"):
            ckpt.load_checkpoint(url)
    guard = dl._RedirectGuard("https://example.org/x.pth", insecure=False)
    request = urllib.request.Request("https://example.org/x.pth")
    with pytest.raises(CheckpointError, match=r"redirected to http://example.org/y.pth"):
        guard.redirect_request(request, None, 302, "Found", {}, "http://example.org/y.pth")
    assert guard.redirect_request(request, None, 302, "Found", {}, "https://example.org/y.pth") is not None
    assert not (tmp_path / "cache").exists()


def test_both_naming_styles_are_recognised() -> None:
    """The sha256 prefix is found in torch.hub's and MMPose's names, and only there."""
    assert dl.expected_sha256_prefix("resnet50-19c8e357.pth") == "19c8e357"
    assert dl.expected_sha256_prefix("res50_posetrack18_256x192-a62807c7_20201028.pth") == "a62807c7"
    assert dl.expected_sha256_prefix("td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth") == "04af38ce"
    assert dl.expected_sha256_prefix("res50_coco_256x192.pth") is None
    assert dl.expected_sha256_prefix("model-256x192.pth") is None


class _LyingHandler(http.server.BaseHTTPRequestHandler):
    """/short.pth: a Content-Length 1000 bytes over the body sent; /endless.pth: bytes without end and
    without a length; /huge.pth: a Content-Length of 2 GiB."""

    def log_message(self, *args: object) -> None:
        """No request logging."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Send the response the path asks for."""
        self.send_response(200)
        if self.path == "/short.pth":
            self.send_header("Content-Length", str(4096 + 1000))
            self.end_headers()
            self.wfile.write(b"x" * 4096)
        elif self.path == "/huge.pth":
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            self.wfile.write(b"x" * 4096)
        else:
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
        self.close_connection = True


@pytest.fixture
def lying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of a _LyingHandler server; cache in tmp_path/cache; plain http allowed."""
    monkeypatch.setenv("SIMPLEPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(dl.INSECURE_ENV, "1")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LyingHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _left_in_cache(tmp_path: Path) -> list[str]:
    """Every file under the cache folder."""
    return sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())


@pytest.mark.parametrize("name, problem", [
    ("short.pth", "the response ended after 4096 of its 5096 bytes"),
    ("huge.pth", "announces 2147483648 bytes, over the 1073741824-byte limit"),
    ("endless.pth", "over the 8388608-byte limit"),
])
def test_short_huge_and_endless_responses_leave_nothing(lying: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        name: str, problem: str) -> None:
    """A response shorter than its Content-Length, one announcing 2 GiB and one without end (limit
    lowered to 8 MiB): a CheckpointError, and no file in the cache to be trusted later."""
    if name == "endless.pth":
        monkeypatch.setattr(dl, "MAX_DOWNLOAD_BYTES", 8 << 20)
    with pytest.raises(CheckpointError, match=rf"{name}: .*{problem}"):
        dl.download(f"{lying}/{name}", progress=False)
    assert _left_in_cache(tmp_path) == []


def test_temp_files_of_a_killed_download_are_removed_by_the_next(served: tuple[Path, _Server], tmp_path: Path) -> None:
    """A download's temp file left by a dead writer (a pid that does not run) is removed by the next
    download into that folder; the new copy is complete."""
    root, server = served
    name, data = _publish(root, lambda d: f"small-{d[:8]}.pth")
    url = server.url(name)
    target = dl.cache_path(url)
    target.parent.mkdir(parents=True)
    from simplepose.io import _host_tag
    stale = target.parent / f".{target.name}.{_host_tag()}-99999999-abcdefgh.tmp"
    stale.write_bytes(data[:100])
    assert dl.download(url, progress=False).read_bytes() == data
    assert not stale.exists()

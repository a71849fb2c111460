"""Checkpoint URLs: downloaded once into the cache, sha256 prefix checked, a clear message offline."""
from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from simplepose.errors import CheckpointError
from simplepose.model import checkpoint as ckpt
from simplepose.model.pose_model import SimpleBaseline


def _small_model(k: int = 5) -> SimpleBaseline:
    """A ResNet-18 SimpleBaseline with 32-channel deconvs and random BN statistics."""
    torch.manual_seed(1)
    model = SimpleBaseline(18, k, deconv_channels=32, num_deconv=3)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    return model.eval()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """No request logging."""


def test_url_download_cache_and_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """URLs download once into the cache (sha256 prefix checked); offline gives a clear error."""
    served = tmp_path / "served"
    served.mkdir()
    ckpt.save_checkpoint(served / "tmp.pth", _small_model())
    digest = hashlib.sha256((served / "tmp.pth").read_bytes()).hexdigest()
    name = f"small-{digest[:8]}.pth"
    (served / "tmp.pth").rename(served / name)
    (served / "bad-00000000.pth").write_bytes((served / name).read_bytes())
    monkeypatch.setenv("SIMPLEPOSE_CACHE", str(tmp_path / "cache"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{name}"
        sd, _ = ckpt.load_checkpoint(url)
        assert (tmp_path / "cache" / name).is_file()
        with pytest.raises(CheckpointError, match="does not match"):
            ckpt.load_checkpoint(url.replace(name, "bad-00000000.pth"))
        assert not (tmp_path / "cache" / "bad-00000000.pth").exists()
    finally:
        server.shutdown()
        server.server_close()
    # now "offline": the cached copy is still used, an uncached URL fails clearly
    assert ckpt.load_checkpoint(url)[0].keys() == sd.keys()
    with pytest.raises(CheckpointError, match="offline.*local path"):
        ckpt.load_checkpoint(url.replace(name, "other.pth"))

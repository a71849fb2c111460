"""Data settings from the config text MMPose checkpoints carry, on config texts mmengine itself wrote."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.model.settings import data_settings

GOLDEN = Path(__file__).resolve().parent / "mmengine_configs"

# (w, h) input, heatmap size and sigma of each golden config (MMPose's config files say so)
CASES = {
    "td-hm_res50_posetrack18-256x192.pretty.txt": ((192, 256), (48, 64), 2.0),
    "td-hm_hrnet-w48_posetrack18-384x288.pretty.txt": ((288, 384), (72, 96), 3.0),
    "td-hm_res50_posetrack18-96x128.pretty.txt": ((96, 128), (24, 32), 1.5),
    "td-hm_res50_posetrack18-96x128.json": ((96, 128), (24, 32), 1.5),
    "td-hm_res50_posetrack18-96x128.yaml": ((96, 128), (24, 32), 1.5),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("key", ["cfg", "config"])
def test_every_form_mmengine_writes(name: str, key: str, caplog: pytest.LogCaptureFixture) -> None:
    """pretty_text (meta['cfg'] of a Runner or publish_model checkpoint), JSON and YAML dumps."""
    settings = data_settings({}, {key: (GOLDEN / name).read_text()}, source=name)
    assert (settings.input_size, settings.heatmap_size, settings.sigma) == CASES[name]
    assert "several" not in caplog.text          # every mention of the size read, all agreeing


def test_a_multi_line_tuple_is_read_not_skipped() -> None:
    """The one-value-per-line form is the first mention; a later one-line value must not win."""
    text = "codec = dict(\n    input_size=(\n        96,\n        128,\n    ),\n    sigma=2)\nx = dict(input_size=(192, 256))\n"
    assert data_settings({}, {"cfg": text}).input_size == (96, 128)

"""The data settings a checkpoint records: config texts mmengine itself wrote are read in every form,
and sizes read from hostile configs stay bounded."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.errors import CheckpointError
from simplepose.model.settings import MAX_INPUT_SIDE, data_settings

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



@pytest.mark.parametrize("size", [[16384, 32768], [4128, 64], [64, MAX_INPUT_SIDE + 32]])
def test_a_saved_config_beyond_the_input_size_limit_is_refused(size: list[int]) -> None:
    """An input size over MAX_INPUT_SIDE per side in our saved config: refused before any tensor is made."""
    with pytest.raises(CheckpointError, match=rf"m\.pth: config\.data\.input_size is .*over {MAX_INPUT_SIDE}"):
        data_settings({"config": {"data": {"input_size": size}}}, {}, source="m.pth")


@pytest.mark.parametrize("text", ["codec = dict(input_size=(16384, 32768))", "data_cfg = dict(image_size=[4160, 64])",
                                  "codec = dict(input_size=(" + "9" * 5000 + ", 256))",
                                  "codec = dict(heatmap_size=(64, " + "1" * 5000 + "))"])
def test_an_mmpose_config_text_beyond_the_limit_is_refused(text: str) -> None:
    """Sizes in an MMPose config text (5000 digits included): one CheckpointError naming the key."""
    with pytest.raises(CheckpointError, match=rf"m\.pth: meta\['cfg'\] gives .*_size .*over {MAX_INPUT_SIDE}"):
        data_settings({}, {"cfg": text}, source="m.pth")


def test_sizes_within_the_limit_are_read() -> None:
    """The limit itself and common sizes are accepted as written."""
    text = f"codec = dict(input_size=({MAX_INPUT_SIDE}, 256), heatmap_size=(48, 64))"
    assert data_settings({}, {"cfg": text}).input_size == (MAX_INPUT_SIDE, 256)
    assert data_settings({"config": {"data": {"input_size": [192, 256]}}}, {}).input_size == (192, 256)

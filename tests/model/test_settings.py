"""The data settings a checkpoint records: sizes read from hostile configs stay bounded."""
from __future__ import annotations

import pytest

from simplepose.errors import CheckpointError
from simplepose.model.settings import MAX_INPUT_SIDE, data_settings


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

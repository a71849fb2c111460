"""`simplepose synth`'s parser defaults, spelled out to keep OpenCV out of the parser, agree with the writer's."""
from __future__ import annotations

from simplepose.commands import synth
from simplepose.synthetic import writer


def test_parser_defaults_are_the_writers() -> None:
    assert synth.DEFAULT_VIDEOS == writer.DEFAULT_VIDEOS
    assert synth.DEFAULT_IMAGE_SIZE == writer.DEFAULT_IMAGE_SIZE
    assert synth.LAYOUT_NAMES == tuple(writer.LAYOUTS)

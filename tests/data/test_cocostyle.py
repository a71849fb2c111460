"""COCO-style primitives: frame numbers from file names."""
from __future__ import annotations

import pytest

from simplepose.data.cocostyle import frame_number, parse_images


@pytest.mark.parametrize("stem, want", [("000123", 123), ("0", 0), ("²", None), ("١٢٣", None), ("12a", None),
                                        ("", None), ("①", None)])
def test_frame_number_reads_ascii_digits_only(stem: str, want: int | None) -> None:
    assert frame_number(stem) == want


def test_non_ascii_digit_file_names_get_their_position() -> None:
    """'²' passes str.isdigit() but int() refuses it: such a frame gets its position, no traceback."""
    images = [{"id": 1, "file_name": "images/val/v/²³.jpg"}, {"id": 2, "file_name": "images/val/v/000007.jpg"}]
    got = parse_images(images, "x.json", "/data", videos=True)
    assert [im.frame_index for im in got] == [0, 7]

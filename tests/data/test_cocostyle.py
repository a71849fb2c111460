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


def _ann(**fields) -> dict:
    kp = [v for i in range(17) for v in (10.0 + i, 20.0 + i, 2)]
    return {"id": 7, "image_id": 1, "bbox": [5, 5, 40, 60], "keypoints": kp, **fields}


def test_flags_must_be_booleans_or_0_1() -> None:
    """'false' is a non-empty string: bool() reads it as true; such flags are refused by name."""
    from simplepose.data.cocostyle import parse_annotations
    from simplepose.errors import DataError

    images = parse_images([{"id": 1, "file_name": "a.jpg"}], "x.json", "/data")
    assert len(parse_annotations([_ann(iscrowd=0)], images, "x.json")) == 1
    assert len(parse_annotations([_ann(iscrowd=False)], images, "x.json")) == 1
    assert parse_annotations([_ann(iscrowd=1)], images, "x.json") == []
    with pytest.raises(DataError, match=r"annotation id 7.*'iscrowd' must be true, false, 0 or 1, got 'false'"):
        parse_annotations([_ann(iscrowd="false")], images, "x.json")
    assert parse_images([{"id": 1, "file_name": "a.jpg", "is_labeled": False}], "x", "/")[0].is_labeled is False
    with pytest.raises(DataError, match="'is_labeled' must be"):
        parse_images([{"id": 1, "file_name": "a.jpg", "is_labeled": "false"}], "x.json", "/data")


@pytest.mark.parametrize("field, value", [("bbox", [5, "5", 40, 60]), ("bbox", ["5", "5", "40", "60"]),
                                          ("keypoints", ["10"] * 51)])
def test_numbers_given_as_strings_are_refused(field: str, value: list) -> None:
    """numpy converts '5' to 5.0 without a word; the file must hold numbers."""
    from simplepose.data.cocostyle import parse_annotations
    from simplepose.errors import DataError

    images = parse_images([{"id": 1, "file_name": "a.jpg"}], "x.json", "/data")
    with pytest.raises(DataError, match=rf"annotation id 7.*'{field}' holds .* not a number"):
        parse_annotations([_ann(**{field: value})], images, "x.json")
    with pytest.raises(DataError, match="NaN, null"):
        parse_annotations([_ann(bbox=[5, None, 40, 60])], images, "x.json")

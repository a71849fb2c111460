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


@pytest.mark.parametrize("name, problem", [
    ("images/val/a\0b/000001.jpg", "holds a NUL character"),
    ("images/val/\ud800/000001.jpg", "holds a lone surrogate"),
    ("/".join(["a"] * 40000) + "/1.jpg", "is 80005 characters long, over 4096"),
    ("images/val/v/" + "1" * 5000 + ".jpg", "is 5017 characters long, over 4096"),
])
def test_file_names_no_file_can_have_are_refused(name: str, problem: str) -> None:
    """A NUL byte, a lone surrogate (JSON's \\ud800 escape), a name longer than any path (40 000
    components; a 5000-digit stem): one DataError naming the image record, before any path work."""
    from simplepose.errors import DataError
    with pytest.raises(DataError, match=rf"x\.json \(images\[0\] \(id 1\)\): file_name .*{problem}"):
        parse_images([{"id": 1, "file_name": name}], "x.json", "/data", videos=True)


def test_a_long_digit_stem_is_no_frame_number() -> None:
    """A stem of more digits than an int64 holds is not a frame number (int() would refuse 5000 digits)."""
    assert frame_number("9" * 19) is None and frame_number("9" * 18) == 999_999_999_999_999_999


def test_a_duplicate_annotation_id_is_refused() -> None:
    """Two annotations with one id: refused by name (a COCO index would keep only one of them)."""
    from simplepose.data.cocostyle import parse_annotations
    from simplepose.errors import DataError

    images = parse_images([{"id": 1, "file_name": "a.jpg"}], "x.json", "/data")
    with pytest.raises(DataError, match=r"annotations\[1\].*annotation id 7 appears twice \(also annotations\[0\]\)"):
        parse_annotations([_ann(), _ann()], images, "x.json")

"""JSON reading: hostile input becomes a DataError naming the file, never a bare traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from simplepose.errors import DataError
from simplepose.io import read_json


def test_deeply_nested_json_is_a_data_error(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply") as e:
        read_json(p)
    assert e.value.path == str(p)


@pytest.mark.parametrize("digits", [309, 400, 5000])
def test_huge_integers_are_a_data_error(tmp_path: Path, digits: int) -> None:
    p = tmp_path / "huge.json"
    p.write_text('[{"image_id": 0, "bbox": [1, 2, 3, ' + "9" * digits + '], "score": 1}]')
    with pytest.raises(DataError, match="out of range"):
        read_json(p)


def test_64_bit_integers_still_read(tmp_path: Path) -> None:
    p = tmp_path / "ok.json"
    p.write_text(f'{{"a": {2 ** 63 - 1}, "b": -{2 ** 63}, "d": {"9" * 25}, "c": NaN}}')  # NaN: the fallback path
    got = read_json(p)
    assert got["a"] == 2 ** 63 - 1 and got["b"] == -2 ** 63 and got["d"] == 1e25   # as orjson reads them

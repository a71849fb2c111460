"""simplepose.io: folders the project owns."""
from __future__ import annotations

import pytest

from simplepose.io import OWNER_MARKER, replace_folder


def test_replace_folder_keeps_the_old_one_when_filling_fails(tmp_path):
    target = tmp_path / "preds"
    replace_folder(target, lambda d: (d / "a.json").write_text("1"))
    assert sorted(p.name for p in target.iterdir()) == [OWNER_MARKER, "a.json"]

    def fail(d):
        (d / "b.json").write_text("2")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError):
        replace_folder(target, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds"]                   # no temp folder left
    assert (target / "a.json").read_text() == "1" and not (target / "b.json").exists()

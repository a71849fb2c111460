"""What a failing command prints: checked to be the CLI's one error line."""
from __future__ import annotations

import pytest


def one_error_line(capsys: pytest.CaptureFixture, command: str, *words: str) -> str:
    """The captured stderr, checked to be exactly one error line holding `words`."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simplepose {command}: error: "), err
    for w in words:
        assert w in err[0], err[0]
    return err[0]

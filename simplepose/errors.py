"""Errors that name the file, the record and the problem."""
from __future__ import annotations

import os


class SimplePoseError(Exception):
    """Base class of every error simplepose raises on purpose."""


class DataError(SimplePoseError, ValueError):
    """Bad input data: malformed file, missing field, wrong shape, NaN, missing image."""

    def __init__(self, path: str | os.PathLike | None, problem: str, record: str | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        self.problem = problem
        where = self.path or "<input>"
        if record:
            where += f" ({record})"
        super().__init__(f"{where}: {problem}")


class CheckpointError(SimplePoseError, ValueError):
    """A checkpoint that cannot be read or does not fit the model."""

"""Errors that name the file, the record and the problem."""
from __future__ import annotations

import os


class SimplePoseError(Exception):
    """Base class of every error simplepose raises on purpose."""


def _located(path: str | None, record: str | None, problem: str, unnamed: str) -> str:
    """`path (record): problem`, with `unnamed` standing for a missing path."""
    where = path or unnamed
    if record:
        where += f" ({record})"
    return f"{where}: {problem}"


class DataError(SimplePoseError, ValueError):
    """Bad input data: malformed file, missing field, wrong shape, NaN, missing image."""

    def __init__(self, path: str | os.PathLike | None, problem: str, record: str | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        self.problem = problem
        super().__init__(_located(self.path, record, problem, "<input>"))

    def __reduce__(self) -> tuple:
        """Rebuilt from its fields: errors cross process boundaries (loader workers, DDP ranks)."""
        return type(self), (self.path, self.problem, self.record)


class ConfigError(SimplePoseError, ValueError):
    """A config value or file that is wrong."""

    def __init__(self, source: str | os.PathLike | None, problem: str, key: str | None = None):
        self.source = None if source is None else str(source)
        self.key = key
        self.problem = problem
        super().__init__(_located(self.source, key, problem, "<config>"))

    def __reduce__(self) -> tuple:
        """Rebuilt from its fields: errors cross process boundaries (loader workers, DDP ranks)."""
        return type(self), (self.source, self.problem, self.key)


class CheckpointError(SimplePoseError, ValueError):
    """A checkpoint that cannot be read or does not fit the model."""

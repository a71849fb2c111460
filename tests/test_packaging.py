"""pyproject.toml's dependencies give what the README's first command and a deployment set-up need."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

PROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings ('onnx>=1.15' -> 'onnx')."""
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}


def test_the_first_command_draws_the_reports_plots() -> None:
    """`pip install -e . && simplepose demo`: the report's and the training curves' plots need matplotlib."""
    assert "matplotlib" in _names(PROJECT["dependencies"])


def test_running_an_exported_file_needs_a_runtime_extra_not_onnx() -> None:
    """`simplepose infer MODEL.onnx` reads the metadata through the runtime: the deploy extra has no onnx."""
    extras = PROJECT["optional-dependencies"]
    assert _names(extras["deploy"]) == {"onnxruntime", "openvino"}
    assert "onnx" in _names(extras["export"])
    assert not _names(PROJECT["dependencies"]) & {"onnx", "onnxruntime", "openvino"}

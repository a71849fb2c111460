"""The precision setting: what `auto` resolves to, checked against the CPU's own flags and hand-set probes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from simplepose.model import precision as prec


def _cpu_flags() -> set[str]:
    """The kernel's CPU flags (Linux), empty where /proc/cpuinfo is absent."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return set()
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_auto_on_this_cpu_follows_the_kernel_flags():
    flags = _cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    native = bool({"amx_bf16", "avx512_bf16"} & flags) and torch.backends.mkldnn.is_available()
    p = prec.resolve_precision("auto", "cpu")
    assert p.name == ("bf16" if native else "fp32"), p.reason
    assert p.reason.startswith("auto: ")


@pytest.mark.parametrize("amx,avx512_bf16,expected", [(True, False, "bf16"), (False, True, "bf16"),
                                                      (False, False, "fp32")])
def test_auto_on_cpu_from_the_probes(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    p = prec.resolve_precision("auto", torch.device("cpu"))
    assert p.name == expected
    assert ("CPU has AMX" in p.reason) == amx


def test_missing_probe_falls_back_to_fp32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    p = prec.resolve_precision("auto", "cpu")
    assert p.name == "fp32" and "cannot report" in p.reason


def test_failing_probe_counts_as_absent(monkeypatch):
    def broken() -> bool:
        raise RuntimeError("cpuinfo failed")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", broken, raising=False)
    assert prec.resolve_precision("auto", "cpu").name == "fp32"


@pytest.mark.parametrize("native,expected", [(True, "bf16"), (False, "fp16")])
def test_auto_on_cuda(monkeypatch, native, expected):
    monkeypatch.setattr(prec, "cuda_bf16_support", lambda device: native)
    assert prec.resolve_precision("auto", "cuda:0").name == expected


def test_explicit_requests_are_honoured(monkeypatch, caplog):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert prec.resolve_precision("fp32", "cpu").name == "fp32"
    with caplog.at_level("WARNING", logger="simplepose.precision"):
        p = prec.resolve_precision("bf16", "cpu")
    assert p.name == "bf16" and "emulated" in p.reason
    assert "bf16 requested" in caplog.text


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="auto, fp32, bf16, fp16"):
        prec.resolve_precision("int8", "cpu")


def test_dtypes_and_autocast():
    assert prec.Precision("bf16", "x").dtype is torch.bfloat16
    assert not prec.Precision("fp32", "x").reduced
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(1, 3, 8, 8)
    with prec.Precision("bf16", "x").autocast("cpu"):
        assert conv(x).dtype is torch.bfloat16
    with prec.Precision("fp32", "x").autocast("cpu"):
        assert conv(x).dtype is torch.float32
    assert prec.Precision("bf16", "AMX").describe() == "precision bf16: AMX"

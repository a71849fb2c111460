"""Running `python -m simplepose` in a child process, so that a crash (a signal) shows as a return code."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a child CLI: this checkout first on the path, one thread, plus `extra`."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_cli(*argv: str | os.PathLike, cwd: str | os.PathLike | None = None,
            timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m simplepose ARGV` to completion; stdout and stderr as text (undecodable bytes escaped)."""
    return subprocess.run([sys.executable, "-m", "simplepose", *map(os.fspath, argv)], cwd=cwd, env=cli_env(**(env or {})),
                          capture_output=True, text=True, errors="backslashreplace", timeout=timeout)

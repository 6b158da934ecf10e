"""Run a snippet in a fresh interpreter: the test session itself has imported TensorFlow, so
what must not import it is checked in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from tests.checkpoints import PROJECT_ROOT


def run_python(
    code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS`` from the project root, its output captured; ``env`` is its whole
    environment (default: this one without ``CKPTCTL_DEBUG`` and ``PYTHONSTARTUP``)."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if k not in ("CKPTCTL_DEBUG", "PYTHONSTARTUP")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_fresh(code: str, *args: str) -> Any:
    """Run `code` (dedented) with `args` in a new interpreter from the project root; it prints
    one JSON document last, returned parsed."""
    result = run_python(textwrap.dedent(code), *args, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_ckptctl(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m ckptctl ARGS`` in a fresh process from the project root, as the console
    script runs, its output captured; ``env`` is its whole environment (default: this one)."""
    return subprocess.run(
        [sys.executable, "-m", "ckptctl", *args],
        cwd=PROJECT_ROOT,
        env=os.environ if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )

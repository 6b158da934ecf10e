"""ckptctl's own numpy work prints no warnings: a bool value's histogram, an all-NaN value's
statistics. Run with warnings as errors, so any numpy RuntimeWarning fails the command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.checkpoints import PROJECT_ROOT


@pytest.fixture(scope="module")
def odd_values(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    ckpt = tf.train.Checkpoint(
        flags=tf.Variable([True, False, True]),
        all_nan=tf.Variable([float("nan")] * 3),
        ints=tf.Variable([1, 2, 3]),
    )
    return Path(ckpt.write(str(tmp_path_factory.mktemp("odd") / "ckpt")))


def test_stats_and_histograms_print_no_warnings(odd_values: Path) -> None:
    args = ["inspect", str(odd_values), "--stats", "--hist"]
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "ckptctl", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line}
    assert rows["flags"][:2] == ["0", "1"]
    assert rows["all_nan"][-1] == "3/0"

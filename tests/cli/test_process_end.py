"""How the ``ckptctl`` process ends after TensorFlow (:func:`ckptctl.cli.app.run`): without
Python's teardown of TensorFlow, but with everything written, the user's exit functions run,
and the exit code the verdict gives."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ckptctl.errors import EXIT_UNREADABLE
from tests.fresh import run_ckptctl

MODEL = """
import atexit, os

import keras


def _at_exit():
    if "EXIT_MARKER" in os.environ:
        with open(os.environ["EXIT_MARKER"], "w") as f:
            f.write("ran")


atexit.register(_at_exit)


class Net(keras.Model):
    def __init__(self, width=4):
        super().__init__()
        self.dense = keras.layers.Dense(width)
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(self.dense(x))
"""


@pytest.fixture(scope="module")
def user_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model file whose module registers an exit function, and a checkpoint of its model."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("process-end")
    source = root / "net.py"
    source.write_text(textwrap.dedent(MODEL))
    spec = importlib.util.spec_from_file_location("process_end_net", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its exit function does nothing here: no EXIT_MARKER
    net = module.Net()
    net(tf.zeros((1, 3)))
    prefix = tf.train.Checkpoint(model=net).write(str(root / "ckpt" / "ckpt"))
    return source, Path(prefix)


def ckptctl(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    marker = tmp_path / "exit-marker"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "EXIT_MARKER": str(marker)}
    env.pop("CKPTCTL_DEBUG", None)
    return run_ckptctl(*args, env=env), marker


@pytest.mark.parametrize(("width", "code", "ok"), [(4, 0, True), (5, 1, False)])
def test_restore_ends_with_its_verdict_and_everything_written(
    user_model: tuple[Path, Path], tmp_path: Path, width: int, code: int, ok: bool
) -> None:
    source, prefix = user_model
    junit = tmp_path / "restore.xml"
    proc, marker = ckptctl(
        tmp_path,
        "restore",
        str(prefix),
        "--model",
        f"{source}:Net",
        "--model-arg",
        f"width={width}",
        "--input-shape",
        "2,3",
        "--json",
        "--junit-xml",
        str(junit),
    )
    assert proc.returncode == code, proc.stderr
    assert json.loads(proc.stdout)["ok"] is ok
    suite = ET.parse(junit).getroot()
    failures = int(suite.get("failures") or suite[0].get("failures") or 0)
    assert (failures == 0) is ok
    assert marker.read_text() == "ran"  # the user's exit function ran


def test_a_failing_model_module_still_ends_with_its_exit_code(
    user_model: tuple[Path, Path], tmp_path: Path
) -> None:
    _, prefix = user_model
    broken = tmp_path / "broken.py"
    broken.write_text("import keras\nraise RuntimeError('no model here')\n")
    proc, _ = ckptctl(tmp_path, "restore", str(prefix), "--model", f"{broken}:Net")
    assert proc.returncode == EXIT_UNREADABLE, proc.stderr
    assert f"error: importing {broken} raised RuntimeError: no model here" in proc.stderr

"""ckptctl's TensorFlow-free commands under the oldest versions its dependencies' ranges allow.

``make test`` builds a venv of ``requirements/oldest.txt`` (each direct dependency at the lower
bound ``pyproject.toml`` states, no TensorFlow) and points ``CKPTCTL_OLDEST_PYTHON`` at its
interpreter. Each command here runs there, on this source tree, and under the locked versions
of this session; stdout, stderr and the exit code must be the same. The files are written by
real TensorFlow, Keras and tf-keras in this session.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path

import numpy as np
import pytest

from tests.checkpoints import PROJECT_ROOT

PINS = PROJECT_ROOT / "requirements" / "oldest.txt"
DEFAULT_OLDEST = PROJECT_ROOT / "build" / "oldest-venv" / "bin" / "python"


def _oldest_python() -> Path:
    named = os.environ.get("CKPTCTL_OLDEST_PYTHON")
    if named:
        path = Path(named)
        assert path.exists(), f"CKPTCTL_OLDEST_PYTHON={named} does not exist: run make test"
        return path
    if not DEFAULT_OLDEST.exists():
        pytest.skip("no oldest-versions venv: `make test` builds it (build/oldest-venv)")
    return DEFAULT_OLDEST


def _pins() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normal(name)] = version.strip()
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_every_lower_bound_is_the_version_pinned_for_the_oldest_check() -> None:
    """A bound raised in pyproject.toml (as the installed metadata states it) must be raised in
    requirements/oldest.txt too: what the README calls tested is what runs."""
    pins = _pins()
    bounds = {}
    for spec in requires("ckptctl") or []:
        if "extra ==" in spec:
            continue
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", spec.strip())
        assert found, spec
        lower = re.search(r">=\s*([0-9.]+)", found[2])
        assert lower, f"{spec!r}: every dependency needs a lower bound"
        bounds[_normal(found[1])] = lower[1]
    assert bounds, "ckptctl's installed metadata lists no dependencies"
    for name, bound in bounds.items():
        assert name in pins, f"{name} is not pinned in {PINS.name}"
        assert _release(pins[name]) == _release(bound), (name, bound, pins[name])


def test_the_oldest_venv_holds_exactly_the_pins() -> None:
    python = _oldest_python()
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--exclude", "pip"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    installed = {
        _normal(p["name"]): p["version"]
        for p in json.loads(listed.stdout)
        if _normal(p["name"]) not in ("pip", "setuptools", "wheel")
    }
    assert installed == _pins()


KERAS2_H5 = """
import sys
import numpy as np
import tf_keras

out = sys.argv[1]
model = tf_keras.Sequential(
    [tf_keras.layers.Dense(4, input_shape=(3,)), tf_keras.layers.BatchNormalization(),
     tf_keras.layers.Dense(2)]
)
model.compile("adam", "mse")
model.fit(np.random.rand(8, 3), np.random.rand(8, 2), verbose=0)
model.save(f"{out}/keras2.h5")
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, dtypes_ckpt: Path) -> dict[str, Path]:
    """A compiled model fitted twice (a checkpoint after each fit, its ``.weights.h5`` and
    ``.keras``), a checkpoint of every dtype, and a Keras 2 ``.h5``."""
    import keras
    import tensorflow as tf

    out = tmp_path_factory.mktemp("oldest")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8), dtype=np.float32), rng.random((64, 3), dtype=np.float32)
    inputs = keras.Input((8,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    model.compile("adam", "mse")
    paths: dict[str, Path] = {}
    for name in ("fit1", "fit2"):
        model.fit(x, y, epochs=1, verbose=0)
        paths[name] = Path(
            tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
                str(out / name / "ckpt")
            )
        )
    paths["weights"] = out / "model.weights.h5"
    model.save_weights(paths["weights"])
    paths["archive"] = out / "model.keras"
    model.save(paths["archive"])
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS2_H5), str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    paths["keras2"] = out / "keras2.h5"
    paths["dtypes"] = dtypes_ckpt
    paths["missing"] = out / "no_such_checkpoint"
    return paths


COMMANDS = [
    ["inspect", "{fit1}"],
    ["inspect", "{fit1}", "--json"],
    ["inspect", "{fit1}", "--stats"],
    ["inspect", "{fit1}", "--tree"],
    ["inspect", "{fit1}", "--filter", "*kernel*"],
    ["inspect", "{dtypes}", "--stats", "--hist"],
    ["inspect", "{dtypes}", "--json"],
    ["inspect", "{weights}"],
    ["inspect", "{weights}", "--stats", "--json"],
    ["inspect", "{archive}", "--json"],
    ["inspect", "{keras2}", "--stats"],
    ["inspect", "{missing}"],
    ["diff", "{fit1}", "{fit2}"],
    ["diff", "{fit1}", "{fit2}", "--json"],
    ["diff", "{fit1}", "{fit1}"],
    ["diff", "{weights}", "{archive}"],
    ["diff", "{fit1}", "{missing}"],
    ["--help"],
    ["inspect", "--help"],
    ["diff", "--help"],
    ["--version"],
]


def _run(python: Path, args: list[str], pythonpath: bool) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CKPTCTL_DEBUG", "PYTHONPATH")}
    env["COLUMNS"] = "100"
    if pythonpath:
        env["PYTHONPATH"] = str(PROJECT_ROOT)  # this tree, its C extensions built in place
    proc = subprocess.run(
        [str(python), "-m", "ckptctl", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_the_oldest_versions_say_what_the_locked_ones_say(
    files: dict[str, Path], command: list[str]
) -> None:
    python = _oldest_python()
    args = [arg.format(**files) for arg in command]
    locked = _run(Path(sys.executable), args, pythonpath=False)
    oldest = _run(python, args, pythonpath=True)
    assert oldest == locked
    assert "Traceback" not in locked[2]

"""Keras 2 (tf-keras) optimizer state in real checkpoints written after `fit()` with Adam:
the legacy optimizer's `slot_variables` (keys `.../.OPTIMIZER_SLOT/optimizer/m/...`) and the
current one's `_variables` list, across `inspect` (slot_of, kind), `diff --model-only` (slots
left out) and a renamed root child in `diff` (the slots follow their variable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.checkpoints import PROJECT_ROOT

WRITER = """
import sys
import numpy as np
import tf_keras as keras
import tensorflow as tf

out, which = sys.argv[1], sys.argv[2]
keras.utils.set_random_seed(3)


class Block(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = keras.layers.Dense(4, activation="relu")

    def call(self, x):
        return self.inner(x)


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = keras.layers.Dense(6, activation="relu")
        self.block = Block()
        self.head = keras.layers.Dense(2)

    def call(self, x, training=False):
        return self.head(self.block(self.dense1(x)))


net = Net()
adam = keras.optimizers.legacy.Adam if which == "legacy" else keras.optimizers.Adam
net.compile(optimizer=adam(1e-2), loss="mse")
rng = np.random.default_rng(0)
x, y = rng.random((16, 5), np.float32), rng.random((16, 2), np.float32)
net.fit(x, y, epochs=1, batch_size=8, verbose=0)
tf.train.Checkpoint(model=net, optimizer=net.optimizer).write(out + "/a/ckpt")
tf.train.Checkpoint(net=net, optimizer=net.optimizer).write(out + "/a_renamed/ckpt")
net.fit(x, y, epochs=1, batch_size=8, verbose=0)
tf.train.Checkpoint(model=net, optimizer=net.optimizer).write(out + "/b/ckpt")
tf.train.Checkpoint(net=net, optimizer=net.optimizer).write(out + "/b_renamed/ckpt")
print(keras.__version__)
"""

VARIABLES = [
    f"{layer}.{w}" for layer in ("dense1", "block.inner", "head") for w in ("kernel", "bias")
]


@pytest.fixture(scope="module", params=["legacy", "current"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """(which Adam, the directory with checkpoints a, a_renamed, b, b_renamed): one epoch of
    `fit` before a, one more before b; `*_renamed` hold the model as `net`, not `model`."""
    d = tmp_path_factory.mktemp(f"keras2_{request.param}")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(d), request.param],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("2."), result.stdout
    return request.param, d


def cli_json(*args: str | Path, code: int = 0) -> Any:
    from ckptctl.cli.app import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def slots(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (v["path"], v["kind"], v["slot_of"], v["slot_name"])
        for v in doc["variables"]
        if v["slot_of"] is not None
    )


def test_inspect_names_each_slots_variable(run: tuple[str, Path]) -> None:
    which, d = run
    doc = cli_json("inspect", d / "a" / "ckpt", "--json")
    by_kind: dict[str, list[str]] = {}
    for v in doc["variables"]:
        by_kind.setdefault(v["kind"], []).append(v["path"])
    assert sorted(by_kind["model"]) == sorted(f"model.{p}" for p in VARIABLES)
    assert {v["owner"] for v in doc["variables"] if v["kind"] == "optimizer"} == {"optimizer"}
    if which == "legacy":
        expected = sorted(
            (f"optimizer.{s}(model.{p})", "optimizer", f"model.{p}", s)
            for p in VARIABLES
            for s in ("m", "v")
        )
        keys = {v["path"]: v["key"] for v in doc["variables"]}
        assert keys["optimizer.m(model.dense1.kernel)"] == (
            "model/dense1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
        )
    else:
        # tf-keras's list: iterations at 0, then m and v of each trainable variable in order.
        order = ["dense1.kernel", "dense1.bias", "block.inner.kernel", "block.inner.bias",
                 "head.kernel", "head.bias"]  # fmt: skip
        expected = sorted(
            (f"optimizer._variables.{1 + 2 * i + j}", "optimizer", f"model.{p}", s)
            for i, p in enumerate(order)
            for j, s in enumerate(("m", "v"))
        )
    assert slots(doc) == expected
    renamed = cli_json("inspect", d / "a_renamed" / "ckpt", "--json")
    assert sorted(s[2] for s in slots(renamed)) == sorted(
        s[2].replace("model.", "net.", 1) for s in expected
    )


def test_diff_model_only_leaves_the_slots_out(run: tuple[str, Path]) -> None:
    _, d = run
    a, b = d / "a" / "ckpt", d / "b" / "ckpt"
    model_only = cli_json("diff", a, b, "--model-only", "--json", code=1)
    assert sorted(c["path"] for c in model_only["changed"]) == sorted(
        f"model.{p}" for p in VARIABLES
    )
    assert (model_only["a_values"], model_only["b_values"], model_only["unchanged"]) == (6, 6, 0)
    everything = cli_json("diff", a, b, "--json", code=1)
    changed = {c["path"] for c in everything["changed"]}
    slot_paths = {s[0] for s in slots(cli_json("inspect", a, "--json"))}
    assert slot_paths <= changed, "every slot moved in the second epoch"
    assert len(slot_paths) == 12


def test_diff_follows_a_renamed_root_child_with_its_slots(run: tuple[str, Path]) -> None:
    """`model` saved as `net`: every value pairs, the slots with their variable's new name."""
    which, d = run
    same = cli_json("diff", d / "a" / "ckpt", d / "a_renamed" / "ckpt", "--json")
    assert same["equal"] is True and same["only_in_a"] == [] and same["only_in_b"] == []
    assert same["renamed"] == [{"a": "model", "b": "net", "values": 6}]
    moved = cli_json("diff", d / "a" / "ckpt", d / "b_renamed" / "ckpt", "--json", code=1)
    assert moved["only_in_a"] == [] and moved["only_in_b"] == []
    pairs = {c["path"]: (c["b_path"], c["paired_by"]) for c in moved["changed"]}
    for p in VARIABLES:
        assert pairs[f"model.{p}"] == (f"net.{p}", "path")
    if which == "legacy":
        # The slot's key names its variable's path: it pairs by the renamed path.
        assert same["paired_by_path"] == 18
        for p in VARIABLES:
            for s in ("m", "v"):
                assert pairs[f"optimizer.{s}(model.{p})"] == (f"optimizer.{s}(net.{p})", "path")
    else:
        # The list's keys do not change; the same slot is paired by key.
        assert same["paired_by_path"] == 6
        assert pairs["optimizer._variables.1"] == ("optimizer._variables.1", "key")

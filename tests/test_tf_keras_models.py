"""Models written with ``tf_keras`` itself (Keras 2), as code that predates Keras 3 imports
it, restored from the checkpoints their own training wrote: ``model.save_weights(prefix)`` in
TensorFlow's format (the model is the checkpoint's root, its optimizer a child of it) and
``tf.train.Checkpoint(model=..., optimizer=...)``. Each is written in a fresh process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.fresh import run_ckptctl, run_python

SAVE_COUNTER = "save_counter/"
"""What ``Checkpoint.save`` adds beside the model: never requested, never a failure."""

MODEL = """
import tensorflow as tf
import tf_keras


class Block(tf_keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = tf_keras.layers.Dense(units)
        self.norm = tf_keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return tf.nn.relu(self.norm(self.dense(x), training=training))


class Net(tf_keras.Model):
    ckptctl_input_shapes = [(4, 6)]

    def __init__(self):
        super().__init__()
        self.block = Block(8)
        self.drop = tf_keras.layers.Dropout(0.2)
        self.head = tf_keras.layers.Dense(3)

    def call(self, x, training=None):
        return self.head(self.drop(self.block(x, training=training), training=training))
"""

WRITER = """
import sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, sys.argv[1])
from k2net import Net

out = sys.argv[1]
net = Net()
net.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
net.fit(rng.random((16, 6)), rng.random((16, 3)), epochs=2, batch_size=4, verbose=0)
net.save_weights(out + "/save_weights/net")
tf.train.Checkpoint(model=net, optimizer=net.optimizer).save(out + "/checkpoint/ckpt")
print(len(net.variables))
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The directory (k2net.py, save_weights/, checkpoint/), and how many variables the
    trained model held."""
    d = tmp_path_factory.mktemp("tf_keras")
    (d / "k2net.py").write_text(MODEL)
    result = run_python(textwrap.dedent(WRITER), str(d))
    assert result.returncode == 0, result.stderr[-3000:]
    return d, int(result.stdout.split()[-1])


def optimizer_values(d: Path, layout: str) -> int:
    """The values the checkpoint holds under its ``optimizer`` (iterations, learning rate,
    slots), as TensorFlow lists them."""
    import tensorflow as tf

    names = [name for name, _ in tf.train.list_variables(str(d / layout))]
    return sum(name.startswith("optimizer/") for name in names)


def restore(d: Path, layout: str, *extra: str) -> Any:
    result = run_ckptctl(
        "restore", str(d / layout), "--model", f"{d / 'k2net.py'}:Net", "--json", *extra
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("layout", ["save_weights", "checkpoint"])
def test_optimizer_of_a_tf_keras_model_is_restored(written: tuple[Path, int], layout: str) -> None:
    """``--optimizer adam`` is tf-keras's Adam for a tf-keras model (Keras 3's names its
    slots otherwise), and where the model is the root, its optimizer child is restored into
    it: every optimizer value matched and checked, none left 'not requested'."""
    d, model_vars = written
    optimizer_vars = optimizer_values(d, layout)
    assert optimizer_vars > 2  # iterations, learning rate and Adam's slots
    doc = restore(d, layout, "--optimizer", "adam")
    assert doc["ok"] is True
    assert [k for k in doc["not_requested"] if not k.startswith(SAVE_COUNTER)] == []
    assert doc["matched"] == model_vars + optimizer_vars
    assert doc["values"] == {"checked": model_vars + optimizer_vars, "differing": []}


@pytest.mark.parametrize("layout", ["save_weights", "checkpoint"])
def test_without_optimizer_its_values_are_not_requested(
    written: tuple[Path, int], layout: str
) -> None:
    d, model_vars = written
    optimizer_vars = optimizer_values(d, layout)
    doc = restore(d, layout)
    assert doc["ok"] is True
    assert doc["matched"] == model_vars
    optimizer = [k for k in doc["not_requested"] if k.startswith("optimizer/")]
    assert len(optimizer) == optimizer_vars

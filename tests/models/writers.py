"""Write checkpoints of the ``tests.models.zoo`` models (train 2 steps with Adam, then save).

The functions run in the test process. Two checkpoints need a process of their own and are
written by running this module (see ``tests.checkpoints``)::

    python -m tests.models.writers mirrored OUT      # MirroredStrategy over two logical CPUs
    python -m tests.models.writers save_weights OUT  # tf-keras Model.save_weights (Keras 2)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

STEPS = 2
"""Training steps before each checkpoint is saved."""


def batch(shapes: Sequence[Sequence[int]], dtype: str, seed: int = 0, high: int = 50) -> Any:
    """Seeded inputs of ``shapes``: one array, or a list of arrays for several inputs."""
    rng = np.random.default_rng(seed)
    arrays = [
        rng.integers(0, high, tuple(s)).astype(dtype)
        if np.dtype(dtype).kind in "iu"
        else rng.normal(size=tuple(s)).astype(dtype)
        for s in shapes
    ]
    return arrays[0] if len(arrays) == 1 else arrays


def _loss(outputs: Any) -> Any:
    import tensorflow as tf

    return tf.add_n(
        [tf.reduce_mean(tf.square(tf.cast(t, "float32"))) for t in tf.nest.flatten(outputs)]
    )


def train(model: Any, optimizer: Any, inputs: Any, steps: int = STEPS) -> None:
    """Take ``steps`` gradient steps on the mean square of every output."""
    import tensorflow as tf

    scales = hasattr(optimizer, "scale_loss")
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = _loss(model(inputs, training=True))
            if scales:
                loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(list(zip(grads, model.trainable_variables, strict=True)))


def write_trained(
    dirpath: Path,
    factory: Callable[[], Any],
    shapes: Sequence[Sequence[int]],
    dtype: str = "float32",
    optimizer: Callable[[], Any] | None = None,
    seed: int = 0,
) -> Path:
    """Train ``factory()`` with Adam (or ``optimizer()``); save ``model`` and ``optimizer``.

    Writes ``tf.train.Checkpoint(model=..., optimizer=...).save(DIRPATH/ckpt)`` and returns
    ``DIRPATH`` (a directory with a ``checkpoint`` state file and ``ckpt-1``).
    """
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = factory()
    opt = optimizer() if optimizer is not None else tf.keras.optimizers.Adam(1e-2)
    train(model, opt, batch(shapes, dtype, seed))
    dirpath.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(model=model, optimizer=opt).save(str(dirpath / "ckpt"))
    return dirpath


def write_root_model(
    dirpath: Path, factory: Callable[[], Any], shapes: Sequence[Sequence[int]]
) -> Path:
    """Train ``factory()`` briefly and write ``tf.train.Checkpoint(root=model)``; return prefix.

    The checkpoint's root object is the model itself: its children are the model's layers.
    """
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = factory()
    train(model, tf.keras.optimizers.Adam(1e-2), batch(shapes, "float32"))
    dirpath.mkdir(parents=True, exist_ok=True)
    return Path(tf.train.Checkpoint(root=model).write(str(dirpath / "root")))


def write_mirrored(dirpath: Path) -> Path:
    """Train ``MirroredModel`` under ``MirroredStrategy`` on two logical CPUs and save it.

    Must run in a fresh process: the logical devices are configured before TensorFlow
    initialises its devices. Asserts the variables are ``MirroredVariable`` objects. Returns
    ``DIRPATH`` (state file and ``ckpt-1``).
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from tests.models.zoo import FEATURES, MirroredModel

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
        model = MirroredModel()
        model(np.zeros((2, FEATURES), "float32"))
        opt = tf.keras.optimizers.Adam(1e-2)
        opt.build(model.trainable_variables)
    data = tf.constant(batch([(4, FEATURES)], "float32"))

    @tf.function
    def step(x: Any) -> None:
        def replica(x: Any) -> None:
            with tf.GradientTape() as tape:
                loss = _loss(model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(list(zip(grads, model.trainable_variables, strict=True)))

        strategy.run(replica, args=(x,))

    dist = strategy.experimental_distribute_values_from_function(lambda ctx: data[:2])
    for _ in range(STEPS):
        step(dist)
    kernel = model.dense1.kernel
    kind = type(getattr(kernel, "value", kernel)).__name__
    assert kind == "MirroredVariable", f"not a distributed variable: {kind}"
    dirpath.mkdir(parents=True, exist_ok=True)
    with strategy.scope():
        tf.train.Checkpoint(model=model, optimizer=opt).save(str(dirpath / "ckpt"))
    return dirpath


def write_keras2_save_weights(dirpath: Path) -> Path:
    """Under tf-keras (``TF_USE_LEGACY_KERAS=1``): ``Model.save_weights`` of two models.

    Writes ``DIRPATH/subclassed/weights`` (``sample_models.models.MyModel``, input (4, 20)) and
    ``DIRPATH/sequential/weights`` (``tests.models.zoo.make_sequential``), each briefly
    trained. The checkpoint's root is the model itself. Returns ``DIRPATH``.
    """
    import tensorflow as tf

    layer_module = type(tf.keras.layers.Dense(1)).__module__
    assert layer_module.startswith("tf_keras"), "run with TF_USE_LEGACY_KERAS=1"
    from sample_models.models import MyModel
    from tests.models.zoo import FEATURES, make_sequential

    for name, factory, shape in (
        ("subclassed", MyModel, (4, 20)),
        ("sequential", make_sequential, (2, FEATURES)),
    ):
        tf.keras.utils.set_random_seed(0)
        model = factory()
        train(model, tf.keras.optimizers.Adam(1e-2), batch([shape], "float32"))
        (dirpath / name).mkdir(parents=True, exist_ok=True)
        model.save_weights(str(dirpath / name / "weights"))
    return dirpath


def main(argv: Sequence[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    what, out = argv
    writers = {"mirrored": write_mirrored, "save_weights": write_keras2_save_weights}
    print(writers[what](Path(out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

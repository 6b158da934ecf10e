"""Train the ``tests.everyday.models`` the way Keras 3 users do and write their checkpoints.

Every model is ``compile()``d with ``optimizer="adam"`` and trained with ``fit()`` on two
batches of 8 random samples per epoch, except ``RecurrentNet``, trained by a custom loop
through ``model.optimizer``. Each writer returns a ``Written``: the checkpoint paths by layout
and what the live model held, counted from the model itself (not from ckptctl).

Layouts (the names used throughout ``tests.everyday``):

- ``guide``: TensorFlow's "Training checkpoints" guide, ``tf.train.Checkpoint(step=...,
  optimizer=net.optimizer, net=net)`` with ``tf.train.CheckpointManager(max_to_keep=3)``,
  ``step`` incremented and ``manager.save()`` after each of two epochs (``ckpt-1``, ``ckpt-2``);
- ``save`` / ``write``: ``tf.train.Checkpoint(model=m, optimizer=m.optimizer).save(prefix)`` /
  ``.write(prefix)`` (``write`` stores no ``save_counter``);
- ``netopt``: ``tf.train.Checkpoint(net=m, opt=m.optimizer).save(prefix)``;
- ``model_only``: ``tf.train.Checkpoint(model=m).write(prefix)``;
- ``weights_h5`` / ``keras``: Keras 3's own ``m.save_weights("model.weights.h5")`` /
  ``m.save("model.keras")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.checkpoints import h5_listing
from tests.everyday import models

SAMPLES = 16
BATCH_SIZE = 8
EPOCHS = 2

MODEL_KEY = {
    "guide": "net",
    "save": "model",
    "write": "model",
    "netopt": "net",
    "model_only": "model",
    "weights_h5": ".",
    "keras": ".",
}
"""The child of the checkpoint root holding the model, per layout (``.``: the file is the
model's own)."""

KERAS_LAYOUTS = ("weights_h5", "keras")
"""The layouts Keras writes itself, every everyday model's too."""

OPTIMIZER_KEY: dict[str, str | None] = {
    "guide": "optimizer",
    "save": "optimizer",
    "write": "optimizer",
    "netopt": "opt",
    "model_only": None,
    "weights_h5": None,
    "keras": None,
}
"""The child of the checkpoint root holding the optimizer (None: only under the model)."""


@dataclass
class Written:
    """A trained model's checkpoints and what the live model held when they were written."""

    spec: str
    """``tests.everyday.models:Name``: what ``--model`` takes."""
    paths: dict[str, Path] = field(default_factory=dict)
    """Layout name -> checkpoint (a prefix; the guide layout's directory)."""
    model_values: int = 0
    """``len(model.variables)`` minus random-number state (which no checkpoint holds)."""
    trainable: int = 0
    """``len(model.trainable_variables)``."""
    rng_state: list[tuple[str, list[int], str]] = field(default_factory=list)
    """Keras path, shape and dtype of each ``SeedGenerator`` state among ``model.variables``."""
    optimizer_values: int = 0
    """``len(model.optimizer.variables)``: iterations, learning rate and every slot."""
    keras_optimizer_values: int = 0
    """The optimizer values in the model's ``.weights.h5``, counted with h5py: as many, except
    for a ``LossScaleOptimizer``, whose inner optimizer's values Keras writes a second time."""


def data(kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``SAMPLES`` random inputs (``"image"``: 28x28x1 floats; ``"tokens"``: int32 ids) and
    integer labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, models.CLASSES, SAMPLES)
    if kind == "image":
        return rng.normal(size=(SAMPLES, *models.IMAGE)).astype("float32"), labels
    return rng.integers(0, models.VOCAB, (SAMPLES, models.SEQ)).astype("int32"), labels


def compiled(factory: Callable[[], Any]) -> Any:
    """``factory()``, compiled as a user would: Adam, sparse categorical cross-entropy."""
    import keras

    model = factory()
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def describe(spec: str, model: Any) -> Written:
    """A ``Written`` for ``spec`` with the counts read off the trained ``model``."""
    rng = [v for v in model.variables if "seed_generator_state" in v.path]
    return Written(
        spec=spec,
        model_values=len(model.variables) - len(rng),
        trainable=len(model.trainable_variables),
        rng_state=[(v.path, list(v.shape), str(v.dtype)) for v in rng],
        optimizer_values=len(model.optimizer.variables),
    )


def fit(model: Any, kind: str, epochs: int = EPOCHS, seed: int = 0) -> None:
    x, y = data(kind, seed)
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)


def write_layouts(model: Any, out: Path, layouts: list[str], written: Written) -> None:
    """Write ``model`` (trained, compiled) in each of ``layouts`` (not ``guide``), then in
    each of ``KERAS_LAYOUTS``, under OUT."""
    import tensorflow as tf

    for layout in [*layouts, *KERAS_LAYOUTS]:
        prefix = str(out / layout / "ckpt")
        if layout == "weights_h5":
            path = str(out / layout / "model.weights.h5")
            Path(path).parent.mkdir(parents=True)
            model.save_weights(path)
            listing = h5_listing(Path(path))
            written.keras_optimizer_values = sum(k.startswith("optimizer/") for k in listing)
        elif layout == "keras":
            path = str(out / layout / "model.keras")
            Path(path).parent.mkdir(parents=True)
            model.save(path)
        elif layout == "save":
            path = tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(prefix)
        elif layout == "write":
            path = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(prefix)
        elif layout == "netopt":
            path = tf.train.Checkpoint(net=model, opt=model.optimizer).save(prefix)
        elif layout == "model_only":
            path = tf.train.Checkpoint(model=model).write(prefix)
        else:
            raise ValueError(layout)
        written.paths[layout] = Path(path)


def write_convnet(out: Path) -> Written:
    """``ConvNet`` in the guide layout (``OUT/guide``, two checkpoints), then ``netopt`` and
    ``model_only`` of the same trained model."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    net = compiled(models.ConvNet)
    ckpt = tf.train.Checkpoint(step=tf.Variable(1), optimizer=net.optimizer, net=net)
    manager = tf.train.CheckpointManager(ckpt, str(out / "guide"), max_to_keep=3)
    for epoch in range(EPOCHS):
        fit(net, "image", epochs=1, seed=epoch)
        ckpt.step.assign_add(1)
        manager.save()
    written = describe("tests.everyday.models:ConvNet", net)
    written.paths["guide"] = out / "guide"
    write_layouts(net, out, ["netopt", "model_only"], written)
    return written


def write_fitted(
    out: Path, name: str, factory: Callable[[], Any], kind: str, layouts: list[str]
) -> Written:
    """Train ``factory()`` (``models.NAME`` or a factory of that name) with ``fit`` and write it
    in ``layouts``."""
    import keras

    keras.utils.set_random_seed(0)
    model = compiled(factory)
    fit(model, kind)
    written = describe(f"tests.everyday.models:{name}", model)
    write_layouts(model, out, layouts, written)
    return written


def write_recurrent(out: Path) -> Written:
    """``RecurrentNet``, compiled, trained by a custom loop: ``tf.GradientTape`` and
    ``model.optimizer.apply_gradients``; then the ``save`` layout."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = compiled(models.RecurrentNet)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = data("tokens")
    for _ in range(EPOCHS):
        for start in range(0, SAMPLES, BATCH_SIZE):
            xb, yb = x[start : start + BATCH_SIZE], y[start : start + BATCH_SIZE]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    written = describe("tests.everyday.models:RecurrentNet", model)
    write_layouts(model, out, ["save"], written)
    return written


def write_mixed(out: Path) -> Written:
    """``MixedNet`` built, compiled and fitted under the global policy ``mixed_float16`` (reset
    to ``float32`` afterwards); ``compile`` wraps Adam in a ``LossScaleOptimizer``."""
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = compiled(models.MixedNet)
        fit(model, "image")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert type(model.optimizer).__name__ == "LossScaleOptimizer", type(model.optimizer)
    written = describe("tests.everyday.models:MixedNet", model)
    write_layouts(model, out, ["save"], written)
    return written

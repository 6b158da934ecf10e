"""Variants of ``MyModel`` that do not faithfully restore a ``MyModel`` checkpoint.

Each class differs from ``MyModel`` in exactly one way, described in its docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from .models import OUTPUT_UNITS, MyModel


class RenamedModel(tf.keras.Model):
    """``MyModel`` with its first layer stored as ``encoder`` instead of ``dense1``.

    The checkpoint's ``model/dense1`` values are never used and ``model/encoder`` finds nothing
    to restore, so the layer keeps its fresh random initialisation.

    Under Keras 3 a checkpoint that also holds the optimizer can hide this: the optimizer's
    ``_trainable_variables`` list refers to the model's variables by position, so restoring model
    and (built) optimizer together binds ``encoder`` to the ``dense1`` values through that list
    and ``assert_consumed()`` passes. Restoring the model alone, or under Keras 2, exposes it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(OUTPUT_UNITS)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.encoder(x))


class WidenedModel(tf.keras.Model):
    """``MyModel`` with 24 hidden units instead of 16.

    Restoring fails on a shape mismatch: the checkpoint's ``dense1`` kernel is (20, 16) but the
    model's is (20, 24) (and likewise for ``dense1``'s bias and ``dense2``'s kernel).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(24, activation="relu")
        self.dense2 = tf.keras.layers.Dense(OUTPUT_UNITS)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.dense1(x))


class ExtraHeadModel(MyModel):
    """``MyModel`` plus a second output, ``head`` (3 units), fed by the hidden activation.

    Everything in the checkpoint restores, but ``head``'s kernel and bias are not in it and keep
    their fresh random initialisation.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.head = tf.keras.layers.Dense(3)

    def call(self, x: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        h = self.dense1(x)
        return self.dense2(h), self.head(h)


class RandomStateModel(MyModel):
    """``MyModel`` whose output is shifted by an unseeded random offset.

    The offset is a plain NumPy array drawn from an unseeded generator when the model is
    created. It is not a variable, so no checkpoint holds it: every variable restores, yet two
    instances restored from the same checkpoint give different outputs for the same input.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offset: np.ndarray = (
            np.random.default_rng().normal(size=(OUTPUT_UNITS,)).astype(np.float32)
        )

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.dense1(x)) + self.offset

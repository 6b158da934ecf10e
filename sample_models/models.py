"""Reference models whose checkpoints ckptctl inspects and verifies.

The three models mirror the classic "restore a TensorFlow eager model" examples, written with
``tf.keras`` so that the same code runs on Keras 3 and, with ``TF_USE_LEGACY_KERAS=1``, on
Keras 2 (tf-keras).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

INPUT_FEATURES = 20
"""Number of input features every sample model expects."""

OUTPUT_UNITS = 10
"""Width of every sample model's output."""

MODEL_VERSION = "v1"
"""Version tag used in the versioned model's checkpoint file names."""


class MyModel(tf.keras.Model):
    """Two dense layers: 20 features -> 16 (ReLU) -> 10."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(OUTPUT_UNITS)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.dense1(x))


class CustomDense(tf.keras.layers.Layer):
    """A dense layer whose weights are created by hand in ``build``.

    ``add_weight`` receives ``name`` as a keyword argument: Keras 3 rejects the positional
    form ``add_weight("kernel", shape=...)``.
    """

    def __init__(self, units: int, activation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.activation = tf.keras.activations.get(activation)

    def build(self, input_shape: Any) -> None:
        self.w = self.add_weight(
            name="kernel",
            shape=(int(input_shape[-1]), self.units),
            initializer="random_normal",
        )
        self.b = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self.activation(tf.matmul(inputs, self.w) + self.b)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": tf.keras.activations.serialize(self.activation),
            }
        )
        return config


class CustomModel(tf.keras.Model):
    """Two ``CustomDense`` layers: 20 features -> 64 (ReLU) -> 10."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = CustomDense(64, activation="relu")
        self.dense2 = CustomDense(OUTPUT_UNITS)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.dense1(x))


class MyVersionedModel(tf.keras.Model):
    """Two dense layers, 20 features -> 32 (ReLU) -> 10, saved under versioned file names."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(32, activation="relu")
        self.dense2 = tf.keras.layers.Dense(OUTPUT_UNITS)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dense2(self.dense1(x))

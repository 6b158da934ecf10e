"""The model ``make bench`` restores: four ``Dense(8192)`` layers on 8,192 features, about
1 GiB of float32 weights (``ckptctl restore ... --model bench/models.py:Wide``)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

WIDE_FEATURES = 8192
"""Input features (and the width of every layer)."""


class Wide(tf.keras.Model):
    """8,192 -> 8,192 (ReLU) x 3 -> 8,192."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(WIDE_FEATURES, activation="relu")
        self.dense2 = tf.keras.layers.Dense(WIDE_FEATURES, activation="relu")
        self.dense3 = tf.keras.layers.Dense(WIDE_FEATURES, activation="relu")
        self.dense4 = tf.keras.layers.Dense(WIDE_FEATURES)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense4(self.dense3(self.dense2(self.dense1(x))))

"""Keras 3 models saved with Keras's own files (``.weights.h5``, ``.weights.json``, ``.keras``)
for ``tests/test_keras_files.py``, and the changed versions a refactor makes."""

from __future__ import annotations

from typing import Any, ClassVar

import tensorflow as tf

keras = tf.keras


class Block(keras.layers.Layer):
    """A conv and a batch norm, held as attributes of a layer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same")
        self.bn = keras.layers.BatchNormalization()

    def call(self, x: Any, training: bool = False) -> Any:
        return tf.nn.relu(self.bn(self.conv(x), training=training))


class ConvNet(keras.Model):
    """Subclassed: Conv2D, BatchNormalization, a nested block, Dropout, Dense."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(4, 8, 8, 1)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(3, 3, activation="relu")
        self.bn1 = keras.layers.BatchNormalization()
        self.block = Block()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.3)
        self.fc = keras.layers.Dense(5)

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.block(self.bn1(self.conv1(x), training=training), training=training)
        return self.fc(self.drop(self.pool(x), training=training))


class ConvNetWithHead(ConvNet):
    """ConvNet with one more Dense layer: its two variables are not in the file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.head(super().call(x, training=training))


class ConvNetRenamed(ConvNet):
    """ConvNet with its Dense layer held as ``classifier``, not ``fc``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classifier = self.fc
        del self.fc

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.block(self.bn1(self.conv1(x), training=training), training=training)
        return self.classifier(self.drop(self.pool(x), training=training))


def sequential() -> Any:
    """Sequential with named layers: left (Dense 4), right (Dense 4), a batch norm."""
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, name="left"),
            keras.layers.Dense(4, name="right"),
            keras.layers.BatchNormalization(),
        ]
    )


def swapped() -> Any:
    """The same Sequential with `left` and `right` in each other's place (same shapes)."""
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, name="right"),
            keras.layers.Dense(4, name="left"),
            keras.layers.BatchNormalization(),
        ]
    )


def renamed() -> Any:
    """The Sequential with `right` renamed `head`: a name nowhere in the file."""
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, name="left"),
            keras.layers.Dense(4, name="head"),
            keras.layers.BatchNormalization(),
        ]
    )


def nested(swap: bool = False) -> Any:
    """Functional around a nested Sequential of `left` and `right` (Dense 4 each; swapped in
    each other's place with ``swap``), then Dense 2."""
    names = ["right", "left"] if swap else ["left", "right"]
    inner = keras.Sequential([keras.layers.Dense(4, name=n) for n in names])
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))


def nested_swapped() -> Any:
    return nested(swap=True)


def auto_named() -> Any:
    """Sequential of layers Keras names: Conv2D 4 (3x3) on 8x8x1, Reshape, LSTM 4, Dense 2."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3),
            keras.layers.Reshape((36, 4)),
            keras.layers.LSTM(4),
            keras.layers.Dense(2),
        ]
    )


def widened() -> Any:
    """The Sequential with `left` widened to 5 units."""
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, name="left"),
            keras.layers.Dense(4, name="right"),
            keras.layers.BatchNormalization(),
        ]
    )


def functional() -> Any:
    """Functional: Dense, LayerNormalization, Dense."""
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def sgd_momentum() -> Any:
    return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)


class Scaled(keras.Model):
    """A Dense layer, a Keras weight of its own (``add_weight``) and a plain ``tf.Variable``,
    which TensorFlow's checkpoints save and Keras's files do not."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(4, 6)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")
        self.offset = tf.Variable(tf.ones([4]), name="offset")

    def call(self, x: Any) -> Any:
        return self.dense(x) / self.temperature + self.offset


class BatchSized(keras.Model):
    """A Dense layer that logs the batch size of every call (``calls``, for the whole class).
    With ``batch``, a model written for one batch size: any other raises, or with ``warn``
    warns and runs."""

    calls: ClassVar[list[int]] = []

    def __init__(self, batch: int = 0, warn: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch, self.warn = batch, warn
        self.dense = keras.layers.Dense(3)

    def call(self, x: Any) -> Any:
        BatchSized.calls.append(int(x.shape[0]))
        if self.batch and x.shape[0] != self.batch:
            message = f"BatchSized is written for batches of {self.batch}"
            if not self.warn:
                raise ValueError(message)
            import warnings

            warnings.warn(message, UserWarning, stacklevel=2)
        return self.dense(x)

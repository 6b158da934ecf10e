"""Models people actually train with Keras 3: ``compile()``, ``fit()``, the usual layers.

Each model is importable as ``tests.everyday.models:Name`` (ckptctl imports it by that spec)
and tiny: one 4-filter convolution on 28x28x1 images, or an 8-wide embedding of 6 tokens, so
that training a few batches takes a fraction of a second.

Subclassed models declare their input through ckptctl's documented class attributes
``ckptctl_input_shapes`` (and ``ckptctl_input_dtypes`` for integer inputs); functional and
Sequential models declare ``keras.Input``.

The ``ConvNet*`` variants below ``ConvNet`` are refactors of it (a renamed layer, a widened
layer, an added layer, two layers moved into a block), restored against ``ConvNet``'s
checkpoint.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import tensorflow as tf

BATCH = 4
IMAGE = (28, 28, 1)
CLASSES = 3
SEQ = 6
"""Tokens per sequence of the text models."""
VOCAB = 20
"""Vocabulary of the text models; ckptctl's default integer input range, 0..10, lies inside."""


class ConvBlock(keras.layers.Layer):
    """A nested block: ``conv`` (Conv2D 4, 3x3) then ``bn`` (BatchNormalization), ReLU."""

    def __init__(self, filters: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, 3, padding="same")
        self.bn = keras.layers.BatchNormalization()

    def call(self, x: Any, training: bool = False) -> Any:
        return tf.nn.relu(self.bn(self.conv(x), training=training))


class ConvNet(keras.Model):
    """Subclassed: ``block`` (ConvBlock) -> pool -> ``drop`` (Dropout) -> ``fc1`` -> ``out``.

    The model of the "Training checkpoints" guide layout (``net``, ``optimizer``, ``step``).
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = ConvBlock()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.25)
        self.fc1 = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.drop(self.pool(self.block(x, training=training)), training=training)
        return self.out(self.fc1(h))


class ConvNetRenamed(keras.Model):
    """``ConvNet`` with ``fc1`` renamed ``hidden`` (same layer, same shapes)."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = ConvBlock()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.25)
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.drop(self.pool(self.block(x, training=training)), training=training)
        return self.out(self.hidden(h))


class ConvNetWider(keras.Model):
    """``ConvNet`` whose output layer ``out`` has 5 units instead of 3."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = ConvBlock()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.25)
        self.fc1 = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(CLASSES + 2)

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.drop(self.pool(self.block(x, training=training)), training=training)
        return self.out(self.fc1(h))


class ConvNetDeeper(keras.Model):
    """``ConvNet`` with one more layer, ``fc2`` (Dense 8), between ``fc1`` and ``out``."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = ConvBlock()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.25)
        self.fc1 = keras.layers.Dense(8, activation="relu")
        self.fc2 = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.drop(self.pool(self.block(x, training=training)), training=training)
        return self.out(self.fc2(self.fc1(h)))


class Head(keras.layers.Layer):
    """``fc1`` (Dense 8, ReLU) then ``out`` (Dense 3): ``ConvNet``'s two last layers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x: Any) -> Any:
        return self.out(self.fc1(x))


class ConvNetRegrouped(keras.Model):
    """``ConvNet`` with ``fc1`` and ``out`` moved into a block ``head`` (a ``Head``)."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = ConvBlock()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.drop = keras.layers.Dropout(0.25)
        self.head = Head()

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.drop(self.pool(self.block(x, training=training)), training=training)
        return self.head(h)


def sgd_momentum() -> Any:
    """The optimizer of a switch from Adam to SGD: ``keras.optimizers.SGD(momentum=0.9)``."""
    return keras.optimizers.SGD(momentum=0.9)


def make_sequential_cnn() -> Any:
    """Sequential: Input 28x28x1 -> Conv2D 4 -> BatchNormalization -> pool -> Dropout -> Dense."""
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(CLASSES),
        ]
    )


def make_sequential_cnn_compiled() -> Any:
    """``make_sequential_cnn``, compiled inside the factory with its own Adam, as training
    code that builds and compiles in one function is."""
    model = make_sequential_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def make_functional_attention() -> Any:
    """Functional, integer tokens: Embedding -> MultiHeadAttention (residual) ->
    LayerNormalization -> GRU -> Dense."""
    tokens = keras.Input(shape=(SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8)(tokens)
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    x = keras.layers.LayerNormalization()(x + attended)
    x = keras.layers.GRU(8)(x)
    return keras.Model(tokens, keras.layers.Dense(CLASSES)(x))


def make_functional_blocks() -> Any:
    """Functional, images: ConvBlock (a custom layer holding ``conv`` and ``bn``) -> pool ->
    Dropout -> a nested Sequential (Dense 8, Dropout) -> Dense. Keras names the block's
    layers (``conv2d_3``) and the Sequential's (``dense_5``) afresh in every instance."""
    images = keras.Input(shape=IMAGE)
    x = keras.layers.GlobalAveragePooling2D()(ConvBlock()(images))
    x = keras.layers.Dropout(0.2)(x)
    x = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.1)])(x)
    return keras.Model(images, keras.layers.Dense(CLASSES)(x))


class RecurrentNet(keras.Model):
    """Subclassed, integer tokens: ``embed`` (Embedding) -> ``lstm`` (LSTM 8) -> ``norm``
    (LayerNormalization) -> ``out``. Trained by a custom loop with ``model.optimizer``."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, SEQ)]
    ckptctl_input_dtypes: ClassVar[list[str]] = ["int32"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(VOCAB, 8)
        self.lstm = keras.layers.LSTM(8)
        self.norm = keras.layers.LayerNormalization()
        self.out = keras.layers.Dense(CLASSES)

    def call(self, tokens: Any, training: bool = False) -> Any:
        return self.out(self.norm(self.lstm(self.embed(tokens))))


class ListNet(keras.Model):
    """Subclassed with layers in a Python list: pool -> ``stack = [Dense 8, Dense 3]``.

    Keras 3 does not track the list under the model: a checkpoint reaches its layers only
    through the optimizer's ``_trainable_variables``.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.stack = [keras.layers.Dense(8, activation="relu"), keras.layers.Dense(CLASSES)]

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.pool(self.conv(x))
        for layer in self.stack:
            x = layer(x)
        return x


class MixedNet(keras.Model):
    """Mixed precision: Conv2D and Dense compute in float16, the output layer in float32.

    Trained under the global policy ``mixed_float16``; the dtypes are also passed to every
    layer (and the model), so that ckptctl, which constructs it under the default policy,
    builds the same model.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(BATCH, *IMAGE)]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "mixed_float16")
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, activation="relu", dtype="mixed_float16")
        self.bn = keras.layers.BatchNormalization(dtype="mixed_float16")
        self.pool = keras.layers.GlobalAveragePooling2D(dtype="mixed_float16")
        self.fc1 = keras.layers.Dense(8, activation="relu", dtype="mixed_float16")
        self.out = keras.layers.Dense(CLASSES, dtype="float32")

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.pool(self.bn(self.conv(x), training=training))
        return self.out(self.fc1(h))


def loss_scale_adam() -> Any:
    """``MixedNet``'s optimizer: what ``compile(optimizer="adam")`` made of "adam" under
    ``mixed_float16``, a ``LossScaleOptimizer`` around Adam."""
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())

"""Small models covering the ways Keras code holds its variables, for ``ckptctl restore``.

Every model is tiny (a few hundred parameters) so a checkpoint is written in milliseconds.
Models with a class attribute ``ckptctl_input_shapes`` declare their input shapes through
ckptctl's documented hook; the others need ``input_shapes`` (``--input-shape``) or declare
``keras.Input``\\ s (functional models).

Written with ``tf.keras``, which is Keras 3 unless ``TF_USE_LEGACY_KERAS=1``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import tensorflow as tf

keras = tf.keras

FEATURES = 8
"""Input features of the float models here (``ckptctl_input_shapes = [(2, 8)]``)."""

VOCAB = 50
"""Vocabulary size of ``EmbeddingModel``: integer inputs must lie in ``[0, VOCAB)``."""


class Block(keras.layers.Layer):
    """A layer containing sub-layers: ``inner`` (Dense 6, ReLU) then ``outer`` (Dense 4)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(6, activation="relu")
        self.outer = keras.layers.Dense(4)

    def call(self, x: Any) -> Any:
        return self.outer(self.inner(x))


class NestedModel(keras.Model):
    """Nested layers: ``block`` (a ``Block``) then ``head`` (Dense 3). Declares ``(2, 8)``."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = Block()
        self.head = keras.layers.Dense(3)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.head(self.block(x))


class ListModel(keras.Model):
    """Layers held in a Python list ``stack`` (three Dense layers). Declares ``(2, 8)``.

    Keras 3 (3.15) wraps the list in a ``TrackedList``, which is not a TensorFlow trackable: a
    checkpoint reaches these layers' variables only through the optimizer
    (``optimizer/_trainable_variables/N``), never under ``model/``.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stack = [keras.layers.Dense(n, activation="relu") for n in (6, 5)]
        self.stack.append(keras.layers.Dense(3))

    def call(self, x: Any, training: bool = False) -> Any:
        for layer in self.stack:
            x = layer(x)
        return x


class ListNormModel(keras.Model):
    """Dense, BatchNormalization, Dense held in a Python list ``blocks``. Declares ``(2, 8)``.
    Their trainable variables reach a checkpoint through the optimizer only; the moving mean
    and variance (not trainable) reach it by no path at all, and come before a trainable
    variable of their shape (the last bias)."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = [
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(4),
        ]

    def call(self, x: Any, training: bool = False) -> Any:
        for layer in self.blocks:
            x = layer(x, training=training) if layer is self.blocks[1] else layer(x)
        return x


class DictModel(keras.Model):
    """Layers held in a dict ``branches`` (``left``, ``right``), summed. No declared shape."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.branches = {"left": keras.layers.Dense(3), "right": keras.layers.Dense(3)}

    def call(self, x: Any, training: bool = False) -> Any:
        return self.branches["left"](x) + self.branches["right"](x)


class Affine(keras.layers.Layer):
    """A custom layer: ``scale`` and ``shift`` weights made by ``add_weight`` in build()."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(
            name="scale", shape=(int(input_shape[-1]),), initializer="random_normal"
        )
        self.shift = self.add_weight(
            name="shift", shape=(int(input_shape[-1]),), initializer="random_normal"
        )

    def call(self, x: Any) -> Any:
        return x * self.scale + self.shift


class CustomWeightsModel(keras.Model):
    """``affine`` (an ``Affine``: weights from build()) then ``head`` (Dense 3). Declares (2, 8)."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.affine = Affine()
        self.head = keras.layers.Dense(3)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.head(self.affine(x))


class LayerNormModel(keras.Model):
    """Dense 6 -> ``LayerNormalization`` (gamma and beta) -> Dense 3. No declared shape."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6)
        self.norm = keras.layers.LayerNormalization()
        self.head = keras.layers.Dense(3)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.head(self.norm(self.dense(x)))


def make_functional() -> Any:
    """A functional model: ``keras.Input((8,))`` -> Dense 6 (ReLU) -> Dense 3.

    Its inputs are declared, so ckptctl needs no input shape (batch dimension None -> 2).
    """
    inputs = keras.Input(shape=(FEATURES,))
    hidden = keras.layers.Dense(6, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def make_sequential() -> Any:
    """A ``Sequential`` model: ``keras.Input((8,))`` -> Dense 6 (ReLU) -> Dense 3."""
    return keras.Sequential(
        [
            keras.Input(shape=(FEATURES,)),
            keras.layers.Dense(6, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


class TwoInputModel(keras.Model):
    """Two inputs, ``[(batch, 8), (batch, 3)]``, each through its own Dense, summed.

    Declares both shapes: ``ckptctl_input_shapes = [(2, 8), (2, 3)]``.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES), (2, 3)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.left = keras.layers.Dense(4)
        self.right = keras.layers.Dense(4)

    def call(self, inputs: Any, training: bool = False) -> Any:
        a, b = inputs
        return self.left(a) + self.right(b)


class DictOutputModel(keras.Model):
    """Returns a dict ``{"logits": (batch, 3), "features": (batch, 5)}``. No declared shape."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.features = keras.layers.Dense(5, activation="relu")
        self.logits = keras.layers.Dense(3)

    def call(self, x: Any, training: bool = False) -> Any:
        h = self.features(x)
        return {"logits": self.logits(h), "features": h}


class TupleOutputModel(keras.Model):
    """Returns a tuple ``(main (batch, 3), aux (batch, 2))``. Declares ``(2, 8)``."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.main = keras.layers.Dense(3)
        self.aux = keras.layers.Dense(2)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.main(x), self.aux(x)


class EmbeddingModel(keras.Model):
    """Integer token ids ``(batch, 5)`` in ``[0, 50)`` -> Embedding 4 -> mean -> Dense 3.

    Restore with ``input_dtype="int32"`` and ``input_range=(0, VOCAB)``: a float input or an id
    out of range does not work.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(VOCAB, 4)
        self.head = keras.layers.Dense(3)

    def call(self, ids: Any, training: bool = False) -> Any:
        return self.head(tf.reduce_mean(self.embed(ids), axis=1))


class MixedPrecisionModel(keras.Model):
    """Dense 6 computing in float16 (``dtype="mixed_float16"``) -> Dense 3 in float32.

    Variables stay float32 (the policy's variable dtype); the policy is set per layer, never
    globally. Declares ``(2, 8)``. Its optimizer: ``make_loss_scale_optimizer``.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(6, activation="relu", dtype="mixed_float16")
        self.head = keras.layers.Dense(3, dtype="float32")

    def call(self, x: Any, training: bool = False) -> Any:
        return self.head(self.hidden(x))


def make_loss_scale_optimizer() -> Any:
    """``LossScaleOptimizer(Adam())``: the optimizer mixed-precision training uses."""
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())


class MirroredModel(keras.Model):
    """Dense 6 (ReLU) -> Dense 3; trained under ``MirroredStrategy`` by ``tests.models.writers``.

    Declares ``(2, 8)``.
    """

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, FEATURES)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense1 = keras.layers.Dense(6, activation="relu")
        self.dense2 = keras.layers.Dense(3)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.dense2(self.dense1(x))


class SizedModel(keras.Model):
    """``sample_models.models.MyModel`` with the hidden width as a parameter ``units``.

    ``SizedModel(units=16)`` restores a ``MyModel`` checkpoint. ``units`` must be an int (a
    string from an unparsed ``--model-arg units=16`` raises ``TypeError``).
    """

    def __init__(self, units: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int):
            raise TypeError(f"units must be an int, got {type(units).__name__}")
        self.dense1 = keras.layers.Dense(units, activation="relu")
        self.dense2 = keras.layers.Dense(10)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.dense2(self.dense1(x))


def make_many_blocks() -> Any:
    """A functional model: ``keras.Input((20,))`` -> twelve parallel ``Dense(4)`` -> concatenated.

    Against a ``MyModel`` checkpoint all 24 block variables (``model._operations.N._kernel``
    [20, 4] and ``model._operations.N.bias`` [4], N = 1..12) are missing, which the table output
    folds. (Layers held in a Python list attribute of a subclassed Keras 3 model would not do:
    Keras 3 keeps them out of the checkpoint's object graph, see ``ListModel``.)
    """
    inputs = keras.Input(shape=(20,))
    blocks = [keras.layers.Dense(4)(inputs) for _ in range(12)]
    return keras.Model(inputs, keras.layers.Concatenate()(blocks))


def not_a_model() -> int:
    """A factory that returns 3: not something TensorFlow can checkpoint."""
    return 3


# Models in this list get a checkpoint written by ``tests.models.writers.write_zoo``:
# name -> (factory, input shapes used in training, input dtype).
TRAINED: dict[str, tuple[Any, list[tuple[int, ...]], str]] = {
    "nested": (NestedModel, [(2, FEATURES)], "float32"),
    "list": (ListModel, [(2, FEATURES)], "float32"),
    "list_norm": (ListNormModel, [(2, FEATURES)], "float32"),
    "dict": (DictModel, [(2, FEATURES)], "float32"),
    "custom_weights": (CustomWeightsModel, [(2, FEATURES)], "float32"),
    "layer_norm": (LayerNormModel, [(2, FEATURES)], "float32"),
    "functional": (make_functional, [(2, FEATURES)], "float32"),
    "two_inputs": (TwoInputModel, [(2, FEATURES), (2, 3)], "float32"),
    "dict_output": (DictOutputModel, [(2, FEATURES)], "float32"),
    "tuple_output": (TupleOutputModel, [(2, FEATURES)], "float32"),
    "embedding": (EmbeddingModel, [(2, 5)], "int32"),
}

"""Models whose object paths are long, as real ones are (`net.feature_extractor_backbone.
residual_stage_three_bottleneck.conv._kernel`), with a 4-D conv kernel and batch norms: what
pushes a table past 80 columns. For the terminal tests (`tests/cli/test_terminal.py`)."""

from __future__ import annotations

from typing import Any, ClassVar

import tensorflow as tf

keras = tf.keras


class Bottleneck(keras.layers.Layer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(64, 3, padding="same")
        self.bn1 = keras.layers.BatchNormalization()

    def call(self, x: Any, training: bool = False) -> Any:
        return tf.nn.relu(self.bn1(self.conv(x), training=training))


class Backbone(keras.layers.Layer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.residual_stage_three_bottleneck = Bottleneck()

    def call(self, x: Any, training: bool = False) -> Any:
        return self.residual_stage_three_bottleneck(x, training=training)


class LongNamesNet(keras.Model):
    """Subclassed, compiled and fitted: a nested backbone, a batch norm, a classification head."""

    ckptctl_input_shapes: ClassVar[list[tuple[int, ...]]] = [(2, 16, 16, 3)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_extractor_backbone = Backbone()
        self.bn1 = keras.layers.BatchNormalization()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.classification_head = keras.layers.Dense(10)

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.feature_extractor_backbone(x, training=training)
        return self.classification_head(self.pool(self.bn1(x, training=training)))


class RenamedHeadNet(LongNamesNet):
    """`LongNamesNet` whose head is now `head`: its values are unused, its variables missing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        del self.classification_head
        self.head = keras.layers.Dense(10)

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.feature_extractor_backbone(x, training=training)
        return self.head(self.pool(self.bn1(x, training=training)))


class RenamedBackboneNet(LongNamesNet):
    """`LongNamesNet` whose backbone is now `image_feature_extractor_backbone`: long paths on
    both sides of the unused and missing tables."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        del self.feature_extractor_backbone
        self.image_feature_extractor_backbone = Backbone()

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.image_feature_extractor_backbone(x, training=training)
        return self.classification_head(self.pool(self.bn1(x, training=training)))

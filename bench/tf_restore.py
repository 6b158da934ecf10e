"""The baseline for ``ckptctl restore PREFIX --model bench/models.py:Wide``: a bare restore.

Usage: ``python bench/tf_restore.py PREFIX``. What a careful user's own script does: build the
model, restore the checkpoint into it with ``tf.train.Checkpoint(model=...).read`` (it was
written with ``write``) and ``assert_consumed``, build and restore a second instance, feed both
the same input and check that their outputs are equal. Exit status 0 when they are.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import WIDE_FEATURES, Wide


def restored(prefix: str) -> tf.keras.Model:
    """A built ``Wide`` with the checkpoint at ``prefix`` restored into it."""
    model = Wide()
    model(np.zeros((1, WIDE_FEATURES), dtype=np.float32))
    tf.train.Checkpoint(model=model).read(prefix).assert_consumed()
    return model


def main(prefix: str) -> int:
    """Restore two instances and compare their outputs; 0 if equal."""
    x = np.random.default_rng(0).uniform(0, 10, (2, WIDE_FEATURES)).astype(np.float32)
    a = restored(prefix)(x).numpy()
    b = restored(prefix)(x).numpy()
    equal = bool(np.array_equal(a, b)) and bool(np.isfinite(a).all())
    print("outputs equal" if equal else "outputs differ")
    return 0 if equal else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tf_restore.py PREFIX")
    sys.exit(main(sys.argv[1]))

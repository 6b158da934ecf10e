"""The TensorFlow baseline for ``ckptctl inspect P --stats``.

Usage: ``python bench/tf_stats.py PREFIX``. Opens the checkpoint with
``tf.train.load_checkpoint``, reads every value whole with ``get_tensor`` and computes with numpy
what ``--stats`` reports: min, max, mean, std, NaN and Inf counts and the number of zeros. One
line per value on stdout. The object graph (a string value) is skipped.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def value_stats(x: np.ndarray) -> dict[str, float | int]:
    """Plain numpy reductions over all elements of ``x``."""
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean()),
        "std": float(x.std()),
        "nan": int(np.isnan(x).sum()),
        "inf": int(np.isinf(x).sum()),
        "zeros": int(x.size - np.count_nonzero(x)),
    }


def main(prefix: str) -> int:
    """Print the statistics of every numeric value in the checkpoint at ``prefix``."""
    reader = tf.train.load_checkpoint(prefix)
    for key in sorted(reader.get_variable_to_shape_map()):
        if key == OBJECT_GRAPH_KEY:
            continue
        x = np.asarray(reader.get_tensor(key))
        if x.size == 0 or x.dtype.kind not in "fiub":
            print(key, x.dtype, x.shape)
            continue
        print(key, x.dtype, x.shape, value_stats(x))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tf_stats.py PREFIX")
    sys.exit(main(sys.argv[1]))

"""The TensorFlow baseline for ``ckptctl diff A B``.

Usage: ``python bench/tf_diff.py PREFIX_A PREFIX_B``. Opens both checkpoints with
``tf.train.load_checkpoint``, lists the keys on one side only, and for every key on both sides
reads both values whole with ``get_tensor`` and computes whether they are equal (NaN equal to
NaN) and the largest absolute difference. One line per key on stdout; exit status 0 when the
checkpoints are equal, 1 when they differ (as ``ckptctl diff``).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf


def compare(a: np.ndarray, b: np.ndarray) -> tuple[bool, float | None]:
    """(equal, max |a - b|) of two values; the difference is ``None`` for non-numeric ones."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False, None
    if a.dtype.kind not in "fiuc" or a.size == 0:
        return bool(np.array_equal(a, b)), None
    equal = bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    with np.errstate(all="ignore"):
        return equal, float(np.nanmax(np.abs(a - b))) if not equal else 0.0


def main(prefix_a: str, prefix_b: str) -> int:
    """Compare the checkpoints at ``prefix_a`` and ``prefix_b``; 0 if equal, else 1."""
    ra = tf.train.load_checkpoint(prefix_a)
    rb = tf.train.load_checkpoint(prefix_b)
    keys_a = set(ra.get_variable_to_shape_map())
    keys_b = set(rb.get_variable_to_shape_map())
    differ = keys_a != keys_b
    for key in sorted(keys_a - keys_b):
        print("only in A:", key)
    for key in sorted(keys_b - keys_a):
        print("only in B:", key)
    for key in sorted(keys_a & keys_b):
        equal, max_abs = compare(np.asarray(ra.get_tensor(key)), np.asarray(rb.get_tensor(key)))
        differ |= not equal
        print(key, "equal" if equal else "differs", max_abs)
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tf_diff.py PREFIX_A PREFIX_B")
    sys.exit(main(sys.argv[1], sys.argv[2]))

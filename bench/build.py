"""Write one benchmark checkpoint with TensorFlow; ``bench/run.py`` calls it in a subprocess.

Usage: ``python bench/build.py KIND OUT_DIR [--elements N]``, where KIND is

- ``many``: a ``tf.train.Checkpoint(model=...)`` holding 5,000 small variables at object paths
  ``model.layer_{i // 50}.w_{i % 50}`` with mixed small shapes and dtypes;
- ``model``: shaped like a real model's training checkpoint: 1,666 small variables
  (``model.layer_{i // 50}.w_{i % 50}``), a Keras Adam optimizer built over them (two slots
  each, about 5,000 values in all) and one float32 ``model.embedding`` of N elements;
- ``tiny``: 100,000 float32 values of shape ``[4]`` (``model.layer_{i // 100}.w_{i % 100}``);
- ``tinypair``: that checkpoint twice, ``OUT_DIR/a/ckpt`` and ``OUT_DIR/b/ckpt``, where every
  value of B differs from A's (a ``diff`` that reports 100,000 changed values);
- ``h5``: a Keras ``.weights.h5`` (``OUT_DIR/model.weights.h5``) of a Sequential model of 50
  blocks, each a Sequential of 50 ``Dense(4)`` layers: 5,000 datasets;
- ``restore``: a Keras model of four ``Dense(8192)`` layers (``bench/models.py:Wide``, about
  1 GiB of weights) saved as ``tf.train.Checkpoint(model=...)`` to ``OUT_DIR/ckpt``;
- ``big``: one float32 ``weight`` of N elements (standard normal, fixed seed) plus a few small
  values (``bias``, ``step``), written twice: ``OUT_DIR/a/ckpt`` and ``OUT_DIR/b/ckpt``, where B
  equals A except that every 4,099th element of ``weight`` and one element of ``bias`` are
  nudged by 1e-3 (a checkpoint and "one more training step" for ``diff``).

Each checkpoint is written with ``Checkpoint.write`` to the prefix ``.../ckpt`` (no state file,
no save counter). A file ``OUT_DIR/done.json`` describing what was written (prefixes relative
to ``OUT_DIR``) is created last, so an interrupted build is detected and redone by ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

MANY_VARIABLES = 5000
MODEL_VARIABLES = 1666
TINY_VARIABLES = 100_000
H5_LAYERS = 2500
H5_BLOCK = 50
PER_LAYER = 50
SMALL_SHAPES: list[tuple[int, ...]] = [(16,), (4, 4), (32,), (2, 3, 4), (8, 2), ()]
NUDGE_EVERY = 4099
NUDGE = 1e-3
BIG_COLUMNS = 16384


def _write(root: tf.Module, prefix: Path) -> None:
    """Write ``root`` as the ``model`` child of a ``tf.train.Checkpoint`` at ``prefix``."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(model=root).write(str(prefix))


def build_many(out: Path) -> dict[str, object]:
    """Write the checkpoint of 5,000 small variables to ``out/ckpt``; describe it."""
    rng = np.random.default_rng(0)
    root = tf.Module(name="model")
    nbytes = 0
    for j in range(MANY_VARIABLES // PER_LAYER):
        layer = tf.Module(name=f"layer_{j}")
        for k in range(PER_LAYER):
            i = j * PER_LAYER + k
            shape = SMALL_SHAPES[i % len(SMALL_SHAPES)]
            value: np.ndarray
            if i % 10 == 9:
                value = rng.integers(0, 1000, size=shape, dtype=np.int64)
            else:
                value = rng.standard_normal(shape, dtype=np.float32)
            nbytes += value.nbytes
            setattr(layer, f"w_{k}", tf.Variable(value, name=f"w_{k}"))
        setattr(root, f"layer_{j}", layer)
    _write(root, out / "ckpt")
    return {"kind": "many", "prefix": "ckpt", "values": MANY_VARIABLES, "bytes": nbytes}


def _small_variables(count: int, per_layer: int, root: tf.Module) -> tuple[list[tf.Variable], int]:
    """``count`` float32 variables of the small shapes, hung under ``root`` in layers of
    ``per_layer``; the variables and their total bytes."""
    rng = np.random.default_rng(0)
    made: list[tf.Variable] = []
    nbytes = 0
    for j in range(-(-count // per_layer)):
        layer = tf.Module(name=f"layer_{j}")
        for k in range(min(per_layer, count - j * per_layer)):
            shape = SMALL_SHAPES[len(made) % len(SMALL_SHAPES)]
            value = rng.standard_normal(shape, dtype=np.float32)
            nbytes += value.nbytes
            var = tf.Variable(value, name=f"w_{k}")
            setattr(layer, f"w_{k}", var)
            made.append(var)
        setattr(root, f"layer_{j}", layer)
    return made, nbytes


def build_model(out: Path, elements: int) -> dict[str, object]:
    """Write the model-shaped checkpoint (small variables, Adam slots, one embedding)."""
    import keras

    if elements % BIG_COLUMNS:
        raise SystemExit(f"--elements must be a multiple of {BIG_COLUMNS}")
    root = tf.Module(name="model")
    small, nbytes = _small_variables(MODEL_VARIABLES, PER_LAYER, root)
    root.embedding = tf.Variable(
        tf.random.stateless_normal([elements // BIG_COLUMNS, BIG_COLUMNS], seed=[1, 2]),
        name="embedding",
    )
    optimizer = keras.optimizers.Adam()
    optimizer.build(small)
    prefix = out / "ckpt"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(model=root, optimizer=optimizer).write(str(prefix))
    values = len(small) + 1 + len(optimizer.variables)
    nbytes = 3 * nbytes + 4 * elements + sum(4 for v in optimizer.variables if v.shape == ())
    return {
        "kind": "model",
        "prefix": "ckpt",
        "elements": elements,
        "values": values,
        "bytes": nbytes,
    }


def _tiny_model(offset: float = 0.0) -> tf.Module:
    root = tf.Module(name="model")
    for j in range(TINY_VARIABLES // 100):
        layer = tf.Module(name=f"layer_{j}")
        for k in range(100):
            value = tf.fill([4], float(k) + offset)
            setattr(layer, f"w_{k}", tf.Variable(value, name=f"w_{k}"))
        setattr(root, f"layer_{j}", layer)
    return root


def build_tiny(out: Path) -> dict[str, object]:
    """Write 100,000 values of shape [4] to ``out/ckpt``."""
    _write(_tiny_model(), out / "ckpt")
    return {
        "kind": "tiny",
        "prefix": "ckpt",
        "values": TINY_VARIABLES,
        "bytes": 16 * TINY_VARIABLES,
    }


def build_h5(out: Path) -> dict[str, object]:
    """Write a ``.weights.h5`` of 2,500 Dense layers (5,000 datasets) in 50 blocks."""
    import keras

    blocks = [
        keras.Sequential([keras.layers.Dense(4) for _ in range(H5_BLOCK)], name=f"block_{i}")
        for i in range(H5_LAYERS // H5_BLOCK)
    ]
    model = keras.Sequential([keras.Input((4,)), *blocks])
    path = out / "model.weights.h5"
    model.save_weights(str(path))
    return {
        "kind": "h5",
        "prefix": path.name,
        "values": 2 * H5_LAYERS,
        "bytes": H5_LAYERS * (16 + 4) * 4,
    }


def build_restore(out: Path) -> dict[str, object]:
    """Write the checkpoint of ``bench/models.py:Wide`` (about 1 GiB) to ``out/ckpt``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from models import WIDE_FEATURES, Wide

    tf.keras.utils.set_random_seed(0)
    model = Wide()
    model(np.zeros((1, WIDE_FEATURES), dtype=np.float32))
    _write_model = tf.train.Checkpoint(model=model)
    prefix = out / "ckpt"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    _write_model.write(str(prefix))
    nbytes = sum(int(np.prod(v.shape)) * 4 for v in model.weights)
    return {"kind": "restore", "prefix": "ckpt", "values": len(model.weights), "bytes": nbytes}


def build_big(out: Path, elements: int) -> dict[str, object]:
    """Write the big checkpoint pair (``out/a/ckpt``, ``out/b/ckpt``); describe them.

    The weight is drawn once in numpy (float32, so peak memory is about three copies of it:
    the array, the tensor made from it and the variable) and nudged in place for B.
    """
    if elements % BIG_COLUMNS:
        raise SystemExit(f"--elements must be a multiple of {BIG_COLUMNS}")
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(elements, dtype=np.float32).reshape(-1, BIG_COLUMNS)
    bias = rng.standard_normal(BIG_COLUMNS, dtype=np.float32)
    root = tf.Module(name="model")
    root.weight = tf.Variable(weight, name="weight")
    root.bias = tf.Variable(bias, name="bias")
    root.step = tf.Variable(np.int64(1000), name="step")
    _write(root, out / "a" / "ckpt")

    flat = weight.reshape(-1)
    flat[::NUDGE_EVERY] += np.float32(NUDGE)
    bias[0] += np.float32(NUDGE)
    root.weight.assign(weight)
    root.bias.assign(bias)
    root.step.assign(1001)
    _write(root, out / "b" / "ckpt")
    nbytes = weight.nbytes + bias.nbytes + 8
    return {
        "kind": "big",
        "elements": elements,
        "prefix_a": "a/ckpt",
        "prefix_b": "b/ckpt",
        "values": 3,
        "bytes": nbytes,
    }


def build_tiny_pair(out: Path) -> dict[str, object]:
    """Write 100,000 values of shape [4] to ``out/a/ckpt``, and each plus 0.5 to ``out/b/ckpt``."""
    _write(_tiny_model(), out / "a" / "ckpt")
    _write(_tiny_model(0.5), out / "b" / "ckpt")
    return {
        "kind": "tinypair",
        "prefix_a": "a/ckpt",
        "prefix_b": "b/ckpt",
        "values": TINY_VARIABLES,
        "bytes": 16 * TINY_VARIABLES,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build the requested checkpoint(s), write ``done.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "kind", choices=["many", "model", "tiny", "tinypair", "h5", "restore", "big"]
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--elements", type=int, default=64 << 20)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    builders = {
        "many": lambda: build_many(out),
        "model": lambda: build_model(out, args.elements),
        "tiny": lambda: build_tiny(out),
        "tinypair": lambda: build_tiny_pair(out),
        "h5": lambda: build_h5(out),
        "restore": lambda: build_restore(out),
        "big": lambda: build_big(out, args.elements),
    }
    info = builders[args.kind]()
    info["tensorflow"] = tf.__version__
    (out / "done.json").write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

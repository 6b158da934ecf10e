"""Builders of real TensorFlow checkpoints for the test suite, and helpers that break copies.

Every builder writes into a directory it is given and returns a `Path`. TensorFlow is imported
inside the functions, so importing this module stays cheap.

The breakage helpers change the checkpoint they are given in place: call them on a copy made by
`copy_checkpoint_dir` (or the `broken_copy` fixture), never on a session fixture. Each docstring
records what TensorFlow 2.21 itself says when the broken checkpoint is read.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EXTERNAL_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures" / "external"
"""Real SavedModel exports written by other TensorFlow versions (see NOTICE.md there), kept
outside the repository: present in CI, absent in a fresh clone."""

EXTERNAL_SAVED_MODELS = ["saved_model_half_plus_two_cpu", "saved_model_half_plus_two_tf2_cpu"]
"""The SavedModels `EXTERNAL_FIXTURES` holds, each with one version, `00000123`."""


def external_fixtures_required() -> bool:
    """In CI (`CI=true`, as GitHub Actions and GitLab set it) the external fixtures must be
    there: their tests fail instead of being skipped."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_without_external_fixtures() -> None:
    """Skip the calling test when `EXTERNAL_FIXTURES` is absent; fail instead in CI."""
    import pytest

    if EXTERNAL_FIXTURES.is_dir():
        return
    message = f"external fixtures not present ({EXTERNAL_FIXTURES})"
    if external_fixtures_required():
        pytest.fail(f"{message}, and CI requires them")
    pytest.skip(message)


VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
"""What an object-based checkpoint appends to a variable's object path to form its key."""

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
"""The key of the serialized object graph; name-based checkpoints do not have it."""

NAME_BASED_VALUES: dict[str, Any] = {
    "dense/kernel": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
    "dense/bias": [1.0, 2.0, 3.0],
    "global_step": 7,
}
"""Values written by `write_name_based`, by checkpoint key."""

NAME_BASED_EXPECTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "dense/kernel": ("float32", (2, 3)),
    "dense/bias": ("float32", (3,)),
    "global_step": ("int64", ()),
}
"""Checkpoint key -> (dtype name, shape) of every entry `write_name_based` writes."""

SHARDED_NUM_ELEMENTS = 1024
"""Elements of each float32 variable (`a`..`d`) in the sharded checkpoint: 4 KiB each."""

SHARDED_MAX_SHARD_SIZE = SHARDED_NUM_ELEMENTS * 4
"""Bytes per data shard asked of `MaxShardSizePolicy`: exactly one whole variable per shard.

A smaller size makes the policy cut variables into slices spread over several shards.
"""

SAVED_MODEL_EXPECTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "w": ("float32", (3, 2)),
    "b": ("float32", (2,)),
}
"""Attribute name -> (dtype name, shape) of the variables of `write_saved_model`'s module."""

# Every dtype here round-trips through a tf.Variable and Checkpoint.write on TF 2.21, including
# uint16/uint32/uint64, which sit beside the other integers. `resource` and `variant` cannot be
# the value of a plain tf.Variable (casting to them raises UnimplementedError), so they are absent.
# The quantized dtypes (qint8, ...) also round-trip but are not included.
ALL_DTYPES_VALUES: dict[str, Any] = {
    "bfloat16": [1.5, -2.0, 0.25],
    "float16": [0.5, -1.25, 65504.0],
    "float32": [1.0, -2.5, 3.25, 1e-3],
    "float64": [1.0 / 3.0, -2.0, 1e300],
    "int8": [-128, 0, 127],
    "uint8": [0, 1, 255],
    "int16": [-32768, 0, 32767],
    "uint16": [0, 1, 65535],
    "int32": [-(2**31), 0, 2**31 - 1],
    "uint32": [0, 1, 2**32 - 1],
    "int64": [-(2**63), 0, 2**63 - 1],
    "uint64": [0, 1, 2**64 - 1],
    "bool": [True, False, True],
    "complex64": [1 + 2j, complex(0, -3.5)],
    "complex128": [0.25 - 1j, 2 + 0j, -1e-300 + 1e300j],
    "string": [b"alpha", b"", b"\x00\xff bytes"],
    "empty": [],
    "scalar": 3.5,
    "matrix": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
}
"""Attribute name -> value of every variable `write_all_dtypes` writes."""

ALL_DTYPES_EXPECTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "bfloat16": ("bfloat16", (3,)),
    "float16": ("float16", (3,)),
    "float32": ("float32", (4,)),
    "float64": ("float64", (3,)),
    "int8": ("int8", (3,)),
    "uint8": ("uint8", (3,)),
    "int16": ("int16", (3,)),
    "uint16": ("uint16", (3,)),
    "int32": ("int32", (3,)),
    "uint32": ("uint32", (3,)),
    "int64": ("int64", (3,)),
    "uint64": ("uint64", (3,)),
    "bool": ("bool", (3,)),
    "complex64": ("complex64", (2,)),
    "complex128": ("complex128", (3,)),
    "string": ("string", (3,)),
    "empty": ("float32", (0, 3)),
    "scalar": ("float32", ()),
    "matrix": ("float32", (2, 3)),
}
"""Attribute name -> (dtype name as in `tf.DType.name`, shape) of `write_all_dtypes`'s variables."""


def write_name_based(dirpath: Path) -> Path:
    """Write a TF1 name-based checkpoint with `tf.compat.v1.train.Saver`; return its prefix.

    Keys are plain variable names (`dense/kernel`, `dense/bias`, `global_step`, see
    `NAME_BASED_EXPECTED`), with no `_CHECKPOINTABLE_OBJECT_GRAPH` entry. The Saver also writes
    `model.ckpt.meta` (the MetaGraphDef) and a `checkpoint` state file; its paths are relative
    (`save_relative_paths=True`), so a copied directory stays self-contained.
    """
    import tensorflow as tf

    dirpath.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default():
        variables = [
            tf.compat.v1.get_variable(name, initializer=tf.constant(value, dtype=dtype))
            for (name, value), (dtype, _shape) in zip(
                NAME_BASED_VALUES.items(), NAME_BASED_EXPECTED.values(), strict=True
            )
        ]
        saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(sess, str(dirpath / "model.ckpt"))
    return Path(prefix)


def write_sharded(dirpath: Path) -> Path:
    """Write an object-based checkpoint split into several data shards; return its prefix.

    Four float32 variables `a`..`d` of `SHARDED_NUM_ELEMENTS` elements each (4 KiB) are saved
    with `MaxShardSizePolicy(SHARDED_MAX_SHARD_SIZE)`, which puts them in separate
    `.data-0000K-of-0000N` files.
    """
    import numpy as np
    import tensorflow as tf

    dirpath.mkdir(parents=True, exist_ok=True)
    variables = {
        name: tf.Variable(
            np.arange(SHARDED_NUM_ELEMENTS, dtype=np.float32) + 10_000.0 * i, name=name
        )
        for i, name in enumerate("abcd")
    }
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=SHARDED_MAX_SHARD_SIZE)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    prefix = Path(tf.train.Checkpoint(**variables).write(str(dirpath / "sharded"), options=options))
    shards = data_shards(prefix)
    assert len(shards) >= 2, f"expected several data shards, got {shards}"
    return prefix


def write_saved_model(dirpath: Path) -> Path:
    """Write a SavedModel of a `tf.Module` with variables `w` (3, 2) and `b` (2,); return its dir.

    The module has a `tf.function` `__call__(x)` with input signature float32 `(None, 3)`
    returning `x @ w + b`, exported as the `serving_default` signature too. The directory holds
    `saved_model.pb`, `fingerprint.pb` and `variables/variables.{index,data-00000-of-00001}`.
    """
    import tensorflow as tf

    module = tf.Module()
    module.w = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], name="w")
    module.b = tf.Variable([0.5, -0.5], name="b")

    def affine(x: Any) -> Any:
        return tf.matmul(x, module.w) + module.b

    spec = tf.TensorSpec([None, 3], tf.float32)
    module.__call__ = tf.function(affine, input_signature=[spec])
    export_dir = dirpath / "saved_model"
    tf.saved_model.save(module, str(export_dir))
    return export_dir


def write_all_dtypes(dirpath: Path) -> Path:
    """Write a checkpoint holding one variable per dtype (`ALL_DTYPES_EXPECTED`); return its prefix.

    Each variable is an attribute named after its dtype, plus `empty` (float32 (0, 3)), `scalar`
    (float32 3.5) and `matrix` (float32 (2, 3)); values are `ALL_DTYPES_VALUES`.
    """
    import tensorflow as tf

    dirpath.mkdir(parents=True, exist_ok=True)
    variables = {}
    for name, (dtype, shape) in ALL_DTYPES_EXPECTED.items():
        value = tf.constant(ALL_DTYPES_VALUES[name], dtype=dtype, shape=shape)
        variables[name] = tf.Variable(value, name=name)
    return Path(tf.train.Checkpoint(**variables).write(str(dirpath / "dtypes")))


def write_keras2_checkpoint(dirpath: Path, steps: int = 2) -> Path:
    """Train `sample_models`' `my_model` under Keras 2 (tf-keras); return its checkpoint dir.

    Runs `python -m sample_models.train --out DIRPATH --steps STEPS --only my_model` in a
    subprocess with `TF_USE_LEGACY_KERAS=1`, because the Keras version is fixed per process. The
    returned `DIRPATH/my_model` is a `CheckpointManager` directory (`checkpoint`, `ckpt-1`..).
    """
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "sample_models.train",
        "--out",
        str(dirpath),
        "--steps",
        str(steps),
        "--only",
        "my_model",
    ]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return dirpath / "my_model"


def index_file(prefix: Path) -> Path:
    """Return the `.index` file of a checkpoint prefix."""
    return prefix.with_name(prefix.name + ".index")


def data_shards(prefix: Path) -> list[Path]:
    """Return the `.data-K-of-N` files of a checkpoint prefix, in shard order."""
    return sorted(prefix.parent.glob(prefix.name + ".data-*-of-*"))


def copy_checkpoint_dir(src_dir: Path, dst_dir: Path) -> Path:
    """Copy a checkpoint directory to `dst_dir` (absent or empty) and return `dst_dir`.

    Absolute paths into `src_dir` in a `checkpoint` state file are made relative, so the copy's
    state file names the copy's checkpoints and never the source's.
    """
    if dst_dir.exists() and any(dst_dir.iterdir()):
        raise FileExistsError(f"{dst_dir} is not empty")
    shutil.copytree(src_dir, dst_dir, dirs_exist_ok=True)
    state_file = dst_dir / "checkpoint"
    if state_file.is_file():
        text = state_file.read_text()
        for directory in {str(src_dir), str(src_dir.resolve())}:
            text = text.replace(f'"{directory}{os.sep}', '"')
        state_file.write_text(text)
    return dst_dir


def truncate_index(prefix: Path) -> None:
    """Cut the prefix's `.index` file to half its size.

    TensorFlow 2.21: `tf.train.load_checkpoint(prefix)`, `tf.train.list_variables(prefix)` and
    `tf.train.Checkpoint(...).read(prefix)` raise `tf.errors.OpError` (the base class, error code
    UNKNOWN) with the whole message `not an sstable (bad magic number)`.
    """
    _truncate_half(index_file(prefix))


def garbage_index(prefix: Path) -> None:
    """Overwrite the prefix's `.index` file with seeded random bytes of the same length.

    TensorFlow 2.21: as for `truncate_index`, `tf.errors.OpError` with the message
    `not an sstable (bad magic number)` from `load_checkpoint`, `list_variables` and `read`.
    """
    path = index_file(prefix)
    path.write_bytes(random.Random(0).randbytes(path.stat().st_size))


def truncate_data(prefix: Path) -> None:
    """Cut the prefix's first data shard to half its size.

    TensorFlow 2.21: `list_variables` and `load_checkpoint` still work (they read only the
    index). `reader.get_tensor(key)` raises the builtin `IndexError: Read less bytes than
    requested` for every entry whose bytes lay past the cut; `Checkpoint.read` raises
    `tf.errors.OutOfRangeError: {{function_node __wrapped__RestoreV2_...}} Read less bytes than
    requested [Op:RestoreV2]`. Which entries fail depends on the layout: in a name-based
    checkpoint `dense/kernel` and `global_step`; in a single-shard object-based checkpoint
    usually only `_CHECKPOINTABLE_OBJECT_GRAPH`, which is written last.
    """
    _truncate_half(data_shards(prefix)[0])


def flip_data_byte(prefix: Path) -> None:
    """XOR with 0xFF the middle byte of one numeric tensor's bytes in the first data shard.

    The tensor is the first non-empty numeric entry in key order whose raw bytes occur exactly
    once in that shard (`dense/kernel` of `write_name_based`, `a` of `write_sharded`, `bfloat16`
    of `write_all_dtypes`, `b` of `write_saved_model`). TensorFlow 2.21: listing works;
    `reader.get_tensor(key)` raises `tf.errors.OpError: TensorBundle at PREFIX shard 0 (N bytes):
    Checksum does not match: stored S vs. calculated on the restored bytes C`, and
    `Checkpoint.read` raises `tf.errors.DataLossError` with the same text inside
    `{{function_node ...}} ... [Op:RestoreV2]`.
    """
    import tensorflow as tf

    shard = data_shards(prefix)[0]
    data = bytearray(shard.read_bytes())
    reader = tf.train.load_checkpoint(str(prefix))
    for key, dtype in sorted(reader.get_variable_to_dtype_map().items()):
        if dtype == tf.string:
            continue
        raw = reader.get_tensor(key).tobytes()
        if raw and data.count(raw) == 1:
            data[data.find(raw) + len(raw) // 2] ^= 0xFF
            shard.write_bytes(bytes(data))
            return
    raise ValueError(f"no numeric tensor of {prefix} found in {shard}")


def delete_data_shard(prefix: Path) -> None:
    """Delete the prefix's first data shard (`.data-00000-of-0000N`).

    TensorFlow 2.21: listing works; `reader.get_tensor(key)` raises `tf.errors.OpError:
    PREFIX.data-00000-of-0000N; No such file or directory` for every entry in that shard, and
    `Checkpoint.read` raises `tf.errors.NotFoundError` with the same text inside
    `{{function_node ...}} ... [Op:RestoreV2]`.
    """
    data_shards(prefix)[0].unlink()


def state_file_names_deleted_prefix(dirpath: Path) -> None:
    """Delete the files of the checkpoint that the `checkpoint` state file names as latest.

    The state file and the older checkpoints stay. TensorFlow 2.21 logs `ERROR:tensorflow:
    Couldn't match files for checkpoint DIRPATH/ckpt-N` on stderr, then
    `tf.train.latest_checkpoint(dirpath)` returns None and `tf.train.load_checkpoint(dirpath)`
    and `tf.train.list_variables(dirpath)` raise `ValueError: Couldn't find 'checkpoint' file or
    checkpoints in given directory DIRPATH`. Loading the deleted prefix itself raises
    `tf.errors.NotFoundError: Unsuccessful TensorSliceReader constructor: Failed to find any
    matching files for DIRPATH/ckpt-N`.
    """
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(dirpath))
    if state is None or not state.model_checkpoint_path:
        raise ValueError(f"{dirpath} has no checkpoint state file naming a latest checkpoint")
    latest = Path(state.model_checkpoint_path)
    if not latest.is_absolute():
        latest = dirpath / latest
    if latest.resolve().parent != dirpath.resolve():
        raise ValueError(f"the state file in {dirpath} names {latest}, outside that directory")
    for path in [index_file(latest), *data_shards(latest)]:
        path.unlink()


def _truncate_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _run_writer(what: str, dirpath: Path, legacy_keras: bool = False) -> str:
    """Run `python -m tests.models.writers WHAT DIRPATH` in a fresh process; return its stdout."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    command = [sys.executable, "-m", "tests.models.writers", what, str(dirpath)]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result.stdout


def write_mirrored_checkpoint(dirpath: Path) -> Path:
    """Train `tests.models.zoo.MirroredModel` under `MirroredStrategy` over two logical CPUs.

    Runs `tests.models.writers.write_mirrored` in a subprocess, because logical devices must be
    configured before TensorFlow initialises its devices. Returns the checkpoint directory
    (`checkpoint` state file and `ckpt-1`, model and Adam optimizer).
    """
    _run_writer("mirrored", dirpath)
    return dirpath


def write_keras2_save_weights(dirpath: Path) -> Path:
    """`Model.save_weights` under tf-keras of `MyModel` and `tests.models.zoo.make_sequential`.

    Runs `tests.models.writers.write_keras2_save_weights` in a subprocess with
    `TF_USE_LEGACY_KERAS=1`. Returns DIRPATH, holding `subclassed/weights` and
    `sequential/weights` (checkpoints whose root object is the model; no `save_counter`).
    """
    _run_writer("save_weights", dirpath, legacy_keras=True)
    return dirpath


def tree_digest(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `directory` (to prove nothing was written)."""
    import hashlib

    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def write_long_names(dirpath: Path) -> dict[str, Path]:
    """`tests.models.wide.LongNamesNet` compiled with Adam and fitted one epoch, then saved as
    `Checkpoint(net=model)` (`trained/ckpt-1`), fitted again (`trained/ckpt-2`); and a copy of
    the second with one NaN and one Inf in `net.bn1.moving_variance` (`nonfinite/ckpt-1`)."""
    import numpy as np
    import tensorflow as tf

    from tests.models.wide import LongNamesNet

    tf.keras.utils.set_random_seed(0)
    model = LongNamesNet()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.random((8, 16, 16, 3), dtype=np.float32)
    y = rng.random((8, 10), dtype=np.float32)
    ckpt = tf.train.Checkpoint(net=model)
    model.fit(x, y, epochs=1, verbose=0)
    first = Path(ckpt.save(str(dirpath / "trained" / "ckpt")))
    model.fit(x, y, epochs=1, verbose=0)
    second = Path(ckpt.save(str(dirpath / "trained" / "ckpt")))
    variance = model.bn1.moving_variance
    values = variance.numpy()
    values[3], values[5] = np.nan, np.inf
    variance.assign(values)
    nonfinite = Path(ckpt.write(str(dirpath / "nonfinite" / "ckpt-1")))
    return {"first": first, "second": second, "nonfinite": nonfinite}


def h5_listing(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every dataset of an HDF5 file, as h5py lists it: key -> (shape, dtype)."""
    import h5py

    out: dict[str, tuple[tuple[int, ...], str]] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            out[name] = (tuple(obj.shape), str(obj.dtype))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out

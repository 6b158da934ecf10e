"""One wording for a file that is missing, cut short or damaged, whatever its format and
whichever reader reads it: `FILE: missing (...)`, `FILE: truncated (N of M bytes)`,
`FILE: corrupt (...)`, then what to do; exit 3, no traceback. Run through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from ckptctl.errors import COPY_CHECKPOINT_AGAIN, COPY_MISSING_SHARDS, SAVE_WEIGHTS_AGAIN

VALUE = np.arange(1000, dtype=np.float32)
KEY = "v/.ATTRIBUTES/VARIABLE_VALUE"


def stderr_of(*args: str | Path, code: int = 3) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result.stderr


def error(message: str, hint: str) -> str:
    return f"error: {message}\n  {hint}\n"


def bundle(directory: Path) -> tuple[Path, Path]:
    """A checkpoint of one value (and its object graph), and its one data shard."""
    import tensorflow as tf

    prefix = tf.train.Checkpoint(v=tf.Variable(VALUE)).write(str(directory / "ckpt"))
    return Path(prefix), Path(f"{prefix}.data-00000-of-00001")


# Every command that reads values, through both readers: the same message.
COMMANDS = [("diff", "native"), ("diff", "tf"), ("inspect", "native"), ("inspect", "tf")]


def run_bundle(command: str, backend: str, prefix: Path) -> str:
    if command == "diff":
        return stderr_of("diff", prefix, prefix, "--backend", backend)
    return stderr_of("inspect", prefix, "--stats", "--backend", backend)


@pytest.mark.parametrize(("command", "backend"), COMMANDS)
def test_bundle_missing_shard(tmp_path: Path, command: str, backend: str) -> None:
    prefix, shard = bundle(tmp_path)
    shard.unlink()
    assert run_bundle(command, backend, prefix) == error(
        f"{shard}: missing (the index lists 2 values stored in it)", COPY_MISSING_SHARDS
    )


@pytest.mark.parametrize(("command", "backend"), COMMANDS)
def test_bundle_truncated_shard(tmp_path: Path, command: str, backend: str) -> None:
    """Both values lie past the cut; the first by key is named, with the bytes the file has
    and the bytes its index says it needs."""
    prefix, shard = bundle(tmp_path)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    assert run_bundle(command, backend, prefix) == error(
        f"{shard}: truncated ({len(data) // 2:,} of {len(data):,} bytes); "
        "value _CHECKPOINTABLE_OBJECT_GRAPH ends past the end",
        COPY_CHECKPOINT_AGAIN,
    )


@pytest.mark.parametrize(("command", "backend"), COMMANDS)
def test_bundle_flipped_byte(tmp_path: Path, command: str, backend: str) -> None:
    prefix, shard = bundle(tmp_path)
    data = bytearray(shard.read_bytes())
    data[data.find(VALUE.tobytes()) + 2000] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert run_bundle(command, backend, prefix) == error(
        f"{shard}: corrupt (value {KEY} fails its checksum)", COPY_CHECKPOINT_AGAIN
    )


@pytest.mark.parametrize("backend", ["native", "tf"])
def test_bundle_truncated_index(tmp_path: Path, backend: str) -> None:
    """An index cut short has lost its footer, so nothing says how long it was: corrupt."""
    prefix, _ = bundle(tmp_path)
    index = Path(f"{prefix}.index")
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    assert stderr_of("inspect", prefix, "--backend", backend) == error(
        f"{index}: corrupt (not a readable checkpoint index: not an sstable (bad magic number))",
        COPY_CHECKPOINT_AGAIN,
    )


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tensorflow as tf

    d = tmp_path_factory.mktemp("keras_errors")
    keras = tf.keras
    m = keras.Sequential([keras.Input((5, 5, 8)), keras.layers.Conv2D(4, 1)])
    m.save_weights(str(d / "m.weights.h5"))
    m.save(str(d / "m.h5"))
    return {"weights-h5": d / "m.weights.h5", "legacy-h5": d / "m.h5"}


@pytest.mark.parametrize("name", ["weights-h5", "legacy-h5"])
def test_keras_file_truncated(keras_files: dict[str, Path], tmp_path: Path, name: str) -> None:
    """HDF5 records the size a file should have: a truncated one says both."""
    source = keras_files[name]
    cut = tmp_path / source.name
    data = source.read_bytes()
    cut.write_bytes(data[:3000])
    assert stderr_of("inspect", cut) == error(
        f"{cut}: truncated (3,000 of {len(data):,} bytes)", SAVE_WEIGHTS_AGAIN
    )


@pytest.mark.parametrize(
    ("name", "which"),
    [("weights-h5", "a Keras weights file"), ("legacy-h5", "a Keras 2 weights file")],
)
def test_keras_file_not_hdf5(
    keras_files: dict[str, Path], tmp_path: Path, name: str, which: str
) -> None:
    bad = tmp_path / keras_files[name].name
    bad.write_bytes(b"not an HDF5 file at all" * 10)
    assert stderr_of("inspect", bad) == error(
        f"{bad}: corrupt (not an HDF5 file, which {which} is)", SAVE_WEIGHTS_AGAIN
    )


def test_keras_file_damaged_inside(keras_files: dict[str, Path], tmp_path: Path) -> None:
    """The HDF5 signature is there, its superblock is zeros: corrupt, with h5py's reason."""
    source = keras_files["weights-h5"]
    bad = tmp_path / source.name
    data = source.read_bytes()
    bad.write_bytes(data[:8] + bytes(len(data) - 8))
    assert stderr_of("inspect", bad) == error(
        f"{bad}: corrupt (not a readable HDF5 file: Unable to synchronously open file "
        "(bad byte number in an address))",
        SAVE_WEIGHTS_AGAIN,
    )


def test_keras_sharded_file_missing_shard(tmp_path: Path) -> None:
    import tensorflow as tf

    keras = tf.keras
    m = keras.Sequential([keras.Input((50,)), keras.layers.Dense(40), keras.layers.Dense(30)])
    index = tmp_path / "m.weights.json"
    m.save_weights(str(index), max_shard_size=0.00001)
    shards = sorted(tmp_path.glob("m_*.weights.h5"))
    assert len(shards) > 1
    shards[-1].unlink()
    assert stderr_of("inspect", index, "--stats") == error(
        f"{shards[-1]}: missing (a shard m.weights.json names)",
        "copy every shard the .weights.json names beside it",
    )


def test_tf1_v1_file_truncated(tmp_path: Path) -> None:
    """A V1 checkpoint is one table whose footer ends it: cut short, nothing says what it was
    (TensorFlow's reader cannot tell either)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        tf1.get_variable("w", initializer=tf.constant(VALUE))
        saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V1, save_relative_paths=True)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            path = Path(saver.save(sess, str(tmp_path / "model.ckpt"), write_state=False))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert stderr_of("inspect", path) == error(
        f"{path}: not a checkpoint file",
        "pass a checkpoint directory, a prefix (DIR/ckpt-3), its .index or .data-* file, a "
        "SavedModel directory, or a Keras .weights.h5, .weights.json or .keras file",
    )
    # Its end still there but a record damaged: corrupt, with what is wrong.
    damaged = bytearray(data)
    damaged[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    message = stderr_of("inspect", path, "--stats")
    assert message.startswith(f"error: {path}: corrupt ("), message
    assert message.endswith(
        "\n  the file is truncated or damaged: copy it again from where it was written\n"
    ), message


@pytest.mark.parametrize("how", [[], ["--partial"]])
def test_restore_of_a_flipped_byte_names_the_value(
    samples_dir: Path, tmp_path: Path, how: list[str]
) -> None:
    """Through TensorFlow's restore (the default) or ckptctl's own assignment (--partial): the
    damaged value and its shard are named, exit 3, and no model is handed back."""
    from ckptctl.errors import CheckpointError
    from ckptctl.restoration import restore_into
    from tests.checkpoints import copy_checkpoint_dir, data_shards, flip_data_byte

    copy = copy_checkpoint_dir(samples_dir / "my_model", tmp_path / "my_model")
    prefix = copy / "ckpt-3"
    flip_data_byte(prefix)
    (shard,) = data_shards(prefix)
    model = ["--model", "sample_models.models:MyModel", "--input-shape", "4,20"]
    stderr = stderr_of("restore", prefix, *model, *how)
    first, hint = stderr.splitlines()
    assert first.startswith(f"error: {shard}: corrupt (value model/"), stderr
    assert first.endswith("fails its checksum)") and hint == f"  {COPY_CHECKPOINT_AGAIN}"
    with pytest.raises(CheckpointError, match="fails its checksum"):
        restore_into(str(prefix), "sample_models.models:MyModel", input_shapes=[(4, 20)])

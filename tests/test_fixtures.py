"""The checkpoint builders and breakage helpers of `tests.checkpoints` do what they claim."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.checkpoints import (
    ALL_DTYPES_EXPECTED,
    ALL_DTYPES_VALUES,
    NAME_BASED_EXPECTED,
    NAME_BASED_VALUES,
    OBJECT_GRAPH_KEY,
    SAVED_MODEL_EXPECTED,
    SHARDED_NUM_ELEMENTS,
    VARIABLE_SUFFIX,
    copy_checkpoint_dir,
    data_shards,
    delete_data_shard,
    flip_data_byte,
    garbage_index,
    index_file,
    state_file_names_deleted_prefix,
    truncate_data,
    truncate_index,
)

Entries = dict[str, tuple[str, tuple[int, ...]]]


def entries(prefix: Path) -> Entries:
    """Key -> (dtype name, shape) of every entry TensorFlow lists in a checkpoint."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    shapes = reader.get_variable_to_shape_map()
    return {
        key: (dtype.name, tuple(shapes[key]))
        for key, dtype in reader.get_variable_to_dtype_map().items()
    }


def read_every_tensor(prefix: Path) -> None:
    """Read every tensor of a checkpoint with one reader, raising TensorFlow's first error."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    for key in sorted(reader.get_variable_to_shape_map()):
        reader.get_tensor(key)


def tree_digest(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under a directory."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_name_based_checkpoint_has_plain_keys_and_known_values(name_based_ckpt: Path) -> None:
    import tensorflow as tf

    assert entries(name_based_ckpt) == NAME_BASED_EXPECTED
    assert OBJECT_GRAPH_KEY not in entries(name_based_ckpt)
    reader = tf.train.load_checkpoint(str(name_based_ckpt))
    for key, value in NAME_BASED_VALUES.items():
        np.testing.assert_array_equal(reader.get_tensor(key), value)
    assert tf.train.latest_checkpoint(str(name_based_ckpt.parent)) == str(name_based_ckpt)


def test_sharded_checkpoint_has_several_data_shards(sharded_ckpt: Path) -> None:
    import tensorflow as tf

    shards = data_shards(sharded_ckpt)
    assert len(shards) >= 3
    assert all(shard.name.endswith(f"-of-{len(shards):05d}") for shard in shards)
    variable_keys = {f"{name}{VARIABLE_SUFFIX}" for name in "abcd"}
    assert set(entries(sharded_ckpt)) == {OBJECT_GRAPH_KEY, *variable_keys}
    reader = tf.train.load_checkpoint(str(sharded_ckpt))
    for i, name in enumerate("abcd"):
        value = reader.get_tensor(f"{name}{VARIABLE_SUFFIX}")
        np.testing.assert_array_equal(value, np.arange(SHARDED_NUM_ELEMENTS) + 10_000.0 * i)


def test_saved_model_has_graph_variables_and_signature(saved_model_dir: Path) -> None:
    import tensorflow as tf

    assert (saved_model_dir / "saved_model.pb").is_file()
    prefix = saved_model_dir / "variables" / "variables"
    assert index_file(prefix).is_file()
    expected = {f"{name}{VARIABLE_SUFFIX}": spec for name, spec in SAVED_MODEL_EXPECTED.items()}
    assert {k: v for k, v in entries(prefix).items() if k != OBJECT_GRAPH_KEY} == expected
    loaded = tf.saved_model.load(str(saved_model_dir))
    assert "serving_default" in loaded.signatures
    np.testing.assert_allclose(loaded(tf.ones((1, 3))).numpy(), [[9.5, 11.5]])


def test_dtypes_checkpoint_lists_every_dtype_and_value(dtypes_ckpt: Path) -> None:
    import tensorflow as tf

    expected = {f"{name}{VARIABLE_SUFFIX}": spec for name, spec in ALL_DTYPES_EXPECTED.items()}
    assert entries(dtypes_ckpt) == {**expected, OBJECT_GRAPH_KEY: ("string", ())}
    reader = tf.train.load_checkpoint(str(dtypes_ckpt))
    for name, (dtype, _shape) in ALL_DTYPES_EXPECTED.items():
        value = reader.get_tensor(f"{name}{VARIABLE_SUFFIX}")
        want = np.asarray(ALL_DTYPES_VALUES[name], dtype=tf.as_dtype(dtype).as_numpy_dtype)
        np.testing.assert_array_equal(value, want.reshape(ALL_DTYPES_EXPECTED[name][1]))


def test_samples_dir_holds_the_three_sample_models(samples_dir: Path) -> None:
    import tensorflow as tf

    for name in ("my_model", "custom_model", "versioned_model"):
        state = tf.train.get_checkpoint_state(str(samples_dir / name))
        assert state is not None
        assert len(state.all_model_checkpoint_paths) == 3
    keys = entries(samples_dir / "my_model" / "ckpt-3")
    assert f"model/dense1/_kernel{VARIABLE_SUFFIX}" in keys


def test_keras2_checkpoint_uses_keras2_key_names(keras2_dir: Path) -> None:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(keras2_dir))
    assert latest is not None
    assert Path(latest).name == "ckpt-2"
    keys = entries(Path(latest))
    assert keys[f"model/dense1/kernel{VARIABLE_SUFFIX}"] == ("float32", (20, 16))
    assert f"model/dense1/_kernel{VARIABLE_SUFFIX}" not in keys


def test_copy_checkpoint_dir_makes_state_file_paths_relative(
    name_based_ckpt: Path, tmp_path: Path
) -> None:
    import tensorflow as tf

    first = copy_checkpoint_dir(name_based_ckpt.parent, tmp_path / "first")
    assert tree_digest(first) == tree_digest(name_based_ckpt.parent)
    assert tf.train.latest_checkpoint(str(first)) == str(first / name_based_ckpt.name)
    absolute = first / name_based_ckpt.name
    (first / "checkpoint").write_text(
        f'model_checkpoint_path: "{absolute}"\nall_model_checkpoint_paths: "{absolute}"\n'
    )
    assert tf.train.latest_checkpoint(str(first)) == str(absolute)

    second = copy_checkpoint_dir(first, tmp_path / "second")
    assert tf.train.latest_checkpoint(str(second)) == str(second / name_based_ckpt.name)
    assert str(first) not in (second / "checkpoint").read_text()
    with pytest.raises(FileExistsError):
        copy_checkpoint_dir(first, second)


BREAKAGES: list[tuple[Callable[[Path], None], str, str]] = [
    (truncate_index, "OpError", r"^not an sstable \(bad magic number\)$"),
    (garbage_index, "OpError", r"^not an sstable \(bad magic number\)$"),
    (truncate_data, "IndexError", r"^Read less bytes than requested$"),
    (flip_data_byte, "OpError", r"shard 0 \(\d+ bytes\): Checksum does not match: stored \d+"),
    (delete_data_shard, "OpError", r"\.data-00000-of-\d{5}; No such file or directory$"),
]


@pytest.mark.parametrize(
    "source", ["name_based_ckpt", "sharded_ckpt", "dtypes_ckpt", "saved_model_dir"]
)
@pytest.mark.parametrize(
    ("breakage", "error", "message"), BREAKAGES, ids=[b[0].__name__ for b in BREAKAGES]
)
def test_breakage_makes_tensorflow_raise_and_spares_the_source(
    request: pytest.FixtureRequest,
    broken_copy: Callable[[Path], Path],
    source: str,
    breakage: Callable[[Path], None],
    error: str,
    message: str,
) -> None:
    import tensorflow as tf

    fixture_path: Path = request.getfixturevalue(source)
    if source == "saved_model_dir":
        src_dir, relative = fixture_path, Path("variables") / "variables"
    else:
        src_dir, relative = fixture_path.parent, Path(fixture_path.name)
    before = tree_digest(src_dir)
    prefix = broken_copy(src_dir) / relative
    read_every_tensor(prefix)

    breakage(prefix)

    expected_type = IndexError if error == "IndexError" else tf.errors.OpError
    with pytest.raises(expected_type, match=message):
        read_every_tensor(prefix)
    assert tree_digest(src_dir) == before


def test_state_file_naming_a_deleted_prefix(
    samples_dir: Path, broken_copy: Callable[[Path], Path]
) -> None:
    import tensorflow as tf

    before = tree_digest(samples_dir / "my_model")
    directory = broken_copy(samples_dir / "my_model")

    state_file_names_deleted_prefix(directory)

    assert (directory / "checkpoint").is_file()
    assert not index_file(directory / "ckpt-3").exists()
    assert tf.train.latest_checkpoint(str(directory)) is None
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file or checkpoints"):
        tf.train.load_checkpoint(str(directory))
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files"):
        tf.train.load_checkpoint(str(directory / "ckpt-3"))
    read_every_tensor(directory / "ckpt-2")
    assert tree_digest(samples_dir / "my_model") == before


def test_external_fixtures_hold_two_saved_models(external_fixtures: Path) -> None:
    for name in ("saved_model_half_plus_two_cpu", "saved_model_half_plus_two_tf2_cpu"):
        prefix = external_fixtures / name / "00000123" / "variables" / "variables"
        assert entries(prefix)

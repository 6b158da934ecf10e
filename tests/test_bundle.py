"""`ckptctl.bundle`: the TensorFlow-free reader agrees with TensorFlow's own on real checkpoints,
and on broken or hostile files it raises `CheckpointError` (or `Unsupported`), never anything
else and never a wrong value.

Checkpoints come from the session fixtures of `conftest.py` and from those below; crafted
indexes are written with a small SSTable writer here and checked against TensorFlow's reader.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import google_crc32c
import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckptctl import bundle_index, sstable
from ckptctl.bundle import NativeBackend, Unsupported, masked_crc32c, unmask_crc32c
from ckptctl.errors import EXIT_UNREADABLE, CheckpointError
from ckptctl.location import Location, locate
from ckptctl.reader import Entry, open_checkpoint, open_location
from ckptctl.tfbackend import TFBackend
from tests.checkpoints import (
    EXTERNAL_FIXTURES,
    EXTERNAL_SAVED_MODELS,
    OBJECT_GRAPH_KEY,
    data_shards,
    delete_data_shard,
    flip_data_byte,
    garbage_index,
    index_file,
    skip_without_external_fixtures,
    tree_digest,
    truncate_data,
    truncate_index,
)
from tests.fresh import run_fresh

BrokenCopy = Callable[[Path], Path]


MANY_VARIABLES = 5000
LONG_NAME = "a_rather_long_variable_name_so_that_the_index_needs_several_blocks_" * 3
BIG_ELEMENTS = 1 << 20

EXTRA_STRINGS: dict[str, Any] = {
    "strings_nul": [b"\x00", b"a\x00", b"\x00\x00b", b"", b"tail\x00"],
    "string_scalar_nul": b"ends in NULs\x00\x00",
    "string_long": [b"x" * 300, b"y" * 70_000, b"z"],
    "strings_2d": [[b"a", b"bc"], [b"", b"\xff\xfe\x00"]],
    "strings_many": [f"s{i}".encode() for i in range(1000)],
}


# ------------------------------------------------------------------------------ fixtures


def assert_truncated(message: str, shard: Path, key: str) -> None:
    """The one wording of a value past the end of its shard: the bytes there and needed."""
    size = shard.stat().st_size
    pattern = rf"{re.escape(str(shard))}: truncated \({size:,} of [\d,]+ bytes\); value "
    assert re.fullmatch(pattern + rf"{re.escape(key)} ends past the end", message), message
    needed = int(message.split(" of ")[1].split(" bytes")[0].replace(",", ""))
    assert needed > size


def _write(directory: Path, variables: dict[str, Any], **kwargs: Any) -> Path:
    import tensorflow as tf

    checkpoint = tf.train.Checkpoint(**variables)
    return Path(checkpoint.write(str(directory / "ckpt"), **kwargs))


@pytest.fixture(scope="session")
def extra_dtypes_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a checkpoint with the dtypes `dtypes_ckpt` lacks, odd strings, a big tensor."""
    import tensorflow as tf

    def cast(values: list[float], dtype: Any) -> Any:
        return tf.cast(tf.constant(values, tf.float32), dtype)

    def exact(values: list[int], dtype: Any) -> Any:
        return tf.constant(np.array(values).astype(dtype.as_numpy_dtype), dtype=dtype)

    rng = np.random.default_rng(0)
    values: dict[str, Any] = {
        "float8_e4m3fn": cast([1.0, -2.0, 0.5, 448.0], tf.as_dtype("float8_e4m3fn")),
        "float8_e5m2": cast([1.0, -2.0, 0.25, 57344.0], tf.as_dtype("float8_e5m2")),
        "int4": tf.constant(np.array([-8, 0, 7], dtype=ml_dtypes.int4)),
        "uint4": tf.constant(np.array([0, 1, 15], dtype=ml_dtypes.uint4)),
        "int2": tf.constant(np.array([-2, 0, 1], dtype=ml_dtypes.int2)),
        "uint2": tf.constant(np.array([0, 3, 2], dtype=ml_dtypes.uint2)),
        "qint8": exact([-128, 0, 127], tf.qint8),
        "quint8": exact([0, 1, 255], tf.quint8),
        "qint32": exact([-(2**31), 0, 2**31 - 1], tf.qint32),
        "int16_2d": tf.constant([[-32768, 1], [2, 32767]], tf.int16),
        "uint64_max": tf.constant([2**64 - 1], tf.uint64),
        "complex128_scalar": tf.constant(1e300 - 2j, tf.complex128),
        "float16_special": tf.constant([np.nan, np.inf, -0.0], tf.float16),
        "bool_2d": tf.constant([[True, False], [False, True]]),
        "empty_int16": tf.zeros((0, 4), tf.int16),
        "empty_strings": tf.constant([], tf.string),
        "empty_strings_2d": tf.zeros((2, 0), tf.string),
        "big": tf.constant(rng.standard_normal(BIG_ELEMENTS).astype(np.float32)),
        **{name: tf.constant(value, tf.string) for name, value in EXTRA_STRINGS.items()},
    }
    variables = {name: tf.Variable(value, name=name) for name, value in values.items()}
    return _write(tmp_path_factory.mktemp("extra_dtypes"), variables)


@pytest.fixture(scope="session")
def many_variables_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a checkpoint of `MANY_VARIABLES` scalars with long keys: a multi-block index."""
    import tensorflow as tf

    variables = {
        f"v{i:05d}_{LONG_NAME}": tf.Variable(float(i), name=f"v{i}") for i in range(MANY_VARIABLES)
    }
    return _write(tmp_path_factory.mktemp("many"), variables)


@pytest.fixture(scope="session")
def sliced_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a checkpoint whose variables `MaxShardSizePolicy` cut into slices."""
    import tensorflow as tf

    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=1000)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    variables = {n: tf.Variable(np.arange(1024, dtype=np.float32) + i) for i, n in enumerate("ab")}
    return _write(tmp_path_factory.mktemp("sliced"), variables, options=options)


@pytest.fixture(scope="session")
def small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a small checkpoint (floats, ints, strings, object graph) to break at random."""
    import tensorflow as tf

    variables = {
        "w": tf.Variable([[1.0, 2.0], [3.0, 4.0]]),
        "n": tf.Variable(7, dtype=tf.int64),
        "s": tf.Variable([b"ab", b"", b"c\x00"]),
        "h": tf.Variable([0.5, 1.5], dtype=tf.float16),
    }
    return _write(tmp_path_factory.mktemp("small"), variables)


# ----------------------------------------------------------------------------- helpers


def tf_values(prefix: Path) -> dict[str, np.ndarray]:
    backend = TFBackend(locate(prefix))
    try:
        return {e.key: backend.read(e.key) for e in backend.entries()}
    finally:
        backend.close()


def native(path: Path, verify: bool = True) -> NativeBackend:
    return NativeBackend(locate(path), verify=verify)


def assert_same_value(ours: np.ndarray, theirs: np.ndarray, key: str = "") -> None:
    assert ours.dtype == theirs.dtype, key
    assert ours.shape == theirs.shape, key
    if theirs.dtype == object:
        assert all(type(x) is bytes for x in ours.reshape(-1)), key
        assert ours.reshape(-1).tolist() == theirs.reshape(-1).tolist(), key
    else:
        assert ours.tobytes() == theirs.tobytes(), key


def assert_matches_tensorflow(path: Path) -> list[Entry]:
    """Native and TensorFlow backends list and read exactly the same things at `path`."""
    location = locate(path)
    ours, theirs = NativeBackend(location), TFBackend(location)
    try:
        entries = sorted(ours.entries(), key=lambda e: e.key)
        assert entries == sorted(theirs.entries(), key=lambda e: e.key)
        for e in entries:
            assert_same_value(ours.read(e.key), theirs.read(e.key), e.key)
        assert ours.file_problems() == []
    finally:
        ours.close()
        theirs.close()
    return entries


def checkpoint_path(request: pytest.FixtureRequest, name: str) -> Path:
    """A checkpoint (any path form `locate` takes) by a short name."""
    if name.startswith("samples/"):
        return Path(request.getfixturevalue("samples_dir")) / name.split("/", 1)[1]
    if name.startswith("zoo/"):
        return Path(request.getfixturevalue("zoo_ckpt")(name.split("/", 1)[1]))
    if name.startswith("root_model/"):
        return Path(request.getfixturevalue("root_model_ckpts")[name.split("/", 1)[1]])
    if name.startswith("keras2_save_weights/"):
        directory = Path(request.getfixturevalue("keras2_save_weights_dir"))
        return directory / name.split("/", 1)[1] / "weights"
    fixture = {
        "name_based": "name_based_ckpt",
        "sharded": "sharded_ckpt",
        "saved_model": "saved_model_dir",
        "dtypes": "dtypes_ckpt",
        "keras2": "keras2_dir",
        "mirrored": "mirrored_dir",
        "extra_dtypes": "extra_dtypes_ckpt",
        "many_variables": "many_variables_ckpt",
        "small": "small_ckpt",
    }[name]
    return Path(request.getfixturevalue(fixture))


def source_dir(request: pytest.FixtureRequest, name: str) -> tuple[Path, str]:
    """(directory holding the checkpoint, its prefix relative to that directory)."""
    prefix = locate(checkpoint_path(request, name)).prefix
    if prefix.name == "variables" and prefix.parent.name == "variables":
        return prefix.parent.parent, "variables/variables"
    return prefix.parent, prefix.name


def external_indexes() -> list[Path]:
    if not EXTERNAL_FIXTURES.is_dir():
        return []
    return sorted(EXTERNAL_FIXTURES.rglob("variables/variables.index"))


EXTERNAL_INDEXES = external_indexes()
"""What `test_external_savedmodels_match` is parametrized over: empty without the fixtures."""


# ---------------------------------------------------------- an SSTable writer for crafted files


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_block(entries: list[tuple[bytes, bytes]], restart_interval: int = 16) -> bytes:
    out = bytearray()
    restarts: list[int] = []
    previous = b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        rest = key[shared:]
        out += varint(shared) + varint(len(rest)) + varint(len(value)) + rest + value
        previous = key
    for r in restarts or [0]:
        out += r.to_bytes(4, "little")
    out += len(restarts or [0]).to_bytes(4, "little")
    return bytes(out)


def snappy_compress(data: bytes) -> bytes:
    """A plain greedy Snappy encoder: literals and (possibly overlapping) 2-byte-offset copies."""
    out = bytearray(varint(len(data)))
    last: dict[bytes, int] = {}
    literal_start = i = 0

    def flush_literal(end: int) -> None:
        start = literal_start
        while start < end:
            n = min(end - start, 1 << 16)
            if n <= 60:
                out.append((n - 1) << 2)
            else:
                out.append(61 << 2)
                out.extend((n - 1).to_bytes(2, "little"))
            out.extend(data[start : start + n])
            start += n

    while i + 4 <= len(data):
        j = last.get(data[i : i + 4])
        last[data[i : i + 4]] = i
        if j is None or i - j > 0xFFFF:
            i += 1
            continue
        length = 4
        while length < 64 and i + length < len(data) and data[j + length] == data[i + length]:
            length += 1
        flush_literal(i)
        if length <= 11 and i - j < 2048:
            out.append(1 | ((length - 4) << 2) | (((i - j) >> 8) << 5))
            out.append((i - j) & 0xFF)
        else:
            out.append(2 | ((length - 1) << 2))
            out.extend((i - j).to_bytes(2, "little"))
        i += length
        literal_start = i
    flush_literal(len(data))
    return bytes(out)


def encode_table(
    entries: list[tuple[bytes, bytes]],
    block_bytes: int = 4096,
    snappy: bool = False,
    damage: Callable[[int, bytes], bytes] | None = None,
) -> bytes:
    """An SSTable of `entries` (sorted by key), as TensorFlow's table builder lays it out.

    `damage(n, contents)`, if given, may change the contents of the n-th block written (the
    data blocks, then the metaindex and the index block) before its checksum is computed.
    """
    out = bytearray()
    blocks = 0

    def add_block(contents: bytes) -> bytes:
        nonlocal blocks
        if damage is not None:
            contents = damage(blocks, contents)
        blocks += 1
        kind = 1 if snappy else 0
        stored = snappy_compress(contents) if snappy else contents
        offset = len(out)
        crc = masked_crc32c(google_crc32c.value(stored + bytes([kind])))
        out.extend(stored + bytes([kind]) + crc.to_bytes(4, "little"))
        return varint(offset) + varint(len(stored))

    index: list[tuple[bytes, bytes]] = []
    pending: list[tuple[bytes, bytes]] = []
    size = 0
    for key, value in entries:
        pending.append((key, value))
        size += len(key) + len(value)
        if size >= block_bytes:
            index.append((key, add_block(encode_block(pending))))
            pending, size = [], 0
    if pending:
        index.append((pending[-1][0], add_block(encode_block(pending))))
    metaindex = add_block(encode_block([]))
    index_handle = add_block(encode_block(index, restart_interval=1))
    footer = (metaindex + index_handle).ljust(40, b"\0")
    return bytes(out) + footer + sstable.TABLE_MAGIC.to_bytes(8, "little")


def table_of(prefix: Path) -> list[tuple[bytes, bytes]]:
    return sstable.read_table(index_file(prefix).read_bytes())


def rewrite_index(
    prefix: Path,
    change: Callable[[bytes, Any], None],
    block_bytes: int = 4096,
    snappy: bool = False,
) -> None:
    """Re-encode the index of `prefix`, letting `change(key, proto)` edit each parsed proto."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    entries = []
    for key, value in table_of(prefix):
        header = key == b""
        kind = tensor_bundle_pb2.BundleHeaderProto if header else tensor_bundle_pb2.BundleEntryProto
        proto = kind.FromString(value)
        change(key, proto)
        entries.append((key, proto.SerializeToString()))
    index_file(prefix).write_bytes(encode_table(entries, block_bytes, snappy))


@pytest.fixture
def crafted(tmp_path: Path, small_ckpt: Path) -> Callable[..., Path]:
    """Factory: a copy of `small_ckpt` with its index re-encoded by `rewrite_index`."""

    def make(change: Callable[[bytes, Any], None] = lambda k, p: None, **kwargs: Any) -> Path:
        directory = tmp_path / f"crafted{len(list(tmp_path.iterdir()))}"
        shutil.copytree(small_ckpt.parent, directory)
        prefix = directory / small_ckpt.name
        rewrite_index(prefix, change, **kwargs)
        return prefix

    return make


# ----------------------------------------------------------------- agreement with TensorFlow

SOURCES = [
    "samples/my_model",
    "samples/custom_model",
    "samples/versioned_model",
    "name_based",
    "sharded",
    "saved_model",
    "dtypes",
    "keras2",
    "mirrored",
    "extra_dtypes",
    "many_variables",
    "root_model/write",
    "root_model/save",
    "keras2_save_weights/subclassed",
    "keras2_save_weights/sequential",
    "zoo/nested",
    "zoo/functional",
    "zoo/embedding",
    "zoo/mixed",
]


@pytest.mark.parametrize("name", SOURCES)
def test_native_reads_exactly_what_tensorflow_reads(
    request: pytest.FixtureRequest, name: str
) -> None:
    entries = assert_matches_tensorflow(checkpoint_path(request, name))
    assert entries


def test_every_checkpoint_of_a_manager_directory_matches(samples_dir: Path) -> None:
    for index in sorted((samples_dir / "my_model").glob("*.index")):
        assert_matches_tensorflow(index)


@pytest.mark.parametrize("index", EXTERNAL_INDEXES, ids=lambda p: p.parts[-4])
def test_external_savedmodels_match(index: Path) -> None:
    entries = assert_matches_tensorflow(index)
    assert {e.dtype for e in entries} <= {"float32", "string"}


def test_external_savedmodels_are_parametrized_where_present() -> None:
    """An empty parametrization runs nothing and fails nothing: where the fixtures exist (in
    CI they must), the list the test above runs over names both SavedModels."""
    skip_without_external_fixtures()
    assert [(p.parts[-4], p.parts[-3]) for p in EXTERNAL_INDEXES] == [
        (name, "00000123") for name in EXTERNAL_SAVED_MODELS
    ]


def test_dtype_names_are_tensorflows(extra_dtypes_ckpt: Path, dtypes_ckpt: Path) -> None:
    names = {e.dtype for p in (extra_dtypes_ckpt, dtypes_ckpt) for e in native(p).entries()}
    assert {
        "bfloat16", "float16", "float32", "float64", "complex64", "complex128", "string",
        "float8_e4m3fn", "float8_e5m2", "int4", "uint4", "int2", "uint2", "qint8", "quint8",
        "qint32", "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
        "uint64",
    } <= names  # fmt: skip


def test_strings_keep_their_nul_bytes(extra_dtypes_ckpt: Path) -> None:
    backend = native(extra_dtypes_ckpt)
    key = "string_scalar_nul/.ATTRIBUTES/VARIABLE_VALUE"
    scalar = backend.read(key)
    assert scalar.shape == () and scalar.dtype == object
    assert scalar.item() == EXTRA_STRINGS["string_scalar_nul"]
    for name in ("strings_nul", "string_long", "strings_2d", "strings_many"):
        value = backend.read(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")
        assert value.tolist() == EXTRA_STRINGS[name]


def test_the_big_index_has_several_data_blocks(many_variables_ckpt: Path) -> None:
    data = index_file(many_variables_ckpt).read_bytes()
    end = len(data) - sstable.FOOTER_SIZE
    pos = sstable.varint(data, end, len(data))[1]
    pos = sstable.varint(data, pos, len(data))[1]
    offset, pos = sstable.varint(data, pos, len(data))
    size, _ = sstable.varint(data, pos, len(data))
    handles: list[tuple[bytes, bytes]] = []
    sstable.block_entries(sstable.block(data, offset, size, end, "index"), handles, "index")
    assert len(handles) >= 3
    assert len(native(many_variables_ckpt).entries()) == MANY_VARIABLES + 1


# ----------------------------------------------------------------------- streaming reads


@pytest.mark.parametrize("max_bytes", [1, 7, 4096, 1 << 20, 1 << 30])
def test_chunks_concatenate_to_the_value(extra_dtypes_ckpt: Path, max_bytes: int) -> None:
    backend = native(extra_dtypes_ckpt)
    for e in backend.entries():
        if e.dtype == "string" or (max_bytes < 4096 and e.nbytes and e.nbytes > 1 << 16):
            continue
        whole = backend.read(e.key)
        chunks = list(backend.read_chunks(e.key, max_bytes))
        assert all(c.ndim == 1 and c.dtype == whole.dtype for c in chunks)
        assert all(c.nbytes <= max(max_bytes, whole.itemsize) for c in chunks)
        flat = np.concatenate(chunks) if chunks else np.empty(0, whole.dtype)
        assert flat.tobytes() == whole.tobytes(), e.key


def test_chunks_of_the_big_tensor_are_bounded(extra_dtypes_ckpt: Path) -> None:
    backend = native(extra_dtypes_ckpt)
    key = "big/.ATTRIBUTES/VARIABLE_VALUE"
    chunks = list(backend.read_chunks(key, 100_000))
    assert len(chunks) == -(-BIG_ELEMENTS * 4 // 100_000)
    assert max(c.nbytes for c in chunks) <= 100_000
    assert np.concatenate(chunks).tobytes() == backend.read(key).tobytes()


def test_chunks_survive_closing_the_backend_midway(extra_dtypes_ckpt: Path) -> None:
    backend = native(extra_dtypes_ckpt)
    key = "big/.ATTRIBUTES/VARIABLE_VALUE"
    chunks = []
    for chunk in backend.read_chunks(key, 1 << 20):
        chunks.append(chunk)
        backend.close()
    assert np.concatenate(chunks).tobytes() == backend.read(key).tobytes()
    backend.close()


def test_string_chunks_are_the_whole_flat_array(extra_dtypes_ckpt: Path) -> None:
    backend = native(extra_dtypes_ckpt)
    key = "strings_2d/.ATTRIBUTES/VARIABLE_VALUE"
    (chunk,) = backend.read_chunks(key, 1)
    assert chunk.dtype == object and chunk.shape == (4,)
    assert chunk.tolist() == backend.read(key).reshape(-1).tolist()


def test_facade_streams_through_the_native_reader(dtypes_ckpt: Path) -> None:
    with open_checkpoint(dtypes_ckpt) as ckpt:
        assert ckpt.backend_name == "native"
        key = "float64/.ATTRIBUTES/VARIABLE_VALUE"
        chunks = list(ckpt.read_chunks(key, 8))
        assert len(chunks) == 3
        assert np.concatenate(chunks).tobytes() == ckpt.read(key).tobytes()


def test_a_big_tensor_reads_whole_and_streamed_alike(extra_dtypes_ckpt: Path) -> None:
    """Speed is measured by `make bench`; here, a 4 MiB value read whole and in chunks."""
    backend = native(extra_dtypes_ckpt)
    key = "big/.ATTRIBUTES/VARIABLE_VALUE"
    value = backend.read(key)
    assert value.shape == (BIG_ELEMENTS,)
    streamed = np.concatenate(list(backend.read_chunks(key, 1 << 20)))
    assert streamed.tobytes() == value.tobytes()


# ---------------------------------------------------------------------- broken checkpoints

BREAKABLE = ["samples/my_model", "name_based", "sharded", "dtypes", "saved_model", "small"]


def _broken(
    request: pytest.FixtureRequest,
    broken_copy: BrokenCopy,
    name: str,
    breakage: Callable[[Path], None],
) -> tuple[Path, dict[str, np.ndarray]]:
    """(prefix of a broken copy of checkpoint `name`, what TensorFlow reads in the intact one)."""
    directory, relative = source_dir(request, name)
    intact = tf_values(directory / relative)
    prefix = broken_copy(directory) / relative
    breakage(prefix)
    return prefix, intact


def _read_all(
    backend: NativeBackend, keys: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, CheckpointError]]:
    """(values read, errors raised) for every key."""
    values: dict[str, np.ndarray] = {}
    errors: dict[str, CheckpointError] = {}
    for key in keys:
        try:
            values[key] = backend.read(key)
        except CheckpointError as e:
            assert e.exit_code == EXIT_UNREADABLE
            errors[key] = e
    return values, errors


@pytest.mark.parametrize("breakage", [truncate_index, garbage_index])
@pytest.mark.parametrize("name", BREAKABLE)
def test_unreadable_index_names_the_index(
    request: pytest.FixtureRequest,
    broken_copy: BrokenCopy,
    name: str,
    breakage: Callable[[Path], None],
) -> None:
    prefix, _ = _broken(request, broken_copy, name, breakage)
    with pytest.raises(CheckpointError) as info:
        native(prefix)
    assert info.value.message.startswith(
        f"{index_file(prefix)}: corrupt (not a readable checkpoint index: "
    )
    assert info.value.hint and "copy the checkpoint again" in info.value.hint
    with pytest.raises(CheckpointError) as info:
        open_checkpoint(prefix)
    assert info.value.message.startswith(str(index_file(prefix)))


@pytest.mark.parametrize("name", BREAKABLE)
def test_truncated_shard_fails_exactly_the_values_past_the_cut(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    prefix, intact = _broken(request, broken_copy, name, truncate_data)
    shard = data_shards(prefix)[0]
    backend = native(prefix)
    problems = backend.file_problems()
    values, errors = _read_all(backend, sorted(intact))
    assert errors, "the cut went unnoticed"
    for key, error in errors.items():
        assert_truncated(error.message, shard, key)
        assert error.hint
    for key, value in values.items():
        assert_same_value(value, intact[key], key)
    assert {p.message for p in problems} == {e.message for e in errors.values()}
    for key in errors:
        with pytest.raises(CheckpointError, match=r"truncated \("):
            list(backend.read_chunks(key, 64))


@pytest.mark.parametrize("name", BREAKABLE)
def test_flipped_byte_fails_its_checksum(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    prefix, intact = _broken(request, broken_copy, name, flip_data_byte)
    shard = data_shards(prefix)[0]
    backend = native(prefix)
    assert backend.file_problems() == []
    values, errors = _read_all(backend, sorted(intact))
    assert len(errors) == 1
    ((key, error),) = errors.items()
    assert error.message == f"{shard}: corrupt (value {key} fails its checksum)"
    for k, v in values.items():
        assert_same_value(v, intact[k], k)
    chunks: list[np.ndarray] = []
    with pytest.raises(CheckpointError, match="fails its checksum"):
        for chunk in backend.read_chunks(key, 16):
            chunks.append(chunk)
    assert sum(c.size for c in chunks) == intact[key].size
    unchecked = native(prefix, verify=False).read(key)
    assert unchecked.shape == intact[key].shape
    assert unchecked.tobytes() != intact[key].tobytes()
    with open_checkpoint(prefix, verify=False) as ckpt:
        assert ckpt.read(key).tobytes() == unchecked.tobytes()


@pytest.mark.parametrize("name", BREAKABLE)
def test_missing_shard_is_found_without_reading(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    directory, relative = source_dir(request, name)
    intact_entries = sorted(native(directory / relative).entries(), key=lambda e: e.key)
    prefix, intact = _broken(request, broken_copy, name, delete_data_shard)
    deleted = data_shards(directory / relative)[0].name
    missing = prefix.parent / deleted
    backend = native(prefix)
    assert sorted(backend.entries(), key=lambda e: e.key) == intact_entries
    problems = backend.file_problems()
    assert len(problems) == 1
    assert problems[0].message.startswith(f"{missing}: missing (the index lists ")
    assert problems[0].hint and "cannot be restored" in problems[0].hint
    values, errors = _read_all(backend, sorted(intact))
    assert errors
    assert all(e.message == problems[0].message for e in errors.values())
    assert f"lists {len(errors)} values" in problems[0].message
    for k, v in values.items():
        assert_same_value(v, intact[k], k)
    with open_checkpoint(prefix) as ckpt:
        assert [p.message for p in ckpt.file_problems()] == [problems[0].message]


def test_sharded_checkpoint_reads_the_other_shards(
    sharded_ckpt: Path, broken_copy: BrokenCopy
) -> None:
    prefix = broken_copy(sharded_ckpt.parent) / sharded_ckpt.name
    shards = data_shards(prefix)
    shards[-1].unlink()
    backend = native(prefix)
    values, errors = _read_all(backend, [e.key for e in backend.entries()])
    assert values and errors
    assert [p.message.split(":")[0] for p in backend.file_problems()] == [str(shards[-1])]


def test_unknown_key_is_not_a_missing_shard(dtypes_ckpt: Path) -> None:
    backend = native(dtypes_ckpt)
    with pytest.raises(CheckpointError) as info:
        backend.read("model/nope")
    assert info.value.message == f"{dtypes_ckpt}: no value named 'model/nope' in this checkpoint"
    with pytest.raises(CheckpointError):
        list(backend.read_chunks("model/nope", 10))


def test_nothing_is_written_to_the_checkpoint_directory(
    extra_dtypes_ckpt: Path, broken_copy: BrokenCopy
) -> None:
    directory = broken_copy(extra_dtypes_ckpt.parent)
    prefix = directory / extra_dtypes_ckpt.name
    truncate_data(prefix)
    before, mtime = tree_digest(directory), directory.stat().st_mtime_ns
    with open_checkpoint(prefix, backend="native") as ckpt:
        ckpt.file_problems()
        for e in ckpt.entries:
            try:
                ckpt.read(e.key)
                list(ckpt.read_chunks(e.key, 1 << 16))
            except CheckpointError:
                pass
    assert tree_digest(directory) == before
    assert directory.stat().st_mtime_ns == mtime


# ------------------------------------------------------------------ crafted and hostile files


def test_the_test_table_writer_is_read_by_tensorflow(crafted: Callable[..., Path]) -> None:
    prefix = crafted(block_bytes=64)
    assert len(table_of(prefix)) == 6
    assert_matches_tensorflow(prefix)


def test_snappy_compressed_index_is_read(crafted: Callable[..., Path]) -> None:
    """A few early TensorFlow releases wrote Snappy-compressed index blocks."""
    prefix = crafted(block_bytes=64, snappy=True)
    assert_matches_tensorflow(prefix)


@given(st.binary(max_size=2000), st.integers(1, 40))
@settings(max_examples=200, deadline=2000)
def test_snappy_round_trips(data: bytes, repeat: int) -> None:
    data = data[: len(data) // 2] * repeat + data[len(data) // 2 :]
    assert sstable.snappy_decompress(snappy_compress(data)) == data


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=2000)
def test_snappy_garbage_raises_value_error(data: bytes) -> None:
    try:
        out = sstable.snappy_decompress(data)
    except ValueError:
        return
    assert len(out) == sstable.varint(data, 0, len(data), 5)[0]


def test_partitioned_values_are_read_natively(sliced_ckpt: Path, tmp_path: Path) -> None:
    """Values cut into slices (`MaxShardSizePolicy`; TF1's `fixed_size_partitioner`) are
    stitched by ckptctl's own reader, equal to TensorFlow's reading, and verified per slice."""
    import tensorflow as tf

    assert_matches_tensorflow(sliced_ckpt)
    with open_checkpoint(sliced_ckpt) as ckpt:
        assert (ckpt.backend_name, ckpt.backend_note) == ("native", None)
        key = "a/.ATTRIBUTES/VARIABLE_VALUE"
        assert ckpt.read(key).tolist() == list(range(1024))
        assert [c.size for c in ckpt.read_chunks(key, 1000)] == [250] * 4 + [24]
        assert ckpt.entry(key).nbytes == 4096
    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        tf1.get_variable(
            "emb",
            shape=[10, 3],
            initializer=tf1.random_normal_initializer(seed=3),
            partitioner=tf1.fixed_size_partitioner(3),
        )
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = Path(saver.save(sess, str(tmp_path / "tf1" / "model.ckpt")))
    assert_matches_tensorflow(prefix)
    with open_checkpoint(prefix, backend="native") as ckpt:
        theirs = tf.train.load_checkpoint(str(prefix)).get_tensor("emb")
        assert ckpt.read("emb").tobytes() == theirs.tobytes()
        assert ckpt.entry("emb").shape == (10, 3)


def test_a_flipped_byte_in_one_slice_names_the_value(sliced_ckpt: Path, tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    directory.mkdir()
    for f in sliced_ckpt.parent.iterdir():
        (directory / f.name).write_bytes(f.read_bytes())
    copy = directory / sliced_ckpt.name
    data_files = sorted(directory.glob(f"{copy.name}.data-*"))
    victim = data_files[0]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with open_checkpoint(copy) as ckpt:
        errors = []
        for e in ckpt.entries:
            try:
                ckpt.read(e.key)
            except CheckpointError as err:
                errors.append(err.message)
    assert len(errors) == 1 and "fails its checksum" in errors[0], errors


def test_backend_choice(dtypes_ckpt: Path) -> None:
    with open_checkpoint(dtypes_ckpt) as ckpt:
        assert (ckpt.backend_name, ckpt.backend_note) == ("native", None)
    with open_checkpoint(dtypes_ckpt, backend="native") as ckpt:
        assert ckpt.backend_name == "native"
    with open_checkpoint(dtypes_ckpt, backend="tf") as ckpt:
        assert (ckpt.backend_name, ckpt.backend_note) == ("tf", None)
        assert ckpt.file_problems() == []
    with open_location(locate(dtypes_ckpt), "auto", verify=False) as ckpt:
        assert ckpt.backend_name == "native"


def _on(key: bytes, change: Callable[[Any], object]) -> Callable[[bytes, Any], None]:
    """Apply `change` to the header proto (`key` b"") or to the entry whose key starts so."""

    def apply(k: bytes, proto: Any) -> None:
        if k == key or (key and k.startswith(key)):
            change(proto)

    return apply


def _shape(dims: list[int]) -> Callable[[bytes, Any], None]:
    def change(key: bytes, proto: Any) -> None:
        if key.startswith(b"w/"):
            del proto.shape.dim[:]
            for d in dims:
                proto.shape.dim.add(size=d)

    return change


def _set(field: str, value: Any, key: bytes = b"w/") -> Callable[[bytes, Any], None]:
    return _on(key, lambda proto: setattr(proto, field, value))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_on(b"", lambda p: setattr(p, "endianness", 1)), "big-endian"),
        (_on(b"", lambda p: setattr(p.version, "min_consumer", 2)), "version"),
        (_on(b"", lambda p: p.version.bad_consumers.append(1)), "version"),
        (_set("dtype", 21, key=b"n/"), "variant"),
        (_set("dtype", 20, key=b"n/"), "resource"),
        (_set("dtype", 99, key=b"n/"), "number 99"),
        (_set("dtype", 0, key=b"n/"), "invalid"),
        (_set("num_shards", 10**6, key=b""), "data shards"),
        (_set("dtype", 29), "int4 elements in a packed"),
    ],
)
def test_unsupported(crafted: Callable[..., Path], change: Any, words: str) -> None:
    prefix = crafted(change)
    with pytest.raises(Unsupported, match=words):
        native(prefix)
    with pytest.raises(CheckpointError, match=words):
        open_checkpoint(prefix, backend="native")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_shape([2, 3]), "is stored in 16 bytes; its shape needs 24"),
        (_shape([-1, 4]), "invalid shape"),
        (_shape([1] * 255), "invalid shape"),
        (_shape([1 << 40, 1 << 40]), "invalid shape"),
        (_on(b"w/", lambda p: setattr(p.shape, "unknown_rank", True)), "shape"),
        (_set("shard_id", 1), "shard 1 of 1"),
        (_set("shard_id", -1), "shard -1 of 1"),
        (_set("offset", -5), "negative offset"),
        (_set("size", 1, key=b"s/"), "stored in 1 bytes; it needs at least 7"),
        (_set("num_shards", 0, key=b""), "declares 0 data shards"),
    ],
)
def test_inconsistent_index(crafted: Callable[..., Path], change: Any, words: str) -> None:
    prefix = crafted(change)
    with pytest.raises(CheckpointError) as info:
        native(prefix)
    message = info.value.message
    assert message.startswith(f"{index_file(prefix)}: corrupt (not a readable checkpoint index: ")
    assert words in message


def test_a_value_claiming_petabytes_is_cut_short_without_allocating(
    crafted: Callable[..., Path],
) -> None:
    elements = 10**15

    def change(key: bytes, proto: Any) -> None:
        if key.startswith(b"w/"):
            del proto.shape.dim[:]
            proto.shape.dim.add(size=elements)
            proto.size = elements * 4

    prefix = crafted(change)
    backend = native(prefix)
    key = "w/.ATTRIBUTES/VARIABLE_VALUE"
    assert backend.entries()
    shard = data_shards(prefix)[0]
    (problem,) = backend.file_problems()
    expected = problem.message
    assert_truncated(expected, shard, key)
    for read in (backend.read, lambda k: list(backend.read_chunks(k, 1 << 20))):
        with pytest.raises(CheckpointError) as info:
            read(key)
        assert info.value.message == expected


def test_header_declaring_more_shards_reports_them_missing(crafted: Callable[..., Path]) -> None:
    prefix = crafted(_set("num_shards", 3, key=b""))
    backend = native(prefix)
    problems = backend.file_problems()
    assert [p.message.split(":")[0] for p in problems] == [
        f"{prefix}.data-{k:05d}-of-00003" for k in range(3)
    ]
    with pytest.raises(CheckpointError, match=r"missing \(the index lists 5 values"):
        backend.read("w/.ATTRIBUTES/VARIABLE_VALUE")


def test_string_lengths_that_disagree_with_the_size(crafted: Callable[..., Path]) -> None:
    """Unverified, the lengths are still checked against the size: never a wrong split."""
    prefix = crafted()
    key = "s/.ATTRIBUTES/VARIABLE_VALUE"
    entry = next(e for e in native(prefix).entries() if e.key == key)
    shard = data_shards(prefix)[0]
    data = bytearray(shard.read_bytes())
    offset = data.find(bytes([2, 0, 2]))  # the lengths of [b"ab", b"", b"c\0"]
    assert offset >= 0 and entry.nbytes == 3 + 4 + 4
    data[offset + 1] = 1
    shard.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="fails its checksum"):
        native(prefix).read(key)
    with pytest.raises(CheckpointError, match="string lengths do not match its size"):
        native(prefix, verify=False).read(key)


# ------------------------------------------------------------------- random damage, no crash


MUTATION = st.tuples(
    st.sampled_from(["index", "data"]),
    st.sampled_from(["flip", "truncate", "insert"]),
    st.integers(0, 1 << 20),
    st.binary(min_size=1, max_size=8),
)


def _mutate(prefix: Path, target: str, op: str, position: int, payload: bytes) -> None:
    path = index_file(prefix) if target == "index" else data_shards(prefix)[0]
    data = bytearray(path.read_bytes())
    at = position % (len(data) + 1)
    if op == "flip" and data:
        at %= len(data)
        data[at] ^= payload[0] or 0xFF
    elif op == "truncate":
        del data[at:]
    else:
        data[at:at] = payload
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def small_intact(small_ckpt: Path) -> tuple[list[Entry], dict[str, np.ndarray]]:
    backend = native(small_ckpt)
    return backend.entries(), {e.key: backend.read(e.key) for e in backend.entries()}


@given(mutations=st.lists(MUTATION, min_size=1, max_size=3), verify=st.booleans())
@settings(
    max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_damage_raises_only_checkpoint_errors(
    small_ckpt: Path,
    small_intact: tuple[list[Entry], dict[str, np.ndarray]],
    mutations: list[tuple[str, str, int, bytes]],
    verify: bool,
) -> None:
    intact_entries, intact_values = small_intact
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / small_ckpt.name
        for source in (index_file(small_ckpt), *data_shards(small_ckpt)):
            shutil.copyfile(source, Path(tmp) / source.name)
        data_changed = False
        for target, op, position, payload in mutations:
            _mutate(prefix, target, op, position, payload)
            data_changed |= target == "data"
        location = Location(prefix, "checkpoint", tuple(data_shards(prefix)))
        try:
            backend = NativeBackend(location, verify=verify)
        except (CheckpointError, Unsupported):
            return
        # What opens at all is the intact index: its blocks are checksummed.
        assert backend.entries() == intact_entries
        backend.file_problems()
        for e in backend.entries():
            for read in (backend.read, lambda k: np.concatenate(list(backend.read_chunks(k, 5)))):
                try:
                    value = read(e.key)
                except CheckpointError as err:
                    assert err.message.startswith(str(prefix))
                    continue
                if verify or not data_changed:
                    intact = intact_values[e.key]
                    assert_same_value(value.reshape(intact.shape), intact, e.key)
        backend.close()


def _damage(data: bytes, op: str, position: int, payload: bytes) -> bytes:
    buf = bytearray(data)
    at = position % (len(buf) + 1)
    if op == "flip" and buf:
        buf[at % len(buf)] ^= payload[0] or 0xFF
    elif op == "truncate":
        del buf[at:]
    else:
        buf[at:at] = payload
    return bytes(buf)


def damaged_table(
    table: list[tuple[bytes, bytes]],
    target: str,
    which: int,
    op: str,
    position: int,
    payload: bytes,
) -> tuple[list[tuple[bytes, bytes]], Callable[[int, bytes], bytes] | None]:
    """``table`` with one key or value damaged (``target`` "key" or "value", entry ``which``),
    or unchanged with a ``damage`` for :func:`encode_table` that damages block ``which % 3``
    (``target`` "block") under a good checksum."""
    n = which % len(table)
    if target == "key":
        table[n] = (_damage(table[n][0], op, position, payload), table[n][1])
    elif target == "value":
        table[n] = (table[n][0], _damage(table[n][1], op, position, payload))
    else:

        def damage(block: int, contents: bytes) -> bytes:
            return _damage(contents, op, position, payload) if block == which % 3 else contents

        return table, damage
    return table, None


def _exercise(backend: NativeBackend) -> None:
    """List, check and read everything; only ``CheckpointError`` may come out of reads."""
    backend.entries()
    backend.file_problems()
    for e in backend.entries():
        for read in (backend.read, lambda k: list(backend.read_chunks(k, 5))):
            with contextlib.suppress(CheckpointError):
                read(e.key)
    backend.close()


INDEX_DAMAGE = {
    "target": st.sampled_from(["key", "value", "block"]),
    "which": st.integers(0, 100),
    "op": st.sampled_from(["flip", "truncate", "insert"]),
    "position": st.integers(0, 1 << 12),
    "payload": st.binary(min_size=1, max_size=12),
}
"""The arguments of :func:`damaged_table`, drawn."""


@given(**INDEX_DAMAGE, verify=st.booleans(), snappy=st.booleans())
@settings(
    max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_damaged_index_contents_with_good_checksums(
    small_ckpt: Path,
    target: str,
    which: int,
    op: str,
    position: int,
    payload: bytes,
    verify: bool,
    snappy: bool,
) -> None:
    """Damage that the block checksums do not catch (a buggy or hostile writer) is caught later."""
    table, damage = damaged_table(table_of(small_ckpt), target, which, op, position, payload)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / small_ckpt.name
        for shard in data_shards(small_ckpt):
            shutil.copyfile(shard, Path(tmp) / shard.name)
        index_file(prefix).write_bytes(encode_table(table, 64, snappy, damage))
        location = Location(prefix, "checkpoint", tuple(data_shards(prefix)))
        try:
            backend = NativeBackend(location, verify=verify)
        except (CheckpointError, Unsupported):
            return
        _exercise(backend)


# ------------------------------------------------------------------------ without TensorFlow


def test_native_reading_never_imports_tensorflow(
    dtypes_ckpt: Path, extra_dtypes_ckpt: Path, samples_dir: Path
) -> None:
    code = """
        import json, sys
        import numpy as np
        from ckptctl.reader import open_checkpoint
        counts = []
        for path in sys.argv[1:]:
            for backend in ("native", "auto"):
                with open_checkpoint(path, backend=backend) as ckpt:
                    assert ckpt.backend_name == "native", ckpt.backend_note
                    n = 0
                    for e, value in ckpt.iter_values():
                        for chunk in ckpt.read_chunks(e.key, 1 << 16):
                            pass
                        n += 1
                    ckpt.object_graph
                    ckpt.file_problems()
                    counts.append(n)
        print(json.dumps({"counts": counts, "tf": "tensorflow" in sys.modules}))
    """
    paths = [dtypes_ckpt, extra_dtypes_ckpt, samples_dir / "my_model"]
    out = run_fresh(code, *map(str, paths))
    assert out["tf"] is False
    assert all(n > 0 for n in out["counts"])


def test_masking_round_trips() -> None:
    for crc in (0, 1, 0xFFFFFFFF, 0x12345678, google_crc32c.value(b"abc")):
        assert unmask_crc32c(masked_crc32c(crc)) == crc
    assert masked_crc32c(0) == 0xA282EAD8


def test_object_graph_entry_is_listed(dtypes_ckpt: Path) -> None:
    assert OBJECT_GRAPH_KEY in {e.key for e in native(dtypes_ckpt).entries()}


# ------------------------------------------- the cached entry decoding against the plain one

CACHE_SOURCES = ["samples/my_model", "dtypes", "keras2", "sharded", "extra_dtypes", "sliced"]


def _entry_or_error(value: bytes, shapes: Any = None) -> Any:
    try:
        return bundle_index._parse_entry(value, shapes)
    except ValueError as e:
        return type(e), str(e)


def _layout_or_error(fields: Any) -> Any:
    try:
        return bundle_index._layout("k", fields[0], fields[1], fields[2])
    except (ValueError, Unsupported) as e:
        return type(e), str(e)


def _entry_values(request: pytest.FixtureRequest, name: str) -> list[bytes]:
    prefix = (
        Path(request.getfixturevalue("sliced_ckpt"))
        if name == "sliced"
        else checkpoint_path(request, name)
    )
    return [value for key, value in table_of(locate(prefix).prefix) if key]


@pytest.mark.parametrize("name", [*CACHE_SOURCES, "convnet"])
def test_cached_entry_decoding_agrees_with_the_plain_one(
    request: pytest.FixtureRequest, name: str
) -> None:
    """One shape cache shared by every entry of a real index (a Keras 3 model compiled and
    fitted, with its optimizer's slots, among them) gives what decoding each alone gives."""
    if name == "convnet":
        prefix = locate(request.getfixturevalue("fitted_convnet_ckpt")).prefix
        values = [v for k, v in table_of(prefix) if k]
    else:
        values = _entry_values(request, name)
    shapes: dict[bytes, Any] = {}
    cached = [_entry_or_error(v, shapes) for v in values]
    assert cached == [_entry_or_error(v) for v in values]
    assert len(shapes) < len(values)  # the cache was used: shapes recur
    layouts = [_layout_or_error(fields) for fields in cached]
    assert layouts == [_layout_or_error(fields) for fields in cached]


def test_every_truncation_of_real_entries_decodes_alike_with_and_without_the_cache(
    request: pytest.FixtureRequest,
) -> None:
    values = _entry_values(request, "dtypes")
    shapes: dict[bytes, Any] = {}
    outcomes = []
    for value in values:
        for n in range(len(value) + 1):
            cut = value[:n]
            outcome = _entry_or_error(cut, shapes)
            assert outcome == _entry_or_error(cut), cut
            outcomes.append(outcome)
    errors = [o for o in outcomes if isinstance(o, tuple) and len(o) == 2]
    assert errors and len(errors) < len(outcomes)  # both outcomes were compared


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_mutated_entries_decode_alike_with_and_without_the_cache(data: st.DataObject) -> None:
    """A cache warmed on intact entries does not hide damage in a mutated one."""
    proto = b"\x08\x01\x12\x0a\x12\x02\x08\x04\x12\x04\x08\x03\x18\x00\x20\x80\x01\x28\x30\x35ABCD"
    shapes: dict[bytes, Any] = {}
    assert _entry_or_error(proto, shapes) == (1, (4, 3), False, 0, 128, 48, 0x44434241, False)
    mutated = bytearray(proto)
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    assert _entry_or_error(bytes(mutated), shapes) == _entry_or_error(bytes(mutated))


@pytest.fixture(scope="module")
def many_small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hundreds of small values of several dtypes, and one larger than the 1 MiB window."""
    import tensorflow as tf

    module = tf.Module()
    rng = np.random.default_rng(7)
    module.values = [
        tf.Variable(rng.standard_normal(int(rng.integers(1, 300))).astype(dtype))
        for dtype in ("float32", "float64", "int32", "float16") * 80
    ]
    module.big = tf.Variable(rng.standard_normal(300_000).astype("float32"))  # 1.2 MB
    module.after = tf.Variable(rng.standard_normal(5).astype("float32"))
    prefix = tf.train.Checkpoint(model=module).write(str(tmp_path_factory.mktemp("small") / "c"))
    return Path(prefix)


def test_raw_bytes_of_every_value_in_any_order(many_small_ckpt: Path) -> None:
    """read_raw serves small values from a window of their shard: in any order, each value's
    bytes are its own (checked against its crc32c and against read)."""
    with open_checkpoint(many_small_ckpt) as ckpt:
        keys = [e.key for e in ckpt.entries if e.dtype != "string"]
        assert len(keys) > 320
        for order in (keys, keys[::-1], list(np.random.default_rng(3).permutation(keys))):
            for key in order:
                assert ckpt.read_raw(key) == ckpt.read(key).tobytes(), key


def test_raw_bytes_many_at_once_are_each_values_own(many_small_ckpt: Path, tmp_path: Path) -> None:
    """read_raw_many (a diff's batches) gives each small value's checked bytes in any order,
    None for a string, a large value or a missing key, and None (not an error) for a value
    that fails its checksum: the caller's own read of it then names the damage."""
    with open_checkpoint(many_small_ckpt) as ckpt:
        keys = [e.key for e in ckpt.entries]
        for order in (keys, keys[::-1], list(np.random.default_rng(5).permutation(keys))):
            expected = [
                ckpt.read_raw(k)
                if ckpt.entry(k).nbytes and ckpt.entry(k).nbytes <= 64 << 10
                else None
                for k in order
            ]
            assert ckpt.read_raw_many([*order, "no such key"]) == [*expected, None]
        intact = ckpt.read_raw_many(keys)
        assert intact.count(None) == 1  # the 1.2 MB value
    damaged = tmp_path / "damaged"
    shutil.copytree(many_small_ckpt.parent, damaged)
    prefix = damaged / many_small_ckpt.name
    with open_checkpoint(prefix) as ckpt:
        victim = next(e for e in ckpt.entries if e.dtype == "float32" and 10 < e.num_elements < 500)
        offset = ckpt._backend._values[victim.key].offset
    shard = data_shards(prefix)[0]
    data = bytearray(shard.read_bytes())
    data[offset + 3] ^= 0xFF
    shard.write_bytes(bytes(data))
    with open_checkpoint(prefix) as ckpt:
        got = ckpt.read_raw_many(keys)
        assert [k for k, x, y in zip(keys, got, intact, strict=True) if x != y] == [victim.key]
        assert got[keys.index(victim.key)] is None
        with pytest.raises(CheckpointError, match="fails its checksum"):
            ckpt.read_raw(victim.key)

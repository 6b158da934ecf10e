"""`ckptctl.inspect`: the library API behind `ckptctl inspect`, on real checkpoints of every kind
and on broken copies of them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import ckptctl
from ckptctl.errors import EXIT_UNREADABLE, CheckpointError
from ckptctl.inspection import InspectReport, TreeNode, VariableInfo
from ckptctl.reader import BackendName
from tests.checkpoints import (
    ALL_DTYPES_EXPECTED,
    ALL_DTYPES_VALUES,
    NAME_BASED_EXPECTED,
    NAME_BASED_VALUES,
    OBJECT_GRAPH_KEY,
    SAVED_MODEL_EXPECTED,
    SHARDED_NUM_ELEMENTS,
    VARIABLE_SUFFIX,
    data_shards,
    delete_data_shard,
    flip_data_byte,
    garbage_index,
    index_file,
    truncate_data,
    truncate_index,
)

BrokenCopy = Callable[[Path], Path]

MY_MODEL_KEYS = [
    "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
    "model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE",
    "model/dense2/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
    "model/dense2/bias/.ATTRIBUTES/VARIABLE_VALUE",
    "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE",
    "optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE",
    *(f"optimizer/_variables/{n}/.ATTRIBUTES/VARIABLE_VALUE" for n in range(2, 10)),
    "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
]
"""Keys of a Keras 3 `my_model` checkpoint, in the object graph's order."""


def by_path(report: InspectReport) -> dict[str, VariableInfo]:
    return {v.path: v for v in report.variables if v.path is not None}


def by_key(report: InspectReport) -> dict[str, VariableInfo]:
    return {v.key: v for v in report.variables}


def tf_entries(prefix: str | Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Key -> (dtype name, shape) as TensorFlow lists them, without the object graph."""
    import tensorflow as tf

    dtypes = tf.train.load_checkpoint(str(prefix)).get_variable_to_dtype_map()
    return {
        key: (dtypes[key].name, tuple(shape))
        for key, shape in tf.train.list_variables(str(prefix))
        if key != OBJECT_GRAPH_KEY
    }


def itemsize(dtype: str) -> int:
    import tensorflow as tf

    return int(tf.as_dtype(dtype).size)


def varint_size(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def walk(node: TreeNode) -> Iterator[TreeNode]:
    yield node
    for child in node.children:
        yield from walk(child)


def snapshot(directory: Path) -> tuple[list[str], dict[str, str]]:
    """Every entry under a directory, and the sha256 of every file."""
    entries = sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
    digests = {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.rglob("*")
        if p.is_file()
    }
    return entries, digests


@pytest.fixture(scope="module")
def my_model(samples_dir: Path) -> InspectReport:
    return ckptctl.inspect(samples_dir / "my_model")


# --- a Keras 3 CheckpointManager directory ----------------------------------------------------


def test_my_model_summary(samples_dir: Path, my_model: InspectReport) -> None:
    prefix = samples_dir / "my_model" / "ckpt-3"
    assert my_model.checkpoint == str(prefix)
    assert my_model.naming == "object-graph"
    assert my_model.source == "checkpoint"
    assert my_model.shards == 1
    assert my_model.save_counter == 3
    assert my_model.other_checkpoints == ["ckpt-1", "ckpt-2"]
    assert my_model.note is None
    assert my_model.filter is None
    assert my_model.tree is None
    assert my_model.error is None
    assert my_model.error_hint is None
    assert my_model.total_values == len(my_model.variables) == 15


def test_my_model_keys_in_graph_order(my_model: InspectReport) -> None:
    assert [v.key for v in my_model.variables] == MY_MODEL_KEYS
    assert OBJECT_GRAPH_KEY not in by_key(my_model)


def test_my_model_totals(samples_dir: Path, my_model: InspectReport) -> None:
    prefix = samples_dir / "my_model" / "ckpt-3"
    files = [index_file(prefix), *data_shards(prefix)]
    assert my_model.total_bytes == sum(f.stat().st_size for f in files)
    numeric = [v for v in my_model.variables if v.dtype != "string"]
    assert my_model.total_params == sum(v.num_elements for v in numeric) == 1521


def test_my_model_owners(my_model: InspectReport) -> None:
    assert [o.name for o in my_model.owners] == ["model", "optimizer", "save_counter"]
    assert {v.owner for v in my_model.variables} == {"model", "optimizer", "save_counter"}
    for owner in my_model.owners:
        mine = [v for v in my_model.variables if v.owner == owner.name]
        assert owner.values == len(mine)
        assert owner.params == sum(v.num_elements for v in mine)
        assert owner.nbytes == sum(v.nbytes or 0 for v in mine)
    counts = {o.name: o.values for o in my_model.owners}
    assert counts == {"model": 4, "optimizer": 10, "save_counter": 1}


def test_my_model_dtypes_and_shapes_are_tensorflows(
    samples_dir: Path, my_model: InspectReport
) -> None:
    expected = tf_entries(samples_dir / "my_model" / "ckpt-3")
    got = {v.key: (v.dtype, tuple(v.shape)) for v in my_model.variables}
    assert got == expected


def test_my_model_sizes(my_model: InspectReport) -> None:
    for v in my_model.variables:
        assert v.num_elements == math.prod(v.shape)
        assert v.nbytes == v.num_elements * itemsize(v.dtype), v.key


def test_my_model_paths_and_slots(my_model: InspectReport) -> None:
    paths = by_path(my_model)
    kernel = paths["model.dense1._kernel"]
    assert (kernel.key, kernel.owner, kernel.dtype, kernel.shape) == (
        "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model",
        "float32",
        [20, 16],
    )
    assert (kernel.num_elements, kernel.nbytes, kernel.full_name) == (320, 1280, "my_model/kernel")
    assert paths["save_counter"].owner == "save_counter"
    momentum = paths["optimizer._variables.2"]
    assert (momentum.slot_of, momentum.slot_name) == ("model.dense1._kernel", "momentum")
    velocity = paths["optimizer._variables.3"]
    assert (velocity.slot_of, velocity.slot_name) == ("model.dense1._kernel", "velocity")
    for v in my_model.variables:
        assert v.path is not None
        assert v.key == v.path.replace(".", "/") + VARIABLE_SUFFIX
        if v.slot_of is not None:
            assert paths[v.slot_of].shape == v.shape


def test_report_is_plain_json(my_model: InspectReport) -> None:
    doc = my_model.to_dict()
    assert "tree" not in doc
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize("form", ["dir", "state", "prefix", "index", "data"])
def test_every_path_form_gives_the_same_values(
    samples_dir: Path, my_model: InspectReport, form: str
) -> None:
    directory = samples_dir / "my_model"
    path = {
        "dir": directory,
        "state": directory / "checkpoint",
        "prefix": directory / "ckpt-3",
        "index": directory / "ckpt-3.index",
        "data": directory / "ckpt-3.data-00000-of-00001",
    }[form]
    report = ckptctl.inspect(path)
    assert report.checkpoint == my_model.checkpoint
    assert report.variables == my_model.variables


def test_older_checkpoint_of_the_same_directory(samples_dir: Path) -> None:
    report = ckptctl.inspect(samples_dir / "my_model" / "ckpt-1")
    assert report.save_counter == 1
    assert report.other_checkpoints == []


def test_custom_model_paths(samples_dir: Path) -> None:
    report = ckptctl.inspect(samples_dir / "custom_model")
    model = [v.path for v in report.variables if v.owner == "model"]
    assert model == ["model.dense1.w", "model.dense1.b", "model.dense2.w", "model.dense2.b"]
    assert by_path(report)["model.dense1.w"].shape == [20, 64]
    slots = {v.path: (v.slot_of, v.slot_name) for v in report.variables if v.slot_of}
    assert slots["optimizer._variables.2"] == ("model.dense1.w", "momentum")
    assert slots["optimizer._variables.9"] == ("model.dense2.b", "velocity")


def test_versioned_model(samples_dir: Path) -> None:
    report = ckptctl.inspect(samples_dir / "versioned_model")
    name = Path(report.checkpoint).name
    assert name.startswith("model_v1_")
    assert name.endswith("-3")
    assert report.save_counter == 3
    assert len(report.other_checkpoints) == 2
    assert by_path(report)["model.dense1._kernel"].shape == [20, 32]


# --- other kinds of checkpoint ----------------------------------------------------------------


def test_name_based(name_based_ckpt: Path) -> None:
    report = ckptctl.inspect(name_based_ckpt)
    assert report.naming == "name-based"
    assert report.source == "checkpoint"
    assert report.save_counter is None
    assert report.error is None
    got = {v.key: (v.dtype, tuple(v.shape)) for v in report.variables}
    assert got == NAME_BASED_EXPECTED
    for v in report.variables:
        assert v.path is None
        assert v.owner is None
        assert v.full_name is None
        assert v.slot_of is None
        assert v.nbytes == v.num_elements * itemsize(v.dtype)
    assert report.total_params == 6 + 3 + 1


def test_name_based_values_read_back(name_based_ckpt: Path) -> None:
    with ckptctl.open_checkpoint(name_based_ckpt) as ckpt:
        assert ckpt.naming == "name-based"
        assert ckpt.object_graph is None
        for key, value in NAME_BASED_VALUES.items():
            np.testing.assert_array_equal(ckpt.read(key), value)


def test_sharded(sharded_ckpt: Path) -> None:
    report = ckptctl.inspect(sharded_ckpt)
    shards = data_shards(sharded_ckpt)
    assert report.shards == len(shards) >= 2
    files = [index_file(sharded_ckpt), *shards]
    assert report.total_bytes == sum(f.stat().st_size for f in files)
    assert [v.path for v in report.variables] == ["a", "b", "c", "d"]
    for v in report.variables:
        assert (v.dtype, v.shape) == ("float32", [SHARDED_NUM_ELEMENTS])
    assert report.total_params == 4 * SHARDED_NUM_ELEMENTS


def test_saved_model(saved_model_dir: Path) -> None:
    report = ckptctl.inspect(saved_model_dir)
    assert report.source == "saved_model"
    assert report.naming == "object-graph"
    assert report.checkpoint == str(saved_model_dir / "variables" / "variables")
    got = {v.path: (v.dtype, tuple(v.shape)) for v in report.variables}
    assert got == SAVED_MODEL_EXPECTED
    assert report.save_counter is None


def test_every_dtype(dtypes_ckpt: Path) -> None:
    report = ckptctl.inspect(dtypes_ckpt)
    assert report.error is None
    variables = by_path(report)
    assert set(variables) == set(ALL_DTYPES_EXPECTED)
    for name, (dtype, shape) in ALL_DTYPES_EXPECTED.items():
        v = variables[name]
        assert (v.dtype, tuple(v.shape)) == (dtype, shape), name
        assert v.num_elements == math.prod(shape)
        if dtype != "string":
            assert v.nbytes == v.num_elements * itemsize(dtype), name
    assert report.total_params == sum(
        math.prod(shape) for dtype, shape in ALL_DTYPES_EXPECTED.values() if dtype != "string"
    )
    assert {o.name: o.params for o in report.owners}["string"] == 0


def test_string_nbytes_is_what_the_data_shard_holds(dtypes_ckpt: Path) -> None:
    """Strings are stored as varint lengths, a 4-byte masked crc32c, then the bytes."""
    strings: list[bytes] = ALL_DTYPES_VALUES["string"]
    expected = sum(varint_size(len(s)) for s in strings) + 4 + sum(len(s) for s in strings)
    assert by_path(ckptctl.inspect(dtypes_ckpt))["string"].nbytes == expected
    shard = data_shards(dtypes_ckpt)[0].read_bytes()
    lengths = b"".join(varint(len(s)) for s in strings)
    layout = re.escape(lengths) + b".{4}" + re.escape(b"".join(strings))
    found = [m.end() - m.start() for m in re.finditer(layout, shard, re.DOTALL)]
    assert found == [expected]


def test_every_dtype_reads_back_as_tensorflow_reads_it(dtypes_ckpt: Path) -> None:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(dtypes_ckpt))
    with ckptctl.open_checkpoint(dtypes_ckpt) as ckpt:
        for name in ALL_DTYPES_EXPECTED:
            key = name + VARIABLE_SUFFIX
            got, expected = ckpt.read(key), np.asarray(reader.get_tensor(key))
            assert got.shape == expected.shape, name
            assert got.dtype == expected.dtype, name
            if got.dtype == object:
                assert list(got) == list(expected), name
            else:
                assert got.tobytes() == expected.tobytes(), name
        assert list(ckpt.read("string" + VARIABLE_SUFFIX)) == ALL_DTYPES_VALUES["string"]


def test_keras2_checkpoint(keras2_dir: Path) -> None:
    report = ckptctl.inspect(keras2_dir)
    assert report.naming == "object-graph"
    model = [v.path for v in report.variables if v.owner == "model"]
    assert model == [
        "model.dense1.kernel",
        "model.dense1.bias",
        "model.dense2.kernel",
        "model.dense2.bias",
    ]
    assert not any("_kernel" in (v.path or "") for v in report.variables)
    assert {v.owner for v in report.variables} == {"model", "optimizer", "save_counter"}
    assert report.save_counter == len(report.other_checkpoints) + 1


def test_keras2_optimizer_slots_name_their_variable(keras2_dir: Path) -> None:
    """tf-keras slots carry no structural owner; their `full_name` (`Adam/m/my_model/dense/
    kernel`) names the model variable whose `full_name` is the rest."""
    report = ckptctl.inspect(keras2_dir)
    slots = {(v.slot_of, v.slot_name) for v in report.variables if v.slot_of is not None}
    kernels_and_biases = [f"model.dense{i}.{w}" for i in (1, 2) for w in ("kernel", "bias")]
    assert slots == {(path, s) for path in kernels_and_biases for s in ("m", "v")}
    by_path = {v.path: v for v in report.variables}
    for v in report.variables:
        if v.slot_of is not None:
            assert v.shape == by_path[v.slot_of].shape


def test_external_name_based(external_fixtures: Path) -> None:
    parent = external_fixtures / "saved_model_half_plus_two_cpu"
    report = ckptctl.inspect(parent)
    assert report.naming == "name-based"
    assert report.source == "saved_model"
    assert report.note is not None
    assert "00000123" in report.note
    assert [v.key for v in report.variables] == ["a", "a2", "b", "c", "c2"]
    assert all(v.path is None and v.owner is None for v in report.variables)
    assert all((v.dtype, v.shape) == ("float32", []) for v in report.variables)
    expected = {"a": 0.5, "a2": 0.5, "b": 2.0, "c": 3.0, "c2": 3.0}
    with ckptctl.open_checkpoint(parent) as ckpt:
        assert {k: float(ckpt.read(k)) for k in expected} == expected


def test_external_object_based(external_fixtures: Path) -> None:
    """Regression: its object graph ends in NUL bytes, which numpy used to strip."""
    version = external_fixtures / "saved_model_half_plus_two_tf2_cpu" / "00000123"
    report = ckptctl.inspect(version)
    assert report.error is None
    assert report.naming == "object-graph"
    assert report.source == "saved_model"
    assert [(v.path, v.owner) for v in report.variables] == [("a", "a"), ("b", "b"), ("c", "c")]
    tree = ckptctl.inspect(version, tree=True).tree
    assert tree is not None
    assert [c.name for c in tree.children if c.key] == ["a", "b", "c"]
    expected = {"a": 0.5, "b": 2.0, "c": 3.0}
    with ckptctl.open_checkpoint(version) as ckpt:
        assert {p: float(ckpt.read(p + VARIABLE_SUFFIX)) for p in expected} == expected


@pytest.mark.parametrize("backend", ["auto", "tf"])
@pytest.mark.parametrize("call", ["read", "entry", "read_chunks"])
def test_reading_an_unknown_key_says_so(samples_dir: Path, backend: BackendName, call: str) -> None:
    """An intact checkpoint: asking for a key it does not hold is a `CheckpointError` (the
    README: errors are `CkptctlError`s) saying just that, not a missing data shard."""
    prefix = samples_dir / "my_model" / "ckpt-3"
    with ckptctl.open_checkpoint(samples_dir / "my_model", backend=backend) as ckpt:
        assert "model/nope" not in ckpt
        with pytest.raises(CheckpointError) as info:
            if call == "read_chunks":
                list(ckpt.read_chunks("model/nope"))
            else:
                getattr(ckpt, call)("model/nope")
    assert info.value.message == f"{prefix}: no value named 'model/nope' in this checkpoint"
    assert info.value.exit_code == EXIT_UNREADABLE


# --- filter and tree --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("model.*", ["model.dense1._kernel", "model.dense1.bias", "model.dense2._kernel",
                     "model.dense2.bias"]),
        ("*bias*", ["model.dense1.bias", "model.dense2.bias"]),
        ("*._kernel", ["model.dense1._kernel", "model.dense2._kernel"]),
        ("optimizer/_variables/[23]/*", ["optimizer._variables.2", "optimizer._variables.3"]),
        ("save_counter", ["save_counter"]),
        ("save_counter/.ATTRIBUTES/VARIABLE_VALUE", ["save_counter"]),
        ("model/dense?/bias/*", ["model.dense1.bias", "model.dense2.bias"]),
        ("MODEL.*", []),
        ("model", []),
        ("nothing*", []),
    ],
)  # fmt: skip
def test_filter_is_a_glob_on_key_or_path(
    samples_dir: Path, my_model: InspectReport, pattern: str, expected: list[str]
) -> None:
    report = ckptctl.inspect(samples_dir / "my_model", filter=pattern)
    assert [v.path for v in report.variables] == expected
    assert report.filter == pattern
    # Totals describe the whole checkpoint, whatever is shown.
    assert report.total_values == my_model.total_values
    assert report.total_params == my_model.total_params
    assert report.owners == my_model.owners


def test_filter_on_name_based_keys(name_based_ckpt: Path) -> None:
    report = ckptctl.inspect(name_based_ckpt, filter="dense/*")
    assert sorted(v.key for v in report.variables) == ["dense/bias", "dense/kernel"]


def test_tree(samples_dir: Path, my_model: InspectReport) -> None:
    report = ckptctl.inspect(samples_dir / "my_model", tree=True)
    tree = report.tree
    assert isinstance(tree, TreeNode)
    assert tree.name == "(root)"
    assert [c.name for c in tree.children] == ["model", "optimizer", "save_counter"]
    nodes = {n.path: n for n in walk(tree)}
    kernel = nodes["model.dense1._kernel"]
    assert (kernel.key, kernel.dtype, kernel.shape, kernel.alias_of) == (
        "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "float32",
        [20, 16],
        None,
    )
    prefix = "optimizer._trainable_variables."
    aliases = {n.path: n.alias_of for n in walk(tree) if n.path.startswith(prefix)}
    assert aliases == {
        "optimizer._trainable_variables.0": "model.dense1._kernel",
        "optimizer._trainable_variables.1": "model.dense1.bias",
        "optimizer._trainable_variables.2": "model.dense2._kernel",
        "optimizer._trainable_variables.3": "model.dense2.bias",
    }
    assert nodes["optimizer._momentums.0"].alias_of == "optimizer._variables.2"
    for node in walk(tree):
        if node.alias_of is not None:
            assert node.children == []
            assert node.alias_of in nodes
            assert nodes[node.alias_of].alias_of is None
    # Each stored value appears once in the tree, under its own path.
    valued = [n for n in walk(tree) if n.key is not None]
    assert sorted(n.key for n in valued if n.key) == sorted(MY_MODEL_KEYS)
    for n in valued:
        assert by_key(my_model)[n.key or ""].path == n.path
    assert report.to_dict()["tree"]["children"][0]["name"] == "model"


def test_tree_of_a_name_based_checkpoint_is_absent(name_based_ckpt: Path) -> None:
    report = ckptctl.inspect(name_based_ckpt, tree=True)
    assert report.tree is None
    assert len(report.variables) == 3


# --- broken checkpoints -----------------------------------------------------------------------

BREAKABLE = ["my_model", "name_based", "sharded", "dtypes", "saved_model"]


def _source(request: pytest.FixtureRequest, name: str) -> tuple[Path, str]:
    """(checkpoint directory, its prefix relative to that directory)."""
    if name == "my_model":
        return Path(request.getfixturevalue("samples_dir")) / "my_model", "ckpt-3"
    if name == "saved_model":
        return Path(request.getfixturevalue("saved_model_dir")), "variables/variables"
    fixture = {"name_based": "name_based_ckpt", "sharded": "sharded_ckpt", "dtypes": "dtypes_ckpt"}
    prefix = Path(request.getfixturevalue(fixture[name]))
    return prefix.parent, prefix.name


def _broken(
    request: pytest.FixtureRequest,
    broken_copy: BrokenCopy,
    name: str,
    breakage: Callable[[Path], None],
) -> tuple[Path, Path, dict[str, tuple[str, tuple[int, ...]]]]:
    """A broken copy: (its directory, its prefix, what TensorFlow lists in the intact source)."""
    source, relative = _source(request, name)
    intact = tf_entries(source / relative)
    directory = broken_copy(source)
    prefix = directory / relative
    breakage(prefix)
    return directory, prefix, intact


def _errors_reading(path: Path, keys: list[str]) -> list[str]:
    """Messages of inspect's error and of every failed value read; other exceptions escape."""
    messages: list[str] = []
    try:
        report = ckptctl.inspect(path)
        if report.error:
            messages.append(report.error)
    except CheckpointError as e:
        messages.append(e.message)
    with ckptctl.open_checkpoint(path) as ckpt:
        for key in keys:
            try:
                ckpt.read(key)
            except CheckpointError as e:
                assert e.exit_code == EXIT_UNREADABLE
                messages.append(e.message)
    return messages


@pytest.mark.parametrize("breakage", [truncate_index, garbage_index])
@pytest.mark.parametrize("name", BREAKABLE)
def test_unreadable_index(
    request: pytest.FixtureRequest,
    broken_copy: BrokenCopy,
    name: str,
    breakage: Callable[[Path], None],
) -> None:
    directory, prefix, _ = _broken(request, broken_copy, name, breakage)
    with pytest.raises(CheckpointError) as info:
        ckptctl.inspect(directory)
    assert info.value.exit_code == EXIT_UNREADABLE
    assert str(index_file(prefix)) in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("name", BREAKABLE)
def test_missing_data_shard_still_lists_the_index(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    source, relative = _source(request, name)
    deleted = data_shards(source / relative)[0].name
    directory, prefix, intact = _broken(request, broken_copy, name, delete_data_shard)
    report = ckptctl.inspect(directory)
    assert {v.key: (v.dtype, tuple(v.shape)) for v in report.variables} == intact
    assert report.error is not None, "a missing data shard must be reported"
    assert str(prefix.parent / deleted) in report.error
    assert report.error_hint


@pytest.mark.parametrize("name", BREAKABLE)
def test_missing_data_shard_fails_every_read_of_its_values_cleanly(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    source, relative = _source(request, name)
    deleted = data_shards(source / relative)[0].name
    directory, prefix, intact = _broken(request, broken_copy, name, delete_data_shard)
    with ckptctl.open_checkpoint(directory) as ckpt:
        assert {e.key for e in ckpt.entries} == set(intact)
    messages = _errors_reading(directory, sorted(intact))
    assert messages
    for message in messages:
        assert str(prefix.parent / deleted) in message


@pytest.mark.parametrize(
    ("breakage", "words"), [(truncate_data, "truncated ("), (flip_data_byte, "checksum")]
)
@pytest.mark.parametrize("name", BREAKABLE)
def test_corrupt_data_is_reported_naming_the_file(
    request: pytest.FixtureRequest,
    broken_copy: BrokenCopy,
    name: str,
    breakage: Callable[[Path], None],
    words: str,
) -> None:
    directory, prefix, intact = _broken(request, broken_copy, name, breakage)
    shard = data_shards(prefix)[0]
    graph = [OBJECT_GRAPH_KEY] if name != "name_based" else []
    messages = _errors_reading(directory, [*graph, *sorted(intact)])
    assert messages, "the corruption went unnoticed"
    for message in messages:
        assert str(shard) in message, message
        assert words in message


# --- read-only --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*BREAKABLE, "truncated_data"])
def test_inspect_writes_nothing(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, name: str
) -> None:
    if name == "truncated_data":
        directory, _, _ = _broken(request, broken_copy, "my_model", truncate_data)
    else:
        directory, _ = _source(request, name)
    before = snapshot(directory)
    mtime = directory.stat().st_mtime_ns
    ckptctl.inspect(directory)
    ckptctl.inspect(directory, tree=True, filter="*")
    with ckptctl.open_checkpoint(directory) as ckpt:
        for entry in ckpt.entries:
            with contextlib.suppress(CheckpointError):
                ckpt.read(entry.key)
    assert snapshot(directory) == before
    assert directory.stat().st_mtime_ns == mtime
    assert not any(p.name.startswith(".") for p in directory.rglob("*"))

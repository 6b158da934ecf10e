"""`ckptctl.diff` on real checkpoints: pairing, statistics, tolerances, filters, broken inputs.

The checkpoints compared here besides the session fixtures of `conftest.py` are written by the
writers below (also used by `tests/cli/test_diff_cli.py`): an edited copy of `my_model`, the
same model saved under other root names, special float/int/string/bool values, and changed
copies of the name-based and sharded checkpoints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ckptctl
from ckptctl import diffing
from ckptctl.diffing import ChangedValue, DiffReport, diff
from ckptctl.errors import CheckpointError, UsageError
from ckptctl.objgraph import OBJECT_GRAPH_KEY
from ckptctl.reader import BackendName, open_checkpoint
from tests.checkpoints import (
    NAME_BASED_EXPECTED,
    NAME_BASED_VALUES,
    SHARDED_MAX_SHARD_SIZE,
    SHARDED_NUM_ELEMENTS,
    data_shards,
    flip_data_byte,
    truncate_data,
)

BrokenCopy = Callable[[Path], Path]

MODEL_PATHS = {
    "model.dense1._kernel",
    "model.dense1.bias",
    "model.dense2._kernel",
    "model.dense2.bias",
}
EDIT_INDEX = 3
EDIT_DELTA = 1e-3
"""The edited copy of `my_model/ckpt-3` adds EDIT_DELTA to element EDIT_INDEX of dense1.bias."""

INF, NAN = math.inf, math.nan
SPECIAL_A: dict[str, tuple[str, Any]] = {
    "nan_same": ("float32", [1.0, NAN, 3.0]),
    "nan_moved": ("float32", [NAN, 2.0, 3.0]),
    "inf_same": ("float64", [INF, -INF, 1.0]),
    "inf_flipped": ("float64", [INF, 1.0]),
    "words_same": ("string", [b"alpha", b""]),
    "words": ("string", [b"alpha", b"beta"]),
    "flags_same": ("bool", [True, False]),
    "flags": ("bool", [True, False, False]),
    "big_ints": ("int64", [2**63 - 1, -(2**63)]),
    "int_extremes": ("int64", [-(2**63)]),
    "half": ("float16", [1.0, 2.0]),
    "bf16_same": ("bfloat16", [1.5, -2.0]),
    "bf16": ("bfloat16", [1.5]),
    "complex": ("complex64", [1 + 2j]),
    "to_zero": ("float32", [1.0, 0.5]),
}
"""Side A of the special-values pair: attribute -> (dtype, value)."""

SPECIAL_B: dict[str, tuple[str, Any]] = {
    **SPECIAL_A,
    "nan_moved": ("float32", [1.0, NAN, 3.0]),
    "inf_flipped": ("float64", [-INF, 1.0]),
    "words": ("string", [b"alpha", b"gamma"]),
    "flags": ("bool", [True, True, False]),
    "big_ints": ("int64", [2**63 - 2, -(2**63)]),
    "int_extremes": ("int64", [2**63 - 1]),
    "half": ("float16", [1.0, 2.001953125]),
    "bf16": ("bfloat16", [1.5078125]),
    "complex": ("complex64", [1 + 2.5j]),
    "to_zero": ("float32", [1.0, 0.0]),
}
"""Side B: the `*_same` values as in A, each other value changed."""

SPECIAL_UNCHANGED = {"nan_same", "inf_same", "words_same", "flags_same", "bf16_same"}


def float32_bits(*words: int) -> np.ndarray:
    return np.array(words, np.uint32).view(np.float32)


QUIET_NAN, OTHER_NAN, NEGATIVE_NAN = 0x7FC00000, 0x7FC00001, 0xFFC00000
BYTES_A: dict[str, tuple[str, Any]] = {
    "zeros": ("float32", [0.0, -0.0, 1.0]),
    "zeros64": ("float64", [-0.0, 2.0]),
    "zeros16": ("float16", [-0.0, 0.5]),
    "nans": ("float32", float32_bits(QUIET_NAN, 0x3F800000, NEGATIVE_NAN)),  # NaN, 1.0, -NaN
    "one_off": ("float32", [0.0, 1.0, 2.0, 3.0]),
    "nan_and_one_off": ("float32", float32_bits(QUIET_NAN, 0x3F800000)),  # NaN, 1.0
}
"""Side A of a pair whose values differ in their bytes: `BYTES_B` holds the same numbers
with other bytes (-0.0 for 0.0, other NaN payloads and signs), and in `one_off` and
`nan_and_one_off` one element really changed."""

BYTES_B: dict[str, tuple[str, Any]] = {
    "zeros": ("float32", [-0.0, 0.0, 1.0]),
    "zeros64": ("float64", [0.0, 2.0]),
    "zeros16": ("float16", [0.0, 0.5]),
    "nans": ("float32", float32_bits(OTHER_NAN, 0x3F800000, QUIET_NAN)),
    "one_off": ("float32", [-0.0, 1.0, 2.5, 3.0]),
    "nan_and_one_off": ("float32", float32_bits(OTHER_NAN, 0x3FC00000)),  # NaN, 1.5
}


# ---------------------------------------------------------------- writers


def write_keras_variants(samples_dir: Path, out: Path) -> dict[str, Path]:
    """`my_model/ckpt-3` restored into `MyModel` + Adam and written again in several forms.

    `model`, `net` and `root`: the model alone as `Checkpoint(model=m)`, `Checkpoint(net=m)`
    and `Checkpoint(root=m)` (the root is the model). `edited`: model, optimizer and
    save_counter as in ckpt-3 but dense1.bias[EDIT_INDEX] += EDIT_DELTA.
    """
    import tensorflow as tf

    from sample_models.models import MyModel

    model = MyModel()
    model(tf.zeros((1, 20)))
    optimizer = tf.keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    full = tf.train.Checkpoint(model=model, optimizer=optimizer)
    full.restore(str(samples_dir / "my_model" / "ckpt-3")).assert_consumed()
    written = {
        name: Path(tf.train.Checkpoint(**{name: model}).write(str(out / name / "ckpt")))
        for name in ("model", "net", "root")
    }
    model.dense1.bias.assign_add(np.eye(16, dtype=np.float32)[EDIT_INDEX] * EDIT_DELTA)
    written["edited"] = Path(full.write(str(out / "edited" / "ckpt")))
    return written


def write_values(prefix: Path, values: dict[str, tuple[str, Any]]) -> Path:
    """`tf.train.Checkpoint(name=tf.Variable(value), ...)` written at `prefix`."""
    import tensorflow as tf

    variables = {
        name: tf.Variable(tf.constant(value, dtype=dtype), name=name)
        for name, (dtype, value) in values.items()
    }
    return Path(tf.train.Checkpoint(**variables).write(str(prefix)))


def write_name_based_variant(dirpath: Path) -> Path:
    """`write_name_based` with dense/bias[1] = 2.5, global_step = 8 and an Adam slot added."""
    import tensorflow as tf

    values = {**NAME_BASED_VALUES, "dense/bias": [1.0, 2.5, 3.0], "global_step": 8}
    dtypes = {key: dtype for key, (dtype, _) in NAME_BASED_EXPECTED.items()}
    values["dense/kernel/Adam"] = np.zeros((2, 3)).tolist()
    dtypes["dense/kernel/Adam"] = "float32"
    dirpath.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default():
        variables = [
            tf.compat.v1.get_variable(key, initializer=tf.constant(value, dtype=dtypes[key]))
            for key, value in values.items()
        ]
        saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return Path(saver.save(sess, str(dirpath / "model.ckpt")))


def write_sharded_variant(dirpath: Path) -> Path:
    """`write_sharded` with element 100 of `c` changed by 0.25."""
    import tensorflow as tf

    values = {
        name: np.arange(SHARDED_NUM_ELEMENTS, dtype=np.float32) + 10_000.0 * i
        for i, name in enumerate("abcd")
    }
    values["c"][100] += 0.25
    variables = {name: tf.Variable(v, name=name) for name, v in values.items()}
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=SHARDED_MAX_SHARD_SIZE)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    prefix = Path(tf.train.Checkpoint(**variables).write(str(dirpath / "sharded"), options=options))
    assert len(data_shards(prefix)) >= 2
    return prefix


@pytest.fixture(scope="session")
def keras_variants(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_keras_variants(samples_dir, tmp_path_factory.mktemp("keras_variants"))


@pytest.fixture(scope="session")
def special_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("special")
    return write_values(base / "a" / "ckpt", SPECIAL_A), write_values(
        base / "b" / "ckpt", SPECIAL_B
    )


@pytest.fixture(scope="session")
def bytes_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("bytes")
    return write_values(base / "a" / "ckpt", BYTES_A), write_values(base / "b" / "ckpt", BYTES_B)


@pytest.fixture(scope="session")
def name_based_variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_name_based_variant(tmp_path_factory.mktemp("name_based_variant"))


@pytest.fixture(scope="session")
def sharded_variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sharded_variant(tmp_path_factory.mktemp("sharded_variant"))


def changed_by_path(report: DiffReport) -> dict[str, ChangedValue]:
    return {c.path or c.key: c for c in report.changed}


def read_value(prefix: Path, key: str) -> np.ndarray:
    import tensorflow as tf

    return np.asarray(tf.train.load_checkpoint(str(prefix)).get_tensor(key))


# ---------------------------------------------------------------- consecutive and identical


def test_consecutive_checkpoints_change_every_trained_value(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    report = diff(d / "ckpt-1", d / "ckpt-2")
    assert (report.a, report.b) == (str(d / "ckpt-1"), str(d / "ckpt-2"))
    assert report.equal is False
    assert report.only_in_a == report.only_in_b == []
    changed = changed_by_path(report)
    assert MODEL_PATHS | {"save_counter", "optimizer._iterations"} <= set(changed)
    for path in MODEL_PATHS:
        c = changed[path]
        assert c.kind == "values" and c.paired_by == "key" and c.equal is False
        assert c.num_differing == c.num_elements > 0
        assert c.max_abs_diff is not None and 0 < c.max_abs_diff < 1
        assert c.max_rel_diff is not None and c.max_rel_diff > 0
    assert changed["save_counter"].max_abs_diff == 1.0
    assert changed["save_counter"].max_rel_diff == 0.5  # |1 - 2| / 2
    # Only the learning rate stays the same.
    assert (report.unchanged, report.compared) == (1, 15)
    assert len(report.changed) == 14


def test_largest_differences_first(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    diffs = [c.max_abs_diff for c in diff(d / "ckpt-1", d / "ckpt-3").changed]
    assert all(x is not None for x in diffs)
    assert diffs == sorted(diffs, reverse=True)  # type: ignore[type-var]


def test_max_abs_diff_is_the_real_one(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    key = "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    a, b = read_value(d / "ckpt-1", key), read_value(d / "ckpt-3", key)
    c = changed_by_path(diff(d / "ckpt-1", d / "ckpt-3"))["model.dense1._kernel"]
    diff64 = np.abs(a.astype(np.float64) - b.astype(np.float64))
    assert c.max_abs_diff == float(diff64.max())
    assert c.max_rel_diff == float((diff64 / np.abs(b.astype(np.float64))).max())


def test_a_checkpoint_against_itself_is_equal(samples_dir: Path) -> None:
    report = diff(samples_dir / "my_model", samples_dir / "my_model" / "ckpt-3.index")
    assert report.equal is True
    assert report.changed == report.only_in_a == report.only_in_b == []
    assert (report.unchanged, report.compared, report.a_values, report.b_values) == (15, 15, 15, 15)


def test_the_object_graph_is_parsed_only_for_what_is_named(
    samples_dir: Path, keras_variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values that pair by key and compare equal need no object path: a diff against a copy
    parses neither side's object graph. One changed value is named by its path all the same."""
    from ckptctl import objgraph

    parsed: list[int] = []
    real = objgraph.ObjectGraph.key_infos

    def counted(self: objgraph.ObjectGraph) -> dict[str, objgraph.KeyInfo]:
        parsed.append(len(self.nodes))
        return real(self)

    monkeypatch.setattr(objgraph.ObjectGraph, "key_infos", counted)
    original = samples_dir / "my_model" / "ckpt-3"
    assert diff(original, original).equal is True
    assert parsed == []
    report = diff(original, keras_variants["edited"])
    assert [c.path for c in report.changed] == ["model.dense1.bias"]
    assert len(parsed) == 2  # graphs written by other code: each parsed
    # --model-only asks each value its kind: the graph is parsed (two Dense layers: 4 values),
    # once for both sides, as it is the same graph byte for byte
    assert diff(original, original, model_only=True).unchanged == 4
    assert len(parsed) == 3
    # Two checkpoints of one training run: one graph, parsed once, naming both sides' values
    report = diff(samples_dir / "my_model" / "ckpt-2", original)
    assert {c.path for c in report.changed} >= MODEL_PATHS
    assert all(c.b_path == c.path for c in report.changed)
    assert len(parsed) == 4


def test_two_checkpoints_of_one_model_share_one_parsed_graph(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    with open_checkpoint(d / "ckpt-1") as a, open_checkpoint(d / "ckpt-2") as b:
        b.share_graph(a)
        assert b.object_graph is a.object_graph
        assert b.key_infos is a.key_infos
        assert b.key_infos["model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"].path == (
            "model.dense1._kernel"
        )


def test_a_graph_of_the_same_size_with_other_names_is_not_shared(tmp_path: Path) -> None:
    """`gamma` and `delta` are as long: the two graphs are of one size, not the same."""
    a = write_values(
        tmp_path / "a" / "ckpt", {"alpha": ("float32", [1.0]), "gamma": ("float32", [2.0])}
    )
    b = write_values(
        tmp_path / "b" / "ckpt", {"alpha": ("float32", [1.5]), "delta": ("float32", [2.0])}
    )
    with open_checkpoint(a) as ca, open_checkpoint(b) as cb:
        assert ca.entry(OBJECT_GRAPH_KEY).nbytes == cb.entry(OBJECT_GRAPH_KEY).nbytes
        cb.share_graph(ca)
        assert cb.object_graph is not ca.object_graph
        assert cb.key_infos["delta/.ATTRIBUTES/VARIABLE_VALUE"].path == "delta"
    report = diff(a, b)
    assert [(v.path, v.key) for v in report.only_in_b] == [
        ("delta", "delta/.ATTRIBUTES/VARIABLE_VALUE")
    ]
    assert [v.path for v in report.only_in_a] == ["gamma"]
    assert [(c.path, c.b_path) for c in report.changed] == [("alpha", "alpha")]


def test_equal_values_in_other_bytes_are_equal(bytes_pair: tuple[Path, Path]) -> None:
    """Not the identical-bytes fast path: -0.0 equals 0.0 and NaN equals NaN whatever its
    payload and sign; one element changed is reported with its exact numbers."""
    a, b = bytes_pair
    for name in BYTES_A:  # the pair really differs in its bytes, as written
        assert (
            read_value(a, name + "/.ATTRIBUTES/VARIABLE_VALUE").tobytes()
            != read_value(b, name + "/.ATTRIBUTES/VARIABLE_VALUE").tobytes()
        ), name
    report = diff(a, b)
    assert report.unchanged == 4
    changed = changed_by_path(report)
    assert set(changed) == {"one_off", "nan_and_one_off"}
    one_off = changed["one_off"]
    assert (one_off.num_differing, one_off.nan_mismatch) == (1, 0)
    assert (one_off.max_abs_diff, one_off.max_rel_diff) == (0.5, 0.2)
    nan = changed["nan_and_one_off"]
    assert (nan.num_differing, nan.nan_mismatch) == (1, 0)
    assert (nan.max_abs_diff, nan.max_rel_diff) == (0.5, 0.5 / 1.5)
    for name in ("zeros", "zeros64", "zeros16", "nans"):
        alone = diff(a, b, filter=name)
        assert (alone.equal, alone.unchanged, alone.changed) == (True, 1, []), name


def test_signed_zeros_alone_in_a_chunk_change_no_relative_difference(
    bytes_pair: tuple[Path, Path],
) -> None:
    """Read one element at a time, `one_off`'s first chunk is 0.0 against -0.0: equal, so
    the largest relative difference stays the real one, 0.2 (found in the third chunk)."""
    report = diff(*bytes_pair, filter="one_off", chunk_bytes=4)
    (c,) = report.changed
    assert (c.max_abs_diff, c.max_rel_diff, c.num_differing) == (0.5, 0.2, 1)


def test_lazy_export() -> None:
    assert ckptctl.diff is diffing.diff
    assert "diff" in ckptctl.__all__


# ---------------------------------------------------------------- one edited value, tolerances


def test_one_edited_value(samples_dir: Path, keras_variants: dict[str, Path]) -> None:
    original = samples_dir / "my_model" / "ckpt-3"
    report = diff(original, keras_variants["edited"])
    assert report.equal is False
    assert [c.path for c in report.changed] == ["model.dense1.bias"]
    assert (report.unchanged, report.only_in_a, report.only_in_b) == (14, [], [])
    (c,) = report.changed
    key = "model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE"
    a = read_value(original, key).astype(np.float64)
    b = read_value(keras_variants["edited"], key).astype(np.float64)
    assert c.max_abs_diff == abs(a[EDIT_INDEX] - b[EDIT_INDEX])
    assert c.max_abs_diff == pytest.approx(EDIT_DELTA, rel=1e-3)
    assert c.max_rel_diff == abs(a[EDIT_INDEX] - b[EDIT_INDEX]) / abs(b[EDIT_INDEX])
    assert (c.num_differing, c.num_elements, c.nan_mismatch) == (1, 16, 0)


def test_tolerances_larger_than_the_change_make_it_equal(
    samples_dir: Path, keras_variants: dict[str, Path]
) -> None:
    original = samples_dir / "my_model" / "ckpt-3"
    assert diff(original, keras_variants["edited"], atol=2 * EDIT_DELTA).equal is True
    assert diff(original, keras_variants["edited"], atol=EDIT_DELTA / 2).equal is False
    rel = diff(original, keras_variants["edited"]).changed[0].max_rel_diff
    assert rel is not None
    assert diff(original, keras_variants["edited"], rtol=rel * 1.01).equal is True
    assert diff(original, keras_variants["edited"], rtol=rel * 0.99).equal is False


@pytest.mark.parametrize("tolerances", [{"atol": -1.0}, {"rtol": -0.1}, {"atol": math.nan}])
def test_bad_tolerances_are_usage_errors(samples_dir: Path, tolerances: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        diff(samples_dir / "my_model", samples_dir / "my_model", **tolerances)


# ---------------------------------------------------------------- shapes, Keras 2 vs 3


def test_shape_change(samples_dir: Path) -> None:
    report = diff(samples_dir / "my_model", samples_dir / "versioned_model")
    kernel = changed_by_path(report)["model.dense1._kernel"]
    assert (kernel.kind, kernel.a_shape, kernel.b_shape) == ("shape", [20, 16], [20, 32])
    assert (kernel.a_dtype, kernel.b_dtype) == ("float32", "float32")
    assert kernel.max_abs_diff is kernel.max_rel_diff is kernel.num_differing is None
    assert kernel.equal is False
    # dense2.bias keeps its shape [10] and is compared.
    bias = changed_by_path(report)["model.dense2.bias"]
    assert bias.kind == "values" and bias.max_abs_diff is not None


def test_keras2_against_keras3(keras2_dir: Path, samples_dir: Path) -> None:
    report = diff(keras2_dir, samples_dir / "my_model", model_only=True)
    assert {v.path for v in report.only_in_a} == {"model.dense1.kernel", "model.dense2.kernel"}
    assert {v.path for v in report.only_in_b} == {"model.dense1._kernel", "model.dense2._kernel"}
    # The biases have the same keys and are compared: trained 2 steps (Keras 2) against 3.
    assert report.compared == 2
    assert {c.path for c in report.changed} == {"model.dense1.bias", "model.dense2.bias"}
    assert all(c.kind == "values" and c.max_abs_diff for c in report.changed)


# ---------------------------------------------------------------- NaN, inf, strings, bools, ints


def test_special_values(special_pair: tuple[Path, Path]) -> None:
    report = diff(*special_pair)
    changed = changed_by_path(report)
    assert set(changed) == set(SPECIAL_A) - SPECIAL_UNCHANGED
    assert report.unchanged == len(SPECIAL_UNCHANGED)

    nan = changed["nan_moved"]
    assert (nan.num_differing, nan.nan_mismatch, nan.max_abs_diff) == (2, 2, 0.0)
    inf = changed["inf_flipped"]
    assert (inf.num_differing, inf.max_abs_diff, inf.max_rel_diff) == (1, INF, INF)
    for name in ("words", "flags"):
        c = changed[name]
        assert (c.num_differing, c.max_abs_diff, c.max_rel_diff) == (1, None, None), name
    assert changed["big_ints"].max_abs_diff == 1.0
    assert changed["big_ints"].max_rel_diff == 1 / (2**63 - 2)
    assert changed["int_extremes"].max_abs_diff == float(2**64 - 1)
    assert changed["half"].max_abs_diff == 2**-9
    assert changed["bf16"].max_abs_diff == 2**-7
    assert changed["complex"].max_abs_diff == pytest.approx(0.5)
    assert changed["complex"].max_rel_diff == pytest.approx(0.5 / abs(1 + 2.5j))
    # B is 0 where A is not: the relative difference is infinite.
    assert (changed["to_zero"].max_abs_diff, changed["to_zero"].max_rel_diff) == (0.5, INF)
    assert [c.path for c in report.changed][:2] == ["inf_flipped", "int_extremes"]
    assert [c.path for c in report.changed][-2:] == ["flags", "words"]


def test_tolerances_never_loosen_nan_inf_strings_or_bools(special_pair: tuple[Path, Path]) -> None:
    report = diff(*special_pair, atol=1.0, rtol=0.5)
    assert {c.path for c in report.changed} == {
        "nan_moved",
        "inf_flipped",
        "words",
        "flags",
        "int_extremes",
    }
    assert report.unchanged == len(SPECIAL_A) - 5


def test_to_dict_is_strict_json(special_pair: tuple[Path, Path]) -> None:
    doc = diff(*special_pair).to_dict()
    text = json.dumps(doc, allow_nan=False)
    changed = {c["path"]: c for c in json.loads(text)["changed"]}
    assert changed["inf_flipped"]["max_abs_diff"] == "inf"
    assert changed["to_zero"]["max_rel_diff"] == "inf"
    assert changed["to_zero"]["max_abs_diff"] == 0.5
    assert changed["words"]["max_abs_diff"] is None


# ---------------------------------------------------------------- name-based and sharded


def test_name_based_against_a_changed_copy(name_based_ckpt: Path, name_based_variant: Path) -> None:
    report = diff(name_based_ckpt, name_based_variant)
    assert (report.a_naming, report.b_naming) == ("name-based", "name-based")
    changed = changed_by_path(report)
    assert set(changed) == {"dense/bias", "global_step"}
    assert changed["dense/bias"].path is None
    assert changed["dense/bias"].max_abs_diff == 0.5
    assert changed["dense/bias"].num_differing == 1
    assert changed["global_step"].max_abs_diff == 1.0
    assert [v.key for v in report.only_in_b] == ["dense/kernel/Adam"]
    assert report.unchanged == 1


def test_name_based_model_only_leaves_out_slots_and_counters(
    name_based_ckpt: Path, name_based_variant: Path
) -> None:
    report = diff(name_based_ckpt, name_based_variant, model_only=True)
    assert [c.key for c in report.changed] == ["dense/bias"]
    assert report.only_in_b == []
    assert (report.unchanged, report.a_values, report.b_values) == (1, 2, 2)


def test_name_based_against_itself(name_based_ckpt: Path) -> None:
    assert diff(name_based_ckpt, name_based_ckpt).equal is True


def test_sharded_against_itself(sharded_ckpt: Path) -> None:
    report = diff(sharded_ckpt, sharded_ckpt)
    assert report.equal is True
    assert report.unchanged == 4


def test_sharded_against_a_changed_copy(sharded_ckpt: Path, sharded_variant: Path) -> None:
    report = diff(sharded_ckpt, sharded_variant)
    (c,) = report.changed
    assert c.path == "c"
    assert (c.num_differing, c.num_elements, c.max_abs_diff) == (1, SHARDED_NUM_ELEMENTS, 0.25)
    assert report.unchanged == 3


# ---------------------------------------------------------------- chunks and progress


@pytest.mark.parametrize("pair", ["consecutive", "special", "sharded"])
def test_tiny_chunks_give_the_same_report(
    request: pytest.FixtureRequest, pair: str, samples_dir: Path
) -> None:
    a: Path
    b: Path
    if pair == "consecutive":
        a, b = samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model" / "ckpt-2"
    elif pair == "special":
        a, b = request.getfixturevalue("special_pair")
    else:
        a, b = request.getfixturevalue("sharded_ckpt"), request.getfixturevalue("sharded_variant")
    whole = diff(a, b).to_dict()
    for chunk_bytes in (1, 12, 1000):
        assert diff(a, b, chunk_bytes=chunk_bytes).to_dict() == whole, chunk_bytes


@pytest.mark.parametrize("pair", ["consecutive", "special", "sharded", "name_based"])
def test_every_backend_gives_the_same_report(
    request: pytest.FixtureRequest, pair: str, samples_dir: Path
) -> None:
    a: Path
    b: Path
    if pair == "consecutive":
        a, b = samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model" / "ckpt-2"
    elif pair == "special":
        a, b = request.getfixturevalue("special_pair")
    elif pair == "sharded":
        a, b = request.getfixturevalue("sharded_ckpt"), request.getfixturevalue("sharded_variant")
    else:
        a = request.getfixturevalue("name_based_ckpt")
        b = request.getfixturevalue("name_based_variant")
    reports = [diff(a, b, backend=backend).to_dict() for backend in ("auto", "tf")]
    for r in reports:
        r.pop("notes")
    assert reports[0] == reports[1]
    assert reports[0]["changed"]


def test_progress_reaches_the_total(samples_dir: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    d = samples_dir / "my_model"
    diff(d / "ckpt-1", d / "ckpt-2", chunk_bytes=256, progress=lambda *a: calls.append(a))
    done = [c[1] for c in calls]
    assert done == sorted(done)
    total = calls[-1][2]
    # Every value's bytes: 1521 elements, float32 but for two int64 counters.
    assert done[-1] == total == (1521 - 2) * 4 + 2 * 8
    assert len(calls) > 15  # per chunk, not only per value
    assert {c[0] for c in calls} >= MODEL_PATHS


# ---------------------------------------------------------------- filter, --model-only


def test_model_only_leaves_out_the_optimizer_and_save_counter(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    report = diff(d / "ckpt-1", d / "ckpt-2", model_only=True)
    assert {c.path for c in report.changed} == MODEL_PATHS
    assert (report.unchanged, report.a_values, report.b_values) == (0, 4, 4)


def test_model_only_on_only_in_values(keras2_dir: Path, samples_dir: Path) -> None:
    full = diff(keras2_dir, samples_dir / "my_model")
    assert any(v.path and v.path.startswith("optimizer.") for v in full.only_in_a)
    model_only = diff(keras2_dir, samples_dir / "my_model", model_only=True)
    for v in [*model_only.only_in_a, *model_only.only_in_b]:
        assert v.path is not None and v.path.startswith("model."), v


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*bias*", {"model.dense1.bias", "model.dense2.bias"}),
        ("model/dense1/*", {"model.dense1._kernel", "model.dense1.bias"}),
        ("save_counter", {"save_counter"}),
        ("nothing*", set()),
    ],
)
def test_filter_matches_key_or_path(samples_dir: Path, pattern: str, expected: set[str]) -> None:
    d = samples_dir / "my_model"
    report = diff(d / "ckpt-1", d / "ckpt-2", filter=pattern)
    assert {c.path for c in report.changed} == expected
    assert report.filter == pattern
    assert report.a_values == len(expected)


# ---------------------------------------------------------------- pairing by path


def test_same_model_under_another_root_name_pairs_by_path(keras_variants: dict[str, Path]) -> None:
    report = diff(keras_variants["model"], keras_variants["net"])
    assert report.equal is True
    assert (report.unchanged, report.paired_by_path) == (4, 4)
    assert [(r.a, r.b, r.values) for r in report.renamed] == [("model", "net", 4)]


def test_paired_values_that_differ_name_both_keys(keras_variants: dict[str, Path]) -> None:
    report = diff(keras_variants["edited"], keras_variants["net"], model_only=True)
    (c,) = report.changed
    assert (c.path, c.b_path, c.paired_by) == ("model.dense1.bias", "net.dense1.bias", "path")
    assert (c.key, c.b_key) == (
        "model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE",
        "net/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE",
    )
    assert c.max_abs_diff == pytest.approx(EDIT_DELTA, rel=1e-3)
    assert report.unchanged == 3


def test_root_model_pairs_with_a_child_model(keras_variants: dict[str, Path]) -> None:
    report = diff(keras_variants["root"], keras_variants["model"])
    assert report.equal is True
    assert [(r.a, r.b) for r in report.renamed] == [(".", "model")]


def test_no_pairing_by_path_when_the_structure_differs(
    keras_variants: dict[str, Path], samples_dir: Path
) -> None:
    """custom_model's sub-paths (`dense1.w`) are not MyModel's (`dense1._kernel`)."""
    report = diff(keras_variants["net"], samples_dir / "custom_model", model_only=True)
    assert report.renamed == []
    assert report.paired_by_path == 0
    assert len(report.only_in_a) == 4


# ---------------------------------------------------------------- broken inputs


@pytest.mark.parametrize("backend", ["auto", "tf"])
def test_truncated_shard_names_the_file(
    samples_dir: Path, broken_copy: BrokenCopy, backend: BackendName
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    truncate_data(directory / "ckpt-3")
    with pytest.raises(CheckpointError) as e:
        diff(samples_dir / "my_model", directory, backend=backend)
    assert str(data_shards(directory / "ckpt-3")[0]) in e.value.message


@pytest.mark.parametrize("backend", ["auto", "tf"])
def test_truncated_shard_of_a_sharded_checkpoint(
    sharded_ckpt: Path, broken_copy: BrokenCopy, backend: BackendName
) -> None:
    prefix = broken_copy(sharded_ckpt.parent) / sharded_ckpt.name
    truncate_data(prefix)
    with pytest.raises(CheckpointError) as e:
        diff(prefix, sharded_ckpt, backend=backend)
    # Found from the files' sizes before any value is read, whichever reader reads the values.
    assert str(data_shards(prefix)[0]) in e.value.message
    assert "a/.ATTRIBUTES/VARIABLE_VALUE" in e.value.message


@pytest.mark.parametrize("backend", ["auto", "tf"])
def test_flipped_byte_names_the_value_and_the_file(
    sharded_ckpt: Path, broken_copy: BrokenCopy, backend: BackendName
) -> None:
    directory = broken_copy(sharded_ckpt.parent)
    prefix = directory / sharded_ckpt.name
    flip_data_byte(prefix)
    with pytest.raises(CheckpointError) as e:
        diff(sharded_ckpt, prefix, backend=backend)
    assert str(data_shards(prefix)[0]) in e.value.message
    assert "a/.ATTRIBUTES/VARIABLE_VALUE" in e.value.message
    assert "checksum" in e.value.message


def test_missing_path(samples_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as e:
        diff(samples_dir / "my_model", tmp_path / "nope")
    assert str(tmp_path / "nope") in e.value.message


def test_chunks_with_different_boundaries_are_realigned() -> None:
    """Both sides' streams are cut into pieces of equal length, element for element."""
    a = iter([np.arange(0, 5), np.arange(5, 10)])
    b = iter([np.arange(0, 3), np.arange(3, 4), np.arange(4, 10)])
    pieces = list(diffing.aligned_chunks(a, b))
    assert [(list(x), list(y)) for x, y in pieces] == [
        ([0, 1, 2], [0, 1, 2]),
        ([3], [3]),
        ([4], [4]),
        ([5, 6, 7, 8, 9], [5, 6, 7, 8, 9]),
    ]

"""`inspect --stats`: streaming statistics equal numpy's over the whole tensor, in any chunking."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ckptctl
from ckptctl.cli.app import app
from ckptctl.reader import open_checkpoint
from ckptctl.stats import value_stats
from tests.checkpoints import flip_data_byte


@pytest.fixture(scope="session")
def stats_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    import tensorflow as tf

    rng = np.random.default_rng(7)
    values = {
        "big": (rng.standard_normal((1000, 997)) * 3 + 100).astype(np.float32),
        "with_nan": np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 0.0, 0.0], np.float32),
        "all_nan": np.full((4,), np.nan, np.float32),
        "ints": rng.integers(-1000, 1000, (5000,)).astype(np.int64),
        "halves": rng.standard_normal((3000,)).astype(np.float16),
        "flags": rng.integers(0, 2, (999,)).astype(bool),
        "empty": np.zeros((0, 3), np.float32),
    }
    module = tf.Module()
    for name, value in values.items():
        setattr(module, name, tf.Variable(value))
    directory = tmp_path_factory.mktemp("stats")
    prefix = tf.train.Checkpoint(m=module).save(str(directory / "ckpt"))
    return Path(prefix), values


def _key(name: str) -> str:
    return f"m/{name}/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize("chunk_bytes", [64, 4096, 1 << 20, 64 << 20])
@pytest.mark.parametrize("name", ["big", "ints", "halves", "flags"])
def test_statistics_equal_numpy_whatever_the_chunk_size(
    stats_ckpt: tuple[Path, dict[str, np.ndarray]], name: str, chunk_bytes: int
) -> None:
    prefix, values = stats_ckpt
    expected = values[name].astype(np.float64).reshape(-1)
    with open_checkpoint(prefix) as ckpt:
        st = value_stats(ckpt, ckpt.entry(_key(name)), chunk_bytes=chunk_bytes)
    assert st.count == expected.size
    assert st.min == pytest.approx(expected.min())
    assert st.max == pytest.approx(expected.max())
    assert st.mean == pytest.approx(expected.mean(), rel=1e-6, abs=1e-9)
    assert st.std == pytest.approx(expected.std(), rel=1e-5)
    assert st.zeros == pytest.approx(np.count_nonzero(expected == 0) / expected.size)
    assert st.nan == st.inf == 0


def test_nan_and_inf_are_counted_and_left_out_of_the_moments(
    stats_ckpt: tuple[Path, dict[str, np.ndarray]],
) -> None:
    prefix, _ = stats_ckpt
    with open_checkpoint(prefix) as ckpt:
        st = value_stats(ckpt, ckpt.entry(_key("with_nan")), hist_bins=4)
        none = value_stats(ckpt, ckpt.entry(_key("all_nan")))
        empty = value_stats(ckpt, ckpt.entry(_key("empty")))
    finite = np.array([1.0, 3.0, 0.0, 0.0])
    assert (st.nan, st.inf) == (1, 2)
    assert (st.min, st.max) == (0.0, 3.0)
    assert st.mean == pytest.approx(finite.mean())
    assert st.std == pytest.approx(finite.std())
    assert st.zeros == pytest.approx(2 / 7)
    assert st.hist is not None and sum(st.hist) == finite.size
    assert (none.nan, none.min, none.mean, none.std) == (4, None, None, None)
    assert (empty.count, empty.min, empty.zeros) == (0, None, None)


def test_cli_stats_json_and_the_nonfinite_gate(
    stats_ckpt: tuple[Path, dict[str, np.ndarray]],
) -> None:
    prefix, _ = stats_ckpt
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", str(prefix), "--stats", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["nonfinite"] == 1 + 2 + 4
    by_path = {v["path"]: v["stats"] for v in doc["variables"]}
    assert by_path["m.with_nan"]["nan"] == 1
    # The control: the same checkpoint without the gate exits 0.
    assert runner.invoke(app, ["inspect", str(prefix), "--stats"]).exit_code == 0
    gate = runner.invoke(app, ["inspect", str(prefix), "--fail-on-nonfinite"])
    assert gate.exit_code == 1
    # with_nan holds 1 NaN and 2 Inf, all_nan 4 NaN: 7 values in 2 tensors.
    assert gate.stderr == f"error: {prefix}: 7 NaN or Inf values in 2 tensors\n"
    assert "NaN/Inf" in gate.stdout, "--fail-on-nonfinite implies --stats: the stats table"
    gate_json = runner.invoke(app, ["inspect", str(prefix), "--fail-on-nonfinite", "--json"])
    assert gate_json.exit_code == 1
    gated = json.loads(gate_json.stdout)
    assert gated["nonfinite"] == 7
    assert all(v["stats"] is not None for v in gated["variables"])
    clean = runner.invoke(app, ["inspect", str(prefix), "--fail-on-nonfinite", "-f", "m.big"])
    assert clean.exit_code == 0, clean.output
    assert clean.stderr == ""


def test_stats_json_is_strict_even_when_a_moment_overflows(tmp_path: Path) -> None:
    import tensorflow as tf

    v = tf.Variable(np.array([1e300, -1e300, 1e300], np.float64))
    prefix = tf.train.Checkpoint(v=v).save(str(tmp_path / "c"))
    result = CliRunner().invoke(app, ["inspect", prefix, "--stats", "--json"])
    assert result.exit_code == 0, result.output

    def reject(token: str) -> None:
        raise ValueError(token)

    doc = json.loads(result.stdout, parse_constant=reject)
    (stats,) = [v["stats"] for v in doc["variables"] if v["path"] == "v"]
    # Whatever the moments do, the document holds numbers or the documented strings only.
    for name in ("min", "max", "mean", "std"):
        assert isinstance(stats[name], float) or stats[name] in ("inf", "-inf", "nan"), name
    assert (stats["min"], stats["max"], stats["count"]) == (-1e300, 1e300, 3)


@pytest.mark.parametrize(
    "values",
    [
        [8.791977e-05, 8.791979e-05],  # a trained Adam slot: float32 neighbours
        [1.0, float(np.nextafter(np.float32(1.0), np.float32(2.0)))],
        [3.5, 3.5, 3.5],
        [-1e38, 3e38],
    ],
    ids=str,
)
def test_histogram_of_a_narrow_or_wide_float32_range(tmp_path: Path, values: list[float]) -> None:
    """The range between two neighbouring float32 values has no room for ten float32 bins:
    the histogram is still made (in float64), every value counted once."""
    import tensorflow as tf

    v = tf.Variable(np.array(values, np.float32))
    prefix = tf.train.Checkpoint(v=v).save(str(tmp_path / "c"))
    result = CliRunner().invoke(app, ["inspect", prefix, "--stats", "--hist", "--json"])
    assert result.exit_code == 0, result.output
    (stats,) = [v["stats"] for v in json.loads(result.stdout)["variables"] if v["path"] == "v"]
    assert len(stats["hist"]) == 10 and sum(stats["hist"]) == len(values), stats


@pytest.mark.parametrize(
    "values", [[1e300, -1e300, 1e300], [1e308, 1e308], [-1.7e308, 1.7e308]], ids=str
)
def test_mean_and_std_of_huge_finite_values_are_finite(tmp_path: Path, values: list[float]) -> None:
    """The mean and standard deviation of finite float64 values always fit in a float64
    (|mean| <= max |x|, std <= (max - min) / 2): the one right answer is the true value."""
    import tensorflow as tf

    v = tf.Variable(np.array(values, np.float64))
    prefix = tf.train.Checkpoint(v=v).write(str(tmp_path / "c"))
    result = CliRunner().invoke(app, ["inspect", prefix, "--stats", "--json"])
    assert result.exit_code == 0, result.output
    (stats,) = [v["stats"] for v in json.loads(result.stdout)["variables"] if v["path"] == "v"]
    exact = [Fraction(x) for x in values]
    mean = sum(exact) / len(exact)
    variance = sum((x - mean) ** 2 for x in exact) / len(exact)
    assert stats["mean"] == pytest.approx(float(mean), rel=1e-12)
    assert stats["std"] == pytest.approx(math.sqrt(float(variance / 10**600)) * 1e300, rel=1e-12)


def test_a_flipped_byte_fails_stats_naming_the_file(
    stats_ckpt: tuple[Path, dict[str, np.ndarray]], broken_copy: Callable[[Path], Path]
) -> None:
    prefix, _ = stats_ckpt
    directory = broken_copy(prefix.parent)
    flip_data_byte(directory / prefix.name)
    report = ckptctl.inspect(directory, stats=True)
    assert report.error is not None
    assert "checksum" in report.error
    assert ".data-00000-of-00001" in report.error
    result = CliRunner().invoke(app, ["inspect", str(directory), "--stats"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output


@pytest.mark.parametrize("chunk_bytes", [8, 16, 1 << 20])
def test_huge_and_small_values_merged_across_chunks(tmp_path: Path, chunk_bytes: int) -> None:
    """Chunks near the float64 limit (scaled) merge with ordinary ones (not scaled): the mean
    and standard deviation are the exact ones, whatever the chunk boundaries."""
    import tensorflow as tf

    values = [1e308, 1.0, -1.7e308, 2.5, 1.7e308, -3.0, 1e300]
    v = tf.Variable(np.array(values, np.float64))
    prefix = tf.train.Checkpoint(v=v).write(str(tmp_path / "c"))
    with open_checkpoint(prefix) as ckpt:
        st = value_stats(ckpt, ckpt.entry("v/.ATTRIBUTES/VARIABLE_VALUE"), chunk_bytes=chunk_bytes)
    exact = [Fraction(x) for x in values]
    mean = sum(exact) / len(exact)
    variance = sum((x - mean) ** 2 for x in exact) / len(exact)
    assert st.mean == pytest.approx(float(mean), rel=1e-12)
    assert st.std == pytest.approx(math.sqrt(float(variance / 10**600)) * 1e300, rel=1e-12)
    assert (st.min, st.max, st.nan, st.inf) == (-1.7e308, 1.7e308, 0, 0)


@pytest.fixture(scope="module")
def many_chunks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Values of many chunks: weights centred on zero (with exact zeros), values all positive,
    and values far from zero, each a length that is not a multiple of 8,192."""
    import tensorflow as tf

    rng = np.random.default_rng(11)
    weights = (rng.standard_normal(300_001) * 0.02).astype(np.float32)
    weights[::997] = 0.0
    values = {
        "weights": weights,
        "positive": rng.uniform(1.0, 2.0, 123_457).astype(np.float32),
        "offset": (rng.standard_normal(200_003) * 0.5 - 40.0).astype(np.float32),
    }
    module = tf.Module()
    for name, value in values.items():
        setattr(module, name, tf.Variable(value))
    directory = tmp_path_factory.mktemp("many_chunks")
    return Path(tf.train.Checkpoint(m=module).write(str(directory / "ckpt"))), values


@pytest.mark.parametrize("chunk_bytes", [4096, 65_536, 100_000, 1 << 20])
@pytest.mark.parametrize("name", ["weights", "positive", "offset"])
def test_statistics_of_many_chunks_equal_numpy_over_the_whole_array(
    many_chunks: tuple[Path, dict[str, np.ndarray]], name: str, chunk_bytes: int
) -> None:
    prefix, values = many_chunks
    expected = values[name].astype(np.float64)
    with open_checkpoint(prefix) as ckpt:
        st = value_stats(ckpt, ckpt.entry(_key(name)), chunk_bytes=chunk_bytes)
    assert (st.count, st.min, st.max) == (expected.size, expected.min(), expected.max())
    assert st.mean == pytest.approx(expected.mean(), rel=1e-6, abs=1e-9)
    assert st.std == pytest.approx(expected.std(), rel=1e-5)
    assert st.zeros == np.count_nonzero(expected == 0) / expected.size
    assert st.nan == st.inf == 0


def test_chunks_reduced_on_two_threads_merge_in_order(
    many_chunks: tuple[Path, dict[str, np.ndarray]],
) -> None:
    """The result does not depend on which thread reduced which chunk: it is the in-order
    merge of every chunk's partial statistics, bit for bit."""
    from ckptctl.array_stats import reduce_chunk
    from ckptctl.stats import _Part

    prefix, _ = many_chunks
    with open_checkpoint(prefix) as ckpt:
        key = _key("weights")
        st = value_stats(ckpt, ckpt.entry(key), chunk_bytes=4096)
        serial = _Part()
        for chunk in ckpt.read_chunks(key, 4096):
            serial = serial.merge(reduce_chunk(chunk))
    assert (st.mean, st.std, st.min, st.max) == (serial.mean, serial.std, serial.lo, serial.hi)


@pytest.mark.parametrize("chunk", [0, 7, 36])
def test_a_flipped_byte_in_any_chunk_fails_the_checksum(
    many_chunks: tuple[Path, dict[str, np.ndarray]],
    broken_copy: Callable[[Path], Path],
    chunk: int,
) -> None:
    """The value of 1,200,004 bytes in 37 chunks of 32 KiB, with one byte flipped in one."""
    from ckptctl.errors import CheckpointError

    prefix, values = many_chunks
    directory = broken_copy(prefix.parent)
    (shard,) = directory.glob(f"{prefix.name}.data-*")
    data = bytearray(shard.read_bytes())
    start = bytes(data).index(values["weights"].tobytes())
    data[start + chunk * 32768 + 5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with open_checkpoint(directory / prefix.name) as ckpt:
        e = ckpt.entry(_key("weights"))
        corrupt = r"data-00000-of-00001: corrupt \(value .*checksum"
        with pytest.raises(CheckpointError, match=corrupt):
            value_stats(ckpt, e, chunk_bytes=32768)


@pytest.fixture(scope="module")
def int_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Integer values of every width, some near their type's limits, on both sides of the
    size up to which they are reduced in Python (:data:`ckptctl.stats.SMALL_INTS`)."""
    import tensorflow as tf

    from ckptctl.stats import SMALL_INTS

    rng = np.random.default_rng(3)
    values = {
        "step": np.array(1000, np.int64),
        "near_limit": np.array([2**62, 2**62 + 1, -(2**62), 2**63 - 1, 7], np.int64),
        "unsigned": np.array([2**64 - 1, 0, 2**63], np.uint64),
        "bytes": rng.integers(-128, 128, (300,)).astype(np.int8),
        "at_limit": rng.integers(-(2**31), 2**31, (SMALL_INTS,)).astype(np.int32),
        "past_limit": rng.integers(-(2**31), 2**31, (SMALL_INTS + 1,)).astype(np.int32),
        "shorts": rng.integers(0, 2**16, (1000,)).astype(np.uint16),
    }
    module = tf.Module()
    for name, value in values.items():
        setattr(module, name, tf.Variable(value))
    directory = tmp_path_factory.mktemp("ints")
    return Path(tf.train.Checkpoint(m=module).write(str(directory / "ckpt"))), values


@pytest.mark.parametrize("chunk_bytes", [16, 4096, 1 << 20])
@pytest.mark.parametrize(
    "name", ["step", "near_limit", "unsigned", "bytes", "at_limit", "past_limit", "shorts"]
)
def test_integer_statistics_are_the_exact_ones(
    int_ckpt: tuple[Path, dict[str, np.ndarray]], name: str, chunk_bytes: int
) -> None:
    """The mean and standard deviation of integers are the exact ones, rounded, whether
    Python or numpy reduces them; min, max and zeros are exact."""
    prefix, values = int_ckpt
    with open_checkpoint(prefix) as ckpt:
        st = value_stats(ckpt, ckpt.entry(_key(name)), chunk_bytes=chunk_bytes)
    exact = [int(x) for x in values[name].reshape(-1).tolist()]
    mean = Fraction(sum(exact), len(exact))
    variance = sum((x - mean) ** 2 for x in exact) / len(exact)
    assert (st.count, st.min, st.max) == (len(exact), float(min(exact)), float(max(exact)))
    assert st.zeros == exact.count(0) / len(exact)
    assert st.mean == pytest.approx(float(mean), rel=1e-12, abs=1e-12)
    assert st.std == pytest.approx(math.sqrt(variance), rel=1e-9, abs=1e-12)
    assert (st.nan, st.inf) == (0, 0)


@pytest.fixture(scope="module")
def counters_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Float weights beside integer values: a step counter, ids whose mean is not whole, a
    mask."""
    import tensorflow as tf

    module = tf.Module()
    module.w = tf.Variable([-0.25, 0.5, 1.75])
    module.step = tf.Variable(1000, dtype=tf.int64)
    module.ids = tf.Variable([1, 2], dtype=tf.int32)
    module.mask = tf.Variable([True, True])
    return Path(tf.train.Checkpoint(m=module).write(str(tmp_path_factory.mktemp("ints") / "c")))


def test_an_integer_statistic_that_is_whole_prints_as_an_integer(counters_ckpt: Path) -> None:
    """In a column of float statistics, a counter's 1000 is ``1000`` (not ``1000.00``, nor
    ``1.00e+03``); a mean or std that is not whole keeps the column's format."""
    import io

    from ckptctl.cli.plain import print_plain_inspect

    out = io.StringIO()
    print_plain_inspect(ckptctl.inspect(counters_ckpt, stats=True), out)
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[5:]}
    assert rows["m.step"][:4] == ["1000", "1000", "1000", "0"]
    assert rows["m.ids"][:4] == ["1", "2", "1.500", "0.500"]
    assert rows["m.mask"][:4] == ["1", "1", "1", "0"]
    assert rows["m.w"][:4] == ["-0.250", "1.75", "0.667", "0.825"]

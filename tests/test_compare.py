"""The one value comparison (`ckptctl.compare`), pinned on real checkpoints: NaN equals NaN in
the same place, an infinity only the same infinity, -0.0 equals 0.0, integers exactly in their
own width, bools exactly, bfloat16 and float16 as numbers, whatever command compares."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import ckptctl
from ckptctl.compare import compare_arrays
from ckptctl.restoration.checks import compare_outputs, stored_equals
from ckptctl.trend import trend
from tests.checkpoints import PROJECT_ROOT

NAN, INF = math.nan, math.inf
BF16 = ml_dtypes.bfloat16

# name -> (A's value, B's value)
PAIRS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "nan_same": (np.array([NAN, 1.0], np.float32), np.array([NAN, 1.0], np.float32)),
    "nan_vs_number": (np.array([NAN, 1.0], np.float32), np.array([0.0, 1.0], np.float32)),
    "inf_same": (np.array([INF, -INF, 2.0]), np.array([INF, -INF, 2.0])),
    "inf_flipped": (np.array([INF, 2.0], np.float32), np.array([-INF, 2.0], np.float32)),
    "inf_vs_number": (np.array([INF, 1.0]), np.array([1e300, 1.0])),
    "zero_signs": (np.array([-0.0, 0.0, 3.0]), np.array([0.0, -0.0, 3.0])),
    "int64_off_by_one": (np.array([2**62 + 1, 5], np.int64), np.array([2**62, 5], np.int64)),
    "int32_same": (np.array([-7, 2**31 - 1], np.int32), np.array([-7, 2**31 - 1], np.int32)),
    "bools": (np.array([True, False, True]), np.array([True, True, True])),
    "bf16_nan_same": (np.array([NAN, 1.5], BF16), np.array([NAN, 1.5], BF16)),
    "bf16_changed": (np.array([1.5, -2.0], BF16), np.array([2.0, -2.0], BF16)),
    "f16_nan_and_zero": (np.array([NAN, -0.0], np.float16), np.array([NAN, 0.0], np.float16)),
    "all_nan": (np.full((3, 2), NAN, np.float32), np.full((3, 2), NAN, np.float32)),
}
EQUAL = {"nan_same", "inf_same", "zero_signs", "int32_same", "bf16_nan_same", "f16_nan_and_zero",
         "all_nan"}  # fmt: skip


def _write(prefix: Path, values: dict[str, np.ndarray]) -> str:
    import tensorflow as tf

    ckpt = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()})
    return str(ckpt.write(str(prefix)))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("compare")
    a = _write(d / "a" / "ckpt", {k: v[0] for k, v in PAIRS.items()})
    b = _write(d / "b" / "ckpt", {k: v[1] for k, v in PAIRS.items()})
    return a, b


@pytest.mark.parametrize("atol", [0.0, 1e30])
def test_diff_follows_the_rule(pair: tuple[str, str], atol: float) -> None:
    """A huge tolerance changes nothing for NaN and infinities: only the finite differences
    (int64 by 1, bfloat16 by 0.5) fall within it; bools stay exact."""
    report = ckptctl.diff(*pair, atol=atol)
    changed = {c.path: c for c in report.changed}
    within = {"int64_off_by_one", "bf16_changed"} if atol else set()
    assert set(changed) == set(PAIRS) - EQUAL - within
    assert report.unchanged == len(EQUAL) + len(within)
    nan = changed["nan_vs_number"]
    assert (nan.num_differing, nan.nan_mismatch, nan.max_abs_diff) == (1, 1, 0.0)
    assert changed["inf_flipped"].max_abs_diff == INF
    assert changed["inf_vs_number"].num_differing == 1
    assert changed["inf_vs_number"].max_abs_diff == INF
    assert changed["bools"].num_differing == 1 and changed["bools"].max_abs_diff is None
    if not atol:
        assert changed["int64_off_by_one"].max_abs_diff == 1.0
        assert changed["bf16_changed"].max_abs_diff == 0.5
        assert changed["bf16_changed"].max_rel_diff == 0.25


def test_a_checkpoint_equals_itself_with_nan_inf_and_every_dtype(pair: tuple[str, str]) -> None:
    a, _ = pair
    report = ckptctl.diff(a, a)
    assert report.equal is True and report.changed == [] and report.unchanged == len(PAIRS)


def test_the_restore_value_check_is_bit_for_bit(pair: tuple[str, str]) -> None:
    """A live variable holding what the file holds is a faithful restore, NaN and bfloat16
    included; anything else is not, even what diff calls equal: -0.0 for 0.0."""
    import tensorflow as tf

    a, _ = pair
    with ckptctl.open_checkpoint(a) as ckpt:
        for name, (value_a, value_b) in PAIRS.items():
            key = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
            assert stored_equals(ckpt, key, tf.Variable(value_a).numpy()), name
            same_bytes = np.asarray(value_a).tobytes() == np.asarray(value_b).tobytes()
            assert stored_equals(ckpt, key, tf.Variable(value_b).numpy()) is same_bytes, name
        assert not stored_equals(
            ckpt, "zero_signs/.ATTRIBUTES/VARIABLE_VALUE", np.array([0.0, -0.0, 3.0])
        ), "-0.0 restored as 0.0 is not a copy"
        key = "nan_same/.ATTRIBUTES/VARIABLE_VALUE"
        assert not stored_equals(ckpt, key, np.array([NAN, 1.0], np.float64)), "dtype differs"
        assert not stored_equals(ckpt, key, np.array([[NAN, 1.0]], np.float32)), "shape differs"


def test_outputs_follow_the_rule() -> None:
    """Outputs: NaN in the same place is equal (and reported as not finite); -0.0 equals 0.0;
    a count or shape that differs is not equal."""
    nan = [np.array([NAN, 1.0], np.float32)]
    assert compare_outputs(nan, [np.array([NAN, 1.0], np.float32)], 0.0, 0.0) == (True, 0.0, False)
    assert compare_outputs(nan, [np.array([0.0, 1.0], np.float32)], 1.0, 1.0)[0] is False
    assert compare_outputs([np.array([-0.0])], [np.array([0.0])], 0.0, 0.0) == (True, 0.0, True)
    assert compare_outputs(nan, nan + nan, 0.0, 0.0) == (False, INF, True)
    assert compare_outputs(nan, [np.zeros(3, np.float32)], 0.0, 0.0)[0] is False
    assert compare_arrays(np.array([1, 2], np.int32), np.array([1.0, 2.5])).max_abs_diff == 0.5


def test_trend_counts_a_nan_in_the_same_place_as_no_change(tmp_path: Path) -> None:
    """Three saves of a value holding NaN at the same place (its finite part frozen) and one
    whose zeros flip sign: neither changed. The value that trained changed."""
    import tensorflow as tf

    frozen = tf.Variable(np.array([NAN, 1.0, 2.0], np.float32))
    signs = tf.Variable(np.array([0.0, 4.0], np.float32))
    moving = tf.Variable(np.array([1.0, 1.0], np.float32))
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(frozen=frozen, signs=signs, moving=moving), str(tmp_path / "run"), 5
    )
    for step in range(3):
        signs.assign([-0.0 if step % 2 else 0.0, 4.0])
        moving.assign_add([1.0, 0.0])
        manager.save()
    report = trend(tmp_path / "run", model_only=False)
    changes = {v.path: v.rel_change for v in report.values}
    assert set(changes) == {"frozen", "signs", "moving", "save_counter"}
    assert changes["frozen"] == [None, 0.0, 0.0]
    assert changes["signs"] == [None, 0.0, 0.0]
    assert changes["moving"] == [
        None,
        pytest.approx(1 / math.sqrt(5)),
        pytest.approx(1 / math.sqrt(10)),
    ]
    assert report.never_changed == ["frozen", "signs"]  # save_counter counts the saves
    assert [n.path for n in report.nonfinite] == ["frozen"]


def test_no_runtime_warning_on_all_nan_values(pair: tuple[str, str], tmp_path: Path) -> None:
    """`python -W error::RuntimeWarning`: diff, inspect --stats and trend of values that are
    all NaN (and NaN against numbers) run through, no numpy warning turned into a crash."""
    a, b = pair
    run = tmp_path / "run"
    run.mkdir()
    for i, src in enumerate((a, b)):
        for f in Path(src).parent.iterdir():
            (run / f.name.replace("ckpt", f"ckpt-{i + 1}")).write_bytes(f.read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "CKPTCTL_DEBUG"}

    def ckptctl_cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-W", "error::RuntimeWarning", "-m", "ckptctl", *args]
        return subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)

    out = ckptctl_cli("diff", a, b, "--json")
    assert (out.returncode, out.stderr) == (1, ""), out.stderr
    assert "all_nan" not in {c["path"] for c in json.loads(out.stdout)["changed"]}
    out = ckptctl_cli("inspect", a, "--stats", "--hist", "--json")
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    (stats,) = [v["stats"] for v in json.loads(out.stdout)["variables"] if v["path"] == "all_nan"]
    assert (stats["nan"], stats["mean"], stats["std"]) == (6, None, None)
    out = ckptctl_cli("trend", str(run), "--all", "--json")
    assert out.returncode == 1 and out.stderr == "", out.stderr
    (nan_vs_number,) = [v for v in json.loads(out.stdout)["values"] if v["path"] == "nan_vs_number"]
    assert nan_vs_number["rel_change"] == [None, "nan"]


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_restore_of_all_nan_weights_warns_nothing_and_names_the_outputs(tmp_path: Path) -> None:
    """A kernel that is all NaN restores faithfully (the value check passes: NaN where the file
    has NaN); the outputs are NaN, so the restore fails on them, and says so."""
    import tensorflow as tf

    from sample_models.models import MyModel

    m: Any = MyModel()
    m(np.zeros((1, 20), np.float32))
    m.dense1.kernel.assign(np.full((20, 16), NAN, np.float32))
    prefix = tf.train.Checkpoint(model=m).write(str(tmp_path / "ckpt"))
    report = ckptctl.restore(prefix, "sample_models.models:MyModel", input_shapes=[(4, 20)])
    assert report.values.checked == 4 and report.values.differing == []
    assert (report.outputs.ran, report.outputs.finite, report.ok) == (True, False, False)
    assert report.outputs.detail == "the model's outputs contain NaN or Inf"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("atol", "rtol"), [(0.0, 0.0), (1e-3, 0.0), (0.0, 0.5)])
def test_many_small_values_compare_as_each_alone(dtype: Any, atol: float, rtol: float) -> None:
    """``diff`` compares small float values a batch at a time: each result is the one the
    value gets alone, ties, zeros in B, -0.0 and all; a value with a NaN or Inf is left to
    the comparison of that value alone (None)."""
    from ckptctl.compare import compare_finite_many

    rng = np.random.default_rng(7)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for n in [1, 2, 3, 4, 7, 16, 33, 100, 1000]:
        a = rng.normal(size=n).astype(dtype)
        b = a.copy()
        b[rng.integers(0, n, size=max(1, n // 3))] += dtype(0.25)
        pairs.append((a, b))
    pairs.append((np.array([1.0, 2.0, 3.0], dtype), np.array([1.5, 2.5, 3.0], dtype)))  # a tie
    pairs.append((np.array([1.0, 0.0], dtype), np.array([0.0, 0.0], dtype)))  # B is zero
    pairs.append((np.array([-0.0, 0.0], dtype), np.array([0.0, -0.0], dtype)))  # equal numbers
    pairs.append((np.array([NAN, 1.0], dtype), np.array([1.0, 1.0], dtype)))
    pairs.append((np.array([1.0, 2.0], dtype), np.array([INF, 2.0], dtype)))
    pairs.append((np.array([3.0, NAN], dtype), np.array([3.0, NAN], dtype)))
    found = compare_finite_many(
        [(a.tobytes(), b.tobytes()) for a, b in pairs], np.dtype(dtype).name, atol=atol, rtol=rtol
    )
    assert [r is None for r in found] == [False] * (len(pairs) - 3) + [True] * 3
    for (a, b), got in zip(pairs, found, strict=True):
        if got is not None:
            assert got == compare_arrays(a, b, atol=atol, rtol=rtol), (a, b)


def test_a_diff_of_many_changed_values_reports_each_as_alone(tmp_path: Path) -> None:
    """3,000 small changed values (batches of them), a NaN among them: each reported as
    comparing it alone reports it."""
    rng = np.random.default_rng(3)
    a_values = {f"v{i}": rng.normal(size=(i % 5) + 1).astype(np.float32) for i in range(3000)}
    b_values = {k: v + np.float32(0.5) * (rng.random(v.shape) < 0.5) for k, v in a_values.items()}
    a_values["v7"][0] = NAN
    a = _write(tmp_path / "a" / "ckpt", a_values)
    b = _write(tmp_path / "b" / "ckpt", b_values)
    report = ckptctl.diff(a, b)
    changed = {c.key.split("/")[0]: c for c in report.changed}
    for name, x in a_values.items():
        expected = compare_arrays(x, b_values[name])
        c = changed.get(name)
        if expected.equal:
            assert c is None, name
            continue
        assert c is not None, name
        assert (c.max_abs_diff, c.max_rel_diff, c.num_differing, c.nan_mismatch) == (
            expected.max_abs_diff, expected.max_rel_diff, expected.num_differing,
            expected.nan_mismatch,
        ), name  # fmt: skip
    assert report.unchanged + len(report.changed) == 3000


SAME_BYTES_CASES = [
    (np.array([-0.0, 1.0], np.float32), np.array([0.0, 1.0], np.float32), False),
    (
        np.array([0x7FC00000, 1], np.uint32).view(np.float32),
        np.array([0x7FC00001, 1], np.uint32).view(np.float32),
        False,  # two NaNs of other payloads: equal numbers, other bits
    ),
    (np.arange(7, dtype=np.uint8), np.arange(7, dtype=np.uint8), True),  # not whole words
    (np.array([1, 2, 3], np.float16), np.array([1, 2, 4], np.float16), False),  # 6 bytes
    (np.array(2.5), np.array(2.5), True),  # 0-d
    (np.arange(12.0).reshape(3, 4)[:, ::2], np.array([0.0, 2, 4, 6, 8, 10]).reshape(3, 2), True),
    (np.array([1.5, 2.0], BF16), np.array([1.5, 2.0], BF16), True),
    (np.zeros(4, np.float32), np.zeros(2, np.float64), True),  # 16 bytes each: a caller
    (np.zeros(4, np.float32), np.zeros(3, np.float32), False),  # checks the dtypes first
]


@pytest.mark.parametrize(("a", "b", "same"), SAME_BYTES_CASES)
def test_same_bytes_is_tobytes_equality(a: np.ndarray, b: np.ndarray, same: bool) -> None:
    from ckptctl.compare import same_bytes

    assert (a.tobytes() == b.tobytes()) is same
    assert same_bytes(a, b) is same
    assert same_bytes(b, a) is same

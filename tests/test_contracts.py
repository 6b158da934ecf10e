"""Contracts the README states that need a real run to show: accepted leftovers, a value
check that fails, bounded chunks, migrate with integer and several inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ckptctl
from ckptctl.migration import migrate
from ckptctl.restoration import restore

MY_MODEL = "sample_models.models:MyModel"
EXTRA_HEAD = "sample_models.broken:ExtraHeadModel"


def test_accepted_missing_initialises_both_instances_alike(samples_dir: Path) -> None:
    """`head` is not in the checkpoint. Accepted, both instances get the same fresh `head`,
    so the outputs agree and the restore passes; not accepted, it fails on structure."""
    ckpt = samples_dir / "my_model"
    refused = restore(ckpt, EXTRA_HEAD, input_shapes=[(4, 20)])
    assert refused.ok is False
    assert [m.path for m in refused.missing] == ["model.head._kernel", "model.head.bias"]
    accepted = restore(ckpt, EXTRA_HEAD, input_shapes=[(4, 20)], allow_missing=["model.head.*"])
    assert accepted.ok is True, accepted.to_dict()
    assert [m.accepted for m in accepted.missing] == [True, True]
    assert accepted.outputs.equal is True and accepted.values.differing == []


@pytest.mark.parametrize("instance", [0, 1], ids=["first", "second"])
def test_a_value_changed_after_restore_fails_the_proof(
    samples_dir: Path, monkeypatch: pytest.MonkeyPatch, instance: int
) -> None:
    """Fault injection into ckptctl's own restore step: right after the values are assigned
    to one of the two instances, one of them is overwritten. In the second instance (the one
    returned, whose values are checked) the bit-for-bit value check names exactly that one;
    in the first, the outputs of the two instances differ."""
    from ckptctl.restoration import pipeline

    original = pipeline._restore_instance
    calls: list[int] = []

    def restore_then_overwrite(ckpt: Any, inst: Any, partial: bool) -> None:
        original(ckpt, inst, partial)
        if len(calls) == instance:
            pair = next(p for p in inst.plan.pairs if p.path == "model.dense2.bias")
            pair.var.assign(pair.var + 1.0)
        calls.append(1)

    monkeypatch.setattr(pipeline, "_restore_instance", restore_then_overwrite)
    report = restore(samples_dir / "my_model", MY_MODEL, input_shapes=[(4, 20)])
    assert report.ok is False
    assert report.values.checked == 4
    if instance == 1:
        assert report.values.differing == ["model.dense2.bias"]
        assert report.outputs.equal is False
    else:
        assert report.values.differing == []
        assert report.outputs.equal is False
        assert report.outputs.detail is not None and "disagree" in report.outputs.detail


@pytest.mark.parametrize("max_bytes", [1, 7, 4096, 1 << 20])
def test_chunks_never_exceed_their_bound(samples_dir: Path, tmp_path: Path, max_bytes: int) -> None:
    import tensorflow as tf

    from tests.models import keras3

    big = tf.Variable(np.arange(300_000, dtype=np.float32).reshape(600, 500))
    prefix = tf.train.Checkpoint(big=big).write(str(tmp_path / "ckpt"))
    m = keras3.sequential()
    m.save_weights(str(tmp_path / "m.weights.h5"))
    for backend in ("native", "tf"):
        with ckptctl.open_checkpoint(prefix, backend=backend) as ckpt:  # type: ignore[arg-type]
            key = "big/.ATTRIBUTES/VARIABLE_VALUE"
            chunks = list(ckpt.read_chunks(key, max_bytes))
            assert max(c.nbytes for c in chunks) <= max(max_bytes, 4)
            assert np.concatenate(chunks).tolist() == list(range(300_000))
    with ckptctl.open_checkpoint(tmp_path / "m.weights.h5") as ckpt:
        for e in ckpt.entries:
            row = e.nbytes // e.shape[0] if e.shape and e.shape[0] and e.nbytes else e.nbytes or 0
            for c in ckpt.read_chunks(e.key, max_bytes):
                assert c.nbytes <= max(max_bytes, row)


def two_inputs() -> Any:
    """A functional model with a float input and an integer input (an Embedding)."""
    import tensorflow as tf

    keras = tf.keras
    dense_in = keras.Input((3,), name="features")
    ids = keras.Input((2,), dtype="int32", name="ids")
    emb = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(ids))
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([keras.layers.Dense(4)(dense_in), emb]))
    return keras.Model([dense_in, ids], out)


def test_migrate_with_mixed_input_dtypes(tmp_path: Path) -> None:
    """Each input keeps its own dtype in migrate's verification (float32 and int32)."""
    import tensorflow as tf

    m = two_inputs()
    m.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    m.fit([rng.random((8, 3)), rng.integers(0, 10, (8, 2))], rng.random((8, 2)), verbose=0)
    src = tmp_path / "src"
    tf.train.Checkpoint(model=m, optimizer=m.optimizer).save(str(src / "ckpt"))
    report = migrate(src, tmp_path / "dst", two_inputs, optimizer="adam", input_range=(0, 10))
    assert report.ok, report.detail
    assert report.restore is not None
    assert report.restore.input_dtypes == ["float32", "int32"]
    from ckptctl.summary import restore_header

    assert ("Inputs", "[2, 3] float32, [2, 2] int32") in restore_header(report.restore)
    fresh = two_inputs()
    fresh([np.zeros((1, 3), np.float32), np.zeros((1, 2), np.int32)])
    tf.train.Checkpoint(model=fresh).restore(
        tf.train.latest_checkpoint(str(tmp_path / "dst"))
    ).expect_partial()
    np.testing.assert_array_equal(fresh.layers[-1].kernel.numpy(), m.layers[-1].kernel.numpy())


@pytest.mark.parametrize("key", [".", None], ids=["--key .", "found"])
def test_migrate_a_checkpoint_whose_root_is_the_model(tmp_path: Path, key: str | None) -> None:
    """`tf.train.Checkpoint(root=model)` makes the model the root, with a child `root` that
    names the root itself: not a value saved beside the model, nothing to carry or refuse."""
    import tensorflow as tf

    from sample_models.models import MyModel

    m = MyModel()
    m(np.zeros((2, 20), np.float32))
    prefix = tf.train.Checkpoint(root=m).write(str(tmp_path / "src" / "ckpt"))
    report = migrate(prefix, tmp_path / "dst", MY_MODEL, input_shapes=[(4, 20)], key=key)
    assert report.ok, report.detail
    assert report.root_child == "model"
    assert (report.carried, report.dropped) == ([], [])
    fresh = MyModel()
    fresh(np.zeros((2, 20), np.float32))
    tf.train.Checkpoint(model=fresh).restore(
        tf.train.latest_checkpoint(str(tmp_path / "dst"))
    ).assert_existing_objects_matched()
    np.testing.assert_array_equal(fresh.dense1.kernel.numpy(), m.dense1.kernel.numpy())


def test_a_lone_reason_under_a_table_reads_as_one() -> None:
    """The reason under a one-row table is 'Why: ...', not a pronoun without its noun."""
    from ckptctl.summary import _reasons

    assert _reasons(["the optimizer has 11 variables"]) == ["Why: the optimizer has 11 variables."]
    assert _reasons(["a", "a"]) == ["All of them: a."]
    assert _reasons(["a", None, "b"]) == ["1 of them: a.", "1 of them: b."]


@pytest.mark.parametrize(
    ("worst", "hint"), [(8.94e-08, "--atol 1e-07 accepts them"), (0.5, None)], ids=str
)
def test_a_golden_file_off_by_rounding_names_the_tolerance(worst: float, hint: str | None) -> None:
    """Outputs recorded under another TensorFlow or Keras differ by rounding: the golden check
    names the --atol that accepts that much, and only for differences that small."""
    from ckptctl.restoration import OutputCheck, RestoreReport, ValueCheck
    from ckptctl.restoration.report import GoldenCheck
    from ckptctl.summary import restore_checks

    outputs = OutputCheck(ran=True, equal=True, golden=GoldenCheck("g.npz", False, worst))
    report = RestoreReport(
        ok=False, checkpoint="c", model="m:Net", root_child="model", input_shapes=[[4, 2]],
        matched=1, unused=[], missing=[], mismatched=[], values=ValueCheck(), outputs=outputs,
        naming="object-graph",
    )  # fmt: skip
    (golden,) = [c for c in restore_checks(report) if c.name == "golden"]
    assert golden.status == "fail"
    assert (hint in golden.text) if hint else ("--atol" not in golden.text), golden.text


def test_likely_matches_are_one_to_one() -> None:
    """Four batch-norm vectors of one shape and one missing bias of that shape: only the
    closest name points at the bias, the bias back at it; the others name no match."""
    from ckptctl.restoration.plan import suggest
    from ckptctl.restoration.report import MissingEntry, UnusedEntry

    unused = [
        UnusedEntry(f"k{i}", f"model.bn.{name}", [16], "float32")
        for i, name in enumerate(["gamma", "beta", "moving_mean", "moving_variance"])
    ]
    unused.append(UnusedEntry("k9", "model.dense_2.bias", [16], "float32"))
    missing = [MissingEntry("model.dense.bias", [16], "float32")]
    suggest(unused, missing)
    assert [u.suggestion for u in unused] == [None] * 4 + ["model.dense.bias"]
    assert missing[0].suggestion == "model.dense_2.bias"

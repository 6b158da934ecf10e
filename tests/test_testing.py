"""`ckptctl.testing`: assertions over real restores and real diffs of the session's checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckptctl.diffing import DiffReport
from ckptctl.errors import CheckpointError, ModelError, UsageError
from ckptctl.restoration import RestoreReport
from ckptctl.testing import _shapes, assert_checkpoints_equal, assert_restores
from tests.fresh import run_fresh

MY_MODEL = "sample_models.models:MyModel"
RENAMED = "sample_models.broken:RenamedModel"


# ---------------------------------------------------------------- assert_restores


def test_a_faithful_model_passes_and_returns_the_report(samples_dir: Path) -> None:
    report = assert_restores(samples_dir / "my_model", MY_MODEL, input_shapes=[(4, 20)])
    assert isinstance(report, RestoreReport)
    assert report.ok
    assert report.input_shapes == [[4, 20]]
    assert report.values.checked == 4
    assert report.outputs.equal


def test_options_reach_restore(samples_dir: Path) -> None:
    report = assert_restores(
        samples_dir / "my_model", MY_MODEL, input_shapes=["4,20"], optimizer="adam", batches=1
    )
    assert report.optimizer == "adam"
    assert report.matched == 14, "the model's 4 values and Adam's 10"
    assert report.outputs.batches == 1


def test_a_renamed_layer_fails_naming_both_sides(samples_dir: Path) -> None:
    with pytest.raises(AssertionError) as info:
        assert_restores(samples_dir / "my_model", RENAMED, input_shapes=[(4, 20)])
    message = str(info.value)
    head = message.splitlines()[0]
    assert head.startswith(f"{RENAMED} does not restore {samples_dir / 'my_model' / 'ckpt-3'}")
    assert "structure: 2 unused, 2 missing" in head
    for path in (
        "model.dense1._kernel",
        "model.dense1.bias",
        "model.encoder._kernel",
        "model.encoder.bias",
    ):
        assert path in message
    assert "Unused: in the checkpoint, taken by nothing in the model" in message
    assert "Not restored: the checkpoint does not fit the model; nothing was assigned." in message


def test_the_failure_message_is_plain_text_100_columns_wide(samples_dir: Path) -> None:
    with pytest.raises(AssertionError) as info:
        assert_restores(samples_dir / "my_model", RENAMED, input_shapes=[(4, 20)])
    body = str(info.value).splitlines()[1:]
    assert "\x1b" not in str(info.value), "no colour or terminal codes"
    assert all(len(line) <= 100 for line in body)
    assert all(line == line.rstrip() for line in body)


def test_outputs_that_differ_fail_with_the_detail(samples_dir: Path) -> None:
    with pytest.raises(AssertionError) as info:
        assert_restores(
            samples_dir / "my_model",
            "sample_models.broken:RandomStateModel",
            input_shapes=[(4, 20)],
        )
    message = str(info.value)
    assert "outputs: two restored instances give different outputs" in message.splitlines()[0]
    assert "some state is not restored from the checkpoint" in message


def test_golden_round_trip(samples_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "my_model.npz"
    saved = assert_restores(
        samples_dir / "my_model", MY_MODEL, input_shapes=[(4, 20)], save_golden=golden
    )
    assert saved.saved_golden == str(golden)
    assert golden.is_file()

    replayed = assert_restores(
        samples_dir / "my_model", MY_MODEL, golden=golden, input_shapes=[(4, 20)]
    )
    assert replayed.outputs.golden is not None
    assert replayed.outputs.golden.equal
    assert replayed.outputs.golden.file == str(golden)

    # An older checkpoint of the same model restores fine, but not to the recorded outputs.
    with pytest.raises(AssertionError) as info:
        assert_restores(
            samples_dir / "my_model" / "ckpt-1", MY_MODEL, golden=golden, input_shapes=[(4, 20)]
        )
    head = str(info.value).splitlines()[0]
    assert f"golden: outputs differ from the ones recorded in {golden}" in head


def test_an_unreadable_checkpoint_raises_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        assert_restores(tmp_path / "nope", MY_MODEL, input_shapes=[(4, 20)])
    assert not isinstance(info.value, AssertionError)
    assert str(tmp_path / "nope") in info.value.message


def test_a_model_that_does_not_import_raises_model_error(samples_dir: Path) -> None:
    with pytest.raises(ModelError):
        assert_restores(
            samples_dir / "my_model", "sample_models.nope:Model", input_shapes=[(4, 20)]
        )


def test_input_shapes() -> None:
    assert _shapes((4, 20), None) == [(4, 20)]
    assert _shapes("4,20", None) == [(4, 20)]
    assert _shapes("(4, 20)", None) == [(4, 20)]
    assert _shapes(None, [(2, 3), "2,5"]) == [(2, 3), (2, 5)]
    assert _shapes(None, None) is None
    with pytest.raises(UsageError, match="not both"):
        _shapes((4, 20), [(4, 20)])
    with pytest.raises(UsageError, match="expected integers"):
        _shapes("4,x", None)
    assert _shapes(None, (4, 20)) == [(4, 20)]  # one shape for the only input
    assert _shapes(None, "4,20") == [(4, 20)]


def test_earlier_keyword_names_still_work_with_a_deprecation_warning(
    samples_dir: Path, tmp_path: Path
) -> None:
    """`input_shape=` and `save_golden_to=` are `input_shapes=` and `save_golden=` now, as in
    `ckptctl.restore`; for a release the old names work, warning at the caller's line."""
    golden = tmp_path / "g.npz"
    with pytest.warns(DeprecationWarning) as caught:
        report = assert_restores(
            samples_dir / "my_model",
            MY_MODEL,
            input_shape=(4, 20),
            save_golden_to=golden,
            batches=1,
        )
    assert report.input_shapes == [[4, 20]] and golden.is_file()
    messages = sorted(str(w.message) for w in caught)
    assert messages == [
        "assert_restores(input_shape=...) is now input_shapes=...",
        "assert_restores(save_golden_to=...) is now save_golden=...",
    ]
    assert all(w.filename == __file__ for w in caught)
    with pytest.warns(DeprecationWarning), pytest.raises(UsageError, match="not both"):
        assert_restores(
            samples_dir / "my_model", MY_MODEL, input_shape=(4, 20), input_shapes=[(4, 20)]
        )


# ---------------------------------------------------------------- assert_checkpoints_equal


def test_a_checkpoint_equals_itself(samples_dir: Path) -> None:
    report = assert_checkpoints_equal(samples_dir / "my_model", samples_dir / "my_model" / "ckpt-3")
    assert isinstance(report, DiffReport)
    assert report.equal
    assert report.unchanged == report.a_values == 15


def test_changed_values_are_listed(samples_dir: Path) -> None:
    with pytest.raises(AssertionError) as info:
        assert_checkpoints_equal(samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model")
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == "A and B differ: 14 changed, 1 unchanged (atol=0, rtol=0)"
    assert lines[1] == f"A: {samples_dir / 'my_model' / 'ckpt-1'}"
    assert lines[2] == f"B: {samples_dir / 'my_model' / 'ckpt-3'}"
    for path in ("model.dense1._kernel", "model.dense2.bias", "save_counter"):
        assert any(line.startswith(f"  {path} ") for line in lines), path
    assert "optimizer._learning_rate" not in message, "unchanged values are not listed"


def test_tolerances_and_options_reach_diff(samples_dir: Path) -> None:
    a, b = samples_dir / "my_model" / "ckpt-2", samples_dir / "my_model" / "ckpt-3"
    report = assert_checkpoints_equal(a, b, atol=1e6)
    assert report.atol == 1e6
    with pytest.raises(AssertionError) as info:
        assert_checkpoints_equal(a, b, filter="model.dense1.*")
    assert "2 changed" in str(info.value).splitlines()[0]


def test_values_on_one_side_are_listed(samples_dir: Path) -> None:
    with pytest.raises(AssertionError) as info:
        assert_checkpoints_equal(
            samples_dir / "my_model", samples_dir / "custom_model", model_only=True
        )
    message = str(info.value)
    assert "4 only in A, 4 only in B" in message.splitlines()[0]
    assert "  model.dense1._kernel [20, 16] float32" in message
    assert "  model.dense1.w [20, 64] float32" in message


def test_an_unreadable_checkpoint_raises_checkpoint_error_from_diff(
    samples_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError):
        assert_checkpoints_equal(samples_dir / "my_model", tmp_path / "nope")


# ---------------------------------------------------------------- no TensorFlow at import


def test_importing_does_not_import_tensorflow() -> None:
    code = """
        import json, sys
        import ckptctl.testing, ckptctl.junit, ckptctl.github, ckptctl.schemas
        print(json.dumps({"tf": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
    """
    assert run_fresh(code) == {"tf": False, "keras": False}


def test_importing_and_failing_load_neither_the_terminal_layer_nor_tensorflow() -> None:
    """The library does not depend on the CLI: `ckptctl.testing` imports no typer or rich, not
    even to write the message of a failed restore (plain text from `ckptctl.summary`)."""
    code = """
        import json, sys
        import ckptctl.testing
        imported = sorted(m for m in ("typer", "click", "rich", "tensorflow") if m in sys.modules)
        from ckptctl.restoration import MissingEntry, OutputCheck, RestoreReport, ValueCheck
        report = RestoreReport(
            ok=False, checkpoint="ckpts/release/ckpt-3", model="pkg.model:Net", root_child="model",
            input_shapes=[[4, 20]], matched=3, unused=[], mismatched=[],
            missing=[MissingEntry("model.head._kernel", [16, 3], "float32")],
            values=ValueCheck(), outputs=OutputCheck(),
            stopped="skipped: nothing was assigned (--partial restores what fits)",
        )
        message = ckptctl.testing.restore_failure_message(report)
        after = sorted(m for m in ("typer", "click", "rich", "tensorflow") if m in sys.modules)
        print(json.dumps({"imported": imported, "after": after, "message": message}))
    """
    out = run_fresh(code)
    assert (out["imported"], out["after"]) == ([], [])
    assert out["message"].splitlines() == [
        "pkg.model:Net does not restore ckpts/release/ckpt-3 (structure: 1 missing; nothing was "
        "assigned)",
        "",
        "Checkpoint  ckpts/release/ckpt-3",
        "Model       pkg.model:Net",
        "Key         model",
        "Inputs      [4, 20] float32",
        "Matched     3 values",
        "",
        "Missing: model variables the checkpoint has no value for",
        "model path          shape    dtype    likely match in the checkpoint",
        "------------------  -------  -------  ------------------------------",
        "model.head._kernel  [16, 3]  float32",
        "",
        "FAIL structure 1 missing",
        "--   values    skipped: nothing was assigned (--partial restores what fits)",
        "",
        "Not restored: the checkpoint does not fit the model; nothing was assigned.",
    ]


def test_the_failure_message_folds_long_paths_to_100_columns(samples_dir: Path) -> None:
    """A path wider than the table keeps a line of its own, folded after a `.` where it is
    wider than the message: never inside a name. A name wider than the message is elided in
    the middle."""
    from ckptctl.restoration import restore
    from ckptctl.testing import restore_failure_message

    report = restore(samples_dir / "my_model", RENAMED, input_shapes=[(4, 20)])
    long_path = "model." + ".".join(f"transformer_block_{i}_multi_head_attention" for i in range(4))
    long_path += ".query_dense._kernel"
    report.missing[0].path = long_path
    body = restore_failure_message(report).splitlines()[1:]
    assert all(len(line) <= 100 for line in body), "\n".join(body)
    table = body[body.index("Missing: model variables the checkpoint has no value for") :]
    start = next(i for i, line in enumerate(table) if line.startswith("model.transformer"))
    cells = next(i for i in range(start, len(table)) if "[20, 16]" in table[i])
    folded = table[start:cells]
    assert len(folded) > 1 and all(line.endswith(".") for line in folded[:-1])
    assert all(line.startswith("  transformer_block_") for line in folded[1:-1])
    assert "".join(line.strip() for line in folded) == long_path
    assert table[cells].split()[:3] == ["[20,", "16]", "float32"]  # the row's other cells

    one_name = "model." + "very_long_layer_name_" * 8 + "._kernel"
    report.missing[0].path = one_name
    body = restore_failure_message(report).splitlines()[1:]
    assert all(len(line) <= 100 for line in body), "\n".join(body)
    (elided,) = [line.strip() for line in body if "…" in line]
    head, tail = elided.split("…")
    name = "very_long_layer_name_" * 8 + "."
    assert name.startswith(head) and name.endswith(tail) and len(head) > 20

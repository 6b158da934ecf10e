"""`--map` rules: checkpoint values placed into a model whose object paths changed.

Real checkpoints from the session fixtures (`samples_dir`, `keras2_dir`, `name_based_ckpt`) are
restored into real models. Where a value lands is checked against the checkpoint itself, read
with `ckptctl.open_checkpoint`; optimizer slots are identified by the variable the checkpoint
says they belong to (`KeyInfo.slot_of` / `slot_name`), never by position.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import ckptctl
from ckptctl.cli.app import app
from ckptctl.errors import EXIT_USAGE, UsageError
from ckptctl.restoration import MappedEntry, RestoreReport, restore, restore_into
from tests.test_restore import Recorder, assert_clean, run_cli

MY_MODEL = "sample_models.models:MyModel"
RENAMED = "sample_models.broken:RenamedModel"
SHAPES = [(4, 20)]
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"

LAYER_ATTRS = [("dense1", "kernel"), ("dense1", "bias"), ("dense2", "kernel"), ("dense2", "bias")]
"""The sample model's variables, as (layer attribute, weight attribute)."""


# ---------------------------------------------------------------- helpers


def values_by_path(checkpoint: Path) -> dict[str, np.ndarray]:
    """Object path -> stored value of every non-slot value in the checkpoint."""
    with ckptctl.open_checkpoint(checkpoint) as ckpt:
        return {
            info.path: ckpt.read(key)
            for key, info in ckpt.key_infos.items()
            if info.slot_of is None and key in ckpt
        }


def slots_by_owner(checkpoint: Path) -> dict[tuple[str, str], np.ndarray]:
    """(path of the variable the slot belongs to, slot name) -> stored slot value."""
    with ckptctl.open_checkpoint(checkpoint) as ckpt:
        return {
            (str(info.slot_of), str(info.slot_name)): ckpt.read(key)
            for key, info in ckpt.key_infos.items()
            if info.slot_of is not None
        }


def adam_slots(optimizer: Any, variable: Any) -> tuple[np.ndarray, np.ndarray]:
    """A Keras 3 Adam's (momentum, velocity) of `variable`, looked up by the variable itself."""
    index = optimizer._get_variable_index(variable)
    return (
        np.asarray(optimizer._momentums[index].numpy()),
        np.asarray(optimizer._velocities[index].numpy()),
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def restore_cli(checkpoint: Path, model: str, *extra: str) -> Result:
    return invoke("restore", str(checkpoint), "--model", model, "--input-shape", "4,20", *extra)


def mapped_tuples(report: RestoreReport) -> list[tuple[str, str, str, str]]:
    return [(m.key, m.path, m.model_path, m.rule) for m in report.mapped]


# ---------------------------------------------------------------- dense1=encoder


DENSE1_MAPPED = [
    (
        "model/dense1/_kernel" + SUFFIX,
        "model.dense1._kernel",
        "model.encoder._kernel",
        "dense1=encoder",
    ),
    ("model/dense1/bias" + SUFFIX, "model.dense1.bias", "model.encoder.bias", "dense1=encoder"),
]
"""What `--map dense1=encoder` places when a `MyModel` checkpoint goes into `RenamedModel`."""


@pytest.mark.parametrize(("optimizer", "matched"), [(None, 4), ("adam", 4 + 2 + 8)])
def test_dense1_to_encoder_restores_renamed_model(
    samples_dir: Path, optimizer: str | None, matched: int
) -> None:
    """The renamed layer receives dense1's values; with Adam, dense1's slots go to the encoder's
    own slots (looked up by variable, not by position), and nothing else is listed as mapped."""
    source = samples_dir / "my_model"
    report, model, opt = restore_into(
        source, RENAMED, input_shapes=SHAPES, maps=["dense1=encoder"], optimizer=optimizer
    )
    assert_clean(report)
    assert report.matched == matched
    assert report.maps == ["dense1=encoder"]
    assert mapped_tuples(report) == DENSE1_MAPPED
    assert all(isinstance(m, MappedEntry) for m in report.mapped)

    stored = values_by_path(Path(report.checkpoint))
    live = {
        "model.dense1._kernel": model.encoder.kernel,
        "model.dense1.bias": model.encoder.bias,
        "model.dense2._kernel": model.dense2.kernel,
        "model.dense2.bias": model.dense2.bias,
    }
    for path, var in live.items():
        np.testing.assert_array_equal(var.numpy(), stored[path], err_msg=path)

    if optimizer is None:
        assert opt is None
        return
    slots = slots_by_owner(Path(report.checkpoint))
    assert len(slots) == 8
    for path, var in live.items():
        momentum, velocity = adam_slots(opt, var)
        assert not np.array_equal(slots[(path, "momentum")], slots[(path, "velocity")])
        np.testing.assert_array_equal(momentum, slots[(path, "momentum")], err_msg=path)
        np.testing.assert_array_equal(velocity, slots[(path, "velocity")], err_msg=path)
    assert int(opt.iterations.numpy()) == int(stored["optimizer._iterations"]) == 3


def test_without_map_the_renamed_model_does_not_restore(samples_dir: Path) -> None:
    """The control for the test above: the same restore without the rule is not ok."""
    report = restore(samples_dir / "my_model", RENAMED, input_shapes=SHAPES)
    assert report.ok is False
    assert report.maps == []
    assert report.mapped == []
    assert [u.path for u in report.unused] == ["model.dense1._kernel", "model.dense1.bias"]


def test_rules_apply_in_order_each_to_the_previous_result(samples_dir: Path) -> None:
    """`dense1=tmp` then `tmp=encoder`: the second rule sees the first one's output, and the
    mapped entry names both rules."""
    report = restore(
        samples_dir / "my_model", RENAMED, input_shapes=SHAPES, maps=["dense1=tmp", "tmp=encoder"]
    )
    assert_clean(report)
    assert report.maps == ["dense1=tmp", "tmp=encoder"]
    assert [(m.path, m.model_path, m.rule) for m in report.mapped] == [
        ("model.dense1._kernel", "model.encoder._kernel", "dense1=tmp, tmp=encoder"),
        ("model.dense1.bias", "model.encoder.bias", "dense1=tmp, tmp=encoder"),
    ]


def test_backreference_in_replacement(samples_dir: Path) -> None:
    """`re.sub` syntax: a group in the pattern is usable in the replacement."""
    report = restore(
        samples_dir / "my_model",
        RENAMED,
        input_shapes=SHAPES,
        maps=[r"^model\.dense1\.(\w+)$=model.encoder.\1"],
    )
    assert_clean(report)
    assert [m.model_path for m in report.mapped] == ["model.encoder._kernel", "model.encoder.bias"]


# ---------------------------------------------------------------- the command line


def test_cli_restore_with_map_json(samples_dir: Path) -> None:
    result = restore_cli(
        samples_dir / "my_model",
        RENAMED,
        "--map",
        "dense1=encoder",
        "--optimizer",
        "adam",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["matched"] == 14
    assert doc["maps"] == ["dense1=encoder"]
    assert [(m["key"], m["path"], m["model_path"], m["rule"]) for m in doc["mapped"]] == (
        DENSE1_MAPPED
    )


def test_cli_restore_with_map_human_output_names_the_rule(samples_dir: Path) -> None:
    result = restore_cli(samples_dir / "my_model", RENAMED, "--map", "dense1=encoder")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Mapped: placed by --map" in out
    assert "2 placed by --map" in out
    for text in ("model.dense1._kernel", "model.encoder._kernel", "model.encoder.bias"):
        assert text in out
    assert out.count("dense1=encoder") == 2  # one table row per mapped value
    assert "Restored and verified." in out
    assert result.stderr == ""


ANCHORED_DENSE1 = r"^model\.dense1=model.encoder"
BAD_GROUP = r"dense(1)=enc\2"


@pytest.mark.parametrize(
    ("rules", "messages"),
    [
        pytest.param(
            ["dense1=encoder", "nothing=here"],
            ["--map 'nothing=here' matches no object path", "e.g. model."],
            id="matches-nothing",
        ),
        pytest.param(
            # dense1 already went to encoder: the anchored duplicate matches nothing left.
            ["dense1=encoder", ANCHORED_DENSE1],
            [f"--map {ANCHORED_DENSE1!r} matches no object path"],
            id="redundant-after-earlier-rule",
        ),
        pytest.param(
            ["dense.=encoder"],
            [
                "--map places both model.dense1._kernel and model.dense2._kernel onto "
                "model.encoder._kernel"
            ],
            id="two-onto-one",
        ),
        pytest.param(
            ["(dense1=encoder"],
            ["--map '(dense1=encoder'", "is not a regular expression"],
            id="regex",
        ),
        pytest.param(["dense1"], ["--map 'dense1': expected OLD=NEW"], id="no-equals"),
        pytest.param(["=encoder"], ["--map '=encoder': expected OLD=NEW"], id="empty-old"),
        pytest.param(
            [BAD_GROUP],
            [f"--map {BAD_GROUP!r}: bad replacement", "invalid group reference 2"],
            id="bad-group",
        ),
    ],
)
def test_bad_rules_exit_2(samples_dir: Path, rules: list[str], messages: list[str]) -> None:
    args = [a for rule in rules for a in ("--map", rule)]
    result = restore_cli(samples_dir / "my_model", RENAMED, *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert result.stdout == ""
    for message in messages:
        assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_rule_assigns_nothing(samples_dir: Path) -> None:
    """A rule placing two values onto one variable stops before anything is assigned."""
    from sample_models.broken import RenamedModel

    recorder = Recorder(RenamedModel, (4, 20))
    with pytest.raises(UsageError) as err:
        restore(samples_dir / "my_model", recorder, input_shapes=SHAPES, maps=["dense.=encoder"])
    assert err.value.exit_code == EXIT_USAGE
    assert "model.dense1._kernel" in err.value.message
    assert "model.dense2._kernel" in err.value.message
    assert recorder.instances
    assert recorder.unchanged()


# ---------------------------------------------------------------- keras2


K2_TO_K3 = {
    "model.dense1.kernel": "model.dense1._kernel",
    "model.dense1.bias": "model.dense1.bias",
    "model.dense2.kernel": "model.dense2._kernel",
    "model.dense2.bias": "model.dense2.bias",
}
"""Keras 2 object path -> Keras 3 object path of each `MyModel` variable."""


@pytest.mark.parametrize(("optimizer", "matched"), [(None, 4), ("adam", 4 + 2 + 8)])
def test_keras2_rule_set_restores_a_keras2_checkpoint(
    keras2_dir: Path, optimizer: str | None, matched: int
) -> None:
    """`--map keras2`: kernels placed by name without the underscore, Keras 2's `m`/`v` slots
    placed as the momentum/velocity of the same variable (by `full_name`, never by position)."""
    report, model, opt = restore_into(
        keras2_dir, MY_MODEL, input_shapes=SHAPES, maps=["keras2"], optimizer=optimizer
    )
    assert_clean(report)
    assert report.matched == matched
    assert report.maps == ["keras2"]
    model_mapped = [(m.path, m.model_path, m.rule) for m in report.mapped if m.path in K2_TO_K3]
    assert model_mapped == [
        ("model.dense1.kernel", "model.dense1._kernel", "keras2"),
        ("model.dense2.kernel", "model.dense2._kernel", "keras2"),
    ]

    checkpoint = Path(report.checkpoint)
    stored = values_by_path(checkpoint)
    live = {
        f"model.{layer}.{attr}": getattr(getattr(model, layer), attr) for layer, attr in LAYER_ATTRS
    }
    for path, var in live.items():
        np.testing.assert_array_equal(var.numpy(), stored[path], err_msg=path)

    if optimizer is None:
        assert report.mapped == [m for m in report.mapped if m.path in K2_TO_K3]
        return
    slots = slots_by_owner(checkpoint)
    assert sorted(slots) == sorted((p, s) for p in K2_TO_K3 for s in ("m", "v"))
    for path, var in live.items():
        momentum, velocity = adam_slots(opt, var)
        assert not np.array_equal(slots[(path, "m")], slots[(path, "v")])
        np.testing.assert_array_equal(momentum, slots[(path, "m")], err_msg=path)
        np.testing.assert_array_equal(velocity, slots[(path, "v")], err_msg=path)
    assert int(opt.iterations.numpy()) == int(stored["optimizer._iterations"]) == 2
    assert float(opt.learning_rate.numpy()) == float(stored["optimizer._learning_rate"])

    # Every Keras 2 slot is listed as placed by the variable it belongs to.
    with ckptctl.open_checkpoint(checkpoint) as ckpt:
        infos = {k: i for k, i in ckpt.key_infos.items() if i.slot_of is not None}
    slot_rules = {m.key: m.rule for m in report.mapped if m.key in infos}
    assert slot_rules == {k: f"{i.slot_name} of {i.slot_of}" for k, i in infos.items()}


def test_keras2_checkpoint_without_map_does_not_restore(keras2_dir: Path) -> None:
    """The control: the same restore without `--map keras2` is not ok."""
    report = restore(keras2_dir, MY_MODEL, input_shapes=SHAPES, optimizer="adam")
    assert report.ok is False
    assert report.mapped == []
    assert report.restored == 0
    # What the rule set places: Keras 2's kernels, unused, for Keras 3's `_kernel`s, missing;
    # and Adam's slots, which sit at other positions, each flagged with the variable it holds.
    model_unused = [
        (u.path, u.suggestion) for u in report.unused if (u.path or "").startswith("model.")
    ]
    assert model_unused == [
        ("model.dense1.kernel", "model.dense1._kernel"),
        ("model.dense2.kernel", "model.dense2._kernel"),
    ]
    model_missing = [(m.path, m.suggestion) for m in report.missing if m.path.startswith("model.")]
    assert model_missing == [
        ("model.dense1._kernel", "model.dense1.kernel"),
        ("model.dense2._kernel", "model.dense2.kernel"),
    ]
    assert report.mismatched
    for m in report.mismatched:
        assert m.path.startswith("optimizer._variables."), m.path
        assert m.reason is not None and m.reason.startswith("holds the "), m.reason
    assert report.stopped is not None


def test_cli_keras2_rule_set(keras2_dir: Path) -> None:
    result = restore_cli(keras2_dir, MY_MODEL, "--map", "keras2", "--optimizer", "adam", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["matched"] == 14
    assert doc["maps"] == ["keras2"]
    rules = {m["path"]: m["rule"] for m in doc["mapped"]}
    assert rules["model.dense1.kernel"] == "keras2"
    assert rules["model.dense2.kernel"] == "keras2"


# ---------------------------------------------------------------- golden outputs across Keras


@pytest.fixture(scope="module")
def keras2_golden(keras2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Outputs of the Keras 2 checkpoint restored under tf-keras, recorded with --save-golden."""
    golden = tmp_path_factory.mktemp("keras2_golden") / "keras2.npz"
    result = run_cli(
        "restore",
        str(keras2_dir),
        "--model",
        MY_MODEL,
        "--input-shape",
        "4,20",
        "--save-golden",
        str(golden),
        legacy_keras=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert golden.is_file()
    return golden


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_keras2_golden_replayed_under_keras3(
    keras2_dir: Path, keras2_golden: Path, optimizer: str | None
) -> None:
    """The Keras 3 model restored with `--map keras2` reproduces tf-keras's outputs exactly."""
    report = restore(
        keras2_dir,
        MY_MODEL,
        input_shapes=SHAPES,
        maps=["keras2"],
        optimizer=optimizer,
        golden=keras2_golden,
    )
    assert_clean(report)
    assert report.outputs.golden is not None
    assert report.outputs.golden.equal is True
    assert report.outputs.golden.max_abs_diff == 0.0


def test_keras2_golden_against_other_weights_differs(
    samples_dir: Path, keras2_golden: Path
) -> None:
    """The negative control: a checkpoint with other weights does not reproduce the golden."""
    report = restore(samples_dir / "my_model", MY_MODEL, input_shapes=SHAPES, golden=keras2_golden)
    assert report.ok is False
    assert report.outputs.equal is True  # the restore itself worked
    assert report.outputs.golden is not None
    assert report.outputs.golden.equal is False
    assert report.outputs.golden.max_abs_diff > 0.0


# ---------------------------------------------------------------- TF1 name-based


def make_tf1_encoder() -> Any:
    """A Keras 3 model for `write_name_based`'s variables, its layer renamed to `encoder`.

    The checkpoint holds `dense/kernel` (2, 3), `dense/bias` (3,) and `global_step`; the model
    has `encoder/kernel`, `encoder/bias` and a `global_step` weight.
    """
    import tensorflow as tf

    class TF1Encoder(tf.keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.encoder = tf.keras.layers.Dense(3, name="encoder")
            self.global_step = self.add_weight(
                name="global_step", shape=(), dtype="int64", initializer="zeros", trainable=False
            )

        def call(self, x: Any, training: bool = False) -> Any:
            return self.encoder(x)

    return TF1Encoder()


def make_tf1_dense() -> Any:
    """A Keras 3 model of `write_name_based`'s `dense` layer alone: no step counter."""
    import tensorflow as tf

    class TF1Dense(tf.keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense = tf.keras.layers.Dense(3, name="dense")

        def call(self, x: Any, training: bool = False) -> Any:
            return self.dense(x)

    return TF1Dense()


def test_tf1_training_state_is_not_requested(tmp_path: Path) -> None:
    """A TF1 training checkpoint holds Adam's slots and the step counter beside the model's
    variables: a model without them restores it, those listed as not requested (as a TF2
    checkpoint's optimizer is), not failed as unused."""
    from tests.test_diff import write_name_based_variant

    prefix = write_name_based_variant(tmp_path / "tf1")
    report, _, _ = restore_into(prefix, make_tf1_dense, input_shapes=[(4, 2)])
    assert_clean(report)
    assert report.matched == 2
    assert sorted(report.not_requested) == ["dense/kernel/Adam", "global_step"]


def test_name_based_checkpoint_with_map(name_based_ckpt: Path) -> None:
    report, model, _ = restore_into(
        name_based_ckpt, make_tf1_encoder, input_shapes=[(4, 2)], maps=["^dense/=encoder/"]
    )
    assert_clean(report)
    assert report.naming == "name-based"
    assert report.matched == 3
    assert mapped_tuples(report) == [
        ("dense/kernel", "dense/kernel", "encoder/kernel", "^dense/=encoder/"),
        ("dense/bias", "dense/bias", "encoder/bias", "^dense/=encoder/"),
    ]
    with ckptctl.open_checkpoint(name_based_ckpt) as ckpt:
        np.testing.assert_array_equal(model.encoder.kernel.numpy(), ckpt.read("dense/kernel"))
        np.testing.assert_array_equal(model.encoder.bias.numpy(), ckpt.read("dense/bias"))
        assert int(model.global_step.numpy()) == int(ckpt.read("global_step")) == 7


def test_name_based_checkpoint_without_map_does_not_restore(name_based_ckpt: Path) -> None:
    report = restore(name_based_ckpt, make_tf1_encoder, input_shapes=[(4, 2)])
    assert report.ok is False
    assert sorted(u.key for u in report.unused) == ["dense/bias", "dense/kernel"]
    assert report.mapped == []


def test_name_based_rule_matching_nothing_is_a_usage_error(name_based_ckpt: Path) -> None:
    with pytest.raises(UsageError, match=r"--map 'nothing=x' matches no key"):
        restore(
            name_based_ckpt,
            make_tf1_encoder,
            input_shapes=[(4, 2)],
            maps=["^dense/=encoder/", "nothing=x"],
        )


def test_name_based_two_keys_onto_one_is_a_usage_error(name_based_ckpt: Path) -> None:
    with pytest.raises(UsageError) as err:
        restore(name_based_ckpt, make_tf1_encoder, input_shapes=[(4, 2)], maps=["kernel=bias"])
    assert "dense/bias" in err.value.message
    assert "dense/kernel" in err.value.message


def test_name_based_redundant_rule_is_a_usage_error(name_based_ckpt: Path) -> None:
    """`^dense/=encoder/` renames every dense key, so the later `dense/=encoder/` matches
    nothing; object-graph checkpoints reject this (test_bad_rules_exit_2
    [redundant-after-earlier-rule]), name-based ones must too."""
    with pytest.raises(UsageError, match=r"--map 'dense/=encoder/' matches no key"):
        restore(
            name_based_ckpt,
            make_tf1_encoder,
            input_shapes=[(4, 2)],
            maps=["^dense/=encoder/", "dense/=encoder/"],
        )


# ---------------------------------------------------------------- place_once


def test_place_once_rewrites_each_name_once_and_keeps_the_rest() -> None:
    from ckptctl.mapping import Placed, parse_maps, place_once

    placed = place_once(parse_maps(["^dense1/=encoder/"]), ["dense1/kernel", "out/bias"], "c")
    assert placed == {
        "encoder/kernel": Placed("dense1/kernel", "encoder/kernel", ["^dense1/=encoder/"]),
        "out/bias": Placed("out/bias", "out/bias", []),
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (["dense.=dense"], "--map places both dense1/kernel and dense2/kernel onto dense/kernel"),
        (["dense1=x", "nothing=y"], "--map 'nothing=y' matches no key in ckpt-1"),
    ],
    ids=["two-onto-one", "matches-nothing"],
)
def test_place_once_refuses_collisions_and_idle_rules(rules: list[str], message: str) -> None:
    from ckptctl.mapping import parse_maps, place_once

    with pytest.raises(UsageError) as err:
        place_once(parse_maps(rules), ["dense1/kernel", "dense2/kernel"], "ckpt-1")
    assert err.value.message == message
    assert err.value.exit_code == 2

"""`ckptctl.restore`: real checkpoints restored into real models, every entry checked.

Checkpoints come from session fixtures (`samples_dir`, `keras2_dir`, `zoo_ckpt`, ...). Where a
restore must not assign anything, the model comes from a `Recorder` factory that snapshots
each instance's freshly built variables, so "nothing assigned" is a comparison, not a belief.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ckptctl.errors import EXIT_UNREADABLE, EXIT_USAGE, ModelError, UsageError
from ckptctl.restoration import RestoreReport, restore
from tests.checkpoints import tree_digest
from tests.fresh import run_ckptctl

MY_MODEL = "sample_models.models:MyModel"
SAMPLE_SHAPES = [(4, 20)]

MODEL_PATHS = [
    "model.dense1._kernel",
    "model.dense1.bias",
    "model.dense2._kernel",
    "model.dense2.bias",
]
"""Object paths of a sample model's four variables in a Keras 3 checkpoint."""

ADAM_PATHS = [
    "optimizer._iterations",
    "optimizer._learning_rate",
    *(f"optimizer._variables.{n}" for n in range(2, 10)),
]
"""Keras 3 Adam's values in a checkpoint: two scalars and eight slots (m and v per variable)."""

ADAM_KEYS = [p.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE" for p in ADAM_PATHS]
SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"


def key_of(path: str) -> str:
    return path.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE"


def checkpoint_value(ckpt: Path, path: str) -> np.ndarray:
    import tensorflow as tf

    return np.asarray(tf.train.load_checkpoint(str(ckpt)).get_tensor(key_of(path)))


class Recorder:
    """A model factory that builds each model it makes and snapshots its initial variables.

    `restore` calls it like a model class. `instances` holds `(model, {path: initial value})`;
    `unchanged()` says whether every variable of every instance still has its initial value.
    """

    def __init__(self, cls: Any, input_shape: tuple[int, ...]) -> None:
        self.cls = cls
        self.input_shape = input_shape
        self.instances: list[tuple[Any, dict[str, np.ndarray]]] = []
        self.__qualname__ = f"Recorder({cls.__name__})"

    def __call__(self, **kwargs: Any) -> Any:
        model = self.cls(**kwargs)
        model(np.zeros(self.input_shape, "float32"))
        initial = {v.path: np.array(v.numpy(), copy=True) for v in model.variables}
        assert len(initial) == len(model.variables), "variable paths are not unique"
        self.instances.append((model, initial))
        return model

    def current(self, index: int = 0) -> dict[str, np.ndarray]:
        model, _ = self.instances[index]
        return {v.path: np.asarray(v.numpy()) for v in model.variables}

    def unchanged(self) -> bool:
        for index, (_, initial) in enumerate(self.instances):
            now = self.current(index)
            if now.keys() != initial.keys():
                return False
            if any(not np.array_equal(now[k], initial[k]) for k in initial):
                return False
        return True


def sample_model(name: str) -> Any:
    from sample_models import broken, models

    return getattr(models, name, None) or getattr(broken, name)


def assert_clean(report: RestoreReport) -> None:
    """Everything restored and verified: the invariants of an ok report."""
    assert report.ok is True, report.to_dict()
    assert report.unused == []
    assert report.missing == []
    assert report.mismatched == []
    assert report.values.checked == report.matched
    assert report.values.differing == []
    assert report.restored == report.matched
    assert report.outputs.ran is True
    assert report.outputs.equal is True
    assert report.outputs.max_abs_diff == 0.0
    assert report.outputs.batches == 3
    assert report.stopped is None


# ---------------------------------------------------------------- 1. the sample models


SAMPLES = [
    ("my_model", "MyModel"),
    ("custom_model", "CustomModel"),
    ("versioned_model", "MyVersionedModel"),
]


@pytest.mark.parametrize(("directory", "name"), SAMPLES)
def test_sample_model_restores_without_optimizer(
    samples_dir: Path, directory: str, name: str
) -> None:
    report = restore(
        samples_dir / directory, f"sample_models.models:{name}", input_shapes=SAMPLE_SHAPES
    )
    assert_clean(report)
    assert report.matched == 4
    assert report.root_child == "model"
    assert report.model == f"sample_models.models:{name}"
    assert report.input_shapes == [[4, 20]]
    assert report.naming == "object-graph"
    assert report.optimizer is None
    assert Path(report.checkpoint).parent == samples_dir / directory
    assert Path(report.checkpoint).name.endswith("-3")
    assert report.not_requested == [SAVE_COUNTER_KEY, *ADAM_KEYS]


@pytest.mark.parametrize(("directory", "name"), SAMPLES)
def test_sample_model_restores_with_adam(samples_dir: Path, directory: str, name: str) -> None:
    report = restore(
        samples_dir / directory,
        f"sample_models.models:{name}",
        input_shapes=SAMPLE_SHAPES,
        optimizer="adam",
    )
    assert_clean(report)
    assert report.matched == 4 + 2 + 8
    assert report.optimizer == "adam"
    assert report.not_requested == [SAVE_COUNTER_KEY]


def test_restored_values_are_the_checkpoints(samples_dir: Path) -> None:
    """The Recorder sees both instances end up holding exactly the checkpoint's tensors."""
    from sample_models.models import MyModel

    recorder = Recorder(MyModel, (4, 20))
    report = restore(samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES)
    assert_clean(report)
    assert len(recorder.instances) == 2
    ckpt = Path(report.checkpoint)
    for index in range(2):
        model, _ = recorder.instances[index]
        for path in MODEL_PATHS:
            layer, attr = path.split(".")[1:]
            var = getattr(getattr(model, layer), attr)
            np.testing.assert_array_equal(var.numpy(), checkpoint_value(ckpt, path))
    assert not recorder.unchanged()


def test_golden_round_trip(samples_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "my_model.npz"
    first = restore(
        samples_dir / "my_model", MY_MODEL, input_shapes=SAMPLE_SHAPES, save_golden=golden
    )
    assert_clean(first)
    assert first.saved_golden == str(golden)
    assert golden.is_file()
    assert list(tmp_path.iterdir()) == [golden]  # no temporary file left behind

    again = restore(samples_dir / "my_model", MY_MODEL, input_shapes=SAMPLE_SHAPES, golden=golden)
    assert_clean(again)
    assert again.outputs.golden is not None
    assert again.outputs.golden.file == str(golden)
    assert again.outputs.golden.equal is True
    assert again.outputs.golden.max_abs_diff == 0.0
    assert again.to_dict()["outputs"]["golden"] == {
        "file": str(golden),
        "equal": True,
        "max_abs_diff": 0.0,
    }

    older = restore(
        samples_dir / "my_model" / "ckpt-1", MY_MODEL, input_shapes=SAMPLE_SHAPES, golden=golden
    )
    assert older.ok is False
    assert older.checkpoint == str(samples_dir / "my_model" / "ckpt-1")
    assert older.outputs.equal is True  # the two instances agree: the restore itself worked
    assert older.outputs.golden is not None
    assert older.outputs.golden.equal is False
    assert older.outputs.golden.max_abs_diff > 0.0


def test_a_golden_file_of_another_model_is_named(zoo_ckpt: Any, tmp_path: Path) -> None:
    """Its recorded inputs (ids of shape (2, 5)) do not fit a model taking (2, 8) floats: the
    error names the golden file and what to do, not only the model's own error."""
    golden = tmp_path / "embedding.npz"
    recorded = restore_embedding(zoo_ckpt, save_golden=golden)
    assert recorded.saved_golden == str(golden)
    with pytest.raises(ModelError) as err:
        restore(zoo_ckpt("functional"), f"{ZOO}:make_functional", golden=golden)
    assert err.value.message.startswith(
        f"--golden {golden} recorded inputs the model does not take: "
    )
    assert "(2, 5)" in err.value.message
    assert err.value.hint == (
        "a golden file is made for one model: record this one's with --save-golden"
    )


def test_golden_into_checkpoint_directory_is_refused(samples_dir: Path) -> None:
    target = samples_dir / "my_model" / "golden.npz"
    with pytest.raises(UsageError) as err:
        restore(samples_dir / "my_model", MY_MODEL, input_shapes=SAMPLE_SHAPES, save_golden=target)
    assert err.value.exit_code == EXIT_USAGE
    assert "refusing to write into or over the checkpoint's directory" in err.value.message
    assert not target.exists()


def test_missing_golden_file_is_a_usage_error(samples_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        restore(
            samples_dir / "my_model",
            MY_MODEL,
            input_shapes=SAMPLE_SHAPES,
            golden=tmp_path / "absent.npz",
        )


# ---------------------------------------------------------------- 2. broken variants


def test_renamed_model_reports_and_assigns_nothing(samples_dir: Path) -> None:
    from sample_models.broken import RenamedModel

    recorder = Recorder(RenamedModel, (4, 20))
    report = restore(samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES)
    d = report.to_dict()
    assert d["ok"] is False
    assert d["matched"] == 2
    assert d["unused"] == [
        {
            "key": "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
            "path": "model.dense1._kernel",
            "shape": [20, 16],
            "dtype": "float32",
            "suggestion": "model.encoder._kernel",
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
        {
            "key": "model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE",
            "path": "model.dense1.bias",
            "shape": [16],
            "dtype": "float32",
            "suggestion": "model.encoder.bias",
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
    ]
    assert d["missing"] == [
        {
            "path": "model.encoder._kernel",
            "shape": [20, 16],
            "dtype": "float32",
            "suggestion": "model.dense1._kernel",
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
        {
            "path": "model.encoder.bias",
            "shape": [16],
            "dtype": "float32",
            "suggestion": "model.dense1.bias",
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
    ]
    assert d["mismatched"] == []
    assert d["values"] == {"checked": 0, "differing": []}
    assert d["restored"] == 0
    assert d["stopped"] is not None
    assert d["outputs"]["ran"] is False
    # Nothing assigned, not even the matching dense2, though its checkpoint values differ.
    assert len(recorder.instances) == 1
    assert recorder.unchanged()
    model, initial = recorder.instances[0]
    stored = checkpoint_value(Path(report.checkpoint), "model.dense2._kernel")
    assert not np.array_equal(initial[model.dense2.kernel.path], stored)


def test_renamed_model_with_adam_reports_slots_bound_to_the_wrong_variable(
    samples_dir: Path,
) -> None:
    from sample_models.broken import RenamedModel

    recorder = Recorder(RenamedModel, (4, 20))
    report = restore(
        samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES, optimizer="adam"
    )
    assert report.ok is False
    assert [u.path for u in report.unused] == ["model.dense1._kernel", "model.dense1.bias"]
    assert [m.path for m in report.missing] == ["model.encoder._kernel", "model.encoder.bias"]
    by_path = {m.path: m for m in report.mismatched}
    assert sorted(by_path) == [f"optimizer._variables.{n}" for n in (2, 3, 4, 5)]
    expected = {
        2: ("momentum", "_kernel", [20, 16]),
        3: ("velocity", "_kernel", [20, 16]),
        4: ("momentum", "bias", [16]),
        5: ("velocity", "bias", [16]),
    }
    for n, (slot, attr, shape) in expected.items():
        m = by_path[f"optimizer._variables.{n}"]
        assert m.key == f"optimizer/_variables/{n}/.ATTRIBUTES/VARIABLE_VALUE"
        assert m.checkpoint_shape == m.model_shape == shape
        assert m.checkpoint_dtype == m.model_dtype == "float32"
        assert m.reason == (
            f"holds the {slot} of model.dense1.{attr}; "
            f"would be restored as the {slot} of model.encoder.{attr}"
        )
    # dense2 (2), its slots (4), iterations and learning rate match.
    assert report.matched == 8
    assert report.values.checked == 0
    assert recorder.unchanged()


def test_renamed_model_partial_restores_what_fits(samples_dir: Path) -> None:
    from sample_models.broken import RenamedModel

    recorder = Recorder(RenamedModel, (4, 20))
    report = restore(samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES, partial=True)
    assert report.ok is False
    assert report.partial is True
    assert report.matched == 2
    assert report.restored == 2
    assert report.values.checked == 2
    assert report.values.differing == []
    assert [u.path for u in report.unused] == ["model.dense1._kernel", "model.dense1.bias"]
    assert [m.path for m in report.missing] == ["model.encoder._kernel", "model.encoder.bias"]
    assert report.stopped is None
    assert report.outputs.ran is True
    assert report.outputs.equal is False  # encoder keeps each instance's own random init
    ckpt = Path(report.checkpoint)
    model, initial = recorder.instances[0]
    np.testing.assert_array_equal(
        model.dense2.kernel.numpy(), checkpoint_value(ckpt, "model.dense2._kernel")
    )
    np.testing.assert_array_equal(
        model.dense2.bias.numpy(), checkpoint_value(ckpt, "model.dense2.bias")
    )
    np.testing.assert_array_equal(model.encoder.kernel.numpy(), initial[model.encoder.kernel.path])
    np.testing.assert_array_equal(model.encoder.bias.numpy(), initial[model.encoder.bias.path])


def test_widened_model_reports_shapes_and_assigns_nothing(samples_dir: Path) -> None:
    from sample_models.broken import WidenedModel

    recorder = Recorder(WidenedModel, (4, 20))
    report = restore(samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES)
    d = report.to_dict()
    assert d["ok"] is False
    assert d["unused"] == []
    assert d["missing"] == []
    assert d["matched"] == 1
    assert d["mismatched"] == [
        {
            "key": "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
            "path": "model.dense1._kernel",
            "checkpoint_shape": [20, 16],
            "model_shape": [20, 24],
            "checkpoint_dtype": "float32",
            "model_dtype": "float32",
            "reason": None,
        },
        {
            "key": "model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE",
            "path": "model.dense1.bias",
            "checkpoint_shape": [16],
            "model_shape": [24],
            "checkpoint_dtype": "float32",
            "model_dtype": "float32",
            "reason": None,
        },
        {
            "key": "model/dense2/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
            "path": "model.dense2._kernel",
            "checkpoint_shape": [16, 10],
            "model_shape": [24, 10],
            "checkpoint_dtype": "float32",
            "model_dtype": "float32",
            "reason": None,
        },
    ]
    assert d["values"] == {"checked": 0, "differing": []}
    assert recorder.unchanged()  # dense2.bias fits but was not assigned either


def test_extra_head_model_reports_missing_head(samples_dir: Path) -> None:
    from sample_models.broken import ExtraHeadModel

    recorder = Recorder(ExtraHeadModel, (4, 20))
    report = restore(samples_dir / "my_model", recorder, input_shapes=SAMPLE_SHAPES)
    d = report.to_dict()
    assert d["ok"] is False
    assert d["matched"] == 4
    assert d["unused"] == []
    assert d["mismatched"] == []
    assert d["missing"] == [
        {
            "path": "model.head._kernel",
            "shape": [16, 3],
            "dtype": "float32",
            "suggestion": None,
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
        {
            "path": "model.head.bias",
            "shape": [3],
            "dtype": "float32",
            "suggestion": None,
            "accepted": False,
            "kind": "model",
            "reason": None,
        },
    ]
    assert d["values"] == {"checked": 0, "differing": []}
    assert recorder.unchanged()


def test_random_state_model_fails_on_outputs(samples_dir: Path) -> None:
    report = restore(
        samples_dir / "my_model",
        "sample_models.broken:RandomStateModel",
        input_shapes=SAMPLE_SHAPES,
    )
    assert report.ok is False
    assert report.unused == report.missing == report.mismatched == []
    assert report.matched == 4
    assert report.values.checked == 4
    assert report.values.differing == []
    assert report.outputs.ran is True
    assert report.outputs.equal is False
    assert report.outputs.finite is True
    assert report.outputs.max_abs_diff > 0.0
    assert report.outputs.detail is not None
    assert "disagree" in report.outputs.detail


# ---------------------------------------------------------------- 3./4. Keras 2 checkpoints


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_keras2_checkpoint_into_keras3_model(keras2_dir: Path, optimizer: str | None) -> None:
    from sample_models.models import MyModel

    recorder = Recorder(MyModel, (4, 20))
    report = restore(keras2_dir, recorder, input_shapes=SAMPLE_SHAPES, optimizer=optimizer)
    assert report.ok is False
    unused = {u.path: u for u in report.unused}
    missing = {m.path: m for m in report.missing}
    for layer, shape in (("dense1", [20, 16]), ("dense2", [16, 10])):
        u = unused[f"model.{layer}.kernel"]
        assert u.key == f"model/{layer}/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        assert u.shape == shape
        assert u.suggestion == f"model.{layer}._kernel"
        assert missing[f"model.{layer}._kernel"].suggestion == f"model.{layer}.kernel"
    assert report.values.checked == 0
    assert report.restored == 0
    assert report.stopped is not None
    assert len(recorder.instances) == 1
    assert recorder.unchanged()
    if optimizer is None:
        assert report.suggested_maps == ["keras2"]
    if optimizer is not None:
        # Keras 2's slots sit at positions Keras 3 gives to other slots: each is flagged with
        # the variable its full_name says it belongs to, not restored by position.
        reasons = [m.reason for m in report.mismatched if m.reason]
        assert "holds the v of model.dense1.kernel; would be restored as the momentum of " in (
            " ".join(reasons)
        )
        assert not [p for p in reasons if p.startswith("holds the m of model.dense1.kernel")]


def run_cli(*args: str, legacy_keras: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m ckptctl ARGS` in a fresh process (Keras 2 when `legacy_keras`)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    return run_ckptctl(*args, env=env)


@pytest.mark.parametrize(("optimizer", "matched"), [(None, 4), ("adam", 4 + 2 + 8)])
def test_keras2_checkpoint_restores_under_tf_keras(
    keras2_dir: Path, optimizer: str | None, matched: int
) -> None:
    """Under tf-keras (tf-keras Adam: slots `optimizer/_variables/1..8`)."""
    import json

    args = ["restore", str(keras2_dir), "--model", MY_MODEL, "--input-shape", "4,20", "--json"]
    args += ["--optimizer", optimizer] if optimizer else []
    result = run_cli(*args, legacy_keras=True)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["key"] == "model"
    assert doc["matched"] == matched
    assert doc["unused"] == doc["missing"] == doc["mismatched"] == []
    assert doc["values"] == {"checked": matched, "differing": []}
    assert doc["outputs"]["equal"] is True


# ---------------------------------------------------------------- 5. the model zoo


ZOO = "tests.models.zoo"


@pytest.mark.parametrize(
    ("name", "spec", "kwargs", "values"),
    [
        ("nested", "NestedModel", {}, 6),
        ("list", "ListModel", {}, 6),
        ("dict", "DictModel", {"input_shapes": [(2, 8)]}, 4),
        ("custom_weights", "CustomWeightsModel", {}, 4),
        ("layer_norm", "LayerNormModel", {"input_shapes": [(2, 8)]}, 6),
        ("functional", "make_functional", {}, 4),
        ("two_inputs", "TwoInputModel", {}, 4),
        ("dict_output", "DictOutputModel", {"input_shapes": [(2, 8)]}, 4),
        ("tuple_output", "TupleOutputModel", {}, 4),
        (
            "embedding",
            "EmbeddingModel",
            {"input_shapes": [(2, 5)], "input_dtype": "int32", "input_range": (0, 50)},
            3,
        ),
    ],
)
def test_zoo_model_restores_with_adam(
    zoo_ckpt: Any, name: str, spec: str, kwargs: dict[str, Any], values: int
) -> None:
    report = restore(zoo_ckpt(name), f"{ZOO}:{spec}", optimizer="adam", **kwargs)
    assert_clean(report)
    assert report.matched == values + 2 + 2 * values
    assert report.not_requested == [SAVE_COUNTER_KEY]


@pytest.mark.parametrize(
    ("name", "spec", "kwargs", "values"),
    [
        ("custom_weights", "CustomWeightsModel", {}, 4),
        ("layer_norm", "LayerNormModel", {"input_shapes": [(2, 8)]}, 6),
        ("two_inputs", "TwoInputModel", {}, 4),
        ("dict_output", "DictOutputModel", {"input_shapes": [(2, 8)]}, 4),
        ("tuple_output", "TupleOutputModel", {}, 4),
        (
            "embedding",
            "EmbeddingModel",
            {"input_shapes": [(2, 5)], "input_dtype": "int32", "input_range": (0, 50)},
            3,
        ),
        # Variables four levels deep: TensorFlow keys them by their shortest path, which in a
        # checkpoint with the optimizer is `optimizer/_trainable_variables/N`, not `model/...`.
        ("nested", "NestedModel", {}, 6),
        ("functional", "make_functional", {}, 4),
    ],
)
def test_zoo_model_restores_without_optimizer(
    zoo_ckpt: Any, name: str, spec: str, kwargs: dict[str, Any], values: int
) -> None:
    report = restore(zoo_ckpt(name), f"{ZOO}:{spec}", **kwargs)
    assert_clean(report)
    assert report.matched == values
    assert report.root_child == "model"


ZOO_CONTAINER_SHAPES = {
    "list": [[8, 6], [6], [6, 5], [5], [5, 3], [3]],
    "dict": [[8, 3], [3], [8, 3], [3]],
}
"""Shapes of the variables of the zoo's ListModel and DictModel, in the order they are made."""


@pytest.mark.parametrize(
    ("name", "spec", "kwargs", "values"),
    [("list", "ListModel", {}, 6), ("dict", "DictModel", {"input_shapes": [(2, 8)]}, 4)],
)
def test_zoo_model_held_in_container_without_optimizer_is_not_ok(
    zoo_ckpt: Any, name: str, spec: str, kwargs: dict[str, Any], values: int
) -> None:
    """Keras 3 does not checkpoint layers held in a list or dict under `model/`: only the
    optimizer's `_trainable_variables` reach them. Restoring the model alone cannot restore
    them, and the report must account for every model variable instead of calling the
    structure complete ("every model variable has its value")."""
    report = restore(zoo_ckpt(name), f"{ZOO}:{spec}", **kwargs)
    assert report.ok is False
    assert (report.matched, report.unused, report.mismatched) == (0, [], [])
    # Every model variable is accounted for as missing, each pointing at the optimizer slot
    # that holds its value; nothing was restored.
    assert len(report.missing) == values
    for n, m in enumerate(report.missing):
        assert m.reason is not None and "held in a Python list or dict" in m.reason, m
        assert m.suggestion == f"optimizer._trainable_variables.{n}"
        assert m.accepted is False
    assert [m.shape for m in report.missing] == ZOO_CONTAINER_SHAPES[name]
    assert report.stopped is not None
    assert (report.restored, report.values.checked, report.outputs.ran) == (0, 0, False)


def test_untracked_moving_statistics_are_missing_even_with_the_optimizer(zoo_ckpt: Any) -> None:
    """BatchNormalization in a Python list: `--optimizer` restores the trainable variables
    through the optimizer, but the moving mean and variance are saved by no path. They are
    missing, and the reason says no checkpoint of this model holds them (not: pass
    --optimizer, which was passed)."""
    report = restore(zoo_ckpt("list_norm"), f"{ZOO}:ListNormModel", optimizer="adam")
    assert report.ok is False
    assert [(m.path.rsplit("/", 1)[-1], m.shape) for m in report.missing] == [
        ("moving_mean", [4]),
        ("moving_variance", [4]),
    ]
    for m in report.missing:
        assert m.reason is not None and m.reason.startswith("not trainable, and held in"), m
        assert "--optimizer" not in m.reason
    # CI logs carry the reason too: one annotation and one JUnit line per missing value.
    import ckptctl.github
    from ckptctl.junit import structure_lines

    for lines in (ckptctl.github.restore_messages(report), structure_lines(report)):
        said = [line for line in lines if "moving_" in line]
        assert len(said) == 2 and all("not trainable, and held in" in s for s in said), lines
    alone = restore(zoo_ckpt("list_norm"), f"{ZOO}:ListNormModel")
    reasons = {m.path.rsplit("/", 1)[-1]: m.reason for m in alone.missing}
    assert set(reasons) == {"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"}
    assert all("--optimizer" in (reasons[n] or "") for n in ("kernel", "bias", "gamma", "beta"))
    assert all("not trainable" in (reasons[n] or "") for n in ("moving_mean", "moving_variance"))
    # Each trainable one points at the optimizer's list entry that holds it, in order; the
    # moving statistics at nothing (no optimizer holds them), not at a value of their shape.
    hints = [(m.path.rsplit("/", 1)[-1], m.suggestion) for m in alone.missing]
    listed = iter(range(6))
    assert hints == [
        (
            name,
            None
            if name.startswith("moving_")
            else f"optimizer._trainable_variables.{next(listed)}",
        )
        for name, _ in hints
    ]


def test_declared_input_shapes_hook_and_explicit_shapes(zoo_ckpt: Any) -> None:
    hooked = restore(zoo_ckpt("nested"), f"{ZOO}:NestedModel", optimizer="adam")
    assert hooked.input_shapes == [[2, 8]]
    assert_clean(hooked)
    explicit = restore(
        zoo_ckpt("nested"), f"{ZOO}:NestedModel", optimizer="adam", input_shapes=[(5, 8)]
    )
    assert explicit.input_shapes == [[5, 8]]
    assert_clean(explicit)


def test_two_inputs_hook_and_explicit_shapes(zoo_ckpt: Any) -> None:
    hooked = restore(zoo_ckpt("two_inputs"), f"{ZOO}:TwoInputModel")
    assert hooked.input_shapes == [[2, 8], [2, 3]]
    assert_clean(hooked)
    explicit = restore(
        zoo_ckpt("two_inputs"), f"{ZOO}:TwoInputModel", input_shapes=[(3, 8), (3, 3)]
    )
    assert explicit.input_shapes == [[3, 8], [3, 3]]
    assert_clean(explicit)


def test_functional_model_needs_no_input_shape(zoo_ckpt: Any) -> None:
    report = restore(zoo_ckpt("functional"), f"{ZOO}:make_functional", optimizer="adam")
    assert report.input_shapes == [[2, 8]]
    assert report.input_dtype == "float32"
    assert_clean(report)


def restore_embedding(zoo_ckpt: Any, **options: Any) -> RestoreReport:
    """The zoo's EmbeddingModel restored with int32 ids of shape (2, 5) in its vocabulary
    (0 to 50); ``options`` add to or replace those."""
    given: dict[str, Any] = {"input_shapes": [(2, 5)], "input_dtype": "int32"}
    given["input_range"] = (0, 50)
    return restore(zoo_ckpt("embedding"), f"{ZOO}:EmbeddingModel", **{**given, **options})


def test_integer_inputs(zoo_ckpt: Any) -> None:
    report = restore_embedding(zoo_ckpt)
    assert report.input_dtype == "int32"
    assert_clean(report)


def test_integer_inputs_past_an_embedding_name_the_range_to_pass(zoo_ckpt: Any) -> None:
    """Random ids past the vocabulary: the hint is the --input-range the embedding takes."""
    with pytest.raises(ModelError) as err:
        restore_embedding(zoo_ckpt, input_range=(0, 1000))
    assert "is not in [0, 50)" in err.value.message
    assert err.value.hint is not None
    assert err.value.hint.endswith(": pass --input-range 0,50")


@pytest.mark.parametrize(
    ("optimizer", "matched"),
    # model 4; LossScaleOptimizer: iterations, learning rate, step_counter, dynamic_scale, and
    # its inner Adam's iterations, learning rate and 8 slots.
    [(None, 4), (f"{ZOO}:make_loss_scale_optimizer", 4 + 4 + 2 + 8)],
)
def test_mixed_precision_with_loss_scale_optimizer(
    zoo_ckpt: Any, optimizer: str | None, matched: int
) -> None:
    report = restore(zoo_ckpt("mixed"), f"{ZOO}:MixedPrecisionModel", optimizer=optimizer)
    assert_clean(report)
    assert report.matched == matched
    assert report.optimizer == optimizer


@pytest.mark.parametrize(("optimizer", "matched"), [(None, 4), ("adam", 14)])
def test_mirrored_strategy_checkpoint(
    mirrored_dir: Path, optimizer: str | None, matched: int
) -> None:
    report = restore(mirrored_dir, f"{ZOO}:MirroredModel", optimizer=optimizer)
    assert_clean(report)
    assert report.matched == matched


def test_root_model_checkpoint_saved_with_save(root_model_ckpts: dict[str, Path]) -> None:
    report = restore(root_model_ckpts["save"], f"{ZOO}:NestedModel", key=".")
    assert_clean(report)
    assert report.root_child == "."
    assert report.matched == 6


def test_root_model_checkpoint_written_with_write(root_model_ckpts: dict[str, Path]) -> None:
    """`Checkpoint(root=model).write()` has no save_counter; that is no reason to fail."""
    report = restore(root_model_ckpts["write"], f"{ZOO}:NestedModel", key=".")
    assert_clean(report)
    assert report.root_child == "."
    assert report.matched == 6


def test_root_model_checkpoint_is_recognised_without_key(
    root_model_ckpts: dict[str, Path],
) -> None:
    """The root's children (`block`, `head`) are the model's own layers: the model matches the
    root, not any one child, so `--key .` is chosen."""
    report = restore(root_model_ckpts["save"], f"{ZOO}:NestedModel")
    assert_clean(report)
    assert report.root_child == "."


def test_two_children_holding_the_same_model_ask_for_a_key(tmp_path: Path) -> None:
    import tensorflow as tf

    from tests.models import zoo

    models = [zoo.NestedModel(), zoo.NestedModel()]
    for m in models:
        m(np.zeros((2, 8), np.float32))
    prefix = tf.train.Checkpoint(student=models[0], teacher=models[1]).save(str(tmp_path / "c"))
    with pytest.raises(UsageError) as err:
        restore(prefix, f"{ZOO}:NestedModel")
    assert "cannot tell which child" in err.value.message
    assert err.value.hint is not None
    assert "student, teacher" in err.value.hint
    assert "--key ." in err.value.hint
    report = restore(prefix, f"{ZOO}:NestedModel", key="teacher")
    assert_clean(report)
    assert report.root_child == "teacher"


@pytest.mark.parametrize("key", [None, "."])
@pytest.mark.parametrize(
    ("directory", "model", "shape"),
    [("sequential", f"{ZOO}:make_sequential", None), ("subclassed", MY_MODEL, "4,20")],
)
def test_keras2_save_weights_restores_under_tf_keras(
    keras2_save_weights_dir: Path, directory: str, model: str, shape: str | None, key: str | None
) -> None:
    """tf-keras `Model.save_weights`: the root is the model (detected, or `--key .`)."""
    import json

    args = ["restore", str(keras2_save_weights_dir / directory), "--model", model, "--json"]
    args += ["--input-shape", shape] if shape else []
    args += ["--key", key] if key else []
    result = run_cli(*args, legacy_keras=True)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["key"] == "."
    assert doc["matched"] == 4


# ---------------------------------------------------------------- 6. input shapes


def test_undeclared_input_shape_proposes_one_from_the_checkpoint(samples_dir: Path) -> None:
    with pytest.raises(UsageError) as err:
        restore(samples_dir / "my_model", MY_MODEL)
    assert err.value.exit_code == EXIT_USAGE
    assert "declares no input shape" in err.value.message
    assert err.value.hint is not None
    assert "--input-shape 4,20" in err.value.hint


def test_undeclared_input_of_a_nested_model_is_guessed_from_its_first_layer(
    tmp_path: Path,
) -> None:
    """The head is tracked before the nested blocks that feed it (its kernel comes first in
    the graph): the proposal is the stem's input, the size no other kernel puts out."""
    import keras
    import tensorflow as tf

    class Block(keras.layers.Layer):
        def __init__(self, units: int) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(units)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.stem, self.body, self.head = Block(32), Block(32), keras.layers.Dense(4)

        def call(self, x: Any) -> Any:
            return self.head(self.body(self.stem(x)))

    net = Net()
    net(np.zeros((2, 10), np.float32))
    prefix = tf.train.Checkpoint(model=net).write(str(tmp_path / "ckpt"))
    with pytest.raises(UsageError) as err:
        restore(prefix, Net)
    assert "--input-shape 4,10 (a guess: model.stem.dense._kernel" in (err.value.hint or "")


def test_undeclared_input_of_an_embedding_model_proposes_token_ids(zoo_ckpt: Any) -> None:
    """A model whose first table is an Embedding's takes integer ids below its rows, not a
    Dense input of that many features: the proposal says so, and it restores."""
    with pytest.raises(UsageError) as err:
        restore(zoo_ckpt("embedding"), f"{ZOO}:EmbeddingModel")
    hint = err.value.hint or ""
    assert "--input-shape 4,16 --input-dtype int32" in hint and "ids below 50" in hint, hint
    report = restore(
        zoo_ckpt("embedding"), f"{ZOO}:EmbeddingModel", input_shapes=[(4, 16)],
        input_dtype="int32",
    )  # fmt: skip
    assert report.ok, (report.outputs, report.stopped)


def test_rejected_input_shape_is_a_model_error(zoo_ckpt: Any) -> None:
    """A functional model declares (None, 8): an input of (4, 7) is rejected when built."""
    with pytest.raises(ModelError) as err:
        restore(zoo_ckpt("functional"), f"{ZOO}:make_functional", input_shapes=[(4, 7)])
    assert err.value.exit_code == EXIT_UNREADABLE
    assert (
        f"{ZOO}:make_functional raised when called on an input of shape (4, 7)" in err.value.message
    )
    assert err.value.hint is not None
    assert "--input-shape" in err.value.hint


def test_wrong_input_shape_for_a_subclassed_model_is_a_mismatch(samples_dir: Path) -> None:
    """An unbuilt subclassed model accepts (4, 7) and builds to it; the kernel then mismatches."""
    from sample_models.models import MyModel

    recorder = Recorder(MyModel, (4, 7))
    report = restore(samples_dir / "my_model", recorder, input_shapes=[(4, 7)])
    assert report.ok is False
    assert report.input_shapes == [[4, 7]]
    assert [(m.path, m.checkpoint_shape, m.model_shape) for m in report.mismatched] == [
        ("model.dense1._kernel", [20, 16], [7, 16])
    ]
    assert report.unused == report.missing == []
    assert report.matched == 3
    assert recorder.unchanged()


def test_batches_below_one_is_a_usage_error(samples_dir: Path) -> None:
    with pytest.raises(UsageError, match="--batches"):
        restore(samples_dir / "my_model", MY_MODEL, input_shapes=SAMPLE_SHAPES, batches=0)


@pytest.fixture(scope="module")
def batch_sized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of ``tests.models.keras3.BatchSized``, built on batches of 2."""
    import tensorflow as tf

    from tests.models.keras3 import BatchSized

    model = BatchSized()
    model(np.ones((2, 5), "float32"))
    return Path(tf.train.Checkpoint(model=model).write(str(tmp_path_factory.mktemp("bs") / "c")))


BATCH_SIZED = "tests.models.keras3:BatchSized"


def test_small_batches_are_fed_in_one_call(batch_sized: Path) -> None:
    """Three random batches of 2 rows: each instance is built on the first (Keras may call
    it more than once to build it), then called once on all three stacked (6 rows)."""
    from tests.models.keras3 import BatchSized

    BatchSized.calls.clear()
    report = restore(batch_sized, BATCH_SIZED, input_shapes=[(2, 5)])
    assert_clean(report)
    assert report.outputs.stacked is True
    assert re.fullmatch(r"(2,)+6,(2,)+6", ",".join(map(str, BatchSized.calls)))


@pytest.mark.parametrize("warn", [False, True])
def test_a_model_written_for_one_batch_size_gets_a_call_a_batch(
    batch_sized: Path, warn: bool
) -> None:
    """Where the stacked call raises (or warns), each batch is called alone, on both
    instances alike: the second is given the stacked call too, its result discarded."""
    from tests.models.keras3 import BatchSized

    BatchSized.calls.clear()
    args = {"batch": 2, "warn": warn}
    report = restore(batch_sized, BATCH_SIZED, input_shapes=[(2, 5)], model_args=args)
    assert_clean(report)
    assert report.outputs.stacked is False
    assert re.fullmatch(r"(2,)+6,2,2,2,(2,)+6,2,2,2", ",".join(map(str, BatchSized.calls)))


def test_a_discarded_stacked_call_leaves_no_warning(batch_sized: Path) -> None:
    import json

    args = ["restore", str(batch_sized), "--model", BATCH_SIZED, "--input-shape", "2,5"]
    result = run_cli(*args, "--model-arg", "batch=2", "--model-arg", "warn=true", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["outputs"]["stacked"] is False and doc["outputs"]["batches"] == 3
    assert not [w for w in doc.get("warnings", []) if "BatchSized" in w["message"]]


def test_batches_are_called_alone_when_a_golden_file_is_recorded(
    batch_sized: Path, tmp_path: Path
) -> None:
    """A golden file holds the outputs of each batch alone: the ones a later --golden
    replays, batch by batch."""
    from tests.models.keras3 import BatchSized

    BatchSized.calls.clear()
    golden = tmp_path / "golden.npz"
    report = restore(batch_sized, BATCH_SIZED, input_shapes=[(2, 5)], save_golden=golden)
    assert_clean(report)
    assert report.outputs.stacked is False and report.saved_golden == str(golden)
    assert set(BatchSized.calls) == {2}
    replayed = restore(batch_sized, BATCH_SIZED, golden=golden)
    assert replayed.ok is True and replayed.outputs.stacked is True
    assert replayed.outputs.golden is not None and replayed.outputs.golden.equal is True
    assert replayed.outputs.golden.max_abs_diff == 0.0


# ---------------------------------------------------------------- 9. read-only


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (MY_MODEL, {"optimizer": "adam"}),
        (MY_MODEL, {}),
        ("sample_models.broken:RenamedModel", {}),
        ("sample_models.broken:RenamedModel", {"partial": True, "optimizer": "adam"}),
        ("sample_models.broken:WidenedModel", {"optimizer": "adam"}),
        ("sample_models.broken:RandomStateModel", {}),
    ],
)
def test_restore_never_writes_into_the_checkpoint_directory(
    samples_dir: Path, tmp_path: Path, model: str, kwargs: dict[str, Any]
) -> None:
    directory = samples_dir / "my_model"
    before = tree_digest(directory)
    restore(
        directory,
        model,
        input_shapes=SAMPLE_SHAPES,
        save_golden=tmp_path / "golden.npz",
        **kwargs,
    )
    assert tree_digest(directory) == before


def test_restore_never_writes_into_a_keras2_checkpoint_directory(keras2_dir: Path) -> None:
    before = tree_digest(keras2_dir)
    restore(keras2_dir, MY_MODEL, input_shapes=SAMPLE_SHAPES, optimizer="adam")
    assert tree_digest(keras2_dir) == before


def test_a_ctrl_c_that_tensorflow_turned_into_another_error_stays_a_ctrl_c() -> None:
    """TensorFlow's device scope raises RuntimeError while a KeyboardInterrupt unwinds
    through it mid-restore: restore finds the interrupt under it (exit 130, not 3)."""
    from ckptctl.restoration.pipeline import _interrupt_under

    def scope_error_during(inner: BaseException) -> RuntimeError:
        try:
            try:
                raise inner
            except BaseException:
                raise RuntimeError("Exiting device scope without proper scope nesting")  # noqa: B904
        except RuntimeError as e:
            return e

    interrupt = KeyboardInterrupt()
    assert _interrupt_under(scope_error_during(interrupt)) is interrupt
    assert _interrupt_under(scope_error_during(ValueError("shape"))) is None
    assert _interrupt_under(RuntimeError("alone")) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_dtype": "floot32"}, "--input-dtype floot32: not a dtype"),
        ({"input_shapes": [(0, 20)]}, "--input-shape '0,20': expected positive integers"),
        ({"input_shapes": [()]}, "--input-shape '': expected positive integers"),
    ],
)
def test_options_that_cannot_make_inputs_are_usage_errors(
    options: dict[str, Any], message: str
) -> None:
    """Checked when the options are made, from the library as from the command line: not a
    numpy or TensorFlow error from inside the run."""
    from ckptctl.restoration.options import RestoreOptions

    with pytest.raises(UsageError, match=message):
        RestoreOptions(**options)

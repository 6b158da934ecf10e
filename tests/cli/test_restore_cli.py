"""`ckptctl restore` through Typer's CliRunner: exit codes, JSON contract, tables, errors."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app

MY_MODEL = "sample_models.models:MyModel"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["restore", *args])


def my_model(samples_dir: Path, *extra: str, model: str = MY_MODEL) -> Result:
    return invoke(str(samples_dir / "my_model"), "--model", model, "--input-shape", "4,20", *extra)


# ---------------------------------------------------------------- exit codes


def test_good_restore_exits_0(samples_dir: Path) -> None:
    result = my_model(samples_dir, "--optimizer", "adam")
    assert result.exit_code == 0, result.output
    assert "Restored and verified." in result.stdout
    assert re.search(r"^Matched +14 values; 1 not requested *$", result.stdout, re.M), result.stdout
    assert result.stderr == ""


def test_renamed_model_exits_1_and_names_both_sides(samples_dir: Path) -> None:
    result = my_model(samples_dir, model="sample_models.broken:RenamedModel")
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "model.encoder._kernel" in out
    assert "model.dense1._kernel" in out
    assert "model.encoder.bias" in out
    assert "model.dense1.bias" in out
    assert "Unused: in the checkpoint, taken by nothing in the model" in out
    assert "Missing: model variables the checkpoint has no value for" in out
    assert "2 unused, 2 missing" in out
    assert "Not restored: the checkpoint does not fit the model; nothing was assigned." in out
    assert "restore with: --map 'dense1=encoder'" in out
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--no-such-option"], "No such option"),
        (["--batches", "0"], "--batches"),
        (["--input-shape", "4,x"], "--input-shape '4,x': expected integers like 4,20"),
        (["--input-shape", "-1,20"], "expected positive integers"),
        (["--input-shape", "0,20"], "--input-shape '0,20': expected positive integers"),
        (
            ["--input-dtype", "floot32"],
            "--input-dtype floot32: not a dtype\n  did you mean float32?",
        ),
        (["--input-range", "10,0"], "HIGH must be greater than LOW"),
        (["--model-arg", "units"], "expected KEY=VALUE"),
    ],
)
def test_usage_errors_exit_2(samples_dir: Path, extra: list[str], message: str) -> None:
    result = invoke(str(samples_dir / "my_model"), "--model", MY_MODEL, *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_model_without_colon_exits_2(samples_dir: Path) -> None:
    result = my_model(samples_dir, model="sample_models.models.MyModel")
    assert result.exit_code == 2
    assert "error: --model 'sample_models.models.MyModel': expected MODULE:NAME" in result.stderr


def test_missing_module_exits_3_on_stderr_without_traceback(samples_dir: Path) -> None:
    result = my_model(samples_dir, model="no_such_package:Net")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "error: --model no_such_package:Net: no module named 'no_such_package'" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(samples_dir: Path) -> None:
    result = my_model(samples_dir, "--debug", model="no_such_package:Net")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert "no module named 'no_such_package'" in result.stderr


def test_missing_checkpoint_exits_3(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "absent"), "--model", MY_MODEL, "--input-shape", "4,20")
    assert result.exit_code == 3
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_undeclared_input_shape_exits_2_with_a_proposal(samples_dir: Path) -> None:
    result = invoke(str(samples_dir / "my_model"), "--model", MY_MODEL)
    assert result.exit_code == 2
    assert "declares no input shape" in result.stderr
    assert "--input-shape 4,20" in result.stderr


def test_rejected_input_shape_exits_3(zoo_ckpt: Any) -> None:
    result = invoke(
        str(zoo_ckpt("functional")),
        "--model",
        "tests.models.zoo:make_functional",
        "--input-shape",
        "4,7",
    )
    assert result.exit_code == 3
    assert "raised when called on an input of shape (4, 7)" in result.stderr
    assert result.stdout == ""


def test_not_a_model_exits_3(samples_dir: Path) -> None:
    result = my_model(samples_dir, model="tests.models.zoo:not_a_model")
    assert result.exit_code == 3
    assert "gave a builtins.int, not a Keras model or tf.Module" in result.stderr


def test_constructor_that_raises_shows_the_users_traceback(
    samples_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "boom.py"
    path.write_text(
        textwrap.dedent(
            """
            class Boom:
                def __init__(self):
                    raise ValueError("hidden size must be even")
            """
        ).lstrip()
    )
    result = my_model(samples_dir, model=f"{path}:Boom")
    assert result.exit_code == 3
    err = result.stderr
    assert "Traceback (your code):" in err
    assert f'File "{path}", line 3, in __init__' in err
    assert 'raise ValueError("hidden size must be even")' in err
    assert f"error: constructing {path}:Boom raised ValueError: hidden size must be even" in err
    assert "this is an error in the model code" in err
    assert "ckptctl/loader.py" not in err
    assert result.stdout == ""


def test_model_args(samples_dir: Path) -> None:
    ok = my_model(
        samples_dir,
        "--model-arg",
        "units=16",
        "--model-arg",
        "name=abc",
        model="tests.models.zoo:SizedModel",
    )
    assert ok.exit_code == 0, ok.output
    wide = my_model(samples_dir, "--model-arg", "units=24", model="tests.models.zoo:SizedModel")
    assert wide.exit_code == 1
    assert "Mismatched: present on both sides, but they do not fit" in wide.stdout


# ---------------------------------------------------------------- golden files


def test_save_golden_into_checkpoint_directory_exits_2(samples_dir: Path) -> None:
    target = samples_dir / "my_model" / "golden.npz"
    result = my_model(samples_dir, "--save-golden", str(target))
    assert result.exit_code == 2
    assert "refusing to write into or over the checkpoint's directory" in result.stderr
    assert not target.exists()


def test_golden_round_trip(samples_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "g.npz"
    saved = my_model(samples_dir, "--save-golden", str(golden))
    assert saved.exit_code == 0, saved.output
    assert golden.is_file()
    replay = my_model(samples_dir, "--golden", str(golden), "--json")
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.stdout)["outputs"]["golden"] == {
        "file": str(golden),
        "equal": True,
        "max_abs_diff": 0.0,
    }
    older = invoke(
        str(samples_dir / "my_model" / "ckpt-1"),
        "--model",
        MY_MODEL,
        "--input-shape",
        "4,20",
        "--golden",
        str(golden),
    )
    assert older.exit_code == 1
    assert "golden" in older.stdout
    assert "differ" in older.stdout


# ---------------------------------------------------------------- --json


def check_contract(doc: dict[str, Any]) -> None:
    """Every field of the documented JSON contract, with its type."""
    assert isinstance(doc["ok"], bool)
    for name in ("checkpoint", "model", "key"):
        assert isinstance(doc[name], str)
    assert isinstance(doc["input_shapes"], list)
    assert all(isinstance(d, int) for s in doc["input_shapes"] for d in s)
    assert isinstance(doc["matched"], int) and not isinstance(doc["matched"], bool)
    for u in doc["unused"]:
        assert set(u) >= {"key", "path", "shape", "dtype", "suggestion"}
        assert isinstance(u["key"], str)
        assert u["path"] is None or isinstance(u["path"], str)
        assert all(isinstance(d, int) for d in u["shape"])
        assert isinstance(u["dtype"], str)
        assert u["suggestion"] is None or isinstance(u["suggestion"], str)
    for m in doc["missing"]:
        assert set(m) >= {"path", "shape", "dtype", "suggestion"}
        assert isinstance(m["path"], str)
        assert all(isinstance(d, int) for d in m["shape"])
        assert m["suggestion"] is None or isinstance(m["suggestion"], str)
    for m in doc["mismatched"]:
        assert set(m) >= {
            "key",
            "path",
            "checkpoint_shape",
            "model_shape",
            "checkpoint_dtype",
            "model_dtype",
        }
        assert all(isinstance(d, int) for d in m["checkpoint_shape"] + m["model_shape"])
    assert isinstance(doc["values"]["checked"], int)
    assert all(isinstance(p, str) for p in doc["values"]["differing"])
    outputs = doc["outputs"]
    assert isinstance(outputs["batches"], int)
    assert isinstance(outputs["equal"], bool)
    assert isinstance(outputs["max_abs_diff"], float)
    assert outputs["golden"] is None or set(outputs["golden"]) == {"file", "equal", "max_abs_diff"}
    for extra in ("not_requested", "stopped", "restored", "partial", "optimizer", "format"):
        assert extra in doc


def test_json_good_restore(samples_dir: Path) -> None:
    result = my_model(samples_dir, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)  # exactly one document: anything else fails to parse
    check_contract(doc)
    assert doc["ok"] is True
    assert doc["checkpoint"] == str(samples_dir / "my_model" / "ckpt-3")
    assert doc["model"] == MY_MODEL
    assert doc["key"] == "model"
    assert doc["input_shapes"] == [[4, 20]]
    assert doc["matched"] == 4
    assert doc["unused"] == doc["missing"] == doc["mismatched"] == []
    assert doc["values"] == {"checked": 4, "differing": []}
    assert doc["outputs"]["batches"] == 3
    assert doc["outputs"]["equal"] is True
    assert doc["outputs"]["max_abs_diff"] == 0.0
    assert doc["outputs"]["golden"] is None
    assert doc["format"] == "object-graph"
    assert doc["restored"] == 4
    assert doc["partial"] is False
    assert doc["optimizer"] is None
    assert doc["stopped"] is None
    assert result.stderr == ""


def test_json_renamed_model(samples_dir: Path) -> None:
    result = my_model(samples_dir, "--json", model="sample_models.broken:RenamedModel")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    check_contract(doc)
    assert doc["ok"] is False
    assert [(u["path"], u["suggestion"]) for u in doc["unused"]] == [
        ("model.dense1._kernel", "model.encoder._kernel"),
        ("model.dense1.bias", "model.encoder.bias"),
    ]
    assert [(m["path"], m["suggestion"]) for m in doc["missing"]] == [
        ("model.encoder._kernel", "model.dense1._kernel"),
        ("model.encoder.bias", "model.dense1.bias"),
    ]
    assert doc["values"] == {"checked": 0, "differing": []}
    assert doc["outputs"]["batches"] == 0
    assert doc["outputs"]["equal"] is False


def test_json_errors_go_to_stderr_only(samples_dir: Path) -> None:
    result = my_model(samples_dir, "--json", model="no_such_package:Net")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "no module named" in result.stderr


# ---------------------------------------------------------------- folding


def test_many_numbered_blocks_fold_in_the_table_not_in_json(samples_dir: Path) -> None:
    model = "tests.models.zoo:make_many_blocks"
    table = invoke(str(samples_dir / "my_model"), "--model", model)
    assert table.exit_code == 1, table.output
    assert "model._operations.{1..12}._kernel" in table.stdout
    assert "model._operations.{1..12}.bias" in table.stdout
    assert "model._operations.7._kernel" not in table.stdout
    assert "4 unused, 24 missing" in table.stdout

    doc = json.loads(invoke(str(samples_dir / "my_model"), "--model", model, "--json").stdout)
    assert doc["missing"] == [
        entry
        for n in range(1, 13)
        for entry in (
            {
                "path": f"model._operations.{n}._kernel",
                "shape": [20, 4],
                "dtype": "float32",
                "suggestion": None,
                "accepted": False,
                "kind": "model",
                "reason": None,
            },
            {
                "path": f"model._operations.{n}.bias",
                "shape": [4],
                "dtype": "float32",
                "suggestion": None,
                "accepted": False,
                "kind": "model",
                "reason": None,
            },
        )
    ]
    assert [u["path"] for u in doc["unused"]] == [
        "model.dense1._kernel",
        "model.dense1.bias",
        "model.dense2._kernel",
        "model.dense2.bias",
    ]
    assert doc["matched"] == 0


# ---------------------------------------------------------------- output tolerances

PERTURBED_MODEL = '''
import itertools

import tensorflow as tf

COUNT = itertools.count()


class Perturbed(tf.keras.Model):
    """MyModel's layers, plus a constant that is no variable, so no checkpoint holds it:
    the n-th instance adds n * 1e-6 to its outputs. Two restored instances differ by 1e-6."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)
        self.offset = next(COUNT) * 1e-6

    def call(self, x, training=False):
        return self.dense2(self.dense1(x)) + self.offset
'''


@pytest.mark.parametrize(
    ("tolerance", "code"),
    [
        ([], 1),
        (["--atol", "1e-4"], 0),
        (["--atol", "1e-8"], 1),
        (["--rtol", "0.5"], 0),
        (["--rtol", "1e-9"], 1),
    ],
    ids=["exact", "atol-wide", "atol-narrow", "rtol-wide", "rtol-narrow"],
)
def test_output_tolerances(
    samples_dir: Path, tmp_path: Path, tolerance: list[str], code: int
) -> None:
    """Outputs 1e-6 apart: not equal by default (exact) nor within 1e-8, equal within
    --atol 1e-4 or --rtol 0.5; whatever the tolerance, every value restored bit for bit and
    the difference is reported."""
    model = tmp_path / "perturbed.py"
    model.write_text(PERTURBED_MODEL)
    result = my_model(samples_dir, *tolerance, "--json", model=f"{model}:Perturbed")
    assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is (code == 0)
    assert doc["values"] == {"checked": 4, "differing": []}
    outputs = doc["outputs"]
    assert (outputs["ran"], outputs["finite"], outputs["equal"]) == (True, True, code == 0)
    assert 5e-7 < outputs["max_abs_diff"] < 2e-6

"""`ckptctl.loader`: turning `--model` and `--model-arg` into a constructed model.

The user's code runs here, so its errors must read as the user's (their file and line), and
everything else as a precise ckptctl message with the documented exit code.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ckptctl.errors import EXIT_UNREADABLE, EXIT_USAGE, ModelError, UsageError
from ckptctl.loader import (
    ModelSpec,
    construct,
    parse_model_args,
    parse_spec,
    resolve_factory,
)
from ckptctl.restoration import restore


def load(spec: str) -> object:
    """What `restore` does with a `--model` string before building the model."""
    parsed = parse_spec(spec)
    return construct(str(parsed), resolve_factory(parsed), {})


def write_module(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


# ---------------------------------------------------------------- the spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sample_models.models:MyModel", ModelSpec("sample_models.models", "MyModel", False)),
        ("pkg.mod:Outer.Inner", ModelSpec("pkg.mod", "Outer.Inner", False)),
        ("models.py:Net", ModelSpec("models.py", "Net", True)),
        ("dir/models.py:Net", ModelSpec("dir/models.py", "Net", True)),
        ("C:/dir/models.py:Net", ModelSpec("C:/dir/models.py", "Net", True)),
    ],
)
def test_parse_spec(text: str, expected: ModelSpec) -> None:
    assert parse_spec(text) == expected
    assert str(parse_spec(text)) == text


@pytest.mark.parametrize(
    "text", ["sample_models.models.MyModel", "MyModel", "module:", ":Name", "mod:not-a-name", ""]
)
def test_bad_spec_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_spec(text)
    assert err.value.exit_code == EXIT_USAGE
    assert err.value.message == f"--model {text!r}: expected MODULE:NAME"
    assert err.value.hint is not None
    assert "pkg.module:ClassName" in err.value.hint


def test_bad_spec_through_restore_is_a_usage_error(samples_dir: Path) -> None:
    with pytest.raises(UsageError, match="expected MODULE:NAME"):
        restore(samples_dir / "my_model", "sample_models.models.MyModel")


# ---------------------------------------------------------------- --model-arg


def test_model_args_are_json_else_strings() -> None:
    args = parse_model_args(["units=32", "name=abc", "rate=0.5", "flag=true", "dims=[1, 2]"])
    assert args == {"units": 32, "name": "abc", "rate": 0.5, "flag": True, "dims": [1, 2]}
    assert type(args["units"]) is int
    assert type(args["name"]) is str


def test_model_arg_value_may_contain_equals() -> None:
    assert parse_model_args(["expr=a=b"]) == {"expr": "a=b"}


@pytest.mark.parametrize("pair", ["units", "=3", "1x=3", "my-units=3"])
def test_bad_model_arg_is_a_usage_error(pair: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_model_args([pair])
    assert err.value.message == f"--model-arg {pair!r}: expected KEY=VALUE (e.g. units=64)"


def test_model_args_reach_the_constructor(samples_dir: Path) -> None:
    """`units=16` arrives as an int (`SizedModel` raises on a string), `name` as a string."""
    report = restore(
        samples_dir / "my_model",
        "tests.models.zoo:SizedModel",
        model_args=parse_model_args(["units=16", "name=abc"]),
        input_shapes=[(4, 20)],
    )
    assert report.ok is True
    assert report.matched == 4


def test_unknown_model_arg_of_a_plain_class(tmp_path: Path) -> None:
    path = write_module(
        tmp_path, "plain.py", "class Plain:\n    def __init__(self):\n        pass\n"
    )
    parsed = parse_spec(f"{path}:Plain")
    with pytest.raises(ModelError) as err:
        construct(str(parsed), resolve_factory(parsed), {"units": 3})
    assert err.value.message == (
        f"--model {path}:Plain: TypeError: Plain.__init__() got an unexpected keyword argument "
        "'units'"
    )
    assert err.value.hint == "check the --model-arg names against the constructor's parameters"


def test_unknown_model_arg_of_a_keras_model(samples_dir: Path) -> None:
    """Keras raises ValueError("Unrecognized keyword arguments ...") for an unknown kwarg: the
    fault is the --model-arg, and the hint must say so rather than blame the model code."""
    with pytest.raises(ModelError) as err:
        restore(
            samples_dir / "my_model",
            "tests.models.zoo:SizedModel",
            model_args={"width": 16},
            input_shapes=[(4, 20)],
        )
    assert err.value.exit_code == EXIT_UNREADABLE
    assert "width" in err.value.message
    assert err.value.hint == "check the --model-arg names against the constructor's parameters"


# ---------------------------------------------------------------- importing


def test_module_not_found() -> None:
    with pytest.raises(ModelError) as err:
        load("no_such_package.models:Net")
    assert err.value.exit_code == EXIT_UNREADABLE
    assert "no module named 'no_such_package'" in err.value.message
    assert err.value.user_traceback is None


def test_submodule_not_found_names_the_missing_part() -> None:
    with pytest.raises(ModelError) as err:
        load("sample_models.nothing_here:Net")
    assert "no module named 'sample_models.nothing_here'" in err.value.message


def test_name_not_in_module_lists_its_classes_and_the_closest() -> None:
    with pytest.raises(ModelError) as err:
        load("sample_models.models:YourModel")
    assert err.value.exit_code == EXIT_UNREADABLE
    assert "has no attribute 'YourModel'" in err.value.message
    assert err.value.hint == (
        "did you mean MyModel? classes and functions defined there: "
        "CustomDense, CustomModel, MyModel, MyVersionedModel"
    )


def test_name_not_in_file_lists_only_what_is_defined_there(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "nets.py",
        """
        from pathlib import Path
        from typing import Any


        class Alpha:
            pass


        class Beta:
            pass


        def build_model() -> Beta:
            return Beta()


        _helper = build_model
        """,
    )
    with pytest.raises(ModelError) as err:
        load(f"{path}:Gamma")
    assert err.value.hint == "classes and functions defined there: Alpha, Beta, build_model"
    with pytest.raises(ModelError) as err:
        load(f"{path}:build")
    assert err.value.hint == (
        "did you mean build_model? classes and functions defined there: Alpha, Beta, build_model"
    )


def test_a_name_part_of_several_lists_them_and_counts_the_rest(tmp_path: Path) -> None:
    """`Transformer` is part of three names: each is proposed, not the one spelt closest;
    a module of many names lists twelve and says how many more."""
    body = "".join(f"class Layer{i:02d}:\n    pass\n\n\n" for i in range(12))
    body += "".join(
        f"class Transformer{s}:\n    pass\n\n\n" for s in ("Classifier", "Heads2", "Renamed")
    )
    path = write_module(tmp_path, "many.py", body)
    with pytest.raises(ModelError) as err:
        load(f"{path}:Transformer")
    hint = err.value.hint or ""
    assert hint.startswith(
        "did you mean TransformerClassifier or TransformerHeads2 or TransformerRenamed? "
    ), hint
    assert hint.endswith("Layer11, and 3 more"), hint


def test_file_form(tmp_path: Path, samples_dir: Path) -> None:
    path = write_module(
        tmp_path,
        "user_model.py",
        """
        import tensorflow as tf


        class UserModel(tf.keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense1 = tf.keras.layers.Dense(16, activation="relu")
                self.dense2 = tf.keras.layers.Dense(10)

            def call(self, x, training=False):
                return self.dense2(self.dense1(x))
        """,
    )
    report = restore(samples_dir / "my_model", f"{path}:UserModel", input_shapes=[(4, 20)])
    assert report.ok is True
    assert report.model == f"{path}:UserModel"
    assert report.matched == 4


def test_missing_file() -> None:
    with pytest.raises(ModelError) as err:
        load("/nonexistent/dir/model.py:Net")
    assert err.value.message == "--model /nonexistent/dir/model.py: no such file"


def test_import_error_in_user_module_is_framed_as_theirs(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "broken_import.py",
        """
        import math

        VALUE = math.sqrt(4)
        raise RuntimeError("config not found")
        """,
    )
    with pytest.raises(ModelError) as err:
        load(f"{path}:Net")
    assert err.value.message == f"importing {path} raised RuntimeError: config not found"
    tb = err.value.user_traceback
    assert tb is not None
    assert f'File "{path}", line 4' in tb
    assert "ckptctl" not in tb.replace(str(tmp_path), "")


def test_a_module_imported_by_name_has_no_frame_of_pythons_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "needs_extra.py", "import no_such_dependency_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError) as err:
        load("needs_extra:Net")
    tb = err.value.user_traceback
    assert tb is not None
    assert f'File "{tmp_path / "needs_extra.py"}", line 1' in tb
    assert "importlib" not in tb


def test_constructor_that_raises_is_framed_as_the_users_error(tmp_path: Path) -> None:
    path = write_module(
        tmp_path,
        "boom.py",
        """
        def helper():
            raise ValueError("hidden size must be even")


        class Boom:
            def __init__(self):
                helper()
        """,
    )
    with pytest.raises(ModelError) as err:
        load(f"{path}:Boom")
    e = err.value
    assert e.exit_code == EXIT_UNREADABLE
    assert e.message == f"constructing {path}:Boom raised ValueError: hidden size must be even"
    assert e.hint is not None
    assert "error in the model code" in e.hint
    tb = e.user_traceback
    assert tb is not None
    assert tb.startswith("Traceback (your code):")
    assert f'File "{path}", line 7, in __init__' in tb
    assert f'File "{path}", line 2, in helper' in tb
    assert tb.rstrip().endswith("ValueError: hidden size must be even")
    assert "loader.py" not in tb


def test_not_a_model() -> None:
    with pytest.raises(ModelError) as err:
        load("tests.models.zoo:not_a_model")
    assert err.value.exit_code == EXIT_UNREADABLE
    assert err.value.message == (
        "--model tests.models.zoo:not_a_model gave a builtins.int, not a Keras model or tf.Module"
    )


def test_name_that_is_not_callable() -> None:
    with pytest.raises(ModelError) as err:
        load("tests.models.zoo:FEATURES")
    assert "FEATURES is an int, not a class or function" in err.value.message


def test_a_callable_model_is_used_as_is(samples_dir: Path) -> None:
    from sample_models.models import MyModel

    report = restore(samples_dir / "my_model", MyModel, input_shapes=[(4, 20)])
    assert report.ok is True
    assert report.model == "MyModel"

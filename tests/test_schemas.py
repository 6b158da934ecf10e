"""The shipped JSON Schemas, checked on real `--json` output and on broken documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from ckptctl.errors import UsageError
from ckptctl.schemas import load_schema, names
from tests.checkpoints import delete_data_shard

MY_MODEL = "sample_models.models:MyModel"
RENAMED = "sample_models.broken:RenamedModel"

QUIET_ENV: dict[str, str | None] = {"CKPTCTL_DEBUG": None, "FORCE_COLOR": None, "COLUMNS": None}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=QUIET_ENV)


def document(result: Result, exit_code: int) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


def assert_valid(doc: dict[str, Any], name: str) -> None:
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


# ---------------------------------------------------------------- the schemas themselves


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert names() == ["diff", "inspect", "restore", "trend"]
    for name in names():
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is True, "more fields may be added"


def test_load_schema_by_name_or_file_name() -> None:
    assert load_schema("inspect") == load_schema("inspect.schema.json")
    first = load_schema("restore")
    first["required"].clear()
    assert load_schema("restore")["required"], "each call returns a fresh copy"
    with pytest.raises(UsageError, match="no JSON schema named 'nope'") as info:
        load_schema("nope")
    assert info.value.hint == "available: diff, inspect, restore, trend"


# ---------------------------------------------------------------- inspect --json


@pytest.mark.parametrize(
    ("fixture", "subpath", "extra"),
    [
        ("samples_dir", "my_model", []),
        ("samples_dir", "custom_model", ["--tree"]),
        ("samples_dir", "versioned_model", ["--filter", "model.*"]),
        ("name_based_ckpt", "", []),
        ("sharded_ckpt", "", []),
        ("dtypes_ckpt", "", []),
        ("saved_model_dir", "", ["--tree"]),
    ],
)
def test_inspect_json_validates(
    request: pytest.FixtureRequest, fixture: str, subpath: str, extra: list[str]
) -> None:
    path = Path(request.getfixturevalue(fixture)) / subpath
    doc = document(run("inspect", path, "--json", *extra), 0)
    assert doc["variables"]
    assert ("tree" in doc) == ("--tree" in extra)
    assert_valid(doc, "inspect")


def test_inspect_json_with_stats_validates(samples_dir: Path) -> None:
    doc = document(run("inspect", samples_dir / "my_model", "--json", "--stats", "--hist"), 0)
    assert doc["nonfinite"] == 0
    assert all(len(v["stats"]["hist"]) == 10 for v in doc["variables"])
    assert_valid(doc, "inspect")
    broken = copy.deepcopy(doc)
    broken["variables"][0]["stats"]["zeros"] = 2.0
    assert list(validator("inspect").iter_errors(broken)), "zeros is a fraction"


def test_inspect_json_with_stats_is_strict_json(dtypes_ckpt: Path) -> None:
    result = run("inspect", dtypes_ckpt, "--json", "--stats")
    assert result.exit_code == 0, result.output

    def reject(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    json.loads(result.stdout, parse_constant=reject)


def test_inspect_json_of_a_checkpoint_missing_a_data_shard_validates(
    samples_dir: Path, broken_copy: Callable[[Path], Path]
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    delete_data_shard(directory / "ckpt-3")
    doc = document(run("inspect", directory, "--json"), 3)
    assert doc["error"] is not None
    assert_valid(doc, "inspect")


@pytest.fixture(scope="module")
def inspect_doc(samples_dir: Path) -> dict[str, Any]:
    return document(run("inspect", samples_dir / "my_model", "--json"), 0)


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda d: d.pop("save_counter"), "save_counter"),
        (lambda d: d.pop("variables"), "variables"),
        (lambda d: d["variables"][0].pop("path"), "path"),
        (lambda d: d.update(save_counter="3"), "save_counter"),
        (lambda d: d.update(format="tf1"), "format"),
        (lambda d: d["variables"][0].update(path=1), "path"),
        (lambda d: d["variables"][0].update(shape=[20, -1]), "shape"),
        # A name-based checkpoint has no object paths.
        (lambda d: d.update(format="name-based"), "path"),
    ],
)
def test_a_broken_inspect_document_fails_validation(
    inspect_doc: dict[str, Any], breakage: Callable[[dict[str, Any]], Any], where: str
) -> None:
    doc = copy.deepcopy(inspect_doc)
    breakage(doc)
    errors = list(validator("inspect").iter_errors(doc))
    assert errors
    assert any(where in e.message or where in e.absolute_path for e in errors), [
        e.message for e in errors
    ]


def test_extra_fields_are_allowed(inspect_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(inspect_doc)
    doc["a_new_field"] = {"anything": [1, 2]}
    doc["variables"][0]["another"] = None
    assert_valid(doc, "inspect")


# ---------------------------------------------------------------- restore --json


def restore(samples_dir: Path, *extra: str | Path, model: str = MY_MODEL) -> list[str | Path]:
    return ["restore", samples_dir / "my_model", "--model", model, "--input-shape", "4,20", *extra]


def test_restore_json_of_a_verified_restore_and_its_golden_replay_validate(
    samples_dir: Path, tmp_path: Path
) -> None:
    golden = tmp_path / "golden.npz"
    saved = document(
        run(*restore(samples_dir, "--json", "--optimizer", "adam", "--save-golden", golden)), 0
    )
    assert saved["ok"] is True
    assert saved["saved_golden"] == str(golden)
    assert_valid(saved, "restore")

    replayed = document(run(*restore(samples_dir, "--golden", golden, "--json")), 0)
    assert replayed["outputs"]["golden"]["equal"] is True
    assert_valid(replayed, "restore")


def test_restore_json_of_a_renamed_layer_validates(samples_dir: Path) -> None:
    doc = document(run(*restore(samples_dir, "--json", model=RENAMED)), 1)
    assert doc["ok"] is False
    assert doc["stopped"] is not None
    assert [u["path"] for u in doc["unused"]] == ["model.dense1._kernel", "model.dense1.bias"]
    assert_valid(doc, "restore")


def test_restore_json_of_a_partial_restore_with_mismatches_validates(samples_dir: Path) -> None:
    doc = document(
        run(
            *restore(samples_dir, "--json", "--partial", model="sample_models.broken:WidenedModel")
        ),
        1,
    )
    assert doc["mismatched"]
    assert doc["outputs"]["ran"] is True
    assert_valid(doc, "restore")


def test_restore_json_with_maps_validates(samples_dir: Path) -> None:
    args = restore(samples_dir, "--json", "--map", "dense1=encoder", model=RENAMED)
    doc = document(run(*args), 0)
    assert doc["maps"] == ["dense1=encoder"]
    assert [m["model_path"] for m in doc["mapped"]] == [
        "model.encoder._kernel",
        "model.encoder.bias",
    ]
    assert_valid(doc, "restore")


@pytest.fixture(scope="module")
def restore_doc(samples_dir: Path) -> dict[str, Any]:
    return document(run(*restore(samples_dir, "--json", model=RENAMED)), 1)


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda d: d.pop("ok"), "ok"),
        (lambda d: d.pop("unused"), "unused"),
        (lambda d: d["outputs"].pop("golden"), "golden"),
        (lambda d: d.pop("mapped"), "mapped"),
        (lambda d: d["unused"][0].pop("suggestion"), "suggestion"),
        (lambda d: d.update(ok="false"), "ok"),
        (lambda d: d.update(input_shapes=[4, 20]), "input_shapes"),
        (lambda d: d["values"].update(differing="model.dense1.bias"), "differing"),
        (lambda d: d["outputs"].update(golden={"file": "g.npz", "equal": True}), "golden"),
    ],
)
def test_a_broken_restore_document_fails_validation(
    restore_doc: dict[str, Any], breakage: Callable[[dict[str, Any]], Any], where: str
) -> None:
    doc = copy.deepcopy(restore_doc)
    breakage(doc)
    errors = list(validator("restore").iter_errors(doc))
    assert errors
    messages = [e.message for e in errors] + [str(list(e.absolute_path)) for e in errors]
    assert any(where in m for m in messages), messages


# ---------------------------------------------------------------- diff --json


@pytest.mark.parametrize(
    ("a", "b", "exit_code"),
    [
        ("my_model/ckpt-3", "my_model", 0),
        ("my_model/ckpt-1", "my_model", 1),
        ("my_model", "custom_model", 1),
    ],
)
def test_diff_json_validates(samples_dir: Path, a: str, b: str, exit_code: int) -> None:
    doc = document(run("diff", samples_dir / a, samples_dir / b, "--json"), exit_code)
    assert doc["equal"] is (exit_code == 0)
    assert_valid(doc, "diff")


def test_a_broken_diff_document_fails_validation(samples_dir: Path) -> None:
    doc = document(
        run("diff", samples_dir / "my_model/ckpt-1", samples_dir / "my_model", "--json"), 1
    )
    assert doc["changed"]
    for breakage in (
        lambda d: d.pop("equal"),
        lambda d: d["changed"][0].pop("b_key"),
        lambda d: d["changed"][0].update(kind="bigger"),
        lambda d: d["changed"][0].update(max_abs_diff="huge"),
    ):
        broken = copy.deepcopy(doc)
        breakage(broken)
        assert list(validator("diff").iter_errors(broken))
    doc["changed"][0]["max_abs_diff"] = "inf"
    assert_valid(doc, "diff")


def test_warnings_caught_while_building_the_model_validate(
    long_names_ckpts: dict[str, Path],
) -> None:
    """The Keras warning a model raises while ckptctl builds it is in the document, as the
    schema describes it; a warning without its message is refused."""
    doc = document(
        run(
            "restore", long_names_ckpts["second"], "--model", "tests.models.wide:RenamedHeadNet",
            "--key", "net", "--json",
        ),
        1,
    )  # fmt: skip
    assert [(w["category"], w["origin"]) for w in doc["warnings"]] == [("UserWarning", "keras")]
    assert_valid(doc, "restore")
    doc["warnings"][0].pop("message")
    assert list(validator("restore").iter_errors(doc))
    diff_doc = document(run("diff", long_names_ckpts["second"], long_names_ckpts["second"],
                            "--json"), 0)  # fmt: skip
    assert diff_doc["warnings"] == []
    assert_valid(diff_doc, "diff")

"""`ckptctl diff` through `typer.testing.CliRunner`: exit codes, JSON contract, tables, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.checkpoints import (
    PROJECT_ROOT,
    data_shards,
    delete_data_shard,
    flip_data_byte,
    truncate_data,
)
from tests.fresh import run_fresh
from tests.test_diff import (
    BYTES_A,
    BYTES_B,
    EDIT_DELTA,
    SPECIAL_A,
    SPECIAL_B,
    write_keras_variants,
    write_name_based_variant,
    write_sharded_variant,
    write_values,
)

BrokenCopy = Callable[[Path], Path]

QUIET_ENV: dict[str, str | None] = {
    "CKPTCTL_DEBUG": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "COLUMNS": None,
    "LINES": None,
}

TOP_TYPES: dict[str, type | tuple[type, ...]] = {
    "a": str,
    "b": str,
    "only_in_a": list,
    "only_in_b": list,
    "changed": list,
    "unchanged": int,
    "equal": bool,
    "atol": float,
    "rtol": float,
    "compared": int,
    "paired_by_path": int,
    "renamed": list,
}
ONLY_IN_TYPES: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "path": (str, type(None)),
    "shape": list,
    "dtype": str,
}
NUMBER_OR_NULL = (int, float, str, type(None))
CHANGED_TYPES: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "path": (str, type(None)),
    "a_shape": list,
    "b_shape": list,
    "a_dtype": str,
    "b_dtype": str,
    "max_abs_diff": NUMBER_OR_NULL,
    "max_rel_diff": NUMBER_OR_NULL,
    "equal": bool,
    "b_key": str,
    "paired_by": str,
    "num_differing": (int, type(None)),
    "nan_mismatch": (int, type(None)),
    "kind": str,
}


def run(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(app, ["diff", *map(str, args)], env={**QUIET_ENV, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ckptctl raised {result.exception!r}\n{result.stderr}")
    return result


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def parse_json(result: Result) -> dict[str, Any]:
    """stdout must be exactly one strict JSON document (no NaN or Infinity)."""
    try:
        doc = json.loads(result.stdout, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise AssertionError(
            f"stdout is not one JSON document ({e}): {result.stdout[:500]!r}\n{result.stderr}"
        ) from None
    assert isinstance(doc, dict)
    for field, kind in TOP_TYPES.items():
        assert isinstance(doc[field], kind), field
    for side in ("only_in_a", "only_in_b"):
        for v in doc[side]:
            for field, kind in ONLY_IN_TYPES.items():
                assert isinstance(v[field], kind), (field, v)
    for c in doc["changed"]:
        for field, kind in CHANGED_TYPES.items():
            assert isinstance(c[field], kind), (field, c)
        assert c["equal"] is False
    return doc


def assert_clean_error(result: Result, *names: str) -> None:
    """Exit 3, nothing on stdout, one or two lines on stderr naming the file, no traceback."""
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    flat = " ".join(line.strip() for line in lines)
    for name in names:
        assert name in flat, (name, result.stderr)


@pytest.fixture(scope="session")
def variants(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_keras_variants(samples_dir, tmp_path_factory.mktemp("cli_keras_variants"))


@pytest.fixture(scope="session")
def special(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cli_special")
    return write_values(base / "a" / "ckpt", SPECIAL_A), write_values(
        base / "b" / "ckpt", SPECIAL_B
    )


# ---------------------------------------------------------------- the sample checkpoints


def test_consecutive_checkpoints_differ(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    result = run(d / "ckpt-1", d / "ckpt-2")
    assert result.exit_code == 1, result.output
    assert result.stderr == ""
    out = result.stdout
    assert "A and B differ: 14 changed, 1 unchanged (atol=0, rtol=0)" in out
    assert str(d / "ckpt-1") in out and str(d / "ckpt-2") in out
    for text in ("Changed (14)", "model.dense1._kernel", "save_counter", "320/320", "[20, 16]"):
        assert text in out, text
    assert "Only in" not in out


def test_consecutive_checkpoints_json(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    result = run(d / "ckpt-1", d / "ckpt-2", "--json")
    assert result.exit_code == 1
    assert result.stderr == ""
    doc = parse_json(result)
    assert (doc["a"], doc["b"]) == (str(d / "ckpt-1"), str(d / "ckpt-2"))
    assert (doc["equal"], doc["unchanged"], doc["compared"]) == (False, 1, 15)
    assert doc["only_in_a"] == doc["only_in_b"] == []
    changed = {c["path"]: c for c in doc["changed"]}
    kernel = changed["model.dense1._kernel"]
    assert kernel["key"] == kernel["b_key"] == "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert (kernel["a_shape"], kernel["b_shape"]) == ([20, 16], [20, 16])
    assert (kernel["a_dtype"], kernel["b_dtype"]) == ("float32", "float32")
    assert (kernel["num_differing"], kernel["num_elements"]) == (320, 320)
    assert 0 < kernel["max_abs_diff"] < 1
    assert (changed["save_counter"]["max_abs_diff"], changed["save_counter"]["paired_by"]) == (
        1.0,
        "key",
    )


def test_a_checkpoint_against_itself_exits_0(samples_dir: Path) -> None:
    result = run(samples_dir / "my_model", samples_dir / "my_model" / "ckpt-3")
    assert result.exit_code == 0, result.output
    assert "A and B are equal: 15 unchanged (atol=0, rtol=0)" in result.stdout
    assert "Changed" not in result.stdout
    doc = parse_json(run(samples_dir / "my_model", samples_dir / "my_model", "--json"))
    assert (doc["equal"], doc["unchanged"], doc["changed"]) == (True, 15, [])


STDOUT_CASES = {
    # (pair, options): (exit code, the table's summary line, (changed, unchanged) in JSON)
    (("ckpt-1", "ckpt-2"), ()): (1, "A and B differ: 14 changed, 1 unchanged", (14, 1)),
    (("ckpt-1", "ckpt-2"), ("--model-only",)): (
        1,
        "A and B differ: 4 changed, 0 unchanged",
        (4, 0),
    ),
    (("ckpt-1", "ckpt-2"), ("-f", "model.*")): (
        1,
        "A and B differ: 4 changed, 0 unchanged",
        (4, 0),
    ),
    (("ckpt-1", "ckpt-1"), ()): (0, "A and B are equal: 15 unchanged", (0, 15)),
    (("ckpt-1", "ckpt-1"), ("--model-only",)): (0, "A and B are equal: 4 unchanged", (0, 4)),
    (("ckpt-1", "ckpt-1"), ("-f", "model.*")): (0, "A and B are equal: 4 unchanged", (0, 4)),
}


@pytest.mark.parametrize(("pair", "args"), list(STDOUT_CASES))
def test_stdout_fits_in_80_columns(
    samples_dir: Path, pair: tuple[str, str], args: tuple[str, ...]
) -> None:
    """A pair of consecutive checkpoints differs (exit 1), a checkpoint equals itself (exit
    0); the table says so in 80 columns and `--json` gives the same counts."""
    code, summary, (changed, unchanged) = STDOUT_CASES[pair, args]
    d = samples_dir / "my_model"
    result = run(d / pair[0], d / pair[1], *args, env={"COLUMNS": "80"})
    assert result.exit_code == code, result.output
    assert f"{summary} (atol=0, rtol=0)" in result.stdout
    assert "\x1b[" not in result.stdout
    for line in result.stdout.splitlines():
        assert len(line) <= 80, line
    json_result = run(d / pair[0], d / pair[1], *args, "--json", env={"COLUMNS": "80"})
    assert json_result.exit_code == code
    doc = parse_json(json_result)
    assert doc["equal"] is (code == 0)
    assert (len(doc["changed"]), doc["unchanged"]) == (changed, unchanged)
    assert doc["only_in_a"] == doc["only_in_b"] == []


# ---------------------------------------------------------------- an edited value, tolerances


def test_one_edited_value(samples_dir: Path, variants: dict[str, Path]) -> None:
    original = samples_dir / "my_model" / "ckpt-3"
    result = run(original, variants["edited"], "--json")
    assert result.exit_code == 1
    doc = parse_json(result)
    (c,) = doc["changed"]
    assert c["path"] == "model.dense1.bias"
    assert c["max_abs_diff"] == pytest.approx(EDIT_DELTA, rel=1e-3)
    assert (c["num_differing"], doc["unchanged"]) == (1, 14)
    table = run(original, variants["edited"])
    assert "A and B differ: 1 changed, 14 unchanged" in table.stdout
    assert "1/16" in table.stdout


def test_atol_larger_than_the_change_exits_0(samples_dir: Path, variants: dict[str, Path]) -> None:
    original = samples_dir / "my_model" / "ckpt-3"
    result = run(original, variants["edited"], "--atol", str(2 * EDIT_DELTA))
    assert result.exit_code == 0, result.output
    assert "A and B are equal: 15 unchanged (atol=0.002, rtol=0)" in result.stdout
    doc = parse_json(run(original, variants["edited"], "--atol", "0.002", "--json"))
    assert (doc["equal"], doc["atol"], doc["rtol"]) == (True, 0.002, 0.0)
    assert run(original, variants["edited"], "--atol", str(EDIT_DELTA / 2)).exit_code == 1
    assert run(original, variants["edited"], "--rtol", "0.5").exit_code == 0


# ---------------------------------------------------------------- shapes, Keras 2 vs 3


def test_shape_change(samples_dir: Path) -> None:
    result = run(samples_dir / "my_model", samples_dir / "versioned_model", "--model-only")
    assert result.exit_code == 1
    assert "[20, 16] -> [20, 32]" in result.stdout
    doc = parse_json(
        run(samples_dir / "my_model", samples_dir / "versioned_model", "--model-only", "--json")
    )
    kernel = {c["path"]: c for c in doc["changed"]}["model.dense1._kernel"]
    assert (kernel["a_shape"], kernel["b_shape"], kernel["kind"]) == ([20, 16], [20, 32], "shape")
    assert kernel["max_abs_diff"] is kernel["max_rel_diff"] is None
    assert kernel["equal"] is False


def test_keras2_against_keras3(keras2_dir: Path, samples_dir: Path) -> None:
    doc = parse_json(run(keras2_dir, samples_dir / "my_model", "--model-only", "--json"))
    assert [v["key"] for v in doc["only_in_a"]] == [
        "model/dense1/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model/dense2/kernel/.ATTRIBUTES/VARIABLE_VALUE",
    ]
    assert [v["key"] for v in doc["only_in_b"]] == [
        "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model/dense2/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
    ]
    assert {c["path"] for c in doc["changed"]} == {"model.dense1.bias", "model.dense2.bias"}
    table = run(keras2_dir, samples_dir / "my_model", "--model-only", env={"COLUMNS": "80"})
    assert table.exit_code == 1
    assert "2 changed, 2 only in A, 2 only in B, 0 unchanged" in table.stdout
    assert "Only in A (2)" in table.stdout and "Only in B (2)" in table.stdout


# ---------------------------------------------------------------- special values


def test_special_values_json(special: tuple[Path, Path]) -> None:
    result = run(*special, "--json")
    assert result.exit_code == 1
    changed = {c["path"]: c for c in parse_json(result)["changed"]}
    assert changed["nan_moved"]["nan_mismatch"] == 2
    assert changed["inf_flipped"]["max_abs_diff"] == "inf"
    assert changed["to_zero"]["max_rel_diff"] == "inf"
    assert changed["words"]["max_abs_diff"] is None
    assert changed["flags"]["num_differing"] == 1
    assert "nan_same" not in changed and "words_same" not in changed


def test_special_values_table(special: tuple[Path, Path]) -> None:
    """With --atol 1 five values still differ; each row shows its own numbers (an infinite
    difference as `inf`, strings and bools as `-`), the NaN mismatch under its row."""
    result = run(*special, "--atol", "1", env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert "A and B differ: 5 changed, 10 unchanged (atol=1, rtol=0)" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines()]
    start = rows.index(["path", "or", "key", "shape", "max", "abs", "max", "rel", "differ"])
    assert [r for r in rows[start + 2 :] if r] == [
        ["inf_flipped", "[2]", "inf", "inf", "1/2"],
        ["int_extremes", "[1]", "1.84e+19", "2", "1/1"],
        ["nan_moved", "[3]", "0", "0", "2/3"],
        ["2", "NaN"],
        ["flags", "[3]", "-", "-", "1/3"],
        ["words", "[2]", "-", "-", "1/2"],
    ]
    for line in result.stdout.splitlines():
        assert len(line) <= 80, line


def test_equal_values_in_other_bytes(tmp_path: Path) -> None:
    """-0.0 against 0.0 and NaNs with other payloads are equal (exit 0); one element changed
    makes it exit 1 naming that value alone."""
    a = write_values(tmp_path / "a" / "ckpt", BYTES_A)
    b = write_values(tmp_path / "b" / "ckpt", BYTES_B)
    equal = run(a, b, "-f", "zeros*")
    assert equal.exit_code == 0, equal.output
    assert "A and B are equal: 3 unchanged (atol=0, rtol=0)" in equal.stdout
    assert run(a, b, "-f", "nans").exit_code == 0
    result = run(a, b, "--json")
    assert result.exit_code == 1
    doc = parse_json(result)
    assert [(c["path"], c["num_differing"], c["max_abs_diff"]) for c in doc["changed"]] == [
        ("nan_and_one_off", 1, 0.5),
        ("one_off", 1, 0.5),
    ]
    assert doc["unchanged"] == 4


def test_nan_in_the_same_place_is_equal(special: tuple[Path, Path]) -> None:
    result = run(*special, "-f", "*_same*")
    assert result.exit_code == 0, result.output
    assert "A and B are equal: 5 unchanged" in result.stdout


# ---------------------------------------------------------------- name-based and sharded


def test_name_based_pair(name_based_ckpt: Path, tmp_path: Path) -> None:
    variant = write_name_based_variant(tmp_path / "variant")
    doc = parse_json(run(name_based_ckpt, variant, "--json"))
    assert {c["key"] for c in doc["changed"]} == {"dense/bias", "global_step"}
    assert [v["key"] for v in doc["only_in_b"]] == ["dense/kernel/Adam"]
    model_only = parse_json(run(name_based_ckpt, variant, "--model-only", "--json"))
    assert [c["key"] for c in model_only["changed"]] == ["dense/bias"]
    assert model_only["only_in_b"] == []
    assert run(name_based_ckpt, name_based_ckpt).exit_code == 0


def test_sharded(sharded_ckpt: Path, tmp_path: Path) -> None:
    assert run(sharded_ckpt, sharded_ckpt).exit_code == 0
    variant = write_sharded_variant(tmp_path / "variant")
    result = run(sharded_ckpt, variant, "--json")
    assert result.exit_code == 1
    (c,) = parse_json(result)["changed"]
    assert (c["path"], c["max_abs_diff"], c["num_differing"]) == ("c", 0.25, 1)


# ---------------------------------------------------------------- filter, --model-only


def test_model_only(samples_dir: Path) -> None:
    d = samples_dir / "my_model"
    doc = parse_json(run(d / "ckpt-1", d / "ckpt-2", "--model-only", "--json"))
    assert doc["model_only"] is True
    paths = {c["path"] for c in doc["changed"]}
    assert paths == {
        "model.dense1._kernel",
        "model.dense1.bias",
        "model.dense2._kernel",
        "model.dense2.bias",
    }
    assert doc["unchanged"] == 0
    table = run(d / "ckpt-1", d / "ckpt-2", "--model-only")
    assert "optimizer" not in table.stdout.replace("optimizer state", "")
    assert "save_counter" not in table.stdout.replace("save_counter left out", "")


@pytest.mark.parametrize("option", ["--filter", "-f"])
def test_filter(samples_dir: Path, option: str) -> None:
    d = samples_dir / "my_model"
    doc = parse_json(run(d / "ckpt-1", d / "ckpt-2", option, "*bias*", "--json"))
    assert {c["path"] for c in doc["changed"]} == {"model.dense1.bias", "model.dense2.bias"}
    assert doc["filter"] == "*bias*"
    result = run(d / "ckpt-1", d / "ckpt-2", option, "optimizer/_learning_rate/*")
    assert result.exit_code == 0, result.output
    assert "A and B are equal: 1 unchanged" in result.stdout


# ---------------------------------------------------------------- pairing by path


def test_pairing_by_path(variants: dict[str, Path]) -> None:
    result = run(variants["model"], variants["net"])
    assert result.exit_code == 0, result.output
    assert "paired by object path: model.* in A with net.* in B (4 values)" in result.stdout
    doc = parse_json(run(variants["edited"], variants["net"], "--model-only", "--json"))
    (c,) = doc["changed"]
    assert (c["paired_by"], c["b_key"]) == ("path", "net/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE")
    assert doc["renamed"] == [{"a": "model", "b": "net", "values": 4}]
    assert doc["paired_by_path"] == 4


# ---------------------------------------------------------------- broken and bad input


def test_truncated_shard_exits_3(samples_dir: Path, broken_copy: BrokenCopy) -> None:
    directory = broken_copy(samples_dir / "my_model")
    truncate_data(directory / "ckpt-3")
    shard = str(data_shards(directory / "ckpt-3")[0])
    assert_clean_error(run(samples_dir / "my_model", directory), shard)
    assert_clean_error(run(directory, samples_dir / "my_model", "--json"), shard)


def test_flipped_byte_exits_3(sharded_ckpt: Path, broken_copy: BrokenCopy) -> None:
    prefix = broken_copy(sharded_ckpt.parent) / sharded_ckpt.name
    flip_data_byte(prefix)
    result = run(sharded_ckpt, prefix, "--json")
    assert_clean_error(result, str(data_shards(prefix)[0]), "a/.ATTRIBUTES/VARIABLE_VALUE")


def test_missing_path_exits_3(samples_dir: Path, tmp_path: Path) -> None:
    assert_clean_error(run(tmp_path / "nope", samples_dir / "my_model"), str(tmp_path / "nope"))


@pytest.mark.parametrize(
    "args",
    [["--atol", "-1"], ["--rtol", "x"], ["--nope"], []],
)
def test_usage_errors_exit_2(samples_dir: Path, args: list[str]) -> None:
    d = str(samples_dir / "my_model")
    sides = [d, d] if args else [d]
    result = run(*sides, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


# ---------------------------------------------------------------- the README documents it


def readme_section() -> str:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## `ckptctl diff A B`")
    return text[start : text.index("\n## ", start + 1)]


def fenced_block(section: str, after: str, language: str) -> str:
    m = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL).search(
        section, section.index(after)
    )
    assert m is not None, f"no ```{language} block after {after!r}"
    return m.group(1)


def test_readme_json_example_matches_the_real_output(keras2_dir: Path, samples_dir: Path) -> None:
    """The example is Keras 2 against Keras 3 `my_model`, `--model-only -f '*dense1*'`."""
    example = json.loads(fenced_block(readme_section(), "### `diff --json`", "json"))
    real = parse_json(
        run(keras2_dir, samples_dir / "my_model", "--model-only", "-f", "*dense1*", "--json")
    )
    for key, value in example.items():
        assert key in real, key
        assert type(real[key]) is type(value), key
        if key not in ("a", "b", "changed"):
            assert real[key] == value, key
    (changed,) = real["changed"]
    for key, value in example["changed"][0].items():
        assert type(changed[key]) is type(value), key
        if not key.startswith("max_"):
            assert changed[key] == value, key
    also = readme_section()[readme_section().index("- Also present:") :].split("\n\n")[0]
    for name in re.findall(r"`(\w+)`", also):
        if not name.endswith("-graph") and name != "inspect":
            assert name in real, name


def test_help_and_a_bad_path_do_not_import_tensorflow(samples_dir: Path, tmp_path: Path) -> None:
    out = run_fresh(
        """
        import json, sys
        from typer.testing import CliRunner
        from ckptctl.cli.app import app
        runner = CliRunner()
        codes = [runner.invoke(app, ["diff", "--help"]).exit_code,
                 runner.invoke(app, ["diff", sys.argv[1], sys.argv[2]]).exit_code]
        print(json.dumps({"codes": codes, "tf": "tensorflow" in sys.modules}))
        """,
        str(samples_dir / "my_model"),
        str(tmp_path / "nope"),
    )
    assert out == {"codes": [0, 3], "tf": False}


def test_missing_data_shard_exits_3(sharded_ckpt: Path, broken_copy: BrokenCopy) -> None:
    prefix = broken_copy(sharded_ckpt.parent) / sharded_ckpt.name
    missing = str(data_shards(prefix)[0])
    delete_data_shard(prefix)
    assert_clean_error(run(sharded_ckpt, prefix), missing)


@pytest.fixture(scope="module")
def many_values_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two checkpoints of 450 values, every value changed by +1 in the second."""
    import tensorflow as tf

    out = []
    for shift in (0.0, 1.0):
        module = tf.Module()
        module.layers = [tf.Variable(tf.fill((4,), float(i) + shift)) for i in range(450)]
        prefix = tmp_path_factory.mktemp("many_pair") / "c"
        out.append(Path(tf.train.Checkpoint(model=module).write(str(prefix))))
    return out[0], out[1]


def test_hundreds_of_changed_values_are_listed_plainly(many_values_pair: tuple[Path, Path]) -> None:
    """Past a few hundred rows the diff table is written without Rich: every changed value."""
    a, b = many_values_pair
    result = CliRunner().invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    rows = [ln for ln in result.stdout.splitlines() if ln.startswith("model.layers.")]
    assert len(rows) == 450
    assert {ln.split()[0] for ln in rows} == {f"model.layers.{i}" for i in range(450)}
    assert max(len(ln) for ln in result.stdout.splitlines()) <= 80

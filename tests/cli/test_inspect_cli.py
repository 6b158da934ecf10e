"""`ckptctl inspect` through `typer.testing.CliRunner`: exit codes, stdout, stderr, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.checkpoints import (
    PROJECT_ROOT,
    SHARDED_NUM_ELEMENTS,
    data_shards,
    delete_data_shard,
    garbage_index,
    index_file,
    state_file_names_deleted_prefix,
    truncate_data,
    truncate_index,
)
from tests.fresh import run_fresh

BrokenCopy = Callable[[Path], Path]

QUIET_ENV: dict[str, str | None] = {
    "CKPTCTL_DEBUG": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "COLUMNS": None,
    "LINES": None,
}
"""The runner's environment: no debug or colour forced from outside, no terminal width."""

CONTRACT_TYPES: dict[str, type | tuple[type, ...]] = {
    "checkpoint": str,
    "format": str,
    "source": str,
    "shards": int,
    "total_bytes": int,
    "total_params": int,
    "save_counter": (int, type(None)),
}
VARIABLE_TYPES: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "path": (str, type(None)),
    "owner": (str, type(None)),
    "dtype": str,
    "shape": list,
    "num_elements": int,
    "nbytes": int,
}


def inspect(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(app, ["inspect", *map(str, args)], env={**QUIET_ENV, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ckptctl raised {result.exception!r}\n{result.stderr}")
    return result


def parse_json(result: Result) -> dict[str, Any]:
    """stdout must be exactly one JSON document: `json.loads` rejects anything around it."""
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(
            f"stdout is not one JSON document ({e}): {result.stdout[:500]!r}\n"
            f"exit code {result.exit_code}, stderr: {result.stderr}"
        ) from None
    assert isinstance(doc, dict)
    return doc


def assert_clean_error(result: Result, *names: str) -> None:
    """Exit 3, nothing on stdout, one or two lines on stderr naming the file, no traceback."""
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stderr
    flat = " ".join(line.strip() for line in lines)
    for name in names:
        assert name in flat, (name, result.stderr)


# --- a good checkpoint ------------------------------------------------------------------------


def test_table_lists_paths_grouped_by_owner(samples_dir: Path) -> None:
    result = inspect(samples_dir / "my_model")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = result.stdout
    assert str(samples_dir / "my_model" / "ckpt-3") in out
    assert "TF2 object-based checkpoint, 1 shard" in out
    assert "15 values, 1,521 parameters" in out
    assert "ckpt-1, ckpt-2" in out
    for text in (
        "model (4 values)",
        "optimizer (10 values)",
        "save_counter",
        "model.dense1._kernel",
        "model.dense2.bias",
        "optimizer._variables.9",
        "momentum of model.dense1._kernel",
        "velocity of model.dense2.bias",
        "float32",
        "[20, 16]",
    ):
        assert text in out, text
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in out


@pytest.mark.parametrize("option", ["--stats", "--hist"])
def test_stats_say_whose_slot_each_optimizer_value_is(samples_dir: Path, option: str) -> None:
    """As the listing does: the slot's line under its path, before any histogram."""
    result = inspect(samples_dir / "my_model", option)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    slot = lines.index("   momentum of model.dense1._kernel")
    assert lines[slot - 1].startswith("optimizer._variables.")
    assert "velocity of model.dense2.bias" in result.stdout


def test_table_of_a_name_based_checkpoint_lists_keys(name_based_ckpt: Path) -> None:
    result = inspect(name_based_ckpt)
    assert result.exit_code == 0, result.output
    assert "TF1 name-based checkpoint" in result.stdout
    for key in ("dense/kernel", "dense/bias", "global_step"):
        assert key in result.stdout


def test_table_of_a_saved_model(saved_model_dir: Path) -> None:
    result = inspect(saved_model_dir)
    assert result.exit_code == 0, result.output
    assert "SavedModel variables" in result.stdout


def test_json_contract(samples_dir: Path) -> None:
    result = inspect(samples_dir / "my_model", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    doc = parse_json(result)
    for field, kind in CONTRACT_TYPES.items():
        assert isinstance(doc[field], kind), field
    assert doc["checkpoint"] == str(samples_dir / "my_model" / "ckpt-3")
    assert (doc["format"], doc["source"], doc["shards"]) == ("object-graph", "checkpoint", 1)
    assert (doc["total_params"], doc["save_counter"]) == (1521, 3)
    assert isinstance(doc["variables"], list)
    assert len(doc["variables"]) == 15
    for v in doc["variables"]:
        for field, kind in VARIABLE_TYPES.items():
            assert isinstance(v[field], kind), (field, v)
        assert all(isinstance(d, int) for d in v["shape"])
        assert not isinstance(v["num_elements"], bool)
    assert doc["total_params"] == sum(v["num_elements"] for v in doc["variables"])
    first = doc["variables"][0]
    assert first["key"] == "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert (first["path"], first["owner"], first["shape"]) == (
        "model.dense1._kernel",
        "model",
        [20, 16],
    )
    assert "tree" not in doc
    assert doc["error"] is None


def test_json_of_a_name_based_checkpoint(name_based_ckpt: Path) -> None:
    doc = parse_json(inspect(name_based_ckpt, "--json"))
    assert doc["format"] == "name-based"
    assert doc["save_counter"] is None
    assert {v["key"] for v in doc["variables"]} == {"dense/kernel", "dense/bias", "global_step"}
    assert all(v["path"] is None and v["owner"] is None for v in doc["variables"])


@pytest.mark.parametrize("option", ["--filter", "-f"])
def test_filter(samples_dir: Path, option: str) -> None:
    result = inspect(samples_dir / "my_model", option, "*bias*")
    assert result.exit_code == 0, result.output
    assert "2 of 15 values match '*bias*'" in result.stdout
    assert "model.dense1.bias" in result.stdout
    assert "model.dense1._kernel" not in result.stdout
    doc = parse_json(inspect(samples_dir / "my_model", option, "model.*", "--json"))
    assert [v["path"] for v in doc["variables"]] == [
        "model.dense1._kernel",
        "model.dense1.bias",
        "model.dense2._kernel",
        "model.dense2.bias",
    ]
    assert doc["filter"] == "model.*"
    assert doc["total_values"] == 15


def test_filter_matching_nothing_is_not_an_error(samples_dir: Path) -> None:
    result = inspect(samples_dir / "my_model", "--filter", "nothing*")
    assert result.exit_code == 0, result.output
    assert "0 of 15 values match 'nothing*'" in result.stdout
    assert (
        parse_json(inspect(samples_dir / "my_model", "-f", "nothing*", "--json"))["variables"] == []
    )


def test_tree(samples_dir: Path) -> None:
    result = inspect(samples_dir / "my_model", "--tree")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "(root)" in out
    for text in ("model", "dense1", "_kernel  float32 [20, 16]", "optimizer", "save_counter"):
        assert text in out, text
    assert "-> model.dense1._kernel" in out
    assert "-> optimizer._variables.2" in out


def test_tree_json(samples_dir: Path) -> None:
    doc = parse_json(inspect(samples_dir / "my_model", "--tree", "--json"))
    tree = doc["tree"]
    assert tree["name"] == "(root)"
    assert [c["name"] for c in tree["children"]] == ["model", "optimizer", "save_counter"]
    assert len(doc["variables"]) == 15


def test_external_saved_model_versions(external_fixtures: Path) -> None:
    result = inspect(external_fixtures / "saved_model_half_plus_two_tf2_cpu")
    assert result.exit_code == 0, result.output
    assert "note:" in result.stdout
    assert "00000123" in result.stdout
    doc = parse_json(inspect(external_fixtures / "saved_model_half_plus_two_tf2_cpu", "--json"))
    assert [v["path"] for v in doc["variables"]] == ["a", "b", "c"]
    assert doc["source"] == "saved_model"


# --- --no-verify and --backend change what reads the values ---------------------------------


@pytest.fixture(scope="module")
def flipped_sharded(
    sharded_ckpt: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, np.ndarray]:
    """A copy of the sharded checkpoint with one byte of `a` flipped; and `a` as now stored."""
    from tests.checkpoints import copy_checkpoint_dir, flip_data_byte

    directory = copy_checkpoint_dir(sharded_ckpt.parent, tmp_path_factory.mktemp("flip") / "c")
    prefix = directory / sharded_ckpt.name
    flip_data_byte(prefix)
    a = np.arange(SHARDED_NUM_ELEMENTS, dtype=np.float32)  # `a` as written (write_sharded)
    raw = bytearray(a.tobytes())
    raw[len(raw) // 2] ^= 0xFF  # what flip_data_byte does to it
    return prefix, np.frombuffer(bytes(raw), np.float32)


def stats_of(doc: dict[str, Any], path: str) -> dict[str, Any]:
    (stats,) = [v["stats"] for v in doc["variables"] if v["path"] == path]
    assert isinstance(stats, dict)
    return stats


def test_no_verify_reads_a_value_whose_checksum_fails(
    flipped_sharded: tuple[Path, np.ndarray],
) -> None:
    """By default a flipped byte fails its crc32c (exit 3, naming the value and the shard);
    with --no-verify the same value is read as stored, flipped byte and all."""
    prefix, stored = flipped_sharded
    shard = str(data_shards(prefix)[0])
    verified = inspect(prefix, "--stats", "--json")
    assert verified.exit_code == 3, verified.output
    assert parse_json(verified)["error"] == (
        f"{shard}: corrupt (value a/.ATTRIBUTES/VARIABLE_VALUE fails its checksum)"
    )
    for backend in ("auto", "native"):
        unverified = inspect(prefix, "--stats", "--json", "--no-verify", "--backend", backend)
        assert unverified.exit_code == 0, unverified.output
        doc = parse_json(unverified)
        assert doc["error"] is None
        a = stats_of(doc, "a")
        # The flipped byte moves element 512 by 255 * 2**-14, the mean by 1.5e-5: far more
        # than the statistics' rounding.
        assert a["mean"] == pytest.approx(float(stored.astype(np.float64).mean()), abs=1e-6)
        assert abs(a["mean"] - (SHARDED_NUM_ELEMENTS - 1) / 2) > 1e-5, "the flipped value"
        assert (a["min"], a["max"]) == (float(stored.min()), float(stored.max()))


def test_backend_tf_reads_through_tensorflow(flipped_sharded: tuple[Path, np.ndarray]) -> None:
    """TensorFlow's reader always checks checksums: with --backend tf, --no-verify cannot
    make the corrupt value readable (the native reader reads it, above)."""
    prefix, _ = flipped_sharded
    result = inspect(prefix, "--stats", "--no-verify", "--backend", "tf")
    assert result.exit_code == 3, result.output
    assert "a/.ATTRIBUTES/VARIABLE_VALUE fails its checksum" in result.stderr


FRESH_INSPECT = """
    import json, sys
    from typer.testing import CliRunner
    from ckptctl.cli.app import app
    args = ["inspect", sys.argv[1], "--stats", "--json", "--backend", sys.argv[2]]
    result = CliRunner().invoke(app, args)
    print(json.dumps({"code": result.exit_code, "doc": json.loads(result.stdout),
                      "tf": "tensorflow" in sys.modules,
                      "tfbackend": "ckptctl.tfbackend" in sys.modules}))
"""


def test_backend_tf_imports_tensorflow_and_auto_does_not(sharded_ckpt: Path) -> None:
    """In a fresh interpreter: the same `inspect --stats` loads TensorFlow and ckptctl's
    TensorFlow backend only with --backend tf, and both give the same report."""
    auto = run_fresh(FRESH_INSPECT, str(sharded_ckpt), "auto")
    tf = run_fresh(FRESH_INSPECT, str(sharded_ckpt), "tf")
    assert (auto["code"], auto["tf"], auto["tfbackend"]) == (0, False, False)
    assert (tf["code"], tf["tf"], tf["tfbackend"]) == (0, True, True)
    assert (tf["doc"]["backend"], auto["doc"]["backend"]) == ("tf", "native")
    same = {k: v for k, v in tf["doc"].items() if k != "backend"}
    assert same == {k: v for k, v in auto["doc"].items() if k != "backend"}
    assert stats_of(tf["doc"], "c")["max"] == 2 * 10_000.0 + SHARDED_NUM_ELEMENTS - 1


# --- terminal behaviour -----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--tree"], ["--filter", "*bias*"]])
def test_no_ansi_codes_off_a_terminal(samples_dir: Path, extra: list[str]) -> None:
    result = inspect(samples_dir / "my_model", *extra)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("name", ["my_model", "custom_model", "versioned_model"])
@pytest.mark.parametrize("extra", [[], ["--tree"]])
def test_fits_in_80_columns(samples_dir: Path, name: str, extra: list[str]) -> None:
    result = inspect(samples_dir / name, *extra, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    too_long = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert too_long == []
    assert "dense1" in result.stdout


def test_80_columns_keeps_whole_object_paths(samples_dir: Path) -> None:
    result = inspect(samples_dir / "my_model", env={"COLUMNS": "80"})
    for path in ("model.dense1._kernel", "optimizer._learning_rate", "optimizer._variables.9"):
        assert path in result.stdout


# --- bad input --------------------------------------------------------------------------------


def test_nonexistent_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ckpt-1"
    assert_clean_error(inspect(missing), str(missing))


def test_empty_directory(tmp_path: Path) -> None:
    assert_clean_error(inspect(tmp_path), str(tmp_path))


def test_not_a_checkpoint_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert_clean_error(inspect(text), str(text))


def test_state_file_naming_a_deleted_prefix(samples_dir: Path, broken_copy: BrokenCopy) -> None:
    directory = broken_copy(samples_dir / "my_model")
    state_file_names_deleted_prefix(directory)
    result = inspect(directory)
    assert_clean_error(result, "ckpt-3", "ckpt-1, ckpt-2")


def test_directory_named_like_an_index(tmp_path: Path) -> None:
    (tmp_path / "x.index").mkdir()
    assert_clean_error(inspect(tmp_path / "x"), str(tmp_path / "x"))


@pytest.mark.parametrize("breakage", [truncate_index, garbage_index])
def test_unreadable_index(
    samples_dir: Path, broken_copy: BrokenCopy, breakage: Callable[[Path], None]
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    breakage(directory / "ckpt-3")
    for args in ([], ["--json"], ["--tree"]):
        assert_clean_error(inspect(directory, *args), str(index_file(directory / "ckpt-3")))


@pytest.mark.parametrize("kind", ["my_model", "name_based"])
def test_missing_data_shard_with_json_still_lists_the_index(
    request: pytest.FixtureRequest, broken_copy: BrokenCopy, kind: str
) -> None:
    if kind == "my_model":
        source, prefix_name = Path(request.getfixturevalue("samples_dir")) / "my_model", "ckpt-3"
    else:
        prefix = Path(request.getfixturevalue("name_based_ckpt"))
        source, prefix_name = prefix.parent, prefix.name
    directory = broken_copy(source)
    shard = data_shards(directory / prefix_name)[0]
    delete_data_shard(directory / prefix_name)
    result = inspect(directory, "--json")
    doc = parse_json(result)
    assert doc["variables"], "the index's values are listed"
    assert doc["error"] is not None, "a missing data shard must be reported"
    assert str(shard) in doc["error"]
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2
    assert str(shard) in result.stderr
    assert "Traceback" not in result.stderr


def test_truncated_data_shard_exits_3_after_the_listing(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    """`my_model`'s object graph is written last, so a cut data shard loses it."""
    directory = broken_copy(samples_dir / "my_model")
    shard = data_shards(directory / "ckpt-3")[0]
    truncate_data(directory / "ckpt-3")
    result = inspect(directory)
    assert result.exit_code == 3, result.output
    assert "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert str(shard) in result.stderr
    assert ": truncated (" in result.stderr
    assert "Traceback" not in result.stderr
    doc = parse_json(inspect(directory, "--json"))
    assert doc["error"] is not None
    assert len(doc["variables"]) == 15


def test_debug_shows_the_traceback(samples_dir: Path, broken_copy: BrokenCopy) -> None:
    directory = broken_copy(samples_dir / "my_model")
    truncate_index(directory / "ckpt-3")
    result = inspect(directory, "--debug")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert "CheckpointError" in result.stderr
    assert str(index_file(directory / "ckpt-3")) in result.stderr


def test_debug_from_the_environment(tmp_path: Path) -> None:
    result = inspect(tmp_path / "nope", env={"CKPTCTL_DEBUG": "1"})
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    plain = inspect(tmp_path / "nope", env={"CKPTCTL_DEBUG": "0"})
    assert_clean_error(plain, str(tmp_path / "nope"))


@pytest.mark.parametrize(
    "args",
    [["--bogus", "x"], [], ["a", "b", "--json"], ["--filter"]],
    ids=["unknown-option", "no-argument", "two-arguments-with-json", "option-without-value"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = inspect(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_several_checkpoints_one_after_another(
    samples_dir: Path, long_names_ckpts: dict[str, Path], tmp_path: Path
) -> None:
    """As a pre-commit hook passes them: each checkpoint's report in turn, the exit code the
    worst of theirs (3 unreadable > 1 NaN or Inf > 0)."""
    clean = [samples_dir / "my_model", long_names_ckpts["second"]]
    result = inspect(*clean, "--fail-on-nonfinite")
    assert result.exit_code == 0, result.output
    headers = [line for line in result.stdout.splitlines() if line.startswith("Checkpoint")]
    assert len(headers) == 2
    assert inspect(*clean, long_names_ckpts["nonfinite"], "--fail-on-nonfinite").exit_code == 1
    mixed = inspect(tmp_path / "absent", long_names_ckpts["nonfinite"], "--fail-on-nonfinite")
    assert mixed.exit_code == 3
    assert "NaN or Inf" in mixed.stderr and "absent" in mixed.stderr


# --- the installed command --------------------------------------------------------------------


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CKPTCTL_DEBUG"}
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_installed_command_help() -> None:
    script = Path(sys.executable).parent / "ckptctl"
    assert script.is_file(), "ckptctl is not installed in this environment"
    result = _run([str(script), "--help"])
    assert result.returncode == 0, result.stderr
    assert "inspect" in result.stdout
    assert "restore" in result.stdout
    inspect_help = _run([str(script), "inspect", "--help"])
    assert inspect_help.returncode == 0, inspect_help.stderr
    assert "--filter" in inspect_help.stdout


def test_python_dash_m_help() -> None:
    result = _run([sys.executable, "-m", "ckptctl", "--help"])
    assert result.returncode == 0, result.stderr
    assert "inspect" in result.stdout


@pytest.fixture(scope="module")
def many_values_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.layers = [tf.Variable(tf.fill((i % 7 + 1,), float(i))) for i in range(450)]
    return Path(tf.train.Checkpoint(model=module).save(str(tmp_path_factory.mktemp("many") / "c")))


def test_hundreds_of_values_print_as_an_aligned_plain_table(many_values_ckpt: Path) -> None:
    """Past a few hundred rows inspect writes aligned text itself: every value, one row each."""
    result = CliRunner().invoke(app, ["inspect", str(many_values_ckpt)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = [ln for ln in lines if ln.strip().startswith("model.layers.")]
    assert len(rows) == 450
    assert len({ln.split()[0] for ln in rows}) == 450
    assert any(ln.startswith("model (450 values)") for ln in lines)
    assert "model.layers.449" in result.stdout
    assert any(ln.startswith("Contents") and "451 values" in ln for ln in lines)
    header = next(ln for ln in lines if ln.startswith("object path"))
    assert header.split()[-2:] == ["elements", "bytes"]
    # Numbers right-aligned: every row ends at the same column as the header.
    assert {len(ln) for ln in rows} <= {len(header)}
    doc = json.loads(CliRunner().invoke(app, ["inspect", str(many_values_ckpt), "--json"]).stdout)
    assert len(doc["variables"]) == 451


def test_hundreds_of_values_print_their_statistics_plainly(many_values_ckpt: Path) -> None:
    """--stats past a few hundred rows: every value's row, its numbers right, no Rich."""
    result = CliRunner().invoke(app, ["inspect", str(many_values_ckpt), "--stats"])
    assert result.exit_code == 0, result.output
    rows = {
        ln.split()[0]: ln.split()[1:]
        for ln in result.stdout.splitlines()
        if ln.startswith("model.layers.")
    }
    assert len(rows) == 450
    # Value i is i % 7 + 1 copies of float(i): min, max and mean i, std 0, NaN/Inf 0.
    assert rows["model.layers.0"] == ["0", "0", "0", "0", "100%", "0"]
    assert rows["model.layers.449"] == ["449", "449", "449", "0", "0%", "0"]


def test_a_tree_of_hundreds_of_values_is_drawn_as_rich_draws_it(many_values_ckpt: Path) -> None:
    """Past a few hundred values the tree is written without Rich, line for line the same."""
    import io

    from rich.console import Console

    from ckptctl.cli.render import _rich_tree
    from ckptctl.inspection import inspect

    result = CliRunner().invoke(
        app, ["inspect", str(many_values_ckpt), "--tree"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    drawn = lines[lines.index("(root)") :]
    assert len(drawn) == 1 + 3 + 450  # (root), model, layers, save_counter, the values
    assert drawn[:4] == ["(root)", "├── model", "│   └── layers", "│       ├── 0  float32 [1]"]
    assert drawn[-2:] == ["│       └── 449  float32 [2]", "└── save_counter  int64 []"]
    report = inspect(many_values_ckpt, tree=True)
    assert report.tree is not None
    buf = io.StringIO()
    console = Console(file=buf, width=80, color_system=None, highlight=False)
    console.print(_rich_tree(report.tree, 10, 80)[0])
    assert [ln.rstrip() for ln in buf.getvalue().splitlines()] == drawn


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--stats"],
        ["--json"],
        ["--tree"],
        ["--filter", "*dense*"],  # through Typer
    ],
)
def test_a_reader_that_stops_reading_ends_the_run_quietly(
    samples_dir: Path, args: list[str]
) -> None:
    """``ckptctl inspect X | head``: stdout closed before anything is written. Exit 1, as
    Click and Rich end such a run, and no traceback or internal error on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ckptctl", "inspect", str(samples_dir / "my_model"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "CKPTCTL_DEBUG"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert err == ""

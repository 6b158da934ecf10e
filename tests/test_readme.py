"""The README's documentation matches the real commands: `inspect --json`, and the option
blocks of `inspect`, `restore`, `diff` and `migrate` against their `--help`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from tests.checkpoints import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
QUIET_ENV: dict[str, str | None] = {"CKPTCTL_DEBUG": None, "COLUMNS": "100"}


def inspect_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## `ckptctl inspect CHECKPOINT`")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def fenced_block(section: str, after: str, language: str) -> str:
    """The first ```language block after the text `after`."""
    start = section.index(after)
    m = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL).search(section, start)
    assert m is not None, f"no ```{language} block after {after!r}"
    return m.group(1)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


@pytest.fixture(scope="module")
def readme_example() -> dict[str, Any]:
    doc = json.loads(fenced_block(inspect_section(), "### `inspect --json`", "json"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def real_output(samples_dir: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["inspect", str(samples_dir / "my_model"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def test_readme_example_fields_exist_with_the_same_types(
    readme_example: dict[str, Any], real_output: dict[str, Any]
) -> None:
    for key, value in readme_example.items():
        assert key in real_output, key
        assert json_type(real_output[key]) == json_type(value), key


def test_readme_example_variable_is_the_real_one(
    readme_example: dict[str, Any], real_output: dict[str, Any]
) -> None:
    """The example's variable is `my_model`'s first kernel: every field and value as shown."""
    (example,) = readme_example["variables"]
    real = {v["key"]: v for v in real_output["variables"]}[example["key"]]
    for key, value in example.items():
        assert key in real, key
        assert json_type(real[key]) == json_type(value), key
        assert real[key] == value, key


def test_readme_example_totals_are_the_sample_models(
    readme_example: dict[str, Any], real_output: dict[str, Any]
) -> None:
    for key in ("format", "source", "shards", "total_params", "save_counter"):
        assert real_output[key] == readme_example[key], key


def test_fields_the_readme_says_are_also_present(real_output: dict[str, Any]) -> None:
    section = inspect_section()
    also = section[section.index("- Also present:") :].split("\n\n")[0].split("\n- ")[0]
    names = re.findall(r"`(\w+)`", also)
    assert {"total_values", "owners", "other_checkpoints", "error", "error_hint"} <= set(names)
    for name in names:
        if name != "tree":
            assert name in real_output, name


def tree_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node below `node`, depth first."""
    out = []
    for child in node["children"]:
        out += [child, *tree_nodes(child)]
    return out


def test_tree_field_with_tree(samples_dir: Path, real_output: dict[str, Any]) -> None:
    """`tree` (only with --tree) is the object graph: each value once, at its object path with
    its key, dtype and shape; shared objects point (`alias_of`) to the path holding them."""
    assert "tree" not in real_output
    result = CliRunner().invoke(app, ["inspect", str(samples_dir / "my_model"), "--json", "--tree"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["tree"]["name"] == "(root)"
    nodes = tree_nodes(doc["tree"])
    values = [n for n in nodes if n["key"] is not None]
    assert sorted((n["path"], n["key"], n["dtype"], n["shape"]) for n in values) == sorted(
        (v["path"], v["key"], v["dtype"], v["shape"]) for v in doc["variables"]
    )
    aliases = {n["path"]: n["alias_of"] for n in nodes if n["alias_of"] is not None}
    assert all(n["key"] is None and not n["children"] for n in nodes if n["alias_of"])
    paths = {n["path"] for n in nodes}
    assert set(aliases.values()) <= paths
    assert aliases["optimizer._trainable_variables.0"] == "model.dense1._kernel"
    assert aliases["optimizer._momentums.0"] == "optimizer._variables.2"
    assert aliases["optimizer._variables.0"] == "optimizer._iterations"


def documented_values(section: str, field: str) -> set[str]:
    """The quoted values of the README bullet ``- `field`: ...`` (up to the next bullet)."""
    start = section.index(f"- `{field}`:")
    bullet = section[start : section.index("\n- ", start + 1)]
    return set(re.findall(r'`"([\w-]+)"`', bullet))


def test_readme_format_and_source_values_are_the_real_ones(
    samples_dir: Path,
    name_based_ckpt: Path,
    saved_model_dir: Path,
    dtypes_ckpt: Path,
    tmp_path: Path,
) -> None:
    """Each documented `format` and `source` is what ckptctl reports for that kind of
    checkpoint, and no other value occurs; name-based values have no path or owner."""
    section = inspect_section()
    assert documented_values(section, "format") == {
        "object-graph",
        "name-based",
        "keras",
        "keras-legacy",
    }
    assert documented_values(section, "source") == {
        "checkpoint",
        "saved_model",
        "weights-h5",
        "weights-json",
        "keras-archive",
        "h5",
        "checkpoint-v1",
    }
    import tensorflow as tf

    seq = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    seq.save_weights(str(tmp_path / "m.weights.h5"))
    seq.save_weights(str(tmp_path / "m.weights.json"), max_shard_size=1)
    seq.save(str(tmp_path / "m.keras"))
    docs = {}
    for name, path in (
        ("tf2", samples_dir / "my_model"),
        ("tf1", name_based_ckpt),
        ("saved_model", saved_model_dir),
        ("dtypes", dtypes_ckpt),
        ("h5", tmp_path / "m.weights.h5"),
        ("json", tmp_path / "m.weights.json"),
        ("archive", tmp_path / "m.keras"),
    ):
        result = CliRunner().invoke(app, ["inspect", str(path), "--json"])
        assert result.exit_code == 0, result.output
        docs[name] = json.loads(result.stdout)
    assert {k: (d["format"], d["source"]) for k, d in docs.items()} == {
        "tf2": ("object-graph", "checkpoint"),
        "tf1": ("name-based", "checkpoint"),
        "saved_model": ("object-graph", "saved_model"),
        "dtypes": ("object-graph", "checkpoint"),
        "h5": ("keras", "weights-h5"),
        "json": ("keras", "weights-json"),
        "archive": ("keras", "keras-archive"),
    }
    assert all(v["path"] is None and v["owner"] is None for v in docs["tf1"]["variables"])
    dtype_bullet = section[section.index("- `variables[].dtype`:") :]
    named = re.findall(r"`(\w+)`", dtype_bullet[: dtype_bullet.index(")")])
    assert named == ["float32", "bfloat16", "string"]
    assert set(named) <= {v["dtype"] for v in docs["dtypes"]["variables"]}


# ---------------------------------------------------------------- option blocks and --help

OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
OPTION_BLOCKS = {
    # command: (the README's heading of its section, the text just before its option block)
    "inspect": ("## `ckptctl inspect CHECKPOINT`", "Options:"),
    "restore": ("## `ckptctl restore CHECKPOINT --model MODULE:NAME`", "\n\n```text"),
    "migrate": ("## Restoring across refactors", "Options of `migrate`:"),
    "diff": ("## `ckptctl diff A B`", "Options:"),
    "trend": ("## `ckptctl trend DIR`", "Options:"),
}


def readme_options(command: str) -> set[str]:
    """The options in the left column of the command's option block in the README."""
    heading, before = OPTION_BLOCKS[command]
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    section = text[start : text.index("\n## ", start + 1)]
    block = fenced_block(section, before, "text")
    options = set()
    for line in block.splitlines():
        if line.startswith("-"):
            options |= set(OPTION.findall(re.split(r"\s{2,}", line)[0]))
    return options


def help_options(command: str) -> set[str]:
    """The options `ckptctl COMMAND --help` lists under "Options:", without -h/--help."""
    result = CliRunner().invoke(app, [command, "--help"], env=QUIET_ENV)
    assert result.exit_code == 0, result.output
    listing = result.stdout[result.stdout.index("\nOptions:\n") :]
    options = set()
    for line in listing.splitlines()[2:]:
        if line.startswith("  -"):
            options |= set(OPTION.findall(re.split(r"\s{2,}", line.strip())[0]))
    return options - {"-h", "--help"}


@pytest.mark.parametrize("command", list(OPTION_BLOCKS))
def test_the_readme_documents_exactly_the_options_of_the_help(command: str) -> None:
    """Every option of `--help` is in the README's option block of that command, and every
    option the block lists exists."""
    documented, in_help = readme_options(command), help_options(command)
    assert len(in_help) >= 8, in_help  # the parser found the listing
    assert documented == in_help, {
        "in --help, not in the README": sorted(in_help - documented),
        "in the README, not in --help": sorted(documented - in_help),
    }


# ---------------------------------------------------------------- CI: the workflow, the hook


def workflow_commands() -> list[list[str]]:
    """The `ckptctl ...` command lines of the README's GitHub Actions workflow (`run: >`
    folds its indented lines into one)."""
    import shlex

    text = README.read_text(encoding="utf-8")
    yaml = fenced_block(text, "### A GitHub Actions workflow", "yaml")
    commands: list[list[str]] = []
    lines = yaml.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "run: >":
            indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
            body = []
            for follow in lines[i + 1 :]:
                if len(follow) - len(follow.lstrip()) < indent or not follow.strip():
                    break
                body.append(follow.strip())
            commands.append(shlex.split(" ".join(body)))
    return [c for c in commands if c and c[0] == "ckptctl"]


def test_the_workflow_uses_options_that_exist() -> None:
    """Every option the README's workflow passes is one `--help` lists for that command,
    `--markdown` among them."""
    commands = workflow_commands()
    assert [c[1] for c in commands] == ["restore", "diff"]
    for command in commands:
        used = {a for a in command[2:] if a.startswith("-")}
        assert used <= help_options(command[1]), sorted(used - help_options(command[1]))
    assert "--markdown" in commands[0]


def hook_definition() -> dict[str, str]:
    """The one hook of `.pre-commit-hooks.yaml`, as its `key: value` lines (no PyYAML here)."""
    text = (PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    items = re.findall(r"^(?:- |  )(\w+): (.*)$", text, re.MULTILINE)
    assert text.count("\n- id:") + text.startswith("- id:") == 1
    return dict(items)


def test_the_pre_commit_hook_checks_committed_checkpoints(
    long_names_ckpts: dict[str, Path], samples_dir: Path
) -> None:
    """pre-commit passes the committed files its `files` pattern matches (a checkpoint's
    `.index`, Keras files; not the data shards) to the entry, all at once: exit 1 when one of
    them holds a NaN or Inf, 0 when none does."""
    hook = hook_definition()
    assert hook["id"] == "ckptctl-nonfinite"
    assert hook["language"] == "python"
    entry = hook["entry"].split()
    assert entry == ["ckptctl", "inspect", "--fail-on-nonfinite"]
    files = re.compile(hook["files"])
    committed = sorted(
        p for d in (long_names_ckpts["second"].parent, long_names_ckpts["nonfinite"].parent)
        for p in d.iterdir()
    )  # fmt: skip
    passed = [p for p in committed if files.search(str(p))]
    assert passed and all(p.suffix == ".index" for p in passed)
    assert any(".data-" in p.name for p in committed)
    for name in ("m.weights.h5", "m.weights.json", "m.keras", "m.h5", "m.hdf5"):
        assert files.search(name), name

    def run(paths: list[Path]) -> int:
        return CliRunner().invoke(app, [*entry[1:], *map(str, paths)], env=QUIET_ENV).exit_code

    clean = [p for p in passed if "nonfinite" not in str(p)]
    assert run(clean) == 0
    assert run(passed) == 1
    assert run([*clean, samples_dir / "my_model" / "ckpt-3.index"]) == 0

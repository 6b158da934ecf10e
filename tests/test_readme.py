"""The README's documentation of `inspect` matches the real command."""

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


def test_tree_field_with_tree(samples_dir: Path) -> None:
    result = CliRunner().invoke(app, ["inspect", str(samples_dir / "my_model"), "--json", "--tree"])
    assert "tree" in json.loads(result.stdout)


def test_readme_dtype_and_format_values_are_real(real_output: dict[str, Any]) -> None:
    section = inspect_section()
    assert f'`"{real_output["format"]}"`' in section
    assert f'`"{real_output["source"]}"`' in section


def test_every_documented_option_is_in_the_help() -> None:
    block = fenced_block(inspect_section(), "Options:", "text")
    documented = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", block))
    assert {"--filter", "-f", "--tree", "--json", "--debug"} <= documented
    result = CliRunner().invoke(app, ["inspect", "--help"], env=QUIET_ENV)
    assert result.exit_code == 0
    for option in documented:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), option


def test_every_help_option_is_documented() -> None:
    block = fenced_block(inspect_section(), "Options:", "text")
    result = CliRunner().invoke(app, ["inspect", "--help"], env=QUIET_ENV)
    in_help = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", result.stdout)) - {"--help"}
    for option in in_help:
        assert option in block, option

"""docs/CLI.md is each command's `--help`, as `make docs` writes it: never stale."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.checkpoints import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "docs" / "cli_reference.py"
COMMANDS = ["inspect", "restore", "diff", "migrate", "trend"]


def reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_current() -> None:
    written = (PROJECT_ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert written == reference_module().reference(), "docs/CLI.md is stale: run `make docs`"


def test_the_reference_is_the_help_an_80_column_terminal_shows() -> None:
    """The installed `ckptctl` in its own process, COLUMNS=80: each help text stands in the
    reference whole, under its own heading."""

    written = (PROJECT_ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    for command in COMMANDS:
        shown = subprocess.run(
            [str(Path(sys.executable).with_name("ckptctl")), command, "--help"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown.startswith(f"Usage: ckptctl {command} ")
        assert f"## ckptctl {command}\n\n```text\n{shown}```\n" in written, command
        assert max(len(line) for line in shown.splitlines()) <= 80


def test_check_reports_a_stale_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = reference_module()
    stale = tmp_path / "CLI.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(module, "OUT", stale)
    assert module.main(["--check"]) == 1
    assert capsys.readouterr().err == f"{stale} is stale: run `make docs`\n"
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == module.reference()


def test_the_readme_points_restore_and_migrate_options_to_the_reference() -> None:
    from tests.test_readme import OPTION_BLOCKS, README

    text = README.read_text(encoding="utf-8")
    for command in ("restore", "migrate"):
        heading = OPTION_BLOCKS[command][0]
        start = text.index(heading)
        section = text[start : text.index("\n## ", start + 1)]
        assert "[docs/CLI.md](docs/CLI.md)" in section, command

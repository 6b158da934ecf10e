"""Output formats behind one interface: which format renders which command's report, and the
CI formats writing a real run's report and a run that failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from ckptctl.cli.formats import COMMANDS, Context, Format, publish_error, show
from ckptctl.errors import CheckpointError

SUPPORTED = {
    Format.TABLE: set(COMMANDS),
    Format.PLAIN: {"inspect"},
    Format.JSON: set(COMMANDS),
    Format.JUNIT: {"restore", "diff"},
    Format.GITHUB: {"restore", "diff"},
    Format.MARKDOWN: {"restore", "diff"},
}


def test_every_format_has_a_formatter_for_its_commands() -> None:
    assert set(SUPPORTED) == set(Format)
    for fmt, commands in SUPPORTED.items():
        formatter = fmt.formatter()
        assert {c for c in COMMANDS if formatter.supports(c)} == commands, fmt


def test_show_prints_the_document_the_cli_prints(
    samples_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ckptctl

    a, b = samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model" / "ckpt-2"
    show(ckptctl.diff(a, b), Format.JSON, Context("diff"))
    shown = capsys.readouterr().out
    cli = CliRunner(env={"GITHUB_ACTIONS": None}).invoke(app, ["diff", str(a), str(b), "--json"])
    assert cli.exit_code == 1, cli.output
    assert shown == cli.stdout
    assert json.loads(shown)["warnings"] == []


def test_publish_error_writes_the_errored_testcase_and_the_markdown(tmp_path: Path) -> None:
    error = CheckpointError("runs/x: no checkpoint here", "pass a checkpoint directory")
    xml, md = tmp_path / "r.xml", tmp_path / "r.md"
    publish_error(error, Context("restore"), xml, md)
    assert '<error message="runs/x: no checkpoint here">' in xml.read_text()
    assert "runs/x: no checkpoint here" in md.read_text()

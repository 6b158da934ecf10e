"""The Typer application. Each command lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl import __version__
from ckptctl.cli import diff_cmd, inspect_cmd, migrate_cmd, restore_cmd, trend_cmd

app = typer.Typer(
    name="ckptctl",
    help="Know what is in a TensorFlow checkpoint, and prove your model code restores it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ckptctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Know what is in a TensorFlow checkpoint, and prove your model code restores it.

    Exit codes: 0 fine; 1 a check found a problem; 2 usage error; 3 an input could not be read.
    """


app.command("inspect")(inspect_cmd.inspect)
app.command("restore")(restore_cmd.restore)
app.command("diff")(diff_cmd.diff)
app.command("migrate")(migrate_cmd.migrate)
app.command("trend")(trend_cmd.trend)


def main() -> None:
    from ckptctl.cli.memory import keep_freed_memory

    keep_freed_memory()
    app()

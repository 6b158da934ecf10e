"""The Typer application. Each command lives in its own module; :mod:`ckptctl.cli.app` is
the entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl import __version__
from ckptctl.cli import diff_cmd, inspect_cmd, migrate_cmd, restore_cmd, trend_cmd
from ckptctl.cli.help import Command, Group

app = typer.Typer(
    cls=Group,
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


def _examples(*lines: str) -> str:
    """An epilog of command lines, kept as written (``\b``: Click does not rewrap it)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app.command(
    "inspect",
    cls=Command,
    epilog=_examples(
        "ckptctl inspect runs/exp1",
        "ckptctl inspect runs/exp1/ckpt-3 --filter 'model.encoder.*'",
        "ckptctl inspect model.weights.h5 --stats --fail-on-nonfinite",
    ),
)(inspect_cmd.inspect)
app.command(
    "restore",
    cls=Command,
    epilog=_examples(
        "ckptctl restore runs/exp1 --model mypkg.model:Net --input-shape 8,128",
        "ckptctl restore runs/exp1 -m mypkg.model:Net --optimizer adam \\",
        "    --golden tests/golden/net.npz --markdown reports/restore.md",
    ),
)(restore_cmd.restore)
app.command(
    "diff",
    cls=Command,
    epilog=_examples(
        "ckptctl diff runs/exp1/ckpt-1 runs/exp1/ckpt-2",
        "ckptctl diff release/ckpt-9 candidate/ckpt-9 --atol 1e-6 --model-only",
    ),
)(diff_cmd.diff)
app.command(
    "migrate",
    cls=Command,
    epilog=_examples(
        "ckptctl migrate old/ckpt-9 -o new/ --model mypkg.model:Net \\",
        "    --map 'dense1=encoder'",
    ),
)(migrate_cmd.migrate)
app.command(
    "trend",
    cls=Command,
    epilog=_examples(
        "ckptctl trend runs/exp1",
        "ckptctl trend runs/exp1 --json --all",
        "ckptctl trend runs/exp1 --html trend.html",
    ),
)(trend_cmd.trend)

"""``ckptctl inspect``."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl.cli.common import reporting_errors
from ckptctl.cli.options import CheckpointArg, DebugOpt, FilterOpt, JsonOpt
from ckptctl.cli.render import print_error, print_json, render_inspect, stdout_console
from ckptctl.errors import EXIT_OK, EXIT_UNREADABLE, CheckpointError

TreeOpt = Annotated[bool, typer.Option("--tree", help="Show the object graph as a tree.")]


def inspect(
    checkpoint: CheckpointArg,
    filter: FilterOpt = None,
    tree: TreeOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what a checkpoint holds: values, shapes, dtypes, sizes, object paths."""
    from ckptctl.inspection import inspect as run_inspect

    with reporting_errors(debug):
        report = run_inspect(checkpoint, filter=filter, tree=tree)
    if json:
        print_json(report.to_dict())
    else:
        render_inspect(report, stdout_console())
    if report.error:
        print_error(CheckpointError(report.error, report.error_hint))
        raise typer.Exit(EXIT_UNREADABLE)
    raise typer.Exit(EXIT_OK)

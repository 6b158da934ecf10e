"""``ckptctl inspect``."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl.cli.common import progress_bar, reporting_errors
from ckptctl.cli.options import (
    CHECKPOINT_FORMS,
    BackendOpt,
    DebugOpt,
    FilterOpt,
    JsonOpt,
    NoVerifyOpt,
    backend_name,
)
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE, CheckpointError

TreeOpt = Annotated[bool, typer.Option("--tree", help="Show the object graph as a tree.")]
StatsOpt = Annotated[
    bool,
    typer.Option(
        "--stats",
        help="Read every value: min, max, mean, std, NaN and Inf counts, fraction of zeros.",
    ),
]
HistOpt = Annotated[
    bool, typer.Option("--hist", help="With --stats, a small histogram of each value.")
]
FailOnNonfiniteOpt = Annotated[
    bool,
    typer.Option(
        "--fail-on-nonfinite", help="Exit 1 if any value holds NaN or Inf (implies --stats)."
    ),
]


CheckpointsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="CHECKPOINT...",
        help=f"{CHECKPOINT_FORMS}; several are inspected one after another (a pre-commit "
        "hook passes each committed checkpoint).",
        show_default=False,
    ),
]


def inspect(
    checkpoints: CheckpointsArg,
    filter: FilterOpt = None,
    tree: TreeOpt = False,
    stats: StatsOpt = False,
    hist: HistOpt = False,
    fail_on_nonfinite: FailOnNonfiniteOpt = False,
    backend: BackendOpt = "auto",
    no_verify: NoVerifyOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what a checkpoint holds: values, shapes, dtypes, sizes, object paths.

    --stats reads every value (checking its crc32c) for statistics; with --fail-on-nonfinite,
    any NaN or Inf exits 1. With several checkpoints, the exit code is the worst of theirs.
    """
    if json and len(checkpoints) > 1:
        from ckptctl.errors import UsageError

        with reporting_errors(debug):
            raise UsageError(
                f"--json prints one document: pass one CHECKPOINT, not {len(checkpoints)}",
                "run ckptctl inspect --json once per checkpoint",
            )
    codes = []
    for i, checkpoint in enumerate(checkpoints):
        if i:
            print(flush=True)
        try:
            _inspect_one(
                checkpoint,
                filter=filter,
                tree=tree,
                stats=stats or hist or fail_on_nonfinite,
                hist=hist,
                fail_on_nonfinite=fail_on_nonfinite,
                backend=backend,
                verify=not no_verify,
                json=json,
                debug=debug,
            )
        except typer.Exit as e:
            codes.append(e.exit_code)
    raise typer.Exit(max(codes, default=EXIT_OK))


def _inspect_one(
    checkpoint: str,
    *,
    filter: str | None,
    tree: bool,
    stats: bool,
    hist: bool,
    fail_on_nonfinite: bool,
    backend: str,
    verify: bool,
    json: bool,
    debug: bool,
) -> None:
    """Inspect one checkpoint; always ends in ``typer.Exit`` with its exit code."""
    # Imported here, not at the top: `ckptctl --help` imports every command module.
    from ckptctl.cli.formats import Context, Format, show
    from ckptctl.cli.plain import RICH_TABLE_LIMIT
    from ckptctl.inspection import inspect as run_inspect
    from ckptctl.summary import plural

    with reporting_errors(debug), progress_bar("reading") as progress:
        report = run_inspect(
            checkpoint,
            filter=filter,
            tree=tree,
            backend=backend_name(backend),  # type: ignore[arg-type]
            stats=stats,
            hist=hist,
            verify=verify,
            progress=(lambda done, total: progress("reading", done, total)) if progress else None,
        )
    if json:
        fmt = Format.JSON
    elif len(report.variables) > RICH_TABLE_LIMIT and not (report.stats or report.tree):
        fmt = Format.PLAIN  # thousands of rows: aligned text, without Rich
    else:
        fmt = Format.TABLE
    show(report, fmt, Context("inspect"))
    if report.error:
        from ckptctl.cli.render import print_error

        print_error(CheckpointError(report.error, report.error_hint))
        raise typer.Exit(EXIT_UNREADABLE)
    if fail_on_nonfinite and report.nonfinite:
        from ckptctl.cli.render import print_error

        tensors = sum(1 for v in report.variables if v.stats and v.stats.nonfinite)
        print_error(
            CheckpointError(
                f"{report.checkpoint}: {report.nonfinite:,} NaN or Inf values in "
                f"{plural(tensors, 'tensor')}"
            )
        )
        raise typer.Exit(EXIT_PROBLEM)
    raise typer.Exit(EXIT_OK)

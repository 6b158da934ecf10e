"""``ckptctl inspect``'s work, without Typer: :func:`ckptctl.cli.app.main` runs a plain
``ckptctl inspect CHECKPOINT...`` (the command people run most, often on thousands of values)
straight through :func:`inspect_checkpoints`, without importing Typer, and the Typer command
calls the same function."""

from __future__ import annotations

from typing import NoReturn

from ckptctl.cli.common import backend_name, progress_bar, reporting_errors
from ckptctl.cli.exits import CommandExit
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE, CheckpointError


def inspect_checkpoints(
    checkpoints: list[str],
    *,
    filter: str | None = None,
    tree: bool = False,
    stats: bool = False,
    hist: bool = False,
    fail_on_nonfinite: bool = False,
    backend: str = "auto",
    verify: bool = True,
    json: bool = False,
    debug: bool = False,
) -> NoReturn:
    """Inspect each of ``checkpoints``; ends in :class:`CommandExit` with the worst exit code
    of theirs."""
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
                verify=verify,
                json=json,
                debug=debug,
            )
        except CommandExit as e:
            codes.append(e.code)
    raise CommandExit(max(codes, default=EXIT_OK))


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
    """Inspect one checkpoint; always ends in :class:`CommandExit` with its exit code."""
    # Imported here, not at the top: `ckptctl --help` imports every command module.
    from ckptctl.bulk import collection_paused
    from ckptctl.cli.formats import Context, Format, show
    from ckptctl.cli.plain import RICH_TABLE_LIMIT, styled_stdout
    from ckptctl.inspection import inspect as run_inspect
    from ckptctl.layout import plural

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
    elif report.tree is None and not styled_stdout():
        fmt = Format.PLAIN  # a pipe, a CI log: the same text, without importing Rich
    elif len(report.variables) > RICH_TABLE_LIMIT and not (report.stats or report.tree):
        fmt = Format.PLAIN  # thousands of rows: aligned text, without Rich
    else:
        fmt = Format.TABLE
    with collection_paused():  # a row's cells and lines are many small objects, no cycles
        show(report, fmt, Context("inspect"))
    if report.error:
        from ckptctl.cli.render import print_error

        print_error(CheckpointError(report.error, report.error_hint))
        raise CommandExit(EXIT_UNREADABLE)
    if fail_on_nonfinite and report.nonfinite:
        from ckptctl.cli.render import print_error

        tensors = sum(1 for v in report.variables if v.stats and v.stats.nonfinite)
        print_error(
            CheckpointError(
                f"{report.checkpoint}: {report.nonfinite:,} NaN or Inf values in "
                f"{plural(tensors, 'tensor')}"
            )
        )
        raise CommandExit(EXIT_PROBLEM)
    raise CommandExit(EXIT_OK)

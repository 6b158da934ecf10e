"""``ckptctl inspect``."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl.cli.options import (
    CHECKPOINT_FORMS,
    BackendOpt,
    DebugOpt,
    FilterOpt,
    JsonOpt,
    NoVerifyOpt,
)

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
    from ckptctl.cli.inspect_run import inspect_checkpoints

    inspect_checkpoints(
        checkpoints,
        filter=filter,
        tree=tree,
        stats=stats,
        hist=hist,
        fail_on_nonfinite=fail_on_nonfinite,
        backend=backend,
        verify=not no_verify,
        json=json,
        debug=debug,
    )

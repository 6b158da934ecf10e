"""Options shared by several commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")
]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar="CKPTCTL_DEBUG",
        help="Show tracebacks and TensorFlow's own log output.",
    ),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter", "-f", metavar="GLOB", help="Only values whose key or object path matches."
    ),
]
CheckpointArg = Annotated[
    str,
    typer.Argument(
        metavar="CHECKPOINT",
        help="Checkpoint directory, prefix (dir/ckpt-3), its .index or .data-* file, "
        "or a SavedModel directory.",
        show_default=False,
    ),
]

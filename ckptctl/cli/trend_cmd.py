"""``ckptctl trend``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ckptctl.cli.common import progress_bar, reporting_errors
from ckptctl.cli.exits import CommandExit
from ckptctl.cli.formats import Context, Format, show
from ckptctl.cli.options import DebugOpt, FilterOpt, JsonOpt
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM

DirArg = Annotated[
    str,
    typer.Argument(
        metavar="DIR",
        help="A directory a training run saves into: a CheckpointManager directory, or Keras "
        "weight files (ModelCheckpoint).",
        show_default=False,
    ),
]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Include optimizer state and counters (default: the model).")
]
ModelOnlyOpt = Annotated[
    bool, typer.Option("--model-only", help="Only the model's values (the default).")
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        metavar="FILE",
        help="Also write one self-contained page: a heat map of relative change per value per "
        "step, the norms, the flagged values on top (needs ckptctl[plots]).",
    ),
]
TopOpt = Annotated[int, typer.Option("--top", min=0, help="How many of the largest movers.")]


def trend(
    directory: DirArg,
    filter: FilterOpt = None,
    all: AllOpt = False,
    model_only: ModelOnlyOpt = True,
    top: TopOpt = 5,
    html: HtmlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """What a training run did to each value, checkpoint by checkpoint.

    For every model value: its norm, NaN and Inf counts, and its relative change
    ||w_i - w_(i-1)|| / ||w_(i-1)|| at each step. Names values that never changed (a layer
    frozen by mistake) and values holding NaN or Inf, and the largest movers. Exit 1 when
    something never changed or is not finite.
    """
    from ckptctl.trend import trend as run_trend

    with reporting_errors(debug), progress_bar("reading") as progress:
        from ckptctl.outputs import refuse_outputs_into_checkpoints

        refuse_outputs_into_checkpoints({"--html": html}, directory)
        report = run_trend(directory, filter=filter, model_only=not all, top=top, progress=progress)
        if html is not None:
            from ckptctl.trend_html import write_html

            write_html(report, html)
    show(report, Format.JSON if json else Format.TABLE, Context("trend"))
    raise CommandExit(EXIT_OK if report.ok else EXIT_PROBLEM)

"""``ckptctl diff``."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl.cli.common import progress_bar, reporting_errors, user_output_to_stderr
from ckptctl.cli.exits import CommandExit
from ckptctl.cli.formats import Context, Format, publish, show
from ckptctl.cli.options import (
    CHECKPOINT_FORMS,
    BackendOpt,
    DebugOpt,
    FilterOpt,
    JsonOpt,
    JunitOpt,
    MarkdownOpt,
    NoVerifyOpt,
    backend_name,
)
from ckptctl.cli.restore_cmd import (
    InputDtypeOpt,
    InputShapeOpt,
    KeyOpt,
    ModelArgOpt,
    OptimizerOpt,
    restore_options,
)
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM

_SIDE_HELP = f"{CHECKPOINT_FORMS}."
AArg = Annotated[str, typer.Argument(metavar="A", help=_SIDE_HELP, show_default=False)]
BArg = Annotated[str, typer.Argument(metavar="B", help=_SIDE_HELP, show_default=False)]
AtolOpt = Annotated[
    float,
    typer.Option(
        "--atol",
        metavar="X",
        min=0.0,
        help="Absolute tolerance: equal if |a - b| <= atol + rtol * |b|.",
    ),
]
RtolOpt = Annotated[
    float,
    typer.Option(
        "--rtol",
        metavar="X",
        min=0.0,
        help="Relative tolerance (see --atol); both 0: exactly equal.",
    ),
]
ModelOnlyOpt = Annotated[
    bool,
    typer.Option("--model-only", help="Leave out optimizer state and save_counter."),
]


DiffModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODULE:NAME",
        help="Compare a TensorFlow checkpoint with a Keras weights file through this model: "
        "the checkpoint is restored into it and compared as Keras saves it.",
    ),
]


def diff(
    a: AArg,
    b: BArg,
    atol: AtolOpt = 0.0,
    rtol: RtolOpt = 0.0,
    filter: FilterOpt = None,
    model_only: ModelOnlyOpt = False,
    model: DiffModelOpt = None,
    model_arg: ModelArgOpt = None,
    input_shape: InputShapeOpt = None,
    input_dtype: InputDtypeOpt = "float32",
    key: KeyOpt = None,
    optimizer: OptimizerOpt = None,
    backend: BackendOpt = "auto",
    no_verify: NoVerifyOpt = False,
    junit_xml: JunitOpt = None,
    markdown: MarkdownOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare two checkpoints value by value: exit 0 if equal, 1 if they differ.

    Lists values only in A, only in B, shape or dtype changes, and for values in both the max
    absolute and relative difference. Equal means |a - b| <= atol + rtol * |b| everywhere
    (default: exactly equal; NaN equals NaN in the same place; strings and bools exactly).
    """
    from ckptctl.bulk import collection_paused
    from ckptctl.caught import catching_warnings
    from ckptctl.diffing import diff as run_diff

    with reporting_errors(debug):
        from ckptctl.outputs import refuse_outputs_into_checkpoints

        refuse_outputs_into_checkpoints({"--junit-xml": junit_xml, "--markdown": markdown}, a, b)
    with (
        reporting_errors(debug, "diff", junit_xml, markdown),
        progress_bar("comparing") as progress,
        catching_warnings() as caught,
    ):
        options = None
        if model is not None:
            # Not --atol/--rtol: here they are the diff's tolerances, not the restore's.
            params = dict(model_arg=model_arg, input_shape=input_shape, input_dtype=input_dtype)
            options = restore_options({**params, "key": key, "optimizer": optimizer})
        with user_output_to_stderr():
            report = run_diff(
                a,
                b,
                atol=atol,
                rtol=rtol,
                filter=filter,
                model_only=model_only,
                progress=progress,
                backend=backend_name(backend),  # type: ignore[arg-type]
                model=model,
                options=options,
                verify=not no_verify,
            )
    ctx = Context("diff", warnings=caught, model=model)
    with collection_paused():  # a row's cells and lines are many small objects, no cycles
        show(report, Format.JSON if json else Format.TABLE, ctx)
        publish(report, ctx, junit_xml, markdown)
    raise CommandExit(EXIT_OK if report.equal else EXIT_PROBLEM)

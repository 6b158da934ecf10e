"""``ckptctl migrate``."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptctl.cli.common import reporting_errors, user_output_to_stderr
from ckptctl.cli.exits import CommandExit
from ckptctl.cli.formats import Context, Format, show
from ckptctl.cli.options import CheckpointArg, DebugOpt, JsonOpt
from ckptctl.cli.restore_cmd import (
    AllowFileOpt,
    AllowMissingOpt,
    AllowUnusedOpt,
    AtolOpt,
    BatchesOpt,
    InputDtypeOpt,
    InputRangeOpt,
    InputShapeOpt,
    KeyOpt,
    MapOpt,
    ModelArgOpt,
    OptimizerKeyOpt,
    OptimizerOpt,
    RtolOpt,
    SeedOpt,
    restore_options,
)
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM

OutputOpt = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        metavar="DST",
        help="Directory to write the migrated checkpoint into (must not exist; see --force).",
        show_default=False,
    ),
]
ModelOptional = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODULE:NAME",
        help="The model to migrate through; without it, rename the keys of a name-based "
        "(TF1) checkpoint with --map.",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace DST if it exists.")]


DropOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--drop",
        metavar="NAME",
        help="Leave this child of the source's root out (repeatable); values saved beside "
        "the model, such as step, are carried across otherwise.",
    ),
]


def migrate(
    checkpoint: CheckpointArg,
    output: OutputOpt,
    model: ModelOptional = None,
    map: MapOpt = None,
    optimizer: OptimizerOpt = None,
    optimizer_key: OptimizerKeyOpt = None,
    model_arg: ModelArgOpt = None,
    input_shape: InputShapeOpt = None,
    input_dtype: InputDtypeOpt = "float32",
    input_range: InputRangeOpt = "0,10",
    key: KeyOpt = None,
    seed: SeedOpt = 0,
    batches: BatchesOpt = 3,
    atol: AtolOpt = 0.0,
    rtol: RtolOpt = 0.0,
    allow_unused: AllowUnusedOpt = None,
    allow_missing: AllowMissingOpt = None,
    allow_file: AllowFileOpt = None,
    drop: DropOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Rewrite a checkpoint in the model's current structure, verified, into a new directory.

    Restores CHECKPOINT with the --map rules and verifies it as `restore` does, then writes
    tf.train.Checkpoint(model=..., optimizer=..., step=...) into DST with a `checkpoint`
    state file, proves a fresh model restores it with assert_consumed(), and moves it into
    place. Nothing is written when any check fails (exit 1).
    """
    from ckptctl.caught import catching_warnings
    from ckptctl.migration import migrate as run_migrate

    with reporting_errors(debug), catching_warnings() as caught:
        options = restore_options(locals())
        with user_output_to_stderr():
            report = run_migrate(checkpoint, output, model, options, force=force, drop=drop or [])
    show(report, Format.JSON if json else Format.TABLE, Context("migrate", warnings=caught))
    raise CommandExit(EXIT_OK if report.ok else EXIT_PROBLEM)

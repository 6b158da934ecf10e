"""``ckptctl restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ckptctl.cli.common import publish, refuse_output_into, reporting_errors
from ckptctl.cli.options import CheckpointArg, DebugOpt, JsonOpt, JunitOpt
from ckptctl.cli.output import print_json
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM, UsageError

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="MODULE:NAME",
        help="pkg.module:Name (importable from the current directory) or path/file.py:Name; "
        "a model class or a function returning a model.",
        show_default=False,
    ),
]
ModelArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model-arg",
        metavar="KEY=VALUE",
        help="Constructor argument (repeatable); VALUE is parsed as JSON, else a string.",
    ),
]
InputShapeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--input-shape",
        metavar="DIMS",
        help="Input shape with batch, e.g. 4,20; repeat for a model with several inputs.",
    ),
]
InputDtypeOpt = Annotated[str, typer.Option("--input-dtype", help="Input dtype.")]
InputRangeOpt = Annotated[
    str, typer.Option("--input-range", metavar="LOW,HIGH", help="Range of integer inputs.")
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="NAME",
        help="Child of the checkpoint root holding the model (default: model, or the only "
        "one); '.' for a checkpoint whose root is the model.",
    ),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        "--optimizer",
        metavar="NAME",
        help="Also restore the optimizer: a Keras identifier (adam) or MODULE:NAME.",
    ),
]
PartialOpt = Annotated[
    bool, typer.Option("--partial", help="Restore what matches even if something does not.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random input batches.")]
BatchesOpt = Annotated[int, typer.Option("--batches", min=1, help="Random batches to compare.")]
AtolOpt = Annotated[float, typer.Option("--atol", min=0.0, help="Absolute output tolerance.")]
RtolOpt = Annotated[float, typer.Option("--rtol", min=0.0, help="Relative output tolerance.")]
SaveGoldenOpt = Annotated[
    Path | None,
    typer.Option(
        "--save-golden", metavar="FILE.npz", help="Record inputs and outputs of this restore."
    ),
]
GoldenOpt = Annotated[
    Path | None,
    typer.Option(
        "--golden", metavar="FILE.npz", help="Replay recorded inputs; outputs must match."
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="OLD=NEW",
        help="Place values whose object path changed: a regex over checkpoint paths and its "
        "replacement (repeatable, applied in order), or 'keras2' for a Keras 2 (tf-keras) "
        "checkpoint into the Keras 3 model.",
    ),
]
AllowUnusedOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-unused",
        metavar="GLOB",
        help="Accept checkpoint values nothing takes whose path or key matches (repeatable).",
    ),
]
AllowMissingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-missing",
        metavar="GLOB",
        help="Accept model variables without a value whose path matches (repeatable).",
    ),
]
AllowFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--allow-file",
        metavar="FILE",
        help="Baseline of accepted leftovers: lines 'unused: GLOB' or 'missing: GLOB'.",
    ),
]


def parse_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split(","))
    except ValueError as e:
        raise UsageError(f"--input-range {text!r}: expected LOW,HIGH, e.g. 0,1000") from e
    if high <= low:
        raise UsageError(f"--input-range {text!r}: HIGH must be greater than LOW")
    return low, high


def restore(
    checkpoint: CheckpointArg,
    model: ModelOpt,
    model_arg: ModelArgOpt = None,
    input_shape: InputShapeOpt = None,
    input_dtype: InputDtypeOpt = "float32",
    input_range: InputRangeOpt = "0,10",
    key: KeyOpt = None,
    optimizer: OptimizerOpt = None,
    partial: PartialOpt = False,
    seed: SeedOpt = 0,
    batches: BatchesOpt = 3,
    atol: AtolOpt = 0.0,
    rtol: RtolOpt = 0.0,
    save_golden: SaveGoldenOpt = None,
    golden: GoldenOpt = None,
    map: MapOpt = None,
    allow_unused: AllowUnusedOpt = None,
    allow_missing: AllowMissingOpt = None,
    allow_file: AllowFileOpt = None,
    junit_xml: JunitOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Restore a checkpoint into your model and prove it restored completely and correctly.

    Builds the model, matches it against the checkpoint by object path without assigning
    anything, restores only if everything matches (or --partial), compares every restored
    value with the checkpoint bit for bit, and checks that a second, independently
    initialised instance gives the same outputs on random inputs. Exit 0 only if all holds.
    """
    from ckptctl.loader import parse_model_args
    from ckptctl.restoration import parse_shape, read_allow_file
    from ckptctl.restoration import restore as run_restore

    with reporting_errors(debug):
        refuse_output_into("--junit-xml", junit_xml, checkpoint)
    with reporting_errors(debug, "restore", junit_xml):
        unused, missing = read_allow_file(allow_file) if allow_file else ([], [])
        report = run_restore(
            checkpoint,
            model,
            model_args=parse_model_args(model_arg or []),
            input_shapes=[parse_shape(s) for s in input_shape or []],
            input_dtype=input_dtype,
            input_range=parse_range(input_range),
            key=key,
            optimizer=optimizer,
            partial=partial,
            seed=seed,
            batches=batches,
            atol=atol,
            rtol=rtol,
            save_golden_to=save_golden,
            golden=golden,
            maps=map or [],
            allow_unused=[*(allow_unused or []), *unused],
            allow_missing=[*(allow_missing or []), *missing],
        )
    if json:
        print_json(report.to_dict())
    else:
        from ckptctl.cli.render import render_restore, stdout_console

        render_restore(report, stdout_console())
    publish(report, "restore", junit_xml)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PROBLEM)

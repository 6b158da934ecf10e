"""``ckptctl restore``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ckptctl.cli.common import reporting_errors, user_output_to_stderr
from ckptctl.cli.exits import CommandExit
from ckptctl.cli.formats import Context, Format, publish, show
from ckptctl.cli.options import CheckpointArg, DebugOpt, JsonOpt, JunitOpt, MarkdownOpt
from ckptctl.errors import EXIT_OK, EXIT_PROBLEM, UsageError

if TYPE_CHECKING:
    from ckptctl.restoration import RestoreOptions

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
InputDtypeOpt = Annotated[
    str, typer.Option("--input-dtype", metavar="DTYPE", help="Input dtype (float32, int32, ...).")
]
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
OptimizerKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--optimizer-key",
        metavar="NAME",
        help="Child of the checkpoint root holding the optimizer (default: the one child "
        "holding an iteration count and slots).",
    ),
]
ByNameOpt = Annotated[
    bool,
    typer.Option(
        "--by-name",
        help="Keras 2 .h5 files: pair layers by name (load_weights(by_name=True)), not order.",
    ),
]
PartialOpt = Annotated[
    bool, typer.Option("--partial", help="Restore what matches even if something does not.")
]
SeedOpt = Annotated[
    int, typer.Option("--seed", metavar="N", help="Seed of the random input batches.")
]
BatchesOpt = Annotated[
    int, typer.Option("--batches", metavar="N", min=1, help="Random batches to compare.")
]
AtolOpt = Annotated[
    float, typer.Option("--atol", metavar="X", min=0.0, help="Absolute output tolerance.")
]
RtolOpt = Annotated[
    float, typer.Option("--rtol", metavar="X", min=0.0, help="Relative output tolerance.")
]
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


_CLI_NAMES = {"model_arg": "model_args", "input_shape": "input_shapes", "map": "maps"}
"""Parameters whose library option is named otherwise (repeatable options in the plural)."""


def restore_options(params: Mapping[str, Any]) -> RestoreOptions:
    """The library's options from a command's parameters, each named as its CLI option
    (``restore`` and ``migrate`` pass their ``locals()``); others are left out, and options the
    command does not have keep their defaults."""
    from ckptctl.loader import parse_model_args
    from ckptctl.restoration import RestoreOptions, parse_shape
    from ckptctl.restoration.options import OPTION_NAMES

    values = {_CLI_NAMES.get(k, k): v for k, v in params.items()}
    values = {k: v for k, v in values.items() if k in OPTION_NAMES}
    values["model_args"] = parse_model_args(values.get("model_args") or [])
    values["input_shapes"] = [parse_shape(s) for s in values.get("input_shapes") or []]
    if "input_range" in values:
        values["input_range"] = parse_range(values["input_range"])
    for name in ("maps", "allow_unused", "allow_missing"):
        values[name] = values.get(name) or []
    return RestoreOptions(**values)


def restore(
    checkpoint: CheckpointArg,
    model: ModelOpt,
    model_arg: ModelArgOpt = None,
    input_shape: InputShapeOpt = None,
    input_dtype: InputDtypeOpt = "float32",
    input_range: InputRangeOpt = "0,10",
    key: KeyOpt = None,
    optimizer: OptimizerOpt = None,
    optimizer_key: OptimizerKeyOpt = None,
    by_name: ByNameOpt = False,
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
    markdown: MarkdownOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Restore a checkpoint into your model and prove it restored completely and correctly.

    Builds the model, matches it against the checkpoint by object path without assigning
    anything, restores only if everything matches (or --partial), compares every restored
    value with the checkpoint bit for bit, and checks that a second, independently
    initialised instance gives the same outputs on random inputs. Exit 0 only if all holds.
    """
    from ckptctl.caught import catching_warnings
    from ckptctl.restoration import restore as run_restore

    with reporting_errors(debug):
        from ckptctl.outputs import refuse_outputs_into_checkpoints

        outputs = {"--junit-xml": junit_xml, "--markdown": markdown, "--save-golden": save_golden}
        refuse_outputs_into_checkpoints(outputs, checkpoint)
    with reporting_errors(debug, "restore", junit_xml, markdown), catching_warnings() as caught:
        options = restore_options(locals())
        with user_output_to_stderr():
            report = run_restore(checkpoint, model, options)
    ctx = Context("restore", warnings=caught)
    show(report, Format.JSON if json else Format.TABLE, ctx)
    publish(report, ctx, junit_xml, markdown)
    raise CommandExit(EXIT_OK if report.ok else EXIT_PROBLEM)

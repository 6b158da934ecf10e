"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ckptctl.cli.common import backend_name as backend_name

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
CHECKPOINT_FORMS = (
    "Checkpoint directory, prefix (dir/ckpt-3), its .index or .data-* file, a SavedModel "
    "directory, or a Keras file (.weights.h5, .weights.json, .keras, Keras 2 .h5); on disk "
    "or at a URL (s3://bucket/run, gs://, any fsspec protocol)"
)
"""Every form of path a command reads, said once for every command's help."""

CheckpointArg = Annotated[
    str,
    typer.Argument(metavar="CHECKPOINT", help=f"{CHECKPOINT_FORMS}.", show_default=False),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        metavar="auto|native|tf",
        help="How values are read: auto (ckptctl's own reader, TensorFlow where it cannot), "
        "native, or tf (TensorFlow's CheckpointReader).",
    ),
]
NoVerifyOpt = Annotated[
    bool, typer.Option("--no-verify", help="Skip the crc32c check of values read.")
]


JunitOpt = Annotated[
    Path | None,
    typer.Option(
        "--junit-xml",
        metavar="FILE",
        help="Also write a JUnit XML report (one testcase per check) for CI.",
    ),
]
MarkdownOpt = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        metavar="FILE",
        help="Also write the report as Markdown (for a CI summary or a pull-request comment); "
        "in GitHub Actions it is also added to the job summary.",
    ),
]

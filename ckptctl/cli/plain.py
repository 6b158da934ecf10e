"""Plain-text output without Rich: the parts every command shares (sizes, shapes, names),
and `inspect` of thousands of values, which a Rich table would take seconds to lay out."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from ckptctl.summary import plural as plural
from ckptctl.summary import shape_str as shape_str

if TYPE_CHECKING:
    from ckptctl.inspection import InspectReport, VariableInfo

KEY_COLUMN_MIN_WIDTH = 150  # columns: narrower terminals show keys only where they differ
RICH_TABLE_LIMIT = 400  # rows: beyond this, laying out a Rich table takes seconds


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


FORMAT_NAMES = {
    ("object-graph", "checkpoint"): "TF2 object-based checkpoint",
    ("name-based", "checkpoint"): "TF1 name-based checkpoint",
    ("object-graph", "saved_model"): "SavedModel variables (object-based)",
    ("name-based", "saved_model"): "SavedModel variables (name-based, TF1)",
    ("keras", "weights-h5"): "Keras 3 weights file (.weights.h5)",
    ("keras", "weights-json"): "Keras 3 sharded weights (.weights.json)",
    ("keras", "keras-archive"): "Keras 3 model archive (.keras)",
    ("keras-legacy", "h5"): "Keras 2 HDF5 file (.h5)",
    ("name-based", "checkpoint-v1"): "TF1 V1 checkpoint (one file, name-based)",
}


def second_column(report: InspectReport, wide: bool) -> tuple[str, Callable[[Any], str]] | None:
    """The column after the path: Keras's layer names for a Keras file (whose keys are the
    paths), TensorFlow's checkpoint keys on a wide terminal, else none."""
    if report.format in ("keras", "keras-legacy"):
        return "layer", lambda v: v.layer_name or ""
    if wide and report.format == "object-graph":
        return "checkpoint key", lambda v: v.key
    return None


def keras_line(report: InspectReport) -> str | None:
    """What a .keras archive says of itself, on one line."""
    parts = []
    if report.class_name:
        parts.append(f"model {report.class_name}")
    if report.keras_version:
        parts.append(f"saved by Keras {report.keras_version}")
    if report.date_saved:
        parts.append(f"on {report.date_saved}")
    if report.keras_backend:
        parts.append(f"backend {report.keras_backend}")
    if report.layers:
        parts.append(plural(len(report.layers), "layer"))
    return ", ".join(parts) or None


def output_width() -> int:
    """Terminal width on a terminal; off one (CI logs, pipes) wide enough for whole keys."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return int(os.environ.get("COLUMNS", "250") or 250)


def print_plain_inspect(report: InspectReport, out: TextIO | None = None) -> None:
    """`inspect`'s header and value table as aligned plain text."""
    out = out if out is not None else sys.stdout
    kind = FORMAT_NAMES.get((report.format, report.source), report.format)
    shards = f"{report.shards} shard" + ("s" if report.shards != 1 else "")
    header = [
        ("Checkpoint", report.checkpoint),
        ("Format", f"{kind}, {shards}, {human_bytes(report.total_bytes)} on disk"),
        (
            "Contents",
            f"{plural(report.total_values, 'value')}, {plural(report.total_params, 'parameter')}",
        ),
    ]
    if report.save_counter is not None:
        header.append(("save_counter", str(report.save_counter)))
    if keras_line(report):
        header.append(("Keras", keras_line(report) or ""))
    if report.other_checkpoints:
        header.append(("Also here", ", ".join(report.other_checkpoints)))
    width = max(len(k) for k, _ in header)
    lines = [f"{k.ljust(width)}  {v}" for k, v in header]
    if report.note:
        lines.append(f"note: {report.note}")
    if report.backend_note:
        lines.append(f"note: {report.backend_note}")
    lines.append("")
    if report.filter is not None:
        lines.append(
            f"{len(report.variables)} of {report.total_values} values match {report.filter!r}"
        )
    out.write("\n".join(lines) + "\n")
    if report.variables:
        _plain_table(report, out, output_width() >= KEY_COLUMN_MIN_WIDTH)


def _plain_table(report: InspectReport, out: TextIO, wide: bool) -> None:
    """The same columns as the Rich table, aligned by hand: thousands of rows in milliseconds."""
    named = report.format in ("object-graph", "keras", "keras-legacy")
    second = second_column(report, wide)
    with_key = second is not None
    owners = {o.name: o for o in report.owners}
    groups: dict[str, list[VariableInfo]] = {}
    for v in report.variables:
        groups.setdefault(v.owner or "(root)", []).append(v)
    rows: list[tuple[list[str], list[str]]] = []  # (cells, lines printed under the row)
    for name, variables in groups.items():
        headed = named and len(groups) > 1 and len(variables) > 1
        if headed:
            o = owners[name]
            title = f"{name} ({o.values:,} values)"
            rows.append(
                (
                    [
                        title,
                        *([""] * (3 if with_key else 2)),
                        f"{o.params:,}",
                        human_bytes(o.nbytes),
                    ],
                    [],
                )
            )
        for v in variables:
            first = ("  " if headed else "") + (v.path or v.key)
            under = []
            if named and v.slot_of:
                under.append(f"   {v.slot_name} of {v.slot_of}")
            cells = [
                first,
                *([second[1](v)] if second is not None else []),
                v.dtype,
                shape_str(v.shape),
                f"{v.num_elements:,}",
                human_bytes(v.nbytes),
            ]
            rows.append((cells, under))
    headers = [
        "object path" if named else "key",
        *([second[0]] if second is not None else []),
        "dtype",
        "shape",
        "elements",
        "bytes",
    ]
    widths = [max(len(h), *(len(c[i]) for c, _ in rows)) for i, h in enumerate(headers)]
    right = {len(headers) - 2, len(headers) - 1}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    text = [line(headers), "-" * len(line(headers))]
    for cells, under in rows:
        text.append(line(cells))
        text.extend(under)
    out.write("\n".join(text) + "\n")
    out.flush()

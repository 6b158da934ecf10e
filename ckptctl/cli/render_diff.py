"""Render a :class:`~ckptctl.diffing.DiffReport` as a summary line and Rich tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ckptctl.cli.plain import shape_str
from ckptctl.fold import fold_rows
from ckptctl.objgraph import ROOT as ROOT_GROUP

if TYPE_CHECKING:
    from ckptctl.diffing import ChangedValue, DiffReport, OnlyIn, Renamed


def tolerances(report: DiffReport) -> str:
    return f"atol={report.atol:g}, rtol={report.rtol:g}"


def summary_line(report: DiffReport) -> str:
    """``A and B differ: 3 changed, 1 only in A, 10 unchanged (atol=0, rtol=0)``.

    Counts of values only on one side are left out when zero, to keep the line short.
    """
    if report.equal:
        return f"A and B are equal: {report.unchanged} unchanged ({tolerances(report)})"
    parts = [f"{len(report.changed)} changed"]
    for side, values in (("A", report.only_in_a), ("B", report.only_in_b)):
        if values:
            parts.append(f"{len(values)} only in {side}")
    parts.append(f"{report.unchanged} unchanged")
    return f"A and B differ: {', '.join(parts)} ({tolerances(report)})"


def render_diff(report: DiffReport, console: Console) -> None:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column(overflow="fold")
    header.add_row("A", escape(report.a))
    header.add_row("B", escape(report.b))
    if report.a_format != report.b_format:
        header.add_row("Formats", f"A {report.a_format}, B {report.b_format}")
    console.print(header)
    for note in _notes(report):
        console.print(Text(f"note: {note}", style="yellow"))
    console.print()
    style = "bold green" if report.equal else "bold red"
    line = summary_line(report)
    if len(line) > console.width:
        # Break before the tolerances rather than anywhere in the counts.
        head, _, tail = line.rpartition(" (")
        line = f"{head}\n({tail}"
    console.print(Text(line, style=style))
    if report.changed:
        console.print()
        console.print(_changed_table(report.changed, report.renamed))
    for title, values in (("Only in A", report.only_in_a), ("Only in B", report.only_in_b)):
        if values:
            console.print()
            console.print(_only_table(f"{title} ({len(values)})", values))


def _notes(report: DiffReport) -> list[str]:
    notes = list(report.notes)
    if report.filter is not None:
        notes.append(f"only values whose key or object path matches {report.filter!r}")
    if report.model_only:
        notes.append("optimizer state and save_counter left out (--model-only)")
    renamed_values = 0
    for r in report.renamed:
        a = "the root" if r.a == ROOT_GROUP else f"{r.a}.*"
        b = "the root" if r.b == ROOT_GROUP else f"{r.b}.*"
        notes.append(f"paired by object path: {a} in A with {b} in B ({r.values} values)")
        renamed_values += r.values
    others = report.paired_by_path - renamed_values
    if others > 0:
        notes.append(f"{others} values paired by object path: their keys differ")
    return notes


def _number(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf"
    return "0" if x == 0 else f"{x:.3g}"


def _renamed_path(path: str, renamed: list[Renamed]) -> str | None:
    """A's path as a root-child rename (already in the notes) turns it into B's."""
    for r in renamed:
        if r.a == ROOT_GROUP:
            return path if r.b == ROOT_GROUP else f"{r.b}.{path}"
        head, _, rest = path.partition(".")
        if head == r.a and rest:
            return rest if r.b == ROOT_GROUP else f"{r.b}.{rest}"
    return None


def _changed_table(changed: list[ChangedValue], renamed: list[Renamed]) -> Table:
    table = Table(
        title=Text(f"Changed ({len(changed)})", style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("path or key", overflow="fold", ratio=1, min_width=24)
    table.add_column("shape", overflow="fold", max_width=24)
    table.add_column("max abs", justify="right", no_wrap=True)
    table.add_column("max rel", justify="right", no_wrap=True)
    table.add_column("differ", justify="right", no_wrap=True)
    for c in changed:
        table.add_row(*_changed_cells(c, renamed))
    return table


def _changed_cells(c: ChangedValue, renamed: list[Renamed]) -> list[Text | str]:
    label = Text(c.path or c.key)
    b_label = c.b_path or c.b_key
    if b_label != label.plain and not (c.path and _renamed_path(c.path, renamed) == b_label):
        label.append(f"\n  B: {b_label}", style="dim")
    if c.kind == "values":
        differ = f"{c.num_differing:,}/{c.num_elements:,}"
        if c.nan_mismatch:
            differ += f"\n{c.nan_mismatch:,} NaN"
        shape = shape_str(c.a_shape)
        return [label, shape, _number(c.max_abs_diff), _number(c.max_rel_diff), differ]
    if c.kind == "shape":
        shape = f"{shape_str(c.a_shape)} -> {shape_str(c.b_shape)}"
    else:
        shape = f"{shape_str(c.a_shape)} {c.a_dtype} -> {shape_str(c.b_shape)} {c.b_dtype}"
    return [label, shape, "-", "-", c.kind]


def _only_table(title: str, values: list[OnlyIn]) -> Table:
    table = Table(
        title=Text(title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("path or key", overflow="fold", ratio=1, min_width=24)
    table.add_column("shape", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    rows = [[v.path or v.key, shape_str(v.shape), v.dtype] for v in values]
    for row in fold_rows(rows):
        table.add_row(*(escape(cell) for cell in row))
    return table

"""Render a :class:`~ckptctl.diffing.DiffReport`: its words and rows (:mod:`ckptctl.summary`)
laid out for the console's width, in colour."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ckptctl.cli.render import print_lines, print_table, print_wrapped
from ckptctl.layout import label_lines
from ckptctl.summary import diff_header, diff_notes, diff_tables, diff_verdict

if TYPE_CHECKING:
    from ckptctl.diffing import DiffReport


def render_diff(report: DiffReport, console: Console) -> None:
    print_lines(console, label_lines(diff_header(report), console.width))
    for note in diff_notes(report):
        print_wrapped(console, f"note: {note}", "warning", "  ")
    console.print()
    verdict = diff_verdict(report)
    line = verdict.text
    if len(line) > console.width:
        # Break before the tolerances rather than anywhere in the counts.
        head, _, tail = line.rpartition(" (")
        line = f"{head}\n({tail}"
    for part in line.split("\n"):
        print_wrapped(console, part, "ok" if verdict.ok else "fail")
    for table in diff_tables(report):
        console.print()
        print_table(console, table)

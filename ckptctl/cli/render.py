"""Render reports as Rich tables (stdout) or one JSON document; errors go to stderr."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ckptctl.cli.output import print_json as print_json
from ckptctl.cli.plain import (
    FORMAT_NAMES,
    KEY_COLUMN_MIN_WIDTH,
    human_bytes,
    keras_line,
    plural,
    second_column,
    shape_str,
)
from ckptctl.errors import CkptctlError
from ckptctl.fold import fold_rows
from ckptctl.summary import (
    MARKS,
    Status,
    restore_checks,
    restore_header,
    restore_tables,
    restore_verdict,
)
from ckptctl.summary import Table as SummaryTable

if TYPE_CHECKING:
    # Types only: rendering must not import numpy for `ckptctl --help`.
    from ckptctl.inspection import InspectReport, TreeNode, VariableInfo
    from ckptctl.migration import MigrateReport
    from ckptctl.restoration import RestoreReport

# Off a terminal (CI logs, pipes) tables keep whole keys instead of folding them at 80 columns.
_PIPE_WIDTH = 250


def stdout_console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", _PIPE_WIDTH))
    return Console(highlight=False, soft_wrap=False, width=width)


def stderr_console() -> Console:
    # soft_wrap: a message that names a long path stays on its line instead of being cut.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: CkptctlError) -> None:
    console = stderr_console()
    console.print(Text.assemble(("error: ", "bold red"), err.message))
    if err.hint:
        console.print(Text("  " + err.hint, style="dim" if console.is_terminal else ""))


def render_inspect(report: InspectReport, console: Console) -> None:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column(overflow="fold")
    header.add_row("Checkpoint", escape(report.checkpoint))
    kind = FORMAT_NAMES.get((report.format, report.source), report.format)
    shards = f"{report.shards} shard" + ("s" if report.shards != 1 else "")
    header.add_row("Format", f"{kind}, {shards}, {human_bytes(report.total_bytes)} on disk")
    values = f"{plural(report.total_values, 'value')}, {plural(report.total_params, 'parameter')}"
    header.add_row("Contents", values)
    if report.save_counter is not None:
        header.add_row("save_counter", str(report.save_counter))
    if keras_line(report):
        header.add_row("Keras", escape(keras_line(report) or ""))
    if report.other_checkpoints:
        header.add_row("Also here", escape(", ".join(report.other_checkpoints)))
    console.print(header)
    if report.note:
        console.print(Text(f"note: {report.note}", style="yellow"))
    if report.backend_note:
        console.print(Text(f"note: {report.backend_note}", style="yellow"))
    console.print()

    if report.tree is not None:
        levels = _tree_levels(console.width)
        tree, cut = _rich_tree(report.tree, levels)
        if report.tree_note:
            console.print(Text(f"note: {report.tree_note}", style="yellow"))
        if cut:
            console.print(
                Text(
                    f"note: {levels} levels shown, as many as {console.width} columns hold "
                    "(--json shows more)",
                    style="yellow",
                )
            )
        console.print(tree)
        return
    if report.filter is not None:
        console.print(
            f"{len(report.variables)} of {report.total_values} values match "
            f"{escape(report.filter)!r}"
        )
        if not report.variables:
            return
    if report.stats:
        console.print(_stats_table(report))
        return
    console.print(_variables_table(report, wide=console.width >= KEY_COLUMN_MIN_WIDTH))


_SPARKS = " ▁▂▃▄▅▆▇█"


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.3g}".replace("e-0", "e-").replace("e+0", "e+").replace("e+", "e")


def _sparkline(counts: list[int]) -> str:
    top = max(counts) if counts else 0
    if not top:
        return ""
    return "".join(_SPARKS[0 if c == 0 else max(1, round(8 * c / top))] for c in counts)


def _stats_table(report: InspectReport) -> Table:
    """Statistics of every shown value; values holding NaN or Inf stand out in red."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(
        "object path" if report.format == "object-graph" else "key",
        overflow="fold",
        min_width=20,
    )
    for name in ("min", "max", "mean", "std", "zeros"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("NaN/Inf", justify="right", no_wrap=True, min_width=7)
    for v in report.variables:
        st = v.stats
        first = Text(v.path or v.key)
        if st is not None and st.hist:
            first.append(f"\n  {_sparkline(st.hist)}", style="cyan")
        if st is None:
            table.add_row(first)
            continue
        bad = st.nonfinite > 0
        zeros = "" if st.zeros is None else f"{st.zeros:.0%}"
        nonfinite = (
            f"{st.nan}/{st.inf}" if (st.nan or st.inf) else ("0" if st.mean is not None else "")
        )
        table.add_row(
            first,
            _num(st.min),
            _num(st.max),
            _num(st.mean),
            _num(st.std),
            zeros,
            Text(nonfinite, style="bold red" if bad else ""),
            style="red" if bad else None,
        )
    return table


def _variables_table(report: InspectReport, wide: bool) -> Table:
    """One table, one section per owner (the root's children), so columns line up."""
    named = report.format in ("object-graph", "keras")
    second = second_column(report, wide)
    with_key = second is not None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("object path" if named else "key", overflow="fold", min_width=36)
    if second is not None:
        table.add_column(second[0], overflow="fold", style="dim")
    table.add_column("dtype", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("elements", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    groups: dict[str, list[VariableInfo]] = {}
    for v in report.variables:
        groups.setdefault(v.owner or "(root)", []).append(v)
    owners = {o.name: o for o in report.owners}
    for name, variables in groups.items():
        headed = named and len(groups) > 1 and len(variables) > 1
        if headed:
            if table.rows:
                table.rows[-1].end_section = True
            o = owners[name]
            title = Text(name, style="bold")
            title.append(f" ({plural(o.values, 'value')})", style="dim")
            totals = [f"{o.params:,}", human_bytes(o.nbytes)]
            table.add_row(title, *([""] * (3 if with_key else 2)), *totals, style="bold")
        for v in variables:
            table.add_row(*_variable_cells(v, headed, second, wide))
        if headed:
            table.rows[-1].end_section = True
    return table


def _variable_cells(
    v: VariableInfo, indent: bool, second: tuple[str, Any] | None, wide: bool
) -> list[Any]:
    named = v.path is not None
    first = Text(("  " if indent else "") + (v.path or v.key))
    if named and v.slot_of:
        first.append(f"\n   {v.slot_name} of {v.slot_of}", style="cyan")
    elif named and v.full_name and _is_slot_like(v):
        first.append(f"\n   {v.full_name}", style="cyan")
    if second is None and v.path is not None and v.key != _standard_key(v.path):
        first.append(f"\n   key: {v.key}", style="dim")
    cells: list[Any] = [first]
    if second is not None:
        cells.append(second[1](v))
    return [*cells, v.dtype, shape_str(v.shape), f"{v.num_elements:,}", human_bytes(v.nbytes)]


def _is_slot_like(v: VariableInfo) -> bool:
    """Keras 3 optimizer variables (``optimizer._variables.N``), named by their full_name."""
    return v.path is not None and "._variables." in f".{v.path}"


def _standard_key(path: str) -> str:
    return path.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE"


_TREE_INDENT = 4  # columns Rich's tree guides take per level
_TREE_LABEL_ROOM = 40  # columns left for the deepest labels shown


def _tree_levels(width: int) -> int:
    """How many levels of tree fit ``width`` columns with room left for the labels."""
    return max(8, (width - _TREE_LABEL_ROOM) // _TREE_INDENT)


def _rich_tree(node: TreeNode, levels: int) -> tuple[Tree, bool]:
    """The tree as Rich's, at most ``levels`` deep (and whether that cut it), built without
    recursion; the report's own tree is capped too (``inspection.TREE_DEPTH``), so Rich's
    rendering never goes thousands of levels deep."""
    tree = Tree(Text("(root)", style="bold"))
    stack: list[tuple[Tree, TreeNode, int]] = [(tree, node, 0)]
    cut = False
    while stack:
        branch, parent, depth = stack.pop()
        for child in parent.children:
            label = Text(child.name, style="bold" if child.children else "")
            if child.alias_of is not None:
                label.append(f"  -> {child.alias_of}", style="dim")
            elif child.key is not None:
                label.append(f"  {child.dtype} {shape_str(child.shape)}", style="cyan")
            hidden = child.truncated or (bool(child.children) and depth + 1 >= levels)
            if hidden:
                label.append("  ... (deeper levels not shown)", style="dim")
                cut = cut or not child.truncated
            sub = branch.add(label)
            if not hidden:
                stack.append((sub, child, depth + 1))
    return tree, cut


def render_restore(report: RestoreReport, console: Console, partial_hint: bool = True) -> None:
    """The report's words and rows (:mod:`ckptctl.summary`) as Rich tables, in colour."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in restore_header(report):
        grid.add_row(label, escape(value))
    console.print(grid)
    console.print()
    for table in restore_tables(report):
        console.print(_summary_table(table))
        for note in table.footnotes:
            console.print(Text(note, style="dim"))
        if table.footnotes:
            console.print()
    _render_checks(report, console, partial_hint)


def _summary_table(table: SummaryTable) -> Table:
    rich_table = _problem_table(table.title, table.headers, [])
    for i, row in enumerate(table.rows):
        rich_table.add_row(*(escape(c) for c in row))
        note = table.notes[i] if i < len(table.notes) else None
        if note:
            rich_table.add_row(Text(f"  {note}", style="dim"), *([""] * (len(table.headers) - 1)))
    return rich_table


def _problem_table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(
        title=Text(title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for i, h in enumerate(headers):
        if i == 0 or i == len(headers) - 1:
            table.add_column(h, overflow="fold")
        else:
            table.add_column(h, no_wrap=True)
    for row in fold_rows(rows):
        table.add_row(*(escape(c) for c in row))
    return table


_MARK_STYLES: dict[Status, str] = {"ok": "bold green", "fail": "bold red", "skipped": "dim"}


def _render_checks(report: RestoreReport, console: Console, partial_hint: bool) -> None:
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(style="bold", no_wrap=True)
    lines.add_column(overflow="fold")
    for check in restore_checks(report):
        style = _MARK_STYLES.get(check.status, "")
        text = Text(check.text, style="dim" if check.status == "skipped" else "")
        lines.add_row(Text(MARKS[check.status], style=style), check.name, text)
    console.print(lines)
    console.print()
    verdict = restore_verdict(report, partial_hint)
    console.print(Text(verdict.text, style="bold green" if verdict.ok else "bold red"))
    if verdict.suggestion:
        console.print(Text(verdict.suggestion))


def render_migrate(report: MigrateReport, console: Console) -> None:
    if report.restore is not None:
        render_restore(report.restore, console, partial_hint=False)
        console.print()
    if report.ok:
        what = f"{plural(report.values, 'value')}"
        if report.renamed:
            renamed = [r for r in report.renamed if r.rule]
            rows = [[r.key, r.new_key, r.rule or ""] for r in renamed]
            console.print(_problem_table("Renamed", ["key", "new key", "by"], rows))
        if not report.model:
            proof = "every value read back equal"
        elif (report.written or "").endswith(".weights.h5"):
            proof = "a fresh model loads it with Keras's load_weights() and holds the same values"
        else:
            proof = "a fresh model restores it with assert_consumed()"
        console.print(
            Text.assemble(
                ("Migrated: ", "bold green"), f"{what} written to {report.written}; {proof}."
            )
        )
        if report.carried:
            console.print(f"Carried across beside the model: {', '.join(report.carried)}.")
        if report.dropped:
            console.print(f"Left out: {', '.join(report.dropped)}.")
    else:
        console.print(Text.assemble(("Not migrated: ", "bold red"), report.detail or ""))

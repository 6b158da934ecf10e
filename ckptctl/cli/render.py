"""Render reports in colour (stdout) or as one JSON document; errors go to stderr.

Tables are laid out by :mod:`ckptctl.layout` for the console's width (paths folded at ``.``,
numbers never broken) and printed line by line as Rich text.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TextIO, cast

from rich.color import ColorSystem
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from rich.tree import Tree

from ckptctl.caught import CaughtWarning
from ckptctl.cli.output import print_json as print_json
from ckptctl.cli.plain import (
    KEY_COLUMN_MIN_WIDTH,
    RICH_TABLE_LIMIT,
    header_rows,
    stats_table,
    tree_lines,
    variables_table,
    write_text,
)
from ckptctl.errors import CkptctlError
from ckptctl.fold import fold_rows
from ckptctl.layout import (
    Cell,
    Line,
    fold_path,
    label_lines,
    plain,
    plural,
    printable,
    shape_str,
    table_lines,
    wrap_words,
)
from ckptctl.layout import Table as LayoutTable
from ckptctl.summary import (
    MARKS,
    Status,
    restore_checks,
    restore_header,
    restore_tables,
    restore_verdict,
)

if TYPE_CHECKING:
    # Types only: rendering must not import numpy for `ckptctl --help`.
    from ckptctl.inspection import InspectReport, TreeNode
    from ckptctl.migration import MigrateReport
    from ckptctl.restoration import RestoreReport

# Off a terminal (CI logs, pipes) tables keep whole keys instead of folding them at 80 columns.
_PIPE_WIDTH = 250

STYLES: dict[str, str] = {
    "title": "bold",
    "header": "bold",
    "label": "bold",
    "group": "bold",
    "dim": "dim",
    "note": "dim",
    "dropped": "dim",
    "slot": "cyan",
    "bad": "red",
    "worst": "bold red",
    "warning": "yellow",
    "ok": "bold green",
    "fail": "bold red",
}
"""The style of each role :mod:`ckptctl.layout` gives a piece of text."""


class _TrimmedLines(io.TextIOBase):
    """A text stream that drops the spaces Rich pads lines with before each newline (also
    before the codes that end a line's style), so piped output has no trailing spaces."""

    _TAIL = re.compile(r"((?:\x1b\[[0-9;]*m| )+)$")

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        if lines:
            self._stream.write("".join(self._trim(line) + "\n" for line in lines))
        return len(text)

    def _trim(self, line: str) -> str:
        if not line.endswith((" ", "m")):  # nothing to trim (most lines): no regex
            return line
        return self._TAIL.sub(lambda m: m.group(1).replace(" ", ""), line)

    def flush(self) -> None:
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"


class SafeConsole(Console):
    """A Rich console that prints control characters in text as escapes (``\\x1b``), so a
    name from a crafted checkpoint cannot clear the screen, move the cursor or fake a line;
    Rich's own styling and cursor controls pass through. Every console ckptctl prints to is
    one of these."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        safe = (
            seg if seg.control else Segment(printable(seg.text, keep_newlines=True), seg.style)
            for seg in buffer
        )
        return super()._render_buffer(safe)


def stdout_console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", _PIPE_WIDTH))
    return SafeConsole(
        highlight=False, soft_wrap=False, width=width, file=cast(TextIO, _TrimmedLines(sys.stdout))
    )


def stderr_console() -> Console:
    # soft_wrap: a message that names a long path stays on its line instead of being cut.
    return SafeConsole(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: CkptctlError) -> None:
    console = stderr_console()
    console.print(Text.assemble(("error: ", "bold red"), err.message))
    if err.hint:
        console.print(Text("  " + err.hint, style="dim" if console.is_terminal else ""))


def styled(line: Line) -> Text:
    return Text.assemble(*((text, STYLES.get(role or "", "")) for text, role in line))


def print_lines(console: Console, lines: list[Line]) -> None:
    """Lines laid out by :mod:`ckptctl.layout` (already as wide as the console allows).

    Past :data:`RICH_TABLE_LIMIT` lines they are written without Rich (which takes about half
    a millisecond a line), in the same styles as escape codes on a colour terminal."""
    if len(lines) > RICH_TABLE_LIMIT:
        write_lines(console, lines)
        return
    for line in lines:
        console.print(styled(line), soft_wrap=True)


def write_lines(console: Console, lines: list[Line]) -> None:
    """``lines`` straight to the console's file: plain text, or with each role's style as
    SGR escape codes where the console shows colour; control characters in the text are
    escaped as :class:`SafeConsole` escapes them."""
    if console.no_color or console.color_system is None or not console.is_terminal:
        texts = [printable(plain(line)) for line in lines]
    else:
        codes: dict[str, tuple[str, str]] = {}
        for role, style in STYLES.items():
            before, _, after = (
                Style.parse(style).render("\0", color_system=ColorSystem.STANDARD).partition("\0")
            )
            codes[role] = (before, after)
        none = ("", "")
        out = []
        for line in lines:
            parts = []
            for part, part_role in line:
                before, after = codes.get(part_role or "", none)
                part = printable(part)
                parts.append(f"{before}{part}{after}" if before else part)
            out.append("".join(parts))
        texts = out
    write_text(console.file, texts)


def print_table(console: Console, table: LayoutTable) -> None:
    rule = "─" if (console.encoding or "").lower().startswith("utf") else "-"
    print_lines(console, table_lines(table, console.width, rule=rule))


def print_wrapped(console: Console, text: str, role: str | None = None, hang: str = "") -> None:
    print_lines(console, [[(t, role)] for t in wrap_words(text, console.width, hang)])


def render_inspect(report: InspectReport, console: Console) -> None:
    print_lines(console, label_lines(header_rows(report), console.width))
    for note in (report.note, report.backend_note):
        if note:
            print_wrapped(console, f"note: {note}", "warning", "  ")
    console.print()

    if report.tree is not None:
        levels = _tree_levels(console.width)
        if len(report.variables) > RICH_TABLE_LIMIT:
            lines, cut = tree_lines(report.tree, levels, console.width, _tree_guides(console))
        else:
            tree, cut = _rich_tree(report.tree, levels, console.width)
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
        if len(report.variables) > RICH_TABLE_LIMIT:
            write_lines(console, lines)
        else:
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
        print_table(console, stats_table(report))
        return
    wide = console.width >= KEY_COLUMN_MIN_WIDTH
    print_table(console, variables_table(report, wide, plain_text=False))


_TREE_INDENT = 4  # columns Rich's tree guides take per level
_TREE_LABEL_ROOM = 40  # columns left for the deepest labels shown


def _tree_levels(width: int) -> int:
    """How many levels of tree fit ``width`` columns with room left for the labels."""
    return max(8, (width - _TREE_LABEL_ROOM) // _TREE_INDENT)


def _tree_guides(console: Console) -> tuple[str, str, str, str]:
    """The guides Rich's tree draws: (space, continuing, branch, last branch)."""
    if (console.encoding or "").lower().startswith("utf"):
        return ("    ", "│   ", "├── ", "└── ")
    return ("    ", "|   ", "+-- ", "`-- ")


def _rich_tree(node: TreeNode, levels: int, width: int = 200) -> tuple[Tree, bool]:
    """The tree as Rich's, at most ``levels`` deep (and whether that cut it), built without
    recursion; the report's own tree is capped too (``inspection.TREE_DEPTH``), so Rich's
    rendering never goes thousands of levels deep."""
    tree = Tree(Text("(root)", style="bold"))
    stack: list[tuple[Tree, TreeNode, int]] = [(tree, node, 0)]
    cut = False
    while stack:
        branch, parent, depth = stack.pop()
        for child in parent.children:
            label = Text(printable(child.name), style="bold" if child.children else "")
            room = max(width - _TREE_INDENT * (depth + 1), 24)
            if child.alias_of is not None:
                if len(child.name) + 4 + len(child.alias_of) <= room:
                    label.append(f"  -> {child.alias_of}", style="dim")
                else:  # an alias's path folds after a ".", never inside a name
                    label.append("  ->", style="dim")
                    for line in fold_path(printable(child.alias_of), max(room - 2, 20)):
                        label.append(f"\n  {line}", style="dim")
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


def render_restore(
    report: RestoreReport,
    console: Console,
    partial_hint: bool = True,
    warnings: Sequence[CaughtWarning] = (),
) -> None:
    """The report's words and rows (:mod:`ckptctl.summary`) laid out for the console's width,
    in colour; ``warnings`` caught while ckptctl ran the model, one dim line each."""
    print_lines(console, label_lines(restore_header(report), console.width))
    render_warnings(console, f"while running {report.model.rpartition(':')[2]}", warnings)
    console.print()
    for table in restore_tables(report):
        print_table(console, table)
        for note in table.footnotes:
            print_wrapped(console, note, "dim")
        console.print()
    _render_checks(report, console, partial_hint)


def render_warnings(console: Console, when: str, warnings: Sequence[CaughtWarning]) -> None:
    """One dim line per warning (``keras UserWarning while running Net: ...``), cut to the
    width on a terminal (the whole text is in --json); off one (a CI log, a file), whole,
    wrapped to the width, since a log is read once and after the fact."""
    for w in warnings:
        line = f"{w.origin} {w.category} {when}: {w.message}"
        line = " ".join(line.split())
        if not console.is_terminal:
            for part in wrap_words(line, console.width, "  "):
                console.print(Text(part, style="dim"), soft_wrap=True)
            continue
        if len(line) > console.width:
            line = line[: console.width - 1] + "…"
        console.print(Text(line, style="dim"), soft_wrap=True)


_MARK_STYLES: dict[Status, str] = {"ok": "bold green", "fail": "bold red", "skipped": "dim"}


def _render_checks(report: RestoreReport, console: Console, partial_hint: bool) -> None:
    checks = restore_checks(report)
    name_width = max(len(c.name) for c in checks)
    indent = " " * (len(MARKS["ok"]) + 1 + name_width + 1)
    for check in checks:
        text_style = "dim" if check.status == "skipped" else ""
        lines = wrap_words(check.text, max(console.width - len(indent), 20))
        console.print(
            Text.assemble(
                (MARKS[check.status], _MARK_STYLES.get(check.status, "")),
                " ",
                (check.name.ljust(name_width), "bold"),
                " ",
                (lines[0], text_style),
            ),
            soft_wrap=True,
        )
        for line in lines[1:]:
            console.print(Text(indent + line, style=text_style), soft_wrap=True)
    console.print()
    verdict = restore_verdict(report, partial_hint)
    print_wrapped(console, verdict.text, "ok" if verdict.ok else "fail")
    if verdict.suggestion:
        print_wrapped(console, verdict.suggestion)


def render_migrate(
    report: MigrateReport, console: Console, warnings: Sequence[CaughtWarning] = ()
) -> None:
    if report.restore is not None:
        render_restore(report.restore, console, partial_hint=False, warnings=warnings)
        console.print()
    if report.ok:
        what = f"{plural(report.values, 'value')}"
        if report.renamed:
            renamed = [r for r in report.renamed if r.rule]
            rows: list[list[Cell]] = [
                list(row) for row in fold_rows([[r.key, r.new_key, r.rule or ""] for r in renamed])
            ]
            table = LayoutTable("Renamed", ["key", "new key", "by"], rows, kinds=("path",) * 3)
            print_table(console, table)
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

"""Fitting text into columns of a given width, for every table ckptctl prints.

Paths and keys are never cut inside a name. A table's first column (the path) is as wide as
the other columns leave room for; a path wider than that takes a line of its own across the
table, with the row's other cells on the next line. A path wider than the whole line, or one
in another column, is folded after a ``.`` or ``/`` (the next line indented), and only a single
name wider than the line is elided in the middle with ``…`` (the full text is in ``--json``).
Numbers with their units (``2.5 KiB``, ``[3, 3, 3, 64]``, ``32,768/134,217,728``) are never
broken. When the columns still cannot all fit, the ones a table marks as least needed are left
out first, and a line says which; the columns that carry the verdict are never left out.

The Rich renderers (:mod:`ckptctl.cli.render`, :mod:`ckptctl.cli.render_diff`), the plain
tables (:mod:`ckptctl.cli.plain`, :func:`ckptctl.summary.restore_text`) all lay out through
here, so a table folds the same way in a terminal, in a pytest failure and in a CI log. Nothing
here imports typer, rich or numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

ELLIPSIS = "…"
INDENT = 2
"""How much deeper the continuation lines of a folded path start."""
MIN_FLEX_WIDTH = 20
"""The narrowest a path or text column is made before columns are left out."""

CellKind = Literal["path", "text", "fixed"]
"""``path``: folds after ``.``, ``/`` and spaces; ``text``: wraps at spaces (long words fold
as paths); ``fixed``: numbers, shapes, dtypes: never broken."""

_TOKEN = re.compile(r"[^./ ]*[./ ]+|[^./ ]+$")

# C0 and C1 controls, DEL, Unicode line and paragraph separators, and the bidirectional
# overrides and isolates that make text display in another order than it is stored.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_KEEP_NL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    ch = match.group()
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe to print on a terminal: control characters (an escape sequence from a
    crafted checkpoint's names, a NUL, a carriage return) shown as ``\\x1b``, ``\\x00``,
    ``\\r``, so nothing in a name can move the cursor, clear the screen or fake a line. With
    ``keep_newlines``, ``\\n`` is left alone (for text made of several lines). JSON output
    keeps the real names."""
    if text.isprintable():  # the usual case, checked in C: no control or format character
        return text
    pattern = _UNPRINTABLE_KEEP_NL if keep_newlines else _UNPRINTABLE
    return text if pattern.search(text) is None else pattern.sub(_escaped, text)


def printable_texts(texts: list[str]) -> list[str]:
    """``texts``, each :func:`printable`: checked at once (one join, in C), the usual case
    of a big table's column."""
    return texts if "".join(texts).isprintable() else [printable(t) for t in texts]


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``…``."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head = keep // 2
    tail = keep - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def fold_path(text: str, width: int) -> list[str]:
    """``text`` (a path, key or file name) in lines of at most ``width``, broken only after a
    ``.``, ``/`` or space; continuation lines start ``INDENT`` deeper than the first. A name
    that cannot fit on a line of its own is elided in the middle."""
    if len(text) <= width:
        return [text]
    width = max(width, INDENT + 4)
    lead = len(text) - len(text.lstrip(" "))
    indent = " " * min(lead + INDENT, width // 2)
    tokens = _TOKEN.findall(text[lead:])
    lines: list[str] = []
    line = text[:lead]
    for token in tokens:
        if len(line) + len(token.rstrip(" ")) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip(" "))
            line = indent
        room = width - len(line)
        stem = token.rstrip(" ")
        line += elide(stem, room) + token[len(stem) :]
    if line.strip():
        lines.append(line.rstrip(" "))
    return lines


def wrap_words(text: str, width: int, hang: str = "") -> list[str]:
    """``text`` wrapped at spaces into lines of at most ``width``, each paragraph (split at
    newlines) on lines of its own; a paragraph's lines after its first start with ``hang``
    (after the paragraph's own indentation). A word too long for a line (a path) is folded as
    :func:`fold_path` folds it."""
    width = max(width, len(hang) + 8)
    out: list[str] = []
    for paragraph in text.split("\n"):
        lead = paragraph[: len(paragraph) - len(paragraph.lstrip(" "))]
        line: str | None = None
        for word in paragraph.split():
            if line is None:
                candidate = lead + word
            elif len(line) + 1 + len(word) <= width:
                line += " " + word
                continue
            else:
                out.append(line)
                candidate = lead + hang + word
            if len(candidate) > width:
                pieces = fold_path(candidate, width)
                out += pieces[:-1]
                candidate = pieces[-1]
            line = candidate
        out.append(line or "")
    return out


def fold(text: str, kind: CellKind, width: int) -> list[str]:
    """One line of a cell in a column ``width`` wide, as :data:`CellKind` says."""
    if kind == "fixed" or len(text) <= width:
        return [text]
    return fold_path(text, width) if kind == "path" else wrap_words(text, width, "  ")


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class ColumnSpec:
    """What fitting needs to know of a column.

    ``natural``: its widest cell (or header); ``minimum``: the narrowest it may be made
    (``natural`` for a fixed column); ``drop``: 0 if it must stay, else its rank among the
    columns that may be left out when nothing else helps (1 is left out first).
    """

    natural: int
    minimum: int
    flexible: bool
    drop: int = 0


def column_spec(
    header: str,
    widths: Iterable[int],
    kind: CellKind,
    drop: int = 0,
    min_width: int = MIN_FLEX_WIDTH,
) -> ColumnSpec:
    """A column headed ``header`` whose cells' lines are ``widths`` wide."""
    natural = max(len(header), max(widths, default=0))
    if kind == "fixed":
        return ColumnSpec(natural, natural, False, drop)
    return ColumnSpec(natural, min(natural, max(len(header), min_width)), True, drop)


def fit_widths(specs: Sequence[ColumnSpec], width: int, gap: int = 2) -> list[int | None]:
    """The width of each column so that the row fits ``width`` (``None``: left out).

    Flexible columns shrink first, down to their minimum; then columns are left out in their
    ``drop`` order; if the row is still too wide, flexible columns stay at their minimum.
    """
    kept = list(range(len(specs)))
    while True:
        fixed = sum(specs[i].natural for i in kept if not specs[i].flexible)
        room = width - fixed - gap * (len(kept) - 1)
        flex = [i for i in kept if specs[i].flexible]
        if sum(specs[i].minimum for i in flex) <= room or not _droppable(specs, kept):
            widths: list[int | None] = [None] * len(specs)
            for i in kept:
                widths[i] = specs[i].natural
            for i, w in _share(specs, flex, room).items():
                widths[i] = w
            return widths
        kept.remove(max(_droppable(specs, kept), key=lambda i: (-specs[i].drop, i)))


def _droppable(specs: Sequence[ColumnSpec], kept: list[int]) -> list[int]:
    return [i for i in kept if specs[i].drop > 0]


def _share(specs: Sequence[ColumnSpec], flex: list[int], room: int) -> dict[int, int]:
    """``room`` shared among the flexible columns: each gets at least its minimum and at most
    its natural width; what a narrow column does not need goes to the wider ones."""
    widths = {i: specs[i].minimum for i in flex}
    spare = room - sum(widths.values())
    open_ = [i for i in flex if widths[i] < specs[i].natural]
    while spare > 0 and open_:
        share = max(spare // len(open_), 1)
        for i in sorted(open_, key=lambda i: specs[i].natural):
            add = min(share, specs[i].natural - widths[i], spare)
            widths[i] += add
            spare -= add
        open_ = [i for i in open_ if widths[i] < specs[i].natural]
    return widths


# ---------------------------------------------------------------- numbers


def plural(n: int, word: str) -> str:
    """``1 value``, ``1,521 values``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def shape_str(shape: Sequence[int] | None) -> str:
    """``[20, 16]``; ``[]`` for a scalar, ``?`` when unknown."""
    if shape is None:
        return "?"
    return "[" + ", ".join(map(str, shape)) + "]"


def number_column(values: Sequence[float | None], missing: str = "-", digits: int = 3) -> list[str]:
    """``values`` in one format for the whole column, ``digits`` significant digits for the
    smallest: fixed-point with the same decimals (``0.01000``, ``0.00984``) while that stays
    short, else scientific (``1.84e+19``, ``2.50e-07``). Integers stay integers, zero is ``0``,
    infinities ``inf``, ``None`` is ``missing``."""
    return [f(x) for f in (number_format(values, missing, digits),) for x in values]


def number_format(
    values: Iterable[float | None], missing: str = "-", digits: int = 3
) -> Callable[[float | None], str]:
    """The formatter :func:`number_column` uses for ``values``."""
    finite = [abs(x) for x in values if x is not None and math.isfinite(x) and x != 0]
    integral = all(float(x).is_integer() for x in finite) and all(x < 1e15 for x in finite)
    decimals: int | None = None
    if finite and not integral:
        low, high = min(finite), max(finite)
        decimals = max(0, digits - 1 - math.floor(math.log10(low)))
        if decimals > 6 or len(f"{high:.{decimals}f}") > 9:
            decimals = None

    def fmt(x: float | None) -> str:
        if x is None:
            return missing
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        if integral:
            return f"{int(x)}"
        if decimals is not None:
            return f"{x:.{decimals}f}"
        return f"{x:.{digits - 1}e}"

    return fmt


# ---------------------------------------------------------------- tables

Role = str | None
"""What a piece of text is (``"dim"``, ``"bad"``, ``"header"``, ...): the Rich renderer gives
each role a style, plain text ignores them."""
Part = tuple[str, Role]
Line = list[Part]
"""A printed line: pieces of text with their roles."""
Cell = str | list[Part]
"""A cell: text (``\\n`` between lines), or lines each with its own role."""


class Columns(Sequence[Sequence[Cell]]):
    """A table's rows kept column by column, as a big table is made (100,000 values: a list
    per column, not a list per row); read as rows, each a tuple made when asked for. Laying
    out reads the columns themselves: a column's widths, its check for one-line text and
    the formatting of every row then run at C speed."""

    __slots__ = ("columns",)

    def __init__(self, columns: Sequence[Sequence[Cell]]) -> None:
        if len(set(map(len, columns))) > 1:
            raise ValueError("the columns of a table are of one length")
        self.columns = [list(c) for c in columns]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return list(zip(*(c[i] for c in self.columns), strict=True))
        return tuple(c[i] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[Cell, ...]]:
        return zip(*self.columns, strict=True)


@dataclass(frozen=True)
class Table:
    """A titled table of cells. ``notes[i]``, when set, is a line shown under row ``i``.

    How it folds: ``kinds`` per column (default: the first column a path, the others fixed);
    ``drop`` per column, 0 for a column that must stay, else the order in which columns may be
    left out on a narrow terminal (1 first); ``right``: columns aligned right. ``row_roles``
    per row (a whole row ``"bad"``), ``column_roles`` per column (``"dim"``); a blank line
    follows each row listed in ``sections``.
    """

    title: str
    headers: list[str]
    rows: Sequence[Sequence[Cell]]
    """Row by row, or :class:`Columns`."""
    notes: list[str | None] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    """Lines shown once under the table: why its entries are there."""
    kinds: Sequence[CellKind] = ()
    drop: Sequence[int] = ()
    right: Sequence[int] = ()
    row_roles: Sequence[Role] = ()
    column_roles: Sequence[Role] = ()
    sections: Sequence[int] = ()
    min_widths: Sequence[int] = ()

    def kind(self, column: int) -> CellKind:
        if column < len(self.kinds):
            return self.kinds[column]
        return "path" if column == 0 else "fixed"

    def note(self, row: int) -> str | None:
        return self.notes[row] if row < len(self.notes) else None


def cell_parts(cell: Cell, role: Role = None) -> list[Part]:
    """A cell's lines with their roles (``role`` for those without one)."""
    if isinstance(cell, str):
        return [(line, role) for line in cell.split("\n")]
    return [(text, r if r is not None else role) for text, r in cell]


@dataclass(frozen=True)
class Fitted:
    """A table laid out for a width: the columns kept, their widths, those left out."""

    columns: list[int]
    widths: list[int]
    dropped: list[str]
    one_line: dict[int, int] = field(default_factory=dict)
    """The columns whose every cell is one line of text, with the widest such line."""


def fit_table(table: Table, width: int, gap: int = 2) -> Fitted:
    """The columns of ``table`` kept at ``width``, and how wide each is. The first column is
    measured by its cells' first lines: the lines under them span the whole table."""
    specs = []
    firsts: list[int] = []
    one_line: dict[int, int] = {}
    columns = _columns(table.rows)
    for c, header in enumerate(table.headers):
        kind = table.kind(c)
        simple = _one_line_texts(table, c, columns[c] if columns else None)
        lines: Sequence[int]
        if simple is not None:
            lines = list(map(len, simple))
            one_line[c] = max(lines, default=0)
        elif c == 0:
            lines = [_first_width(row[0]) for row in table.rows]
        else:
            lines = [_cell_width(row[c]) for row in table.rows]
        if c == 0:
            firsts = lines
        drop = table.drop[c] if c < len(table.drop) else 0
        minimum = table.min_widths[c] if c < len(table.min_widths) else MIN_FLEX_WIDTH
        specs.append(column_spec(header, lines, kind, drop, minimum))
    widths = fit_widths(specs, width, gap)
    first = widths[0]
    if first is not None and specs[0].flexible:
        # As wide as the paths that fit it: the wider ones take lines of their own anyway.
        fitting = (n for n in firsts if n <= first)
        compact = max(len(table.headers[0]), max(fitting, default=0))
        widths[0], spare = compact, first - compact
        for c, spec in enumerate(specs[1:], 1):  # what it frees goes to the other paths
            w = widths[c]
            if w is not None and spec.flexible and spare > 0:
                add = min(spare, spec.natural - w)
                widths[c] = w + add
                spare -= add
    kept = [c for c, w in enumerate(widths) if w is not None]
    return Fitted(
        kept,
        [w for w in widths if w is not None],
        [table.headers[c] for c, w in enumerate(widths) if w is None],
        one_line,
    )


def _columns(rows: Sequence[Sequence[Cell]]) -> Sequence[Sequence[Cell]] | None:
    """The cells column by column: kept so (:class:`Columns`), or in one pass when the rows
    are all of one length (the usual case); else None."""
    if isinstance(rows, Columns):
        return rows.columns
    return list(zip(*rows, strict=True)) if len(set(map(len, rows))) == 1 else None


def _one_line_texts(
    table: Table, column: int, cells: Sequence[Cell] | None = None
) -> Sequence[str] | None:
    """The cells of ``column`` (``cells``, where the caller has them) when every one is a
    single line of text (the usual case, and checked at C speed), else None."""
    if cells is None:
        cells = [row[column] for row in table.rows]
    if cells and set(map(type, cells)) != {str}:
        return None
    texts = cast(Sequence[str], cells)
    return None if "\n" in "".join(texts) else texts


def _first_width(cell: Cell) -> int:
    if isinstance(cell, str):
        return len(cell) if "\n" not in cell else len(cell.split("\n", 1)[0])
    return len(cell[0][0]) if cell else 0


def _cell_width(cell: Cell) -> int:
    if isinstance(cell, str):
        return len(cell) if "\n" not in cell else max(len(x) for x in cell.split("\n"))
    return max((len(text) for text, _ in cell), default=0)


def table_lines(
    table: Table,
    width: int,
    *,
    rule: str = "-",
    title: bool = True,
    gap: int = 2,
    full_text: str = "--json has every field",
    styled: bool = True,
) -> list[Line]:
    """The table as lines no wider than ``width`` where it can be: title, headers, a rule
    under each column, the rows (notes under theirs), and a line naming the columns left
    out. Roles: ``title``, ``header``, ``rule``, ``note``, ``dropped``, and the table's own.

    A first cell (a path) wider than its column is not folded into it: it takes a line of its
    own across the table (folded at ``.`` only if wider than ``width``), and the row's other
    cells follow on the next line. The first cell's further lines (a slot's variable, a key)
    come under the row, across the table too.

    ``styled=False`` is for plain text: a row's cells then come as one piece, without the
    roles of their columns (rows keep theirs); :func:`text_lines` gives those as text."""
    laid_out = _laid_out(table, width, rule, title, gap, full_text, styled, as_text=False)
    return cast(list[Line], laid_out)


def text_lines(
    table: Table,
    width: int,
    *,
    rule: str = "-",
    title: bool = True,
    gap: int = 2,
    full_text: str = "--json has every field",
) -> list[str]:
    """:func:`table_lines` as plain text, each line :func:`plain`. The rows of a big table
    whose kept cells are each one printable line that fits its column (100,000 values) are
    formatted straight to text, a section at a time."""
    laid_out = _laid_out(table, width, rule, title, gap, full_text, styled=False, as_text=True)
    return [line if isinstance(line, str) else plain(line) for line in laid_out]


def _laid_out(
    table: Table,
    width: int,
    rule: str,
    title: bool,
    gap: int,
    full_text: str,
    styled: bool,
    as_text: bool,
) -> list[Line | str]:
    """:func:`table_lines`; with ``as_text``, the rows formatted in bulk come as printable text
    (the caller makes the other lines text)."""
    fitted = fit_table(table, width, gap)
    cols, widths = fitted.columns, fitted.widths
    space = " " * gap
    lines: list[Line | str] = []
    if title and table.title:
        lines += [[(t, "title")] for t in wrap_words(table.title, width)]

    def justify(text: str, c: int, w: int) -> str:
        return text.rjust(w) if c in table.right else text.ljust(w)

    def across(parts: list[Part], role: Role) -> list[Line]:
        return [
            [(line, r if r is not None else role)]
            for text, r in parts
            for line in fold(text, "path", width)
        ]

    column_roles = [table.column_roles[c] if c < len(table.column_roles) else None for c in cols]
    plain_columns = not (styled and any(column_roles))

    def lines_under(first: Cell, row_role: Role) -> list[Line]:
        """The lines of a first cell after its first (a slot's variable), across the table."""
        parts = cell_parts(first, column_roles[0])[1:]
        return [_trimmed(line) for line in across(parts, row_role)]

    # Columns whose every cell is one line of text that fits: a row needs no check there.
    # When every kept column is such (most big tables), each row is one format call.
    unchecked = [
        (c, w) for c, w in zip(cols, widths, strict=True) if fitted.one_line.get(c, w + 1) > w
    ]
    row_format = space.join(
        f"{{{i}:{'>' if c in table.right else '<'}{w}}}"
        for i, (c, w) in enumerate(zip(cols, widths, strict=True))
    )

    every_column = list(zip(cols, widths, strict=True))

    def quick(cells: Sequence[Cell], row_role: Role, checks: list[tuple[int, int]]) -> Line | None:
        """The row's one line when every cell is one line of text that fits its column (the
        usual case, thousands of times over), else None. Only the columns in ``checks`` are
        looked at: the others are known to fit."""
        for c, w in checks:
            cell = cells[c]
            if not isinstance(cell, str) or len(cell) > w or "\n" in cell:
                return None
        texts = [cells[c] for c in cols]
        if plain_columns:
            return [(row_format.format(*texts).rstrip(" "), row_role)]
        line: Line = []
        for i, (c, w, text, role) in enumerate(zip(cols, widths, texts, column_roles, strict=True)):
            if i:
                line.append((space, None))
            line.append((justify(text, c, w), role or row_role))  # type: ignore[arg-type]
        return _trimmed(line)

    def row_lines(
        cells: Sequence[Cell], row_role: Role, checks: list[tuple[int, int]] = unchecked
    ) -> list[Line]:
        one = quick(cells, row_role, checks)
        if one is not None:
            return [one]
        first = cells[0]
        if (
            cols
            and cols[0] == 0
            and not isinstance(first, str)
            and len(first) > 1
            and first[0][1] is None
        ):
            # A path with lines under it (a slot's variable): the row's one line, then those.
            one = quick([first[0][0], *cells[1:]], row_role, checks)
            if one is not None:
                return [one, *lines_under(first, row_role)]
        columns: list[list[Part]] = []
        before: list[Line] = []
        after: list[Line] = []
        for c, w in zip(cols, widths, strict=True):
            role = table.column_roles[c] if c < len(table.column_roles) else None
            parts = cell_parts(cells[c], role)
            if c == 0:
                head, under = parts[:1], parts[1:]
                after = across(under, row_role)
                if head and len(head[0][0]) > w:
                    before, head = across(head, row_role), []
                columns.append(head)
                continue
            folded: list[Part] = []
            for text, r in parts:
                folded += [(line, r) for line in fold(text, table.kind(c), w)]
            columns.append(folded)
        out: list[Line] = [_trimmed(line) for line in before]
        for k in range(max(len(p) for p in columns)):
            line: Line = []
            for i, (c, w) in enumerate(zip(cols, widths, strict=True)):
                text, r = columns[i][k] if k < len(columns[i]) else ("", None)
                if i:
                    line.append((space, None))
                line.append((justify(text, c, w), r if r is not None else row_role))
            out.append(_trimmed(line))
        return out + [_trimmed(line) for line in after]

    lines += [
        [(part, "header") for part, _ in line]
        for line in row_lines(list(table.headers), "header", every_column)
    ]
    lines.append(_trimmed([(space.join(rule * w for w in widths), "rule")]))
    # Every kept column one line of text that fits, no roles per column: each row is one
    # format call on the row itself (``{2:<9}``: the cell of column 2), without a check.
    bulk = (
        plain_columns
        and not unchecked
        and (" " * gap)
        .join(
            f"{{{c}:{'>' if c in table.right else '<'}{w}}}"
            for c, w in zip(cols, widths, strict=True)
        )
        .format
    )
    # The same, where the first column's only multi-line cells are paths with lines under
    # them (a slot's variable) and every first line fits: each row one format call, and the
    # lines under it spanning the table.
    headed = (
        plain_columns
        and not bulk
        and bool(cols)
        and cols[0] == 0
        and unchecked == [(0, widths[0])]
        and _heads_fit(table.rows, widths[0])
    )
    roles = list(table.row_roles)[: len(table.rows)]
    roles += [None] * (len(table.rows) - len(roles))
    notes = table.notes
    breaks = set(table.sections) - {len(table.rows) - 1}  # a blank line after each
    append = lines.append
    columns = table.rows.columns if isinstance(table.rows, Columns) else None
    if bulk and not notes:  # the rows between blank lines: one comprehension each
        # As text, where asked for and the columns are kept: each row one ``%`` format of its
        # kept cells, without a Line per row.
        as_text = as_text and columns is not None and _printable(columns, cols)
        row_text = (" " * gap).join(
            f"%{'' if c in table.right else '-'}{w}s" for c, w in zip(cols, widths, strict=True)
        )
        start = 0
        for edge in [*sorted(breaks), len(table.rows) - 1]:
            stop = edge + 1
            if as_text:
                kept = (cast(Sequence[Sequence[Cell]], columns)[c][start:stop] for c in cols)
                lines += [(row_text % cells).rstrip(" ") for cells in zip(*kept, strict=True)]
            else:
                lines += [
                    [(bulk(*row).rstrip(" "), role)]
                    for row, role in zip(table.rows[start:stop], roles[start:stop], strict=True)
                ]
            if edge in breaks:
                append([])
            start = stop
    else:
        for i, (row, role) in enumerate(zip(table.rows, roles, strict=True)):
            if bulk:
                append([(bulk(*row).rstrip(" "), role)])
            elif headed:
                first = row[0]
                if isinstance(first, str):
                    append([(row_format.format(*(row[c] for c in cols)).rstrip(" "), role)])
                else:
                    texts = (first[0][0], *(row[c] for c in cols[1:]))
                    append([(row_format.format(*texts).rstrip(" "), role)])
                    lines += lines_under(first, role)
            else:
                lines += row_lines(row, role)
            if notes:
                note = table.note(i)
                if note:
                    lines += [[(t, "note")] for t in wrap_words("  " + note, width, "  ")]
            if i in breaks:
                append([])
    if fitted.dropped:
        left_out = ", ".join(fitted.dropped)
        text = f"(left out to fit {width} columns: {left_out}; {full_text})"
        lines += [[(t, "dropped")] for t in wrap_words(text, width)]
    return lines


def _heads_fit(rows: Sequence[Sequence[Cell]], width: int) -> bool:
    """Whether every first cell of ``rows`` is one line of text, or a path with lines under
    it, whose first line fits ``width`` (other lines span the table)."""
    for row in rows:
        first = row[0]
        if isinstance(first, str):
            text = first
        elif first and first[0][1] is None:
            text = first[0][0]
        else:
            return False
        if len(text) > width or "\n" in text:
            return False
    return True


def _printable(columns: Sequence[Sequence[Cell]], kept: Sequence[int]) -> bool:
    """Whether every cell of the ``kept`` columns (each known to be one line of text) is
    printable as it is: one check of their joined text, at C speed."""
    return all("".join(cast(Sequence[str], columns[c])).isprintable() for c in kept)


def _trimmed(line: Line) -> Line:
    """``line`` without the spaces at its end."""
    while line and not line[-1][0].rstrip(" "):
        line = line[:-1]
    if line:
        text, role = line[-1]
        line = [*line[:-1], (text.rstrip(" "), role)]
    return line


def plain(line: Line) -> str:
    """A laid-out line as text, safe to print (:func:`printable`)."""
    if len(line) == 1:
        return printable(line[0][0])
    return printable("".join(text for text, _ in line))


def label_lines(rows: Sequence[tuple[str, str]], width: int, gap: int = 2) -> list[Line]:
    """``Label  value`` lines, the values aligned and wrapped under themselves (paths folded
    at ``.`` and ``/``). Roles: ``label`` and ``value``."""
    if not rows:
        return []
    label_width = max(len(label) for label, _ in rows)
    indent = " " * (label_width + gap)
    out: list[Line] = []
    for label, value in rows:
        wrapped = wrap_words(value, max(width - len(indent), 20))
        out.append([(label.ljust(label_width), "label"), (" " * gap, None), (wrapped[0], "value")])
        out += [[(indent, None), (line, "value")] for line in wrapped[1:]]
    return [_trimmed(line) for line in out]

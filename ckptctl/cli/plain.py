"""Plain-text output without Rich: the parts every command shares (sizes, shapes, names),
`inspect`'s tables (values, statistics) as :class:`ckptctl.layout.Table`, and `inspect` of
thousands of values printed without Rich, which would take seconds to style them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, TextIO, cast

from ckptctl.layout import (
    Cell,
    CellKind,
    Columns,
    Line,
    Part,
    Table,
    fold_path,
    label_lines,
    number_format,
    plain,
    plural,
    printable,
    printable_texts,
    shape_str,
    text_lines,
    wrap_words,
)

if TYPE_CHECKING:
    from ckptctl.inspection import InspectReport, TreeNode, VariableInfo

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


def first_header(report: InspectReport) -> str:
    """The header of a value table's first column: ``object path`` where the file names its
    values by object (a TF2 checkpoint's graph, a Keras file's layers), else ``key``."""
    return "object path" if report.naming in NAMED_BY_OBJECT else "key"


NAMED_BY_OBJECT = frozenset({"object-graph", "keras", "keras-legacy"})


def second_column(report: InspectReport, wide: bool) -> tuple[str, str] | None:
    """The column after the path, as (header, the :class:`VariableInfo` field it shows):
    Keras's layer names for a Keras file (whose keys are the paths), TensorFlow's checkpoint
    keys on a wide terminal, else none."""
    if report.naming in ("keras", "keras-legacy"):
        return "layer", "layer_name"
    if wide and report.naming == "object-graph":
        return "checkpoint key", "key"
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
        import shutil

        return shutil.get_terminal_size().columns
    return int(os.environ.get("COLUMNS", "250") or 250)


def styled_stdout() -> bool:
    """Whether Rich would style stdout: a terminal, or ``TTY_COMPATIBLE=1`` or a non-empty
    ``FORCE_COLOR``, as Rich reads them (``TTY_COMPATIBLE=0`` turns it off). Where it would
    not (a pipe, a CI log, a file), :func:`print_plain_inspect` prints the same text without
    importing Rich."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return sys.stdout.isatty()
    except ValueError:  # closed
        return False


def rule_for(stream: TextIO) -> str:
    """The character a table's rule is drawn with on ``stream``: ``─`` where it takes UTF-8
    (as Rich decides), else ``-``."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower()
    return "─" if encoding.startswith("utf") else "-"


SINGLE_FILE_SOURCES = frozenset({"weights-h5", "keras-archive", "h5", "checkpoint-v1"})
"""Formats whose values are in one file: their header names no shard count."""


def header_rows(report: InspectReport) -> list[tuple[str, str]]:
    """`inspect`'s header, as (label, text) rows: the file, its format and size, what it
    holds, and what it says of itself."""
    kind = FORMAT_NAMES.get((report.naming, report.source), report.naming)
    if report.source not in SINGLE_FILE_SOURCES or report.shards != 1:
        kind += f", {plural(report.shards, 'shard')}"
    values = f"{plural(report.total_values, 'value')}, {plural(report.total_params, 'parameter')}"
    header = [
        ("Checkpoint", report.checkpoint),
        ("Format", f"{kind}, {human_bytes(report.total_bytes)} on disk"),
        ("Contents", values),
    ]
    if report.save_counter is not None:
        header.append(("save_counter", str(report.save_counter)))
    if keras_line(report):
        header.append(("Keras", keras_line(report) or ""))
    if report.other_checkpoints:
        header.append(("Also here", ", ".join(report.other_checkpoints)))
    return header


def print_plain_inspect(report: InspectReport, out: TextIO | None = None) -> None:
    """`inspect`'s header and value table (or statistics table) as aligned plain text, as
    wide as the terminal: the text the Rich renderer prints off a terminal. Past
    :data:`RICH_TABLE_LIMIT` values, the lines under a value that only a terminal's table
    shows (a Keras 2 slot's full name, a key that is not its path's) are left out."""
    out = out if out is not None else sys.stdout
    width = output_width()
    lines = [plain(line) for line in label_lines(header_rows(report), width)]
    for note in (report.note, report.backend_note):
        if note:
            lines += [printable(t) for t in wrap_words(f"note: {note}", width, "  ")]
    lines.append("")
    if report.filter is not None:
        lines.append(
            printable(
                f"{len(report.variables)} of {report.total_values} values match {report.filter!r}"
            )
        )
    if report.variables:
        if report.stats:
            table = stats_table(report)
        else:
            many = len(report.variables) > RICH_TABLE_LIMIT
            table = variables_table(report, width >= KEY_COLUMN_MIN_WIDTH, plain_text=many)
        lines += text_lines(table, width, rule=rule_for(out))
    write_text(out, lines)  # every line printable (layout's plain(), above)


WRITE_LINES = 4096
"""Lines joined into one write: the text of 100,000 rows joined whole is 13 MB, and a
second copy with its last newline, at the listing's peak of memory."""


def write_text(out: IO[str], lines: Sequence[str]) -> None:
    """``lines`` to ``out``, each ending in a newline, a few thousand to a write; flushed."""
    for start in range(0, len(lines), WRITE_LINES):
        out.write("\n".join(lines[start : start + WRITE_LINES]) + "\n")
    out.flush()


_SPARKS = " ▁▂▃▄▅▆▇█"


def _sparkline(counts: list[int]) -> str:
    top = max(counts) if counts else 0
    if not top:
        return ""
    return "".join(_SPARKS[0 if c == 0 else max(1, round(8 * c / top))] for c in counts)


STATS_COLUMNS = ("min", "max", "mean", "std")


def _stats_column(values: list[float | None], integer: list[bool]) -> list[str]:
    """One statistic of every value: a whole number of an integer value (a step counter's
    ``1000``) as an integer; the rest in the one format of :func:`number_format`."""
    whole = [
        is_int and x is not None and abs(x) < 1e15 and float(x).is_integer()
        for x, is_int in zip(values, integer, strict=True)
    ]
    fmt = number_format([x for x, w in zip(values, whole, strict=True) if not w], "")
    return [
        str(int(x)) if w and x is not None else fmt(x) for x, w in zip(values, whole, strict=True)
    ]


def stats_table(report: InspectReport) -> Table:
    """Statistics of every shown value, each column in one number format; values holding
    NaN or Inf stand out in red. The NaN/Inf column (what --fail-on-nonfinite checks) always
    stays; on a narrow terminal zeros, std and mean are left out first."""
    integer = [v.dtype.startswith(("int", "uint")) or v.dtype == "bool" for v in report.variables]
    numbers = {
        name: _stats_column(
            [getattr(v.stats, name) if v.stats else None for v in report.variables], integer
        )
        for name in STATS_COLUMNS
    }
    rows: list[list[Cell]] = []
    roles: list[str | None] = []
    for i, v in enumerate(report.variables):
        st = v.stats
        first: list[Part] = [(printable(v.path or v.key), None)]
        if v.slot_of and v.path is not None:  # as inspect's listing shows it
            first.append((f"   {printable(v.slot_name or '')} of {printable(v.slot_of)}", "slot"))
        if st is not None and st.hist:
            first.append(("  " + _sparkline(st.hist), "slot"))
        # One-line text cells where there is no style to carry: the layout's quick path.
        head: Cell = first if len(first) > 1 else first[0][0]
        if st is None:
            rows.append([head, "", "", "", "", "", ""])
            roles.append(None)
            continue
        bad = st.nonfinite > 0
        zeros = "" if st.zeros is None else f"{st.zeros:.0%}"
        nonfinite = (
            f"{st.nan}/{st.inf}" if (st.nan or st.inf) else ("0" if st.mean is not None else "")
        )
        cells: list[Cell] = [head, *(numbers[name][i] for name in STATS_COLUMNS), zeros]
        cells.append([(nonfinite, "worst")] if bad else nonfinite)
        rows.append(cells)
        roles.append("bad" if bad else None)
    return Table(
        "",
        [first_header(report), *STATS_COLUMNS, "zeros", "NaN/Inf"],
        rows,
        drop=(0, 4, 5, 3, 2, 1, 0),
        right=(1, 2, 3, 4, 5, 6),
        row_roles=roles,
    )


def variables_table(report: InspectReport, wide: bool, plain_text: bool) -> Table:
    """One table, one section per owner (the root's children), so columns line up.

    On a narrow terminal ``elements`` is left out first (the shape says it), then ``bytes``.
    Made column by column (:class:`ckptctl.layout.Columns`): 100,000 values are six lists.
    """
    second = second_column(report, wide)
    with_key = second is not None
    groups: dict[str, list[VariableInfo]] = {}
    for v in report.variables:
        name = v.owner or "(root)"
        group = groups.get(name)
        if group is None:
            groups[name] = [v]
        else:
            group.append(v)
    owners = {o.name: o for o in report.owners}
    headers = [first_header(report)]
    if second is not None:
        headers.append(second[0])
    headers += ["dtype", "shape", "elements", "bytes"]
    n = len(headers)
    columns: list[list[Cell]] = [[] for _ in headers]
    roles: list[str | None] = []
    sections: list[int] = []
    texts: _Texts = ({}, {}, {})
    for name, variables in groups.items():
        headed = report.naming in NAMED_BY_OBJECT and len(groups) > 1 and len(variables) > 1
        if headed:
            if roles:
                sections.append(len(roles) - 1)
            o = owners[name]
            title = f"{printable(name)} ({plural(o.values, 'value')})"
            totals = [f"{o.params:,}", human_bytes(o.nbytes)]
            for column, cell in zip(columns, [title, *([""] * (n - 3)), *totals], strict=True):
                column.append(cell)
            roles.append("group")
        for column, cells in zip(
            columns, _value_columns(variables, headed, second, plain_text, texts), strict=True
        ):
            column += cells
        roles += [None] * len(variables)
        if headed:
            sections.append(len(roles) - 1)
    fixed: tuple[CellKind, ...] = ("fixed",) * 4
    return Table(
        "",
        headers,
        Columns(columns),
        kinds=("path", "path", *fixed) if with_key else ("path", *fixed),
        drop=(0, *([3] if with_key else []), 0, 0, 1, 2),
        right=(n - 2, n - 1),
        row_roles=roles,
        column_roles=(None, "dim") if with_key else (),
        sections=sections,
        min_widths=(24,),
    )


def _value_columns(
    variables: list[VariableInfo],
    indent: bool,
    second: tuple[str, str] | None,
    plain_text: bool,
    texts: _Texts,
) -> list[Sequence[Cell]]:
    """The cells of ``variables``' rows, column by column: made once per value (100,000
    times for some listings), so each column is one pass, the usual first cell (a path
    alone) takes no list of parts, and each shape, count and size is written once."""
    firsts: list[Cell] = list(printable_texts([v.path or v.key for v in variables]))
    if indent:
        firsts = ["  " + t for t in firsts]  # type: ignore[operator]
    # The rows whose path has lines under it (a slot's variable, a key of its own).
    under = (
        [i for i, v in enumerate(variables) if v.slot_of and v.path is not None]
        if plain_text
        else range(len(variables))
    )
    for i in under:
        parts = _parts_under(variables[i], second, plain_text)
        if parts:
            firsts[i] = [(cast(str, firsts[i]), None), *parts]
    shapes, counts, sizes = texts
    shape_keys = [tuple(v.shape) for v in variables]
    for shape in set(shape_keys) - shapes.keys():
        shapes[shape] = shape_str(shape)
    numbers = [v.num_elements for v in variables]
    for number in set(numbers) - counts.keys():
        counts[number] = f"{number:,}"
    nbytes = [v.nbytes for v in variables]
    for size in set(nbytes) - sizes.keys():
        sizes[size] = human_bytes(size)
    columns: list[Sequence[Cell]] = [firsts]
    if second is not None:
        columns.append(printable_texts([getattr(v, second[1]) or "" for v in variables]))
    columns.append([v.dtype for v in variables])
    columns.append(list(map(shapes.__getitem__, shape_keys)))
    columns.append(list(map(counts.__getitem__, numbers)))
    columns.append(list(map(sizes.__getitem__, nbytes)))
    return columns


def _parts_under(v: VariableInfo, second: tuple[str, str] | None, plain_text: bool) -> list[Part]:
    """What a value's path cell shows under the path: the variable an optimizer slot is of;
    in a terminal, also the Keras 3 slot's full name and a key that is not the path's."""
    path = v.path
    if path is None:
        return []
    parts: list[Part] = []
    if v.slot_of:
        parts.append((f"   {printable(v.slot_name or '')} of {printable(v.slot_of)}", "slot"))
    elif v.full_name and _is_slot_like(v) and not plain_text:
        parts.append((f"   {printable(v.full_name)}", "slot"))
    if second is None and v.key != _standard_key(path) and not plain_text:
        parts.append((f"   key: {printable(v.key)}", "dim"))
    return parts


_Texts = tuple[dict[tuple[int, ...], str], dict[int, str], dict[int | None, str]]
"""Shapes, element counts and sizes as shown: a few of each recur thousands of times."""


def _is_slot_like(v: VariableInfo) -> bool:
    """Keras 3 optimizer variables (``optimizer._variables.N``), named by their full_name."""
    return v.path is not None and "._variables." in f".{v.path}"


def _standard_key(path: str) -> str:
    return path.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE"


TREE_INDENT = 4
"""Columns the tree's guides take per level."""


def tree_lines(
    root: TreeNode,
    levels: int,
    width: int,
    guides: tuple[str, str, str, str] = ("    ", "│   ", "├── ", "└── "),
) -> tuple[list[Line], bool]:
    """The tree drawn as Rich draws it (``guides``: space, continuing, branch, last branch),
    at most ``levels`` deep, as lines with roles, and whether ``levels`` cut it. Iterative and
    linear: a tree of 100,000 values takes a fraction of a second, where Rich takes a minute.
    Names stay whole; an alias's path folds after a ``.``."""
    space, going, branch, last_branch = guides
    lines: list[Line] = [[("(root)", "group")]]
    cut = False
    # (node, the guides before it, whether it is the last child, depth)
    stack: list[tuple[TreeNode, str, bool, int]] = [
        (child, "", i == len(root.children) - 1, 0)
        for i, child in reversed(list(enumerate(root.children)))
    ]
    while stack:
        node, lead, last, depth = stack.pop()
        first = lead + (last_branch if last else branch)
        under = lead + (space if last else going)
        line: Line = [(first, None), (node.name, "group" if node.children else None)]
        more: list[str] = []
        room = max(width - TREE_INDENT * (depth + 1), 24)
        if node.alias_of is not None:
            if len(node.name) + 4 + len(node.alias_of) <= room:
                line.append((f"  -> {node.alias_of}", "dim"))
            else:
                line.append(("  ->", "dim"))
                more = fold_path(node.alias_of, max(room - 2, 20))
        elif node.key is not None:
            line.append((f"  {node.dtype} {shape_str(node.shape)}", "slot"))
        hidden = node.truncated or (bool(node.children) and depth + 1 >= levels)
        if hidden:
            cut = cut or not node.truncated
        if hidden and not more:
            line.append(("  ... (deeper levels not shown)", "dim"))
        lines.append(line)
        for i, text in enumerate(more):
            tail = "  ... (deeper levels not shown)" if hidden and i == len(more) - 1 else ""
            lines.append([(under, None), (f"  {text}{tail}", "dim")])
        if not hidden:
            n = len(node.children)
            for i in range(n - 1, -1, -1):
                stack.append((node.children[i], under, i == n - 1, depth + 1))
    return lines, cut

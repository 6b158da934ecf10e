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

from ckptctl.cli.fold import fold_rows
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
from ckptctl.objgraph import ROOT

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
    console.print()

    if report.tree is not None:
        console.print(_rich_tree(report.tree))
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


def _rich_tree(node: TreeNode) -> Tree:
    tree = Tree(Text("(root)", style="bold"))
    _add_tree_children(tree, node)
    return tree


def _add_tree_children(branch: Tree, node: TreeNode) -> None:
    for child in node.children:
        label = Text(child.name, style="bold" if child.children else "")
        if child.alias_of is not None:
            label.append(f"  -> {child.alias_of}", style="dim")
        elif child.key is not None:
            label.append(f"  {child.dtype} {shape_str(child.shape)}", style="cyan")
        sub = branch.add(label)
        _add_tree_children(sub, child)


def _restore_summary(report: RestoreReport) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("Checkpoint", escape(report.checkpoint))
    grid.add_row("Model", escape(report.model))
    if report.format == "object-graph":
        grid.add_row("Key", "(root)" if report.key == ROOT else escape(report.key))
    shapes = ", ".join(shape_str(s) for s in report.input_shapes)
    grid.add_row("Inputs", f"{shapes} {report.input_dtype}")
    matched = plural(report.matched, "value")
    if report.not_requested:
        matched += f"; {len(report.not_requested)} not requested"
        if report.optimizer is None and any(
            k.startswith("optimizer/") or "/_iterations/" in k for k in report.not_requested
        ):
            matched += " (optimizer state: add --optimizer to restore it)"
    if report.optimizer_key is not None and report.optimizer_key != "optimizer":
        matched += f"; optimizer from {report.optimizer_key}"
    if report.maps:
        matched += f"; {len(report.mapped)} placed by --map"
    grid.add_row("Matched", matched)
    return grid


def render_restore(report: RestoreReport, console: Console, partial_hint: bool = True) -> None:
    """The restore report; ``partial_hint`` names ``--partial``, which only ``restore`` has."""
    console.print(_restore_summary(report))
    console.print()
    if report.mapped:
        rows = [[m.path, m.model_path, m.rule] for m in report.mapped]
        console.print(
            _problem_table(
                "Mapped: placed by --map",
                ["checkpoint path", "model path", "by"],
                rows,
            )
        )
    if report.unused:
        rows = [
            [
                _accepted(u.path or u.key, u.accepted),
                shape_str(u.shape),
                u.dtype,
                u.suggestion or "",
            ]
            for u in report.unused
        ]
        console.print(
            _problem_table(
                "Unused: in the checkpoint, taken by nothing in the model",
                [
                    "checkpoint path" if report.format == "object-graph" else "checkpoint key",
                    "shape",
                    "dtype",
                    "likely match in the model",
                ],
                rows,
            )
        )
        _print_reasons(console, [u.reason for u in report.unused])
    if report.missing:
        rows = [
            [_accepted(m.path, m.accepted), shape_str(m.shape), m.dtype, m.suggestion or ""]
            for m in report.missing
        ]
        console.print(
            _problem_table(
                "Missing: model variables the checkpoint has no value for",
                ["model path", "shape", "dtype", "likely match in the checkpoint"],
                rows,
            )
        )
        reasons: dict[str, int] = {}
        for m in report.missing:
            if m.reason:
                reasons[m.reason] = reasons.get(m.reason, 0) + 1
        _print_reasons(console, [m.reason for m in report.missing])
    if report.not_checkpointed:
        rows = [[n.path, shape_str(n.shape), n.dtype] for n in report.not_checkpointed]
        why = sorted({n.reason for n in report.not_checkpointed})
        console.print(
            _problem_table(
                f"Not checkpointed: {', '.join(why)} (never saved by tf.train.Checkpoint; "
                "not a failure)",
                ["model path", "shape", "dtype"],
                rows,
            )
        )
    if report.mismatched:
        rows = [
            [
                m.path,
                f"{shape_str(m.checkpoint_shape)} {m.checkpoint_dtype}",
                f"{shape_str(m.model_shape)} {m.model_dtype}",
            ]
            for m in report.mismatched
        ]
        mismatch_reasons = [m.reason for m in report.mismatched]
        table = _problem_table(
            "Mismatched: present on both sides, but they do not fit",
            ["path", "checkpoint", "model"],
            rows if not any(mismatch_reasons) else [],
        )
        if any(mismatch_reasons):
            for row, reason in zip(rows, mismatch_reasons, strict=True):
                table.add_row(*(escape(c) for c in row))
                if reason:
                    table.add_row(Text(f"  {reason}", style="dim"), "", "")
        console.print(table)
    if report.drifted:
        rows = [[d.group, d.saved, d.model] for d in report.drifted]
        console.print(
            _problem_table(
                "Layer-name drift: saved from one layer, would load into another",
                ["group in the file", "saved from", "would load into"],
                rows,
            )
        )
    _render_checks(report, console, partial_hint)


def _print_reasons(console: Console, reasons: list[str | None]) -> None:
    """Why entries of the table above are there, once per reason."""
    counts: dict[str, int] = {}
    for r in reasons:
        if r:
            counts[r] = counts.get(r, 0) + 1
    for note, n in counts.items():
        who = "All of them" if n == len(reasons) and n > 1 else f"{n} of them"
        if n == 1 and len(reasons) == 1:
            who = "It"
        console.print(Text(f"{who}: {note}.", style="dim"))
    if counts:
        console.print()


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


def _accepted(name: str, accepted: bool) -> str:
    return f"{name} (accepted)" if accepted else name


def _mark(ok: bool) -> Text:
    return Text("ok  ", style="bold green") if ok else Text("FAIL", style="bold red")


def _render_checks(report: RestoreReport, console: Console, partial_hint: bool) -> None:
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(style="bold", no_wrap=True)
    lines.add_column(overflow="fold")
    structure_ok = not report.problems
    counted = report.counts()
    accepted = counted["accepted"]
    if structure_ok and not accepted:
        lines.add_row(
            _mark(True), "structure", "every model variable has its value, nothing unused"
        )
    elif structure_ok:
        lines.add_row(
            _mark(True),
            "structure",
            f"all fits, apart from {plural(accepted, 'accepted leftover')}",
        )
    else:
        counts = [
            f"{counted[w]} {w}"
            for w in ("unused", "missing", "mismatched", "drifted")
            if counted[w]
        ]
        if accepted:
            counts.append(f"{accepted} accepted")
        lines.add_row(_mark(False), "structure", ", ".join(counts))
    v = report.values
    if report.stopped:
        lines.add_row(Text("--  ", style="dim"), "values", Text(report.stopped, style="dim"))
    elif v.differing:
        shown = ", ".join(v.differing[:5]) + (" ..." if len(v.differing) > 5 else "")
        lines.add_row(
            _mark(False),
            "values",
            f"{len(v.differing)} of {v.checked} differ from the checkpoint: {shown}",
        )
    else:
        lines.add_row(
            _mark(True), "values", f"{v.checked} restored, each equal to the checkpoint bit for bit"
        )
    o = report.outputs
    if o.ran:
        text = f"{o.batches} random batches, two restored instances: "
        text += "equal" if o.equal else f"differ (max |diff| {o.max_abs_diff:.3g})"
        if not o.finite:
            text += "; outputs contain NaN or Inf"
        if o.detail and not (o.equal and o.finite):
            text += f"\n{o.detail}"
        lines.add_row(_mark(o.equal and o.finite), "outputs", text)
    if o.golden is not None:
        g = o.golden
        text = f"{g.file}: " + ("equal" if g.equal else f"differ (max |diff| {g.max_abs_diff:.3g})")
        lines.add_row(_mark(g.equal), "golden", escape(text))
    if report.saved_golden:
        lines.add_row(Text("    "), "saved", escape(report.saved_golden))
    console.print(lines)
    console.print()
    if report.ok:
        console.print(Text("Restored and verified.", style="bold green"))
    elif report.problems and not report.partial:
        console.print(
            Text(
                "Not restored: the checkpoint does not fit the model; nothing was assigned.",
                style="bold red",
            )
        )
        if partial_hint and report.format != "keras":
            console.print(
                "--partial restores what fits; --allow-unused and --allow-missing "
                "accept leftovers you intend."
            )
        if report.suggested_maps and not report.maps and not report.mismatched:
            # Shown whatever was accepted: accepted entries never enter the suggestion.
            rules = " ".join(f"--map {escape(r)!r}" for r in report.suggested_maps)
            console.print(f"If the paths were renamed on purpose, restore with: {rules}")
    else:
        console.print(Text("Restore not verified: see the failed checks above.", style="bold red"))


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

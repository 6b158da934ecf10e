"""Restore and diff reports in words and rows: what ``ckptctl restore`` and ``ckptctl diff``
show, without the terminal.

The parts (:func:`restore_header`, :func:`restore_tables`, :func:`restore_checks`,
:func:`restore_verdict`; :func:`diff_header`, :func:`diff_notes`, :func:`diff_verdict`,
:func:`diff_tables`) are the words and the rows. The CLI lays them out in colour (through
:mod:`ckptctl.layout`, as Rich text), :func:`restore_text` as aligned plain text of a given
width, which is what :mod:`ckptctl.testing` puts in its ``AssertionError``, and
:mod:`ckptctl.markdown` as Markdown for CI summaries. Neither typer nor rich (nor numpy, nor
TensorFlow) is imported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ckptctl.fold import fold_rows
from ckptctl.layout import (
    Cell,
    CellKind,
    Columns,
    Table,
    number_column,
    printable,
    printable_texts,
    text_lines,
    wrap_words,
)
from ckptctl.layout import plural as plural
from ckptctl.layout import shape_str as shape_str
from ckptctl.names import natural_order
from ckptctl.objgraph import ROOT

if TYPE_CHECKING:
    from ckptctl.diffing import ChangedValue, DiffReport, OnlyIn, Renamed
    from ckptctl.restoration import RestoreReport

__all__ = [
    "MARKS",
    "Check",
    "Status",
    "Table",
    "Verdict",
    "diff_header",
    "diff_notes",
    "diff_tables",
    "diff_verdict",
    "plural",
    "restore_checks",
    "restore_header",
    "restore_tables",
    "restore_text",
    "restore_verdict",
    "shape_str",
]

Status = Literal["ok", "fail", "skipped", "info"]

MARKS: dict[Status, str] = {"ok": "ok  ", "fail": "FAIL", "skipped": "--  ", "info": "    "}
"""How each check's status is shown in front of it, four characters wide."""


@dataclass(frozen=True)
class Check:
    """One line of the checks: ``ok   values  4 restored, ...``. ``text`` may hold newlines."""

    status: Status
    name: str
    text: str


@dataclass(frozen=True)
class Verdict:
    """The last line (``Restored and verified.``), and a command line that would fix it."""

    ok: bool
    text: str
    suggestion: str | None = None


def restore_header(report: RestoreReport) -> list[tuple[str, str]]:
    """Label and value of each header line: checkpoint, model, key, inputs, what matched."""
    rows = [("Checkpoint", report.checkpoint), ("Model", report.model)]
    if report.naming == "object-graph":
        rows.append(("Key", "(root)" if report.root_child == ROOT else report.root_child))
    dtypes = report.input_dtypes
    if len(dtypes) == len(report.input_shapes) and len(set(dtypes)) > 1:
        # Each input its own dtype: each shape with its own.
        pairs = zip(report.input_shapes, dtypes, strict=True)
        inputs = ", ".join(f"{shape_str(s)} {t}" for s, t in pairs)
    else:
        inputs = f"{', '.join(shape_str(s) for s in report.input_shapes)} {report.input_dtype}"
    rows.append(("Inputs", inputs))
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
    rows.append(("Matched", matched))
    return rows


def _accepted(name: str, accepted: bool) -> str:
    return f"{name} (accepted)" if accepted else name


def restore_tables(report: RestoreReport) -> list[Table]:
    """Mapped, unused, missing and mismatched entries, each table only when it has rows.

    Rows that differ only in numbered path parts are folded (``layers.{0..11}.kernel``).
    """
    tables = []
    if report.mapped:
        rows = [[printable(m.path), printable(m.model_path), m.rule] for m in report.mapped]
        tables.append(
            Table(
                "Mapped: placed by --map",
                ["checkpoint path", "model path", "by"],
                _cells(fold_rows(rows)),
                kinds=("path", "path", "text"),
            )
        )
    if report.unused:
        rows = [
            [
                _accepted(printable(u.path or u.key), u.accepted),
                shape_str(u.shape),
                u.dtype,
                printable(u.suggestion or ""),
            ]
            for u in report.unused
        ]
        first = "checkpoint path" if report.naming == "object-graph" else "checkpoint key"
        tables.append(
            Table(
                "Unused: in the checkpoint, taken by nothing in the model",
                [first, "shape", "dtype", "likely match in the model"],
                _cells(fold_rows(rows)),
                footnotes=_reasons([u.reason for u in report.unused]),
                kinds=_LEFTOVER_KINDS,
                drop=_LEFTOVER_DROP,
            )
        )
    if report.missing:
        rows = [
            [
                _accepted(printable(m.path), m.accepted),
                shape_str(m.shape),
                m.dtype,
                printable(m.suggestion or ""),
            ]
            for m in report.missing
        ]
        tables.append(
            Table(
                "Missing: model variables the checkpoint has no value for",
                ["model path", "shape", "dtype", "likely match in the checkpoint"],
                _cells(fold_rows(rows)),
                footnotes=_reasons([m.reason for m in report.missing]),
                kinds=_LEFTOVER_KINDS,
                drop=_LEFTOVER_DROP,
            )
        )
    if report.not_checkpointed:
        unsaved = report.not_checkpointed
        why = sorted({n.reason for n in unsaved})
        tables.append(
            Table(
                f"Not checkpointed: {', '.join(why)} (never saved by tf.train.Checkpoint; "
                "not a failure)",
                ["model path", "shape", "dtype"],
                _cells(
                    fold_rows([[printable(n.path), shape_str(n.shape), n.dtype] for n in unsaved])
                ),
                drop=(0, 2, 1),
            )
        )
    if report.mismatched:
        rows = [
            [
                printable(m.path),
                f"{shape_str(m.checkpoint_shape)} {m.checkpoint_dtype}",
                f"{shape_str(m.model_shape)} {m.model_dtype}",
            ]
            for m in report.mismatched
        ]
        reasons = [m.reason for m in report.mismatched]
        title = "Mismatched: present on both sides, but they do not fit"
        header = ["path", "checkpoint", "model"]
        if len({r for r in reasons if r}) == 1:
            # One reason, for all the rows or many (a Keras file's optimizer variables, which
            # load by position): said once under the table, which it names them in.
            ordered = sorted(rows, key=lambda row: natural_order(row[0]))  # vars.2 before .10
            tables.append(
                Table(title, header, _cells(fold_rows(ordered)), footnotes=_reasons(reasons))
            )
        else:
            # A row with a reason under it stands for itself: folding would lose the reasons.
            tables.append(
                Table(
                    title,
                    header,
                    _cells(rows if any(reasons) else fold_rows(rows)),
                    reasons if any(reasons) else [],
                )
            )
    for title, into, layers in (
        ("Layer-name drift: saved from one layer, would load into another", "would load into",
         report.drifted),
        ("Renamed layers: loaded in their place, as Keras loads them (not a failure)",
         "loads into", report.renamed),
    ):  # fmt: skip
        if layers:
            rows = [[d.group, d.saved, d.model] for d in layers]
            header = ["group in the file", "saved from", into]
            tables.append(Table(title, header, rows, kinds=("path", "path", "path")))
    return tables


_LEFTOVER_KINDS: tuple[CellKind, ...] = ("path", "fixed", "fixed", "path")
_LEFTOVER_DROP = (0, 2, 1, 0)
"""Unused and missing tables: on a narrow terminal dtype goes first, then shape; the paths
and their likely matches stay."""


def _cells(rows: list[list[str]]) -> list[list[Cell]]:
    return [list(row) for row in rows]


def _reasons(reasons: list[str | None]) -> list[str]:
    """Why entries of a table are there, once per reason."""
    counts: dict[str, int] = {}
    for r in reasons:
        if r:
            counts[r] = counts.get(r, 0) + 1
    out = []
    for note, n in counts.items():
        who = ("Why" if n == 1 else "All of them") if n == len(reasons) else f"{n} of them"
        out.append(f"{who}: {note}.")
    return out


def restore_checks(report: RestoreReport) -> list[Check]:
    """The checks in the order the flow runs them: structure, values, outputs, golden."""
    checks = [_structure_check(report), _values_check(report)]
    o = report.outputs
    if o.ran:
        text = f"{o.batches} random batches, two restored instances: "
        if not o.comparable:
            text = "not compared: "
        elif o.equal:
            text += "equal"
        else:
            text += f"differ (max |diff| {o.max_abs_diff:.3g})"
        if not o.finite:
            text += "; outputs contain NaN or Inf"
        if o.detail and not o.comparable:
            text += o.detail
        elif o.detail and not (o.equal and o.finite):
            text += f"\n{o.detail}"
        checks.append(Check("ok" if o.equal and o.finite else "fail", "outputs", text))
    g = o.golden
    if g is not None:
        text = f"{g.file}: " + ("equal" if g.equal else f"differ (max |diff| {g.max_abs_diff:.3g})")
        if not g.equal and 0 < g.max_abs_diff < 1e-4:
            # Float rounding of another TensorFlow, Keras or CPU: the tolerance that takes it.
            bound = 10.0 ** math.ceil(math.log10(g.max_abs_diff))
            text += (
                f"; differences this small are rounding (another TensorFlow, Keras or CPU "
                f"than the one that recorded the file): --atol {bound:g} accepts them"
            )
        checks.append(Check("ok" if g.equal else "fail", "golden", text))
    if report.saved_golden:
        checks.append(Check("info", "saved", report.saved_golden))
    return checks


def _structure_check(report: RestoreReport) -> Check:
    counted = report.counts()
    accepted = counted["accepted"]
    if not report.problems:
        if not accepted:
            return Check("ok", "structure", "every model variable has its value, nothing unused")
        return Check(
            "ok", "structure", f"all fits, apart from {plural(accepted, 'accepted leftover')}"
        )
    counts = [
        f"{counted[w]} {w}" for w in ("unused", "missing", "mismatched", "drifted") if counted[w]
    ]
    if accepted:
        counts.append(f"{accepted} accepted")
    return Check("fail", "structure", ", ".join(counts))


def _values_check(report: RestoreReport) -> Check:
    v = report.values
    if report.stopped:
        return Check("skipped", "values", report.stopped)
    if v.differing:
        shown = ", ".join(v.differing[:5]) + (" ..." if len(v.differing) > 5 else "")
        return Check(
            "fail",
            "values",
            f"{len(v.differing)} of {v.checked} differ from the checkpoint: {shown}",
        )
    return Check("ok", "values", f"{v.checked} restored, each equal to the checkpoint bit for bit")


def restore_verdict(report: RestoreReport, partial_hint: bool = True) -> Verdict:
    """``partial_hint`` names ``--partial`` and ``--allow-*``, which ``restore`` has."""
    if report.ok:
        return Verdict(True, "Restored and verified.")
    if report.problems and not report.partial:
        suggestion = None
        keras_file = report.naming in ("keras", "keras-legacy")
        if report.suggested_maps and not report.maps and not report.mismatched and keras_file:
            renames = ", ".join(report.suggested_maps)
            suggestion = (
                f"The model's paths look renamed ({renames}, as old=new): Keras loads this "
                "file by path, and --map does not apply to it; give them their old names to "
                "load it."
            )
        elif report.suggested_maps and not report.maps and not report.mismatched:
            rules = " ".join(f"--map {r!r}" for r in report.suggested_maps)
            suggestion = f"If the paths were renamed on purpose, restore with: {rules}"
        elif partial_hint and report.naming != "keras":
            suggestion = (
                "--partial restores what fits; --allow-unused and --allow-missing accept "
                "leftovers you intend."
            )
        return Verdict(
            False,
            "Not restored: the checkpoint does not fit the model; nothing was assigned.",
            suggestion,
        )
    return Verdict(False, "Restore not verified: see the failed checks above.")


# ---------------------------------------------------------------- plain text


def restore_text(report: RestoreReport, width: int = 100) -> str:
    """The whole report as plain text, no line longer than ``width`` (at least 40)."""
    width = max(width, 40)
    header = restore_header(report)
    label_width = max(len(label) for label, _ in header)
    lines: list[str] = []
    for label, value in header:
        lines += _hanging(f"{label.ljust(label_width)}  ", value, width)
    lines.append("")
    for table in restore_tables(report):
        lines += text_lines(table, width, full_text="to_dict() has all")
        for note in table.footnotes:
            lines += wrap_words(note, width)
        lines.append("")
    checks = restore_checks(report)
    name_width = max(len(c.name) for c in checks)
    for c in checks:
        lines += _hanging(f"{MARKS[c.status]} {c.name.ljust(name_width)} ", c.text, width)
    verdict = restore_verdict(report, partial_hint=False)  # no command-line options here
    lines += ["", *wrap_words(verdict.text, width)]
    if verdict.suggestion:
        lines += wrap_words(verdict.suggestion, width)
    return "\n".join(line.rstrip() for line in lines)


def _hanging(prefix: str, text: str, width: int) -> list[str]:
    """``prefix`` then ``text``, continued under the text's first column."""
    lines = wrap_words(text, max(width - len(prefix), 20))
    return [prefix + lines[0], *(" " * len(prefix) + line for line in lines[1:])]


# ---------------------------------------------------------------- diff


def tolerances(report: DiffReport) -> str:
    return f"atol={report.atol:g}, rtol={report.rtol:g}"


def diff_verdict(report: DiffReport) -> Verdict:
    """``A and B differ: 3 changed, 1 only in A, 10 unchanged (atol=0, rtol=0)``.

    Counts of values only on one side are left out when zero, to keep the line short.
    """
    if report.equal:
        return Verdict(
            True, f"A and B are equal: {report.unchanged:,} unchanged ({tolerances(report)})"
        )
    parts = [f"{len(report.changed):,} changed"]
    for side, values in (("A", report.only_in_a), ("B", report.only_in_b)):
        if values:
            parts.append(f"{len(values):,} only in {side}")
    parts.append(f"{report.unchanged:,} unchanged")
    return Verdict(False, f"A and B differ: {', '.join(parts)} ({tolerances(report)})")


def diff_header(report: DiffReport) -> list[tuple[str, str]]:
    rows = [("A", report.a), ("B", report.b)]
    if report.a_naming != report.b_naming:
        rows.append(("Formats", f"A {report.a_naming}, B {report.b_naming}"))
    return rows


def diff_notes(report: DiffReport) -> list[str]:
    """What was compared and how values were paired, one note each."""
    from ckptctl.diffing import LEGACY_OPTIMIZER, UNRESTORED_OPTIMIZER

    notes = list(report.notes)
    if report.filter is not None:
        notes.append(f"only values whose key or object path matches {report.filter!r}")
    if report.model_only and not {UNRESTORED_OPTIMIZER, LEGACY_OPTIMIZER} & set(notes):
        notes.append("optimizer state and save_counter left out (--model-only)")
    renamed_values = 0
    for r in report.renamed:
        a = "the root" if r.a == ROOT else f"{r.a}.*"
        b = "the root" if r.b == ROOT else f"{r.b}.*"
        notes.append(f"paired by object path: {a} in A with {b} in B ({plural(r.values, 'value')})")
        renamed_values += r.values
    others = report.paired_by_path - renamed_values
    if others > 0:
        notes.append(f"{plural(others, 'value')} paired by object path: their keys differ")
    return notes


def diff_tables(report: DiffReport) -> list[Table]:
    """Changed values (shape and dtype changes first, then the largest difference), then the
    values only in A and only in B (numbered paths folded)."""
    tables = []
    if report.changed:
        tables.append(_changed_table(report.changed, report.renamed))
    for title, values in (("Only in A", report.only_in_a), ("Only in B", report.only_in_b)):
        if values:
            tables.append(_only_table(f"{title} ({len(values):,})", values))
    return tables


def _renamed_path(path: str, renamed: list[Renamed]) -> str | None:
    """A's path as a root-child rename (already in the notes) turns it into B's."""
    for r in renamed:
        if r.a == ROOT:
            return path if r.b == ROOT else f"{r.b}.{path}"
        head, _, rest = path.partition(".")
        if head == r.a and rest:
            return rest if r.b == ROOT else f"{r.b}.{rest}"
    return None


def _changed_table(changed: list[ChangedValue], renamed: list[Renamed]) -> Table:
    # By each value's own kind: a membership test in a list of them was quadratic (100,000
    # changed values took most of an hour). Made column by column (Columns), each shape
    # written once.
    max_abs = number_column([c.max_abs_diff if c.kind == "values" else None for c in changed])
    max_rel = number_column([c.max_rel_diff if c.kind == "values" else None for c in changed])
    labels = printable_texts([c.path or c.key for c in changed])
    shapes: dict[tuple[int, ...], str] = {}
    notes: list[str | None] = []
    shape_cells: list[Cell] = []
    differs: list[Cell] = []
    for i, c in enumerate(changed):
        label = labels[i]
        if c.b_key != c.key or c.b_path != c.path:
            b_label = printable(c.b_path or c.b_key)
            same = b_label == label or bool(c.path and _renamed_path(c.path, renamed) == b_label)
            notes.append(None if same else f"B: {b_label}")
        else:
            notes.append(None)  # the same key and path: the same label
        a_shape = tuple(c.a_shape)
        shape = shapes.get(a_shape)
        if shape is None:
            shape = shapes[a_shape] = shape_str(a_shape)
        if c.kind == "values":
            differ = f"{c.num_differing or 0:,}/{c.num_elements:,}"
            if c.nan_mismatch:
                differ += f"\n{c.nan_mismatch:,} NaN"
            shape_cells.append(shape)
            differs.append(differ)
            continue
        max_abs[i] = max_rel[i] = "-"
        if c.kind == "shape":
            shape_cells.append(f"{shape} -> {shape_str(c.b_shape)}")
        else:
            shape_cells.append(f"{shape} {c.a_dtype} -> {shape_str(c.b_shape)} {c.b_dtype}")
        differs.append(c.kind)
    return Table(
        f"Changed ({len(changed):,})",
        ["path or key", "shape", "max abs", "max rel", "differ"],
        Columns([labels, shape_cells, max_abs, max_rel, differs]),
        notes if any(notes) else [],  # none: the rows lay out in bulk
        drop=(0, 1, 0, 2, 0),
        right=(2, 3, 4),
    )


def _only_table(title: str, values: list[OnlyIn]) -> Table:
    rows = [[printable(v.path or v.key), shape_str(v.shape), v.dtype] for v in values]
    return Table(title, ["path or key", "shape", "dtype"], _cells(fold_rows(rows)), drop=(0, 2, 1))

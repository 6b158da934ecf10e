"""A restore report as plain text: what ``ckptctl restore`` shows, without the terminal.

The parts (:func:`restore_header`, :func:`restore_tables`, :func:`restore_checks`,
:func:`restore_verdict`) are the words and the rows; the CLI lays them out as Rich tables with
colours, and :func:`restore_text` lays them out as aligned plain text of a given width, which
is what :mod:`ckptctl.testing` puts in its ``AssertionError``. Neither typer nor rich (nor
numpy, nor TensorFlow) is imported here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ckptctl.fold import fold_rows
from ckptctl.objgraph import ROOT

if TYPE_CHECKING:
    from ckptctl.restoration import RestoreReport

Status = Literal["ok", "fail", "skipped", "info"]

MARKS: dict[Status, str] = {"ok": "ok  ", "fail": "FAIL", "skipped": "--  ", "info": "    "}
"""How each check's status is shown in front of it, four characters wide."""


def plural(n: int, word: str) -> str:
    """``1 value``, ``1,521 values``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def shape_str(shape: Sequence[int] | None) -> str:
    """``[20, 16]``; ``[]`` for a scalar, ``?`` when unknown."""
    if shape is None:
        return "?"
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class Table:
    """A titled table of text cells. ``notes[i]``, when set, is a line shown under row ``i``."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str | None] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    """Lines shown once under the table: why its entries are there."""


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
    if report.format == "object-graph":
        rows.append(("Key", "(root)" if report.key == ROOT else report.key))
    shapes = ", ".join(shape_str(s) for s in report.input_shapes)
    rows.append(("Inputs", f"{shapes} {report.input_dtype}"))
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
        rows = [[m.path, m.model_path, m.rule] for m in report.mapped]
        tables.append(
            Table(
                "Mapped: placed by --map",
                ["checkpoint path", "model path", "by"],
                fold_rows(rows),
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
        first = "checkpoint path" if report.format == "object-graph" else "checkpoint key"
        tables.append(
            Table(
                "Unused: in the checkpoint, taken by nothing in the model",
                [first, "shape", "dtype", "likely match in the model"],
                fold_rows(rows),
                footnotes=_reasons([u.reason for u in report.unused]),
            )
        )
    if report.missing:
        rows = [
            [_accepted(m.path, m.accepted), shape_str(m.shape), m.dtype, m.suggestion or ""]
            for m in report.missing
        ]
        tables.append(
            Table(
                "Missing: model variables the checkpoint has no value for",
                ["model path", "shape", "dtype", "likely match in the checkpoint"],
                fold_rows(rows),
                footnotes=_reasons([m.reason for m in report.missing]),
            )
        )
    if report.not_checkpointed:
        why = sorted({n.reason for n in report.not_checkpointed})
        tables.append(
            Table(
                f"Not checkpointed: {', '.join(why)} (never saved by tf.train.Checkpoint; "
                "not a failure)",
                ["model path", "shape", "dtype"],
                fold_rows([[n.path, shape_str(n.shape), n.dtype] for n in report.not_checkpointed]),
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
        reasons = [m.reason for m in report.mismatched]
        # A row with a reason under it stands for itself: folding would lose the reasons.
        tables.append(
            Table(
                "Mismatched: present on both sides, but they do not fit",
                ["path", "checkpoint", "model"],
                rows if any(reasons) else fold_rows(rows),
                reasons if any(reasons) else [],
            )
        )
    if report.drifted:
        tables.append(
            Table(
                "Layer-name drift: saved from one layer, would load into another",
                ["group in the file", "saved from", "would load into"],
                [[d.group, d.saved, d.model] for d in report.drifted],
            )
        )
    return tables


def _reasons(reasons: list[str | None]) -> list[str]:
    """Why entries of a table are there, once per reason."""
    counts: dict[str, int] = {}
    for r in reasons:
        if r:
            counts[r] = counts.get(r, 0) + 1
    out = []
    for note, n in counts.items():
        who = ("It" if n == 1 else "All of them") if n == len(reasons) else f"{n} of them"
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
        if report.suggested_maps and not report.maps and not report.mismatched:
            rules = " ".join(f"--map {r!r}" for r in report.suggested_maps)
            suggestion = f"If the paths were renamed on purpose, restore with: {rules}"
        elif partial_hint and report.format != "keras":
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
        lines += [*_table_lines(table, width)]
        for note in table.footnotes:
            lines += _wrapped(note, width)
        lines.append("")
    checks = restore_checks(report)
    name_width = max(len(c.name) for c in checks)
    for c in checks:
        lines += _hanging(f"{MARKS[c.status]} {c.name.ljust(name_width)} ", c.text, width)
    verdict = restore_verdict(report, partial_hint=False)  # no command-line options here
    lines += ["", *_wrapped(verdict.text, width)]
    if verdict.suggestion:
        lines += _wrapped(verdict.suggestion, width)
    return "\n".join(line.rstrip() for line in lines)


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` cut into lines of at most ``width``, long words (paths) folded."""
    out = []
    for paragraph in text.split("\n"):
        out += textwrap.wrap(paragraph, width, break_on_hyphens=False) or [""]
    return out


def _hanging(prefix: str, text: str, width: int) -> list[str]:
    """``prefix`` then ``text``, continued under the text's first column."""
    lines = _wrapped(text, max(width - len(prefix), 20))
    return [prefix + lines[0], *(" " * len(prefix) + line for line in lines[1:])]


def _table_lines(table: Table, width: int) -> list[str]:
    """A title, a header, a rule and the rows in aligned columns; the first and last columns
    fold (as the CLI's tables do) when the rows would be wider than ``width``."""
    n = len(table.headers)
    widths = [max(len(table.headers[i]), *(len(row[i]) for row in table.rows)) for i in range(n)]
    gap = 2

    def total() -> int:
        return sum(widths) + gap * (n - 1)

    for column in (n - 1, 0):
        if total() > width:
            widths[column] = max(len(table.headers[column]), 16, widths[column] - (total() - width))

    def row_lines(cells: list[str]) -> list[str]:
        parts = [
            textwrap.wrap(cell, widths[i], break_on_hyphens=False) or [""]
            for i, cell in enumerate(cells)
        ]
        height = max(len(p) for p in parts)
        return [
            (" " * gap).join(
                (p[k] if k < len(p) else "").ljust(widths[i]) for i, p in enumerate(parts)
            )
            for k in range(height)
        ]

    lines = [*_wrapped(table.title, width), *row_lines(table.headers)]
    lines.append((" " * gap).join("-" * w for w in widths))
    for i, row in enumerate(table.rows):
        lines += row_lines(row)
        note = table.notes[i] if i < len(table.notes) else None
        if note:
            lines += _hanging("  ", note, width)
    return lines

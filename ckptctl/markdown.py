"""Restore and diff reports as Markdown: a summary people read in CI.

GitHub Actions shows what a step appends to ``$GITHUB_STEP_SUMMARY`` on the run's page
(:func:`ckptctl.github.append_step_summary`); ``--markdown FILE`` writes the same for any other
CI (GitLab, Buildkite) or for a pull-request comment. The words and rows are the terminal's
(:mod:`ckptctl.summary`): first the verdict, then the checks, then the unused, missing and
mismatched tables (or the changed values), numbered paths folded as the terminal folds them
(``layers.{0..11}.kernel``). Tables are cut at :data:`MAX_ROWS` rows, saying how many more
there are (GitHub keeps at most 1 MiB of summary per step).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ckptctl.errors import CkptctlError
from ckptctl.layout import Table, cell_parts, printable
from ckptctl.summary import (
    diff_header,
    diff_notes,
    diff_tables,
    diff_verdict,
    restore_checks,
    restore_header,
    restore_tables,
    restore_verdict,
)

if TYPE_CHECKING:
    from ckptctl.caught import CaughtWarning
    from ckptctl.diffing import DiffReport
    from ckptctl.restoration import RestoreReport

MAX_ROWS = 100
"""Rows shown of each table; the rest are counted."""

_CHECK_MARKS = {"ok": "✅", "fail": "❌", "skipped": "➖", "info": "ℹ️"}  # noqa: RUF001


def restore_markdown(report: RestoreReport, warnings: Sequence[CaughtWarning] = ()) -> str:
    """The restore report: verdict, inputs, checks, then the tables of what does not fit."""
    verdict = restore_verdict(report)
    lines = [
        f"### {'✅' if verdict.ok else '❌'} ckptctl restore {code(report.model)}: "
        + escape(verdict.text),
        "",
        *_header_items(restore_header(report)),
        "",
        "| check | result |",
        "| --- | --- |",
    ]
    for check in restore_checks(report):
        mark = _CHECK_MARKS.get(check.status, "")
        lines.append(f"| {mark} {check.name} | {cell(check.text)} |")
    if verdict.suggestion:
        words, colon, options = verdict.suggestion.partition(": --")
        lines += ["", escape(words) + (f": {code('--' + options)}" if colon else "")]
    for table in restore_tables(report):
        lines += ["", *table_markdown(table)]
        lines += [escape(note) for note in table.footnotes]
    if warnings:
        lines += ["", *warnings_markdown(report.model, warnings)]
    return "\n".join(lines) + "\n"


def diff_markdown(report: DiffReport) -> str:
    """The diff report: verdict, both sides, notes, then changed values and one-sided ones."""
    verdict = diff_verdict(report)
    lines = [
        f"### {'✅' if verdict.ok else '❌'} ckptctl diff: {escape(verdict.text)}",
        "",
        *_header_items(diff_header(report)),
        *(f"- note: {escape(note)}" for note in diff_notes(report)),
    ]
    for table in diff_tables(report):
        lines += ["", *table_markdown(table)]
    return "\n".join(lines) + "\n"


_NAMES = {"Checkpoint", "Model", "Key", "A", "B"}
"""Header lines whose value is a name (a path, a module): shown as code."""


def _header_items(rows: Sequence[tuple[str, str]]) -> list[str]:
    return [
        f"- **{label}** {code(value) if label in _NAMES else escape(value)}"
        for label, value in rows
    ]


def error_markdown(command: str, error: CkptctlError) -> str:
    """A run that could not start (unreadable checkpoint, a model that does not import)."""
    text = error.message + (f"\n{error.hint}" if error.hint else "")
    fence = "````" if "```" in text else "```"
    lines = [f"### ⚠️ ckptctl {command} could not run", "", f"{fence}text", text, fence]
    return "\n".join(lines) + "\n"


def warnings_markdown(model: str, warnings: Sequence[CaughtWarning]) -> list[str]:
    noun = "warning" if len(warnings) == 1 else "warnings"
    lines = [
        "<details>",
        f"<summary>{len(warnings)} {noun} while running {escape(model)}</summary>",
        "",
    ]
    lines += [f"- {w.category} ({escape(w.origin)}): {escape(w.message)}" for w in warnings]
    return [*lines, "", "</details>"]


def table_markdown(table: Table, max_rows: int = MAX_ROWS) -> list[str]:
    """A heading with the row count, then a GitHub-flavoured Markdown table."""
    lines = [f"#### {escape(table.title)}", ""]
    lines.append("| " + " | ".join(escape(h) for h in table.headers) + " |")
    lines.append(
        "| "
        + " | ".join("---:" if c in table.right else "---" for c in range(len(table.headers)))
        + " |"
    )
    for i, row in enumerate(table.rows[:max_rows]):
        cells = []
        for c, value in enumerate(row):
            texts = [text for text, _ in cell_parts(value)]
            if table.kind(c) == "path":
                first = "<br>".join(code(t.strip()) if t.strip() else "" for t in texts[:1])
                rest = [escape(t.strip()) for t in texts[1:]]
                text = "<br>".join([first, *rest])
            else:
                text = "<br>".join(escape(t) for t in texts)
            if c == 0 and table.note(i):
                text += "<br>" + escape(table.note(i) or "")
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    hidden = len(table.rows) - max_rows
    if hidden > 0:
        lines += ["", f"… and {hidden:,} more rows: see the job's log or `--json`."]
    return lines


def code(text: str) -> str:
    """``text`` as a code span (its own backticks doubled around it if it has some)."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if text else ""


def escape(text: str) -> str:
    """Plain text in Markdown: characters that would start markup, and table pipes, escaped."""
    text = printable(text, keep_newlines=True)
    for ch in ("\\", "|", "*", "_", "<", ">", "`"):
        text = text.replace(ch, "\\" + ch)
    return text


def cell(text: str) -> str:
    return "<br>".join(escape(line) for line in text.split("\n"))


def write_markdown(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    from ckptctl.outputs import write_atomically

    write_atomically(path, text.encode("utf-8"))

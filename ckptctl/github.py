"""GitHub Actions annotations: a report's problems as workflow commands.

Each problem becomes one ``::error`` line, which GitHub shows on the run's summary page::

    ::error title=ckptctl restore pkg.model%3ANet::model.encoder._kernel [20, 16] float32 ...

Leftovers the user accepted (``--allow-unused``, ``--allow-missing``, ``--allow-file``) are not
problems: each becomes a ``::notice`` line instead, so it is still seen but fails nothing.

Messages and properties are escaped as GitHub's runner expects (``%``, ``\\r`` and ``\\n`` in
messages; also ``:`` and ``,`` in properties), so a message cannot end early or start another
command. A passing report has no error annotations.

GitHub keeps only the first 10 annotations of each kind (error, notice) of a step, so at most
``limit`` lines of each kind are returned: the first ones, then one line saying how many more
there are.

The runner reads workflow commands from stdout and stderr alike; :func:`emit` writes them to
stderr, which keeps stdout to the report (one JSON document with ``--json``).

The job summary: when ``GITHUB_STEP_SUMMARY`` names a file, :func:`append_step_summary` adds
the report as Markdown (:mod:`ckptctl.markdown`) to it, and GitHub shows it on the run's page.

Import this module as ``import ckptctl.github`` (optionally ``as ...``): in a module with
``from __future__ import annotations``, the name ``annotations`` is taken.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ckptctl.junit import accepted_lines, changed_line, only_line, structure_lines
from ckptctl.layout import printable

if TYPE_CHECKING:
    from ckptctl.diffing import DiffReport
    from ckptctl.restoration import RestoreReport

DEFAULT_LIMIT = 10


def enabled() -> bool:
    """Whether this process runs in GitHub Actions (``GITHUB_ACTIONS=true``)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def step_summary_file() -> Path | None:
    """The job summary file GitHub Actions gives each step, when running there."""
    name = os.environ.get("GITHUB_STEP_SUMMARY", "")
    return Path(name) if enabled() and name else None


def append_step_summary(markdown: str) -> bool:
    """Append ``markdown`` to the step's job summary; False when not in GitHub Actions.

    Raises ``UsageError`` when the file cannot be written.
    """
    path = step_summary_file()
    if path is None:
        return False
    from ckptctl.errors import UsageError

    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as e:
        raise UsageError(f"cannot append to GITHUB_STEP_SUMMARY {path}: {e.strerror or e}") from e
    return True


def escape_data(text: str) -> str:
    """A command's message: ``%``, CR and LF as ``%25``, ``%0D``, ``%0A``; other control
    characters (an escape sequence in a checkpoint's names) printed as escapes."""
    text = "\r".join(printable(part, keep_newlines=True) for part in text.split("\r"))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: as :func:`escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str | None) -> str:
    """``::command key=value,...::message``, escaped; properties set to None are left out."""
    props = ",".join(
        f"{name}={escape_property(value)}"
        for name, value in properties.items()
        if value is not None
    )
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def github_annotations(
    report: RestoreReport | DiffReport, *, limit: int = DEFAULT_LIMIT
) -> list[str]:
    """Workflow commands for a restore or diff report: an ``::error`` per problem, then a
    ``::notice`` per accepted leftover."""
    from ckptctl.diffing import DiffReport

    notices: list[str] = []
    if isinstance(report, DiffReport):
        title = "ckptctl diff"
        errors = diff_messages(report)
    else:
        title = f"ckptctl restore {report.model}"
        errors = restore_messages(report)
        notices = accepted_messages(report)
    return [
        *(workflow_command("error", m, title=title) for m in _capped(errors, limit, "problems")),
        *(
            workflow_command("notice", m, title=title)
            for m in _capped(notices, limit, "accepted leftovers")
        ),
    ]


def _capped(messages: list[str], limit: int, what: str) -> list[str]:
    limit = max(limit, 1)
    if len(messages) <= limit:
        return messages
    rest = len(messages) - (limit - 1)
    return [*messages[: limit - 1], f"... and {rest} more {what}: see the job's log"]


def emit(report: RestoreReport | DiffReport, stream: TextIO | None = None) -> int:
    """Write ``report``'s annotations to ``stream`` (stderr) in GitHub Actions; return how many."""
    if not enabled():
        return 0
    lines = github_annotations(report)
    out = stream if stream is not None else sys.stderr
    for line in lines:
        out.write(line + "\n")
    out.flush()
    return len(lines)


def restore_messages(report: RestoreReport) -> list[str]:
    """One message per problem: each structure entry, differing value, output and golden check."""
    if report.ok:
        return []
    where = f"checkpoint {report.checkpoint}"
    messages = [f"{line}\n{where}" for line in structure_lines(report)]
    messages += [
        f"{path} restored from {report.checkpoint} is not equal to the stored value"
        for path in report.values.differing
    ]
    o = report.outputs
    if o.ran and not (o.equal and o.finite):
        if o.finite:
            text = (
                f"two restored instances give different outputs (max |diff| {o.max_abs_diff:.6g})"
            )
        else:
            text = "the outputs contain NaN or Inf"
        if o.detail and o.detail != text:
            text += f": {o.detail}"
        messages.append(f"{text}\n{where}")
    g = o.golden
    if g is not None and not g.equal:
        messages.append(
            f"outputs differ from the ones recorded in {g.file} "
            f"(max |diff| {g.max_abs_diff:.6g})\n{where}"
        )
    return messages


def accepted_messages(report: RestoreReport) -> list[str]:
    """One message per unused or missing entry accepted by ``--allow-*``: never an error."""
    return [f"{line}\ncheckpoint {report.checkpoint}" for line in accepted_lines(report)]


def diff_messages(report: DiffReport) -> list[str]:
    """One message per value changed or on one side only."""
    sides = f"A {report.a}\nB {report.b}"
    messages = [f"changed: {changed_line(c)}\n{sides}" for c in report.changed]
    for side, values in (("A", report.only_in_a), ("B", report.only_in_b)):
        messages += [f"only in {side}: {only_line(v)}\n{sides}" for v in values]
    return messages

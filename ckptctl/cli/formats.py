"""Output formats behind one interface: a :class:`Formatter` per :class:`Format`.

``table`` (Rich, in colour on a terminal), ``plain`` (aligned text without Rich, for thousands
of rows) and ``json`` (one document) show a report on stdout; a command shows it in one of
them. ``junit`` (``--junit-xml FILE``), ``github`` (annotations on stderr in GitHub Actions)
and ``markdown`` (``--markdown FILE`` and GitHub's job summary) publish it for CI as well.

Each formatter wraps the renderer a report already has (:mod:`ckptctl.cli.render`,
:mod:`ckptctl.junit`, :mod:`ckptctl.github`, :mod:`ckptctl.markdown`); this module only
chooses. Rich is imported by the ``table`` formatter alone, so ``--json`` runs never load it.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckptctl.errors import CkptctlError

if TYPE_CHECKING:
    from ckptctl.caught import CaughtWarning

COMMANDS = ("inspect", "restore", "diff", "migrate", "trend")


@dataclass(frozen=True)
class Context:
    """What a formatter needs beside the report."""

    command: str
    """The command whose report it is: one of :data:`COMMANDS`."""
    warnings: Sequence[CaughtWarning] = ()
    """Warnings caught while ckptctl ran (the user's model code, for restore, diff, migrate)."""
    model: str | None = None
    """``diff --model``: named in the lines of the warnings its run raised."""
    path: os.PathLike[str] | None = None
    """The file a ``junit`` or ``markdown`` formatter writes (None: the job summary only)."""


class Formatter:
    """One output format. ``format`` renders a report of one of :attr:`commands`;
    ``format_error`` records a run that could not produce one (default: nothing)."""

    commands: frozenset[str] = frozenset()

    def format(self, report: Any, ctx: Context) -> None:
        raise NotImplementedError

    def format_error(self, error: CkptctlError, ctx: Context) -> None:
        return None

    def supports(self, command: str) -> bool:
        return command in self.commands


class TableFormatter(Formatter):
    commands = frozenset(COMMANDS)

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl.cli import render

        console = render.stdout_console()
        if ctx.command == "inspect":
            render.render_inspect(report, console)
        elif ctx.command == "restore":
            render.render_restore(report, console, warnings=ctx.warnings)
        elif ctx.command == "migrate":
            render.render_migrate(report, console, warnings=ctx.warnings)
        elif ctx.command == "diff":
            from ckptctl.cli.render_diff import render_diff

            render_diff(report, console)
            model = ctx.model
            when = f"while running {model.rpartition(':')[2]}" if model else "while comparing"
            render.render_warnings(console, when, ctx.warnings)
        else:
            from ckptctl.cli.render_trend import render_trend

            render_trend(report, console)


class PlainFormatter(Formatter):
    """Aligned text without Rich: what ``inspect`` prints off a terminal, and for thousands of
    values."""

    commands = frozenset({"inspect"})

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl.cli.plain import print_plain_inspect

        print_plain_inspect(report)


class JsonFormatter(Formatter):
    """One JSON document on stdout; with the warnings caught, for the commands that run the
    user's model."""

    commands = frozenset(COMMANDS)
    _with_warnings = frozenset({"restore", "diff", "migrate"})

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl.cli.output import print_json

        doc = report.to_dict()
        if ctx.command in self._with_warnings:
            doc = {**doc, "warnings": [w.to_dict() for w in ctx.warnings]}
        print_json(doc)


class JUnitFormatter(Formatter):
    """``--junit-xml FILE``: a testcase per check, or the one errored testcase."""

    commands = frozenset({"restore", "diff"})

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl.junit import diff_junit, restore_junit

        assert ctx.path is not None
        write = restore_junit if ctx.command == "restore" else diff_junit
        write(report, ctx.path)

    def format_error(self, error: CkptctlError, ctx: Context) -> None:
        from ckptctl.junit import error_junit

        assert ctx.path is not None
        error_junit(ctx.command, error, ctx.path)


class GitHubFormatter(Formatter):
    """Workflow commands (``::error``) on stderr, in GitHub Actions only."""

    commands = frozenset({"restore", "diff"})

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl import github

        github.emit(report)

    def format_error(self, error: CkptctlError, ctx: Context) -> None:
        from ckptctl import github

        if github.enabled():
            line = github.workflow_command("error", error.message, title=f"ckptctl {ctx.command}")
            print(line, file=sys.stderr)


class MarkdownFormatter(Formatter):
    """GitHub's job summary (when the runner names one) and ``--markdown FILE``.

    A job summary that cannot be appended to is reported and changes nothing else; a
    ``--markdown`` file that cannot be written raises ``UsageError``, as for ``--junit-xml``.
    """

    commands = frozenset({"restore", "diff"})

    def format(self, report: Any, ctx: Context) -> None:
        from ckptctl.markdown import diff_markdown, restore_markdown

        if ctx.command == "restore":
            self._write(restore_markdown(report, ctx.warnings), ctx.path, report=True)
        else:
            self._write(diff_markdown(report), ctx.path, report=True)

    def format_error(self, error: CkptctlError, ctx: Context) -> None:
        from ckptctl.markdown import error_markdown

        self._write(error_markdown(ctx.command, error), ctx.path, report=False)

    @staticmethod
    def _write(text: str, path: os.PathLike[str] | None, *, report: bool) -> None:
        from ckptctl import github
        from ckptctl.markdown import write_markdown

        try:
            github.append_step_summary(text)
        except CkptctlError as e:
            if report:  # while recording an error, the error itself is what matters
                from ckptctl.cli.render import print_error

                print_error(e)
        if path is not None:
            write_markdown(path, text)


class Format(enum.Enum):
    TABLE = "table"
    PLAIN = "plain"
    JSON = "json"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"

    def formatter(self) -> Formatter:
        return _FORMATTERS[self]()


_FORMATTERS: dict[Format, Callable[[], Formatter]] = {
    Format.TABLE: TableFormatter,
    Format.PLAIN: PlainFormatter,
    Format.JSON: JsonFormatter,
    Format.JUNIT: JUnitFormatter,
    Format.GITHUB: GitHubFormatter,
    Format.MARKDOWN: MarkdownFormatter,
}


def show(report: Any, fmt: Format, ctx: Context) -> None:
    """``report`` on stdout in ``fmt`` (``table``, ``plain`` or ``json``)."""
    formatter = fmt.formatter()
    assert formatter.supports(ctx.command), (fmt, ctx.command)
    formatter.format(report, ctx)


def _ci_outputs(
    ctx: Context, junit_xml: os.PathLike[str] | None, markdown: os.PathLike[str] | None
) -> list[tuple[Formatter, Context]]:
    """The CI formats that apply, each with its context, in the order they are written."""
    from ckptctl import github

    out: list[tuple[Formatter, Context]] = [(GitHubFormatter(), ctx)]
    if junit_xml is not None:
        out.append((JUnitFormatter(), replace(ctx, path=Path(junit_xml))))
    if markdown is not None or github.step_summary_file() is not None:
        out.append((MarkdownFormatter(), replace(ctx, path=markdown)))
    return out


def publish(
    report: Any,
    ctx: Context,
    junit_xml: os.PathLike[str] | None = None,
    markdown: os.PathLike[str] | None = None,
) -> None:
    """The CI side of a report: JUnit XML and Markdown when asked, annotations and the job
    summary in GitHub Actions. A file that cannot be written exits 2."""
    from ckptctl.cli.common import reporting_errors

    for formatter, context in _ci_outputs(ctx, junit_xml, markdown):
        if formatter.supports(ctx.command):
            with reporting_errors(False):
                formatter.format(report, context)


def publish_error(
    error: CkptctlError,
    ctx: Context,
    junit_xml: os.PathLike[str] | None = None,
    markdown: os.PathLike[str] | None = None,
) -> None:
    """Record a run that ended in ``error`` in the CI formats that apply; an output that
    cannot be written then is passed over (the error is what the user needs to see)."""
    for formatter, context in _ci_outputs(ctx, junit_xml, markdown):
        with contextlib.suppress(CkptctlError):
            formatter.format_error(error, context)

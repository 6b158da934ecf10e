"""How a command ends: :class:`CommandExit`, without importing Typer."""

from __future__ import annotations


class CommandExit(SystemExit):
    """The end of a command, with its exit code (``.code``).

    A :class:`SystemExit`, so it ends the process with that code whether Typer runs the
    command or :func:`ckptctl.cli.app.main` runs it directly (a plain ``inspect`` skips
    importing Typer), and a ``CliRunner`` reports it as the result's ``exit_code``. Its own
    class, so that :func:`ckptctl.cli.common.reporting_errors` tells it from a
    ``SystemExit`` raised by the user's code.
    """

    code: int

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)

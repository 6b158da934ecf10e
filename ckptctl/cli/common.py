"""What every command does around its library call: debug mode and errors to exit codes."""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator

import typer

from ckptctl import _tf
from ckptctl.cli.render import print_error, stderr_console
from ckptctl.errors import EXIT_INTERRUPTED, EXIT_UNREADABLE, CkptctlError, ModelError


def debug_enabled(flag: bool) -> bool:
    return flag or os.environ.get("CKPTCTL_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def reporting_errors(debug: bool) -> Iterator[None]:
    """Turn ckptctl's errors into a one- or two-line message and the documented exit code."""
    debug = debug_enabled(debug)
    _tf.set_debug(debug)
    try:
        yield
    except typer.Exit:
        raise
    except CkptctlError as e:
        if debug:
            traceback.print_exc()
        if isinstance(e, ModelError) and e.user_traceback:
            stderr_console().print(e.user_traceback, markup=False, highlight=False)
        print_error(e)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as e:
        if debug:
            raise
        print_error(
            CkptctlError(
                f"internal error: {type(e).__name__}: {e}",
                "run again with --debug for the traceback, and report it",
            )
        )
        raise typer.Exit(EXIT_UNREADABLE) from None


ProgressCallback = Callable[[str, int, int], None]


@contextlib.contextmanager
def progress_bar(what: str) -> Iterator[ProgressCallback | None]:
    """A transient progress bar on stderr, only when stderr is a terminal (never in CI logs)."""
    console = stderr_console()
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def update(label: str, done: int, total: int) -> None:
            short = label if len(label) <= 32 else "..." + label[-29:]
            bar.update(task, description=short.ljust(32), completed=done, total=total)

        yield update

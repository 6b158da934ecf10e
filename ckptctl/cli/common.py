"""What every command does around its library call: debug mode and errors to exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from ckptctl import _tf, interrupts
from ckptctl.cli.exits import CommandExit
from ckptctl.errors import EXIT_INTERRUPTED, EXIT_UNREADABLE, CkptctlError, ModelError


def backend_name(text: str) -> str:
    """``--backend``'s value, checked."""
    from ckptctl.errors import UsageError

    if text not in ("auto", "native", "tf"):
        raise UsageError(f"--backend {text!r}: expected auto, native or tf")
    return text


def debug_enabled(flag: bool) -> bool:
    return flag or os.environ.get("CKPTCTL_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def reporting_errors(
    debug: bool,
    command: str | None = None,
    junit_xml: os.PathLike[str] | None = None,
    markdown: os.PathLike[str] | None = None,
) -> Iterator[None]:
    """Turn ckptctl's errors into a one- or two-line message and the documented exit code.

    With ``command``, an error is also recorded for CI: in ``junit_xml`` as an errored
    testcase, in ``markdown`` and GitHub's job summary as a short section, and in GitHub
    Actions as an error annotation.
    """
    debug = debug_enabled(debug)
    _tf.set_debug(debug)
    try:
        yield
    except CommandExit:
        raise
    except BrokenPipeError:
        raise  # stdout's reader went away (``| head``): the entry point ends the run
    except BaseException as e:
        if interrupts.caused(e):
            if debug:
                _print_traceback()
            _interrupted()
        if isinstance(e, CkptctlError):
            _report(e, debug, command, junit_xml, markdown)
        if debug and isinstance(e, Exception):
            raise
        if debug:
            _print_traceback()
        # Anything else, SystemExit included when no user_code() frame turned it into the
        # user's error: never let it end the run with its own (possibly 0) status.
        _internal_error(e)


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


def _interrupted() -> NoReturn:
    from ckptctl.cli.render import stderr_console

    stderr_console().print("interrupted")
    raise CommandExit(EXIT_INTERRUPTED) from None


def _report(
    e: CkptctlError,
    debug: bool,
    command: str | None,
    junit_xml: os.PathLike[str] | None,
    markdown: os.PathLike[str] | None,
) -> NoReturn:
    from ckptctl.cli.render import print_error, stderr_console

    if debug:
        _print_traceback()
    if isinstance(e, ModelError) and e.user_traceback:
        stderr_console().print(e.user_traceback, markup=False, highlight=False)
    print_error(e)
    if command is not None:
        from ckptctl.cli.formats import Context, publish_error

        publish_error(e, Context(command), junit_xml, markdown)
    raise CommandExit(e.exit_code) from None


def _internal_error(e: BaseException) -> NoReturn:
    from ckptctl.cli.render import print_error

    print_error(
        CkptctlError(
            f"internal error: {type(e).__name__}: {e}",
            "run again with --debug for the traceback, and report it",
        )
    )
    raise CommandExit(EXIT_UNREADABLE) from None


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """While ckptctl runs the user's model code, what that code prints goes to stderr, so that
    stdout holds the report alone (exactly one JSON document with ``--json``).

    ``print()`` is caught through ``sys.stdout``; output written to file descriptor 1 itself
    (``tf.print(..., output_stream=sys.stdout)``, C extensions) as well, when stdout is the
    process's own.
    """
    sys.stdout.flush()
    saved_fd = None
    if _fileno(sys.stdout) == 1 and _fileno(sys.stderr) == 2:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


ProgressCallback = Callable[[str, int, int], None]


@contextlib.contextmanager
def progress_bar(what: str) -> Iterator[ProgressCallback | None]:
    """A transient progress bar on stderr, only when stderr is a terminal (never in CI logs)."""
    if not sys.stderr.isatty():
        yield None
        return
    from ckptctl.cli.render import stderr_console

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

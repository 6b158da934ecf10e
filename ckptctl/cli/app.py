"""The entry point of the ``ckptctl`` command (and of ``python -m ckptctl``).

``ckptctl --help`` is what people run most, and importing Typer alone takes over twice as long
as starting Python: the top-level help is printed from :data:`ckptctl.cli.root_help.TEXT`
without importing it, wherever Click would lay it out the same (80 columns or more). An
``inspect`` with no option that takes a value runs without Typer too (:func:`_plain_inspect`).
Everything else goes to the Typer application, :data:`ckptctl.cli.commands.app`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import typer

    app: typer.Typer

_HELP_WIDTH = 80
"""Click lays help out at the terminal's width up to this: at this or wider, all alike."""


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (COLUMNS first, 80 when
    there is no terminal), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or _HELP_WIDTH


_INSPECT_FLAGS = frozenset(
    {"--json", "--tree", "--stats", "--hist", "--fail-on-nonfinite", "--no-verify", "--debug"}
)
"""``inspect``'s options that take no value: what :func:`_plain_inspect` accepts."""

_READS_VALUES = {"--stats", "--hist", "--fail-on-nonfinite"}


def _plain_inspect(args: list[str]) -> tuple[list[str], set[str]] | None:
    """The checkpoints and flags of ``ckptctl inspect CHECKPOINT... [FLAG...]`` when ``args``
    hold nothing else (flags from :data:`_INSPECT_FLAGS`, anywhere), else None. Such a
    command line means one thing to Click too, so it is run without Typer: importing it
    takes longer than listing thousands of values. An option with a value, ``--``, ``-h``, or
    a path starting with ``-`` goes to the Typer application."""
    if len(args) < 2 or args[0] != "inspect":
        return None
    checkpoints = [a for a in args[1:] if a not in _INSPECT_FLAGS]
    if not checkpoints or any(not a or a.startswith("-") for a in checkpoints):
        return None
    return checkpoints, {a for a in args[1:] if a in _INSPECT_FLAGS}


def main() -> None:
    try:
        _main()
    except BrokenPipeError:
        _reader_gone()


def run() -> NoReturn:
    """The ``ckptctl`` command and ``python -m ckptctl``: :func:`main`, then the end of the
    process. Where TensorFlow was loaded (restore, migrate), Python's own teardown of it takes
    0.5 to 0.9 s after the verdict is printed: the process then ends at once, once the exit
    functions (``atexit``: the user's, logging's) have run and both streams are flushed.
    Everything ckptctl writes is closed before :func:`main` returns. Callers that embed the
    CLI in a process of their own call :func:`main`, which only raises ``SystemExit``."""
    try:
        main()
    except SystemExit as e:
        code = e.code
    else:
        code = None
    if not any(name in sys.modules for name in ("tensorflow", "keras", "tf_keras")):
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as Python prints a SystemExit's message
        print(code, file=sys.stderr)
        status = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader of stdout has gone: as _reader_gone
            status = 1
        except (OSError, ValueError):
            pass
    os._exit(status)


def _reader_gone() -> NoReturn:
    """stdout's reader stopped reading (``ckptctl inspect X | head``): end at once with exit
    1 and no traceback, as Click and Rich do where they write, stdout pointed at /dev/null
    so that Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(1)


def _main() -> None:
    args = sys.argv[1:]
    if args in (["--help"], ["-h"]) and _columns() >= _HELP_WIDTH:
        from ckptctl.cli.root_help import TEXT

        sys.stdout.write(TEXT)
        sys.stdout.flush()
        raise SystemExit(0)
    inspect_args = _plain_inspect(args)
    streams = inspect_args is None or bool(inspect_args[1] & _READS_VALUES)
    if args and streams and not {"-h", "--help"} & set(args):
        _tune_for_streaming(args[0])
        from ckptctl import interrupts

        interrupts.watch()
    if inspect_args is not None:
        checkpoints, flags = inspect_args
        if not streams:
            # A listing makes objects without cycles and ends: the cyclic collector would
            # only walk them, its imports' objects included (about 4 ms of 130).
            import gc

            gc.disable()
        from ckptctl.cli.inspect_run import inspect_checkpoints

        inspect_checkpoints(
            checkpoints,
            tree="--tree" in flags,
            stats="--stats" in flags,
            hist="--hist" in flags,
            fail_on_nonfinite="--fail-on-nonfinite" in flags,
            verify="--no-verify" not in flags,
            json="--json" in flags,
            debug="--debug" in flags,
        )
    from ckptctl.cli.commands import app

    app()


def _tune_for_streaming(command: str) -> None:
    """For commands that stream values: the allocator keeps freed chunks (ctypes costs
    `--help` 2 ms, so only here), and numpy's BLAS runs on the calling thread."""
    from ckptctl.cli.memory import keep_freed_memory

    keep_freed_memory()
    if command not in ("restore", "migrate"):
        # numpy's OpenBLAS starts a thread per core when imported, which spins for about
        # 0.1 s of CPU; ckptctl's own dot products are too short to use them (see
        # stats.py). Not where the user's model code runs: its numpy is left as it is.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def __getattr__(name: str) -> Any:
    if name == "app":
        from ckptctl.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

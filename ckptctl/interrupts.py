"""Ctrl-C, including where C code has turned it into another error.

A SIGINT that lands while TensorFlow's C++ runs Python code (an import inside
``nest.flatten``, a callback) can come back out as a ``SystemError`` ("returned a result with
an exception set") whose cause is the ``KeyboardInterrupt``, or as an error of the library's
own that lost it. :func:`caused` sees both, so that such a run still ends as an interruption
(exit 130), not as a failure of the user's model or of ckptctl.
"""

from __future__ import annotations

from types import FrameType

_seen = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _seen
    _seen = True
    raise KeyboardInterrupt


def watch() -> None:
    """From now on, remember that Ctrl-C was pressed, whatever becomes of its exception.

    Only from the main thread, and only where SIGINT still has Python's own handler (a
    program that embeds ckptctl keeps its own).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def caused(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C, was caused by it, or came after it was pressed."""
    if _seen:
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

"""Errors ckptctl reports to its users, each with an exit code and a hint.

Exit codes are a public contract (see README):

* 0: everything asked for holds
* 1: a check found a problem (reported, not raised)
* 2: usage error
* 3: an input (checkpoint, model module) could not be read, the user's model code failed,
  or an output could not be written
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_INTERRUPTED = 130


class CkptctlError(Exception):
    """An error with a one-line message for the user and an optional hint on what to do."""

    exit_code: int = EXIT_UNREADABLE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(CkptctlError):
    """The command line or call was wrong: a bad option value, a missing argument."""

    exit_code = EXIT_USAGE


class CheckpointError(CkptctlError):
    """A checkpoint could not be found or read."""

    exit_code = EXIT_UNREADABLE


class OutputError(CkptctlError):
    """An output (``migrate -o``, a report) could not be written: a read-only or full disk."""

    exit_code = EXIT_UNREADABLE


class ModelError(CkptctlError):
    """The user's model could not be imported, constructed or built."""

    exit_code = EXIT_UNREADABLE

    def __init__(
        self, message: str, hint: str | None = None, user_traceback: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.user_traceback = user_traceback


class TensorFlowMissingError(CkptctlError):
    """The command needs TensorFlow and it is not installed."""

    exit_code = EXIT_UNREADABLE

    def __init__(self, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"this needs TensorFlow, which could not be imported{detail}",
            "install it with: pip install 'ckptctl[tensorflow]'  (or 'ckptctl[tensorflow-cpu]')",
        )

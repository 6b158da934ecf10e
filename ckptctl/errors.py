"""Errors ckptctl reports to its users, each with an exit code and a hint.

Exit codes are a public contract (see README):

* 0: everything asked for holds
* 1: a check found a problem (reported, not raised)
* 2: usage error
* 3: an input (checkpoint, model module) could not be read, the user's model code failed,
  or an output could not be written
* 130: interrupted (Ctrl-C; see :mod:`ckptctl.interrupts`)
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


# ---------------------------------------------------------------- files that cannot be read
#
# Every format words a missing, short or damaged file the same way, as one line naming the file
# and what is wrong with it, and one line saying what to do:
#
#   runs/ckpt-3.data-00000-of-00001: missing (the index lists 5 values stored in it)
#   runs/ckpt-3.data-00000-of-00001: truncated (1,024 of 9,114 bytes); value dense/kernel ...
#   runs/m.weights.h5: corrupt (cannot read dense/vars/0: ...)

COPY_AGAIN = "copy {name} again from where it was written"
COPY_CHECKPOINT_AGAIN = "copy the checkpoint again from where it was written"
COPY_MISSING_SHARDS = (
    "copy the missing .data-* file(s) from where the checkpoint was written: without them it "
    "cannot be restored"
)
SAVE_WEIGHTS_AGAIN = "save the weights again, or copy the file again from where it was written"


def _fix(path: object, hint: str | None) -> str:
    name = getattr(path, "name", None) or str(path).rsplit("/", 1)[-1]
    return hint if hint is not None else COPY_AGAIN.format(name=name)


def file_missing(
    path: object, detail: str | None = None, hint: str | None = None
) -> CheckpointError:
    """``FILE: missing (detail)``: a file the checkpoint needs is not there."""
    return CheckpointError(
        f"{path}: missing" + (f" ({detail})" if detail else ""), _fix(path, hint)
    )


def file_truncated(
    path: object,
    size: int,
    expected: int | None,
    detail: str | None = None,
    hint: str | None = None,
) -> CheckpointError:
    """``FILE: truncated (N of M bytes); detail``: the file ends before its contents do."""
    of = f"{size:,} of {expected:,} bytes" if expected is not None else f"{size:,} bytes"
    return CheckpointError(
        f"{path}: truncated ({of})" + (f"; {detail}" if detail else ""), _fix(path, hint)
    )


def file_corrupt(path: object, detail: str, hint: str | None = None) -> CheckpointError:
    """``FILE: corrupt (detail)``: the file is there and long enough, but its bytes are wrong."""
    return CheckpointError(f"{path}: corrupt ({detail})", _fix(path, hint))

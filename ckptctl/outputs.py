"""Where ckptctl writes: never into (or over) a checkpoint's directory.

Every file or directory ckptctl writes for its user goes through this module first:
``--junit-xml``, ``--markdown``, ``--save-golden``, ``trend --html`` and ``migrate -o``. GitHub's
job summary (``GITHUB_STEP_SUMMARY``) is the runner's file, not one the user aims, and is
exempt.

A checkpoint's protected directories are the one its files are in (a SavedModel's own
directory for its variables) and the one the user's path named, when a ``checkpoint`` state
file led elsewhere (``/elsewhere/ckpt-3``, ``../x/ckpt-3``). They are protected even when the
checkpoint cannot be read (a state file naming a deleted prefix): the directory the path names
is still the user's checkpoint directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ckptctl.errors import CheckpointError, UsageError
from ckptctl.location import Location, is_remote, locate, named_directory

_EXAMPLES = {
    "--junit-xml": "reports/ckptctl.xml",
    "--markdown": "reports/ckptctl.md",
    "--save-golden": "tests/golden/model.npz",
    "--html": "reports/trend.html",
    "-o": "ckpts/migrated",
}


class ProtectedOutputError(UsageError):
    """An output aimed into or over a checkpoint's directory (exit 2; nothing is written)."""

    def __init__(self, option: str, output: str | os.PathLike[str], directory: Path) -> None:
        example = _EXAMPLES.get(option, "reports/")
        super().__init__(
            f"{option} {output}: refusing to write into or over the checkpoint's directory "
            f"{directory}",
            f"write it outside the checkpoint's directory, e.g. {option} {example}",
        )
        self.option = option
        self.output = Path(output)
        self.directory = directory


def location_directories(location: Location) -> tuple[Path, ...]:
    """The directories of a located checkpoint that ckptctl never writes into: its own (the
    SavedModel's for its variables) and the one the user named, if a state file led away."""
    prefix = location.prefix
    if location.is_remote or not isinstance(prefix, Path):
        return ()
    own = Path(os.path.normpath(prefix.parent))  # a state file's ../x/ckpt-3, as x
    if location.source == "saved_model" and own.name == "variables":
        own = own.parent
    dirs = [own]
    if location.named is not None and not _same(location.named, own):
        dirs.append(location.named)
    return tuple(dirs)


def protected_directories(*sources: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Every directory of ``sources`` (paths as the user gave them) that ckptctl never writes
    into, whether or not the checkpoints can be read. Remote sources have none."""
    out: list[Path] = []
    for source in sources:
        if is_remote(source):
            continue
        try:
            directories = location_directories(locate(source))
        except CheckpointError:
            directories = _named_directories(source)  # unreadable: the command says why
        out += [d for d in directories if not any(_same(d, o) for o in out)]
    return tuple(out)


def _named_directories(source: str | os.PathLike[str]) -> tuple[Path, ...]:
    try:
        named = named_directory(source)
    except OSError:  # a directory that cannot be listed: protect the path and all around it
        path = Path(source).expanduser()
        return (path, path.parent)
    return (named,) if named is not None else ()


def protecting(directories: Iterable[Path], path: str | os.PathLike[str]) -> Path | None:
    """The one of ``directories`` that ``path`` is inside, is, or would replace, else None."""
    target = Path(path).expanduser().resolve()
    for directory in directories:
        inside = directory.expanduser().resolve()
        if target == inside or inside in target.parents or target in inside.parents:
            return directory
    return None


def refuse_protected(
    outputs: Mapping[str, str | os.PathLike[str] | None], directories: Iterable[Path]
) -> None:
    """Raise :class:`ProtectedOutputError` for the first of ``outputs`` (option -> path; None
    when not asked for) that lands in or over one of ``directories``."""
    directories = tuple(directories)
    for option, output in outputs.items():
        if output is None:
            continue
        directory = protecting(directories, output)
        if directory is not None:
            raise ProtectedOutputError(option, output, directory)


def refuse_outputs_into_checkpoints(
    outputs: Mapping[str, str | os.PathLike[str] | None], *sources: str | os.PathLike[str]
) -> None:
    """Refuse (exit 2) any of ``outputs`` aimed into or over the directory of a checkpoint in
    ``sources``; nothing is read or written when one is."""
    if any(o is not None for o in outputs.values()):
        refuse_protected(outputs, protected_directories(*sources))


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then move it into place (creating
    the directory). Raises ``UsageError`` when it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates the file readable by its owner only; a report is for everyone.
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise UsageError(
            f"cannot write {path}: {e.strerror or e}", "pass a file path in a writable directory"
        ) from e


def _same(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()

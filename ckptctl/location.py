"""Turn whatever path a user typed into one checkpoint prefix.

Accepted forms: a directory with a ``checkpoint`` state file (its latest), a directory of
checkpoint files without one (the newest prefix), a prefix (``dir/ckpt-3``), the prefix's
``.index`` or one of its ``.data-*`` shards, a SavedModel directory (its ``variables/variables``),
a directory of numbered SavedModel versions (the highest), Keras 3's files (``.weights.h5``,
``.weights.json``, ``.keras``) and a directory of them (the newest). Needs no TensorFlow.

A URL in object storage (``s3://bucket/run``) is resolved by the same code, through
:class:`~ckptctl.storage.RemotePath`; only schemes TensorFlow alone implements (``ram://``)
go through ``tf.io.gfile``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ckptctl.errors import SAVE_WEIGHTS_AGAIN, CheckpointError, file_corrupt
from ckptctl.formats.keras_names import HDF5_MAGIC, KERAS_SOURCES, source_of
from ckptctl.names import digits_order
from ckptctl.storage import AnyPath, RemotePath, lexists, listdir, open_binary, uses_fsspec

Source = Literal[
    "checkpoint",
    "saved_model",
    "weights-h5",
    "weights-json",
    "keras-archive",
    "h5",
    "checkpoint-v1",
]

STATE_FILE = "checkpoint"
_DATA_RE = re.compile(r"^(?P<base>.+)\.data-(?P<shard>\d{5})-of-(?P<total>\d{5})$")
_STATE_LINE_RE = re.compile(rb'^\s*(\w+)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$', re.DOTALL)
_NUMBERED_RE = re.compile(r"^(?P<base>.*?)-(?P<n>\d+)$")
_FORMS_HINT = (
    "pass a checkpoint directory, a prefix (DIR/ckpt-3), its .index or .data-* file, "
    "a SavedModel directory, or a Keras .weights.h5, .weights.json or .keras file"
)
_SHARD_RE = re.compile(r"^(?P<base>.+)_\d{5}\.weights\.h5$")


@dataclass(frozen=True)
class Location:
    """Where a checkpoint's files are, and how the user's path led there."""

    prefix: AnyPath
    source: Source
    data_files: tuple[AnyPath, ...]
    others: tuple[str, ...] = ()
    note: str | None = None
    state_file: AnyPath | None = None
    uri: str | None = None  # the prefix, for a scheme read through tf.io.gfile (ram://)
    named: Path | None = None
    """The directory the user's path named (see :func:`named_directory`), which a state file
    may lead away from: :mod:`ckptctl.outputs` protects it as well as the checkpoint's own."""

    @property
    def is_remote(self) -> bool:
        """In object storage (through fsspec) or behind a TensorFlow-only scheme."""
        return self.uri is not None or isinstance(self.prefix, RemotePath)

    @property
    def via_tensorflow(self) -> bool:
        """Only ``tf.io.gfile`` reads it (a scheme such as ``ram://``)."""
        return self.uri is not None

    @property
    def is_keras(self) -> bool:
        """A Keras 3 file (``prefix`` is the file itself), not a TensorFlow prefix."""
        return self.source in KERAS_SOURCES

    @property
    def is_single_file(self) -> bool:
        """One file holds it all (a Keras file, a TF1 V1 checkpoint): ``prefix`` is the file."""
        return self.is_keras or self.source in ("h5", "checkpoint-v1")

    @property
    def name(self) -> str:
        """The prefix as users and TensorFlow spell it."""
        return self.uri if self.uri is not None else str(self.prefix)

    @property
    def index_file(self) -> AnyPath:
        """The file that lists the values: the ``.index``, or the Keras file itself."""
        return self.prefix if self.is_single_file else suffixed(self.prefix, ".index")

    @property
    def directory(self) -> AnyPath:
        return self.prefix.parent

    @property
    def declared_shards(self) -> int | None:
        """Shard count named by the data files' ``-of-NNNNN`` suffix, if any file exists."""
        totals = {int(m["total"]) for f in self.data_files if (m := _DATA_RE.match(f.name))}
        return max(totals) if totals else None

    @property
    def files(self) -> tuple[AnyPath, ...]:
        return (self.index_file, *self.data_files)

    @property
    def bytes_on_disk(self) -> int:
        if self.uri is not None:
            return _remote_size(self.uri)
        total = 0
        for f in self.files:
            with contextlib.suppress(OSError):  # gone meanwhile (a CheckpointManager's)
                total += f.stat().st_size
        return total


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def suffixed(p: AnyPath, suffix: str) -> AnyPath:
    """``p`` with ``suffix`` appended to its name (``ckpt-3`` -> ``ckpt-3.index``)."""
    return p.with_name(p.name + suffix)


def _same_directory(a: AnyPath, b: AnyPath) -> bool:
    if isinstance(a, RemotePath) or isinstance(b, RemotePath):
        return a == b
    return a.expanduser().resolve() == b.expanduser().resolve()


def named_directory(path: str | os.PathLike[str]) -> Path | None:
    """The directory a user's path names, whether or not a checkpoint can be read there: the
    path itself when it is a directory, else its parent (a prefix, an ``.index`` or shard, a
    state file, a Keras file). A path that does not exist names its parent only when that
    holds checkpoint files (a deleted prefix), not for a typo. None for a remote path."""
    if is_remote(path):
        return None
    p = Path(path).expanduser()
    if p.is_dir():
        return p
    if os.path.lexists(p) or _holds_checkpoint_files(p.parent):
        return p.parent
    return None


def _holds_checkpoint_files(d: Path) -> bool:
    try:
        names = listdir(d)
    except OSError:
        return False
    return any(
        n == STATE_FILE
        or n.endswith(".index")
        or n.startswith("saved_model.pb")
        or source_of(Path(n)) is not None
        for n in names
    )


def is_remote(path: str | os.PathLike[str] | RemotePath) -> bool:
    return isinstance(path, RemotePath) or (isinstance(path, str) and bool(_SCHEME_RE.match(path)))


def locate(path: str | os.PathLike[str] | RemotePath) -> Location:
    """Resolve a user's path to a checkpoint :class:`Location`, or raise ``CheckpointError``.

    A URL whose scheme fsspec reads (``s3://``, ``gs://``, see :mod:`ckptctl.storage`) is
    resolved as a local path is, every form alike, by listing and range requests. A scheme
    only TensorFlow implements (``ram://``) is resolved through ``tf.io.gfile``, which imports
    TensorFlow.
    """
    if isinstance(path, RemotePath):
        return _locate_fsspec(path)
    if is_remote(path):
        uri = str(path)
        if uses_fsspec(uri):
            return _locate_fsspec(RemotePath(uri))
        return _locate_remote(uri)
    p = Path(path).expanduser()
    try:
        return _replace(_locate_retrying(p), named=named_directory(p))
    except PermissionError as e:
        where = p if os.path.isdir(p) else (e.filename or p)
        raise CheckpointError(
            f"{where}: cannot be read (Permission denied)",
            "check the permissions of the checkpoint's directory and files",
        ) from e
    except OSError as e:
        raise CheckpointError(f"{e.filename or p}: cannot be read ({e.strerror or e})") from e


RESOLVE_ATTEMPTS = 5
"""How often a directory that changed while it was resolved (a CheckpointManager saving
into it, deleting old checkpoints) is resolved again before its error stands."""


def _locate_retrying(p: Path) -> Location:
    """:func:`_locate_local`, again when the directory's checkpoints changed meanwhile (its
    state file rewritten, a prefix added or deleted): the error may be that change's."""
    for attempt in range(RESOLVE_ATTEMPTS):
        before = _checkpoints_in(p)
        try:
            return _locate_local(p)
        except (CheckpointError, OSError):
            if attempt + 1 == RESOLVE_ATTEMPTS or _checkpoints_in(p) == before:
                raise
    raise AssertionError("unreachable")


def _checkpoints_in(p: Path) -> tuple[object, ...]:
    """What resolving ``p`` depends on in its directory: the state file's identity and the
    ``.index`` files present."""
    d = p if p.is_dir() else p.parent
    try:
        st = os.stat(d / STATE_FILE)
        state: object = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        state = None
    try:
        indexes = frozenset(n for n in os.listdir(d) if n.endswith(".index"))
    except OSError:
        indexes = frozenset()
    return state, indexes


def _locate_fsspec(p: RemotePath) -> Location:
    """A URL resolved as a local path is, its errors told as the storage's."""
    from ckptctl.storage import forget_listings, missing_root, remote_error

    forget_listings(p)
    try:
        return _locate_local(p)
    except CheckpointError as e:
        if "no such file" in e.message:
            raise missing_root(p) or e from None
        raise
    except OSError as e:
        raise remote_error(p, e) from None


def _locate_local(p: AnyPath) -> Location:
    if p.is_dir():
        return _from_directory(p)
    if p.is_file():
        return _from_file(p)
    if suffixed(p, ".index").exists():
        return _at_prefix(p)
    if lexists(p):
        raise CheckpointError(f"{p}: cannot be read (a broken link, or not a file or directory)")
    raise CheckpointError(f"{p}: no such file or directory", _nearby_hint(p))


def _nearby_hint(p: AnyPath) -> str:
    parent = p.parent
    if parent.is_dir():
        prefixes = _prefixes_in(parent)
        if prefixes:
            names = ", ".join(sorted(x.name for x in prefixes)[:6])
            return f"checkpoints in {parent}: {names}"
    return _FORMS_HINT


def _from_file(p: AnyPath) -> Location:
    name = p.name
    keras = _keras_source(p)
    if keras is not None:
        return _keras_file(p, keras)
    if name.endswith(".index"):
        return _at_prefix(p.with_name(name[: -len(".index")]))
    if m := _DATA_RE.match(name):
        return _at_prefix(p.with_name(m["base"]))
    if name == STATE_FILE:
        return _from_directory(p.parent)
    if name in ("saved_model.pb", "saved_model.pbtxt"):
        return _from_directory(p.parent)
    from ckptctl.formats.tf_v1 import is_v1_file

    if is_v1_file(p):
        return Location(prefix=p, source="checkpoint-v1", data_files=())
    if p.suffix in (".h5", ".hdf5"):
        raise file_corrupt(
            p, "not an HDF5 file, which a Keras 2 weights file is", SAVE_WEIGHTS_AGAIN
        )
    raise CheckpointError(f"{p}: not a checkpoint file", _FORMS_HINT)


def _sniff_keras(p: AnyPath) -> Source | None:
    """An HDF5 file under another name: Keras 3's layout when its root has a ``vars`` group."""
    try:
        with open_binary(p) as f:
            if f.read(8) != HDF5_MAGIC:
                return None
    except OSError:
        return None
    from ckptctl.formats.keras_legacy import is_legacy
    from ckptctl.storage import open_hdf5

    try:
        h5, handle = open_hdf5(p)
        try:
            if is_legacy(h5):
                return "h5"
            if "vars" in h5 or "layers" in h5 or "optimizer" in h5:
                return "weights-h5"
        finally:
            h5.close()
            if handle is not None:
                handle.close()
    except OSError as e:
        from ckptctl.formats.keras_h5 import hdf5_error

        raise hdf5_error(p, e) from e
    raise CheckpointError(
        f"{p}: an HDF5 file, but neither a Keras 3 weights file nor a Keras 2 one",
        "ckptctl reads Keras's .weights.h5, .weights.json, .keras and Keras 2 .h5 files",
    )


def _keras_file(p: AnyPath, source: Source, **kwargs: object) -> Location:
    shards: tuple[AnyPath, ...] = ()
    if source == "weights-json":
        from ckptctl.formats.keras_h5 import shard_paths

        shards = tuple(s for s in shard_paths(p) if s.is_file())
    return Location(prefix=p, source=source, data_files=shards, **kwargs)  # type: ignore[arg-type]


def _keras_files_in(d: AnyPath) -> list[AnyPath]:
    """Keras weight files and archives in ``d``, less the shards a ``.weights.json`` names."""
    try:
        names = listdir(d)
    except OSError:
        return []
    jsons = {n[: -len(".weights.json")] for n in names if n.endswith(".weights.json")}
    found = []
    for n in names:
        if source_of(Path(n)) is None or not (d / n).is_file():
            continue
        m = _SHARD_RE.match(n)
        if m is not None and m["base"] in jsons:
            continue
        found.append(d / n)
    return found


def _newest_keras(d: AnyPath, files: list[AnyPath]) -> Location:
    ordered = sorted(files, key=lambda f: (f.stat().st_mtime_ns, f.name))
    chosen = ordered[-1]
    others = tuple(f.name for f in ordered[:-1])
    note = f"Keras files in {d}: using the newest, {chosen.name}" if others else None
    return _keras_file(chosen, _keras_source(chosen) or "weights-h5", others=others, note=note)


def _keras_source(p: AnyPath) -> Source | None:
    """The Keras file ``p`` is: as its name says, but a Keras 2 HDF5 file under a Keras 3
    name (``.weights.h5``, as Keras 2's save_weights writes one so named) is read as Keras 2;
    an HDF5 file under another name, as its content says."""
    named = source_of(p)
    if named == "weights-h5" and _sniff_keras(p) == "h5":
        return "h5"
    return named or _sniff_keras(p)


def _at_prefix(prefix: AnyPath, **kwargs: object) -> Location:
    index = suffixed(prefix, ".index")
    if not index.is_file():
        if index.is_dir():
            raise CheckpointError(f"{index}: is a directory, not a checkpoint index file")
        raise CheckpointError(f"{index}: no such file", _nearby_hint(prefix))
    source: Source = "saved_model" if _is_saved_model_variables(prefix) else "checkpoint"
    return Location(prefix=prefix, source=source, data_files=_data_files(prefix), **kwargs)  # type: ignore[arg-type]


def _is_saved_model_variables(prefix: AnyPath) -> bool:
    return (
        prefix.name == "variables"
        and prefix.parent.name == "variables"
        and _has_saved_model_pb(prefix.parent.parent)
    )


def _has_saved_model_pb(d: AnyPath) -> bool:
    return (d / "saved_model.pb").is_file() or (d / "saved_model.pbtxt").is_file()


def _data_files(prefix: AnyPath) -> tuple[AnyPath, ...]:
    directory = prefix.parent
    base = prefix.name
    try:
        names = listdir(directory)
    except OSError:
        return ()
    found = [
        directory / n for n in names if (m := _DATA_RE.match(n)) is not None and m["base"] == base
    ]
    return tuple(sorted(found))


def _prefixes_in(directory: AnyPath) -> list[AnyPath]:
    try:
        names = listdir(directory)
    except OSError as e:
        raise CheckpointError(f"{directory}: cannot list the directory ({e.strerror})") from e
    return [
        directory / n[: -len(".index")]
        for n in names
        if n.endswith(".index") and (directory / n).is_file()
    ]


def _from_directory(d: AnyPath) -> Location:
    if _has_saved_model_pb(d):
        variables = d / "variables" / "variables"
        if not suffixed(variables, ".index").is_file():
            raise CheckpointError(
                f"{d}: a SavedModel without variables (no variables/variables.index)",
                "a SavedModel with no variables has no checkpoint to inspect",
            )
        return _at_prefix(variables)
    state = d / STATE_FILE
    if state.is_file():
        return _from_state_file(state)
    prefixes = _prefixes_in(d)
    if prefixes:
        return _newest_of(d, prefixes)
    versions = _saved_model_versions(d)
    if versions:
        chosen = versions[-1]
        loc = _from_directory(chosen)
        others = tuple(v.name for v in versions[:-1])
        note = f"SavedModel versions in {d}: using the highest, {chosen.name}"
        return _replace(loc, others=others, note=note)
    if (d / "variables").is_dir() and suffixed(d / "variables" / "variables", ".index").is_file():
        return _at_prefix(d / "variables" / "variables")
    keras_files = _keras_files_in(d)
    if keras_files:
        return _newest_keras(d, keras_files)
    entries = sorted(listdir(d))
    if not entries:
        raise CheckpointError(f"{d}: empty directory, no checkpoint in it", _FORMS_HINT)
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise CheckpointError(f"{d}: no checkpoint in this directory (it holds: {shown})", _FORMS_HINT)


def _saved_model_versions(d: AnyPath) -> list[AnyPath]:
    try:
        subdirs: list[AnyPath] = [c for c in d.iterdir() if c.name.isdigit() and c.is_dir()]
    except OSError:
        return []
    return sorted(
        (c for c in subdirs if _has_saved_model_pb(c)), key=lambda c: digits_order(c.name)
    )


def _replace(loc: Location, **changes: object) -> Location:
    return replace(loc, **changes)  # type: ignore[arg-type]


STATE_FILE_MAX_BYTES = 4 << 20
"""At most this much of a state file is read: a CheckpointManager's lists a few hundred lines
(about 60 bytes each), and a file of millions must not cost minutes."""

_SIMPLE_ESCAPES = {
    ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9,
    ord("v"): 11, ord("\\"): 92, ord("'"): 39, ord('"'): 34,
}  # fmt: skip
_OCTAL = b"01234567"
_HEX = b"0123456789abcdefABCDEF"


class _BadEscape(ValueError):
    pass


def c_unescape(text: bytes) -> bytes:
    """A text-proto string's contents as bytes, as protobuf's text parser (which TensorFlow's
    ``get_checkpoint_state`` uses) reads them: C escapes (``\\n``, ``\\"``, octal
    ``\\303``, hex ``\\xe8``) decoded, other bytes (raw UTF-8) and unknown escapes kept.
    ``\\u00e8`` is the character's UTF-8, as protobuf's C++ parser reads it."""
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise _BadEscape("a backslash at the end of the string")
        e = text[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in _OCTAL:
            j = i + 1
            while j < n and j < i + 4 and text[j] in _OCTAL:
                j += 1
            value = int(text[i + 1 : j], 8)
            if value > 0xFF:
                raise _BadEscape(f"octal escape \\{text[i + 1 : j].decode()} exceeds a byte")
            out.append(value)
            i = j
        elif e == ord("x"):
            j = i + 2
            while j < n and j < i + 4 and text[j] in _HEX:
                j += 1
            if j == i + 2:
                raise _BadEscape("\\x without hex digits")
            out.append(int(text[i + 2 : j], 16))
            i = j
        elif e in (ord("u"), ord("U")):
            width = 4 if e == ord("u") else 8
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or any(d not in _HEX for d in digits):
                raise _BadEscape(f"\\{chr(e)} needs {width} hex digits")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise _BadEscape(f"\\{chr(e)}{digits.decode()} is not a character")
            out += chr(code).encode("utf-8")
            i += 2 + width
        else:  # kept as written, backslash and all, as protobuf's Python parser keeps it
            out += text[i : i + 2]
            i += 2
    return bytes(out)


def read_state_file(state: AnyPath) -> tuple[str | None, list[str]]:
    """Parse a ``checkpoint`` state file: (latest prefix, all kept prefixes, each once), as
    written. Its strings are UTF-8 with C escapes, as TensorFlow (protobuf's text format)
    writes and reads them: ``checkpoint_name="modèle"`` is written ``mod\\303\\250le``."""
    try:
        with open_binary(state) as f:
            data = f.read(STATE_FILE_MAX_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{state}: cannot read the checkpoint state file ({e})") from e
    if len(data) > STATE_FILE_MAX_BYTES:
        raise CheckpointError(
            f"{state}: larger than {STATE_FILE_MAX_BYTES >> 20} MiB, far more than a checkpoint "
            "state file holds; not read",
            "pass the checkpoint's prefix itself, e.g. DIR/ckpt-3",
        )
    latest: str | None = None
    kept: dict[str, None] = {}  # in order, each once
    for number, line in enumerate(data.splitlines(), 1):
        m = _STATE_LINE_RE.match(line)
        if not m:
            continue
        field_name = m[1].decode("ascii")
        value = _state_string(state, number, m[2])
        if field_name == "model_checkpoint_path":
            latest = value
        elif field_name == "all_model_checkpoint_paths":
            kept[value] = None
    return latest, list(kept)


def _state_string(state: AnyPath, line: int, raw: bytes) -> str:
    where = f"{state}, line {line}"
    try:
        value = c_unescape(raw).decode("utf-8")
    except _BadEscape as e:
        raise CheckpointError(
            f"{where}: not a valid checkpoint state file ({e})",
            "TensorFlow cannot read it either: rewrite it, or pass a prefix itself",
        ) from None
    except UnicodeDecodeError:
        raise CheckpointError(
            f"{where}: names a path that is not UTF-8",
            "TensorFlow cannot read it either: rewrite it, or pass a prefix itself",
        ) from None
    if "\x00" in value:
        raise CheckpointError(
            f"{where}: names a path containing a NUL character ({value!r})",
            "no file can have such a name: rewrite the state file, or pass a prefix itself",
        )
    return value


def _resolve_in(d: AnyPath, name: str) -> AnyPath:
    if isinstance(d, RemotePath):
        if is_remote(name):
            return RemotePath(name)
        # An absolute path of the machine that wrote the state file: the copy beside it.
        return d / (Path(name).name if Path(name).is_absolute() else name)
    p = Path(name)
    return p if p.is_absolute() else d / p


def _from_state_file(state: AnyPath) -> Location:
    d = state.parent
    latest, kept = read_state_file(state)
    present = sorted(x.name for x in _prefixes_in(d))
    if latest is None:
        if present:
            loc = _newest_of(d, [d / n for n in present])
            note = f"{state} names no latest checkpoint; {loc.note or ''}".rstrip("; ")
            return _replace(loc, note=note)
        raise CheckpointError(f"{state}: names no checkpoint, and {d} holds none")
    latest_path = _resolve_in(d, latest)
    from ckptctl.formats.tf_v1 import is_v1_file

    if latest_path.is_file() and is_v1_file(latest_path):
        return Location(prefix=latest_path, source="checkpoint-v1", data_files=(), state_file=state)
    if not suffixed(latest_path, ".index").is_file():
        where = f"present: {', '.join(present)}" if present else f"{d} holds no checkpoint at all"
        example = f"; pass one explicitly, e.g. {d / present[-1]}" if present else ""
        raise CheckpointError(
            f"{state} names {latest} as the latest checkpoint, but {latest_path}.index "
            "does not exist (deleted or moved)",
            f"{where}{example}",
        )
    others = tuple(
        Path(k).name
        for k in kept
        if suffixed(_resolve_in(d, k), ".index").is_file() and _resolve_in(d, k) != latest_path
    )
    outside = None
    if not _same_directory(latest_path.parent, d):
        outside = f"{state} leads outside {d}: its latest checkpoint is {latest_path}"
    return _at_prefix(latest_path, others=others, state_file=state, note=outside)


def _save_number(p: AnyPath) -> tuple[int, str] | None:
    m = _NUMBERED_RE.match(p.name)
    return digits_order(m["n"]) if m else None


def _newest_of(d: AnyPath, prefixes: list[AnyPath]) -> Location:
    numbers = [_save_number(p) for p in prefixes]
    if all(n is not None for n in numbers):
        ordered = sorted(prefixes, key=lambda p: (_save_number(p) or (0, ""), p.name))
    else:
        ordered = sorted(prefixes, key=lambda p: (suffixed(p, ".index").stat().st_mtime_ns, p.name))
    chosen = ordered[-1]
    others = tuple(p.name for p in ordered[:-1])
    note = None
    if others:
        note = f"no '{STATE_FILE}' state file in {d}; using the newest prefix, {chosen.name}"
    return _at_prefix(chosen, others=others, note=note)


def _locate_remote(uri: str) -> Location:
    from ckptctl import _tf

    tf = _tf.tensorflow()
    gfile = tf.io.gfile
    uri = uri.rstrip("/")
    try:
        prefix = _remote_prefix(tf, gfile, uri)
        data = sorted(gfile.glob(f"{prefix}.data-*"))
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{uri}: cannot be read ({str(e).splitlines()[0][:200]})") from e
    base = prefix.rsplit("/", 1)[-1]
    source: Source = "saved_model" if prefix.endswith("/variables/variables") else "checkpoint"
    return Location(
        prefix=Path(base),
        source=source,
        data_files=tuple(Path(d.rsplit("/", 1)[-1]) for d in data),
        uri=prefix,
    )


def _remote_prefix(tf: object, gfile: object, uri: str) -> str:
    g: object = gfile
    exists = g.exists  # type: ignore[attr-defined]
    if uri.endswith(".index"):
        prefix = uri[: -len(".index")]
    elif m := _DATA_RE.match(uri):
        prefix = m["base"]
    else:
        prefix = uri
    if exists(f"{prefix}.index"):
        return prefix
    if g.isdir(uri):  # type: ignore[attr-defined]
        if exists(f"{uri}/variables/variables.index"):
            return f"{uri}/variables/variables"
        latest = tf.train.latest_checkpoint(uri)  # type: ignore[attr-defined]
        if latest:
            return str(latest)
        indexes = sorted(g.glob(f"{uri}/*.index"))  # type: ignore[attr-defined]
        if indexes:
            return str(indexes[-1])[: -len(".index")]
        raise CheckpointError(f"{uri}: no checkpoint in this directory", _FORMS_HINT)
    raise CheckpointError(f"{uri}: no such checkpoint", _FORMS_HINT)


def _remote_size(uri: str) -> int:
    from ckptctl import _tf

    gfile = _tf.tensorflow().io.gfile
    try:
        return sum(gfile.stat(f).length for f in gfile.glob(f"{uri}.*"))
    except Exception:
        return 0


STAGED_PREFIX = "ckptctl-staged-"


@contextlib.contextmanager
def local_copy(path: str | os.PathLike[str]) -> Iterator[tuple[str | os.PathLike[str], str | None]]:
    """``path`` as TensorFlow can restore it, and the remote name it was copied from.

    A checkpoint in object storage is copied (its index and data, or its Keras files) into a
    fresh temporary directory, never beside any checkpoint, and removed afterwards, also on
    error: TensorFlow's restore reads local files only. Any other path is yielded as it is,
    with None.
    """
    if not (is_remote(path) and uses_fsspec(str(path))):
        yield path, None
        return
    location = locate(path)
    remote = location.prefix
    assert isinstance(remote, RemotePath)
    import shutil
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=STAGED_PREFIX))
    try:
        if location.source == "saved_model":
            top, local = remote.parent.parent, staging / "variables" / "variables"
            local.parent.mkdir()
            pb = top / "saved_model.pb"
            pb = pb if pb.is_file() else top / "saved_model.pbtxt"
            pb.download(staging / pb.name)
        else:
            local = staging / remote.name
        for f in location.files:
            assert isinstance(f, RemotePath)
            f.download(local.with_name(f.name))
        yield local, location.name
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""What is in a checkpoint: entries (key, dtype, shape, bytes), values, and the object graph.

:class:`Checkpoint` is the one facade every command reads through. The values come from a
backend: :mod:`ckptctl.bundle` reads the files with numpy alone, and :mod:`ckptctl.tfbackend`
reads them through TensorFlow, which it imports only when such a backend is made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ckptctl._renamed import deprecated_alias
from ckptctl.chunks import CHUNK_BYTES as CHUNK_BYTES
from ckptctl.chunks import split_flat
from ckptctl.entry import Entry as Entry
from ckptctl.errors import CheckpointError
from ckptctl.location import Location, locate
from ckptctl.objgraph import OBJECT_GRAPH_KEY, KeyInfo, ObjectGraph, parse_object_graph
from ckptctl.storage import AnyPath

if TYPE_CHECKING:
    import numpy as np

    from ckptctl.positional import PositionalChunks

Naming = Literal["object-graph", "name-based", "keras", "keras-legacy"]
"""How a checkpoint names its values: by object graph, by variable name, or by Keras's saving
layout (Keras 3 files, Keras 2 HDF5); not the file format."""
Format = Naming  # the earlier name
BackendName = Literal["auto", "tf", "native"]
SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"


class Backend(Protocol):
    """How values are actually read. Errors must be ``CheckpointError`` naming the file."""

    def entries(self) -> list[Entry]: ...

    def read(self, key: str) -> np.ndarray: ...

    def close(self) -> None: ...


class Checkpoint:
    """An opened checkpoint. Use as a context manager, or call :meth:`close`.

    ``backend_name`` says which backend reads it (``"native"`` or ``"tf"``); ``backend_note``
    is a one-line note when the TensorFlow-free reader could not handle it and TensorFlow's
    reader was used instead, else None.
    """

    def __init__(
        self,
        location: Location,
        backend: Backend,
        backend_name: str | None = None,
        backend_note: str | None = None,
    ) -> None:
        self.location = location
        self._backend = backend
        if backend_name is None:
            backend_name = str(getattr(backend, "name", "tf"))
        self.backend_name = backend_name
        self.backend_note = backend_note
        self._graph_peer: Checkpoint | None = None
        self._graph_owner: Checkpoint | None = None  # the peer whose parsed graph this uses

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    @property
    def prefix(self) -> str:
        return self.location.name

    @cached_property
    def _all_entries(self) -> dict[str, Entry]:
        return {e.key: e for e in sorted(self._backend.entries(), key=lambda e: e.key)}

    @property
    def entries(self) -> list[Entry]:
        """Every stored value except the object graph itself, sorted by key."""
        return [e for k, e in self._all_entries.items() if k != OBJECT_GRAPH_KEY]

    def entry(self, key: str) -> Entry:
        """The index entry of ``key``; a ``CheckpointError`` (not a bare ``KeyError``) when the
        checkpoint holds no such value, as :meth:`read` raises."""
        try:
            return self._all_entries[key]
        except KeyError:
            raise CheckpointError(
                f"{self.location.prefix}: no value named {key!r} in this checkpoint"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._all_entries

    @property
    def naming(self) -> Naming:
        """How this checkpoint names its values (see :data:`Naming`)."""
        declared = getattr(self._backend, "naming", None)
        if declared is not None:
            return declared  # type: ignore[no-any-return]
        return "object-graph" if OBJECT_GRAPH_KEY in self._all_entries else "name-based"

    format = deprecated_alias("format", "naming")

    def read(self, key: str) -> np.ndarray:
        """The stored value of ``key`` as a numpy array (strings as an object array of bytes)."""
        return self._backend.read(key)

    def read_raw(self, key: str) -> bytes | None:
        """The stored bytes of ``key``'s elements (checked), where the format keeps them as
        one run (TensorFlow's bundle); else None. Two values of one dtype and shape with the
        same bytes are equal under every rule (:func:`ckptctl.compare.identical`)."""
        raw = getattr(self._backend, "read_raw", None)
        return raw(key) if raw is not None else None

    def read_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """:meth:`read_raw` of each of ``keys`` (small values, read one after another: a
        diff), None where it gives None or fails: the caller reads those the usual way, and
        meets the error there."""
        many = getattr(self._backend, "read_raw_many", None)
        if many is not None:
            return many(keys)  # type: ignore[no-any-return]
        out: list[bytes | None] = []
        for key in keys:
            try:
                out.append(self.read_raw(key))
            except CheckpointError:
                out.append(None)
        return out

    @cached_property
    def object_graph(self) -> ObjectGraph | None:
        if self.naming != "object-graph":
            return None
        data = self._graph_bytes()
        self._graph_owner = self._same_graph(data)
        if self._graph_owner is not None:
            return self._graph_owner.object_graph
        entries = self._all_entries

        def known_key(key: str) -> str:
            entry = entries.get(key)
            return key if entry is None else entry.key

        return parse_object_graph(data, str(self.location.index_file), known_key)

    def _graph_bytes(self) -> bytes:
        """The serialized object graph, as stored."""
        read_strings = getattr(self._backend, "read_strings", None)
        strings = read_strings(OBJECT_GRAPH_KEY) if read_strings is not None else None
        if strings:
            data = strings[0]  # without numpy: listing needs none
        else:
            raw = self.read(OBJECT_GRAPH_KEY)
            data = raw.item() if raw.shape == () else raw.reshape(-1)[0]
        return bytes(data)

    def share_graph(self, peer: Checkpoint) -> None:
        """Use ``peer``'s object graph and key infos, parsed once for both, wherever this
        checkpoint's graph is the same, byte for byte (two checkpoints of one model, as a
        diff compares them); compared when the graph is first asked for, while both are open.
        """
        self._graph_peer = peer

    def _same_graph(self, data: bytes) -> Checkpoint | None:
        """The peer of :meth:`share_graph` if it holds the graph ``data``, else None."""
        peer = self._graph_peer
        if peer is None or peer is self or peer.naming != "object-graph":
            return None
        theirs = peer._all_entries.get(OBJECT_GRAPH_KEY)
        if theirs is None or theirs.nbytes != self._all_entries[OBJECT_GRAPH_KEY].nbytes:
            return None
        return peer if peer._graph_bytes() == data else None

    def forget_object_graph(self) -> None:
        """Let the parsed object graph go (:attr:`key_infos` stays; the graph is parsed again
        if asked for): a listing needs the memory more than a second look at the graph."""
        self.__dict__.pop("object_graph", None)

    @cached_property
    def key_infos(self) -> dict[str, KeyInfo]:
        own = getattr(self._backend, "key_infos", None)
        if own is not None:
            return own()  # type: ignore[no-any-return]
        graph = self.object_graph
        if self._graph_owner is not None:
            return self._graph_owner.key_infos
        return graph.key_infos() if graph is not None else {}

    @property
    def store(self) -> Any:
        """The format's own reader, for matchers that need what only it knows (the order of a
        Keras 2 file's layers)."""
        return self._backend

    @property
    def keras_info(self) -> Any:
        """For a ``.keras`` archive: its ``KerasInfo`` (version, date, model class); else None."""
        return getattr(self._backend, "info", None)

    def save_counter(self) -> int | None:
        if SAVE_COUNTER_KEY not in self._all_entries:
            return None
        read_int = getattr(self._backend, "read_int", None)
        value = read_int(SAVE_COUNTER_KEY) if read_int is not None else None
        if value is not None:
            return int(value)
        return int(self.read(SAVE_COUNTER_KEY).reshape(()).item())

    def read_chunks(self, key: str, max_bytes: int = CHUNK_BYTES) -> Iterator[np.ndarray]:
        """The value of ``key`` as consecutive flat chunks of at most ``max_bytes`` each.

        Memory stays bounded by the chunk size when the backend can stream (the TensorFlow-free
        reader can); otherwise the whole value is read once and sliced.
        """
        stream = getattr(self._backend, "read_chunks", None)
        if stream is not None:
            yield from stream(key, max_bytes)
            return
        yield from split_flat(self.read(key), max_bytes)

    def positional_chunks(self, key: str, max_bytes: int = CHUNK_BYTES) -> PositionalChunks | None:
        """The chunks of ``key`` (as :meth:`read_chunks` cuts them) readable in any order and
        on several threads at once, checked together at the end; None where the backend
        cannot read them so (then :meth:`read_chunks` does)."""
        chunks = getattr(self._backend, "positional_chunks", None)
        if chunks is None:
            return None
        result: PositionalChunks | None = chunks(key, max_bytes)
        return result

    def iter_values(self, keys: list[str] | None = None) -> Iterator[tuple[Entry, np.ndarray]]:
        for e in self.entries if keys is None else [self.entry(k) for k in keys]:
            yield e, self.read(e.key)

    @property
    def num_shards(self) -> int:
        """Data shards the index declares (from the files' names with TensorFlow's reader)."""
        declared = getattr(self._backend, "num_shards", None)
        if isinstance(declared, int):
            return declared
        return self.location.declared_shards or len(self.location.data_files)

    def file_problems(self) -> list[CheckpointError]:
        """Missing or short data shards, found without reading any value.

        TensorFlow's reader cannot tell without reading; then the index is parsed natively
        just for this, and nothing is reported when even that is not possible.
        """
        check = getattr(self._backend, "file_problems", None)
        if check is not None:
            return list(check())
        if self.location.is_remote:
            return []
        from ckptctl.bundle import NativeBackend, Unsupported

        try:
            return NativeBackend(self.location, verify=False).file_problems()
        except (Unsupported, CheckpointError, OSError):
            return []


OPEN_ATTEMPTS = 5
"""How often a checkpoint removed between being resolved and being opened is resolved again
(a directory a CheckpointManager saves into, deleting all but the newest few)."""
PIN_SHARDS_MAX = 256
"""Up to this many data shards are opened with the index, so that a checkpoint deleted while
it is read stays readable as a whole; more are opened as values are read."""


def open_checkpoint(
    path: str | os.PathLike[str], backend: BackendName = "auto", *, verify: bool = True
) -> Checkpoint:
    """Locate and open a checkpoint. Raises ``CheckpointError`` with a user-facing message.

    ``backend``: ``"native"`` reads the files with numpy alone, ``"tf"`` through TensorFlow,
    ``"auto"`` natively unless the checkpoint uses something only TensorFlow reads (then
    :attr:`Checkpoint.backend_note` says why). ``verify`` checks every value read against its
    stored checksum (the native reader; TensorFlow's always does).

    A checkpoint that disappears while it is opened (a ``CheckpointManager`` deleting it) is
    resolved again, a few times, and never mixed with another's files.
    """
    return open_located(locate(path), path, backend, verify=verify)


def open_located(
    location: Location,
    path: str | os.PathLike[str],
    backend: BackendName = "auto",
    *,
    verify: bool = True,
) -> Checkpoint:
    """Open ``location`` (what ``path`` resolved to); if its files vanish before they are all
    open, resolve ``path`` again and open that (at most :data:`OPEN_ATTEMPTS` times)."""
    for _ in range(OPEN_ATTEMPTS):
        try:
            ckpt = _open_whole(location, backend, verify)
        except CheckpointError:
            if location.is_remote or not _vanished(location):
                raise
        else:
            if ckpt is not None:
                return ckpt
        try:
            location = locate(path)
        except CheckpointError as e:
            raise _removed(location, e) from e
    raise _removed(location, None)


def _open_whole(location: Location, backend: BackendName, verify: bool) -> Checkpoint | None:
    """The checkpoint at ``location`` with its index read and its data shards open, or None
    when its files were deleted (or replaced) meanwhile: never one checkpoint's index with
    another's data."""
    if location.is_remote:  # no other reader deletes its files under ours
        return open_location(location, backend, verify=verify)
    before = _identity(location.index_file)
    ckpt = open_location(location, backend, verify=verify)
    open_shards = getattr(ckpt._backend, "open_shards", None)
    if open_shards is None:
        return ckpt
    complete = getattr(ckpt._backend, "num_shards", 0) > PIN_SHARDS_MAX or open_shards()
    after = _identity(location.index_file)
    if not complete and after == before:
        time.sleep(0.05)  # a shard is gone: is its index about to go too?
        after = _identity(location.index_file)
    if after == before or (complete and after is None):
        # The index read is still there (a missing shard is then reported as such), or it
        # was deleted after every shard was opened: what was read stays readable.
        return ckpt
    ckpt.close()
    return None


def _identity(path: AnyPath) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)  # type: ignore[arg-type]  # a local path (see _open_whole)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _vanished(location: Location) -> bool:
    """Whether the files ``location`` names are gone (deleted since it was resolved)."""
    return not all(f.exists() for f in location.files)


def _removed(location: Location, cause: CheckpointError | None) -> CheckpointError:
    where = location.state_file.parent if location.state_file else location.directory
    return CheckpointError(
        f"{location.index_file}: removed while being read (is something saving into {where} "
        "and deleting older checkpoints?)"
        + (f"; then: {cause.message}" if cause is not None else ""),
        "try again, or pass a checkpoint that is kept, or a copy of it",
    )


def _keras_checkpoint(location: Location, backend: BackendName) -> Checkpoint:
    from ckptctl.errors import UsageError
    from ckptctl.formats.keras_h5 import KerasStore
    from ckptctl.formats.keras_legacy import LegacyStore

    if backend == "tf":
        raise UsageError(
            f"--backend tf: TensorFlow's reader does not read Keras files ({location.name})",
            "ckptctl reads them with h5py: leave --backend at auto or native",
        )
    if location.source == "h5":
        return Checkpoint(location, LegacyStore(location.prefix), "native")
    if location.source == "checkpoint-v1":
        from ckptctl.formats.tf_v1 import V1Store

        return Checkpoint(location, V1Store(location.prefix), "native")
    return Checkpoint(location, KerasStore(location.prefix, location.source), "native")  # type: ignore[arg-type]


def open_location(
    location: Location, backend: BackendName = "auto", *, verify: bool = True
) -> Checkpoint:
    """Open the checkpoint at ``location`` with the backend asked for (see open_checkpoint)."""
    if location.is_single_file:
        return _keras_checkpoint(location, backend)
    if location.via_tensorflow:
        if backend == "native":
            raise CheckpointError(
                f"{location.name}: the TensorFlow-free reader does not read this scheme",
                "only tf.io.gfile does: use backend 'auto' or 'tf'",
            )
        return _tf_checkpoint(location)
    remote = location.is_remote
    if backend == "tf" and remote:
        from ckptctl.errors import UsageError

        raise UsageError(
            f"--backend tf: TensorFlow's reader does not read {location.name} (object storage)",
            "ckptctl reads it without TensorFlow: leave --backend at auto or native",
        )
    if backend == "tf":
        return _tf_checkpoint(location)
    from ckptctl.bundle import NativeBackend, Unsupported

    try:
        native = NativeBackend(location, verify=verify)
    except Unsupported as e:
        if remote:
            raise CheckpointError(
                f"{location.index_file}: the TensorFlow-free reader cannot read this "
                f"checkpoint: {e}",
                "TensorFlow's reader needs a local copy: copy the checkpoint's files locally",
            ) from e
        if backend == "native":
            raise CheckpointError(
                f"{location.index_file}: the TensorFlow-free reader cannot read this "
                f"checkpoint: {e}",
                "open it with TensorFlow's reader instead (backend 'tf' or 'auto')",
            ) from e
        return _tf_checkpoint(location, note=f"read through TensorFlow: {e}")
    return Checkpoint(location, native, "native")


def _tf_checkpoint(location: Location, note: str | None = None) -> Checkpoint:
    from ckptctl.tfbackend import TFBackend

    return Checkpoint(location, TFBackend(location), "tf", note)

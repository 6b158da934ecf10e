"""What is in a checkpoint: entries (key, dtype, shape, bytes), values, and the object graph.

:class:`Checkpoint` is the one facade every command reads through. The values come from a
backend; the backend that uses TensorFlow lives in :mod:`ckptctl.tfbackend` and is imported
only when a checkpoint is opened.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

from ckptctl.location import Location, locate
from ckptctl.objgraph import OBJECT_GRAPH_KEY, KeyInfo, ObjectGraph, parse_object_graph

if TYPE_CHECKING:
    import numpy as np

Format = Literal["object-graph", "name-based"]
BackendName = Literal["auto", "tf"]
CHUNK_BYTES = 64 << 20
SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"


@dataclass(frozen=True)
class Entry:
    """One stored value, as the index describes it."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int | None

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def is_numeric(self) -> bool:
        return self.dtype not in ("string", "variant", "resource")


class Backend(Protocol):
    """How values are actually read. Errors must be ``CheckpointError`` naming the file."""

    def entries(self) -> list[Entry]: ...

    def read(self, key: str) -> np.ndarray: ...

    def close(self) -> None: ...


class Checkpoint:
    """An opened checkpoint. Use as a context manager, or call :meth:`close`."""

    def __init__(self, location: Location, backend: Backend) -> None:
        self.location = location
        self._backend = backend

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    @property
    def prefix(self) -> str:
        return str(self.location.prefix)

    @cached_property
    def _all_entries(self) -> dict[str, Entry]:
        return {e.key: e for e in sorted(self._backend.entries(), key=lambda e: e.key)}

    @property
    def entries(self) -> list[Entry]:
        """Every stored value except the object graph itself, sorted by key."""
        return [e for k, e in self._all_entries.items() if k != OBJECT_GRAPH_KEY]

    def entry(self, key: str) -> Entry:
        return self._all_entries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._all_entries

    @property
    def format(self) -> Format:
        return "object-graph" if OBJECT_GRAPH_KEY in self._all_entries else "name-based"

    def read(self, key: str) -> np.ndarray:
        """The stored value of ``key`` as a numpy array (strings as an object array of bytes)."""
        return self._backend.read(key)

    @cached_property
    def object_graph(self) -> ObjectGraph | None:
        if self.format != "object-graph":
            return None
        raw = self.read(OBJECT_GRAPH_KEY)
        data = raw.item() if raw.shape == () else raw.reshape(-1)[0]
        return parse_object_graph(bytes(data), str(self.location.index_file))

    @cached_property
    def key_infos(self) -> dict[str, KeyInfo]:
        graph = self.object_graph
        return graph.key_infos() if graph is not None else {}

    def save_counter(self) -> int | None:
        if SAVE_COUNTER_KEY not in self._all_entries:
            return None
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
        flat = self.read(key).reshape(-1)
        step = max(1, max_bytes // max(1, flat.itemsize))
        for start in range(0, flat.size, step):
            yield flat[start : start + step]

    def iter_values(self, keys: list[str] | None = None) -> Iterator[tuple[Entry, np.ndarray]]:
        for e in self.entries if keys is None else [self.entry(k) for k in keys]:
            yield e, self.read(e.key)


def open_checkpoint(path: str | os.PathLike[str], backend: BackendName = "auto") -> Checkpoint:
    """Locate and open a checkpoint. Raises ``CheckpointError`` with a user-facing message."""
    location = locate(path)
    return open_location(location, backend)


def open_location(location: Location, backend: BackendName = "auto") -> Checkpoint:
    from ckptctl.tfbackend import TFBackend

    return Checkpoint(location, TFBackend(location))

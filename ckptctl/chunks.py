"""How values are streamed: the one chunk size, and the cuts that keep every chunk within it.

Every reader hands a value over as consecutive flat chunks (C order) of at most ``max_bytes``
each, at least one element: ``stats``, ``diff``, ``trend`` and restore's checksum pass all
read through :meth:`ckptctl.reader.Checkpoint.read_chunks` with :data:`CHUNK_BYTES`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CHUNK_BYTES = 2 << 20
"""The most bytes of one value read at once, per side, by every command.

2 MiB stays in the CPU's cache, where numpy's reductions run at memory speed: `make bench`
measured stats and diff of a 2 GiB tensor faster with 2 MiB chunks than with 64 MiB ones. It
also bounds memory whatever the tensor size: a diff widens a chunk to float64 and keeps a few
temporaries, about 16 times this per side."""

Index = tuple[int | slice, ...]


def flat_slabs(shape: tuple[int, ...], itemsize: int, max_bytes: int) -> Iterator[Index]:
    """Index tuples cutting an array of ``shape`` into consecutive runs of its flat (C-order)
    index space, each of at most ``max_bytes`` (at least one element).

    Each run is a hyperslab: whole trailing axes, a range of one axis, single indices before
    it. So a value with one row (a 1x1 convolution kernel, shape ``(1, 1, C, K)``) is cut
    along its last axes instead of being read whole.
    """
    if not shape:
        yield ()
        return
    per = max(1, max_bytes // max(1, itemsize))  # elements per chunk
    # The first axis from which on a whole sub-array fits: cut the axis before it in ranges.
    inner = 1
    axis = len(shape)
    while axis > 0 and inner * shape[axis - 1] <= per:
        axis -= 1
        inner *= shape[axis]
    if axis == 0:
        yield (slice(0, shape[0]),)
        return
    cut = axis - 1  # the axis cut in ranges; each step of it holds ``inner`` elements
    step = max(1, per // inner)
    for lead in _indices(shape[:cut]):
        for start in range(0, shape[cut], step):
            yield (*lead, slice(start, min(start + step, shape[cut])))


def _indices(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    if math.prod(shape) == 0:
        return
    index = [0] * len(shape)
    while True:
        yield tuple(index)
        for axis in range(len(shape) - 1, -1, -1):
            index[axis] += 1
            if index[axis] < shape[axis]:
                break
            index[axis] = 0
        else:
            return


def split_flat(flat: np.ndarray, max_bytes: int) -> Iterator[np.ndarray]:
    """A value already in memory, as flat chunks of at most ``max_bytes`` (views, no copies)."""
    flat = flat.reshape(-1)
    step = max(1, max_bytes // max(1, flat.itemsize))
    for start in range(0, flat.size, step):
        yield flat[start : start + step]


class ChunkBuffers:
    """Arrays for the consecutive chunks of one value, each reused once nothing else refers to
    it (no caller's reference, no view, no pending task).

    Freshly allocated chunks of a few MiB each cost page faults on every chunk (the allocator
    hands them back to the system when freed): reading a 2 GiB value into new arrays took as
    long in the kernel as the statistics took in numpy. A buffer still referenced (a caller
    keeping every chunk, a view of one) is never overwritten, so callers see no difference.
    """

    def __init__(self, elements: int, dtype: np.dtype[Any], keep: int = 8) -> None:
        self._elements = elements
        self._dtype = dtype
        self._keep = keep
        self._free: list[np.ndarray] = []
        self._unshared = -1  # the reference count of a buffer only this object holds

    def take(self, n: int) -> np.ndarray:
        """A writable array of ``n`` elements (at most the size asked for at construction)."""
        import numpy as np

        for buf in self._free:
            if self._refs(buf) == self._unshared:
                return buf if n == buf.size else buf[:n]
        buf = np.empty(self._elements, dtype=self._dtype)
        if len(self._free) < self._keep:
            self._free.append(buf)
            if self._unshared < 0:
                self._unshared = self._refs(buf)
        return buf if n == buf.size else buf[:n]

    def _refs(self, buf: np.ndarray) -> int:
        # Measured the same way (one local name, one argument) for the calibration and for
        # the check, so the interpreter's own references cancel out.
        return sys.getrefcount(buf)

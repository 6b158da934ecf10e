"""The chunks of one value stored as one run of bytes, read by position on any thread.

:meth:`ckptctl.reader.Checkpoint.read_chunks` hands a value over chunk after chunk, each read
and checksummed in turn: two threads reducing a large value (``inspect --stats``) then wait on
each other's reads. A :class:`PositionalChunks` reads chunk ``i`` wherever it is asked, with
``os.preadv`` (no shared file position) and the crc32c of :mod:`ckptctl._kernels` (neither
holds the GIL), and keeps each chunk's crc; :meth:`PositionalChunks.check` combines them in
order into the value's crc32c and compares it with the stored one, once every chunk is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ckptctl.errors import CheckpointError

if TYPE_CHECKING:
    import numpy as np


class PositionalChunks:
    """Chunks of ``count`` elements of ``itemsize`` bytes stored from ``offset`` of the open
    file ``fd``, each of ``step`` elements (the last one shorter), read as bytes: the caller
    views them as its dtype. ``dtype`` gives the elements' numpy dtype, for a caller that
    wants one (resolving it imports numpy).

    ``crc`` is the value's stored crc32c (unmasked), or None not to check it. ``short`` and
    ``corrupt`` make the errors of a file that ends too soon and of a failed checksum;
    ``unreadable`` that of a failed read (given the OSError).
    """

    def __init__(
        self,
        kernels: ModuleType,
        fd: int,
        offset: int,
        count: int,
        itemsize: int,
        dtype: Callable[[], np.dtype[Any]],
        step: int,
        crc: int | None,
        short: Callable[[], CheckpointError],
        corrupt: Callable[[], CheckpointError],
        unreadable: Callable[[OSError], CheckpointError],
    ) -> None:
        self._kernels = kernels
        self._fd = fd
        self._offset = offset
        self.count = count
        self.itemsize = itemsize
        self._dtype = dtype
        self.step = max(1, min(step, count))
        self._crc = crc
        self._short, self._corrupt, self._unreadable = short, corrupt, unreadable
        self._crcs: list[int | None] = [None] * len(self)

    def __len__(self) -> int:
        return -(-self.count // self.step)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype()

    def buffer(self) -> bytearray:
        """A buffer that holds any one chunk, for :meth:`read` (one per thread)."""
        return bytearray(self.step * self.itemsize)

    def read(self, index: int, out: bytearray) -> memoryview:
        """Chunk ``index`` read into ``out`` (from :meth:`buffer`): the view of it that holds
        the chunk's bytes. Safe to call from several threads at once, each with its own
        ``out``."""
        start = index * self.step
        n = min(self.step, self.count - start)
        view = memoryview(out)[: n * self.itemsize]
        position = self._offset + start * self.itemsize
        done = 0
        try:
            while done < len(view):
                got = os.preadv(self._fd, [view[done:]], position + done)
                if not got:
                    raise self._short()
                done += got
        except OSError as e:
            raise self._unreadable(e) from None
        if self._crc is not None:
            self._crcs[index] = self._kernels.crc32c(view)
        return view

    def check(self) -> None:
        """After every chunk was read: the value's crc32c against the stored one."""
        if self._crc is None:
            return
        combine = self._kernels.crc32c_combine
        total = 0
        for index, crc in enumerate(self._crcs):
            if crc is None:
                raise RuntimeError(f"chunk {index} of {len(self)} was not read")
            n = min(self.step, self.count - index * self.step)
            total = combine(total, crc, n * self.itemsize)
        if total != self._crc:
            raise self._corrupt()

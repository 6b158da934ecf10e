"""The chunks of one value stored as one run of bytes, read by position on any thread.

:meth:`ckptctl.reader.Checkpoint.read_chunks` hands a value over chunk after chunk, each read
and checksummed in turn: two threads reducing a large value (``inspect --stats``) then wait on
each other's reads. A :class:`PositionalChunks` reads chunk ``i`` wherever it is asked, with
``os.preadv`` (no shared file position) and the crc32c of :mod:`ckptctl._kernels` (neither
holds the GIL), and keeps each chunk's crc; :meth:`PositionalChunks.check` combines them in
order into the value's crc32c and compares it with the stored one, once every chunk is read.
:func:`map_chunks` runs a function over every chunk on two threads, the caller's and the
process's one :class:`Worker`: ``inspect --stats`` reduces the chunks so, and ``restore``'s
bit-for-bit check compares them.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

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


_T = TypeVar("_T")


class Worker:
    """A thread of ckptctl's own that runs what it is given, in turn: the second of the two
    threads that share the chunks of a big value. A command reading thousands of values
    starts one, not one per value. (A thread of its own rather than
    ``concurrent.futures``, whose import, with logging's, is 10 ms of every ``--stats``.)"""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="ckptctl-chunks", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._jobs.get()()

    def submit(self, fn: Callable[[], _T]) -> Callable[[], _T]:
        """Run ``fn`` on the thread; the function returned waits for its result (and raises
        what it raised)."""
        done = threading.Event()
        outcome: list[tuple[bool, Any]] = []

        def job() -> None:
            try:
                outcome.append((True, fn()))
            except BaseException as e:
                outcome.append((False, e))
            finally:
                done.set()

        self._jobs.put(job)

        def result() -> _T:
            done.wait()
            ok, value = outcome[0]
            if not ok:
                raise value
            returned: _T = value
            return returned

        return result


_worker: Worker | None = None
_worker_lock = threading.Lock()


def shared_worker() -> Worker:
    """The process's one :class:`Worker`, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = Worker()
        return _worker


def map_chunks(chunks: PositionalChunks, fn: Callable[[int, memoryview], _T]) -> list[_T]:
    """``fn(index, bytes)`` of every chunk, in the chunks' order, then their crcs checked
    together (:meth:`PositionalChunks.check`). A value of one chunk is read on the calling
    thread; longer ones on two threads at once, the calling thread and the shared
    :class:`Worker`, each taking the next chunk's number, reading and checksumming it
    (without the GIL) and handing it to ``fn``. The first error either thread meets is
    raised, once both stopped."""
    if len(chunks) <= 1:
        results = [fn(0, chunks.read(0, chunks.buffer()))] if len(chunks) else []
        chunks.check()
        return results
    numbers = itertools.count()
    failed: list[BaseException] = []

    def work() -> list[tuple[int, _T]]:
        done: list[tuple[int, _T]] = []
        try:
            out = chunks.buffer()
            while not failed:
                index = next(numbers)  # one C call: atomic under the GIL
                if index >= len(chunks):
                    break
                done.append((index, fn(index, chunks.read(index, out))))
        except BaseException as e:  # a read error: the caller raises it
            failed.append(e)
        return done

    other = shared_worker().submit(work)
    mine = work()
    theirs = other()
    if failed:
        raise failed[0]
    chunks.check()
    return [result for _, result in sorted(mine + theirs, key=lambda r: r[0])]

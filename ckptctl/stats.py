"""Streaming statistics of stored values: one pass per value, in bounded chunks.

Per value: min, max, mean, std (over finite elements), NaN and Inf counts (float types), the
fraction of zeros and, on request, a histogram (a second pass, over the finite range). Chunks
are combined with Chan's parallel update, so peak memory is a few chunks whatever the tensor
size, and chunks of one value are reduced on two threads (numpy releases the GIL).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ckptctl import speedups
from ckptctl.chunks import CHUNK_BYTES

if TYPE_CHECKING:
    from ckptctl.positional import PositionalChunks
    from ckptctl.reader import Checkpoint, Entry

HIST_BINS = 10
_SCRATCH_MAX = CHUNK_BYTES // 4  # elements: one float32 chunk; larger chunks go without


@dataclass
class ValueStats:
    """Statistics of one value; ``None`` where they do not apply (strings, empty tensors)."""

    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    nan: int = 0
    inf: int = 0
    zeros: float | None = None
    hist: list[int] | None = None
    hist_range: list[float] | None = None

    @property
    def nonfinite(self) -> int:
        return self.nan + self.inf


@dataclass
class _Part:
    """Mergeable partial statistics of some elements.

    ``m2`` (the sum of squared deviations from the mean) is kept in units of ``scale``
    squared: for values near the float64 limit (1e300) it would overflow otherwise, while
    ``m2 / scale**2`` and the standard deviation ``sqrt(m2 / finite) * scale`` fit.
    """

    n: int = 0  # all elements
    finite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    nan: int = 0
    inf: int = 0
    zeros: int = 0
    scale: float = 1.0  # a power of two

    def merge(self, o: _Part) -> _Part:
        n = self.finite + o.finite
        if not self.finite or not o.finite:
            first = self if self.finite else o
            mean, m2, scale = first.mean, first.m2, first.scale
        else:
            # Chan's update, with every term in units of the larger scale (exact powers of
            # two, so nothing is lost but what would underflow) and the mean as a weighted
            # average: no intermediate overflows where the inputs are finite.
            scale = max(self.scale, o.scale)
            delta = o.mean / scale - self.mean / scale
            mean = self.mean * (self.finite / n) + o.mean * (o.finite / n)
            m2 = (
                self.m2 * (self.scale / scale) ** 2
                + o.m2 * (o.scale / scale) ** 2
                + delta * delta * self.finite * o.finite / n
            )
        return _Part(
            n=self.n + o.n,
            finite=n,
            mean=mean,
            m2=m2,
            lo=min(self.lo, o.lo),
            hi=max(self.hi, o.hi),
            nan=self.nan + o.nan,
            inf=self.inf + o.inf,
            zeros=self.zeros + o.zeros,
            scale=scale,
        )

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.finite) * self.scale


_HUGE = 2.0**400
"""Above this magnitude a chunk is scaled by a power of two before it is summed and squared:
squares of up to 2**800, summed over any realistic count, still fit in a float64."""


def _reduce(chunk: np.ndarray) -> _Part:
    with np.errstate(all="ignore"):
        return _reduce_quietly(chunk)


def _reduce_quietly(chunk: np.ndarray) -> _Part:
    x = chunk.reshape(-1)
    n = int(x.size)
    if n == 0:
        return _Part()
    if x.dtype.kind == "b":
        ones = int(np.count_nonzero(x))
        mean = ones / n
        m2 = ones * (1 - mean) ** 2 + (n - ones) * mean**2
        lo = 0.0 if ones < n else 1.0
        hi = 1.0 if ones > 0 else 0.0
        return _Part(n, n, mean, m2, lo, hi, 0, 0, n - ones)
    if x.dtype.kind == "c":
        nan = int(np.count_nonzero(np.isnan(x)))
        inf = int(np.count_nonzero(np.isinf(x)))
        return _Part(n=n, nan=nan, inf=inf, zeros=n - int(np.count_nonzero(x)))
    if x.dtype.kind not in "fiu":
        # bfloat16 / float8 (ml_dtypes) and other exotic floats: widen once.
        x = x.astype(np.float32)
    fast32 = x.dtype == np.float32
    if fast32 and _vector is not None:
        part = _reduce_f32(x, _vector)
        if part is not None:
            return part
    scratch = _scratch(n) if fast32 else None
    lo, hi = x.min(), x.max()
    if lo > 0 or hi < 0:  # no zeros (false where NaN made both NaN: then they are counted)
        zeros = 0
    elif scratch is not None:
        zeros = int(np.count_nonzero(np.equal(x, 0, out=scratch.view(bool)[:n])))
    else:
        zeros = n - int(np.count_nonzero(x))
    nan = inf = 0
    if x.dtype.kind == "f" and not (np.isfinite(lo) and np.isfinite(hi)):
        nan = int(np.count_nonzero(np.isnan(x)))
        inf = int(np.count_nonzero(np.isinf(x)))
        x = x[np.isfinite(x)]
        if x.size == 0:
            return _Part(n=n, nan=nan, inf=inf, zeros=zeros)
        lo, hi = x.min(), x.max()
    finite = int(x.size)
    if (
        fast32
        and scratch is not None
        and finite == n
        and max(abs(float(lo)), abs(float(hi))) < 1e15
    ):
        # The common case, at memory speed: float32 sums and sums of squares (see _sums).
        # Where the mean is small against the spread (weights), the squares need no
        # centring: the mean's part of them is at most 1/16, so subtracting it loses no
        # digits. Otherwise they are centred on the chunk's mean, in a reused buffer.
        total, squares = _sums(x)
        if total * total <= squares * n / 16:
            m2 = squares - total * total / n
            return _Part(n, n, total / n, max(m2, 0.0), float(lo), float(hi), 0, 0, zeros)
        centre = np.float32(total / n)
        rest, squares = _sums(np.subtract(x, centre, out=scratch.view(np.float32)[:n]))
        m2 = squares - rest * rest / n
        mean = float(centre) + rest / n
        return _Part(n, n, mean, max(m2, 0.0), float(lo), float(hi), 0, 0, zeros)
    amax = max(abs(float(lo)), abs(float(hi)))
    if amax > _HUGE:
        # Near the float64 limit: in units of a power of two at most the largest magnitude,
        # so that neither the sum nor the squares overflow (|x / scale| < 2).
        scale = math.ldexp(1.0, math.frexp(amax)[1] - 1)
        xs = x.astype(np.float64) / scale
        mean_s = float(np.sum(xs)) / finite
        ds = xs - mean_s
        m2s = float(np.dot(ds, ds))
        return _Part(n, finite, mean_s * scale, m2s, float(lo), float(hi), nan, inf, zeros, scale)
    mean = float(np.sum(x, dtype=np.float64)) / finite
    if x.dtype.kind == "f" and (
        x.dtype.itemsize != 4 or max(abs(float(lo)), abs(float(hi))) > 1e15
    ):
        # float32 is squared in float32 (fast, centred); other widths, or float32 values whose
        # squares would overflow it, in float64.
        d64 = x.astype(np.float64) - mean
        m2 = float(np.dot(d64, d64))
    elif x.dtype.kind == "f":
        d = x - x.dtype.type(mean)
        m2 = float(np.dot(d, d))
        # d was centred on a rounded mean: correct by the residual.
        rest = float(np.sum(d, dtype=np.float64))
        m2 -= rest * rest / finite
    else:
        d64 = x.astype(np.float64) - mean
        m2 = float(np.dot(d64, d64))
    return _Part(n, finite, mean, max(m2, 0.0), float(lo), float(hi), nan, inf, zeros)


_vector = speedups.kernels if speedups.VECTOR_STATS else None


def _reduce_f32(x: np.ndarray, kernels: ModuleType) -> _Part | None:
    """A contiguous float32 chunk in one pass of the C kernel (min, max, zeros, and float32
    sums of x and x squared, in lanes of 16 within blocks of 1,024, then float64), centred
    where the mean is large against the spread, as in the numpy path below; None where an
    element is not finite or squares could overflow float32 (numpy then reduces it)."""
    if not x.flags.c_contiguous:
        return None
    n, lo, hi, zeros, total, squares = kernels.f32_stats(x)
    if not (math.isfinite(total) and math.isfinite(squares)) or max(-lo, hi) >= 1e15:
        return None
    if total * total <= squares * n / 16:
        return _Part(n, n, total / n, max(squares - total * total / n, 0.0), lo, hi, 0, 0, zeros)
    centre = np.float32(total / n)
    rest, squares = kernels.f32_stats(x, centre)[4:]
    m2 = squares - rest * rest / n
    return _Part(n, n, float(centre) + rest / n, max(m2, 0.0), lo, hi, 0, 0, zeros)


_ROW = 8192
"""Elements per row in :func:`_sums`: OpenBLAS runs a dot product of more than 10,000
elements on its own threads, which spin on a 2-core machine while the reducer threads wait;
rows of 8,192 run on the calling thread, and summing per-row results in float64 is more
accurate than one float32 dot over a chunk."""
_ONES = np.ones((_ROW, 1), np.float32)


def _sums(x: np.ndarray) -> tuple[float, float]:
    """The sum and the sum of squares of a contiguous flat float32 array: float32 within rows
    of :data:`_ROW` elements (BLAS dot products), float64 across rows."""
    if x.size <= _ROW:  # most of a model's values: one row, without the reshaping
        return float(np.add.reduce(x)), float(np.dot(x, x))
    rows = x.size // _ROW
    head = x[: rows * _ROW].reshape(rows, 1, _ROW)
    tail = x[rows * _ROW :]
    total = float(np.matmul(head, _ONES).sum(dtype=np.float64)) + float(np.add.reduce(tail))
    squares = float(np.matmul(head, head.transpose(0, 2, 1)).sum(dtype=np.float64))
    return total, squares + float(np.dot(tail, tail))


_local = threading.local()


def _scratch(n: int) -> np.ndarray | None:
    """A per-thread 4-byte-per-element buffer, reused across chunks (bounded by chunk size)."""
    if n > _SCRATCH_MAX:
        return None
    buf: np.ndarray | None = getattr(_local, "buf", None)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, CHUNK_BYTES // 4), dtype=np.float32)
        _local.buf = buf
    return buf


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    """The process's one reducer thread, made on first use: a command reading thousands of
    values starts one thread, not one per value."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ckptctl-stats")
        return _pool


def _parallel(chunks: Iterable[np.ndarray], fn: Callable[[np.ndarray], _Part]) -> _Part:
    """``fn`` of every chunk, merged in order. A value of one chunk (most of a model's values)
    is reduced on the calling thread; longer ones on two threads, the calling thread and the
    shared one, each taking the next chunk (read and checksummed in turn, under a lock) and
    reducing it while the other reads. Handing every chunk over through a future cost about
    80 microseconds a chunk, a fifth of the time of a 2 GiB value in 2 MiB chunks."""
    it = iter(chunks)
    first = next(it, None)
    if first is None:
        return _Part()
    second = next(it, None)
    if second is None:
        return fn(first)
    mine_first, their_first = [first], [second]  # emptied by the workers
    del first, second
    taking = threading.Lock()
    failed: list[BaseException] = []
    numbers = itertools.count(2)  # of the chunks after the first two

    def work(index: int, start: list[np.ndarray]) -> list[tuple[int, _Part]]:
        # ``start`` holds the first chunk, so that no caller's frame keeps it (or its buffer).
        parts: list[tuple[int, _Part]] = []
        chunk: np.ndarray | None = start.pop()
        try:
            while chunk is not None:
                parts.append((index, fn(chunk)))
                with taking:
                    chunk = None  # let its buffer go before the next read
                    if not failed:
                        chunk = next(it, None)
                        index = next(numbers)
        except BaseException as e:  # a read or checksum error: the caller raises it
            with taking:
                failed.append(e)
        return parts

    other = _shared_pool().submit(work, 1, their_first)
    mine = work(0, mine_first)
    theirs = other.result()
    if failed:
        raise failed[0]
    total = _Part()
    for _, part in sorted(mine + theirs, key=lambda p: p[0]):
        total = total.merge(part)
    return total


def _parallel_positional(chunks: PositionalChunks, fn: Callable[[np.ndarray], _Part]) -> _Part:
    """``fn`` of every chunk, merged in order, with chunks read on both threads at once: the
    calling thread and the shared one each take the next chunk's number, read and checksum
    it (without the GIL) and reduce it, then the chunks' crcs are checked together."""
    numbers = itertools.count()
    failed: list[BaseException] = []

    def work() -> list[tuple[int, _Part]]:
        parts: list[tuple[int, _Part]] = []
        try:
            out = chunks.buffer()
            while not failed:
                index = next(numbers)  # one C call: atomic under the GIL
                if index >= len(chunks):
                    break
                parts.append((index, fn(chunks.read(index, out))))
        except BaseException as e:  # a read error: the caller raises it
            failed.append(e)
        return parts

    other = _shared_pool().submit(work)
    mine = work()
    theirs = other.result()
    if failed:
        raise failed[0]
    chunks.check()
    total = _Part()
    for _, part in sorted(mine + theirs, key=lambda p: p[0]):
        total = total.merge(part)
    return total


def _value_part(ckpt: Checkpoint, entry: Entry, chunk_bytes: int) -> _Part:
    if (entry.nbytes or 0) > chunk_bytes:
        chunks = ckpt.positional_chunks(entry.key, chunk_bytes)
        if chunks is not None:
            return _parallel_positional(chunks, _reduce)
    return _parallel(ckpt.read_chunks(entry.key, chunk_bytes), _reduce)


def value_stats(
    ckpt: Checkpoint, entry: Entry, *, hist_bins: int = 0, chunk_bytes: int = CHUNK_BYTES
) -> ValueStats:
    """Statistics of ``entry``'s stored value, streamed through ``ckpt.read_chunks``."""
    if not entry.is_numeric or entry.dtype == "string":
        for _ in ckpt.read_chunks(entry.key, chunk_bytes):
            pass  # still read (and checksum) the value
        return ValueStats(count=entry.num_elements)
    part = _value_part(ckpt, entry, chunk_bytes)
    out = ValueStats(count=part.n, nan=part.nan, inf=part.inf)
    if part.n:
        out.zeros = part.zeros / part.n
    if part.finite:
        out.min, out.max, out.mean = part.lo, part.hi, part.mean
        out.std = part.std
    if hist_bins and part.finite:
        out.hist = _histogram(ckpt, entry, hist_bins, part.lo, part.hi, chunk_bytes)
        out.hist_range = [part.lo, part.hi]
    return out


def _histogram(
    ckpt: Checkpoint, entry: Entry, bins: int, lo: float, hi: float, chunk_bytes: int
) -> list[int]:
    counts = np.zeros(bins, dtype=np.int64)
    if lo == hi:
        hi = lo + 1.0
    for chunk in ckpt.read_chunks(entry.key, chunk_bytes):
        x = chunk.reshape(-1)
        if x.dtype.kind == "c":
            return []
        if x.dtype.kind == "b":  # as 0 and 1 (np.histogram warns when it converts bools)
            x = x.view(np.uint8)
        elif x.dtype.kind not in "fiu":
            x = x.astype(np.float32)
        if x.dtype.kind == "f":
            x = x[np.isfinite(x)]
        counts += np.histogram(x, bins=bins, range=(lo, hi))[0]
    return [int(c) for c in counts]

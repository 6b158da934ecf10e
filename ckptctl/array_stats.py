"""numpy's reductions of chunks held as arrays: every dtype :mod:`ckptctl.stats` does not
reduce from the stored bytes itself (float16/64, ints past a few thousand elements, complex,
ml_dtypes types, chunks with NaN or Inf), and histograms.

Imported when such a value is read, so that the statistics of a float32 checkpoint never
import numpy.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from ckptctl.chunks import CHUNK_BYTES
from ckptctl.stats import _Part, _vector, reduce_f32

if TYPE_CHECKING:
    from ckptctl.reader import Checkpoint, Entry

_SCRATCH_MAX = CHUNK_BYTES // 4  # elements: one float32 chunk; larger chunks go without

_HUGE = 2.0**400
"""Above this magnitude a chunk is scaled by a power of two before it is summed and squared:
squares of up to 2**800, summed over any realistic count, still fit in a float64."""


def reduce_chunk(chunk: np.ndarray) -> _Part:
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
    if fast32 and _vector is not None and x.flags.c_contiguous:
        part = reduce_f32(x, _vector)
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


def histogram(
    ckpt: Checkpoint, entry: Entry, bins: int, lo: float, hi: float, chunk_bytes: int
) -> list[int]:
    counts = np.zeros(bins, dtype=np.int64)
    # Edges in float64, whatever the dtype: two neighbouring float32 values (a trained slot's)
    # leave no room for float32 bins between them. Halved where their distance overflows.
    scale = 1.0 if math.isfinite(float(hi) - float(lo)) else 0.5
    first, last = np.float64(lo) * scale, np.float64(hi) * scale
    one_bin = not bool((np.diff(np.linspace(first, last, bins + 1)) > 0).all())
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
        if one_bin:  # one value, or values too close for distinct edges: all in the first
            counts[0] += x.size
            continue
        if scale != 1.0:
            x = x.astype(np.float64) * scale
        counts += np.histogram(x, bins=bins, range=(first, last))[0]
    return [int(c) for c in counts]

"""Whether two values are equal, and how far apart they are: the one rule every command uses.

``diff`` (two checkpoints), ``restore`` (a restored variable against the stored tensor, and
two instances' outputs, and golden outputs), ``migrate`` (the written checkpoint against the
migrated model) and ``trend`` (one checkpoint against the one before) all compare through
:func:`compare_streams` or :func:`compare_arrays`, element by element, B the reference:

* numbers are equal when ``|a - b| <= atol + rtol * |b|`` (numpy's ``isclose``); the default
  ``atol = rtol = 0`` asks for the same number, so ``-0.0`` equals ``0.0``;
* NaN equals NaN in the same place (whatever its payload): a restored NaN where the file
  holds NaN is a faithful restore, and a checkpoint compared with its copy is equal. A NaN on
  one side only is a difference (counted in ``nan_mismatch`` too);
* an infinity equals only the same infinity, whatever the tolerances;
* integers are compared exactly in their own width (an int64 is never rounded through a
  float), under the same tolerances; strings and bools exactly, whatever the tolerances.

Where a value should be an exact copy (a restored variable against the stored tensor, a
migrated checkpoint read back), :func:`identical_streams` and :func:`identical` ask for more:
the same bytes, so ``-0.0`` against ``0.0``, or a NaN with another payload, is a difference.
Nothing in assignment or saving changes a bit, and a restore that did would not be a faithful
one.

``max_abs_diff`` is the largest ``|a - b|`` over elements that are not NaN on either side
(an infinity against a finite number is infinitely far); ``max_rel_diff`` the largest
``|a - b| / |b|``, infinite where B is 0 and A is not. Both are ``None`` for strings and bools.

Values stream in chunks (:data:`ckptctl.chunks.CHUNK_BYTES` per side): memory stays bounded by
the chunk size, and no numpy warning is raised whatever the values hold (all NaN included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ckptctl.chunks import CHUNK_BYTES, split_flat


@dataclass
class Comparison:
    """What comparing two values (or parts of them, accumulated) found."""

    max_abs_diff: float | None = 0.0
    max_rel_diff: float | None = 0.0
    num_differing: int = 0
    nan_mismatch: int = 0
    num_elements: int = 0
    sq_diff: float = 0.0
    """With ``norms``: the sum of ``|a - b|**2`` over elements equal by no rule above and not NaN
    on either side (elements equal by the rule add 0)."""
    sq_ref: float = 0.0
    """With ``norms``: the sum of ``|b|**2`` over B's finite elements."""

    @property
    def equal(self) -> bool:
        return self.num_differing == 0

    def relative_change(self) -> float | None:
        """``||a - b|| / ||b||`` (with ``norms``): 0 when nothing differs (even where B is all
        zeros), NaN when an element is NaN on one side only, infinite when B's norm is 0."""
        if self.nan_mismatch:
            return math.nan
        if self.sq_diff == 0:
            return 0.0
        if self.sq_ref == 0:
            return math.inf
        return math.sqrt(self.sq_diff) / math.sqrt(self.sq_ref)


def compare_streams(
    chunks_a: Iterable[np.ndarray],
    chunks_b: Iterable[np.ndarray],
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    dtype: str = "",
    norms: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Comparison:
    """Compare two values given as flat chunks (of any boundaries).

    ``dtype`` is the values' stored dtype name (``bfloat16``), for exotic floats numpy sees as
    raw bytes; ``progress(elements compared so far)`` is called after each piece. Both streams
    are read to their end, so a checksum checked after the last chunk is checked. Elements one
    side has beyond the other's end count as differing.
    """
    out = Comparison()
    seen = 0
    left: list[int] = [0, 0]
    for a, b in aligned_chunks(iter(chunks_a), iter(chunks_b), left):
        compare_chunk(a, b, out, atol=atol, rtol=rtol, dtype=dtype, norms=norms)
        seen += a.size
        if progress is not None:
            progress(seen)
    if left[0] or left[1]:
        out.num_differing += left[0] + left[1]
        out.num_elements += left[0] + left[1]
        if out.max_abs_diff is not None:
            out.max_abs_diff = out.max_rel_diff = math.inf
    return out


def identical_streams(chunks_a: Iterable[np.ndarray], chunks_b: Iterable[np.ndarray]) -> bool:
    """Whether two values given as flat chunks (of any boundaries, the same dtype) hold the
    same bytes, element by element; strings compare as equal strings. Both streams are read to
    their end (a checksum after the last chunk is checked)."""
    left: list[int] = [0, 0]
    same = True
    for a, b in aligned_chunks(iter(chunks_a), iter(chunks_b), left):
        if same:
            if a.dtype == object or b.dtype == object:
                same = bool(np.array_equal(a, b))
            else:
                same = a.dtype == b.dtype and same_bytes(a, b)
    return same and left == [0, 0]


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays (not of objects) hold the same bytes, compared in place as 8-byte
    words where their size allows: ``a.tobytes() == b.tobytes()`` without the two copies, six
    times faster on a restore's 1 GiB check."""
    if a.nbytes != b.nbytes:
        return False
    x, y = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    word = np.uint64 if x.nbytes % 8 == 0 else np.uint8
    return bool(np.array_equal(x.view(word), y.view(word)))


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays are bit-for-bit copies: same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype != object and a.nbytes <= CHUNK_BYTES:
        return same_bytes(a, b)  # one chunk (most values): no stream to align
    return identical_streams(split_flat(a, CHUNK_BYTES), split_flat(b, CHUNK_BYTES))


def compare_arrays(
    a: np.ndarray, b: np.ndarray, *, atol: float = 0.0, rtol: float = 0.0, norms: bool = False
) -> Comparison:
    """Compare two whole arrays under the rule above. Different shapes differ everywhere
    (``max_abs_diff`` infinite); different numeric dtypes are compared as their common type."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        n = max(a.size, b.size, 1)
        return Comparison(math.inf, math.inf, n, 0, n)
    if a.dtype != b.dtype:
        a, b = _common(a, b)
    return compare_streams(
        split_flat(a, CHUNK_BYTES), split_flat(b, CHUNK_BYTES), atol=atol, rtol=rtol,
        dtype=a.dtype.name, norms=norms,
    )  # fmt: skip


def _common(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
        common = np.result_type(a.dtype, b.dtype)
    elif _numeric(a) and _numeric(b):
        common = np.dtype(np.float64)  # bfloat16, float8 (ml_dtypes): widen
    else:
        return a, b  # compared exactly, element by element
    return a.astype(common), b.astype(common)


def _numeric(x: np.ndarray) -> bool:
    return x.dtype.kind in "biufc" or (x.dtype.kind == "V" and "float" in x.dtype.name)


def aligned_chunks(
    chunks_a: Iterator[np.ndarray], chunks_b: Iterator[np.ndarray], left: list[int] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Zip two streams of flat chunks into pieces of equal length, whatever their boundaries.

    Both streams are read to the end; with ``left``, the elements one side has beyond the
    other's end are counted into ``left[0]`` (A) and ``left[1]`` (B)."""
    empty = np.empty(0)
    a = b = empty
    while True:
        if a.size == 0:
            a = next(chunks_a, empty)
        if b.size == 0:
            b = next(chunks_b, empty)
        if a.size == 0 or b.size == 0:
            break
        n = min(a.size, b.size)
        yield a[:n], b[:n]
        a, b = a[n:], b[n:]
    extra = [int(a.size) + sum(int(c.size) for c in chunks_a)]
    extra.append(int(b.size) + sum(int(c.size) for c in chunks_b))
    if left is not None:
        left[0] += extra[0]
        left[1] += extra[1]


def compare_chunk(
    a: np.ndarray,
    b: np.ndarray,
    out: Comparison,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    dtype: str = "",
    norms: bool = False,
) -> None:
    """Compare two flat chunks of the same length, accumulating into ``out``."""
    if a.dtype != b.dtype:
        a, b = _common(a, b)
    out.num_elements += int(a.size)
    kind = a.dtype.kind
    exotic = kind == "V" and ("float" in dtype or "float" in a.dtype.name)
    if kind in "iu":
        _compare_integers(a, b, atol, rtol, out)
    elif kind in "fc" or exotic:
        _compare_floats(a, b, atol, rtol, out)
    else:
        # Strings, bools and anything else: exactly, element by element.
        out.max_abs_diff = out.max_rel_diff = None
        out.num_differing += int(np.count_nonzero(a != b))
        if norms and kind == "b":
            _accumulate_norms(a.astype(np.float64), b.astype(np.float64), out)
        return
    if norms:
        _accumulate_norms(a, b, out)


def _compare_floats(
    a: np.ndarray, b: np.ndarray, atol: float, rtol: float, out: Comparison
) -> None:
    if a.dtype in (np.float32, np.float64) and _compare_finite_floats(a, b, atol, rtol, out):
        return
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    x, y = a.astype(wide), b.astype(wide)
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    both_nan = nan_x & nan_y
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same = x == y
        absdiff = np.abs(x - y)
        absdiff[same | nan_x | nan_y] = 0.0
        abs_y = np.abs(y)
        close = absdiff <= atol + rtol * abs_y
        # An infinity equals only the same infinity, whatever the tolerances.
        close &= np.isfinite(x) & np.isfinite(y)
        close |= same | both_nan
        rel = absdiff / abs_y
        rel[absdiff == 0] = 0.0
        rel[np.isnan(rel)] = np.inf
    _accumulate(out, absdiff, rel, close)
    out.nan_mismatch += int(np.count_nonzero(nan_x != nan_y))


def _compare_finite_floats(
    a: np.ndarray, b: np.ndarray, atol: float, rtol: float, out: Comparison
) -> bool:
    """The common case at memory speed, in the values' own precision: identical bytes, or
    differences between finite values. False (nothing recorded) when a NaN or Inf is there."""
    bits = np.dtype(f"u{a.dtype.itemsize}")
    if np.array_equal(a.view(bits), b.view(bits)):
        _accumulate_max(out, 0.0, 0.0)
        return True
    with np.errstate(all="ignore"):
        absdiff = np.abs(np.subtract(a, b))
        worst = float(absdiff.max())
        if not math.isfinite(worst):
            return False  # NaN or Inf on a side, or an overflowing difference
        abs_b = np.abs(b)
        differing = int(np.count_nonzero(_differing(absdiff, abs_b, atol, rtol)))
        changed = absdiff > 0
        rel = np.divide(absdiff, abs_b, where=changed, out=np.zeros_like(absdiff))
        # Found in the values' precision, reported exactly (in float64) at that element; the
        # largest difference is exact already (a float32 difference of float32 values rounds
        # to the nearest float32 of the exact one, and so keeps the order).
        i = int(rel.argmax())
        x, y = float(a[i]), float(b[i])
        worst_rel = _rel(x, y)
        j = int(absdiff.argmax())
        worst = float(np.abs(np.float64(a[j]) - b[j]))
    out.num_differing += differing
    _accumulate_max(out, worst, worst_rel)
    return True


def compare_finite_many(
    pairs: Sequence[tuple[bytes, bytes]], dtype: str, *, atol: float = 0.0, rtol: float = 0.0
) -> list[Comparison | None]:
    """:func:`compare_streams` of many small float32 or float64 values at once, each given as
    the stored bytes of A and of B (of one length, not empty), in one pass over them all: a
    diff of 100,000 changed values spent most of its time in numpy's per-call overhead.

    The same results as comparing each pair alone (:func:`_compare_finite_floats`): the same
    elements are found the same way, in the values' own precision. None for a pair where a
    NaN or Inf is on a side (the caller compares that one alone)."""
    if dtype not in ("float32", "float64") or not pairs:
        raise ValueError(f"compare_finite_many: float32 or float64 values, not {dtype!r}")
    kind = np.dtype(np.float32 if dtype == "float32" else np.float64).newbyteorder("<")
    counts = np.array([len(x) for x, _ in pairs], dtype=np.int64) // kind.itemsize
    if counts.min() <= 0 or any(len(x) != len(y) for x, y in pairs):
        raise ValueError("compare_finite_many: pairs of one length, not empty")
    a = np.frombuffer(b"".join(x for x, _ in pairs), dtype=kind)
    b = np.frombuffer(b"".join(y for _, y in pairs), dtype=kind)
    starts = np.zeros(len(pairs), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    with np.errstate(all="ignore"):
        absdiff = np.abs(np.subtract(a, b))
        worst = np.maximum.reduceat(absdiff, starts)  # NaN or Inf where a side has one
        abs_b = np.abs(b)
        differing = np.add.reduceat(_differing(absdiff, abs_b, atol, rtol), starts, dtype=np.int64)
        changed = absdiff > 0
        rel = np.divide(absdiff, abs_b, where=changed, out=np.zeros_like(absdiff))
        i = _first_argmax(rel, starts, counts)
        j = _first_argmax(absdiff, starts, counts)
    finite = np.isfinite(worst)
    xs, ys = a[i].astype(np.float64), b[i].astype(np.float64)
    ws = np.abs(a[j].astype(np.float64) - b[j])
    out: list[Comparison | None] = []
    for k in range(len(pairs)):
        if not finite[k]:
            out.append(None)
            continue
        worst_rel = _rel(float(xs[k]), float(ys[k]))
        out.append(
            Comparison(
                max(0.0, float(ws[k])), max(0.0, worst_rel), int(differing[k]), 0, int(counts[k])
            )
        )
    return out


def _differing(absdiff: np.ndarray, abs_b: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Where finite values differ under the tolerances (``|a - b| > atol + rtol * |b|``)."""
    return absdiff != 0 if atol == 0 and rtol == 0 else absdiff > abs_b * rtol + atol


def _rel(x: float, y: float) -> float:
    """``|x - y| / |y|`` exactly (in float64), infinite where B is 0 and A is not."""
    return abs(x - y) / abs(y) if y != 0 else (math.inf if x != y else 0.0)


def _first_argmax(x: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The index (into ``x``) of the first largest element of each segment of ``x`` (from each
    of ``starts``, ``counts`` long), as ``argmax`` finds it in the segment alone."""
    top = np.maximum.reduceat(x, starts)
    at = np.flatnonzero(x == np.repeat(top, counts))
    if not at.size:
        return starts
    # The first such element of each segment: segments are in order, so the first index at
    # or after each segment's start (none in a segment whose largest is NaN: its start).
    first = at[np.minimum(np.searchsorted(at, starts), at.size - 1)]
    return np.where((first >= starts) & (first < starts + counts), first, starts)


def _accumulate_max(out: Comparison, abs_diff: float, rel_diff: float) -> None:
    if out.max_abs_diff is not None and out.max_rel_diff is not None:
        out.max_abs_diff = max(out.max_abs_diff, abs_diff)
        out.max_rel_diff = max(out.max_rel_diff, rel_diff)


def _compare_integers(
    a: np.ndarray, b: np.ndarray, atol: float, rtol: float, out: Comparison
) -> None:
    # |a - b| exactly, in the unsigned type of the same width: modular subtraction of the
    # smaller from the larger cannot overflow, where signed subtraction can.
    unsigned = np.dtype(f"u{a.dtype.itemsize}")
    ua, ub = a.astype(unsigned), b.astype(unsigned)
    exact = np.where(a >= b, ua - ub, ub - ua)
    absdiff = exact.astype(np.float64)
    abs_y = np.abs(b.astype(np.float64))
    close = absdiff <= atol + rtol * abs_y
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(absdiff == 0, 0.0, absdiff / abs_y)
    _accumulate(out, absdiff, rel, close)


def _accumulate(out: Comparison, absdiff: np.ndarray, rel: np.ndarray, close: np.ndarray) -> None:
    out.num_differing += int(close.size - np.count_nonzero(close))
    if absdiff.size and out.max_abs_diff is not None and out.max_rel_diff is not None:
        out.max_abs_diff = max(out.max_abs_diff, float(absdiff.max()))
        out.max_rel_diff = max(out.max_rel_diff, float(rel.max()))


def _accumulate_norms(a: np.ndarray, b: np.ndarray, out: Comparison) -> None:
    """Sums of squares in float64 (complex values by magnitude)."""
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    x, y = a.astype(wide), b.astype(wide)
    with np.errstate(all="ignore"):
        d = np.abs(x - y)
        d[(x == y) | np.isnan(x) | np.isnan(y)] = 0.0
        fy = np.abs(y[np.isfinite(y)])
        out.sq_diff += float(np.dot(d, d))
        out.sq_ref += float(np.dot(fy, fy))

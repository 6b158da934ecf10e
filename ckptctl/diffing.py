"""``diff``: two checkpoints compared value by value, as a :class:`DiffReport`.

Values are paired by checkpoint key, then (object-based checkpoints only) by object path:

1. the same key on both sides;
2. the same object path under different keys;
3. the same path once the first component is replaced: a child of the root present on only
   one side (``model``) whose remaining values have exactly the same sub-paths as one on the
   other side (``net``), so ``model.dense1._kernel`` pairs with ``net.dense1._kernel``. The root
   itself counts as such a group (``.``), so a checkpoint whose root is the model
   (``dense1.kernel``) pairs with one that holds it as a child (``model.dense1.kernel``). A
   group pairs only when exactly one group on the other side has its structure. Optimizer
   slot paths that name a renamed variable (``m(model.dense1.kernel)``) follow the rename.

Each pair with the same dtype and shape is compared one pair at a time, streaming both sides
in chunks of at most ``chunk_bytes``, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ckptctl._renamed import deprecated_alias, json_names
from ckptctl.bulk import collection_paused
from ckptctl.chunks import CHUNK_BYTES
from ckptctl.compare import Comparison, compare_finite_many, compare_streams, identical
from ckptctl.compare import aligned_chunks as aligned_chunks
from ckptctl.errors import UsageError
from ckptctl.location import Location, locate
from ckptctl.names import natural_order, tf1_training_state
from ckptctl.objgraph import ROOT, KeyInfo
from ckptctl.reader import BackendName, Checkpoint, Entry, open_located, open_location

if TYPE_CHECKING:
    import numpy as np

    from ckptctl.restoration import RestoreOptions

ROOT_GROUP = ROOT  # the root itself counts as a group

PairedBy = Literal["key", "path"]
ChangeKind = Literal["values", "shape", "dtype", "shape+dtype"]
ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(label, bytes_done, bytes_total)`` while values are compared."""


# ---------------------------------------------------------------- the report


@dataclass
class OnlyIn:
    """A value present on one side only."""

    key: str
    path: str | None
    shape: list[int]
    dtype: str


@dataclass
class ChangedValue:
    """A value present on both sides that is not equal under the tolerances.

    ``key``/``path`` are A's, ``b_key``/``b_path`` B's (the same unless paired by path). When
    shape or dtype differ, nothing is compared and the statistics are ``None``. For string and
    bool values (compared exactly) ``max_abs_diff`` and ``max_rel_diff`` are ``None``.
    """

    key: str
    path: str | None
    a_shape: list[int]
    b_shape: list[int]
    a_dtype: str
    b_dtype: str
    max_abs_diff: float | None
    max_rel_diff: float | None
    kind: ChangeKind
    num_elements: int
    num_differing: int | None
    nan_mismatch: int | None
    b_key: str
    b_path: str | None
    paired_by: PairedBy
    equal: bool = False


@dataclass
class Renamed:
    """A child of the root paired with a differently named one by structure (``.``: the root)."""

    a: str
    b: str
    values: int


@dataclass
class DiffReport:
    a: str
    b: str
    a_naming: str
    b_naming: str
    """How each side names its values (JSON ``a_format``, ``b_format``)."""
    equal: bool
    atol: float
    rtol: float
    only_in_a: list[OnlyIn]
    only_in_b: list[OnlyIn]
    changed: list[ChangedValue]
    unchanged: int
    compared: int
    a_values: int
    b_values: int
    paired_by_path: int = 0
    renamed: list[Renamed] = field(default_factory=list)
    filter: str | None = None
    model_only: bool = False
    notes: list[str] = field(default_factory=list)

    a_format = deprecated_alias("a_format", "a_naming")
    b_format = deprecated_alias("b_format", "b_naming")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: infinite differences become the string ``"inf"``."""
        d = json_names(asdict(self), {"a_naming": "a_format", "b_naming": "b_format"})
        for c in d["changed"]:
            for name in ("max_abs_diff", "max_rel_diff"):
                c[name] = json_number(c[name])
        return d


def json_number(x: float | None) -> float | str | None:
    """``x`` as JSON allows it: infinities and NaN become ``"inf"``, ``"-inf"``, ``"nan"``."""
    if x is None or math.isfinite(x):
        return x
    return str(x)


# ---------------------------------------------------------------- the comparison


def diff(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    filter: str | None = None,
    model_only: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    progress: ProgressCallback | None = None,
    backend: BackendName = "auto",
    model: str | Callable[..., Any] | None = None,
    options: RestoreOptions | None = None,
    verify: bool = True,
) -> DiffReport:
    """Compare the checkpoints at ``a`` and ``b`` (any form :func:`ckptctl.locate` accepts).

    Values are equal when, element by element, ``|a - b| <= atol + rtol * |b|`` (numpy's
    ``isclose``); NaN equals NaN in the same place, an infinity only the same infinity, and
    strings and bools are compared exactly. ``filter`` keeps values whose key or object path
    (on either side) matches the glob; ``model_only`` leaves out optimizer state and
    ``save_counter``. A value that cannot be read raises ``CheckpointError`` naming the file.

    A TensorFlow checkpoint and a Keras weights file name their values differently; with
    ``model`` (and restore ``options``), the checkpoint is restored into the model, proven as
    ``restore`` proves it, and compared as Keras's ``save_weights`` would write it.
    ``verify=False`` skips the crc32c check of the values read.
    """
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not (tol >= 0 and math.isfinite(tol)):
            raise UsageError(f"{name} must be a finite number >= 0, not {tol}")
    if chunk_bytes < 1:
        raise UsageError(f"chunk_bytes must be positive, not {chunk_bytes}")
    # Both paths are resolved before either is opened: a typo fails before TensorFlow loads.
    loc_a, loc_b = locate(a), locate(b)
    if model is not None and loc_a.is_keras != loc_b.is_keras:
        return _diff_through_model(
            loc_a, loc_b, model, options, backend, (atol, rtol, filter, model_only, chunk_bytes),
            progress, verify,
        )  # fmt: skip
    with (
        open_located(loc_a, a, backend, verify=verify) as ca,
        open_located(loc_b, b, backend, verify=verify) as cb,
    ):
        report = _diff(ca, cb, atol, rtol, filter, model_only, chunk_bytes, progress)
    if model is None and loc_a.is_keras != loc_b.is_keras:
        other = loc_b if loc_a.is_keras else loc_a
        kind = "a Keras 2 HDF5 file" if other.source == "h5" else "a TensorFlow checkpoint"
        report.notes.append(
            f"one side is {kind}, the other a Keras 3 weights file: their values have "
            "different names; pass --model to compare them through the model"
        )
    return report


UNRESTORED_OPTIMIZER = (
    "model values only: the optimizer was not restored, so its state is not compared "
    "(save_counter neither); pass --optimizer (the one the checkpoint was trained with) to "
    "compare it too"
)
LEGACY_OPTIMIZER = (
    "model values only: Keras 3 restores no optimizer from a Keras 2 HDF5 file, so the "
    "optimizers' states are not compared"
)
"""The notes of a comparison through the model without the optimizer: each stands for the
``--model-only`` note."""


def _diff_through_model(
    loc_a: Location,
    loc_b: Location,
    model: str | Callable[..., Any],
    options: RestoreOptions | None,
    backend: BackendName,
    how: tuple[float, float, str | None, bool, int],
    progress: ProgressCallback | None,
    verify: bool,
) -> DiffReport:
    """The TensorFlow side restored into ``model`` and saved by Keras, against the Keras side."""
    import shutil
    import tempfile

    from ckptctl.restoration import restore_into
    from ckptctl.restoration.keras_match import attach_optimizer

    tf_side = loc_b if loc_a.is_keras else loc_a
    report, live, optimizer = restore_into(tf_side.name, model, options)
    if not report.ok or live is None:
        counts = ", ".join(f"{n} {w}" for w, n in report.counts().items() if n)
        raise UsageError(
            f"{tf_side.name} does not restore into {report.model}"
            + (f" ({counts})" if counts else ""),
            f"run: ckptctl restore {tf_side.name} --model {report.model}, to see why",
        )
    atol, rtol, filter, model_only, chunk_bytes = how
    # Without --optimizer, only the model was restored: the optimizer's state is on the Keras
    # side alone, so the two are compared as models, which the note says.
    unrestored_optimizer = optimizer is None and not model_only
    how = (atol, rtol, filter, model_only or optimizer is None, chunk_bytes)
    scratch = Path(tempfile.mkdtemp(prefix="ckptctl-"))
    try:
        if optimizer is not None:
            attach_optimizer(live, optimizer)
        saved = scratch / "through-model.weights.h5"
        live.save_weights(str(saved))
        via = locate(saved)
        sides = (via, loc_b) if tf_side is loc_a else (loc_a, via)
        with (
            open_location(sides[0], backend, verify=verify) as ca,
            open_location(sides[1], backend, verify=verify) as cb,
        ):
            out = _diff(ca, cb, *how, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if tf_side is loc_a:  # named as the file names its values, not as it was compared
        out.a, out.a_naming = loc_a.name, report.naming
    else:
        out.b, out.b_naming = loc_b.name, report.naming
    out.notes.append(
        f"{tf_side.name} was restored into {report.model} ({report.restored} values, "
        "verified) and is compared as Keras's save_weights writes it"
    )
    if unrestored_optimizer:
        out.notes.append(LEGACY_OPTIMIZER if tf_side.source == "h5" else UNRESTORED_OPTIMIZER)
    return out


class _Value(NamedTuple):
    """One side's value (a tuple: two are made per value of both checkpoints). Its key is a
    field of its own, not read through the entry: pairing asks for it several times a value.

    What the object graph says of it (:attr:`info`, :attr:`path`) is looked up when asked
    for, and the graph is parsed then: values that pair by key and compare equal need none
    of it (a checkpoint against its copy: half the work of the diff)."""

    key: str
    entry: Entry
    ckpt: Checkpoint

    @property
    def info(self) -> KeyInfo | None:
        return self.ckpt.key_infos.get(self.key)

    @property
    def path(self) -> str | None:
        info = self.info
        return info.path if info else None


def _values(ckpt: Checkpoint) -> list[_Value]:
    # tuple.__new__ builds each in C: _Value(...) runs a Python __new__, 100,000 times.
    make = tuple.__new__
    return [make(_Value, (e.key, e, ckpt)) for e in ckpt.entries]


class _Pair(NamedTuple):
    a: _Value
    b: _Value
    by: PairedBy


# The cyclic collector paused: a diff of 100,000 values makes a million small objects (pairs,
# comparisons, bytes read) and no cycles, which it would walk again and again (a quarter of
# the diff's time).
@collection_paused()
def _diff(
    ca: Checkpoint,
    cb: Checkpoint,
    atol: float,
    rtol: float,
    pattern: str | None,
    model_only: bool,
    chunk_bytes: int,
    progress: ProgressCallback | None,
) -> DiffReport:
    for ckpt in (ca, cb):
        problems = ckpt.file_problems()
        if problems:
            raise problems[0]  # a missing or short data shard: its values cannot be compared
    cb.share_graph(ca)  # two checkpoints of one model: their graph is parsed once
    a_values, b_values = _values(ca), _values(cb)
    pairs, only_a, only_b, renamed = pair_values(a_values, b_values)

    def selected(v: _Value) -> bool:
        return pattern is None or _matches(v, pattern)

    def model(v: _Value) -> bool:
        return not model_only or is_model_value(v.key, v.info)

    pairs = [p for p in pairs if model(p.a) and model(p.b) and (selected(p.a) or selected(p.b))]
    only_a = [v for v in only_a if model(v) and selected(v)]
    only_b = [v for v in only_b if model(v) and selected(v)]

    comparable = [p for p in pairs if _same_layout(p)]
    total = sum(_size(p.a.entry) for p in comparable)
    done = 0
    changed: list[ChangedValue] = []
    unchanged = 0
    for p, known in zip(pairs, _batched(ca, cb, pairs, atol, rtol, chunk_bytes), strict=True):
        if not _same_layout(p):
            changed.append(_changed(p, None))
            continue
        if known is not None:  # compared with the others of its batch
            stats = known
            done += _size(p.a.entry)
            if progress is not None:
                progress(p.a.path or p.a.key, done, total)
        else:
            stats = _compare_pair(ca, cb, p, atol, rtol, chunk_bytes, progress, done, total)
            done += _size(p.a.entry)
        if stats.equal:
            unchanged += 1
        else:
            changed.append(_changed(p, stats))
    changed.sort(key=_change_order)

    notes = []
    for side, ckpt in (("A", ca), ("B", cb)):
        for note in (ckpt.location.note, getattr(ckpt, "backend_note", None)):
            if note:
                notes.append(f"{side}: {note}")
    return DiffReport(
        a=ca.prefix,
        b=cb.prefix,
        a_naming=ca.naming,
        b_naming=cb.naming,
        equal=not (changed or only_a or only_b),
        atol=atol,
        rtol=rtol,
        only_in_a=[_only(v) for v in sorted(only_a, key=_natural)],
        only_in_b=[_only(v) for v in sorted(only_b, key=_natural)],
        changed=changed,
        unchanged=unchanged,
        compared=len(comparable),
        a_values=len(only_a) + len(pairs),
        b_values=len(only_b) + len(pairs),
        paired_by_path=sum(p.by == "path" for p in pairs),
        renamed=renamed,
        filter=pattern,
        model_only=model_only,
        notes=notes,
    )


_BATCH_VALUES = 2048
_BATCH_BYTES = 4 << 20
_BATCHED_MAX = 64 << 10
"""Pairs of values up to this size are compared by their stored bytes in batches (of at
most ``_BATCH_VALUES`` pairs and about ``_BATCH_BYTES``), before any other work on them
(:func:`_batched`)."""


def _batched(
    ca: Checkpoint,
    cb: Checkpoint,
    pairs: list[_Pair],
    atol: float,
    rtol: float,
    chunk_bytes: int,
) -> Iterator[Comparison | None]:
    """For each pair, its comparison where the pair's batch settles it; None where it is to be
    compared value by value (:func:`_compare_pair`).

    The small values of one layout are read as stored bytes, checked against their
    checksums, a batch at a time: the same bytes are equal under every rule; float32 and
    float64 values that differ (each at most ``chunk_bytes``: larger ones stream in chunks)
    are compared all at once (:func:`compare_finite_many`), but for those holding a NaN or
    Inf."""
    start = 0
    while start < len(pairs):
        end, held = start, 0
        while end < len(pairs) and end - start < _BATCH_VALUES and held < _BATCH_BYTES:
            held += _size(pairs[end].a.entry)
            end += 1
        batch = pairs[start:end]
        small = [
            p
            for p in batch
            if _size(p.a.entry) <= _BATCHED_MAX and p.a.entry.nbytes is not None and _same_layout(p)
        ]
        raw_a = ca.read_raw_many([p.a.key for p in small])
        raw_b = cb.read_raw_many([p.b.key for p in small])
        known: dict[int, Comparison] = {}
        differing: dict[str, list[tuple[_Pair, bytes, bytes]]] = {}
        for p, x, y in zip(small, raw_a, raw_b, strict=True):
            if x is None or y is None:
                continue
            if x == y:
                known[id(p)] = Comparison(num_elements=p.a.entry.num_elements)
            elif (
                p.a.entry.dtype in _BATCHED_FLOATS
                and len(x) == len(y) == p.a.entry.nbytes
                and len(x) <= chunk_bytes
            ):
                differing.setdefault(p.a.entry.dtype, []).append((p, x, y))
        for dtype, group in differing.items():
            found = compare_finite_many([(x, y) for _, x, y in group], dtype, atol=atol, rtol=rtol)
            for (p, _, _), stats in zip(group, found, strict=True):
                if stats is not None:
                    known[id(p)] = stats
        yield from (known.get(id(p)) for p in batch)
        start = end


_BATCHED_FLOATS = frozenset({"float32", "float64"})


def _compare_pair(
    ca: Checkpoint,
    cb: Checkpoint,
    p: _Pair,
    atol: float,
    rtol: float,
    chunk_bytes: int,
    progress: ProgressCallback | None,
    done: int,
    total: int,
) -> Comparison:
    """Stream both values in chunks and compare them piece by piece (:mod:`ckptctl.compare`)."""
    size = _size(p.a.entry)
    whole = size <= chunk_bytes and _size(p.b.entry) <= chunk_bytes
    bytes_differ = False  # known from the stored bytes, where the format has them
    if whole:
        # One chunk each (most of a model's values): as bytes first where the format stores
        # them so (no array for a value that did not change; one that did is read again).
        raw_a = ca.read_raw(p.a.key)
        raw_b = cb.read_raw(p.b.key) if raw_a is not None else None
        if raw_a is not None and raw_a == raw_b:
            if progress is not None:
                progress(p.a.path or p.a.key, done + size, total)
            return Comparison(num_elements=p.a.entry.num_elements)
        bytes_differ = raw_a is not None and raw_b is not None
    count = max(1, p.a.entry.num_elements)
    label = p.a.path or p.a.key

    def report(seen: int) -> None:
        if progress is not None:
            progress(label, done + size * seen // count, total)

    chunks_a: Iterable[np.ndarray]
    chunks_b: Iterable[np.ndarray]
    if whole:
        # Read whole, without the streams.
        a, b = ca.read(p.a.key).reshape(-1), cb.read(p.b.key).reshape(-1)
        if not bytes_differ and identical(a, b):
            # The same bytes are equal values under every rule and tolerance (NaN in place
            # included): most values of two checkpoints of one run, between saves that did
            # not touch them, and all of a checkpoint against its copy.
            if progress is not None:
                progress(label, done + size, total)
            return Comparison(num_elements=int(a.size))
        chunks_a, chunks_b = [a], [b]
    else:
        chunks_a = ca.read_chunks(p.a.key, chunk_bytes)
        chunks_b = cb.read_chunks(p.b.key, chunk_bytes)
    result = compare_streams(
        chunks_a, chunks_b,
        atol=atol, rtol=rtol, dtype=p.a.entry.dtype, progress=report,
    )  # fmt: skip
    if progress is not None and result.num_elements == 0:
        progress(label, done + size, total)
    return result


def _same_layout(p: _Pair) -> bool:
    return p.a.entry.dtype == p.b.entry.dtype and p.a.entry.shape == p.b.entry.shape


def _size(e: Entry) -> int:
    return e.nbytes if e.nbytes is not None else e.num_elements


def _only(v: _Value) -> OnlyIn:
    return OnlyIn(key=v.key, path=v.path, shape=list(v.entry.shape), dtype=v.entry.dtype)


def _changed(p: _Pair, stats: Comparison | None) -> ChangedValue:
    ea, eb = p.a.entry, p.b.entry
    kind: ChangeKind
    if stats is not None:
        kind = "values"
    elif ea.shape != eb.shape and ea.dtype != eb.dtype:
        kind = "shape+dtype"
    else:
        kind = "shape" if ea.shape != eb.shape else "dtype"
    return ChangedValue(
        key=ea.key,
        path=p.a.path,
        a_shape=list(ea.shape),
        b_shape=list(eb.shape),
        a_dtype=ea.dtype,
        b_dtype=eb.dtype,
        max_abs_diff=stats.max_abs_diff if stats else None,
        max_rel_diff=stats.max_rel_diff if stats else None,
        kind=kind,
        num_elements=ea.num_elements,
        num_differing=stats.num_differing if stats else None,
        nan_mismatch=stats.nan_mismatch if stats else None,
        b_key=eb.key,
        b_path=p.b.path,
        paired_by=p.by,
    )


def _change_order(c: ChangedValue) -> tuple[int, float, int, str]:
    """Shape and dtype changes first, then the largest differences; exact-only values last."""
    if c.kind != "values":
        return (0, 0.0, 0, c.key)
    if c.max_abs_diff is None:
        return (2, 0.0, -(c.num_differing or 0), c.key)
    return (1, -c.max_abs_diff, -(c.num_differing or 0), c.key)


# ---------------------------------------------------------------- which values


def _natural(v: _Value) -> list[tuple[int, str]]:
    """Values by path (else key), numbers by value: ``optimizer.vars.2`` before ``.10``."""
    return natural_order(v.path or v.key)


def is_model_value(key: str, info: KeyInfo | None) -> bool:
    """True for the model's values: in object-based checkpoints as the object graph tells
    (:data:`ckptctl.objgraph.Kind`); in name-based ones, all but optimizer slots and counters."""
    if info is not None:
        return info.kind == "model" and "/.OPTIMIZER_SLOT/" not in key
    if "/.OPTIMIZER_SLOT/" in key or key.split("/.ATTRIBUTES/")[0] == "save_counter":
        return False
    return not tf1_training_state(key)


def _matches(v: _Value, pattern: str) -> bool:
    return fnmatch.fnmatchcase(v.key, pattern) or (
        v.path is not None and fnmatch.fnmatchcase(v.path, pattern)
    )


def pair_values(
    a: list[_Value], b: list[_Value]
) -> tuple[list[_Pair], list[_Value], list[_Value], list[Renamed]]:
    """Pair A's values with B's: by key, by object path, then by renamed root child."""
    b_by_key = {v.key: v for v in b}
    pairs = [_Pair(v, b_by_key[v.key], "key") for v in a if v.key in b_by_key]
    paired_keys = {p.a.key for p in pairs}
    left_a = [v for v in a if v.key not in paired_keys]
    left_b = [v for v in b if v.key not in paired_keys]

    by_path = _pair_by_paths(left_a, left_b, {v.path: v.path for v in left_a if v.path})
    renamed: list[Renamed] = []
    for ga, gb in _renamed_groups(_remaining(left_a, by_path, 0), _remaining(left_b, by_path, 1)):
        translate = {}
        for v in _remaining(left_a, by_path, 0):
            if v.path is None:
                continue
            sub = _in_group(v.path, ga)
            if sub is not None:
                translate[v.path] = sub if gb == ROOT_GROUP else f"{gb}.{sub}"
        found = _pair_by_paths(
            _remaining(left_a, by_path, 0), _remaining(left_b, by_path, 1), translate
        )
        renamed.append(Renamed(a=ga, b=gb, values=len(found)))
        by_path += found
        if ROOT_GROUP not in (ga, gb):
            slots = {
                v.path: v.path.replace(f"({ga}.", f"({gb}.")
                for v in _remaining(left_a, by_path, 0)
                if v.path and f"({ga}." in v.path
            }
            by_path += _pair_by_paths(
                _remaining(left_a, by_path, 0), _remaining(left_b, by_path, 1), slots
            )
    pairs += by_path
    return pairs, _remaining(left_a, by_path, 0), _remaining(left_b, by_path, 1), renamed


def _remaining(values: list[_Value], pairs: list[_Pair], side: int) -> list[_Value]:
    taken = {(p.a if side == 0 else p.b).key for p in pairs}
    return [v for v in values if v.key not in taken]


def _pair_by_paths(a: list[_Value], b: list[_Value], wanted: dict[str, str]) -> list[_Pair]:
    """Pairs of A's values whose path maps (through ``wanted``) to exactly one of B's paths."""
    b_by_path: dict[str, list[_Value]] = {}
    for v in b:
        if v.path is not None:
            b_by_path.setdefault(v.path, []).append(v)
    pairs = []
    for v in a:
        target = wanted.get(v.path) if v.path is not None else None
        if target is not None and len(b_by_path.get(target, [])) == 1:
            pairs.append(_Pair(v, b_by_path[target][0], "path"))
    return pairs


def _in_group(path: str, group: str) -> str | None:
    """The path below ``group`` (a child of the root, or the root itself), or None."""
    if group == ROOT_GROUP:
        return path
    head, _, rest = path.partition(".")
    return rest if head == group and rest else None


def _groups(values: list[_Value]) -> dict[str, frozenset[str]]:
    """Root children (and the root, ``.``) -> the sub-paths of their values."""
    subpaths: dict[str, set[str]] = {}
    for v in values:
        if v.path is None:
            continue
        subpaths.setdefault(ROOT_GROUP, set()).add(v.path)
        head, _, rest = v.path.partition(".")
        if rest:
            subpaths.setdefault(head, set()).add(rest)
    return {name: frozenset(paths) for name, paths in subpaths.items()}


def _renamed_groups(a: list[_Value], b: list[_Value]) -> list[tuple[str, str]]:
    """Groups of A and B with different names and identical structure, each the other's only."""
    ga, gb = _groups(a), _groups(b)
    candidates = [
        (na, nb) for na, pa in ga.items() for nb, pb in gb.items() if na != nb and pa == pb
    ]
    out = []
    for na, nb in candidates:
        if sum(c[0] == na for c in candidates) == 1 and sum(c[1] == nb for c in candidates) == 1:
            out.append((na, nb))
    return out

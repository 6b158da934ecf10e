"""``trend``: what a training run did to each value, checkpoint by checkpoint.

Reads every checkpoint a directory keeps, oldest first (a ``CheckpointManager`` directory, or a
directory of Keras weight files), with the TensorFlow-free reader. Each step is one streaming
pass over two consecutive checkpoints, in bounded chunks: per value the norm, NaN and Inf
counts, and the relative change ``||w_i - w_(i-1)|| / ||w_(i-1)||``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ckptctl.chunks import CHUNK_BYTES
from ckptctl.compare import compare_streams
from ckptctl.errors import CheckpointError, UsageError
from ckptctl.location import Location, locate
from ckptctl.reader import Checkpoint, open_checkpoint
from ckptctl.storage import AnyPath, path_of

Progress = Callable[[str, int, int], None]
"""Called as ``progress(path, values_done, values_total)``."""
_NUMBER_RE = re.compile(r"(\d+)")


@dataclass
class ValueTrend:
    path: str
    key: str
    norm: list[float | None] = field(default_factory=list)
    rel_change: list[float | None] = field(default_factory=list)
    """``rel_change[i]``: from checkpoint i - 1 to i; ``None`` for the first, and where the
    value is missing or not numeric."""
    nan: list[int] = field(default_factory=list)
    inf: list[int] = field(default_factory=list)


@dataclass
class Nonfinite:
    path: str
    first_step: int | None


@dataclass
class Mover:
    path: str
    max_rel_change: float
    step: int | None


@dataclass
class TrendReport:
    directory: str
    checkpoints: list[str]
    steps: list[int | None]
    values: list[ValueTrend]
    never_changed: list[str]
    nonfinite: list[Nonfinite]
    largest: list[Mover]
    model_only: bool = True
    filter: str | None = None

    @property
    def ok(self) -> bool:
        return not self.never_changed and not self.nonfinite

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for v in d["values"]:
            v["norm"] = [_json(x) for x in v["norm"]]
            v["rel_change"] = [_json(x) for x in v["rel_change"]]
        for m in d["largest"]:
            m["max_rel_change"] = _json(m["max_rel_change"])
        return d


def _json(x: float | None) -> float | str | None:
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def checkpoints_of(directory: str | os.PathLike[str]) -> list[Location]:
    """Every checkpoint the directory keeps, oldest first."""
    path = path_of(directory)
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory", "trend reads a directory of checkpoints")
    latest = locate(path)
    names = [*latest.others, latest.prefix.name]
    if latest.is_single_file:
        ordered = sorted(names, key=lambda n: (path / n).stat().st_mtime_ns)
    else:
        ordered = sorted(names, key=_natural)
    return [
        latest if n == latest.prefix.name else locate(latest.prefix.parent / n) for n in ordered
    ]


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _NUMBER_RE.split(name))


def trend(
    directory: str | os.PathLike[str],
    *,
    filter: str | None = None,
    model_only: bool = True,
    top: int = 5,
    progress: Progress | None = None,
) -> TrendReport:
    """What the run in ``directory`` did to each value (see the module docstring)."""
    locations = checkpoints_of(directory)
    if len(locations) < 2:
        raise UsageError(
            f"{directory}: holds {len(locations)} checkpoint; a trend needs two or more",
            "point trend at the directory a training run saves into",
        )
    opened = [open_checkpoint(loc.name) for loc in locations]
    try:
        return _trend(path_of(directory), opened, filter, model_only, top, progress)
    finally:
        for c in opened:
            c.close()


def _wanted(ckpt: Checkpoint, pattern: str | None, model_only: bool) -> dict[str, str]:
    """key -> path of the values to follow in one checkpoint."""
    infos = ckpt.key_infos
    out = {}
    for e in ckpt.entries:
        if not e.is_numeric:
            continue
        info = infos.get(e.key)
        path = info.path if info is not None else e.key
        if model_only and info is not None and info.kind != "model":
            continue
        if pattern is not None and not (
            fnmatch.fnmatchcase(e.key, pattern) or fnmatch.fnmatchcase(path, pattern)
        ):
            continue
        out[e.key] = path
    return out


def _trend(
    directory: AnyPath,
    ckpts: list[Checkpoint],
    pattern: str | None,
    model_only: bool,
    top: int,
    progress: Progress | None,
) -> TrendReport:
    for c in ckpts:
        problems = c.file_problems()
        if problems:
            raise problems[0]
    per = [_wanted(c, pattern, model_only) for c in ckpts]
    keys: dict[str, str] = {}
    for wanted in per:
        for k, p in wanted.items():
            keys.setdefault(k, p)
    trends = {k: ValueTrend(p, k) for k, p in keys.items()}
    total = len(ckpts) * len(keys)
    done = 0
    for i, c in enumerate(ckpts):
        prev = ckpts[i - 1] if i else None
        for key, t in trends.items():
            here = key in per[i]
            before = prev is not None and key in per[i - 1]
            norm, nan, inf, rel = _step(c if here else None, prev if before else None, key)
            t.norm.append(norm)
            t.nan.append(nan)
            t.inf.append(inf)
            t.rel_change.append(rel)
            done += 1
            if progress is not None:
                progress(t.path, done, total)
    values = list(trends.values())
    steps = [_step_number(c, i) for i, c in enumerate(ckpts)]
    return TrendReport(
        directory=str(directory),
        checkpoints=[c.prefix for c in ckpts],
        steps=steps,
        values=values,
        never_changed=_never_changed(values),
        nonfinite=[
            Nonfinite(
                v.path, next((steps[i] for i in range(len(steps)) if v.nan[i] or v.inf[i]), None)
            )
            for v in values
            if any(v.nan) or any(v.inf)
        ],
        largest=_largest(values, steps, top),
        model_only=model_only,
        filter=pattern,
    )


def _step(
    here: Checkpoint | None, before: Checkpoint | None, key: str
) -> tuple[float | None, int, int, float | None]:
    """(norm, NaN count, Inf count, relative change from ``before``) of one value.

    The change is :mod:`ckptctl.compare`'s: a NaN or an infinity where the step before had
    the same one is no change; a NaN on one side only makes the change NaN."""
    if here is None:
        return None, 0, 0, None
    counts = [0.0, 0, 0]  # sum of squares of the finite elements, NaN, Inf

    def tally(chunk: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            x = np.asarray(chunk, dtype=np.float64).reshape(-1)
            bad_nan, bad_inf = np.isnan(x), np.isinf(x)
            finite = x[~(bad_nan | bad_inf)]
            counts[0] += float(np.dot(finite, finite))
        counts[1] += int(bad_nan.sum())
        counts[2] += int(bad_inf.sum())
        return chunk

    chunks = (tally(c) for c in here.read_chunks(key, CHUNK_BYTES))
    rel: float | None = None
    if before is not None and before.entry(key).shape == here.entry(key).shape:
        change = compare_streams(
            chunks, before.read_chunks(key, CHUNK_BYTES), dtype=here.entry(key).dtype, norms=True
        )
        rel = change.relative_change()
    else:
        for _ in chunks:  # read to the end: the checksum is verified there
            pass
    return math.sqrt(counts[0]), int(counts[1]), int(counts[2]), rel


def _step_number(ckpt: Checkpoint, index: int) -> int | None:
    """``step`` (the guide's counter) when saved, else ``save_counter``, else the number in
    the checkpoint's name, else its position."""
    for key in ("step/.ATTRIBUTES/VARIABLE_VALUE", "global_step"):
        if key in ckpt:
            try:
                return int(np.asarray(ckpt.read(key)).reshape(()).item())
            except (CheckpointError, ValueError):
                pass
    counter = None
    with contextlib.suppress(CheckpointError):
        counter = ckpt.save_counter()
    if counter is not None:
        return counter
    name = Path(ckpt.prefix).name
    for suffix in (".weights.h5", ".weights.json", ".keras", ".h5", ".hdf5"):
        name = name.removesuffix(suffix)
    numbers = _NUMBER_RE.findall(name)
    return int(numbers[-1]) if numbers else index + 1


def _never_changed(values: list[ValueTrend]) -> list[str]:
    """Values identical across the whole run; a layer (the path less its last part) whose
    every value never changed is named once."""
    frozen = {
        v.path
        for v in values
        if len([r for r in v.rel_change if r is not None]) >= 1
        and all(r == 0.0 for r in v.rel_change if r is not None)
    }
    by_layer: dict[str, list[str]] = {}
    for v in values:
        by_layer.setdefault(v.path.rsplit(".", 1)[0] if "." in v.path else v.path, []).append(
            v.path
        )
    out: list[str] = []
    named: set[str] = set()
    for layer, paths in by_layer.items():
        if len(paths) > 1 and all(p in frozen for p in paths):
            out.append(layer)
            named.update(paths)
    out += [p for p in sorted(frozen) if p not in named]
    return out


def _largest(values: list[ValueTrend], steps: list[int | None], top: int) -> list[Mover]:
    movers = []
    for v in values:
        changes = [
            (r, i) for i, r in enumerate(v.rel_change) if r is not None and not math.isnan(r)
        ]
        if changes:
            r, i = max(changes)
            movers.append(Mover(v.path, r, steps[i]))
    movers.sort(key=lambda m: m.max_rel_change, reverse=True)
    return movers[:top]

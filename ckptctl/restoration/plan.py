"""A restore plan: which checkpoint value goes into which live variable, and what is left over.

Matchers (:mod:`.graph_match` for object-based checkpoints, :mod:`.name_match` for name-based
ones) make a :class:`Plan` without assigning anything; the pipeline then restores it.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ckptctl.mapping import KERAS2
from ckptctl.reader import Entry
from ckptctl.restoration.live import var_dtype, var_shape
from ckptctl.restoration.report import (
    LayerDrift,
    MismatchedEntry,
    MissingEntry,
    NotCheckpointed,
    UnusedEntry,
)


@dataclass
class Pair:
    """A checkpoint value and the live variable it goes into."""

    entry: Entry
    path: str
    var: Any
    rule: str | None = None
    model_path: str | None = None


@dataclass
class Plan:
    pairs: list[Pair]
    unused: list[UnusedEntry]
    missing: list[MissingEntry]
    mismatched: list[MismatchedEntry]
    not_requested: list[str]
    not_checkpointed: list[NotCheckpointed] = field(default_factory=list)
    drifted: list[LayerDrift] = field(default_factory=list)
    renamed: list[LayerDrift] = field(default_factory=list)
    """Layers whose saved name is nowhere in the model: renamed, loaded by place; listed."""
    assign_by_ckptctl: bool = False
    """TensorFlow's restore cannot place these pairs (``--map`` rules, or an optimizer the
    checkpoint holds only under the model): ckptctl assigns them itself."""

    @property
    def problems(self) -> bool:
        return bool(
            any(not u.accepted for u in self.unused)
            or any(not m.accepted for m in self.missing)
            or self.mismatched
            or self.drifted
        )

    @property
    def leftovers(self) -> bool:
        return bool(self.unused or self.missing or self.mismatched or self.drifted)


def mismatch(entry: Entry, path: str, var: Any, reason: str | None = None) -> MismatchedEntry:
    return MismatchedEntry(
        key=entry.key,
        path=path,
        checkpoint_shape=list(entry.shape),
        model_shape=list(var_shape(var)),
        checkpoint_dtype=entry.dtype,
        model_dtype=var_dtype(var),
        reason=reason,
    )


def accept(plan: Plan, allow_unused: Sequence[str], allow_missing: Sequence[str]) -> None:
    """Mark leftovers the user declared intended (fnmatch on object path or key)."""
    for u in plan.unused:
        u.accepted = any(
            fnmatch.fnmatchcase(u.path or "", p) or fnmatch.fnmatchcase(u.key, p)
            for p in allow_unused
        )
    for m in plan.missing:
        m.accepted = any(fnmatch.fnmatchcase(m.path, p) for p in allow_missing)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def suggest(unused: list[UnusedEntry], missing: list[MissingEntry]) -> None:
    """Pair each unused value with the closest missing variable of the same kind (model or
    optimizer), shape and dtype, one to one: where several would name the same counterpart,
    only the closest does (four batch-norm vectors do not all point at one bias)."""
    claims: dict[str, list[tuple[float, UnusedEntry | MissingEntry, str]]] = {}
    for u in unused:
        name = u.path or u.key
        targets = [m for m in missing if (m.kind, m.shape, m.dtype) == (u.kind, u.shape, u.dtype)]
        if targets:
            best = max(targets, key=lambda m: _similarity(m.path, name))
            claims.setdefault(f"m:{best.path}", []).append(
                (_similarity(best.path, name), u, best.path)
            )
    for m in missing:
        if m.suggestion is not None:
            continue
        sources = [u for u in unused if (u.kind, u.shape, u.dtype) == (m.kind, m.shape, m.dtype)]
        if sources:
            src = max(sources, key=lambda u: _similarity(m.path, u.path or u.key))
            target = src.path or src.key
            claims.setdefault(f"u:{target}", []).append((_similarity(m.path, target), m, target))
    for claimants in claims.values():
        score, entry, target = max(claimants, key=lambda c: c[0])
        if sum(c[0] == score for c in claimants) == 1:  # a tie names no one
            entry.suggestion = target


def suggest_maps(unused: Sequence[UnusedEntry]) -> list[str]:
    """``--map`` rules that would place every unaccepted unused model value on its suggested
    counterpart, when each pair differs in one path part the same way (``dense1`` ->
    ``encoder``)."""
    rules: set[str] = set()
    for u in unused:
        if u.accepted or u.kind != "model":
            continue
        if u.path is None or u.suggestion is None:
            return []
        old, new = u.path.split("."), u.suggestion.split(".")
        diff = [(a, b) for a, b in zip(old, new, strict=False) if a != b]
        if len(old) != len(new) or len(diff) != 1:
            return []
        rules.add(f"{diff[0][0]}={diff[0][1]}")
    if rules and all(new == "_" + old for old, new in (r.split("=") for r in rules)):
        return [KERAS2]  # Keras 2's `kernel` is Keras 3's `_kernel`: the built-in rule set
    return sorted(rules)

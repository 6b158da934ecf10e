"""Matching a name-based (TF1) checkpoint: keys are variable names, so match names."""

from __future__ import annotations

from typing import Any

from ckptctl.mapping import PathMap, place_once
from ckptctl.names import tf1_training_state
from ckptctl.reader import Checkpoint
from ckptctl.restoration.live import var_dtype, var_shape
from ckptctl.restoration.plan import Pair, Plan, mismatch, suggest
from ckptctl.restoration.report import MissingEntry, UnusedEntry


def _name_candidates(var: Any) -> list[str]:
    names = []
    path = getattr(var, "path", None)
    name = str(getattr(var, "name", "")).split(":")[0]
    for n in (path, name):
        if n:
            names.append(n)
            if "/" in n:
                names.append(n.split("/", 1)[1])
    return names


def match_by_name(ckpt: Checkpoint, model: Any, path_map: PathMap | None = None) -> Plan:
    """Each model variable takes the key named as it is (after ``--map``)."""
    entries = {e.key: e for e in ckpt.entries}
    placed = place_once(path_map or PathMap(), entries, ckpt.prefix)
    keys = {new: entries[p.name] for new, p in placed.items()}
    rules = {new: ", ".join(p.rules) for new, p in placed.items() if p.rules}
    pairs, mismatched, missing, used = [], [], [], set()
    for var in model.variables:
        candidates = _name_candidates(var)
        key = next((n for n in candidates if n in keys), None)
        label = candidates[0] if candidates else repr(var)
        if key is None:
            missing.append(MissingEntry(label, list(var_shape(var)), var_dtype(var)))
            continue
        used.add(key)
        entry = keys[key]
        if entry.shape != var_shape(var) or entry.dtype != var_dtype(var):
            mismatched.append(mismatch(entry, label, var))
        else:
            pairs.append(Pair(entry, entry.key, var, rules.get(key), key if key in rules else None))
    unused: list[UnusedEntry] = []
    not_requested: list[str] = []
    for k, e in keys.items():
        if k in used:
            continue
        if tf1_training_state(e.key):
            # A TF1 training checkpoint's slots and step counters are not the model's: not
            # requested, as a TF2 checkpoint's optimizer is, rather than failed as unused.
            not_requested.append(e.key)
        else:
            unused.append(UnusedEntry(e.key, None, list(e.shape), e.dtype))
    suggest(unused, missing)
    return Plan(pairs, unused, missing, mismatched, not_requested, assign_by_ckptctl=True)

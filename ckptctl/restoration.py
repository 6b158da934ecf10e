"""``restore``: build the user's model, match it against a checkpoint, restore, and prove it.

The order matters (see docs/TF_NOTES.md):

1. construct and *build* the model before anything is restored (an unbuilt Keras 3 model
   silently keeps fresh kernels);
2. match checkpoint and model by object path without assigning anything;
3. assign nothing if anything mismatches (TensorFlow would fail part-way), unless ``partial``;
4. restore, then compare every restored variable with the stored tensor, bit for bit;
5. restore a second, independently initialised instance and require equal outputs.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ckptctl import _tf
from ckptctl.errors import CheckpointError, ModelError, UsageError
from ckptctl.loader import (
    ModelSpec,
    construct,
    one_line,
    parse_spec,
    resolve_factory,
    user_traceback,
)
from ckptctl.mapping import KERAS2, PathMap, keras2_normal, parse_maps
from ckptctl.objgraph import VARIABLE_VALUE, Attribute, KeyInfo, Node, ObjectGraph
from ckptctl.reader import Checkpoint, Entry, open_checkpoint

NON_MODEL_CHILDREN = frozenset({"optimizer", "save_counter", "step", "global_step", "epoch"})
ROOT_KEY = "."
# Keras 2 names Adam's slots m and v; Keras 3 tracks them as _momentums and _velocities.
_SLOT_ALIASES = {"m": "momentum", "v": "velocity"}


# ---------------------------------------------------------------- the report


@dataclass
class UnusedEntry:
    key: str
    path: str | None
    shape: list[int]
    dtype: str
    suggestion: str | None = None
    accepted: bool = False


@dataclass
class MissingEntry:
    path: str
    shape: list[int]
    dtype: str
    suggestion: str | None = None
    accepted: bool = False


@dataclass
class MismatchedEntry:
    key: str
    path: str
    checkpoint_shape: list[int]
    model_shape: list[int]
    checkpoint_dtype: str
    model_dtype: str
    reason: str | None = None


@dataclass
class MappedEntry:
    """A value placed by a ``--map`` rule (or, for slots, by the variable it belongs to)."""

    key: str
    path: str
    model_path: str
    rule: str


@dataclass
class ValueCheck:
    checked: int = 0
    differing: list[str] = field(default_factory=list)


@dataclass
class GoldenCheck:
    file: str
    equal: bool
    max_abs_diff: float


@dataclass
class OutputCheck:
    batches: int = 0
    equal: bool = False
    max_abs_diff: float = 0.0
    finite: bool = True
    ran: bool = False
    golden: GoldenCheck | None = None
    detail: str | None = None


@dataclass
class RestoreReport:
    ok: bool
    checkpoint: str
    model: str
    key: str
    input_shapes: list[list[int]]
    matched: int
    unused: list[UnusedEntry]
    missing: list[MissingEntry]
    mismatched: list[MismatchedEntry]
    values: ValueCheck
    outputs: OutputCheck
    format: str = "object-graph"
    input_dtype: str = "float32"
    optimizer: str | None = None
    partial: bool = False
    restored: int = 0
    not_requested: list[str] = field(default_factory=list)
    stopped: str | None = None
    saved_golden: str | None = None
    maps: list[str] = field(default_factory=list)
    mapped: list[MappedEntry] = field(default_factory=list)
    suggested_maps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def problems(self) -> bool:
        return bool(
            any(not u.accepted for u in self.unused)
            or any(not m.accepted for m in self.missing)
            or self.mismatched
        )


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError as e:
        raise UsageError(f"--input-shape {text!r}: expected integers like 4,20") from e
    if not dims or any(d < 0 for d in dims):
        raise UsageError(f"--input-shape {text!r}: expected positive integers like 4,20")
    return dims


def _declared_inputs(model: Any, dtype: str) -> list[InputSpec] | None:
    """Input shapes the model declares: a ``ckptctl_input_shapes`` hook, or Keras inputs."""
    hook = getattr(model, "ckptctl_input_shapes", None)
    if hook is not None:
        shapes = hook() if callable(hook) else hook
        if shapes and isinstance(shapes[0], int):
            shapes = [shapes]
        dtypes = getattr(model, "ckptctl_input_dtypes", None) or [dtype] * len(shapes)
        return [
            InputSpec(tuple(int(d) for d in s), str(t)) for s, t in zip(shapes, dtypes, strict=True)
        ]
    try:
        inputs = model.inputs
    except Exception:
        return None
    if not inputs:
        return None
    specs = []
    for tensor in inputs:
        shape = tuple(2 if d is None else int(d) for d in tensor.shape)
        dt = getattr(tensor, "dtype", dtype)
        specs.append(InputSpec(shape, getattr(dt, "name", str(dt))))
    return specs


def _proposed_shape(ckpt: Checkpoint, scope: tuple[str, ...]) -> str | None:
    for info in _graph_order(ckpt.key_infos.values()):
        if not _in_scope(info.path, scope):
            continue
        shape = ckpt.entry(info.key).shape
        if len(shape) == 2:
            return f"4,{shape[0]}"
        if len(shape) == 4:
            return f"4,32,32,{shape[2]}"
    return None


def make_batches(
    specs: Sequence[InputSpec], seed: int, count: int, value_range: tuple[int, int]
) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        batch = []
        for s in specs:
            dt = np.dtype(s.dtype) if s.dtype != "bfloat16" else np.dtype("float32")
            if dt.kind in "iu":
                batch.append(rng.integers(value_range[0], value_range[1], s.shape).astype(dt))
            elif dt.kind == "b":
                batch.append(rng.integers(0, 2, s.shape).astype(bool))
            else:
                batch.append(rng.standard_normal(s.shape).astype(dt))
        batches.append(batch)
    return batches


def call_model(model: Any, batch: list[np.ndarray]) -> Any:
    tf = _tf.tensorflow()
    tensors = [tf.convert_to_tensor(x) for x in batch]
    x = tensors[0] if len(tensors) == 1 else tensors
    try:
        return model(x, training=False)
    except TypeError as e:
        if "training" not in str(e):
            raise
        return model(x)


def build_model(model: Any, spec: ModelSpec | str, batch: list[np.ndarray]) -> None:
    shapes = " and ".join(str(tuple(x.shape)) for x in batch)
    try:
        call_model(model, batch)
    except Exception as e:
        raise ModelError(
            f"{spec} raised when called on an input of shape {shapes}: {one_line(e)}",
            "the traceback above shows where; if the shape is wrong, pass the one the model "
            "expects with --input-shape (and --input-dtype)",
            user_traceback=user_traceback(e),
        ) from e


# ---------------------------------------------------------------- the live object graph


def _is_variable(obj: Any) -> bool:
    return hasattr(obj, "assign") and hasattr(obj, "shape") and hasattr(obj, "dtype")


def _escape(name: str) -> str:
    return name.replace(".", "..").replace("/", ".S")


def live_graph(root: Any) -> tuple[ObjectGraph, dict[int, Any]]:
    """The object graph TensorFlow would write for ``root``, and its variables by node id."""
    tf = _tf.tensorflow()
    view = tf.train.TrackableView(root)
    ids: dict[int, int] = {id(root): 0}
    objects = [root]
    nodes = [Node(0)]
    paths: list[tuple[str, ...]] = [()]
    i = 0
    while i < len(objects):
        obj = objects[i]
        for name, child in view.children(obj).items():
            if id(child) not in ids:
                ids[id(child)] = len(objects)
                objects.append(child)
                nodes.append(Node(len(nodes)))
                paths.append((*paths[i], name))
            nodes[i].children.append((name, ids[id(child)]))
        i += 1
    variables: dict[int, Any] = {}
    for nid, obj in enumerate(objects):
        if nid and _is_variable(obj):
            key = "/".join(_escape(p) for p in paths[nid]) + "/.ATTRIBUTES/" + VARIABLE_VALUE
            full_name = getattr(obj, "path", None) or str(getattr(obj, "name", "")).split(":")[0]
            nodes[nid].attributes.append(Attribute(VARIABLE_VALUE, full_name, key))
            variables[nid] = obj
    return ObjectGraph(nodes), variables


def _var_dtype(var: Any) -> str:
    dt = var.dtype
    return str(getattr(dt, "name", dt))


def _var_shape(var: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in var.shape)


# ---------------------------------------------------------------- matching


def _in_scope(path: str, scope: tuple[str, ...]) -> bool:
    parts = path.split(".")
    return tuple(parts[: len(scope)]) == scope


def _graph_order(infos: Any) -> list[KeyInfo]:
    return sorted(infos, key=lambda i: (i.node_id, i.key))


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

    @property
    def problems(self) -> bool:
        return bool(
            any(not u.accepted for u in self.unused)
            or any(not m.accepted for m in self.missing)
            or self.mismatched
        )

    @property
    def mapped(self) -> bool:
        return any(p.rule is not None for p in self.pairs)


def key_candidates(ckpt: Checkpoint, key: str | None) -> list[str]:
    """The child of the checkpoint root that holds the model, or the candidates to try.

    ``model`` when present; else the only child holding values; else every child holding
    values plus the root itself (tf-keras ``Model.save_weights`` makes the model the root),
    and the caller keeps the one the live model matches best.
    """
    graph = ckpt.object_graph
    assert graph is not None
    children = graph.child_names()
    if key is not None:
        if key in (ROOT_KEY, "") or key in children:
            return [ROOT_KEY if key in (ROOT_KEY, "") else key]
        raise UsageError(
            f"--key {key!r}: the checkpoint root has no such child",
            f"its children: {', '.join(children) or 'none'} (or --key . for the root itself)",
        )
    if "model" in children:
        return ["model"]
    infos = ckpt.key_infos.values()
    holders = [c for c in children if c not in NON_MODEL_CHILDREN and _holds_values(c, infos)]
    if len(holders) == 1 and not _looks_like_root_model(children):
        return holders
    return [*holders, ROOT_KEY]


def choose_key(ckpt: Checkpoint, candidates: list[str], plans: dict[str, Plan]) -> str:
    """The candidate whose plan matches most values with fewest leftovers; ties are errors."""

    def score(k: str) -> tuple[int, int]:
        p = plans[k]
        leftovers = len(p.unused) + len(p.missing) + len(p.mismatched)
        return (len(p.pairs) - leftovers, len(p.pairs))

    ranked = sorted(candidates, key=score, reverse=True)
    best = ranked[0]
    if plans[best].pairs and (len(ranked) == 1 or score(ranked[1]) < score(best)):
        return best
    holders = [c for c in candidates if c != ROOT_KEY]
    raise UsageError(
        f"{ckpt.prefix}: cannot tell which child of the checkpoint root holds the model",
        f"pass --key with one of: {', '.join(holders)} (or --key . for the root itself)",
    )


def _holds_values(child: str, infos: Any) -> bool:
    return any(i.path == child or i.path.startswith(child + ".") for i in infos)


def _looks_like_root_model(children: list[str]) -> bool:
    """tf-keras ``Model.save_weights``: the root is the model, its children are layers."""
    return any(c.startswith(("layer_with_weights", "layer-", "keras_api")) for c in children)


def _walk(
    graph: ObjectGraph, starts: list[tuple[str, int]], skip_root_children: frozenset[str]
) -> dict[int, tuple[str, ...]]:
    """Each node reachable from ``starts`` with its first path (scopes in order, breadth first)."""
    paths: dict[int, tuple[str, ...]] = {}
    for name, start in starts:
        if start in paths:
            continue
        paths[start] = (name,) if name else ()
        queue = deque([start])
        while queue:
            nid = queue.popleft()
            for child_name, child in graph.nodes[nid].children:
                if nid == 0 and not name and child_name in skip_root_children:
                    continue
                if child not in paths and 0 <= child < len(graph.nodes):
                    paths[child] = (*paths[nid], child_name)
                    queue.append(child)
    return paths


def _correspond(
    ck: ObjectGraph,
    live: ObjectGraph,
    start: tuple[int, int],
    match: dict[int, int],
    closed_ck: frozenset[int] = frozenset(),
    closed_live: frozenset[int] = frozenset(),
) -> None:
    """Extend ``match`` (checkpoint node -> live node) by following equal child names.

    This is how TensorFlow's restore finds objects: by local names from the root. Nodes in
    ``closed_ck`` / ``closed_live`` (the model's own objects, already matched by the model's
    own paths) are never matched anew through another route: an optimizer's alias list must
    not pair a renamed layer's old value with the new layer by position.
    """
    taken = set(match.values())
    c0, l0 = start
    if c0 in match or l0 in taken:
        return
    match[c0] = l0
    taken.add(l0)
    queue: deque[tuple[int, int]] = deque([start])
    while queue:
        c, lv = queue.popleft()
        live_children = dict(live.nodes[lv].children)
        for name, c_child in ck.nodes[c].children:
            l_child = live_children.get(name)
            if l_child is None or not 0 <= c_child < len(ck.nodes):
                continue
            if c_child in match or l_child in taken:
                continue
            if c_child in closed_ck or l_child in closed_live:
                continue
            match[c_child] = l_child
            taken.add(l_child)
            queue.append((c_child, l_child))


def _child(graph: ObjectGraph, node: int, name: str) -> int | None:
    return dict(graph.nodes[node].children).get(name)


def _variables_of(model: Any) -> list[Any]:
    """Every variable the model owns, however it holds them."""
    try:
        return list(model.variables)
    except Exception:
        return []


def match_graph(
    ckpt: Checkpoint,
    key: str,
    live_root: Any,
    with_optimizer: bool,
    model_variables: Sequence[Any] = (),
    path_map: PathMap | None = None,
) -> Plan:
    """Match the checkpoint's object graph and the live one, node by node, assigning nothing.

    With ``path_map``, checkpoint paths its rules rewrite are placed by their new path, and
    optimizer slots by the variable they belong to rather than by position.
    """
    ck_graph = ckpt.object_graph
    assert ck_graph is not None
    graph, variables = live_graph(live_root)
    skip = NON_MODEL_CHILDREN if key == ROOT_KEY else frozenset()
    ck_starts: list[tuple[str, int]] = []
    live_starts: list[tuple[str, int]] = []
    pairs_of_starts: list[tuple[int, int]] = []
    scopes = [""] if key == ROOT_KEY else [key]
    if with_optimizer and key != ROOT_KEY:
        scopes.append("optimizer")
    for name in scopes:
        ck_node = 0 if not name else _child(ck_graph, 0, name)
        live_node = 0 if not name else _child(graph, 0, name)
        if ck_node is not None:
            ck_starts.append((name, ck_node))
        if live_node is not None:
            live_starts.append((name, live_node))
        if ck_node is not None and live_node is not None:
            pairs_of_starts.append((ck_node, live_node))
    ck_paths = _walk(ck_graph, ck_starts, skip)
    live_paths = _walk(graph, live_starts, skip)
    # The model first, by its own paths; then the optimizer, which may reach model objects
    # the model does not list itself (Keras 3 layers held in lists), but never re-pairs the
    # model's own objects.
    match: dict[int, int] = {}
    model_ck = frozenset(_walk(ck_graph, ck_starts[:1], skip)) if ck_starts else frozenset()
    model_live = frozenset(_walk(graph, live_starts[:1], skip)) if live_starts else frozenset()

    def label(parts: tuple[str, ...]) -> str:
        return ".".join(parts) or "(root)"

    mapping = path_map if path_map else None
    renamed: dict[int, tuple[str, list[str]]] = {}
    if mapping is not None:
        for n, parts in ck_paths.items():
            new_path, applied = mapping.apply(label(parts))
            if applied:
                renamed[n] = (new_path, applied)
        for rule in mapping.rules:
            if not any(rule.text in applied for _, applied in renamed.values()):
                raise UsageError(
                    f"--map {rule.text!r} matches no object path in {ckpt.prefix}",
                    "rules are regular expressions over paths as `ckptctl inspect` shows "
                    f"them, e.g. {_example_path(ck_graph, ck_paths, ckpt)}",
                )
    ck_slot_nodes = frozenset(ck_graph.slots()) if mapping is not None else frozenset()
    live_slot_nodes = frozenset(graph.slots()) if mapping is not None else frozenset()
    rule_of: dict[int, str] = {}
    # The model first, by its own paths; then the optimizer, which may reach model objects
    # the model does not list itself (Keras 3 layers held in lists), but never re-pairs the
    # model's own objects.
    for i, start in enumerate(pairs_of_starts):
        if i == 0:
            _correspond(ck_graph, graph, start, match, frozenset(renamed))
            if mapping is not None:
                _map_values(
                    ckpt,
                    ck_graph,
                    ck_paths,
                    live_paths,
                    variables,
                    renamed,
                    mapping,
                    match,
                    rule_of,
                    ck_slot_nodes,
                    label,
                )
        else:
            _correspond(
                ck_graph,
                graph,
                start,
                match,
                model_ck | ck_slot_nodes | frozenset(renamed),
                model_live | live_slot_nodes,
            )
    if mapping is not None and with_optimizer:
        _map_slots(ck_graph, graph, ck_paths, match, rule_of, label)

    ck_values = {
        n: attr.checkpoint_key
        for n in ck_paths
        for attr in ck_graph.nodes[n].attributes
        if attr.name == VARIABLE_VALUE and attr.checkpoint_key in ckpt
    }
    pairs: list[Pair] = []
    mismatched: list[MismatchedEntry] = []
    used_live: set[int] = set()
    for c, ck_key in ck_values.items():
        lv = match.get(c)
        if lv is None or lv not in variables:
            continue
        used_live.add(lv)
        entry, var, path = ckpt.entry(ck_key), variables[lv], label(ck_paths[c])
        if entry.shape != _var_shape(var) or entry.dtype != _var_dtype(var):
            mismatched.append(_mismatch(entry, path, var))
        elif c in rule_of and label(live_paths.get(lv, ())) != path:
            pairs.append(Pair(entry, path, var, rule_of[c], label(live_paths.get(lv, ()))))
        else:
            pairs.append(Pair(entry, path, var))
    if with_optimizer and mapping is None:
        wrong_slots = _slot_owner_mismatches(ckpt, ck_graph, graph, match, ck_paths, variables)
        wrong = {m.key: m for m in wrong_slots}
        pairs = [p for p in pairs if p.entry.key not in wrong]
        for m in mismatched:
            if m.key in wrong:
                m.reason = wrong.pop(m.key).reason
        mismatched += wrong.values()
    unused = [
        UnusedEntry(k, label(ck_paths[c]), list(ckpt.entry(k).shape), ckpt.entry(k).dtype)
        for c, k in ck_values.items()
        if match.get(c) not in variables
    ]
    missing = [
        MissingEntry(label(live_paths[lv]), list(_var_shape(var)), _var_dtype(var))
        for lv, var in variables.items()
        if lv in live_paths and lv not in used_live
    ]
    # Variables the model owns but does not track under its own path (Keras 3 does not list
    # layers held in plain lists or dicts there): still the model's, still to be accounted for.
    reached = {id(v) for lv, v in variables.items() if lv in live_paths}
    for var in model_variables:
        if id(var) not in reached and id(var) not in {id(p.var) for p in pairs}:
            name = getattr(var, "path", None) or str(getattr(var, "name", "?")).split(":")[0]
            missing.append(
                MissingEntry(
                    f"{name} (not tracked under {key})", list(_var_shape(var)), _var_dtype(var)
                )
            )
    in_scope_keys = set(ck_values.values())
    not_requested = [
        i.key
        for i in _graph_order(ckpt.key_infos.values())
        if i.key not in in_scope_keys and i.key in ckpt
    ]
    _suggest(unused, missing)
    _suggest_not_requested(ckpt, missing, not_requested)
    return Plan(pairs, unused, missing, mismatched, not_requested)


def _map_values(
    ckpt: Checkpoint,
    ck: ObjectGraph,
    ck_paths: dict[int, tuple[str, ...]],
    live_paths: dict[int, tuple[str, ...]],
    variables: dict[int, Any],
    renamed: dict[int, tuple[str, list[str]]],
    mapping: PathMap,
    match: dict[int, int],
    rule_of: dict[int, str],
    slots: frozenset[int],
    label: Callable[[tuple[str, ...]], str],
) -> None:
    """Place checkpoint values the model's own paths did not take, by their mapped path."""
    live_by_path = {label(p): n for n, p in live_paths.items() if n in variables}
    live_by_normal = {keras2_normal(k): n for k, n in live_by_path.items()}
    placed_by: dict[int, int] = {lv: c for c, lv in match.items()}
    for c, parts in ck_paths.items():
        if c in match or c in slots or not _has_value(ck, c, ckpt):
            continue
        new_path, applied = renamed.get(c, (label(parts), []))
        target = live_by_path.get(new_path) if applied else None
        rule = ", ".join(applied)
        if target is None and mapping.keras2:
            target = live_by_normal.get(keras2_normal(new_path))
            rule = ", ".join([*applied, KERAS2])
        if target is None or not rule:
            continue
        if target in placed_by:
            other = label(ck_paths.get(placed_by[target], ()))
            raise UsageError(
                f"--map places both {other} and {label(parts)} onto {label(live_paths[target])}",
                "make the rules more specific (anchor them, e.g. '^model\\.dense1\\.')",
            )
        match[c] = target
        placed_by[target] = c
        rule_of[c] = rule


def _example_path(graph: ObjectGraph, paths: dict[int, tuple[str, ...]], ckpt: Checkpoint) -> str:
    for n, parts in paths.items():
        if _has_value(graph, n, ckpt):
            return ".".join(parts)
    return "model.dense._kernel"


def _has_value(graph: ObjectGraph, node: int, ckpt: Checkpoint) -> bool:
    return any(
        a.name == VARIABLE_VALUE and a.checkpoint_key in ckpt for a in graph.nodes[node].attributes
    )


def _map_slots(
    ck: ObjectGraph,
    live: ObjectGraph,
    ck_paths: dict[int, tuple[str, ...]],
    match: dict[int, int],
    rule_of: dict[int, str],
    label: Callable[[tuple[str, ...]], str],
) -> None:
    """Optimizer slots by the variable they belong to, never by position."""
    live_slots = {
        (owner, _SLOT_ALIASES.get(name, name)): slot for slot, (owner, name) in live.slots().items()
    }
    taken = set(match.values())
    for slot, (owner, name) in ck.slots().items():
        if slot in match or owner not in match:
            continue
        target = live_slots.get((match[owner], _SLOT_ALIASES.get(name, name)))
        if target is None or target in taken:
            continue
        match[slot] = target
        taken.add(target)
        rule_of[slot] = f"{name} of {label(ck_paths.get(owner, ()))}"


def _mismatch(entry: Entry, path: str, var: Any, reason: str | None = None) -> MismatchedEntry:
    return MismatchedEntry(
        key=entry.key,
        path=path,
        checkpoint_shape=list(entry.shape),
        model_shape=list(_var_shape(var)),
        checkpoint_dtype=entry.dtype,
        model_dtype=_var_dtype(var),
        reason=reason,
    )


def _slot_owner_mismatches(
    ckpt: Checkpoint,
    ck: ObjectGraph,
    live: ObjectGraph,
    match: dict[int, int],
    ck_paths: dict[int, tuple[str, ...]],
    variables: dict[int, Any],
) -> list[MismatchedEntry]:
    """Keras 3 slots are restored by list position: check each lands on its own variable."""
    live_slots = live.slots()
    live_paths = live.node_paths()
    out = []
    for slot, (ck_owner, ck_name) in ck.slots().items():
        lv = match.get(slot)
        if lv is None or lv not in variables or slot not in ck_paths:
            continue
        if lv not in live_slots:
            continue  # the live optimizer does not say which variable this slot serves
        live_owner, live_name = live_slots[lv]
        same_name = _SLOT_ALIASES.get(ck_name, ck_name) == _SLOT_ALIASES.get(
            live_name or "", live_name
        )
        if match.get(ck_owner) == live_owner and same_name:
            continue
        key = next(a.checkpoint_key for a in ck.nodes[slot].attributes)
        if key not in ckpt:
            continue
        owner_path = ".".join(ck_paths.get(ck_owner, ()))
        live_owner_path = ".".join(live_paths.get(live_owner, ())) if live_owner else "nothing"
        reason = (
            f"holds the {ck_name} of {owner_path or ck_owner}; "
            f"would be restored as the {live_name} of {live_owner_path}"
        )
        out.append(_mismatch(ckpt.entry(key), ".".join(ck_paths[slot]), variables[lv], reason))
    return out


def suggest_maps(unused: Sequence[UnusedEntry]) -> list[str]:
    """``--map`` rules that would place every unused value on its suggested counterpart, when
    each pair differs in one path part the same way (``dense1`` -> ``encoder``)."""
    rules: set[str] = set()
    for u in unused:
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


def _suggest_not_requested(
    ckpt: Checkpoint, missing: list[MissingEntry], not_requested: list[str]
) -> None:
    """A missing variable whose value is only reachable through the optimizer says so."""
    infos = ckpt.key_infos
    candidates = [
        k
        for k in not_requested
        if (i := infos.get(k)) is not None and i.owner == "optimizer" and i.slot_of is None
    ]
    for m in missing:
        if m.suggestion is not None:
            continue
        for k in candidates:
            entry = ckpt.entry(k)
            if list(entry.shape) == m.shape and entry.dtype == m.dtype:
                m.suggestion = (
                    f"{infos[k].path} (reached only through the optimizer: pass --optimizer)"
                )
                candidates.remove(k)
                break


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _suggest(unused: list[UnusedEntry], missing: list[MissingEntry]) -> None:
    """Pair each unused value with the closest missing variable of the same shape and dtype."""
    for u in unused:
        name = u.path or u.key
        targets = [m for m in missing if m.shape == u.shape and m.dtype == u.dtype]
        if targets:
            u.suggestion = max(targets, key=lambda m: _similarity(m.path, name)).path
    for m in missing:
        sources = [u for u in unused if u.shape == m.shape and u.dtype == m.dtype]
        if sources:
            best = max(sources, key=lambda u: _similarity(m.path, u.path or u.key))
            m.suggestion = best.path or best.key


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
    """TF1 name-based checkpoints: keys are variable names, so match names (after ``--map``)."""
    keys: dict[str, Entry] = {}
    rules: dict[str, str] = {}
    for e in ckpt.entries:
        name, applied = path_map.apply(e.key) if path_map else (e.key, [])
        if name in keys:
            raise UsageError(
                f"--map places both {keys[name].key} and {e.key} onto {name}",
                "make the rules more specific (anchor them with ^ and $)",
            )
        keys[name] = e
        if applied:
            rules[name] = ", ".join(applied)
    if path_map:
        used_rules = {t for e in ckpt.entries for t in path_map.apply(e.key)[1]}
        for rule in path_map.rules:
            if rule.text not in used_rules:
                raise UsageError(f"--map {rule.text!r} matches no key in {ckpt.prefix}")
    pairs, mismatched, missing, used = [], [], [], set()
    for var in model.variables:
        key = next((n for n in _name_candidates(var) if n in keys), None)
        label = _name_candidates(var)[0] if _name_candidates(var) else repr(var)
        if key is None:
            missing.append(MissingEntry(label, list(_var_shape(var)), _var_dtype(var)))
            continue
        used.add(key)
        entry = keys[key]
        if entry.shape != _var_shape(var) or entry.dtype != _var_dtype(var):
            mismatched.append(_mismatch(entry, label, var))
        else:
            pairs.append(Pair(entry, entry.key, var, rules.get(key), key if key in rules else None))
    unused = [
        UnusedEntry(e.key, None, list(e.shape), e.dtype) for k, e in keys.items() if k not in used
    ]
    _suggest(unused, missing)
    return Plan(pairs, unused, missing, mismatched, [])


# ---------------------------------------------------------------- restoring and checking


def _assign(ckpt: Checkpoint, pairs: list[Pair]) -> None:
    """Read every value first, then assign: a read error leaves the model untouched."""
    values = [ckpt.read(p.entry.key) for p in pairs]
    for p, value in zip(pairs, values, strict=True):
        p.var.assign(value)


def _restore_with_tensorflow(prefix: str, root: Any, root_is_model: bool) -> None:
    status = root.restore(prefix)
    status.expect_partial()
    if not root_is_model:
        status.assert_existing_objects_matched()
    # A model that is the checkpoint's root sits under a tf.train.Checkpoint whose own
    # save_counter the file may not hold (``write()`` stores none). Completeness was already
    # proven by the match, and every value is compared after this.


def check_values(ckpt: Checkpoint, pairs: list[Pair]) -> ValueCheck:
    check = ValueCheck()
    for p in pairs:
        stored = ckpt.read(p.entry.key)
        live = np.asarray(p.var.numpy())
        check.checked += 1
        same = stored.shape == live.shape and stored.dtype == live.dtype
        if not same or stored.tobytes() != live.tobytes():
            check.differing.append(p.path)
    return check


def _flatten(outputs: Any) -> list[np.ndarray]:
    tf = _tf.tensorflow()
    return [np.asarray(t) for t in tf.nest.flatten(outputs)]


def _compare(
    a: list[np.ndarray], b: list[np.ndarray], atol: float, rtol: float
) -> tuple[bool, float, bool]:
    """(equal, max |a-b|, all finite)."""
    if len(a) != len(b):
        return False, float("inf"), True
    equal, worst, finite = True, 0.0, True
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape:
            return False, float("inf"), finite
        if x.dtype.kind in "fc":
            finite = finite and bool(np.isfinite(x).all() and np.isfinite(y).all())
        if x.dtype.kind in "fciub" and x.size:
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        if atol == 0 and rtol == 0:
            equal = equal and np.array_equal(x, y)
        else:
            equal = equal and bool(np.allclose(x, y, atol=atol, rtol=rtol, equal_nan=False))
    return equal, worst, finite


def save_golden(
    path: Path, batches: list[list[np.ndarray]], outputs: list[list[np.ndarray]]
) -> None:
    arrays: dict[str, np.ndarray] = {}
    for b, (inputs, outs) in enumerate(zip(batches, outputs, strict=True)):
        for i, x in enumerate(inputs):
            arrays[f"input_{b}_{i}"] = x
        for j, y in enumerate(outs):
            arrays[f"output_{b}_{j}"] = y
    meta = {"batches": len(batches), "inputs": len(batches[0]), "outputs": len(outputs[0])}
    arrays["meta"] = np.array(json.dumps(meta))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_golden(path: Path) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            batches = [
                [data[f"input_{b}_{i}"] for i in range(meta["inputs"])]
                for b in range(meta["batches"])
            ]
            outputs = [
                [data[f"output_{b}_{j}"] for j in range(meta["outputs"])]
                for b in range(meta["batches"])
            ]
    except FileNotFoundError as e:
        raise UsageError(f"--golden {path}: no such file") from e
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"{path}: not a golden file written by --save-golden ({e})",
            "record one with: ckptctl restore CHECKPOINT --model ... --save-golden FILE.npz",
        ) from e
    return batches, outputs


# ---------------------------------------------------------------- the flow


@dataclass
class _Instance:
    model: Any
    optimizer: Any
    root: Any
    plan: Plan
    root_is_model: bool = False


def restore(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    *,
    model_args: dict[str, Any] | None = None,
    input_shapes: Sequence[Sequence[int]] | None = None,
    input_dtype: str = "float32",
    input_range: tuple[int, int] = (0, 10),
    key: str | None = None,
    optimizer: str | Callable[[], Any] | None = None,
    partial: bool = False,
    seed: int = 0,
    batches: int = 3,
    atol: float = 0.0,
    rtol: float = 0.0,
    save_golden_to: str | os.PathLike[str] | None = None,
    golden: str | os.PathLike[str] | None = None,
    maps: Sequence[str] = (),
    allow_unused: Sequence[str] = (),
    allow_missing: Sequence[str] = (),
) -> RestoreReport:
    """Restore ``checkpoint`` into ``model`` and prove it restored completely and correctly.

    ``model`` is ``"pkg.module:Name"``, ``"path/file.py:Name"`` or a callable returning a
    model. Raises ``CkptctlError`` when an input cannot be read or used; every problem the
    checks find is in the returned report (``report.ok`` is False).
    """
    report, _, _ = restore_into(
        checkpoint,
        model,
        model_args=model_args,
        input_shapes=input_shapes,
        input_dtype=input_dtype,
        input_range=input_range,
        key=key,
        optimizer=optimizer,
        partial=partial,
        seed=seed,
        batches=batches,
        atol=atol,
        rtol=rtol,
        save_golden_to=save_golden_to,
        golden=golden,
        maps=maps,
        allow_unused=allow_unused,
        allow_missing=allow_missing,
    )
    return report


def restore_into(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    *,
    model_args: dict[str, Any] | None = None,
    input_shapes: Sequence[Sequence[int]] | None = None,
    input_dtype: str = "float32",
    input_range: tuple[int, int] = (0, 10),
    key: str | None = None,
    optimizer: str | Callable[[], Any] | None = None,
    partial: bool = False,
    seed: int = 0,
    batches: int = 3,
    atol: float = 0.0,
    rtol: float = 0.0,
    save_golden_to: str | os.PathLike[str] | None = None,
    golden: str | os.PathLike[str] | None = None,
    maps: Sequence[str] = (),
    allow_unused: Sequence[str] = (),
    allow_missing: Sequence[str] = (),
) -> tuple[RestoreReport, Any, Any]:
    """:func:`restore`, also returning the restored model and optimizer (None when nothing
    was restored)."""
    if batches < 1:
        raise UsageError("--batches must be at least 1")
    spec = parse_spec(model) if isinstance(model, str) else None
    kwargs = model_args or {}
    golden_path = Path(golden) if golden is not None else None
    path_map = parse_maps(maps)
    save_path = Path(save_golden_to) if save_golden_to is not None else None

    golden_data = load_golden(golden_path) if golden_path is not None else None
    if golden_data is not None and not input_shapes and golden_data[0]:
        # The golden file records the inputs: their shapes and dtype are the ones to use.
        first = golden_data[0][0]
        input_shapes = [tuple(x.shape) for x in first]
        if len({x.dtype for x in first}) == 1:
            input_dtype = first[0].dtype.name

    with open_checkpoint(checkpoint) as ckpt:
        problems = ckpt.file_problems()
        if problems:
            raise problems[0]  # a missing or short data shard: nothing can be restored
        tf = _tf.tensorflow()
        keras = _tf.keras()
        if spec is not None:
            factory, label = resolve_factory(spec), str(spec)
        else:
            assert callable(model)
            factory, label = model, getattr(model, "__qualname__", repr(model))
        if save_path is not None:
            _refuse_checkpoint_dir(save_path, ckpt)
        named = ckpt.format == "object-graph"
        candidates = key_candidates(ckpt, key) if named else [ROOT_KEY]
        scope = () if candidates[0] == ROOT_KEY else (candidates[0],)

        def make(instance_seed: int) -> tuple[Any, list[InputSpec]]:
            keras.utils.set_random_seed(instance_seed)
            m = construct(label, factory, kwargs)
            specs = _input_specs(m, input_shapes, input_dtype, ckpt, scope, label)
            return m, specs

        model_a, specs = make(seed + 1)
        random_batches = make_batches(specs, seed, batches, input_range)
        build_model(model_a, label, random_batches[0])

        def prepare(m: Any, chosen: str) -> _Instance:
            opt = make_optimizer(optimizer, m) if optimizer is not None else None
            if not named:
                plan = match_by_name(ckpt, m, path_map)
                _accept(plan, allow_unused, allow_missing)
                return _Instance(m, opt, None, plan)
            if chosen == ROOT_KEY:
                root = tf.train.Checkpoint(root=m)
                live_root = m
            else:
                children: dict[str, Any] = {chosen: m}
                if opt is not None:
                    children["optimizer"] = opt
                root = tf.train.Checkpoint(**children)
                live_root = root
            plan = match_graph(ckpt, chosen, live_root, opt is not None, _variables_of(m), path_map)
            _accept(plan, allow_unused, allow_missing)
            return _Instance(m, opt, root, plan, chosen == ROOT_KEY)

        if len(candidates) == 1:
            chosen_key = candidates[0]
            a = prepare(model_a, chosen_key)
        else:
            tried = {k: prepare(model_a, k) for k in candidates}
            chosen_key = choose_key(ckpt, candidates, {k: i.plan for k, i in tried.items()})
            a = tried[chosen_key]
        report = RestoreReport(
            ok=False,
            checkpoint=ckpt.prefix,
            model=label,
            key=chosen_key,
            input_shapes=[list(s.shape) for s in specs],
            input_dtype=",".join(sorted({s.dtype for s in specs})),
            matched=len(a.plan.pairs),
            unused=a.plan.unused,
            missing=a.plan.missing,
            mismatched=a.plan.mismatched,
            values=ValueCheck(),
            outputs=OutputCheck(),
            format=ckpt.format,
            optimizer=optimizer
            if isinstance(optimizer, str) or optimizer is None
            else repr(optimizer),
            partial=partial,
            not_requested=a.plan.not_requested,
            maps=path_map.texts,
            mapped=[
                MappedEntry(p.entry.key, p.path, p.model_path or p.path, p.rule)
                for p in a.plan.pairs
                if p.rule is not None
            ],
            suggested_maps=suggest_maps(a.plan.unused),
        )
        if a.plan.problems and not partial:
            report.stopped = "skipped: nothing was assigned (--partial restores what fits)"
            return report, None, None

        _verify_readable(ckpt, a.plan.pairs)
        _restore_instance(ckpt, a, partial)
        report.restored = len(a.plan.pairs)
        report.values = check_values(ckpt, a.plan.pairs)

        # Accepted missing variables are not restored: initialise both instances alike so
        # that they do not make the outputs differ (restored values were checked above).
        accepted_missing = any(m.accepted for m in a.plan.missing)
        model_b, _ = make(seed + 1 if accepted_missing else seed + 2)
        build_model(model_b, label, random_batches[0])
        b = prepare(model_b, chosen_key)
        _restore_instance(ckpt, b, partial)
        report.outputs = _check_outputs(a.model, b.model, random_batches, atol, rtol)

        golden_outputs = None
        if golden_path is not None and golden_data is not None:
            golden_inputs, expected = golden_data
            golden_outputs = [_flatten(call_model(a.model, batch)) for batch in golden_inputs]
            equal, worst, finite = True, 0.0, True
            for got, want in zip(golden_outputs, expected, strict=True):
                e, w, f = _compare(got, want, atol, rtol)
                equal, worst, finite = equal and e, max(worst, w), finite and f
            report.outputs.golden = GoldenCheck(str(golden_path), equal and finite, worst)

        report.ok = (
            not report.problems
            and not report.values.differing
            and report.outputs.equal
            and report.outputs.finite
            and (report.outputs.golden is None or report.outputs.golden.equal)
        )
        if save_path is not None and report.ok:
            outs = [_flatten(call_model(a.model, batch)) for batch in random_batches]
            save_golden(save_path, random_batches, outs)
            report.saved_golden = str(save_path)
        return report, a.model, a.optimizer


def _refuse_checkpoint_dir(path: Path, ckpt: Checkpoint) -> None:
    if ckpt.location.contains(path):
        raise UsageError(
            f"--save-golden {path}: refusing to write into the checkpoint's directory "
            f"{ckpt.location.protected_directory}",
            "write the golden file elsewhere, e.g. tests/golden/model.npz",
        )
    if not path.expanduser().resolve().parent.is_dir():
        raise UsageError(
            f"--save-golden {path}: the directory {path.parent} does not exist",
            "create it first, or write the golden file elsewhere",
        )


def _input_specs(
    model: Any,
    shapes: Sequence[Sequence[int]] | None,
    dtype: str,
    ckpt: Checkpoint,
    scope: tuple[str, ...],
    label: str,
) -> list[InputSpec]:
    if shapes:
        return [InputSpec(tuple(int(d) for d in s), dtype) for s in shapes]
    declared = _declared_inputs(model, dtype)
    if declared:
        return declared
    proposal = _proposed_shape(ckpt, scope) if ckpt.format == "object-graph" else None
    hint = f"e.g. --input-shape {proposal} (read from the checkpoint)" if proposal else ""
    raise UsageError(
        f"{label} declares no input shape: pass --input-shape (repeat it for several inputs)",
        hint or "or give the model class a ckptctl_input_shapes attribute, e.g. [(4, 20)]",
    )


def make_optimizer(optimizer: str | Callable[[], Any], model: Any) -> Any:
    keras = _tf.keras()
    try:
        if callable(optimizer):
            opt = optimizer()
        elif ":" in optimizer:
            opt = construct(optimizer, resolve_factory(parse_spec(optimizer)), {})
        else:
            opt = keras.optimizers.get(optimizer)
    except ModelError:
        raise
    except (ValueError, TypeError) as e:
        raise UsageError(
            f"--optimizer {optimizer!r}: not a Keras optimizer ({one_line(e)})",
            "use an identifier such as adam or sgd, or MODULE:NAME",
        ) from e
    try:
        opt.build(model.trainable_variables)
    except Exception as e:
        raise ModelError(
            f"--optimizer {optimizer!r}: could not be built on the model's variables "
            f"({one_line(e)})"
        ) from e
    return opt


def _accept(plan: Plan, allow_unused: Sequence[str], allow_missing: Sequence[str]) -> None:
    """Mark leftovers the user declared intended (fnmatch on object path or key)."""
    for u in plan.unused:
        u.accepted = any(
            fnmatch.fnmatchcase(u.path or "", p) or fnmatch.fnmatchcase(u.key, p)
            for p in allow_unused
        )
    for m in plan.missing:
        m.accepted = any(fnmatch.fnmatchcase(m.path, p) for p in allow_missing)


def read_allow_file(path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """``unused: PATTERN`` / ``missing: PATTERN`` lines (``#`` comments) of a baseline file."""
    unused: list[str] = []
    missing: list[str] = []
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"--allow-file {path}: cannot read it ({e.strerror})") from e
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, sep, pattern = line.partition(":")
        if not sep or kind.strip() not in ("unused", "missing") or not pattern.strip():
            raise UsageError(
                f"{path}:{n}: expected 'unused: PATTERN' or 'missing: PATTERN', got {raw!r}"
            )
        (unused if kind.strip() == "unused" else missing).append(pattern.strip())
    return unused, missing


def _verify_readable(ckpt: Checkpoint, pairs: list[Pair]) -> None:
    """Stream every value to be restored once, checking its crc32c, before TensorFlow's restore
    touches the model: a corrupt value then names its file, and nothing is half-restored."""
    for p in pairs:
        for _ in ckpt.read_chunks(p.entry.key):
            pass


def _restore_instance(ckpt: Checkpoint, inst: _Instance, partial: bool) -> None:
    leftovers = inst.plan.unused or inst.plan.missing or inst.plan.mismatched
    if partial or inst.root is None or leftovers or inst.plan.mapped:
        # TensorFlow's restore can apply no mapping and fails part-way on a mismatch.
        _assign(ckpt, inst.plan.pairs)
    else:
        try:
            _restore_with_tensorflow(ckpt.prefix, inst.root, inst.root_is_model)
        except Exception as e:
            raise CheckpointError(
                f"{ckpt.prefix}: TensorFlow's restore failed after matching: {one_line(e)}",
                "run again with --debug for the traceback, and report it",
            ) from e


def _check_outputs(
    a: Any, b: Any, batches: list[list[np.ndarray]], atol: float, rtol: float
) -> OutputCheck:
    check = OutputCheck(batches=len(batches), ran=True, equal=True)
    for batch in batches:
        out_a = _flatten(call_model(a, batch))
        out_b = _flatten(call_model(b, batch))
        equal, worst, finite = _compare(out_a, out_b, atol, rtol)
        check.equal = check.equal and equal
        check.finite = check.finite and finite
        check.max_abs_diff = max(check.max_abs_diff, worst)
    if not check.finite:
        check.detail = "the model's outputs contain NaN or Inf"
    elif not check.equal:
        check.detail = (
            "two restored instances disagree: some state is not restored from the checkpoint"
        )
    return check

"""Matching an object-based (TF2) checkpoint against the live model, node by node.

This is how TensorFlow's restore finds objects: by local names from the root. The model is
walked first, by its own paths and never through an optimizer (a compiled Keras model tracks
its optimizer as ``net.optimizer``: the same object as the checkpoint's ``optimizer``, matched
once, as the optimizer). Then, when asked, the optimizer, which may reach model variables the
model does not list itself (Keras 3 layers held in Python lists or dicts) but never re-pairs
the model's own objects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ckptctl.errors import UsageError
from ckptctl.mapping import KERAS2, PathMap, collision, keras2_normal
from ckptctl.objgraph import ROOT, SAVE_COUNTER, VARIABLE_VALUE, ObjectGraph
from ckptctl.reader import Checkpoint
from ckptctl.restoration.live import is_rng_state, live_graph, var_dtype, var_label, var_shape
from ckptctl.restoration.plan import Pair, Plan, mismatch, suggest
from ckptctl.restoration.report import MissingEntry, NotCheckpointed, UnusedEntry

# Keras 2 names Adam's slots m and v; Keras 3 tracks them as _momentums and _velocities.
_SLOT_ALIASES = {"m": "momentum", "v": "velocity"}

UNTRACKED = (
    "held in a Python list or dict, which Keras 3 does not track under the model: the "
    "checkpoint has such values only through the optimizer; pass --optimizer to restore "
    "them from there, or hold the layers as attributes"
)
UNTRACKED_NOT_TRAINABLE = (
    "not trainable, and held in a Python list or dict, which Keras 3 does not track under the "
    "model: no checkpoint of this model saves them (the optimizer holds only trainable "
    "variables); hold the layers as attributes so that the model saves them"
)


@dataclass(frozen=True)
class OptimizerRef:
    """Where the checkpoint keeps the optimizer: ``name`` is the child of the root (or the
    dotted path, when the optimizer is reachable only through the model), ``node`` its id."""

    name: str
    node: int

    @property
    def at_root(self) -> bool:
        return "." not in self.name


def key_candidates(ckpt: Checkpoint, key: str | None) -> list[str]:
    """The child of the checkpoint root that holds the model, or the candidates to try.

    ``model`` when present; else the only child holding model values; else every such child
    plus the root itself (tf-keras ``Model.save_weights`` makes the model the root), and the
    caller keeps the one the live model matches best.
    """
    graph = ckpt.object_graph
    assert graph is not None
    children = graph.child_names()
    if key is not None:
        if key in (ROOT, "") or key in children:
            return [ROOT if key in (ROOT, "") else key]
        raise UsageError(
            f"--key {key!r}: the checkpoint root has no such child",
            f"its children: {', '.join(children) or 'none'} (or --key . for the root itself)",
        )
    if "model" in children:
        return ["model"]
    holders = graph.model_children()
    if len(holders) == 1 and not _looks_like_root_model(children):
        return holders
    return [*holders, ROOT]


def _looks_like_root_model(children: list[str]) -> bool:
    """tf-keras ``Model.save_weights``: the root is the model, its children are layers."""
    return any(c.startswith(("layer_with_weights", "layer-", "keras_api")) for c in children)


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
    holders = [c for c in candidates if c != ROOT]
    raise UsageError(
        f"{ckpt.prefix}: cannot tell which child of the checkpoint root holds the model",
        f"pass --key with one of: {', '.join(holders)} (or --key . for the root itself)",
    )


def find_optimizer(ckpt: Checkpoint, model_key: str, given: str | None) -> OptimizerRef | None:
    """The checkpoint's optimizer: the child ``given`` (``--optimizer-key``), else the one
    child of the root that is an optimizer (it holds the iteration count and the slots), else
    the one the model tracks itself. None when the checkpoint holds no optimizer."""
    graph = ckpt.object_graph
    assert graph is not None
    at_root = graph.optimizer_children()
    if given is not None:
        node = graph.child(0, given)
        if node is None or given == model_key:
            raise UsageError(
                f"--optimizer-key {given!r}: the checkpoint root has no such optimizer child",
                f"its optimizers: {', '.join(at_root) or 'none at the root'}",
            )
        return OptimizerRef(given, node)
    if len(at_root) > 1:
        if "optimizer" in at_root:
            return OptimizerRef("optimizer", graph.child(0, "optimizer") or 0)
        raise UsageError(
            f"{ckpt.prefix}: the checkpoint holds several optimizers ({', '.join(at_root)})",
            "pass --optimizer-key with the one to restore",
        )
    if at_root:
        return OptimizerRef(at_root[0], graph.child(0, at_root[0]) or 0)
    paths = graph.node_paths()
    under_model = sorted(
        (paths[o], o)
        for o in graph.optimizer_nodes()
        if o in paths and (model_key == ROOT or paths[o][:1] == (model_key,))
    )
    if under_model:
        path, node = under_model[0]
        return OptimizerRef(".".join(path), node)
    return None


def _correspond(
    ck: ObjectGraph,
    live: ObjectGraph,
    start: tuple[int, int],
    match: dict[int, int],
    closed_ck: frozenset[int] = frozenset(),
    closed_live: frozenset[int] = frozenset(),
) -> None:
    """Extend ``match`` (checkpoint node -> live node) by following equal child names from
    ``start``. Nodes in ``closed_ck`` / ``closed_live`` are never matched through here."""
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


def _scope(
    graph: ObjectGraph, start: int, blocked: frozenset[int], excluded: frozenset[int]
) -> frozenset[int]:
    """Nodes reachable from ``start`` without passing through ``blocked`` (which are left
    out themselves, unless ``start``), less ``excluded``."""
    reached = graph.walk([((), start)], blocked)
    return frozenset(n for n in reached if n == start or (n not in blocked and n not in excluded))


def match_graph(
    ckpt: Checkpoint,
    key: str,
    live_root: Any,
    optimizer: OptimizerRef | None,
    live_optimizer_name: str | None,
    model_variables: Sequence[Any] = (),
    path_map: PathMap | None = None,
) -> Plan:
    """Match the checkpoint's object graph and the live one, node by node, assigning nothing.

    ``optimizer`` is the checkpoint's optimizer to restore into the live root's child
    ``live_optimizer_name`` (both None when the optimizer is not requested). With
    ``path_map``, checkpoint paths its rules rewrite are placed by their new path, and
    optimizer slots by the variable they belong to rather than by position.
    """
    ck = ckpt.object_graph
    assert ck is not None
    live, variables = live_graph(live_root)
    ck_opts, live_opts = ck.optimizer_nodes(), live.optimizer_nodes()
    ck_paths, live_paths = ck.node_paths(), live.node_paths()

    def ck_label(n: int) -> str:
        return ".".join(ck_paths.get(n, ())) or "(root)"

    def live_label(n: int) -> str:
        return ".".join(live_paths.get(n, ())) or "(root)"

    ck_model = 0 if key == ROOT else ck.child(0, key)
    live_model = 0 if key == ROOT else live.child(0, key)
    assert ck_model is not None and live_model is not None
    # A checkpoint whose root is the model may still hold a save_counter beside it.
    counter = ck.child(0, SAVE_COUNTER) if key == ROOT else None
    excluded = frozenset({counter} if counter is not None else ())
    model_ck = _scope(ck, ck_model, ck_opts, excluded)
    model_live = _scope(live, live_model, live_opts, frozenset())
    scope_ck, scope_live = set(model_ck), set(model_live)

    mapping = path_map if path_map else None
    renamed: dict[int, tuple[str, list[str]]] = {}
    if mapping is not None:
        for n in model_ck:
            new_path, applied = mapping.apply(ck_label(n))
            if applied:
                renamed[n] = (new_path, applied)
        for rule in mapping.rules:
            if not any(rule.text in applied for _, applied in renamed.values()):
                raise UsageError(
                    f"--map {rule.text!r} matches no object path in {ckpt.prefix}",
                    "rules are regular expressions over paths as `ckptctl inspect` shows "
                    f"them, e.g. {_example_path(ck, model_ck, ckpt, ck_label)}",
                )
    ck_slot_nodes = frozenset(ck.slots()) if mapping is not None else frozenset()
    live_slot_nodes = frozenset(live.slots()) if mapping is not None else frozenset()
    rule_of: dict[int, str] = {}
    match: dict[int, int] = {}
    _correspond(ck, live, (ck_model, live_model), match, frozenset(renamed) | ck_opts, live_opts)
    if mapping is not None:
        _map_values(
            ckpt,
            ck,
            model_ck,
            model_live,
            variables,
            renamed,
            mapping,
            match,
            rule_of,
            ck_slot_nodes,
            ck_label,
            live_label,
        )
    live_opt = live.child(0, live_optimizer_name) if live_optimizer_name else None
    if optimizer is not None and live_opt is not None:
        _correspond(
            ck,
            live,
            (optimizer.node, live_opt),
            match,
            model_ck | ck_slot_nodes | frozenset(renamed),
            model_live | live_slot_nodes,
        )
        scope_ck |= ck.walk([((), optimizer.node)]).keys()
    if live_opt is not None:
        scope_live |= live.walk([((), live_opt)]).keys()
    if mapping is not None and optimizer is not None:
        _map_slots(ck, live, match, rule_of, ck_label)

    ck_values = {
        n: attr.checkpoint_key
        for n in sorted(scope_ck)
        for attr in ck.nodes[n].attributes
        if attr.name == VARIABLE_VALUE and attr.checkpoint_key in ckpt
    }
    pairs: list[Pair] = []
    mismatched = []
    used_live: set[int] = set()
    for c, ck_key in ck_values.items():
        lv = match.get(c)
        if lv is None or lv not in variables:
            continue
        used_live.add(lv)
        entry, var, path = ckpt.entry(ck_key), variables[lv], ck_label(c)
        if entry.shape != var_shape(var) or entry.dtype != var_dtype(var):
            mismatched.append(mismatch(entry, path, var))
        elif c in rule_of and live_label(lv) != path:
            pairs.append(Pair(entry, path, var, rule_of[c], live_label(lv)))
        else:
            pairs.append(Pair(entry, path, var))
    if optimizer is not None and mapping is None:
        wrong = {m.key: m for m in _slot_owner_mismatches(ckpt, ck, live, match, variables)}
        pairs = [p for p in pairs if p.entry.key not in wrong]
        for m in mismatched:
            if m.key in wrong:
                m.reason = wrong.pop(m.key).reason
        mismatched += wrong.values()

    ck_kinds, live_kinds = ck.kinds(), live.kinds()
    unused = [
        UnusedEntry(
            k,
            ck_label(c),
            list(ckpt.entry(k).shape),
            ckpt.entry(k).dtype,
            kind=ck_kinds.get(c, "model"),
        )
        for c, k in ck_values.items()
        if match.get(c) not in variables
    ]
    missing: list[MissingEntry] = []
    not_checkpointed: list[NotCheckpointed] = []
    for lv, var in variables.items():
        if lv not in scope_live or lv in used_live:
            continue
        if is_rng_state(var):
            not_checkpointed.append(_not_checkpointed(live_label(lv), var))
        else:
            missing.append(
                MissingEntry(
                    live_label(lv),
                    list(var_shape(var)),
                    var_dtype(var),
                    kind=live_kinds.get(lv, "model"),
                )
            )
    # Variables the model owns but does not track under its own path (Keras 3 does not list
    # layers held in plain lists or dicts there): still the model's, still to be accounted for.
    reached = {id(v) for lv, v in variables.items() if lv in scope_live}
    paired = {id(p.var) for p in pairs}
    for var in model_variables:
        if id(var) in reached or id(var) in paired:
            continue
        if is_rng_state(var):
            not_checkpointed.append(_not_checkpointed(var_label(var), var))
        else:
            why = UNTRACKED if getattr(var, "trainable", True) else UNTRACKED_NOT_TRAINABLE
            missing.append(
                MissingEntry(var_label(var), list(var_shape(var)), var_dtype(var), reason=why)
            )
    restored = set(ck_values.values())
    not_requested = [
        i.key
        for i in sorted(ckpt.key_infos.values(), key=lambda i: (i.node_id, i.key))
        if i.key not in restored and i.key in ckpt
    ]
    suggest(unused, missing)
    _suggest_not_requested(ckpt, missing, not_requested)
    assign = bool(rule_of) or (optimizer is not None and not optimizer.at_root)
    return Plan(
        pairs,
        unused,
        missing,
        mismatched,
        not_requested,
        not_checkpointed,
        assign_by_ckptctl=assign,
    )


def _not_checkpointed(path: str, var: Any) -> NotCheckpointed:
    return NotCheckpointed(path, list(var_shape(var)), var_dtype(var))


def _map_values(
    ckpt: Checkpoint,
    ck: ObjectGraph,
    model_ck: frozenset[int],
    model_live: frozenset[int],
    variables: dict[int, Any],
    renamed: dict[int, tuple[str, list[str]]],
    mapping: PathMap,
    match: dict[int, int],
    rule_of: dict[int, str],
    slots: frozenset[int],
    ck_label: Callable[[int], str],
    live_label: Callable[[int], str],
) -> None:
    """Place checkpoint values the model's own paths did not take, by their mapped path."""
    live_by_path = {live_label(n): n for n in model_live if n in variables}
    live_by_normal = {keras2_normal(k): n for k, n in live_by_path.items()}
    placed_by: dict[int, int] = {lv: c for c, lv in match.items()}
    for c in sorted(model_ck):
        if c in match or c in slots or not _has_value(ck, c, ckpt):
            continue
        new_path, applied = renamed.get(c, (ck_label(c), []))
        target = live_by_path.get(new_path) if applied else None
        rule = ", ".join(applied)
        if target is None and mapping.keras2:
            target = live_by_normal.get(keras2_normal(new_path))
            rule = ", ".join([*applied, KERAS2])
        if target is None or not rule:
            continue
        if target in placed_by:
            raise collision(ck_label(placed_by[target]), ck_label(c), live_label(target))
        match[c] = target
        placed_by[target] = c
        rule_of[c] = rule


def _example_path(
    graph: ObjectGraph, nodes: frozenset[int], ckpt: Checkpoint, label: Callable[[int], str]
) -> str:
    for n in sorted(nodes):
        if _has_value(graph, n, ckpt):
            return label(n)
    return "model.dense._kernel"


def _has_value(graph: ObjectGraph, node: int, ckpt: Checkpoint) -> bool:
    return any(
        a.name == VARIABLE_VALUE and a.checkpoint_key in ckpt for a in graph.nodes[node].attributes
    )


def _map_slots(
    ck: ObjectGraph,
    live: ObjectGraph,
    match: dict[int, int],
    rule_of: dict[int, str],
    ck_label: Callable[[int], str],
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
        rule_of[slot] = f"{name} of {ck_label(owner)}"


def _slot_owner_mismatches(
    ckpt: Checkpoint,
    ck: ObjectGraph,
    live: ObjectGraph,
    match: dict[int, int],
    variables: dict[int, Any],
) -> list[Any]:
    """Keras 3 slots are restored by list position: check each lands on its own variable."""
    live_slots = live.slots()
    ck_paths, live_paths = ck.node_paths(), live.node_paths()
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
        out.append(mismatch(ckpt.entry(key), ".".join(ck_paths[slot]), variables[lv], reason))
    return out


def _suggest_not_requested(
    ckpt: Checkpoint, missing: list[MissingEntry], not_requested: list[str]
) -> None:
    """A missing model variable whose value the checkpoint holds only through the optimizer
    says so. One that is not trainable is in no optimizer: it takes no value of its shape."""
    infos = ckpt.key_infos
    candidates = [
        k
        for k in not_requested
        if (i := infos.get(k)) is not None and i.kind == "model" and i.slot_of is None
    ]
    for m in missing:
        if m.suggestion is not None or m.kind != "model" or m.reason == UNTRACKED_NOT_TRAINABLE:
            continue
        for k in candidates:
            entry = ckpt.entry(k)
            if list(entry.shape) == m.shape and entry.dtype == m.dtype:
                m.suggestion = infos[k].path
                candidates.remove(k)
                break

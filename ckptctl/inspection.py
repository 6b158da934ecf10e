"""``inspect``: what a checkpoint holds, as an :class:`InspectReport`."""

from __future__ import annotations

import fnmatch
import math
import operator
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ckptctl._renamed import deprecated_alias, json_names
from ckptctl.bulk import collection_paused
from ckptctl.errors import CheckpointError
from ckptctl.objgraph import KeyInfo, ObjectGraph
from ckptctl.reader import BackendName, Checkpoint, Entry, open_checkpoint

if TYPE_CHECKING:
    from ckptctl.stats import ValueStats

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class VariableInfo:
    key: str
    path: str | None
    owner: str | None
    dtype: str
    shape: list[int]
    num_elements: int
    nbytes: int | None
    full_name: str | None = None
    slot_of: str | None = None
    slot_name: str | None = None
    stats: ValueStats | None = None
    kind: str | None = None
    layer_name: str | None = None


@dataclass
class OwnerSummary:
    name: str
    values: int
    params: int
    nbytes: int


@dataclass(slots=True)
class TreeNode:
    """One object of the graph; ``key`` is set on objects that hold a value."""

    name: str
    path: str
    key: str | None = None
    dtype: str | None = None
    shape: list[int] | None = None
    alias_of: str | None = None
    children: list[TreeNode] = field(default_factory=list)
    truncated: bool = False
    """True where the tree is cut (``TREE_DEPTH``): this object has more below it."""


@dataclass
class InspectReport:
    checkpoint: str
    naming: str
    """How the checkpoint names its values (:data:`ckptctl.reader.Naming`); JSON ``format``."""
    source: str
    shards: int
    total_bytes: int
    total_params: int
    save_counter: int | None
    variables: list[VariableInfo]
    total_values: int
    owners: list[OwnerSummary]
    other_checkpoints: list[str]
    note: str | None = None
    filter: str | None = None
    tree: TreeNode | None = None
    tree_note: str | None = None
    """Set when ``tree`` is cut at ``TREE_DEPTH`` levels."""
    error: str | None = None
    error_hint: str | None = None

    stats: bool = False
    nonfinite: int = 0
    keras_version: str | None = None
    date_saved: str | None = None
    class_name: str | None = None
    keras_backend: str | None = None
    layers: list[str] | None = None
    """A Keras 2 HDF5 file's layer names, in the model's order."""
    backend: str | None = None
    """Which reader read it: ``native`` (ckptctl's own) or ``tf`` (TensorFlow's)."""
    backend_note: str | None = None
    """Why TensorFlow's reader was used where ckptctl's own could not read the checkpoint."""

    format = deprecated_alias("format", "naming")

    def to_dict(self) -> dict[str, Any]:
        # By hand for the variables: dataclasses.asdict is slow on thousands of them.
        variables = self.variables
        self.variables = []
        try:
            d = json_names(asdict(self), {"naming": "format"})
        finally:
            self.variables = variables
        d["variables"] = [_variable_dict(v) for v in variables]
        if self.tree is None:
            d.pop("tree")
            d.pop("tree_note")
        if not self.stats:
            d.pop("nonfinite")
            for v in d["variables"]:
                v.pop("stats")
        else:
            for v in d["variables"]:
                st = v.get("stats") or {}
                for name in ("min", "max", "mean", "std"):
                    st[name] = _json_number(st.get(name))
        return d


def _variable_dict(v: VariableInfo) -> dict[str, Any]:
    return {
        "key": v.key,
        "path": v.path,
        "owner": v.owner,
        "dtype": v.dtype,
        "shape": list(v.shape),
        "num_elements": v.num_elements,
        "nbytes": v.nbytes,
        "full_name": v.full_name,
        "slot_of": v.slot_of,
        "slot_name": v.slot_name,
        "kind": v.kind,
        "layer_name": v.layer_name,
        "stats": asdict(v.stats) if v.stats is not None else None,
    }


def _json_number(x: float | None) -> float | str | None:
    """Strict JSON has no Infinity or NaN: those become the strings "inf", "-inf", "nan"."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def inspect(
    path: str | os.PathLike[str],
    *,
    filter: str | None = None,
    tree: bool = False,
    backend: BackendName = "auto",
    stats: bool = False,
    hist: bool = False,
    verify: bool = True,
    progress: Progress | None = None,
) -> InspectReport:
    """Describe the checkpoint at ``path`` (any form :func:`ckptctl.locate` accepts).

    A checkpoint whose index is readable but whose values are not (a missing or corrupt data
    shard) still gets a report listing what the index holds, with ``error`` set.
    """
    with open_checkpoint(path, backend=backend, verify=verify) as ckpt:
        report = _report(ckpt, filter, tree)
        if (stats or hist) and report.error is None:
            from ckptctl.stats import HIST_BINS

            _add_stats(ckpt, report, HIST_BINS if hist else 0, progress)
        return report


def _add_stats(
    ckpt: Checkpoint, report: InspectReport, bins: int, progress: Progress | None
) -> None:
    """Statistics of every shown value; a read error becomes the report's error."""
    from ckptctl.stats import value_stats

    report.stats = True
    total = sum(v.nbytes or 0 for v in report.variables)
    done = 0
    for v in report.variables:
        try:
            v.stats = value_stats(ckpt, ckpt.entry(v.key), hist_bins=bins)
        except CheckpointError as e:
            report.error, report.error_hint = e.message, e.hint
            return
        report.nonfinite += v.stats.nonfinite
        done += v.nbytes or 0
        if progress is not None:
            progress(done, total)


def _report(ckpt: Checkpoint, pattern: str | None, want_tree: bool) -> InspectReport:
    with collection_paused():
        return _build_report(ckpt, pattern, want_tree)


def _build_report(ckpt: Checkpoint, pattern: str | None, want_tree: bool) -> InspectReport:
    loc = ckpt.location
    error: CheckpointError | None = None
    try:
        infos = ckpt.key_infos
        save_counter = ckpt.save_counter()
    except CheckpointError as e:
        infos, save_counter, error = {}, None, e
    if error is None:
        problems = ckpt.file_problems()
        error = problems[0] if problems else None
    entries = ckpt.entries
    # In the graph's own order (the order the model tracks its objects), not by key.
    graph = ckpt.object_graph if error is None else None
    owner_rank = {name: i for i, name in enumerate(graph.child_names() if graph else [])}
    ordered = _graph_ordered(entries, infos, owner_rank)
    entries = [e for e, _ in ordered]
    graph_tree = tree_note = None
    if want_tree and graph is not None:
        graph_tree, tree_note = _tree(graph, {e.key: e for e in entries})
    # What follows needs only the key infos: the graph's nodes (half the memory of a listing
    # of 100,000 values) can go before the report's rows are made.
    del graph
    ckpt.forget_object_graph()
    variables = [_variable(e, info) for e, info in ordered]
    del ordered
    shown = variables if pattern is None else [v for v in variables if _matches(v, pattern)]
    return InspectReport(
        checkpoint=loc.name,
        naming=ckpt.naming,
        source=loc.source,
        shards=ckpt.num_shards,
        total_bytes=loc.bytes_on_disk,
        total_params=sum(v.num_elements for v in variables if v.dtype not in _NOT_NUMBERS),
        save_counter=save_counter,
        variables=shown,
        total_values=len(entries),
        owners=_owners(variables),
        other_checkpoints=list(loc.others),
        note=loc.note,
        filter=pattern,
        tree=graph_tree,
        tree_note=tree_note,
        error=error.message if error else None,
        error_hint=error.hint if error else None,
        keras_version=getattr(ckpt.keras_info, "keras_version", None),
        date_saved=getattr(ckpt.keras_info, "date_saved", None),
        class_name=getattr(ckpt.keras_info, "class_name", None),
        keras_backend=getattr(ckpt.keras_info, "backend", None),
        layers=getattr(ckpt.keras_info, "layers", None),
        backend=ckpt.backend_name,
        backend_note=ckpt.backend_note,
    )


def _graph_ordered(
    entries: list[Entry], infos: dict[str, KeyInfo], owner_rank: dict[str, int]
) -> list[tuple[Entry, KeyInfo | None]]:
    """``entries`` (sorted by key), each with its key info, in the order of (the rank of its
    owner among the root's children, its node, its key); those the graph does not name come
    last, by key. Made a bucket per owner rank, as the key infos come in node order (the
    order the graph lists its nodes): sorting 100,000 entries by a key tuple took longer."""
    by_key = {e.key: e for e in entries}
    n = len(owner_rank)
    buckets: list[list[tuple[Entry, KeyInfo]]] = [[] for _ in range(n + 1)]
    rank = owner_rank.get
    for info in infos.values():
        entry = by_key.pop(info.key, None)
        if entry is not None:
            buckets[rank(info.owner or "", n)].append((entry, info))
    ordered: list[tuple[Entry, KeyInfo | None]] = []
    for bucket in buckets:
        nodes = [info.node_id for _, info in bucket]
        if not all(map(operator.lt, nodes, nodes[1:])):
            # Not one node after another (several values of a node, another format's infos).
            bucket.sort(key=lambda pair: (pair[1].node_id, pair[0].key))
        ordered += bucket
    ordered += [(entry, None) for entry in by_key.values()]
    return ordered


def _variable(entry: Entry, info: KeyInfo | None) -> VariableInfo:
    # Positional, in the fields' order: made once per value, 100,000 times for some listings.
    shape = list(entry.shape)
    if info is None:
        return VariableInfo(
            entry.key, None, None, entry.dtype, shape, entry.num_elements, entry.nbytes
        )
    return VariableInfo(
        entry.key,
        info.path,
        info.owner,
        entry.dtype,
        shape,
        entry.num_elements,
        entry.nbytes,
        info.full_name,
        info.slot_of,
        info.slot_name,
        None,
        info.kind,
        info.layer_name,
    )


def _matches(v: VariableInfo, pattern: str) -> bool:
    return fnmatch.fnmatchcase(v.key, pattern) or (
        v.path is not None and fnmatch.fnmatchcase(v.path, pattern)
    )


_NOT_NUMBERS = frozenset({"string", "variant", "resource"})
"""dtypes whose elements are not parameters (:attr:`ckptctl.reader.Entry.is_numeric`)."""


def _owners(variables: list[VariableInfo]) -> list[OwnerSummary]:
    # Each owner's values by list, then summed at C speed: once per value, 100,000 times.
    groups: dict[str, list[VariableInfo]] = {}
    for v in variables:
        name = v.owner or "(root)"
        group = groups.get(name)
        if group is None:
            groups[name] = [v]
        else:
            group.append(v)
    return [
        OwnerSummary(
            name,
            len(group),
            sum(v.num_elements for v in group if v.dtype not in _NOT_NUMBERS),
            sum(v.nbytes or 0 for v in group),
        )
        for name, group in groups.items()
    ]


TREE_DEPTH = 100
"""Levels of the object graph ``--tree`` shows: deeper objects (a chain of thousands of
modules) are cut, with a note, so that the tree stays readable, and renders and encodes as
JSON without recursing thousands of levels deep."""


def _tree(
    graph: ObjectGraph, entries: dict[str, Entry], max_depth: int = TREE_DEPTH
) -> tuple[TreeNode, str | None]:
    """The object graph as a tree of at most ``max_depth`` levels, and a note when it is cut.
    Built iteratively, each node once: linear however deep the graph."""
    paths = graph.node_paths()
    root = TreeNode(name="(root)", path="")
    stack: list[tuple[int, TreeNode, int]] = [(0, root, 0)]
    cut = False
    while stack:
        nid, tnode, depth = stack.pop()
        node = graph.nodes[nid]
        below = depth >= max_depth  # what hangs below this object is not shown
        for attr in node.attributes:
            e = entries.get(attr.checkpoint_key)
            if attr.name == "VARIABLE_VALUE" and tnode is not root:
                tnode.key = attr.checkpoint_key
                tnode.dtype = e.dtype if e else None
                tnode.shape = list(e.shape) if e else None
            elif below:
                tnode.truncated = True
            else:
                tnode.children.append(
                    TreeNode(
                        name=attr.name,
                        path=_child_path(tnode.path, attr.name),
                        key=attr.checkpoint_key,
                        dtype=e.dtype if e else None,
                        shape=list(e.shape) if e else None,
                    )
                )
        if below and node.children:
            tnode.truncated = True
        if tnode.truncated:
            cut = True
            continue
        for name, child in node.children:
            tchild = TreeNode(name=name, path=_child_path(tnode.path, name))
            tnode.children.append(tchild)
            if paths.link(child) == (nid, name):  # its own path runs through here
                stack.append((child, tchild, depth + 1))
            else:
                tchild.alias_of = ".".join(paths.get(child, ()))
    note = None
    if cut:
        deepest = max((paths.depth(n) for n in paths), default=0)
        note = (
            f"the object graph is {deepest:,} levels deep: the tree shows {max_depth} "
            "(--json lists every value's full path)"
        )
    return root, note


def _child_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name

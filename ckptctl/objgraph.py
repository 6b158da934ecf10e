"""The object graph of a TF2 checkpoint: object paths, owners and optimizer slots per key.

Parses the ``_CHECKPOINTABLE_OBJECT_GRAPH`` entry (a ``TrackableObjectGraph`` proto) without
TensorFlow. Paths are the local names from the root joined by ``.``.

TensorFlow keys each value by its shortest path, and an optimizer's lists reach the model's
variables too (``optimizer/_trainable_variables/4`` is ``net.block.conv._kernel``). So ckptctl
names each object by the shortest path that does not pass through an optimizer, where there is
one, and tells what each value is (:data:`Kind`): the model's, the optimizer's, or something
else the training loop saved (``step``, ``save_counter``). This module is the one definition of
those three kinds; restore, diff ``--model-only`` and inspect all ask it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from ckptctl import _proto as pb
from ckptctl import speedups
from ckptctl.bulk import collection_paused
from ckptctl.errors import CheckpointError
from ckptctl.names import digits_order

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VARIABLE_VALUE = "VARIABLE_VALUE"
ROOT = "."
"""How ckptctl names the checkpoint's root object itself (``--key .``)."""
SAVE_COUNTER = "save_counter"

Kind = Literal["model", "optimizer", "other"]
"""What a value is: the model's (its variables, wherever the graph reaches them first), the
optimizer's (iteration count, learning rate, slots), or other (root-level variables such as
``save_counter``, ``step``, ``epoch``)."""

Path = tuple[str, ...]


class Attribute(NamedTuple):
    """One value an object holds (a ``SerializedTensor``): a tuple, as there is one for every
    value of a checkpoint and a tuple is made several times faster than a dataclass."""

    name: str
    full_name: str
    checkpoint_key: str


@dataclass(frozen=True)
class SlotReference:
    original_node: int
    slot_name: str
    slot_node: int


@dataclass(slots=True)
class Node:
    id: int
    # Set whole, not appended to: the many nodes without children or slots share the empty
    # tuple, and a variable's one attribute is a tuple of one (100,000 values: 15 MB less).
    children: Sequence[tuple[str, int]] = ()
    attributes: Sequence[Attribute] = ()
    slot_variables: Sequence[SlotReference] = ()


@dataclass(slots=True, unsafe_hash=True)
class KeyInfo:
    """What the object graph says about one checkpoint key. Read-only by convention, not
    frozen: a frozen dataclass sets each field through ``object.__setattr__``, which makes it
    five times slower to build, and a listing builds one per value."""

    key: str
    path: str
    owner: str | None
    full_name: str | None
    node_id: int
    slot_of: str | None = None
    slot_name: str | None = None
    kind: Kind = "model"
    layer_name: str | None = None
    """The name Keras recorded for the layer (Keras files); None where a format has none."""


_UNSEEN = -1
_START = -2


class Paths(Mapping[int, Path]):
    """The path of each node reached by a walk, kept as a link to the node it was reached from
    (and its local name): linear in the graph's size however deep it is (a 20,000-level chain
    of modules), where a tuple per node would be quadratic. A node's path tuple is built only
    when it is looked up; :meth:`depth` and :meth:`head` answer without building it.

    Node ids are the graph's list indices, so each property is a list over them (a pointer per
    node, where a dict entry and a tuple per node took ten times that on 100,000 values)."""

    __slots__ = ("_depth", "_dotted", "_head", "_name", "_order", "_parent", "_starts")

    def __init__(self, size: int) -> None:
        self._parent: list[int] = [_UNSEEN] * size  # or _START
        self._name: list[str] = [""] * size  # the local name it was reached through
        self._depth: list[int] = [0] * size
        self._head: list[str | None] = [None] * size
        self._order: list[int] = []  # the nodes in the order they were reached
        self._starts: dict[int, Path] = {}
        self._dotted: dict[int, str] = {}  # of the nodes whose children were asked for

    def copy(self) -> Paths:
        """A copy that can be extended without changing this one."""
        out = Paths(0)
        out._parent, out._name = self._parent.copy(), self._name.copy()
        out._depth, out._head = self._depth.copy(), self._head.copy()
        out._order, out._starts = self._order.copy(), self._starts.copy()
        return out

    def add_start(self, node: int, path: Path) -> None:
        self._parent[node] = _START
        self._order.append(node)
        self._starts[node] = path
        self._depth[node] = len(path)
        self._head[node] = path[0] if path else None

    def add(self, node: int, parent: int, name: str) -> None:
        """``node`` reached from ``parent`` (already here) through its child ``name``."""
        self._parent[node] = parent
        self._name[node] = name
        self._order.append(node)
        self._depth[node] = self._depth[parent] + 1
        head = self._head[parent]
        self._head[node] = name if head is None else head

    def link(self, node: int) -> tuple[int, str] | None:
        """(the node ``node`` was reached from, the child name), or None for a start."""
        if node not in self:
            return None
        parent = self._parent[node]
        return None if parent == _START else (parent, self._name[node])

    def depth(self, node: int) -> int:
        """``len(self[node])``, without building the path."""
        self._parent_of(node)
        return self._depth[node]

    def head(self, node: int) -> str | None:
        """``self[node][0]`` (None for an empty path), without building the path."""
        self._parent_of(node)
        return self._head[node]

    def dotted(self, node: int) -> str:
        """``".".join(self[node])``: made from the parent's, which is kept, so the values of
        one object cost one join between them, not one walk up the path each."""
        parent = self._parent_of(node)
        if parent == _START:
            return ".".join(self._starts[node])
        prefix = self._dotted.get(parent)
        if prefix is None:
            prefix = self._dotted[parent] = ".".join(self[parent])
        name = self._name[node]
        return f"{prefix}.{name}" if prefix else name

    def __getitem__(self, node: int) -> Path:
        parent = self._parent_of(node)
        names: list[str] = []
        parents, local = self._parent, self._name
        while parent != _START:
            names.append(local[node])
            node = parent
            parent = parents[node]
        return (*self._starts[node], *reversed(names))

    def _parent_of(self, node: int) -> int:
        """The node ``node`` was reached from (or ``_START``); KeyError if it was not."""
        try:
            parent = self._parent[node] if node >= 0 else _UNSEEN
        except IndexError:
            parent = _UNSEEN
        if parent == _UNSEEN:
            raise KeyError(node)
        return parent

    def __contains__(self, node: object) -> bool:
        try:
            return node >= 0 and self._parent[node] != _UNSEEN  # type: ignore[operator,call-overload]
        except (IndexError, TypeError):
            return False

    def __iter__(self) -> Iterator[int]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


@dataclass
class ObjectGraph:
    nodes: list[Node]
    _slots: dict[int, tuple[int, str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _paths: Paths | None = field(default=None, init=False, repr=False, compare=False)
    _model_paths: Paths | None = field(default=None, init=False, repr=False, compare=False)
    _optimizers: frozenset[int] | None = field(default=None, init=False, repr=False, compare=False)

    def child_names(self, node_id: int = 0) -> list[str]:
        return [name for name, _ in self.nodes[node_id].children]

    def child(self, node_id: int, name: str) -> int | None:
        for child_name, child in self.nodes[node_id].children:
            if child_name == name:
                return child
        return None

    def walk(self, starts: Iterable[tuple[Path, int]], blocked: Collection[int] = ()) -> Paths:
        """Breadth first from ``starts``: each node reached with the first path found.

        Nodes in ``blocked`` are reached (given a path) but not walked through, unless they are
        a start. Iterative and linear (see :class:`Paths`), however deep the graph.
        """
        n = len(self.nodes)
        paths = Paths(n)
        queue: deque[int] = deque()
        for path, start in starts:
            if start not in paths:
                paths.add_start(start, path)
                queue.append(start)
        first = set(queue)
        nodes = self.nodes
        parents, local, depths, heads = paths._parent, paths._name, paths._depth, paths._head
        order = paths._order
        while queue:
            nid = queue.popleft()
            if nid in blocked and nid not in first:
                continue
            depth = depths[nid] + 1
            head = heads[nid]
            for name, child in nodes[nid].children:
                if 0 <= child < n and parents[child] == _UNSEEN:
                    # paths.add(child, nid, name), without a call per node
                    parents[child] = nid
                    local[child] = name
                    depths[child] = depth
                    heads[child] = name if head is None else head
                    order.append(child)
                    queue.append(child)
        return paths

    def optimizer_nodes(self) -> frozenset[int]:
        """Nodes that are optimizers: Keras 3's (``_iterations`` beside ``_variables`` or
        ``_learning_rate``), Keras 2's (``iter``, or slot variables of its own)."""
        if self._optimizers is None:
            found = set()
            for node in self.nodes:
                if not node.children and not node.slot_variables:
                    continue
                names = {name for name, _ in node.children}
                if (
                    node.slot_variables
                    or ("_iterations" in names and names & {"_variables", "_learning_rate"})
                    or ("iter" in names and names & {"learning_rate", "lr", "decay"})
                ):
                    found.add(node.id)
            self._optimizers = frozenset(found)
        return self._optimizers

    def node_paths(self) -> Paths:
        """The path ckptctl names each reachable node by: the shortest one that passes through
        no optimizer, where there is one; else the shortest. (TensorFlow's keys use the
        shortest path of all, which for a nested layer's variable runs through the optimizer.)
        """
        if self._paths is None:
            optimizers = self.optimizer_nodes()
            model_side = paths = self._model_side()  # copied before the first node is added
            # Then whatever only optimizers reach: shortest first across all of them, and in
            # the graph's own child order among equals, as a breadth-first walk would.
            heap = [(paths.depth(o), i, o) for i, o in enumerate(sorted(optimizers)) if o in paths]
            heapq.heapify(heap)
            order = len(heap)
            seen: set[int] = set()
            while heap:
                _, _, nid = heapq.heappop(heap)
                if nid in seen:
                    continue
                seen.add(nid)
                for name, child in self.nodes[nid].children:
                    if child not in paths and 0 <= child < len(self.nodes):
                        if paths is model_side:
                            paths = model_side.copy()
                        paths.add(child, nid, name)
                        order += 1
                        heapq.heappush(heap, (paths.depth(child), order, child))
            self._paths = paths
        return self._paths

    def _model_side(self) -> Paths:
        """The nodes the root reaches without passing through an optimizer (kept: do not
        change it)."""
        if self._model_paths is None:
            self._model_paths = self.walk([((), 0)], self.optimizer_nodes())
        return self._model_paths

    def kinds(self) -> dict[int, Kind]:
        """What each reachable node holds (see :data:`Kind`)."""
        optimizers = self.optimizer_nodes()
        model_side = self._model_side()
        trained: set[int] = set()  # the variables an optimizer trains are the model's
        for o in optimizers:
            listed = self.child(o, "_trainable_variables")
            if listed is not None:
                trained.update(self._list_children(listed) or [])
        kinds: dict[int, Kind] = {}
        # Read inline, once per node: ``nid in model_side`` and ``model_side.depth(nid)``.
        parents, depths = model_side._parent, model_side._depth
        for nid in self.node_paths():
            on_model_side = parents[nid] != _UNSEEN
            if nid in optimizers or (not on_model_side and nid not in trained):
                kinds[nid] = "optimizer"
            elif on_model_side and depths[nid] == 1 and self._is_variable(nid):
                kinds[nid] = "other"  # a variable of the root's own (save_counter)
            else:
                kinds[nid] = "model"
        return kinds

    def _is_variable(self, node_id: int) -> bool:
        node = self.nodes[node_id]
        return not node.children and any(a.name == VARIABLE_VALUE for a in node.attributes)

    def model_children(self) -> list[str]:
        """Children of the root that hold model values (not an optimizer, not a counter)."""
        optimizers = self.optimizer_nodes()
        kinds = self.kinds()
        holders = set()
        model_side = self._model_side()
        for nid in model_side:
            head = model_side.head(nid)
            if head is not None and kinds.get(nid) == "model" and self._holds_value(nid):
                holders.add(head)
        return [
            name
            for name, child in self.nodes[0].children
            if name in holders and child not in optimizers and not self._is_variable(child)
        ]

    def _holds_value(self, node_id: int) -> bool:
        return any(a.name == VARIABLE_VALUE for a in self.nodes[node_id].attributes)

    def optimizer_children(self) -> list[str]:
        """Children of the root that are optimizers (``optimizer``, ``opt``, ...)."""
        optimizers = self.optimizer_nodes()
        return [name for name, child in self.nodes[0].children if child in optimizers]

    def _list_children(self, node_id: int) -> list[int] | None:
        """Children of a list-like node (local names 0, 1, 2, ...), in order; else None."""
        children = self.nodes[node_id].children
        if not children:
            return None
        if all(name == str(i) for i, (name, _) in enumerate(children)):
            return [nid for _, nid in children]  # 0, 1, 2, ... in order: as TensorFlow writes
        if not all(name.isascii() and name.isdigit() for name, _ in children):
            return None
        return [nid for _, nid in sorted(children, key=lambda c: digits_order(c[0]))]

    def keras_slots(self) -> dict[int, tuple[int, str]]:
        """Keras 3 optimizer slots: slot node -> (model variable node, slot name).

        A Keras 3 optimizer tracks ``_trainable_variables`` (the model variables, in order)
        and one list per slot kind (``_momentums``, ``_velocities``, ...) in the same order,
        so the graph itself says which variable each slot belongs to.
        """
        slots: dict[int, tuple[int, str]] = {}
        for node in self.nodes:
            if not node.children:
                continue  # a variable (most nodes)
            names = dict(node.children)
            if "_trainable_variables" not in names:
                continue
            owners = self._list_children(names["_trainable_variables"])
            if not owners:
                continue
            for name, child in node.children:
                if name.startswith("_trainable_variables") or name == "_variables":
                    continue
                members = self._list_children(child)
                if members is None or len(members) != len(owners):
                    continue
                for slot_node, owner in zip(members, owners, strict=True):
                    if self.nodes[slot_node].attributes:
                        slots[slot_node] = (owner, _singular(name.lstrip("_")))
        return slots

    def _slots_by_full_name(
        self, known: dict[int, tuple[int, str]], referenced: Collection[int]
    ) -> dict[int, tuple[int, str]]:
        """Slots named ``Optimizer/slot/variable-name`` (Keras 2's ``Adam/m/my_model/dense/
        kernel``): the slot of the variable whose ``full_name`` is the rest, when exactly one
        variable has that name."""
        named = [
            (node.id, parts)
            for node in self.nodes
            if node.id not in known and node.id not in referenced
            for attr in node.attributes
            if attr.name == VARIABLE_VALUE
            and attr.full_name.count("/") >= 2
            and len(parts := attr.full_name.split("/", 2)) == 3
        ]
        if not named:  # the variables' own names are then not needed
            return {}
        owners: dict[str, list[int]] = {}
        for node in self.nodes:
            for attr in node.attributes:
                if attr.name == VARIABLE_VALUE and attr.full_name:
                    owners.setdefault(attr.full_name, []).append(node.id)
        out: dict[int, tuple[int, str]] = {}
        for node_id, parts in named:
            candidates = owners.get(parts[2], [])
            if len(candidates) == 1 and candidates[0] != node_id:
                out[node_id] = (candidates[0], parts[1])
        return out

    def slots(self) -> dict[int, tuple[int, str]]:
        """Every optimizer slot whose variable the graph identifies: slot node -> (variable
        node, slot name), structurally (Keras 3) or by ``full_name`` (Keras 2). Computed once:
        matching and listing ask for it several times."""
        if self._slots is None:
            known = self.keras_slots()
            referenced = {ref.slot_node for node in self.nodes for ref in node.slot_variables}
            self._slots = {**self._slots_by_full_name(known, referenced), **known}
        return self._slots

    def key_infos(self) -> dict[str, KeyInfo]:
        """Every checkpoint key the graph names, with its object path and owner."""
        with collection_paused():
            return self._key_infos()

    def _key_infos(self) -> dict[str, KeyInfo]:
        paths = self.node_paths()
        kinds = self.kinds()
        slot_parent: dict[int, tuple[int, SlotReference]] = {}
        for node in self.nodes:
            for ref in node.slot_variables:
                slot_parent[ref.slot_node] = (node.id, ref)
        slots = self.slots()
        infos: dict[str, KeyInfo] = {}
        # Read inline, once per node: paths.dotted(nid) without its two calls.
        parents, depths, heads, local = paths._parent, paths._depth, paths._head, paths._name
        prefixes = paths._dotted
        for node in self.nodes:
            if not node.attributes:
                continue  # no key to name: its path is never built (a deep chain's links)
            nid = node.id
            slot_of = slot_name = None
            if nid in slots:
                owner_node, slot_name = slots[nid]
                slot_of = paths.dotted(owner_node) if owner_node in paths else ""
            elif nid in slot_parent:
                optimizer_id, ref = slot_parent[nid]
                optimizer_path = paths.get(optimizer_id, ())
                original = ".".join(paths.get(ref.original_node, ()))
                base = (*optimizer_path, f"{ref.slot_name}({original})")
                self._add_infos(infos, node, base, original, ref.slot_name, "optimizer")
                continue
            kind: Kind = "optimizer" if slot_of is not None else kinds.get(nid, "model")
            if parents[nid] == _UNSEEN or depths[nid] == 0:
                self._add_infos(infos, node, paths.get(nid), slot_of, slot_name, kind)
                continue
            # The common case, without building the path's tuple: an object below the root.
            parent = parents[nid]
            if parent == _START:
                dotted = paths.dotted(nid)
            else:
                prefix = prefixes.get(parent)
                if prefix is None:
                    prefix = prefixes[parent] = ".".join(paths[parent])
                name = local[nid]
                dotted = f"{prefix}.{name}" if prefix else name
            owner = heads[nid]
            for attr in node.attributes:
                path = dotted if attr.name == VARIABLE_VALUE else f"{dotted}.{attr.name}"
                key = attr.checkpoint_key
                infos[key] = KeyInfo(
                    key, path, owner, attr.full_name or None, nid, slot_of, slot_name, kind
                )
        return infos

    @staticmethod
    def _add_infos(
        infos: dict[str, KeyInfo],
        node: Node,
        base: Path | None,
        slot_of: str | None,
        slot_name: str | None,
        kind: Kind,
    ) -> None:
        """The key infos of ``node``'s values, its object at path ``base`` (None: unreached,
        then each value's path is read from its key)."""
        for attr in node.attributes:
            parts = base if base is not None else _path_from_key(attr.checkpoint_key)
            if attr.name != VARIABLE_VALUE:
                parts = (*parts, attr.name)
            infos[attr.checkpoint_key] = KeyInfo(
                key=attr.checkpoint_key,
                path=".".join(parts) if parts else "(root)",
                owner=parts[0] if parts else None,
                full_name=attr.full_name or None,
                node_id=node.id,
                slot_of=slot_of,
                slot_name=slot_name,
                kind=kind,
            )


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


def _path_from_key(key: str) -> tuple[str, ...]:
    head = key.split("/.ATTRIBUTES/", 1)[0]
    return tuple(p for p in head.split("/") if p)


def parse_object_graph(
    data: bytes, source: str, known_key: Callable[[str], str] | None = None
) -> ObjectGraph:
    """Parse serialized ``TrackableObjectGraph`` bytes; ``source`` names the file in errors.

    The graphs TensorFlow writes are read by a decoder specialised to their encoding (see
    :func:`_scan_nodes`); whatever it does not expect, it hands to the general decoder, so
    the result, and the error for a damaged graph, are the general decoder's. ``known_key``
    gives the string the index already holds for a checkpoint key (equal to its argument),
    so that the two are one object: 100,000 keys are 7 MB.
    """
    with collection_paused():
        nodes = _scan_nodes(data, known_key or str)
        return _checked_graph(_parse_nodes(data, source) if nodes is None else nodes, source)


def parse_object_graph_reference(data: bytes, source: str) -> ObjectGraph:
    """:func:`parse_object_graph` with the general decoder alone: slower, and the reference
    the specialised one is tested against."""
    with collection_paused():
        return _checked_graph(_parse_nodes(data, source), source)


def _parse_nodes(data: bytes, source: str) -> list[Node]:
    nodes: list[Node] = []
    try:
        for num, _, value in pb.fields(data):
            if num == 1:
                nodes.append(_parse_node(len(nodes), pb.as_bytes(value)))
    except pb.ProtoError as e:
        raise CheckpointError(
            f"{source}: the checkpoint's object graph is corrupt ({e})",
            "the values can still be listed; restoring by object needs an intact graph",
        ) from e
    return nodes


def _checked_graph(nodes: list[Node], source: str) -> ObjectGraph:
    if not nodes:
        raise CheckpointError(f"{source}: the checkpoint's object graph is empty")
    for node in nodes:
        for name, child in node.children:
            if not 0 <= child < len(nodes):
                raise CheckpointError(
                    f"{source}: the checkpoint's object graph is corrupt "
                    f"(child {name!r} of node {node.id} points to missing node {child})"
                )
    return ObjectGraph(nodes)


class _Irregular(Exception):
    """Bytes the specialised decoder does not expect: the general decoder takes over."""


def _scan_nodes(data: bytes, known_key: Callable[[str], str] = str) -> list[Node] | None:
    """:func:`_scan_nodes_python`'s result, from the C decoder where it was built."""
    scan = speedups.scan
    if scan is None or type(data) is not bytes:
        return _scan_nodes_python(data, known_key)

    def irregular(node_id: int, start: int, stop: int) -> Node:
        return _parse_node(node_id, data[start:stop])

    try:
        nodes: list[Node] | None = scan.scan_graph(
            data, None if known_key is str else known_key, Node, Attribute, irregular
        )
    except pb.ProtoError:  # an irregular node that the general decoder cannot read either
        return None
    return nodes


def _scan_nodes_python(data: bytes, known_key: Callable[[str], str] = str) -> list[Node] | None:
    """The nodes of a ``TrackableObjectGraph``, decoded in place (no copy of each node's
    bytes, no generator per message) for the encoding TensorFlow writes: one-byte tags,
    children as ``{node_id, local_name}``, attributes as three strings. A node encoded any
    other way is decoded by :func:`_parse_node`; a graph whose framing is unexpected, or
    damaged, gives None (then the general decoder decodes it all, and names the damage).
    Local and attribute names are decoded once each: a graph repeats them."""
    nodes: list[Node] = []
    strings: dict[bytes, str] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            if data[pos] != 0x0A or pos + 1 >= end:
                return None
            length = data[pos + 1]
            pos += 2
            if length >= 0x80:  # a node of 128 bytes to 16 KiB (most): two bytes, inline
                if pos < end and data[pos] < 0x80:
                    length = (length & 0x7F) | (data[pos] << 7)
                    pos += 1
                else:
                    length, pos = pb.read_varint(data, pos - 1)
            stop = pos + length
            if stop > end:
                return None
            try:
                nodes.append(_scan_node(len(nodes), data, pos, stop, strings, known_key))
            except _Irregular:
                nodes.append(_parse_node(len(nodes), data[pos:stop]))
            pos = stop
    except pb.ProtoError:
        return None
    return nodes


def _scan_node(
    node_id: int,
    data: bytes,
    pos: int,
    end: int,
    strings: dict[bytes, str],
    known_key: Callable[[str], str],
) -> Node:
    """The ``TrackableObject`` in ``data[pos:end]``, or :class:`_Irregular`: the same result
    as :func:`_parse_node` on those bytes wherever it returns one."""
    try:
        return _scan_fields(node_id, data, pos, end, strings, known_key)
    except UnicodeDecodeError:
        raise _Irregular from None


def _scan_fields(
    node_id: int,
    data: bytes,
    pos: int,
    end: int,
    strings: dict[bytes, str],
    known_key: Callable[[str], str],
) -> Node:
    children: list[tuple[str, int]] = []
    attributes: list[Attribute] = []
    while pos < end:
        tag = data[pos]
        if pos + 1 >= end:
            raise _Irregular
        length = data[pos + 1]
        pos += 2
        if length >= 0x80:  # an attribute of 128 bytes or more (a long key): two bytes
            if pos < end and data[pos] < 0x80:
                length = (length & 0x7F) | (data[pos] << 7)
                pos += 1
            else:
                length, pos = _scan_varint(data, pos - 1)
        stop = pos + length
        if stop > end:
            raise _Irregular
        if tag == 0x0A:  # children: ObjectReference {node_id = 1, local_name = 2}
            if length < 4 or data[pos] != 0x08:
                raise _Irregular
            child_id = data[pos + 1]
            at = pos + 2
            if child_id >= 0x80:  # ids 128 to 16,383: two bytes, inline
                if at < stop and data[at] < 0x80:
                    child_id = (child_id & 0x7F) | (data[at] << 7)
                    at += 1
                else:
                    child_id, at = _scan_varint(data, at - 1)
            if (
                at + 2 > stop
                or data[at] != 0x12
                or data[at + 1] >= 0x80
                or at + 2 + data[at + 1] != stop
            ):
                raise _Irregular
            raw = data[at + 2 : stop]
            name = strings.get(raw)
            if name is None:
                name = strings[raw] = raw.decode("utf-8")
            children.append((name, child_id))
        elif tag == 0x12:  # attributes: SerializedTensor {name, full_name, checkpoint_key}
            parts = ["", "", ""]
            while pos < stop:
                field = data[pos]
                if (field != 0x0A and field != 0x12 and field != 0x1A) or pos + 1 >= stop:
                    raise _Irregular
                n = data[pos + 1]
                pos += 2
                if n >= 0x80:
                    n, pos = _scan_varint(data, pos - 1)
                if pos + n > stop:
                    raise _Irregular
                raw = data[pos : pos + n]
                if field == 0x0A:  # the name (VARIABLE_VALUE nearly always): decoded once
                    text = strings.get(raw)
                    if text is None:
                        text = strings[raw] = raw.decode("utf-8")
                elif field == 0x12:  # full_name: one per value
                    text = raw.decode("utf-8")
                else:  # checkpoint_key: one per value, and in the index too
                    text = known_key(raw.decode("utf-8"))
                parts[(field >> 3) - 1] = text
                pos += n
            attributes.append(Attribute(parts[0], parts[1], parts[2]))
        elif tag != 0x22 and tag != 0x2A:  # registered_saver, has_checkpoint_values: unused
            raise _Irregular  # slot_variables (rare) and anything unexpected
        pos = stop
    return Node(node_id, children or (), tuple(attributes))


def _scan_varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return pb.read_varint(data, pos)
    except pb.ProtoError:
        raise _Irregular from None


def _parse_node(node_id: int, data: bytes) -> Node:
    children: list[tuple[str, int]] = []
    attributes: list[Attribute] = []
    slots: list[SlotReference] = []
    for num, _, value in pb.fields(data):
        if num == 1:
            local_name, child_id = _child_reference(pb.as_bytes(value))
            children.append((local_name, child_id))
        elif num == 2:
            parts = _short_strings(pb.as_bytes(value))
            if parts is None:
                parts = {1: "", 2: "", 3: ""}
                for n, _, v in pb.fields(pb.as_bytes(value)):
                    if n in parts:
                        parts[n] = pb.as_str(v)
            attributes.append(Attribute(parts[1], parts[2], parts[3]))
        elif num == 3:
            original, slot_name, slot_node = 0, "", 0
            for n, _, v in pb.fields(pb.as_bytes(value)):
                if n == 1:
                    original = pb.as_int(v)
                elif n == 2:
                    slot_name = pb.as_str(v)
                elif n == 3:
                    slot_node = pb.as_int(v)
            slots.append(SlotReference(original, slot_name, slot_node))
    return Node(node_id, children or (), tuple(attributes), slots or ())


def _child_reference(data: bytes) -> tuple[str, int]:
    """``ObjectReference`` {node_id = 1, local_name = 2}: a node's children are most of a
    graph's bytes, so their common shape (a one-byte id tag and varint, a short name) is
    decoded directly; anything else goes through the general decoder."""
    end = len(data)
    if end >= 4 and data[0] == 0x08:
        child_id, pos = pb.read_varint(data, 1)
        if pos + 2 <= end and data[pos] == 0x12 and data[pos + 1] < 0x80:
            length = data[pos + 1]
            if pos + 2 + length == end:
                try:
                    return data[pos + 2 :].decode("utf-8"), child_id
                except UnicodeDecodeError:
                    pass
    child_id, local_name = 0, ""
    for n, _, v in pb.fields(data):
        if n == 1:
            child_id = pb.as_int(v)
        elif n == 2:
            local_name = pb.as_str(v)
    return local_name, child_id


def _short_strings(data: bytes) -> dict[int, str] | None:
    """``SerializedTensor`` {name = 1, full_name = 2, checkpoint_key = 3} when every field is a
    string under 128 bytes with a one-byte tag (nearly always); None to decode it generally."""
    out = {1: "", 2: "", 3: ""}
    pos, end = 0, len(data)
    try:
        while pos < end:
            tag = data[pos]
            if tag not in (0x0A, 0x12, 0x1A) or pos + 1 >= end or data[pos + 1] >= 0x80:
                return None
            stop = pos + 2 + data[pos + 1]
            if stop > end:
                return None
            out[tag >> 3] = data[pos + 2 : stop].decode("utf-8")
            pos = stop
    except UnicodeDecodeError:
        return None
    return out

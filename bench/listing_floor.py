"""The least a listing in Python can do: how fast ``ckptctl inspect`` of many values could be.

Usage: ``python bench/listing_floor.py PREFIX > /dev/null`` (times go to stderr).

It decodes the index and the object graph with ckptctl's own decoders (in C where built),
walks the graph breadth first, names each value by its path, and prints four aligned columns
(path, key, dtype, shape), with the cyclic collector off. It leaves out all that ``inspect``
does besides: paths that avoid the optimizer, kinds and slots, owners and their sections,
element and byte counts, the data shards' checks, the fitting of columns to the terminal.
Its time is a floor under any listing built from Python objects on these decoders; compare it
with the ``inspect, 100,000 values`` row of ``make bench``.
"""

from __future__ import annotations

import gc
import sys
import time


def main(prefix: str) -> None:
    start = time.perf_counter()
    gc.disable()
    from ckptctl import bundle, objgraph, speedups
    from ckptctl.location import locate

    imported = time.perf_counter()
    backend = bundle.NativeBackend(locate(prefix))
    indexed = time.perf_counter()
    strings = backend.read_strings(objgraph.OBJECT_GRAPH_KEY)
    assert strings, "not an object-based checkpoint"
    data = bytes(strings[0])
    scan = speedups.scan
    nodes = (
        scan.scan_graph(data, None, objgraph.Node, objgraph.Attribute, None)
        if scan is not None
        else objgraph._scan_nodes_python(data)
    )
    assert nodes is not None, "an object graph the quick decoders do not read"
    parsed = time.perf_counter()
    paths = objgraph.ObjectGraph(nodes).walk([((), 0)])
    walked = time.perf_counter()
    parents, local = paths._parent, paths._name
    prefixes: dict[int, str] = {}
    keys: list[str] = []
    names: list[str] = []
    for node in nodes:
        if not node.attributes or node.id not in paths or node.id == 0:
            continue
        parent = parents[node.id]
        head = prefixes.get(parent)
        if head is None:
            head = prefixes[parent] = ".".join(paths[parent]) if parent >= 0 else ""
        dotted = f"{head}.{local[node.id]}" if head else local[node.id]
        for attr in node.attributes:
            keys.append(attr.checkpoint_key)
            names.append(dotted)
    named = time.perf_counter()
    stored = backend._values
    dtypes = [stored[k].name for k in keys]
    shapes = [stored[k].shape for k in keys]
    shape_text = {s: "[" + ", ".join(map(str, s)) + "]" for s in set(shapes)}
    row = f"%-{max(map(len, names))}s  %-{max(map(len, keys))}s  %-8s  %s"
    lines = [
        (row % cells).rstrip()
        for cells in zip(names, keys, dtypes, map(shape_text.__getitem__, shapes), strict=True)
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    printed = time.perf_counter()
    steps = [
        ("imports", start, imported),
        ("index", imported, indexed),
        ("graph", indexed, parsed),
        ("walk", parsed, walked),
        ("names", walked, named),
        ("print", named, printed),
        ("total", start, printed),
    ]
    print(
        f"{len(lines):,} values: " + ", ".join(f"{n} {b - a:.3f} s" for n, a, b in steps),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1])

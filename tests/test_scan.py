"""The C decoders (``ckptctl/_scan.c``) against the Python ones, which are the reference: the
same values and nodes from real checkpoints, and the same result or the same error from
damaged, crafted and random bytes. The rest of the suite runs with the C decoders wherever
they are built, so these tests are what keeps the Python decoders checked on good files."""

from __future__ import annotations

import json
import os
import shutil
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckptctl import bundle_index, objgraph, speedups
from ckptctl.bundle import NativeBackend, Unsupported
from ckptctl.errors import CheckpointError
from ckptctl.location import Location, locate
from tests.checkpoints import index_file
from tests.fresh import run_python
from tests.test_bundle import (  # noqa: F401  (fixtures)
    INDEX_DAMAGE,
    SOURCES,
    checkpoint_path,
    damaged_table,
    encode_table,
    extra_dtypes_ckpt,
    many_variables_ckpt,
    sliced_ckpt,
    small_ckpt,
    table_of,
)
from tests.test_objgraph import (
    GRAPH_SOURCES,
    _prefix_of,
    graph_bytes,
    my_model_bytes,  # noqa: F401  (a fixture)
)

needs_scan = pytest.mark.skipif(
    speedups.scan is None, reason="the C decoders are off (not built, or CKPTCTL_PURE_PYTHON set)"
)


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "").split()
    return shutil.which(cc[0]) if cc else None


def test_built_where_a_compiler_is() -> None:
    """The extension is optional, so a failed build would pass silently: where this machine
    has the compiler and headers Python was built with, it must have been built."""
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if _compiler() is None or not headers.exists() or os.environ.get(speedups.PURE_PYTHON_ENV):
        pytest.skip("no C compiler or Python headers here: the Python decoders read everything")
    assert speedups.scan is not None


@pytest.fixture
def pure_python(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(speedups, "scan", None)
    yield


# ------------------------------------------------------------------------------ the index


def _stored(s: bundle_index._Stored) -> tuple[Any, ...]:
    parts = tuple((sl, _stored(p)) for sl, p in s.parts)
    fields = ("name", "itemsize", "_code", "shape", "count", "shard", "offset", "size", "crc")
    return (*(getattr(s, f) for f in fields), parts)


def _index_outcome(index: bytes, use_c: bool) -> Any:
    """What the native backend makes of ``index`` bytes: its values, or its error's text."""
    saved = speedups.scan
    speedups.scan = saved if use_c else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prefix = Path(tmp) / "ckpt"
            index_file(prefix).write_bytes(index)
            shard = Path(f"{prefix}.data-00000-of-00001")
            location = Location(prefix, "checkpoint", (shard,))
            try:
                backend = NativeBackend(location)
            except CheckpointError as e:
                return ("CheckpointError", e.message.replace(str(prefix), "P"), e.hint)
            except Unsupported as e:
                return ("Unsupported", str(e))
            return {key: _stored(s) for key, s in backend._values.items()}, backend.num_shards
    finally:
        speedups.scan = saved


def _scanned(index: bytes) -> bool:
    """Whether the C decoder read ``index`` itself (no fallback to the Python one)."""
    assert speedups.scan is not None
    reader = bundle_index.Index.__new__(bundle_index.Index)
    reader.num_shards = 0
    return reader._values_scanned(index, speedups.scan) is not None


@needs_scan
@pytest.mark.parametrize("name", [*SOURCES, "small"])
def test_index_values_agree_on_real_checkpoints(request: pytest.FixtureRequest, name: str) -> None:
    index = index_file(locate(checkpoint_path(request, name)).prefix).read_bytes()
    ours = _index_outcome(index, use_c=True)
    assert isinstance(ours, tuple) and ours[0], ours
    assert ours == _index_outcome(index, use_c=False)
    assert _scanned(index)  # TensorFlow's own encoding: the C decoder took all of it


@needs_scan
def test_a_partitioned_value_goes_to_the_python_decoder(request: pytest.FixtureRequest) -> None:
    prefix = Path(request.getfixturevalue("sliced_ckpt"))
    index = index_file(locate(prefix).prefix).read_bytes()
    assert not _scanned(index)
    ours = _index_outcome(index, use_c=True)
    assert ours == _index_outcome(index, use_c=False)
    assert any(s[-1] for s in ours[0].values())  # the stitched value, with its slices


@needs_scan
def test_snappy_and_many_blocks_agree(request: pytest.FixtureRequest) -> None:
    table = table_of(locate(checkpoint_path(request, "many_variables")).prefix)
    for snappy in (False, True):
        index = encode_table(table, block_bytes=512, snappy=snappy)
        assert _scanned(index)
        assert _index_outcome(index, True) == _index_outcome(index, False)


def _entry(dtype: int, dims: list[int], size: int, shard: int = 0, extra: bytes = b"") -> bytes:
    from tests.test_bundle import varint

    shape = b"".join(b"\x12" + varint(len(d)) + d for d in (b"\x08" + varint(n) for n in dims))
    return (
        b"\x08"
        + varint(dtype)
        + b"\x12"
        + varint(len(shape))
        + shape
        + b"\x18"
        + varint(shard)
        + b"\x20\x00\x28"
        + varint(size)
        + b"\x35\x01\x02\x03\x04"
        + extra
    )


CRAFTED = {
    "plain": _entry(1, [2, 3], 24),
    "string": _entry(7, [2], 30),
    "string too short": _entry(7, [2], 5),
    "empty string": _entry(7, [0], 0),
    "bfloat16": _entry(14, [4], 8),
    "wrong size": _entry(1, [2, 3], 25),
    "resource": _entry(20, [], 0),
    "unknown dtype": _entry(99, [], 4),
    "shard out of range": _entry(1, [1], 4, shard=3),
    "huge dims": _entry(1, [1 << 40, 1 << 40], 4),
    "negative dim": _entry(1, [(1 << 64) - 1], 4),
    "unknown field": _entry(1, [1], 4, extra=b"\x40\x01"),
    "unknown rank": _entry(1, [1], 4, extra=b"\x12\x02\x18\x01"),
    "repeated shape": _entry(1, [1], 4, extra=b"\x12\x04\x12\x02\x08\x01"),
    "slices": _entry(1, [1], 4, extra=b"\x3a\x00"),
    "long varint": _entry(1, [1], 4) + b"\x20" + b"\xff" * 9 + b"\x01",
    "truncated": _entry(1, [1], 4)[:-3],
    "sub-byte packed": _entry(29, [4], 2),
    "scalar": _entry(9, [], 8),
}


@needs_scan
@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_entries_agree(case: str) -> None:
    header = b"\x08\x01\x1a\x02\x08\x01"  # one shard, version 1
    keys = [b"a", b"a/b", b"b"]
    table = [(b"", header)] + [(k, CRAFTED["plain"]) for k in keys]
    table[2] = (table[2][0], CRAFTED[case])
    index = encode_table(table)
    assert _index_outcome(index, True) == _index_outcome(index, False)


@needs_scan
@given(**INDEX_DAMAGE)
@settings(
    max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_damaged_index_contents_agree(
    request: pytest.FixtureRequest, target: str, which: int, op: str, position: int, payload: bytes
) -> None:
    """Damage under good block checksums (a buggy or hostile writer): the C decoder gives up,
    and the result, or the error, is the Python decoder's."""
    table = table_of(request.getfixturevalue("small_ckpt"))
    table, damage = damaged_table(table, target, which, op, position, payload)
    index = encode_table(table, block_bytes=256, damage=damage)
    assert _index_outcome(index, True) == _index_outcome(index, False)


@needs_scan
@given(block=st.binary(max_size=600), last=st.none() | st.binary(max_size=8), first=st.booleans())
@settings(max_examples=500, deadline=2000)
def test_random_blocks_never_crash(block: bytes, last: bytes | None, first: bool) -> None:
    assert speedups.scan is not None
    values: dict[str, Any] = {}
    bi = bundle_index
    got = speedups.scan.scan_block(
        block, last, first, bi._NUMERIC, bi._STRING_LAYOUT, {}, bi._Stored, values
    )
    assert got is None or (isinstance(got[0], bytes) and got[2] >= -1)


# ------------------------------------------------------------------------ the object graph


def _graph_outcome(data: bytes, use_c: bool) -> Any:
    saved = speedups.scan
    speedups.scan = saved if use_c else None
    try:
        return objgraph._scan_nodes(data)
    except Exception as e:  # the two must fail alike too
        return (type(e).__name__, str(e))
    finally:
        speedups.scan = saved


@needs_scan
@pytest.mark.parametrize("name", [*GRAPH_SOURCES, "convnet"])
def test_graph_nodes_agree_on_real_checkpoints(request: pytest.FixtureRequest, name: str) -> None:
    if name == "convnet":
        data = graph_bytes(request.getfixturevalue("fitted_convnet_ckpt"))
    else:
        data = graph_bytes(_prefix_of(request, name))
    ours = _graph_outcome(data, use_c=True)
    assert isinstance(ours, list) and ours
    assert ours == _graph_outcome(data, use_c=False)


def _field(number: int, payload: bytes | int) -> bytes:
    from tests.test_bundle import varint

    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _child(node_id: int, name: bytes) -> bytes:
    return _field(1, _field(1, node_id) + _field(2, name))


def _attr(name: bytes, full_name: bytes, key: bytes) -> bytes:
    return _field(2, _field(1, name) + _field(2, full_name) + _field(3, key))


def _graph(*nodes: bytes) -> bytes:
    return b"".join(_field(1, node) for node in nodes)


_VAR = _attr(b"VARIABLE_VALUE", b"dense/kernel", b"a/.ATTRIBUTES/VARIABLE_VALUE")
CRAFTED_GRAPHS = {
    "plain": _graph(_child(1, b"a"), _VAR),
    "a second local_name": _graph(
        _field(1, _field(1, 1) + _field(2, b"a") + _field(2, b"b")), _VAR
    ),
    "fields of a child reversed": _graph(_field(1, _field(2, b"a") + _field(1, 1)), _VAR),
    "child id of two bytes": _graph(_child(300, b"a"), _VAR),
    "child id of three bytes": _graph(_child(20_000, b"a"), _VAR),
    "child id past 64 bits": _graph(_field(1, b"\x08" + b"\xff" * 9 + b"\x7f\x12\x01a"), _VAR),
    "a long local name": _graph(_child(1, b"n" * 200), _VAR),
    "a long key": _graph(_child(1, b"a"), _attr(b"VARIABLE_VALUE", b"", b"k" * 300)),
    "a big node": _graph(b"".join(_child(1, b"c%d" % i) for i in range(3000)), _VAR),
    "attribute fields repeated": _graph(
        _child(1, b"a"), _field(2, _field(1, b"X") + _field(1, b"Y") + _field(3, b"k"))
    ),
    "attribute with another field": _graph(_child(1, b"a"), _field(2, _field(4, b"x"))),
    "saver and has_checkpoint_values": _graph(
        _child(1, b"a"), _VAR + _field(4, b"saver") + _field(5, b"\x08\x01")
    ),
    "slot variables": _graph(_child(1, b"a") + _field(3, _field(1, 1) + _field(2, b"m")), _VAR),
    "a name that is not UTF-8": _graph(_child(1, b"\xff\xfe"), _VAR),
    "a key that is not UTF-8": _graph(_child(1, b"a"), _attr(b"V", b"", b"\xc3")),
    "a node field of another number": _graph(_child(1, b"a")) + _field(2, b"xx"),
    "a node cut short": _graph(_child(1, b"a"), _VAR)[:-3],
    "nothing": b"",
}


@needs_scan
@pytest.mark.parametrize("case", CRAFTED_GRAPHS)
def test_crafted_graphs_agree(case: str) -> None:
    data = CRAFTED_GRAPHS[case]
    assert _graph_outcome(data, True) == _graph_outcome(data, False)


@needs_scan
@given(data=st.data())
@settings(
    max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_damaged_graphs_agree(request: pytest.FixtureRequest, data: st.DataObject) -> None:
    mutated = bytearray(request.getfixturevalue("my_model_bytes"))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "set"]))
        at = data.draw(st.integers(0, len(mutated)))
        if op == "flip" and at < len(mutated):
            mutated[at] ^= data.draw(st.integers(1, 255))
        elif op == "set" and at < len(mutated):
            mutated[at] = data.draw(st.sampled_from([0x80, 0xFF, 0x0A, 0x12, 0x1A, 0x08, 0x00]))
        elif op == "truncate":
            del mutated[at:]
        else:
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=6))
    assert _graph_outcome(bytes(mutated), True) == _graph_outcome(bytes(mutated), False)


@needs_scan
@given(st.binary(max_size=400))
@settings(max_examples=500, deadline=2000)
def test_random_graph_bytes_agree(data: bytes) -> None:
    assert _graph_outcome(b"\x0a" + data, True) == _graph_outcome(b"\x0a" + data, False)


# ------------------------------------------------------------------------------ switching


@needs_scan
def test_pure_python_lists_alike(samples_dir: Path) -> None:
    """``CKPTCTL_PURE_PYTHON`` turns the C decoders off; the listing is the same."""
    prefix = str(samples_dir / "my_model")
    code = (
        "import sys; from ckptctl import speedups; from ckptctl.cli.app import main\n"
        "print('scan', speedups.scan is not None, file=sys.stderr); sys.argv = sys.argv[:1] + "
        "['inspect', '--json', sys.argv[1]]; main()"
    )
    env = {k: v for k, v in os.environ.items() if k != speedups.PURE_PYTHON_ENV}
    with_c = run_python(code, prefix, env=env)
    pure = run_python(code, prefix, env={**env, speedups.PURE_PYTHON_ENV: "1"})
    assert with_c.returncode == pure.returncode == 0, (with_c.stderr, pure.stderr)
    assert "scan True" in with_c.stderr and "scan False" in pure.stderr
    assert json.loads(with_c.stdout) == json.loads(pure.stdout)

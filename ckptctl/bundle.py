"""Read TensorFlow checkpoints (the tensor bundle format) with numpy alone, without TensorFlow.

A checkpoint with prefix ``P`` is ``P.index`` and the data shards ``P.data-0000K-of-0000N``.

``P.index`` is an SSTable (LevelDB's table format, read by :mod:`ckptctl.sstable`). Key ``""``
holds a ``BundleHeaderProto`` (shard count, endianness, format version); every other key holds
a ``BundleEntryProto``: dtype, shape, shard, offset and size of the value in that shard, and the
masked crc32c of its bytes.

A numeric value is its raw little-endian bytes. A string tensor is the varint64 length of each
element, the masked crc32c of those lengths, then the elements' bytes one after another; its
entry crc32c covers the lengths (each as a little-endian uint32, or uint64 past 2**32 - 1), the
4 stored length-checksum bytes, and the elements' bytes.

Every length, offset and count in the files is checked before it is used: a damaged or hostile
checkpoint raises :class:`~ckptctl.errors.CheckpointError` naming the offending file, and what
this reader does not handle raises :class:`Unsupported`, never a wrong value.
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from ckptctl import _proto as pb
from ckptctl import speedups
from ckptctl.bulk import collection_paused
from ckptctl.chunks import ChunkBuffers, split_flat
from ckptctl.entry import Entry
from ckptctl.errors import (
    COPY_CHECKPOINT_AGAIN,
    COPY_MISSING_SHARDS,
    CheckpointError,
    file_corrupt,
    file_missing,
    file_truncated,
)
from ckptctl.location import Location, suffixed
from ckptctl.positional import PositionalChunks
from ckptctl.sstable import (
    MASK_DELTA,
    iter_table,
    masked_crc32c,
    read_table,
    snappy_decompress,
    unmask_crc32c,
)
from ckptctl.sstable import Corrupt as _Corrupt
from ckptctl.sstable import crc32c as _crc
from ckptctl.sstable import data_blocks as _data_blocks
from ckptctl.sstable import varint as _varint
from ckptctl.storage import AnyPath, file_size, open_binary

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "NativeBackend",
    "Unsupported",
    "masked_crc32c",
    "read_table",
    "snappy_decompress",
    "unmask_crc32c",
]

_U32 = 0xFFFFFFFF
_MAX_RANK = 254
_MAX_ELEMENTS = (1 << 63) - 1
_MAX_SHARDS = 1 << 16
_BUNDLE_VERSION = 1
_STRING = 7


_PLAIN_TYPES: dict[int, tuple[str, str]] = {
    1: ("float32", "<f4"),
    2: ("float64", "<f8"),
    3: ("int32", "<i4"),
    4: ("uint8", "u1"),
    5: ("int16", "<i2"),
    6: ("int8", "i1"),
    8: ("complex64", "<c8"),
    9: ("int64", "<i8"),
    10: ("bool", "?"),
    # TensorFlow hands quantized tensors to Python as the plain integer type.
    11: ("qint8", "i1"),
    12: ("quint8", "u1"),
    13: ("qint32", "<i4"),
    15: ("qint16", "<i2"),
    16: ("quint16", "<u2"),
    17: ("uint16", "<u2"),
    18: ("complex128", "<c16"),
    19: ("float16", "<f2"),
    22: ("uint32", "<u4"),
    23: ("uint64", "<u8"),
}
"""DataType enum number -> (TensorFlow's dtype name, numpy's little-endian type code)."""

_ML_DTYPES: dict[int, tuple[str, int]] = {
    14: ("bfloat16", 2),
    24: ("float8_e5m2", 1),
    25: ("float8_e4m3fn", 1),
    26: ("float8_e4m3fnuz", 1),
    27: ("float8_e4m3b11fnuz", 1),
    28: ("float8_e5m2fnuz", 1),
    # One byte per element is how TensorFlow stores the sub-byte types.
    29: ("int4", 1),
    30: ("uint4", 1),
    31: ("int2", 1),
    32: ("uint2", 1),
    33: ("float4_e2m1fn", 1),
}
"""DataType enum number -> (name, bytes per stored element) of the types numpy has only
through ml_dtypes. ml_dtypes takes from 0.05 s to over a second to import, so it is imported
when a value of one of these types is read, never to list a checkpoint."""

_ITEMSIZES = {
    **{"?": 1, "u1": 1, "i1": 1, "<i2": 2, "<u2": 2, "<f2": 2, "<i4": 4, "<u4": 4, "<f4": 4},
    **{"<i8": 8, "<u8": 8, "<f8": 8, "<c8": 8, "<c16": 16},
}
"""Bytes per element of each numpy type code in :data:`_PLAIN_TYPES`."""

_NUMERIC: dict[int, tuple[str, int, str | None]] = {
    **{n: (name, _ITEMSIZES[code], code) for n, (name, code) in _PLAIN_TYPES.items()},
    **{n: (name, size, None) for n, (name, size) in _ML_DTYPES.items()},
}
"""DataType number -> (name, bytes per element, numpy type code); the code is None for the
ml_dtypes types, resolved by :func:`ml_dtype` when such a value is read. Codes, not dtypes:
listing a checkpoint needs no numpy (about 0.05 s to import)."""

_DTYPES: dict[str, np.dtype[Any]] = {}


def numpy_dtype(name: str, code: str | None) -> np.dtype[Any]:
    """The numpy dtype of type ``name``: from its type ``code``, or from ml_dtypes (None)."""
    if code is None:
        return ml_dtype(name)
    dtype = _DTYPES.get(code)
    if dtype is None:
        import numpy as np

        dtype = _DTYPES[code] = np.dtype(code)
    return dtype


def ml_dtype(name: str) -> np.dtype[Any]:
    """The numpy dtype of ml_dtypes' type ``name`` (``bfloat16``), importing ml_dtypes."""
    import ml_dtypes
    import numpy as np

    scalar = getattr(ml_dtypes, name, None)
    if scalar is None:
        raise CheckpointError(
            f"values of dtype {name} need a newer ml_dtypes than "
            f"{getattr(ml_dtypes, '__version__', 'the one installed')}",
            "upgrade it: pip install -U ml_dtypes",
        )
    dtype: np.dtype[Any] = np.dtype(scalar)
    return dtype


_STRING_LAYOUT = ("string", 0, None)
"""(name, bytes per element, numpy type code) of strings, as :data:`_NUMERIC` gives them."""
_OTHER_TYPE_NAMES = {0: "invalid", 20: "resource", 21: "variant"}
_WINDOWED_MAX = 64 << 10
"""Values up to this size are compared through a window of their shard (see
:meth:`NativeBackend._windowed`)."""
_WINDOW_BYTES = 1 << 20
"""How much of a shard one window reads."""

_SCALAR_INTS = {"int64": True, "int32": True, "uint64": False, "uint32": False}
"""The integer types :meth:`NativeBackend.read_int` reads: name -> signed."""
_SUB_BYTE = frozenset({"int4", "uint4", "int2", "uint2", "float4_e2m1fn"})


class Unsupported(Exception):
    """The checkpoint uses something this reader does not handle; TensorFlow's reader may."""


def _tag(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a field tag at ``pos`` (one byte in practice); reject field number 0."""
    tag = buf[pos]
    if tag >= 0x80:
        tag, pos = _varint(buf, pos, end, 5)
    else:
        pos += 1
    if tag < 8:
        raise _Corrupt("field number 0")
    return tag, pos


def _skip_field(buf: bytes, pos: int, end: int, tag: int) -> int:
    """Position after the value of a field with ``tag`` starting at ``pos``."""
    wire = tag & 7
    if wire == pb.VARINT:
        return _varint(buf, pos, end)[1]
    if wire == pb.I64:
        pos += 8
    elif wire == pb.I32:
        pos += 4
    elif wire == pb.LEN:
        length, pos = _varint(buf, pos, end)
        pos += length
    else:
        raise _Corrupt(f"unsupported protobuf wire type {wire}")
    if pos > end:
        raise _Corrupt("protobuf field runs past the end of its message")
    return pos


def _signed64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _int32(v: int) -> int:
    v &= _U32
    return v - (1 << 32) if v >= 1 << 31 else v


class _Stored:
    """One value as its ``BundleEntryProto`` describes it."""

    __slots__ = (
        "_code",
        "_dtype",
        "count",
        "crc",
        "itemsize",
        "name",
        "offset",
        "parts",
        "shape",
        "shard",
        "size",
    )

    def __init__(
        self,
        name: str,
        itemsize: int,
        code: str | None,
        shape: tuple[int, ...],
        count: int,
        shard: int,
        offset: int,
        size: int,
        crc: int,
    ) -> None:
        self.name = name
        self.itemsize = itemsize  # bytes per element as stored; 0 for strings
        self._code = code  # numpy's type code; None for strings and ml_dtypes types
        self._dtype: np.dtype[Any] | None = None  # resolved on first read
        self.shape = shape
        self.count = count
        self.shard = shard
        self.offset = offset
        self.size = size
        self.crc = crc
        # A partitioned value: its slices, each (slice, stored value); shard is -1. A shared
        # empty tuple for the others: a list each would be 56 bytes per value.
        self.parts: Sequence[tuple[tuple[tuple[int, int], ...], _Stored]] = ()

    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The numpy dtype of the elements; None for strings."""
        if self._dtype is None and self.name != "string":
            self._dtype = numpy_dtype(self.name, self._code)
        return self._dtype


# ------------------------------------------------------------------------------ the protos


def _parse_header(value: bytes) -> tuple[int, int, int, int, list[int]]:
    """(num_shards, endianness, producer, min_consumer, bad_consumers) of a BundleHeaderProto."""
    num_shards = endianness = producer = min_consumer = 0
    bad: list[int] = []
    try:
        for number, wire, v in pb.fields(value):
            if number == 1 and wire == pb.VARINT:
                num_shards = _int32(pb.as_int(v))
            elif number == 2 and wire == pb.VARINT:
                endianness = _int32(pb.as_int(v))
            elif number == 3 and wire == pb.LEN:
                for n, w, x in pb.fields(pb.as_bytes(v)):
                    if n == 1 and w == pb.VARINT:
                        producer = _int32(pb.as_int(x))
                    elif n == 2 and w == pb.VARINT:
                        min_consumer = _int32(pb.as_int(x))
                    elif n == 3 and w == pb.VARINT:
                        bad.append(_int32(pb.as_int(x)))
                    elif n == 3 and w == pb.LEN:
                        packed = pb.as_bytes(x)
                        pos = 0
                        while pos < len(packed):
                            item, pos = pb.read_varint(packed, pos)
                            bad.append(_int32(item))
    except pb.ProtoError as e:
        raise _Corrupt(f"unparseable header ({e})") from e
    return num_shards, endianness, producer, min_consumer, bad


def _parse_shape(buf: bytes, pos: int, end: int, dims: list[int]) -> bool:
    """Append the dims of the TensorShapeProto in ``buf[pos:end]``; return its unknown_rank."""
    unknown_rank = False
    while pos < end:
        tag, pos = _tag(buf, pos, end)
        if tag == 0x12:  # dim
            length, pos = _varint(buf, pos, end)
            dim_end = pos + length
            if dim_end > end:
                raise _Corrupt("shape runs past the end of its entry")
            size = 0
            while pos < dim_end:
                t, pos = _tag(buf, pos, dim_end)
                if t == 0x08:  # size
                    raw, pos = _varint(buf, pos, dim_end)
                    size = _signed64(raw)
                else:
                    pos = _skip_field(buf, pos, dim_end, t)
            dims.append(size)
        elif tag == 0x18:  # unknown_rank
            flag, pos = _varint(buf, pos, end)
            unknown_rank = flag != 0
        else:
            pos = _skip_field(buf, pos, end, tag)
    return unknown_rank


def parse_slice(buf: bytes) -> tuple[tuple[int, int], ...]:
    """A ``TensorSliceProto``: (start, length) per dimension, length -1 for all of it."""
    from ckptctl import _proto as pb

    out = []
    for n, _, extent in pb.fields(buf):
        if n != 1:
            continue
        start, length = 0, -1
        for k, _, v in pb.fields(pb.as_bytes(extent)):
            if k == 1:
                start = pb.as_signed64(v)
            elif k == 2:
                length = pb.as_signed64(v)
        out.append((start, length))
    return tuple(out)


def _slices_of(buf: bytes) -> list[tuple[tuple[int, int], ...]]:
    """The ``slices`` (field 7) of a ``BundleEntryProto``."""
    from ckptctl import _proto as pb

    return [parse_slice(pb.as_bytes(v)) for n, _, v in pb.fields(buf) if n == 7]


def _slice_key_prefix(name: str) -> bytes:
    """How TensorFlow's ``EncodeTensorNameSlice`` begins the key of a slice of ``name``:
    OrderedCode's number 0, then the name with 0x00 and 0xff escaped, then its terminator."""
    escaped = bytearray()
    for byte in name.encode("utf-8"):
        escaped += {0x00: b"\x00\xff", 0xFF: b"\xff\x00"}.get(byte, bytes([byte]))
    return b"\x00" + bytes(escaped) + b"\x00\x01"


_Fields = tuple[int, tuple[int, ...], bool, int, int, int, int, bool]
"""(dtype, dims, unknown_rank, shard_id, offset, size, crc32c, has_slices) of an entry."""

_Shapes = dict[bytes, tuple[tuple[int, ...], bool]]
"""Shape field bytes -> (dims, unknown_rank): a checkpoint repeats a few shapes many times."""


def _parse_entry(buf: bytes, shapes: _Shapes | None = None) -> _Fields:
    """The fields of a ``BundleEntryProto``; ``shapes`` caches the shapes decoded so far.

    Runs once per value (100,000 times for some checkpoints), so :func:`_tag` and the short
    varints are decoded inline here, not by calls."""
    dtype = shard = offset = size = crc = 0
    dims: tuple[int, ...] = ()
    unknown_rank = has_slices = False
    pos = 0
    end = len(buf)
    while pos < end:
        tag = buf[pos]
        if tag >= 0x80:
            tag, pos = _varint(buf, pos, end, 5)
        else:
            pos += 1
        if tag < 8:
            raise _Corrupt("field number 0")
        if tag == 0x12 or tag == 0x3A:  # shape, slices
            if pos < end and buf[pos] < 0x80:
                length = buf[pos]
                pos += 1
            else:
                length, pos = _varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise _Corrupt("field runs past the end of its entry")
            if tag == 0x3A:
                has_slices = True
            else:
                raw = buf[pos:stop]
                known = shapes.get(raw) if shapes is not None else None
                if known is None:
                    shape_dims: list[int] = []
                    rank_unknown = _parse_shape(raw, 0, length, shape_dims)
                    known = (tuple(shape_dims), rank_unknown)
                    if shapes is not None:
                        shapes[raw] = known
                # A repeated shape field merges into one shape, as protobuf merges messages.
                dims = dims + known[0] if dims else known[0]
                unknown_rank = known[1] or unknown_rank
            pos = stop
        elif tag == 0x35:  # crc32c, fixed32
            if pos + 4 > end:
                raise _Corrupt("checksum runs past the end of its entry")
            crc = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif tag == 0x08 or tag == 0x18 or tag == 0x20 or tag == 0x28:
            if pos >= end:
                raise _Corrupt("bad varint")
            v = buf[pos]
            pos += 1
            if v >= 0x80:  # an offset or a size: a few bytes, decoded here without a call
                v &= 0x7F
                shift = 7
                while True:
                    if pos >= end:
                        raise _Corrupt("bad varint")
                    b = buf[pos]
                    pos += 1
                    v |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift >= 70:
                        raise _Corrupt("bad varint")
            if tag == 0x20:
                offset = _signed64(v) if v >= 1 << 63 else v
            elif tag == 0x28:
                size = _signed64(v) if v >= 1 << 63 else v
            elif tag == 0x08:
                dtype = v if v < 1 << 31 else _int32(v)
            else:
                shard = v if v < 1 << 31 else _int32(v)
        else:
            pos = _skip_field(buf, pos, end, tag)
    return dtype, dims, unknown_rank, shard, offset, size, crc, has_slices


_Layout = tuple[str, int, str | None, int, int]
"""(dtype name, bytes per stored element (0 for strings), numpy type code (None for strings
and ml_dtypes types), element count, bytes it needs or -1 for strings)."""

_Layouts = dict[tuple[int, tuple[int, ...], bool], _Layout]


def _layout(key: str, dtype: int, dims: tuple[int, ...], unknown_rank: bool) -> _Layout:
    """What an entry's dtype and shape decide, checked (``key`` names it in errors)."""
    code: str | None
    if dtype == _STRING:
        name, itemsize, code = "string", 0, None
    elif dtype in _NUMERIC:
        name, itemsize, code = _NUMERIC[dtype]
    else:
        kind = _OTHER_TYPE_NAMES.get(dtype, f"number {dtype}")
        raise Unsupported(f"value {key} has dtype {kind}")
    if unknown_rank or len(dims) > _MAX_RANK or any(d < 0 for d in dims):
        raise _Corrupt(f"value {key} has an invalid shape {list(dims)}")
    count = math.prod(dims)
    if count > _MAX_ELEMENTS:
        raise _Corrupt(f"value {key} has an invalid shape {list(dims)}")
    return name, itemsize, code, count, -1 if name == "string" else count * itemsize


# ------------------------------------------------------------------------------ the backend


class NativeBackend:
    """A :class:`~ckptctl.reader.Backend` that reads the bundle files directly.

    The whole index is parsed when the backend is made, so an index this reader cannot handle
    raises :class:`Unsupported` (or a damaged one ``CheckpointError``) right away. Data shards
    are opened read-only on first use. With ``verify`` (the default) every value read is
    checked against its stored crc32c.
    """

    name = "native"

    def __init__(self, location: Location, verify: bool = True) -> None:
        self.location = location
        self.verify = verify
        self._files: dict[int, IO[bytes]] = {}
        self._sizes: dict[int, int] = {}  # of the open shards, measured once each
        self._windows: dict[int, tuple[int, bytes]] = {}  # shard -> (offset, bytes read)
        self._paths: dict[int, AnyPath] = {}
        self._values: dict[str, _Stored] = {}
        self._num_shards = 0
        self._entries: list[Entry] | None = None
        self._load_index()

    # --- index

    def _load_index(self) -> None:
        index = self.location.index_file
        try:
            data = index.read_bytes()
        except FileNotFoundError as e:
            raise file_missing(index, hint=COPY_CHECKPOINT_AGAIN) from e
        except OSError as e:
            raise CheckpointError(f"{index}: cannot be read ({e.strerror or e})") from e
        try:
            with collection_paused():
                self._parse_index(data)
        except _Corrupt as e:
            raise file_corrupt(
                index, f"not a readable checkpoint index: {e}", COPY_CHECKPOINT_AGAIN
            ) from None

    def _parse_index(self, data: bytes) -> None:
        if speedups.scan is not None:
            scanned = self._values_scanned(data, speedups.scan)
            if scanned is not None:
                self._values = scanned
                return
        table = iter_table(data)
        header = next(table, None)
        if header is None or header[0] != b"":
            raise _Corrupt("no header entry")
        num_shards = self._check_header(header[1])
        one_pass = self._values_in_one_pass(table)
        if one_pass is not None:
            self._values = one_pass
            return
        entries = read_table(data)[1:]  # after the header
        values: dict[str, _Stored] = {}
        shapes: _Shapes = {}
        parsed = [(raw_key, _parse_entry(value, shapes)) for raw_key, value in entries]
        if parsed and num_shards < 1:
            raise _Corrupt(f"the header declares {num_shards} data shards")
        partitioned = any(fields[7] for _, fields in parsed)
        raw_values = dict(entries) if partitioned else {}
        del entries  # only a partitioned value needs the entries' bytes again
        # A partitioned value is listed under its full key, and each slice under a binary key
        # that sorts before it: find the partitions before judging any key.
        slice_keys: set[bytes] = set()
        for raw_key, fields in parsed if partitioned else ():
            if fields[7]:
                parts = self._partition(raw_key, fields, raw_values)
                slice_keys.update(k for k, _ in parts)
        layouts: _Layouts = {}
        for raw_key, fields in parsed:
            if raw_key in slice_keys:
                continue
            if fields[7]:
                key = raw_key.decode("utf-8", "replace")
                values[key] = self._stitched(raw_key, fields, raw_values, parsed)
                continue
            key, stored = self._validate(raw_key, fields, layouts=layouts)
            values[key] = stored
        self._values = values

    def _check_header(self, value: bytes) -> int:
        """The shard count of the header entry ``value``, kept; raises what it rules out."""
        num_shards, endianness, producer, min_consumer, bad = _parse_header(value)
        if endianness == 1:
            raise Unsupported("it was written on a big-endian machine")
        if producer < 0 or min_consumer > _BUNDLE_VERSION or _BUNDLE_VERSION in bad:
            raise Unsupported(
                f"its bundle format version (producer {producer}, min consumer "
                f"{min_consumer}) is not version {_BUNDLE_VERSION}"
            )
        if num_shards > _MAX_SHARDS:
            raise Unsupported(f"its header declares {num_shards} data shards")
        self._num_shards = max(num_shards, 0)
        return num_shards

    def _values_scanned(self, data: bytes, scan: ModuleType) -> dict[str, _Stored] | None:
        """The values, each data block decoded by the C decoder (:mod:`ckptctl.speedups`);
        None wherever it or the shards do not check: the Python decoder then reads the index
        from the start, and names any damage in its own order."""
        values: dict[str, _Stored] = {}
        shapes: dict[bytes, tuple[tuple[int, ...], int]] = {}
        last: bytes | None = None
        header: bytes | None = None
        top = -1
        try:
            for i, (_, block) in enumerate(_data_blocks(data)):
                got = scan.scan_block(
                    block, last, i == 0, _NUMERIC, _STRING_LAYOUT, shapes, _Stored, values
                )
                if got is None:
                    return None
                last, head, highest = got
                header = head if i == 0 else header
                top = max(top, highest)
        except _Corrupt:
            return None
        if header is None:
            return None
        self._check_header(header)  # what it raises, the Python decoder raises first
        if values and top >= self._num_shards:
            return None  # a value in a shard the header does not declare, or no shards
        return values

    def _values_in_one_pass(
        self, table: Iterator[tuple[bytes, bytes]]
    ) -> dict[str, _Stored] | None:
        """The values, each entry parsed and checked as it comes, so the parsed fields of a
        100,000 entries are never all held at once; None at a partitioned value, or at an
        entry that does not check (a slice's binary key, or damage): the two passes of
        :meth:`_parse_index` then read them, and name the damage."""
        values: dict[str, _Stored] = {}
        shapes: _Shapes = {}
        layouts: _Layouts = {}
        for raw_key, value in table:
            if self._num_shards < 1:
                return None
            fields = _parse_entry(value, shapes)
            if fields[7]:
                return None
            try:
                key, stored = self._validate(raw_key, fields, layouts=layouts)
            except (_Corrupt, Unsupported):
                return None
            values[key] = stored
        return values

    def _partition(
        self, raw_key: bytes, fields: Any, raw_values: dict[bytes, bytes]
    ) -> list[tuple[bytes, tuple[tuple[int, int], ...]]]:
        """The slice keys of a partitioned value, each with the slice it holds.

        OrderedCode keeps numbers in order, so the slice keys sort as the slices' (start,
        length) tuples do: the two sorted lists pair up one to one.
        """
        name = raw_key.decode("utf-8", "replace")
        declared = sorted(_slices_of(raw_values[raw_key]))
        prefix = _slice_key_prefix(name)
        keys = sorted(k for k in raw_values if k.startswith(prefix))
        if len(keys) != len(declared):
            raise _Corrupt(
                f"value {name} lists {len(declared)} slices; the index holds {len(keys)}"
            )
        return list(zip(keys, declared, strict=True))

    def _stitched(
        self,
        raw_key: bytes,
        fields: Any,
        raw_values: dict[bytes, bytes],
        parsed: list[tuple[bytes, Any]],
    ) -> _Stored:
        dtype, dims = fields[0], fields[1]
        key = raw_key.decode("utf-8", "replace")
        if dtype not in _NUMERIC:
            raise Unsupported(f"value {key} is a partitioned {_OTHER_TYPE_NAMES.get(dtype, dtype)}")
        by_key = dict(parsed)
        parts = []
        covered = 0
        for slice_key, sl in self._partition(raw_key, fields, raw_values):
            _, stored = self._validate(slice_key, by_key[slice_key], label=f"{key}[slice]")
            lengths = tuple(d if n < 0 else n for (_, n), d in zip(sl, dims, strict=True))
            if stored.shape != lengths or any(
                s < 0 or s + n > d for (s, _), n, d in zip(sl, lengths, dims, strict=True)
            ):
                raise _Corrupt(f"value {key} has a slice {sl} of shape {stored.shape}")
            parts.append((sl, stored))
            covered += stored.count
        name, itemsize, code = _NUMERIC[dtype]
        whole = _Stored(name, itemsize, code, tuple(dims), math.prod(dims), -1, 0, 0, 0)
        if covered != whole.count:
            raise _Corrupt(f"value {key}: its slices hold {covered} of {whole.count} elements")
        whole.parts = parts
        return whole

    def _validate(
        self,
        raw_key: bytes,
        fields: _Fields,
        label: str | None = None,
        layouts: _Layouts | None = None,
    ) -> tuple[str, _Stored]:
        """The key and stored value an entry describes, after checking it; ``layouts`` caches
        what its dtype and shape alone decide (the same few recur across a checkpoint)."""
        dtype, dims, unknown_rank, shard, offset, size, crc, _ = fields
        if label is not None:
            key = label
        else:
            try:
                key = raw_key.decode("utf-8")
            except UnicodeDecodeError:
                raise _Corrupt(f"key {raw_key!r} is not UTF-8") from None
        layout = layouts.get((dtype, dims, unknown_rank)) if layouts is not None else None
        if layout is None:
            layout = _layout(key, dtype, dims, unknown_rank)
            if layouts is not None:
                layouts[(dtype, dims, unknown_rank)] = layout
        name, itemsize, code, count, nbytes = layout
        if not 0 <= shard < self._num_shards:
            raise _Corrupt(f"value {key} is in shard {shard} of {self._num_shards}")
        if offset < 0 or size < 0:
            raise _Corrupt(f"value {key} has a negative offset or size")
        if nbytes >= 0:
            if size != nbytes:
                if name in _SUB_BYTE and count:
                    # One byte per element is how TensorFlow stores these today; a packed
                    # layout would be new, not damage.
                    raise Unsupported(f"value {key} stores {name} elements in a packed layout")
                raise _Corrupt(f"value {key} is stored in {size} bytes; its shape needs {nbytes}")
        elif size < count + 4 and not (size == 0 and count == 0):
            raise _Corrupt(f"value {key} is stored in {size} bytes; it needs at least {count + 4}")
        return key, _Stored(name, itemsize, code, dims, count, shard, offset, size, crc)

    # --- listing

    def entries(self) -> list[Entry]:
        if self._entries is None:
            self._entries = [
                Entry(key, s.name, s.shape, sum(p.size for _, p in s.parts) if s.parts else s.size)
                for key, s in self._values.items()
            ]
        return list(self._entries)

    @property
    def num_shards(self) -> int:
        """The number of data shards the index header declares."""
        return self._num_shards

    def shard_path(self, shard: int) -> AnyPath:
        """The data file of shard number ``shard``, as the header's shard count names it."""
        path = self._paths.get(shard)
        if path is None:
            path = suffixed(self.location.prefix, f".data-{shard:05d}-of-{self._num_shards:05d}")
            self._paths[shard] = path
        return path

    def open_shards(self) -> bool:
        """Open every data shard now, so that the files of this one checkpoint stay readable
        even if they are deleted (a CheckpointManager keeping the newest few). False if one
        could not be opened (what is wrong is reported by :meth:`file_problems` or a read)."""
        opened = True
        for shard in range(self._num_shards):
            if shard not in self._files:
                try:
                    self._files[shard] = open_binary(self.shard_path(shard))
                except OSError:
                    opened = False
        return opened

    def file_problems(self) -> list[CheckpointError]:
        """Missing data shards and values running past the end of theirs, found by stat alone."""
        sizes: dict[int, int] = {}
        problems: list[CheckpointError] = []
        for shard in range(self._num_shards):
            path = self.shard_path(shard)
            try:
                f = self._files.get(shard)
                sizes[shard] = file_size(f) if f else path.stat().st_size
            except FileNotFoundError:
                n = sum(
                    1 for v in self._values.values() for p in self._pieces(v) if p.shard == shard
                )
                problems.append(self._missing_error(path, n))
            except OSError as e:
                problems.append(CheckpointError(f"{path}: cannot be read ({e.strerror or e})"))
        short = [
            (f"{key} (a slice)" if s.parts else key, value)
            for key, s in self._values.items()
            for value in (self._pieces(s) if s.parts else (s,))
            if value.shard in sizes and value.offset + value.size > sizes[value.shard]
        ]
        for key, value in sorted(short, key=lambda item: item[0]):
            problems.append(self._short_error(self.shard_path(value.shard), key))
        return problems

    @staticmethod
    def _pieces(s: _Stored) -> list[_Stored]:
        """What is stored of a value: itself, or its slices when it is partitioned."""
        return [part for _, part in s.parts] if s.parts else [s]

    # --- reading

    def _stored(self, key: str) -> _Stored:
        stored = self._values.get(key)
        if stored is None:
            raise CheckpointError(
                f"{self.location.prefix}: no value named {key!r} in this checkpoint"
            )
        return stored

    def _missing_error(self, path: AnyPath, n: int) -> CheckpointError:
        if n == 0:
            return file_missing(path, "the index stores no values in it", COPY_MISSING_SHARDS)
        return file_missing(path, f"the index lists {n} values stored in it", COPY_MISSING_SHARDS)

    def _short_error(self, path: AnyPath, key: str) -> CheckpointError:
        try:
            size = path.stat().st_size
        except (OSError, CheckpointError):
            size = 0
        needed = self._shard_ends().get(path)
        return file_truncated(
            path, size, needed, f"value {key} ends past the end", COPY_CHECKPOINT_AGAIN
        )

    def _shard_ends(self) -> dict[AnyPath, int]:
        """Each data shard's path -> the size its values need (where the last one ends)."""
        ends = getattr(self, "_ends", None)
        if ends is None:
            ends = {}
            for v in self._values.values():
                for piece in self._pieces(v):
                    path = self.shard_path(piece.shard)
                    ends[path] = max(ends.get(path, 0), piece.offset + piece.size)
            self._ends: dict[AnyPath, int] = ends
        return ends

    def _checksum_error(self, path: AnyPath, key: str) -> CheckpointError:
        return file_corrupt(path, f"value {key} fails its checksum", COPY_CHECKPOINT_AGAIN)

    def _open(self, key: str, s: _Stored) -> tuple[IO[bytes], AnyPath]:
        """The open shard of value ``key``, after checking the value lies inside it. Each
        shard is opened and measured once; a file cut short later fails the read itself."""
        f = self._files.get(s.shard)
        size = self._sizes.get(s.shard)
        if f is None or size is None:
            f, size = self._open_shard(key, s.shard)
        if s.offset + s.size > size:
            raise self._short_error(self.shard_path(s.shard), key)
        return f, self.shard_path(s.shard)

    def _open_shard(self, key: str, shard: int) -> tuple[IO[bytes], int]:
        """Shard ``shard`` opened (unless it is) and its size; errors name ``key``."""
        path = self.shard_path(shard)
        f = self._files.get(shard)
        if f is None:
            try:
                f = open_binary(path)  # kept open until close()
            except FileNotFoundError:
                n = sum(
                    1
                    for v in self._values.values()
                    for piece in self._pieces(v)
                    if piece.shard == shard
                )
                raise self._missing_error(path, n) from None
            except OSError as e:
                raise CheckpointError(
                    f"{path}: cannot read value {key} ({e.strerror or e})"
                ) from None
            self._files[shard] = f
        try:
            size = file_size(f)
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read value {key} ({e.strerror or e})") from None
        self._sizes[shard] = size
        return f, size

    def _read_into(
        self, f: IO[bytes], offset: int, out: np.ndarray, path: AnyPath, key: str
    ) -> None:
        """Fill ``out`` (any contiguous array) with the bytes at ``offset``."""
        import numpy as np

        view = out.view(np.uint8).reshape(-1).data
        try:
            f.seek(offset)
            done = 0
            while done < len(view):
                got = f.readinto(view[done:])  # type: ignore[attr-defined]
                if not got:
                    raise self._short_error(path, key)
                done += got
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read value {key} ({e.strerror or e})") from None

    def _read_bytes(self, f: IO[bytes], offset: int, size: int, path: AnyPath, key: str) -> bytes:
        """The ``size`` bytes at ``offset`` (already checked to lie inside the file)."""
        try:
            f.seek(offset)
            parts = [f.read(size) or b""]
            got = len(parts[0])
            while got < size:
                more = f.read(size - got)
                if not more:
                    raise self._short_error(path, key)
                parts.append(more)
                got += len(more)
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read value {key} ({e.strerror or e})") from None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read(self, key: str) -> np.ndarray:
        s = self._stored(key)
        if s.parts:
            return self._read_stitched(key, s)
        return self._read_stored(key, s)

    def _read_stitched(self, key: str, s: _Stored) -> np.ndarray:
        """A partitioned value: each slice read (and checked) into its place."""
        import numpy as np

        out = np.empty(s.shape, dtype=s.dtype)
        for sl, part in s.parts:
            index = tuple(
                slice(start, start + n) for (start, _), n in zip(sl, part.shape, strict=True)
            )
            out[index] = self._read_stored(f"{key} (a slice)", part)
        return out

    def _read_stored(self, key: str, s: _Stored) -> np.ndarray:
        import numpy as np

        f, path = self._open(key, s)
        if s.dtype is None:
            return self._read_strings(key, s, f, path).reshape(s.shape)
        out = np.empty(s.count, dtype=s.dtype)
        self._read_into(f, s.offset, out, path, key)
        if self.verify and _crc(out.view(np.uint8)) != unmask_crc32c(s.crc):
            raise self._checksum_error(path, key)
        return out.reshape(s.shape)

    def read_chunks(self, key: str, max_bytes: int) -> Iterator[np.ndarray]:
        """The value of ``key`` as flat chunks of at most ``max_bytes`` (at least one element).

        The checksum covers the whole value, so a mismatch is raised after the last chunk.
        A string tensor comes as one flat object array (its lengths come first: it is read
        whole either way).
        """
        import numpy as np

        s = self._stored(key)
        if s.parts:
            yield from split_flat(self._read_stitched(key, s), max_bytes)
            return
        f, path = self._open(key, s)
        if s.dtype is None:
            yield self._read_strings(key, s, f, path)
            return
        step = max(1, max_bytes // s.dtype.itemsize)
        buffers = ChunkBuffers(min(step, s.count), s.dtype)
        crc = 0
        done = 0
        while done < s.count:
            if done:  # between chunks the caller may have closed the backend
                f, path = self._open(key, s)
            n = min(step, s.count - done)
            chunk = buffers.take(n)
            self._read_into(f, s.offset + done * s.dtype.itemsize, chunk, path, key)
            if self.verify:
                crc = _crc(chunk.view(np.uint8), crc)
            done += n
            yield chunk
            del chunk  # so that its buffer can be reused once the caller is done with it
        if self.verify and crc != unmask_crc32c(s.crc):
            raise self._checksum_error(path, key)

    def positional_chunks(self, key: str, max_bytes: int) -> PositionalChunks | None:
        """The chunks of ``key`` readable in any order, on any thread (see
        :mod:`ckptctl.positional`); None where they are not: a string or partitioned value,
        a shard in object storage, or no C kernels to checksum without the GIL."""
        s = self._stored(key)
        kernels = speedups.kernels
        if kernels is None or not s.itemsize or s.parts or not hasattr(os, "preadv"):
            return None
        f, path = self._open(key, s)
        if not isinstance(f, io.FileIO):
            return None

        def unreadable(e: OSError) -> CheckpointError:
            return CheckpointError(f"{path}: cannot read value {key} ({e.strerror or e})")

        def dtype() -> np.dtype[Any]:
            resolved = s.dtype
            assert resolved is not None  # a string has no itemsize
            return resolved

        return PositionalChunks(
            kernels,
            f.fileno(),
            s.offset,
            s.count,
            s.itemsize,
            dtype,
            max(1, max_bytes // s.itemsize),
            unmask_crc32c(s.crc) if self.verify else None,
            short=lambda: self._short_error(path, key),
            corrupt=lambda: self._checksum_error(path, key),
            unreadable=unreadable,
        )

    def _read_strings(self, key: str, s: _Stored, f: IO[bytes], path: AnyPath) -> np.ndarray:
        """A string tensor as a flat object array of bytes."""
        import numpy as np

        out = np.empty(s.count, dtype=object)
        out[:] = self._string_items(key, s, f, path)
        return out

    def read_strings(self, key: str) -> list[bytes] | None:
        """The elements of the string value ``key``, flat, without numpy (the object graph:
        listing a checkpoint needs nothing else); None if it is not a plain string tensor."""
        s = self._stored(key)
        if s.name != "string" or s.parts:
            return None
        f, path = self._open(key, s)
        return self._string_items(key, s, f, path)

    def read_int(self, key: str) -> int | None:
        """The integer scalar ``key`` (``save_counter``), checked, without numpy; None if it
        is something else."""
        s = self._stored(key)
        if s.name not in _SCALAR_INTS or s.count != 1 or s.parts:
            return None
        data = self._checked_bytes(key, s, windowed=False)
        return int.from_bytes(data, "little", signed=_SCALAR_INTS[s.name])

    def read_raw(self, key: str) -> bytes | None:
        """The stored bytes of the numeric value ``key`` (its elements in C order, little
        endian), checked; None for a string or a partitioned value, which are not stored as
        one run of elements. A small value comes from a window of its shard: callers read
        them value after value (diff)."""
        s = self._stored(key)
        if s.name == "string" or s.parts:
            return None
        return self._checked_bytes(key, s, windowed=s.size <= _WINDOWED_MAX)

    def read_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """:meth:`read_raw` of each of ``keys`` that is a small value, None for the others
        and for any that fails (the caller reads those itself, and meets the error there).
        The common case, a value inside the current window of its shard, is checked inline:
        a diff of 100,000 values does this 200,000 times."""
        out: list[bytes | None] = []
        append = out.append
        values, windows, verify = self._values, self._windows, self.verify
        import google_crc32c  # imported where used: a listing needs none of it

        value_crc = google_crc32c.value
        for key in keys:
            s = values.get(key)
            if s is None or s.name == "string" or s.parts or s.size > _WINDOWED_MAX:
                append(None)
                continue
            window = windows.get(s.shard)
            begin = s.offset - window[0] if window is not None else -1
            if window is None or begin < 0 or begin + s.size > len(window[1]):
                try:
                    append(self._checked_bytes(key, s, windowed=True))
                except CheckpointError:
                    append(None)
                continue
            data = window[1][begin : begin + s.size]
            if verify:
                rot = (s.crc - MASK_DELTA) & _U32  # unmask_crc32c, inline
                if value_crc(data) != ((rot >> 17) | (rot << 15)) & _U32:
                    append(None)
                    continue
            append(data)
        return out

    def _checked_bytes(self, key: str, s: _Stored, windowed: bool) -> bytes:
        f, path = self._open(key, s)
        if windowed:
            data = self._windowed(f, s, path, key)
        else:
            data = self._read_bytes(f, s.offset, s.size, path, key)
        if self.verify and _crc(data) != unmask_crc32c(s.crc):
            raise self._checksum_error(path, key)
        return data

    def _windowed(self, f: IO[bytes], s: _Stored, path: AnyPath, key: str) -> bytes:
        """The bytes of the small value ``s``, from the last window read of its shard, or a
        new window starting at it. A shard stores its values in key order, and those that are
        read one after another (a diff, value by value) are mostly next to each other: one
        read for thousands of them (and one request each, not thousands, for a remote file).
        """
        start, window = self._windows.get(s.shard, (0, b""))
        begin = s.offset - start
        if begin < 0 or begin + s.size > len(window):
            start, begin = s.offset, 0
            length = max(s.size, min(_WINDOW_BYTES, self._sizes[s.shard] - s.offset))
            window = self._read_bytes(f, start, length, path, key)
            self._windows[s.shard] = (start, window)
        return window[begin : begin + s.size]

    def _string_items(self, key: str, s: _Stored, f: IO[bytes], path: AnyPath) -> list[bytes]:
        n = s.count
        if s.size == 0:
            if self.verify and unmask_crc32c(s.crc) != 0:
                raise self._checksum_error(path, key)
            return [b""] * n if n else []
        data = self._read_bytes(f, s.offset, s.size, path, key)
        sizes, pos = self._string_lengths(data, n, path, key)
        if pos + 4 > len(data):
            raise self._corrupt_strings(path, key)
        if sizes and max(sizes) > 0xFFFFFFFF:
            crc_input = b"".join(x.to_bytes(4 if x <= 0xFFFFFFFF else 8, "little") for x in sizes)
        else:
            crc_input = struct.pack(f"<{len(sizes)}I", *sizes)
        crc = _crc(crc_input)
        if self.verify:
            if unmask_crc32c(int.from_bytes(data[pos : pos + 4], "little")) != crc:
                raise self._checksum_error(path, key)
            if _crc(data[pos:], crc) != unmask_crc32c(s.crc):
                raise self._checksum_error(path, key)
        start = pos + 4
        # The lengths come from the file: only their sum matching the stored size makes them
        # trustworthy (with ``verify`` off nothing else has checked them).
        if sum(sizes) != len(data) - start:
            raise self._corrupt_strings(path, key)
        items: list[bytes] = []
        for length in sizes:
            items.append(data[start : start + length])
            start += length
        return items

    def _string_lengths(
        self, data: bytes, n: int, path: AnyPath, key: str
    ) -> tuple[list[int], int]:
        """The ``n`` varint64 lengths at the start of ``data``, and where they end."""
        if n <= len(data) and (n == 0 or max(data[:n]) < 0x80):
            return list(data[:n]), n
        lengths: list[int] = []
        pos = 0
        end = len(data)
        try:
            for _ in range(n):
                b = data[pos] if pos < end else 0x80
                if b < 0x80:
                    lengths.append(b)
                    pos += 1
                else:
                    v, pos = _varint(data, pos, end)
                    if v >= 1 << 64:
                        raise _Corrupt("string length too large")
                    lengths.append(v)
        except _Corrupt:
            raise self._corrupt_strings(path, key) from None
        return lengths, pos

    def _corrupt_strings(self, path: AnyPath, key: str) -> CheckpointError:
        return file_corrupt(
            path, f"value {key}: its string lengths do not match its size", COPY_CHECKPOINT_AGAIN
        )

    def close(self) -> None:
        files, self._files = self._files, {}
        self._sizes, self._windows = {}, {}
        for f in files.values():
            f.close()


def numeric_dtype(number: int) -> tuple[str, np.dtype[Any]] | None:
    """TensorFlow's ``DataType`` number -> (its name, the little-endian numpy dtype); an
    ml_dtypes type imports ml_dtypes (None if the installed one lacks it)."""
    found = _NUMERIC.get(number)
    if found is None:
        return None
    name, _, code = found
    try:
        return name, numpy_dtype(name, code)
    except CheckpointError:
        return None

"""The index of a TensorFlow checkpoint (the tensor bundle format), read without TensorFlow.

``P.index`` is an SSTable (LevelDB's table format, read by :mod:`ckptctl.sstable`). Key ``""``
holds a ``BundleHeaderProto`` (shard count, endianness, format version); every other key holds
a ``BundleEntryProto``: dtype, shape, shard, offset and size of the value in that shard, and the
masked crc32c of its bytes. A partitioned value's entry lists its slices, each stored under a
key of its own.

:class:`Index` reads them all, checked: every length, offset and count before it is used. A
damaged index raises ``sstable.Corrupt`` (:class:`ckptctl.bundle.NativeBackend` names the file);
what this reader does not handle raises :class:`Unsupported`, never a wrong value. The values'
bytes are read by :mod:`ckptctl.bundle`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ckptctl import _proto as pb
from ckptctl import speedups
from ckptctl.errors import CheckpointError
from ckptctl.sstable import Corrupt as _Corrupt
from ckptctl.sstable import data_blocks as _data_blocks
from ckptctl.sstable import iter_table, read_table
from ckptctl.sstable import varint as _varint

if TYPE_CHECKING:
    import numpy as np

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


# ------------------------------------------------------------------------------ the index


class Index:
    """The values an index describes (key -> :class:`_Stored`) and the shard count of its
    header, read from the index's bytes and checked."""

    def __init__(self, data: bytes) -> None:
        self.values: dict[str, _Stored] = {}
        self.num_shards = 0
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        if speedups.scan is not None:
            scanned = self._values_scanned(data, speedups.scan)
            if scanned is not None:
                self.values = scanned
                return
        table = iter_table(data)
        header = next(table, None)
        if header is None or header[0] != b"":
            raise _Corrupt("no header entry")
        num_shards = self._check_header(header[1])
        one_pass = self._values_in_one_pass(table)
        if one_pass is not None:
            self.values = one_pass
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
        self.values = values

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
        self.num_shards = max(num_shards, 0)
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
        if values and top >= self.num_shards:
            return None  # a value in a shard the header does not declare, or no shards
        return values

    def _values_in_one_pass(
        self, table: Iterator[tuple[bytes, bytes]]
    ) -> dict[str, _Stored] | None:
        """The values, each entry parsed and checked as it comes, so the parsed fields of a
        100,000 entries are never all held at once; None at a partitioned value, or at an
        entry that does not check (a slice's binary key, or damage): the two passes of
        :meth:`_parse` then read them, and name the damage."""
        values: dict[str, _Stored] = {}
        shapes: _Shapes = {}
        layouts: _Layouts = {}
        for raw_key, value in table:
            if self.num_shards < 1:
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
        if not 0 <= shard < self.num_shards:
            raise _Corrupt(f"value {key} is in shard {shard} of {self.num_shards}")
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

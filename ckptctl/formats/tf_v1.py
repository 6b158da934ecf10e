"""TF1's V1 checkpoints: the single file ``tf.compat.v1.train.Saver(write_version=V1)`` writes.

An SSTable (the same table format as a V2 ``.index``) of ``SavedTensorSlices`` records
(``tensorflow/core/util/saved_tensor_slice.proto``, ``tensor_slice_reader.cc``): the record
under the empty key holds the meta (each tensor's name, shape, dtype and the slices it was
saved in); every other record holds one slice of one tensor as a ``TensorProto`` whose values
are in the typed repeated fields (``float_val``, ``int64_val``, ...). Partitioned variables
are several slices of one tensor, stitched together here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ckptctl import _proto as pb
from ckptctl.chunks import split_flat
from ckptctl.errors import CheckpointError, file_corrupt
from ckptctl.storage import AnyPath, open_binary

if TYPE_CHECKING:
    import numpy as np

    from ckptctl.entry import Entry

_STRING = 7
_HALF_TYPES = frozenset({"float16", "bfloat16"})
# TensorProto's repeated value fields (tensor.proto), by the numpy kind they fill.
_FIELD_OF = {
    "float32": 5,
    "float64": 6,
    "int32": 7,
    "int16": 7,
    "int8": 7,
    "uint8": 7,
    "uint16": 7,
    "qint8": 7,
    "quint8": 7,
    "qint16": 7,
    "quint16": 7,
    "qint32": 7,
    "int64": 10,
    "bool": 11,
    "float16": 13,
    "bfloat16": 13,
    "uint32": 16,
    "uint64": 17,
}


def is_v1_file(path: AnyPath) -> bool:
    """An SSTable that is not a V2 ``.index``: a V1 checkpoint, by its footer's magic."""
    from ckptctl.sstable import FOOTER_SIZE, TABLE_MAGIC

    try:
        size = path.stat().st_size
        if size < FOOTER_SIZE:
            return False
        with open_binary(path) as f:
            f.seek(size - 8)
            return int.from_bytes(f.read(8), "little") == TABLE_MAGIC
    except OSError:
        return False


Slice = tuple[tuple[int, int], ...]  # (start, length) per dimension; length -1: the whole


_FIX = "the file is truncated or damaged: copy it again from where it was written"


@dataclass
class _Tensor:
    name: str
    dtype: str
    np_dtype: Any
    shape: tuple[int, ...]
    slices: list[Slice] = field(default_factory=list)


class V1Store:
    """An opened V1 checkpoint file: the backend behind ``Checkpoint``."""

    name = "native"

    def __init__(self, path: AnyPath) -> None:
        self.path = path
        from ckptctl.sstable import read_table

        try:
            data = path.read_bytes()
        except OSError as e:
            raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from e
        try:
            rows = read_table(data)
        except ValueError as e:
            # The table's footer is its last 48 bytes: a file cut short has none, so it
            # cannot tell how long it should be.
            raise file_corrupt(path, f"not a readable TF1 V1 checkpoint: {e}", _FIX) from e
        self._tensors: dict[str, _Tensor] = {}
        self._data: dict[tuple[str, Slice], bytes] = {}
        try:
            for key, value in rows:
                self._record(key, value)
        except (pb.ProtoError, ValueError, KeyError) as e:
            raise file_corrupt(path, f"a damaged TF1 V1 checkpoint record: {e}", _FIX) from e
        if not self._tensors and rows:
            raise CheckpointError(f"{path}: an SSTable, but not a TF1 checkpoint (no meta)")

    def _record(self, key: bytes, value: bytes) -> None:
        for num, _, v in pb.fields(value):
            if num == 1 and not key:
                for n, _, t in pb.fields(pb.as_bytes(v)):
                    if n == 1:
                        self._meta(pb.as_bytes(t))
            elif num == 2:
                name, data = "", b""
                sl: Slice = ()
                for n, _, x in pb.fields(pb.as_bytes(v)):
                    if n == 1:
                        name = pb.as_str(x)
                    elif n == 2:
                        sl = _slice(pb.as_bytes(x))
                    elif n == 3:
                        data = pb.as_bytes(x)
                self._data[(name, sl)] = data

    def _meta(self, buf: bytes) -> None:
        from ckptctl.bundle_index import numeric_dtype

        name, dims, dtype_num, slices = "", [], 0, []
        for n, _, v in pb.fields(buf):
            if n == 1:
                name = pb.as_str(v)
            elif n == 2:
                for m, _, d in pb.fields(pb.as_bytes(v)):
                    if m == 2:
                        size = 0
                        for k, _, s in pb.fields(pb.as_bytes(d)):
                            if k == 1:
                                size = pb.as_signed64(s)
                        dims.append(size)
            elif n == 3:
                dtype_num = pb.as_int(v)
            elif n == 4:
                slices.append(_slice(pb.as_bytes(v)))
        if dtype_num == _STRING:
            import numpy as np

            dt = ("string", np.dtype(object))
        else:
            found = numeric_dtype(dtype_num)
            if found is None:
                raise ValueError(f"{name}: dtype {dtype_num} is not read natively")
            dt = found
        if any(d < 0 for d in dims) or math.prod(dims) > (1 << 40):
            raise ValueError(f"{name}: an impossible shape {dims}")
        self._tensors[name] = _Tensor(name, dt[0], dt[1], tuple(dims), slices)

    # ------------------------------------------------------------ the backend

    @property
    def num_shards(self) -> int:
        return 1

    def file_problems(self) -> list[CheckpointError]:
        return []

    def entries(self) -> list[Entry]:
        from ckptctl.entry import Entry

        out = []
        for t in self._tensors.values():
            n = math.prod(t.shape)
            nbytes = None if t.dtype == "string" else n * t.np_dtype.itemsize
            out.append(Entry(t.name, t.dtype, t.shape, nbytes))
        return out

    def read(self, key: str) -> np.ndarray:
        import numpy as np

        t = self._tensors.get(key)
        if t is None:
            raise CheckpointError(f"{self.path}: no value {key!r}")
        out = np.zeros(t.shape, dtype=t.np_dtype)
        if t.dtype == "string":
            out = np.full(t.shape, b"", dtype=object)
        covered = 0
        for sl in t.slices or [tuple((0, -1) for _ in t.shape)]:
            data = self._data.get((key, sl))
            if data is None:
                raise file_corrupt(
                    self.path, f"{key} lists a slice {_slice_text(sl)} that the file lacks", _FIX
                )
            index = tuple(
                slice(start, None if length < 0 else start + length)
                for start, length in (sl if sl else ())
            )
            target = out[index] if index else out
            values = self._values(t, data, target.size)
            if values.size != target.size:
                raise CheckpointError(
                    f"{self.path}: {key} slice {_slice_text(sl)} holds {values.size} values "
                    f"for {target.size} places"
                )
            if index:
                out[index] = values.reshape(target.shape)
            else:
                out = values.reshape(t.shape)
            covered += target.size
        if covered != out.size:
            raise file_corrupt(
                self.path, f"the slices of {key} cover {covered} of its {out.size} values", _FIX
            )
        return out

    def _values(self, t: _Tensor, data: bytes, n: int) -> np.ndarray:
        import numpy as np

        if t.dtype == "string":
            items = [pb.as_bytes(v) for num, _, v in pb.fields(data) if num == 8]
            return np.array(items, dtype=object)
        number = _FIELD_OF.get(t.dtype)
        if number is None:
            raise CheckpointError(f"{self.path}: {t.name}: dtype {t.dtype} is not read natively")
        raw: list[Any] = []
        for num, wire, v in pb.fields(data):
            if num != number:
                continue
            if wire == 2:
                raw.extend(_packed(pb.as_bytes(v), number))
            else:
                raw.append(_scalar(v, number))
        if t.dtype in _HALF_TYPES:
            bits = np.array(raw, dtype=np.uint16)
            return bits.view(t.np_dtype)
        return np.array(raw, dtype=t.np_dtype)

    def read_chunks(self, key: str, max_bytes: int) -> Iterator[np.ndarray]:
        """Slices are protobuf records, decoded whole: the value is assembled once, then cut."""
        yield from split_flat(self.read(key), max_bytes)

    def close(self) -> None:
        self._data.clear()


def _slice(buf: bytes) -> Slice:
    from ckptctl.bundle_index import parse_slice

    return parse_slice(buf)


def _slice_text(sl: Slice) -> str:
    return "[" + ", ".join(f"{s}:{'' if n < 0 else s + n}" for s, n in sl) + "]"


def _packed(buf: bytes, number: int) -> list[Any]:
    import struct

    if number == 5:
        return list(struct.unpack(f"<{len(buf) // 4}f", buf))
    if number == 6:
        return list(struct.unpack(f"<{len(buf) // 8}d", buf))
    out, pos = [], 0
    while pos < len(buf):
        v, pos = pb.read_varint(buf, pos)
        out.append(_scalar(v, number))
    return out


def _scalar(v: int | bytes, number: int) -> Any:
    import struct

    if number == 5:
        return struct.unpack("<f", struct.pack("<I", pb.as_int(v)))[0]
    if number == 6:
        return struct.unpack("<d", struct.pack("<Q", pb.as_int(v)))[0]
    if number in (7, 10):
        return pb.as_signed64(v)
    if number == 11:
        return bool(pb.as_int(v))
    return pb.as_int(v)

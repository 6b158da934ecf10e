"""Read TensorFlow checkpoints (the tensor bundle format) with numpy alone, without TensorFlow.

A checkpoint with prefix ``P`` is ``P.index`` and the data shards ``P.data-0000K-of-0000N``.
The index (read by :mod:`ckptctl.bundle_index`) gives each value's dtype, shape, shard, offset,
size and masked crc32c; :class:`NativeBackend` reads the values from the shards.

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
import os
import struct
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from ckptctl import speedups
from ckptctl.bulk import collection_paused
from ckptctl.bundle_index import Index, Unsupported, _Stored
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
    masked_crc32c,
    read_table,
    snappy_decompress,
    unmask_crc32c,
)
from ckptctl.sstable import Corrupt as _Corrupt
from ckptctl.sstable import crc32c as _crc
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
_WINDOWED_MAX = 64 << 10
"""Values up to this size are compared through a window of their shard (see
:meth:`NativeBackend._windowed`)."""
_WINDOW_BYTES = 1 << 20
"""How much of a shard one window reads."""

_SCALAR_INTS = {"int64": True, "int32": True, "uint64": False, "uint32": False}
"""The integer types :meth:`NativeBackend.read_int` reads: name -> signed."""


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
                parsed = Index(data)
        except _Corrupt as e:
            raise file_corrupt(
                index, f"not a readable checkpoint index: {e}", COPY_CHECKPOINT_AGAIN
            ) from None
        self._values, self._num_shards = parsed.values, parsed.num_shards

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

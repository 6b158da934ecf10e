"""The SSTable (LevelDB's table format) that holds a checkpoint's index: the tensor bundle's
``P.index`` (:mod:`ckptctl.bundle`) and a TF1 V1 checkpoint's one file
(:mod:`ckptctl.formats.tf_v1`).

A table is blocks of sorted key/value entries (keys prefix-compressed, with a restart array),
each block followed by a 5-byte trailer (compression type, masked crc32c of contents and
type), an index block mapping to the data blocks, and a 48-byte footer ending in a magic
number. Blocks are stored plain, except that a few early TensorFlow releases Snappy-compressed
them. Every length and offset is checked before it is used: damage raises :class:`Corrupt`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ckptctl import speedups

if TYPE_CHECKING:
    import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


class Corrupt(ValueError):
    """The table (or a compressed block) is not well-formed; the text says how."""


def masked_crc32c(crc: int) -> int:
    """The masked form of a crc32c that TensorFlow and LevelDB store."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmask_crc32c(masked: int) -> int:
    """Inverse of :func:`masked_crc32c`."""
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def crc32c(data: bytes | np.ndarray, crc: int = 0) -> int:
    """crc32c of ``data`` (bytes or a contiguous uint8 array), continuing from ``crc``: the
    kernels' (without the GIL) where the CPU has a crc32 instruction, google-crc32c's else."""
    if _kernels is not None:
        return int(_kernels.crc32c(data, crc))
    import google_crc32c  # only where the kernels are not (2 ms of every listing otherwise)

    return int(google_crc32c.extend(crc, data))


_kernels = speedups.kernels if speedups.HARDWARE_CRC32C else None


def varint(buf: bytes, pos: int, end: int, max_bytes: int = 10) -> tuple[int, int]:
    """Decode a varint in ``buf[pos:end]`` of at most ``max_bytes`` bytes."""
    result = 0
    shift = 0
    stop = pos + max_bytes
    if stop > end:
        stop = end
    while pos < stop:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    raise Corrupt("bad varint")


def block(data: bytes, offset: int, size: int, limit: int, what: str) -> bytes:
    """Contents of the block at ``offset``; its trailer's type and checksum are verified."""
    if offset < 0 or size < 0 or offset + size + BLOCK_TRAILER_SIZE > limit:
        raise Corrupt(f"{what} lies outside the file")
    end = offset + size
    stored = int.from_bytes(data[end + 1 : end + 5], "little")
    if crc32c(data[offset : end + 1]) != unmask_crc32c(stored):
        raise Corrupt(f"{what} checksum mismatch")
    kind = data[end]
    if kind == 0:
        return data[offset:end]
    if kind == 1:
        return snappy_decompress(data[offset:end], what)
    raise Corrupt(f"{what} has unknown compression type {kind}")


def snappy_decompress(src: bytes, what: str = "block") -> bytes:
    """Decode a raw Snappy block (a few early TensorFlow releases compressed index blocks).

    Every tag, length and back-reference is checked against the input and the output so far,
    and the output may not exceed the length the block declares; bad input raises ValueError.
    """
    n = len(src)
    expected, pos = varint(src, 0, n, 5)
    if expected > _U32:
        raise Corrupt(f"{what}: corrupted compressed block contents")
    out = bytearray()
    while pos < n:
        tag = src[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = (tag >> 2) + 1
            if length > 60:
                extra = length - 60
                if pos + extra > n:
                    break
                length = int.from_bytes(src[pos : pos + extra], "little") + 1
                pos += extra
            if pos + length > n:
                break
            out += src[pos : pos + length]
            pos += length
        else:
            if kind == 1:
                length = 4 + ((tag >> 2) & 7)
                if pos + 1 > n:
                    break
                back = ((tag >> 5) << 8) | src[pos]
                pos += 1
            else:
                size = 2 if kind == 2 else 4
                length = (tag >> 2) + 1
                if pos + size > n:
                    break
                back = int.from_bytes(src[pos : pos + size], "little")
                pos += size
            if back == 0 or back > len(out):
                break
            start = len(out) - back
            if back >= length:
                out += out[start : start + length]
            else:  # the copy overlaps its own output: the last `back` bytes repeat
                pattern = out[start:]
                out += (pattern * (length // back + 1))[:length]
        if len(out) > expected:
            break
    else:
        if len(out) == expected:
            return bytes(out)
    raise Corrupt(f"{what}: corrupted compressed block contents")


def block_entries(block: bytes, out: list[tuple[bytes, bytes]], what: str) -> None:
    """Append the (key, value) entries of a block to ``out``, in order."""
    n = len(block)
    if n < 4:
        raise Corrupt(f"{what} is too short")
    num_restarts = int.from_bytes(block[n - 4 :], "little")
    if num_restarts > (n - 4) // 4:
        raise Corrupt(f"{what} has a bad restart array")
    if num_restarts == 0:
        return
    limit = n - 4 * (1 + num_restarts)
    pos = 0
    key = b""
    append = out.append
    while pos < limit:
        if limit - pos < 3:
            raise Corrupt(f"bad entry in {what}")
        shared = block[pos]
        non_shared = block[pos + 1]
        value_len = block[pos + 2]
        if (shared | non_shared | value_len) < 128:
            pos += 3
        else:
            shared, pos = varint(block, pos, limit, 5)
            non_shared, pos = varint(block, pos, limit, 5)
            value_len, pos = varint(block, pos, limit, 5)
        key_end = pos + non_shared
        value_end = key_end + value_len
        if value_end > limit or shared > len(key):
            raise Corrupt(f"bad entry in {what}")
        key = key[:shared] + block[pos:key_end] if shared else block[pos:key_end]
        append((key, block[key_end:value_end]))
        pos = value_end


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of an SSTable held in ``data``, in key order.

    A damaged table raises ValueError; Snappy-compressed blocks are decompressed.
    """
    return list(iter_table(data))


def iter_table(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """:func:`read_table`'s entries one by one, a data block at a time: a caller that keeps
    only what it makes of each entry never holds the table's 100,000 values at once."""
    last: bytes | None = None
    for what, block in data_blocks(data):
        out: list[tuple[bytes, bytes]] = []
        block_entries(block, out, what)
        for entry in out:
            if last is not None and entry[0] <= last:
                raise Corrupt("keys out of order")
            last = entry[0]
        yield from out


def data_blocks(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(name, contents) of each data block of the SSTable in ``data``, in order, each checked
    (and decompressed) when it is reached."""
    size = len(data)
    if size < FOOTER_SIZE:
        raise Corrupt("file is too short to be an sstable")
    footer = size - FOOTER_SIZE
    if int.from_bytes(data[size - 8 :], "little") != TABLE_MAGIC:
        raise Corrupt("not an sstable (bad magic number)")
    handles_end = size - 8
    pos = footer
    _, pos = varint(data, pos, handles_end)  # metaindex offset
    _, pos = varint(data, pos, handles_end)  # metaindex size
    index_offset, pos = varint(data, pos, handles_end)
    index_size, pos = varint(data, pos, handles_end)
    index_block = block(data, index_offset, index_size, footer, "index block")
    handles: list[tuple[bytes, bytes]] = []
    block_entries(index_block, handles, "index block")
    next_free = 0
    for i, (_, handle) in enumerate(handles):
        offset, hpos = varint(handle, 0, len(handle))
        length, _ = varint(handle, hpos, len(handle))
        # The writer lays data blocks out one after another: anything else is damage, and
        # would let a crafted index make the same bytes be parsed many times over.
        if offset < next_free:
            raise Corrupt("data blocks overlap")
        what = f"data block {i}"
        yield what, block(data, offset, length, footer, what)
        next_free = offset + length + BLOCK_TRAILER_SIZE

"""Just enough of the protobuf wire format to read checkpoint metadata without TensorFlow.

Every length is checked against the buffer before it is used, so a hostile or truncated
message raises :class:`ProtoError` instead of reading past the end or allocating blindly.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; return (value, next position)."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtoError("varint runs past the end of the message")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("varint longer than 10 bytes")


def fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field; LEN values come as bytes."""
    pos = 0
    end = len(buf)
    while pos < end:
        tag = buf[pos]
        if tag < 0x80:  # one-byte tags are nearly all of them: skip the general decoder
            pos += 1
        else:
            tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtoError("field number 0")
        value: int | bytes
        if wire == VARINT:
            if pos < end and buf[pos] < 0x80:
                value = buf[pos]
                pos += 1
            else:
                value, pos = read_varint(buf, pos)
        elif wire == I64:
            if pos + 8 > end:
                raise ProtoError("fixed64 runs past the end of the message")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == I32:
            if pos + 4 > end:
                raise ProtoError("fixed32 runs past the end of the message")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif wire == LEN:
            if pos < end and buf[pos] < 0x80:
                length = buf[pos]
                pos += 1
            else:
                length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise ProtoError("length-delimited field runs past the end of the message")
            value = bytes(buf[pos : pos + length])
            pos += length
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        yield number, wire, value


def as_int(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise ProtoError("expected a number, found bytes")
    return value


def as_signed64(value: int | bytes) -> int:
    v = as_int(value)
    return v - (1 << 64) if v >= 1 << 63 else v


def as_bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtoError("expected bytes, found a number")
    return value


def as_str(value: int | bytes) -> str:
    try:
        return as_bytes(value).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtoError("string field is not UTF-8") from e

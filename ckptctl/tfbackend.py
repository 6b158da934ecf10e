"""Read checkpoints through TensorFlow's own ``CheckpointReader``.

TensorFlow's errors on broken files are terse ("not an sstable (bad magic number)", "Read less
bytes than requested"); here each becomes a ``CheckpointError`` that names the file and the
likely cause.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ckptctl import _tf
from ckptctl.entry import Entry
from ckptctl.errors import (
    COPY_CHECKPOINT_AGAIN,
    COPY_MISSING_SHARDS,
    CheckpointError,
    file_corrupt,
    file_missing,
    file_truncated,
)
from ckptctl.location import Location

_MISSING_FILE_RE = re.compile(r"(\S+\.data-\d{5}-of-\d{5})")
_SHARD_RE = re.compile(r"shard (\d+)")


def string_nbytes(values: np.ndarray) -> int:
    """Bytes a string tensor takes in a data shard: varint lengths, a 4-byte crc, the bytes."""
    total = 4
    for item in values.reshape(-1):
        n = len(item)
        total += n + max(1, (n.bit_length() + 6) // 7)
    return total


class TFBackend:
    def __init__(self, location: Location) -> None:
        self.location = location
        self._reader: Any = None
        self._entries: list[Entry] | None = None
        self._keys: set[str] | None = None
        self._open()

    def _open(self) -> Any:
        if self._reader is None:
            tf = _tf.tensorflow()
            try:
                # Not tf.train.load_checkpoint: it takes a prefix some filesystems also call a
                # directory (ram://) for a directory, and looks for a state file in it.
                self._reader = tf.compat.v1.train.NewCheckpointReader(self.location.name)
            except Exception as e:
                raise self._index_error(e) from e
        return self._reader

    def _index_error(self, e: BaseException) -> CheckpointError:
        index = f"{self.location.name}.index"
        msg = _first_line(e)
        if "sstable" in msg or "magic" in msg or "corrupt" in msg.lower():
            return file_corrupt(
                index, f"not a readable checkpoint index: {msg}", COPY_CHECKPOINT_AGAIN
            )
        return CheckpointError(f"{index}: TensorFlow cannot open this checkpoint ({msg})")

    def _listing(self) -> tuple[dict[str, Any], dict[str, Any]]:
        reader = self._open()
        return reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()

    def entries(self) -> list[Entry]:
        if self._entries is None:
            shapes, dtypes = self._listing()
            self._keys = set(shapes)
            out = []
            nbytes: int | None
            for key, shape in shapes.items():
                dtype = dtypes[key]
                if dtype.name == "string":
                    nbytes = self._string_nbytes(key)
                else:
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.size
                out.append(Entry(key, dtype.name, tuple(int(d) for d in shape), nbytes))
            self._entries = out
        return self._entries

    def _string_nbytes(self, key: str) -> int | None:
        try:
            return string_nbytes(self.read(key))
        except CheckpointError:
            return None

    def read(self, key: str) -> np.ndarray:
        if self._keys is None:
            self._keys = set(self._listing()[0])
        if key not in self._keys:
            raise CheckpointError(
                f"{self.location.prefix}: no value named {key!r} in this checkpoint"
            )
        try:
            value: Any = self._open().get_tensor(key)
        except Exception as e:
            # After one failed read, TensorFlow's reader can abort the process on the next
            # (a CHECK on its status): never touch it again, reopen a fresh one if needed.
            self._reader = None
            raise self._value_error(key, e) from e
        if isinstance(value, bytes):
            # A 0-d object array: numpy's fixed-width bytes dtype would drop trailing NULs.
            out = np.empty((), dtype=object)
            out[()] = value
            return out
        return np.asarray(value)

    def _value_error(self, key: str, e: BaseException) -> CheckpointError:
        msg = _first_line(e)
        missing = "No such file" in msg or _MISSING_FILE_RE.search(msg)
        short = "Read less bytes" in msg or "truncated" in msg.lower()
        if missing or short:
            # The same words as the TensorFlow-free reader's, which can say how many values a
            # missing shard holds and how many bytes a short one lacks.
            for problem in self._file_problems():
                if missing or f"value {key} " in problem.message:
                    return problem
        if missing:
            m = _MISSING_FILE_RE.search(msg)
            path = m.group(1) if m else f"{self.location.prefix}.data-*"
            n = len((self._keys or set()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"})
            return file_missing(path, f"the index lists {n} values", COPY_MISSING_SHARDS)
        shard_file = self._shard_file(msg)
        if short:
            size = _size(shard_file)
            return file_truncated(
                shard_file, size, None, f"value {key} ends past the end", COPY_CHECKPOINT_AGAIN
            )
        if "Checksum does not match" in msg or "checksum" in msg.lower():
            return file_corrupt(
                shard_file, f"value {key} fails its checksum", COPY_CHECKPOINT_AGAIN
            )
        return CheckpointError(f"{shard_file}: cannot read value {key} ({msg})")

    def _file_problems(self) -> list[CheckpointError]:
        if self.location.is_remote:
            return []
        from ckptctl.bundle import NativeBackend, Unsupported

        try:
            native = NativeBackend(self.location, verify=False)
        except (Unsupported, CheckpointError, OSError):
            return []
        try:
            return native.file_problems()
        finally:
            native.close()

    def _shard_file(self, msg: str) -> str:
        files = self.location.data_files
        m = _SHARD_RE.search(msg)
        if m and files:
            wanted = f".data-{int(m.group(1)):05d}-of-"
            for f in files:
                if wanted in f.name:
                    return str(f)
        if len(files) == 1:
            return str(files[0])
        return f"{self.location.prefix}.data-*"

    def close(self) -> None:
        self._reader = None


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]

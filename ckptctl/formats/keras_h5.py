"""Keras 3's saving layout, read with h5py alone: ``.weights.h5``, ``.weights.json`` with its
shards, and the ``model.weights.h5`` inside a ``.keras`` archive (read in place, never
extracted).

Keras (``keras/src/saving/saving_lib.py``) walks the model's attributes and writes each
layer's own variables, by position, as datasets ``<attribute path>/vars/<i>``; a group
``vars`` records the layer's name in its attribute ``name``. Sequential and functional models
store their layers under ``layers/<snake_case class name>[_k]`` (a counter per class, not the
layer's name). The optimizer's variables are ``optimizer/vars/<i>``, by position: the iteration
count, the learning rate, then its slots in the order of the model's trainable variables.

Nothing in a file is ever deserialized or run: ``config.json`` is parsed as JSON for the
model's class name only, and datasets stored outside the file (external or virtual) are
refused.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ckptctl.chunks import flat_slabs
from ckptctl.errors import (
    SAVE_WEIGHTS_AGAIN,
    CheckpointError,
    file_corrupt,
    file_missing,
    file_truncated,
)
from ckptctl.formats.keras_names import HDF5_MAGIC as HDF5_MAGIC
from ckptctl.formats.keras_names import KERAS_SOURCES as KERAS_SOURCES
from ckptctl.formats.keras_names import KerasSource as KerasSource
from ckptctl.formats.keras_names import source_of as source_of
from ckptctl.names import digits_order
from ckptctl.objgraph import KeyInfo
from ckptctl.storage import AnyPath, import_h5py, open_binary, open_hdf5

if TYPE_CHECKING:
    import zipfile

    import h5py
    import numpy as np

    from ckptctl.entry import Entry

ARCHIVE_WEIGHTS = "model.weights.h5"
_JSON_LIMIT = 64 << 20  # metadata.json, config.json and .weights.json are small documents


def shard_paths(path: AnyPath) -> list[AnyPath]:
    """The shard files a ``.weights.json`` names, beside it, in the order it names them."""
    doc = _read_json(path, path.read_bytes, "a Keras .weights.json")
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise CheckpointError(
            f"{path}: not a Keras sharded weights file (no weight_map)",
            "pass the .weights.json written by Keras's save_weights(max_shard_size=...)",
        )
    names: list[str] = []
    for files in weight_map.values():
        for f in files if isinstance(files, list) else [files]:
            if isinstance(f, str) and f not in names:
                names.append(f)
    for n in names:
        if Path(n).name != n or n in ("", ".", ".."):
            raise CheckpointError(
                f"{path}: names a shard outside its directory ({n!r})",
                "a Keras .weights.json names its shards by file name only",
            )
    return [path.with_name(n) for n in names]


@dataclass
class KerasInfo:
    """What a ``.keras`` archive says about itself (``metadata.json``, ``config.json``)."""

    keras_version: str | None = None
    date_saved: str | None = None
    class_name: str | None = None
    module: str | None = None
    model_name: str | None = None
    backend: str | None = None
    layers: list[str] | None = None


@dataclass
class _Dataset:
    file: int  # index into the open files
    name: str  # path inside that file
    dtype: str = ""
    shape: tuple[int, ...] = ()
    nbytes: int = 0


@dataclass
class KerasStore:
    """An opened Keras weights file (or set of shards): the backend behind ``Checkpoint``."""

    path: AnyPath
    source: KerasSource
    info: KerasInfo = field(default_factory=KerasInfo)
    name = "native"

    def __post_init__(self) -> None:
        self._files: list[h5py.File] = []
        self._handles: list[BinaryIO] = []
        self._datasets: dict[str, _Dataset] = {}
        self._layer_names: dict[str, str] = {}
        self._missing: list[CheckpointError] = []
        self.shard_files: list[AnyPath] = []
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ opening

    def _open(self) -> None:
        h5py = import_h5py(self.path)

        if self.source == "weights-h5":
            self._add_file(self.path, h5py)
        elif self.source == "weights-json":
            for shard in self._shards():
                if shard.is_file():
                    self.shard_files.append(shard)
                    self._add_file(shard, h5py)
                else:
                    self._missing.append(
                        file_missing(
                            shard,
                            f"a shard {self.path.name} names",
                            "copy every shard the .weights.json names beside it",
                        )
                    )
        else:
            self._open_archive(h5py)
        self._index()

    def _shards(self) -> list[AnyPath]:
        return shard_paths(self.path)

    def _add_file(self, path: AnyPath, h5py: Any, handle: BinaryIO | None = None) -> None:
        try:
            if handle is None:
                with open_binary(path) as f:
                    magic = f.read(8)
                if magic != HDF5_MAGIC:
                    raise file_corrupt(
                        path, "not an HDF5 file, which a Keras weights file is", SAVE_WEIGHTS_AGAIN
                    )
                h5, remote = open_hdf5(path)
                if remote is not None:
                    self._handles.append(remote)  # type: ignore[arg-type]
            else:
                h5 = h5py.File(handle, "r")
        except CheckpointError:
            raise
        except PermissionError as e:
            raise CheckpointError(f"{path}: cannot be read (Permission denied)") from e
        except OSError as e:
            raise hdf5_error(path, e) from e
        self._files.append(h5)

    def _open_archive(self, h5py: Any) -> None:
        import zipfile

        try:
            raw = open_binary(self.path, hdf5=True)
            self._handles.append(raw)  # type: ignore[arg-type]
            archive = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError) as e:
            if _starts_as_zip(self._handles[-1] if self._handles else None):
                raise CheckpointError(
                    f"{self.path}: a .keras archive cut short or damaged (its zip directory "
                    "cannot be read)",
                    "copy the file again from where it was saved",
                ) from e
            raise CheckpointError(
                f"{self.path}: not a .keras archive (not a zip file)",
                "a .keras file is written by model.save('model.keras')",
            ) from e
        with archive:
            members = set(archive.namelist())
            self.info = _archive_info(self.path, archive, members)
            if ARCHIVE_WEIGHTS not in members:
                raise CheckpointError(
                    f"{self.path}: holds no {ARCHIVE_WEIGHTS}",
                    f"members: {', '.join(sorted(members)[:8]) or 'none'}",
                )
            member = archive.getinfo(ARCHIVE_WEIGHTS)
        handle = _member_handle(self.path, member)
        self._handles.append(handle)
        self._add_file(self.path, h5py, handle)

    def _index(self) -> None:
        import h5py

        for i, h5 in enumerate(self._files):
            found: list[tuple[str, Any]] = []
            try:
                h5.visititems(lambda name, obj, out=found: out.append((name, obj)))
            except (OSError, RuntimeError, KeyError) as e:
                raise hdf5_error(self._file_name(i), e) from e
            for name, obj in sorted(found, key=lambda item: _natural(item[0])):
                if isinstance(obj, h5py.Dataset):
                    if _stored_elsewhere(obj):
                        raise CheckpointError(
                            f"{self._file_name(i)}: {name} keeps its data outside the file",
                            "ckptctl reads only data stored inside a weights file",
                        )
                    if name not in self._datasets:
                        shape = tuple(int(n) for n in obj.shape)
                        self._datasets[name] = _Dataset(
                            i, name, _dtype_name(obj.dtype), shape, int(obj.nbytes)
                        )
                elif name == "vars" or name.endswith("/vars"):
                    layer = obj.attrs.get("name")
                    if isinstance(layer, bytes):
                        layer = layer.decode("utf-8", "replace")
                    if isinstance(layer, str):
                        self._layer_names.setdefault(name[: -len("vars")].rstrip("/"), layer)
        if self._datasets and not any(_is_keras_value(name) for name in self._datasets):
            shown = ", ".join(list(self._datasets)[:3])
            raise file_corrupt(
                self.path,
                f"not a Keras weights file: its datasets ({shown}) are none of them a layer's "
                "or the optimizer's vars/N, as Keras's save_weights writes them",
                "pass a file written by model.save_weights(...), model.save(...) or "
                "ModelCheckpoint",
            )

    def _file_name(self, i: int) -> str:
        if self.source == "weights-json" and i < len(self.shard_files):
            return str(self.shard_files[i])
        if self.source == "keras-archive":
            return f"{self.path}:{ARCHIVE_WEIGHTS}"
        return str(self.path)

    # ------------------------------------------------------------ the backend

    @property
    def num_shards(self) -> int:
        return len(self.shard_files) + len(self._missing) if self.source == "weights-json" else 1

    def file_problems(self) -> list[CheckpointError]:
        return list(self._missing)

    @property
    def naming(self) -> str:
        return "keras"

    def entries(self) -> list[Entry]:
        from ckptctl.entry import Entry

        return [Entry(key, d.dtype, d.shape, d.nbytes) for key, d in self._datasets.items()]

    def _dataset(self, key: str) -> Any:
        ds = self._datasets.get(key)
        if ds is None:
            raise CheckpointError(f"{self.path}: no value {key!r}")
        return self._files[ds.file][ds.name]

    def read(self, key: str) -> np.ndarray:
        import numpy as np

        d = self._dataset(key)
        try:
            value = d[()]
        except (OSError, ValueError, RuntimeError) as e:
            raise self._read_error(key, e) from e
        return np.asarray(value)

    def read_chunks(self, key: str, max_bytes: int) -> Iterator[np.ndarray]:
        """Consecutive flat chunks of at most ``max_bytes``: hyperslabs over the flat index
        space, so a value of one row is cut along its last axes, never read whole."""
        import numpy as np

        d = self._dataset(key)
        if d.shape == () or d.size == 0:
            yield np.asarray(self.read(key)).reshape(-1)
            return
        for index in flat_slabs(tuple(d.shape), d.dtype.itemsize, max_bytes):
            try:
                part = d[index]
            except (OSError, ValueError, RuntimeError) as e:
                raise self._read_error(key, e) from e
            yield np.asarray(part).reshape(-1)

    def _read_error(self, key: str, e: BaseException) -> CheckpointError:
        ds = self._datasets[key]
        return hdf5_error(self._file_name(ds.file), e, f"cannot read {key}")

    def key_infos(self) -> dict[str, KeyInfo]:
        infos = {}
        for n, key in enumerate(self._datasets):
            group = key.rsplit("/vars/", 1)[0] if "/vars/" in key else ""
            parts = group.split("/") if group else []
            if parts[:1] == ["optimizer"]:
                owner, kind = "optimizer", "optimizer"
            elif parts[:1] == ["layers"] and len(parts) > 1:
                owner, kind = f"layers.{parts[1]}", "model"
            elif parts:
                owner, kind = parts[0], "model"
            else:
                owner, kind = "(root)", "model"
            infos[key] = KeyInfo(
                key=key,
                path=key.replace("/", "."),
                owner=owner,
                full_name=None,
                node_id=n,
                kind=kind,  # type: ignore[arg-type]
                layer_name=self._layer_names.get(group),
            )
        return infos

    def layer_names(self) -> dict[str, str]:
        """Group path -> the layer name Keras recorded for it."""
        return dict(self._layer_names)

    def close(self) -> None:
        for h5 in self._files:
            with contextlib.suppress(Exception):
                h5.close()
        for handle in self._handles:
            handle.close()
        self._files, self._handles = [], []


def _is_keras_value(name: str) -> bool:
    """Whether a dataset's path is one Keras 3 stores a value under: ``.../vars/<i>``."""
    parts = name.split("/")
    return len(parts) >= 2 and parts[-2] == "vars" and parts[-1].isdigit()


def _stored_elsewhere(dataset: Any) -> bool:
    """External raw storage or a virtual dataset: data outside the file (one property list)."""
    from h5py import h5d

    plist = dataset.id.get_create_plist()
    return bool(plist.get_external_count()) or plist.get_layout() == h5d.VIRTUAL


def _natural(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key: ``vars/2`` before ``vars/10``."""
    return tuple(
        (0, *digits_order(p)) if p.isascii() and p.isdigit() else (1, 0, p) for p in name.split("/")
    )


def _dtype_name(dtype: Any) -> str:
    name = str(dtype)
    if dtype.kind in "SO" or name.startswith("|S"):
        return "string"
    return name


_TRUNCATED_RE = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")


def hdf5_error(
    path: object, e: BaseException, what: str | None = None, hint: str = SAVE_WEIGHTS_AGAIN
) -> CheckpointError:
    """h5py's error on a file as ckptctl words it: truncated (HDF5 records the size it should
    have) or corrupt."""
    text = _first_line(e)
    m = _TRUNCATED_RE.search(str(e))
    if m:
        return file_truncated(path, int(m.group(1)), int(m.group(2)), what, hint)
    detail = f"{what}: {text}" if what else f"not a readable HDF5 file: {text}"
    return file_corrupt(path, detail, hint)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def _read_json(path: AnyPath, read: Any, what: str) -> Any:
    try:
        data = read()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from e
    if len(data) > _JSON_LIMIT:
        raise CheckpointError(f"{path}: too large for {what} ({len(data):,} bytes)")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not {what} (invalid JSON: {_first_line(e)})") from e


def _archive_info(path: AnyPath, archive: zipfile.ZipFile, members: set[str]) -> KerasInfo:
    info = KerasInfo()
    for member in ("metadata.json", "config.json"):
        if member not in members:
            continue
        zi = archive.getinfo(member)
        if zi.file_size > _JSON_LIMIT:
            continue
        doc = _read_json(path, lambda m=member: archive.read(m), f"a .keras {member}")
        if not isinstance(doc, dict):
            continue
        if member == "metadata.json":
            info.keras_version = _text(doc.get("keras_version"))
            info.date_saved = _text(doc.get("date_saved"))
        else:
            info.class_name = _text(doc.get("class_name"))
            info.module = _text(doc.get("module"))
            config = doc.get("config")
            if isinstance(config, dict):
                info.model_name = _text(config.get("name"))
    return info


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _Window:
    """A read-only file object over one stored (uncompressed) member of a zip archive."""

    def __init__(self, path: AnyPath, start: int, size: int) -> None:
        self._f = open_binary(path, hdf5=True)
        self._start, self._size, self._pos = start, size, 0

    def read(self, n: int = -1) -> bytes:
        if n < 0 or self._pos + n > self._size:
            n = self._size - self._pos
        self._f.seek(self._start + self._pos)
        data = self._f.read(max(0, n))
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()


def _member_handle(path: AnyPath, member: zipfile.ZipInfo) -> BinaryIO:
    """A file object over ``member``, read in place: a window onto the archive when the member
    is stored (Keras stores, never compresses), else zipfile's own seekable stream."""
    import zipfile

    if member.compress_type == zipfile.ZIP_STORED:
        with open_binary(path) as f:
            f.seek(member.header_offset)
            header = f.read(30)
        if len(header) == 30 and header[:4] == b"PK\x03\x04":
            name_len = int.from_bytes(header[26:28], "little")
            extra_len = int.from_bytes(header[28:30], "little")
            start = member.header_offset + 30 + name_len + extra_len
            return _Window(path, start, member.file_size)  # type: ignore[return-value]
    archive = zipfile.ZipFile(open_binary(path, hdf5=True))
    return archive.open(member)  # type: ignore[return-value]


def _starts_as_zip(handle: Any) -> bool:
    """Whether the open file begins as a zip archive does (its first member's header)."""
    if handle is None:
        return False
    try:
        handle.seek(0)
        return bool(handle.read(4) == b"PK\x03\x04")
    except (OSError, ValueError):
        return False

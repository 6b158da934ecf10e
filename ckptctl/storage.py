"""Where ckptctl opens files: the local disk, or object storage through fsspec.

A path with a scheme that fsspec knows (``s3://`` through s3fs, ``gs://`` through gcsfs, or any
protocol an installed fsspec implementation registers) is a :class:`RemotePath`; everything
else here takes a local :class:`~pathlib.Path` as well and does what the standard library
does. Schemes only TensorFlow implements (``ram://``) stay with ``tf.io.gfile`` (see
:func:`uses_fsspec`).

Remote files are read with range requests: an open file fetches only the bytes read from it,
so a checkpoint's index can be read without its data. Credentials and endpoints are the
storage's usual ones (for S3: the AWS environment variables, profiles and
``AWS_ENDPOINT_URL``; for GCS: Google's default credentials). Nothing here is imported for a
local path: fsspec and its implementations load only when a remote path is used.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ckptctl.errors import CheckpointError

if TYPE_CHECKING:
    import h5py

_SCHEME_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")

TF_ONLY_SCHEMES = frozenset({"ram"})
"""Schemes TensorFlow's file systems implement and fsspec does not: read through tf.io.gfile."""

EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
"""The ckptctl extra that installs the fsspec implementation of these protocols."""

HDF5_BLOCK_BYTES = 256 << 10
"""An HDF5 file is read through a cache of blocks this large: h5py reads its metadata a few
hundred bytes at a time, and each of those must not be a request of its own."""

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
MAX_ATTEMPTS = 3
"""Bounds on one S3 request, unless the AWS configuration sets its own retries: an endpoint
that cannot be reached is reported in seconds, never after minutes of retrying."""


def scheme_of(path: object) -> str | None:
    """The scheme of a ``scheme://`` path (lower case), else None."""
    if isinstance(path, RemotePath):
        return path.protocol
    if not isinstance(path, str):
        return None
    m = _SCHEME_RE.match(path)
    return m["scheme"].lower() if m else None


def uses_fsspec(uri: str) -> bool:
    """Whether ``uri`` is read through fsspec (else through ``tf.io.gfile``).

    ``s3://`` and ``gs://`` always are: without their extra installed this raises a
    ``CheckpointError`` naming the pip command. Another scheme is when an installed fsspec
    implements it; a scheme only TensorFlow implements is not.
    """
    protocol = scheme_of(uri)
    if protocol is None or protocol in TF_ONLY_SCHEMES:
        return False
    if protocol in EXTRAS:
        _filesystem_class(protocol, uri)
        return True
    try:
        import fsspec
    except ImportError:
        return False
    if protocol not in fsspec.available_protocols():
        return False
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError):
        return False
    return True


def _filesystem_class(protocol: str, uri: str) -> Any:
    extra = EXTRAS.get(protocol)
    try:
        import fsspec

        return fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        if extra is not None:
            raise CheckpointError(
                f"{uri}: reading {protocol}:// needs ckptctl's '{extra}' extra; "
                f"install it with: pip install 'ckptctl[{extra}]'"
            ) from None
        raise CheckpointError(f"{uri}: no file system for {protocol}:// ({e})") from None


class RemotePath:
    """A file or directory in object storage, spelled as a URL (``s3://bucket/dir/ckpt-3``).

    It offers what ckptctl asks of a :class:`~pathlib.Path` (name, parent, ``/``, is_file,
    stat, read_bytes), answered through fsspec. A directory is a key prefix.
    """

    __slots__ = ("_key", "protocol", "uri")

    def __init__(self, uri: str) -> None:
        m = _SCHEME_RE.match(uri)
        if m is None:
            raise ValueError(f"not a URL: {uri!r}")
        self.protocol = m["scheme"].lower()
        rest = uri[m.end() :]
        while "//" in rest:
            rest = rest.replace("//", "/")
        rest = rest.rstrip("/")
        self.uri = f"{m['scheme']}://{rest}"
        self._key = rest

    # --- the PurePath side

    @property
    def name(self) -> str:
        return self._key.rsplit("/", 1)[-1] if "/" in self._key else ""

    @property
    def suffix(self) -> str:
        name = self.name
        i = name.rfind(".")
        return name[i:] if 0 < i < len(name) - 1 else ""

    @property
    def root(self) -> RemotePath:
        """The bucket (the first component)."""
        return RemotePath(f"{self.protocol}://{self._key.split('/', 1)[0]}")

    @property
    def bucket(self) -> str:
        return self._key.split("/", 1)[0]

    @property
    def parent(self) -> RemotePath:
        if "/" not in self._key:
            return self
        return RemotePath(f"{self.protocol}://{self._key.rsplit('/', 1)[0]}")

    def __truediv__(self, other: str | os.PathLike[str]) -> RemotePath:
        return RemotePath(f"{self.uri}/{os.fspath(other)}")

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def expanduser(self) -> RemotePath:
        return self

    def resolve(self) -> RemotePath:
        return self

    def is_absolute(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"RemotePath({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def __lt__(self, other: RemotePath) -> bool:
        return self.uri < other.uri

    # --- the file system side

    def _info(self) -> dict[str, Any] | None:
        fs = filesystem(self)
        with remote_errors(self):
            try:
                return dict(fs.info(self._key))
            except FileNotFoundError:
                return None

    def exists(self) -> bool:
        return self._info() is not None

    def is_file(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "file"

    def is_dir(self) -> bool:
        info = self._info()
        if info is None:
            return False
        return info.get("type") == "directory" or (self._key == self.bucket)

    def stat(self) -> RemoteStat:
        info = self._info()
        if info is None:
            raise FileNotFoundError(2, "No such file or directory", self.uri)
        return RemoteStat(int(info.get("size") or 0), _mtime_ns(info))

    def read_bytes(self, limit: int | None = None) -> bytes:
        fs = filesystem(self)
        with remote_errors(self):
            if limit is None:
                return bytes(fs.cat_file(self._key))
            return bytes(fs.cat_file(self._key, start=0, end=limit))

    def listdir(self) -> list[str]:
        """The names in this directory (objects and sub-prefixes)."""
        fs = filesystem(self)
        with remote_errors(self):
            listed = fs.ls(self._key, detail=False)
        names = []
        for item in listed:
            name = str(item).rstrip("/").rsplit("/", 1)[-1]
            if name and str(item).rstrip("/") != self._key:
                names.append(name)
        return sorted(set(names))

    def iterdir(self) -> Iterator[RemotePath]:
        return (self / n for n in self.listdir())

    def open_binary(self, hdf5: bool = False) -> IO[bytes]:
        """The file for reading, each read a range request; for HDF5 (h5py reads its metadata
        a few hundred bytes at a time) small reads go through a cache of blocks."""
        fs = filesystem(self)
        with remote_errors(self):
            direct = fs.open(self._key, "rb", cache_type="none")
            if not hdf5:
                return direct  # type: ignore[no-any-return]
            try:
                cached = fs.open(
                    self._key, "rb", block_size=HDF5_BLOCK_BYTES, cache_type="blockcache"
                )
            except BaseException:
                direct.close()
                raise
        return _SplitReads(cached, direct)  # type: ignore[return-value]

    def download(self, local: Path) -> None:
        fs = filesystem(self)
        with remote_errors(self):
            fs.get_file(self._key, str(local))


AnyPath = Path | RemotePath


class _SplitReads(io.RawIOBase):
    """One remote file read through two handles: reads smaller than a few blocks through the
    block cache, larger ones (a dataset's values) as one range request of their own."""

    def __init__(self, cached: Any, direct: Any) -> None:
        super().__init__()
        self._cached, self._direct = cached, direct
        self._pos = 0
        self.size = int(direct.size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        f = self._direct if len(view) >= 4 * HDF5_BLOCK_BYTES else self._cached
        f.seek(self._pos)
        data = f.read(len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._cached.close()
            self._direct.close()
        super().close()


@dataclass(frozen=True)
class RemoteStat:
    st_size: int
    st_mtime_ns: int


def _mtime_ns(info: dict[str, Any]) -> int:
    value = info.get("LastModified") or info.get("mtime") or info.get("updated") or 0
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1e9)
    if isinstance(value, str):
        from datetime import datetime

        with contextlib.suppress(ValueError):
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9)
        return 0
    return int(float(value) * 1e9)


# --- file systems

_lock = threading.Lock()
_filesystems: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def _environment_key() -> tuple[tuple[str, str], ...]:
    """What selects credentials and endpoints: a file system is made again when it changes."""
    prefixes = ("AWS_", "GOOGLE_", "GCE_", "CLOUDSDK_", "FSSPEC_")
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(prefixes)))


def filesystem(path: RemotePath) -> Any:
    """The fsspec file system for ``path``'s protocol, configured from the environment."""
    key = (path.protocol, _environment_key())
    with _lock:
        fs = _filesystems.get(key)
        if fs is None:
            cls = _filesystem_class(path.protocol, path.uri)
            with remote_errors(path):
                fs = cls(skip_instance_cache=True, **_options(path.protocol))
            if EXTRAS.get(path.protocol) == "s3":
                fs.retries = 1  # s3fs's own retries, on top of botocore's: once is enough
            _filesystems.clear()  # the environment changed: the old ones are stale
            _filesystems[key] = fs
    return fs


def _options(protocol: str) -> dict[str, Any]:
    if EXTRAS.get(protocol) == "s3":
        config: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
        }
        if not any(k in os.environ for k in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE")):
            config["retries"] = {"max_attempts": MAX_ATTEMPTS, "mode": "standard"}
        return {"config_kwargs": config}
    return {}


def forget_listings(path: object) -> None:
    """Drop what the file system remembers of listings, so a path is resolved afresh."""
    if isinstance(path, RemotePath):
        fs = _filesystems.get((path.protocol, _environment_key()))
        if fs is not None:
            with contextlib.suppress(Exception):
                fs.invalidate_cache()


# --- errors

_CONNECT_ERRORS = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionRefusedError",
    "ConnectionError",
    "ProxyConnectionError",
)
_TIMEOUT_ERRORS = ("ReadTimeoutError", "TimeoutError", "ServerTimeoutError")
_CREDENTIAL_ERRORS = (
    "NoCredentialsError",
    "PartialCredentialsError",
    "ProfileNotFound",
    "DefaultCredentialsError",
    "RefreshError",
)


def _chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def remote_error(path: RemotePath, e: BaseException) -> CheckpointError:
    """A one- or two-line message for what went wrong reading ``path``."""
    names = [type(x).__name__ for x in _chain(e)]
    detail = _first_line(e)
    if any(n in _CREDENTIAL_ERRORS for n in names):
        return CheckpointError(
            f"{path}: no usable credentials ({detail})", _credentials_hint(path.protocol)
        )
    if any(n in _TIMEOUT_ERRORS for n in names):
        return CheckpointError(
            f"{path}: the storage did not answer in time ({detail})", _endpoint_hint(path.protocol)
        )
    if any(n in _CONNECT_ERRORS for n in names):
        return CheckpointError(
            f"{path}: cannot connect to the storage ({detail})", _endpoint_hint(path.protocol)
        )
    if isinstance(e, PermissionError):
        return CheckpointError(
            f"{path}: access denied ({detail})", _credentials_hint(path.protocol)
        )
    if isinstance(e, FileNotFoundError):
        return CheckpointError(f"{path}: no such file or directory")
    return CheckpointError(f"{path}: cannot be read ({type(e).__name__}: {detail})")


def _credentials_hint(protocol: str) -> str:
    if EXTRAS.get(protocol) == "s3":
        return (
            "check the AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE and ~/.aws/credentials"
        )
    if EXTRAS.get(protocol) == "gcs":
        return "check Google's default credentials: gcloud auth application-default login"
    return f"check the credentials {protocol}:// is configured with"


def _endpoint_hint(protocol: str) -> str:
    if EXTRAS.get(protocol) == "s3":
        return "check the network, and AWS_ENDPOINT_URL if the store is not AWS's own"
    return "check the network and the storage's address"


@contextlib.contextmanager
def remote_errors(path: RemotePath) -> Iterator[None]:
    """Storage errors as ``CheckpointError``; a missing file stays ``FileNotFoundError``."""
    try:
        yield
    except (CheckpointError, FileNotFoundError):
        raise
    except Exception as e:
        raise remote_error(path, e) from None


def missing_root(path: RemotePath) -> CheckpointError | None:
    """For a path that was not found: an error naming its bucket when that is what is missing."""
    root = path.root
    fs = filesystem(path)
    with remote_errors(path):
        try:
            fs.info(root.bucket)
        except FileNotFoundError:
            kind = "bucket" if EXTRAS.get(path.protocol) in ("s3", "gcs") else "location"
            return CheckpointError(
                f"{path}: no such {kind} {root.bucket!r}",
                "check the URL's bucket name"
                + (", and AWS_ENDPOINT_URL" if EXTRAS.get(path.protocol) == "s3" else ""),
            )
    return None


# --- what the readers call, for local and remote paths alike


def path_of(path: str | os.PathLike[str]) -> AnyPath:
    """A user's path as a :class:`RemotePath` when fsspec reads it, else a local Path."""
    if isinstance(path, str) and scheme_of(path) is not None and uses_fsspec(path):
        return RemotePath(path)
    return Path(path)


def open_binary(path: AnyPath, hdf5: bool = False) -> IO[bytes]:
    """``path`` opened for reading bytes: unbuffered locally, by range requests remotely."""
    if isinstance(path, RemotePath):
        return path.open_binary(hdf5=hdf5)
    return open(path, "rb", buffering=0)


def file_size(f: IO[bytes]) -> int:
    """The size of an open file from :func:`open_binary`."""
    size = getattr(f, "size", None)
    if isinstance(size, int):
        return size
    return os.fstat(f.fileno()).st_size


def listdir(d: AnyPath) -> list[str]:
    if isinstance(d, RemotePath):
        return d.listdir()
    return os.listdir(d if str(d) else ".")


def lexists(p: AnyPath) -> bool:
    if isinstance(p, RemotePath):
        return p.exists()
    return os.path.lexists(p)


def import_h5py(path: AnyPath) -> Any:
    """h5py, which reading an HDF5 file (a Keras file) needs: a ckptctl dependency, but an
    environment can lack it (``pip install --no-deps``); then an error naming ``path``."""
    try:
        import h5py
    except ImportError as e:
        raise CheckpointError(
            f"{path}: reading a Keras HDF5 file needs h5py, which could not be imported ({e})",
            "install it with: pip install h5py",
        ) from e
    return h5py


def open_hdf5(path: AnyPath) -> tuple[h5py.File, IO[bytes] | None]:
    """``path`` opened by h5py, and the remote file under it (to close after it), if any."""
    h5py = import_h5py(path)
    if not isinstance(path, RemotePath):
        return h5py.File(path, "r"), None
    handle = path.open_binary(hdf5=True)
    try:
        return h5py.File(handle, "r"), handle
    except BaseException:
        handle.close()
        raise

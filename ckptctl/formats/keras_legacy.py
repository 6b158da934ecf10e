"""Keras 2's HDF5 files (``.h5``, ``.hdf5``), read with h5py alone.

Two shapes: a whole model from ``model.save("m.h5")`` (weights under ``model_weights/``,
optimizer under ``optimizer_weights/``, ``model_config`` and ``training_config`` as root
attributes), and weights only from ``save_weights("w.h5")`` (layers at the root). They come
from tf-keras, standalone Keras 2.x and Keras 3's own legacy writer
(``keras/src/legacy/saving/legacy_h5_format.py``). A group's attribute ``layer_names`` lists the
layers in the model's order (``layer_names0``, ``layer_names1``, ... when too long for one
attribute); each layer group's ``weight_names`` lists its weights in order (``dense/kernel:0``
from tf-keras, ``sequential/dense/kernel`` from Keras 3), each a dataset at that name inside
the layer's group. ``model_config`` is parsed as JSON for the class and layer names only;
nothing is deserialized.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ckptctl.chunks import flat_slabs, split_flat
from ckptctl.errors import SAVE_WEIGHTS_AGAIN, CheckpointError, file_corrupt
from ckptctl.formats.keras_h5 import HDF5_MAGIC, KerasInfo, hdf5_error
from ckptctl.objgraph import KeyInfo
from ckptctl.storage import AnyPath, open_binary, open_hdf5

if TYPE_CHECKING:
    import numpy as np

    from ckptctl.entry import Entry

OPTIMIZER_GROUP = "optimizer_weights"
TOP_LEVEL = "top_level_model_weights"
_SLOT_NAMES = {"m": "momentum", "v": "velocity"}


def names_attribute(group: Any, name: str) -> list[str]:
    """A list attribute as Keras writes it, chunked (``name0``, ``name1``, ...) when long."""
    if name in group.attrs:
        raw = list(group.attrs[name])
    else:
        raw, k = [], 0
        while f"{name}{k}" in group.attrs:
            raw += list(group.attrs[f"{name}{k}"])
            k += 1
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw]


def is_legacy(h5: Any) -> bool:
    return "layer_names" in h5.attrs or "layer_names0" in h5.attrs or "model_weights" in h5


@dataclass(frozen=True)
class LegacyWeight:
    """One saved weight: its layer (in the file's order), position in the layer, dataset."""

    layer: str
    index: int
    name: str
    key: str


@dataclass
class LegacyStore:
    """An opened Keras 2 HDF5 file: the backend behind ``Checkpoint``."""

    path: AnyPath
    info: KerasInfo = field(default_factory=KerasInfo)
    name = "native"

    def __post_init__(self) -> None:
        self._handle = None
        try:
            with open_binary(self.path) as f:
                if f.read(8) != HDF5_MAGIC:
                    raise file_corrupt(self.path, "not an HDF5 file", SAVE_WEIGHTS_AGAIN)
            self._h5, self._handle = open_hdf5(self.path)
        except CheckpointError:
            raise
        except PermissionError as e:
            raise CheckpointError(f"{self.path}: cannot be read (Permission denied)") from e
        except OSError as e:
            raise hdf5_error(self.path, e, hint=SAVE_WEIGHTS_AGAIN) from e
        try:
            self._index()
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            self._h5.close()
            raise hdf5_error(
                self.path, e, "not a readable Keras 2 weights file", SAVE_WEIGHTS_AGAIN
            ) from e

    def _index(self) -> None:
        h5 = self._h5
        root = h5.get("model_weights", h5)
        self.weights_prefix = "model_weights/" if "model_weights" in h5 else ""
        self.layer_names = names_attribute(root, "layer_names")
        self.weights: list[LegacyWeight] = []
        for layer in [*self.layer_names, TOP_LEVEL]:
            if layer not in root:
                continue
            for i, name in enumerate(names_attribute(root[layer], "weight_names")):
                key = f"{self.weights_prefix}{layer}/{name}"
                self.weights.append(LegacyWeight(layer, i, name, key))
        self.optimizer_weights: list[LegacyWeight] = []
        if OPTIMIZER_GROUP in h5:
            for i, name in enumerate(names_attribute(h5[OPTIMIZER_GROUP], "weight_names")):
                self.optimizer_weights.append(
                    LegacyWeight(OPTIMIZER_GROUP, i, name, f"{OPTIMIZER_GROUP}/{name}")
                )
        for w in [*self.weights, *self.optimizer_weights]:
            if w.key not in h5:
                raise file_corrupt(
                    self.path,
                    f"{w.key} is listed in weight_names but missing",
                    "the file is damaged, or was written by an interrupted save: "
                    + SAVE_WEIGHTS_AGAIN,
                )
            d = h5[w.key]
            if d.external or d.is_virtual:
                raise CheckpointError(
                    f"{self.path}: {w.key} keeps its data outside the file",
                    "ckptctl reads only data stored inside a weights file",
                )
        self.info = self._info()

    def _info(self) -> KerasInfo:
        attrs = self._h5.attrs
        info = KerasInfo(keras_version=_attr(attrs, "keras_version"))
        info.backend = _attr(attrs, "backend")
        config = _attr(attrs, "model_config")
        if config and len(config) < (64 << 20):
            try:
                doc = json.loads(config)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                info.class_name = (
                    doc.get("class_name") if isinstance(doc.get("class_name"), str) else None
                )
                inner = doc.get("config")
                if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                    info.model_name = inner["name"]
        info.layers = list(self.layer_names)
        return info

    @property
    def naming(self) -> str:
        return "keras-legacy"

    @property
    def num_shards(self) -> int:
        return 1

    def file_problems(self) -> list[CheckpointError]:
        return []

    def entries(self) -> list[Entry]:
        from ckptctl.entry import Entry

        out = []
        for w in [*self.weights, *self.optimizer_weights]:
            d = self._h5[w.key]
            dtype = "string" if d.dtype.kind in "SO" else str(d.dtype)
            out.append(Entry(w.key, dtype, tuple(int(n) for n in d.shape), d.nbytes))
        return out

    def read(self, key: str) -> np.ndarray:
        import numpy as np

        try:
            return np.asarray(self._h5[key][()])
        except KeyError as e:
            raise CheckpointError(f"{self.path}: no value {key!r}") from e
        except (OSError, ValueError, RuntimeError) as e:
            raise hdf5_error(self.path, e, f"cannot read {key}", SAVE_WEIGHTS_AGAIN) from e

    def read_chunks(self, key: str, max_bytes: int) -> Iterator[np.ndarray]:
        """Consecutive flat chunks of at most ``max_bytes`` (hyperslabs, as for Keras 3 files)."""
        import numpy as np

        if key not in self._h5:
            raise CheckpointError(f"{self.path}: no value {key!r}")
        d = self._h5[key]
        if d.shape == () or d.size == 0 or d.dtype.kind in "SO":
            yield from split_flat(self.read(key), max_bytes)
            return
        for index in flat_slabs(tuple(d.shape), d.dtype.itemsize, max_bytes):
            try:
                part = d[index]
            except (OSError, ValueError, RuntimeError) as e:
                raise hdf5_error(self.path, e, f"cannot read {key}", SAVE_WEIGHTS_AGAIN) from e
            yield np.asarray(part).reshape(-1)

    def key_infos(self) -> dict[str, KeyInfo]:
        infos: dict[str, KeyInfo] = {}
        paths: dict[tuple[str, str], str] = {}
        for n, w in enumerate(self.weights):
            path = _weight_path(w, self.info.model_name)
            if path in paths.values():
                path = f"{w.layer}.{w.name.removesuffix(':0').replace('/', '.')}"
            paths[(w.layer, w.name.removesuffix(":0"))] = path
            infos[w.key] = KeyInfo(
                key=w.key,
                path=path,
                owner=w.layer,
                full_name=w.name,
                node_id=n,
                kind="model",
                layer_name=None if w.layer == TOP_LEVEL else w.layer,
            )
        by_name = {name: path for (layer, name), path in paths.items()}
        for n, w in enumerate(self.optimizer_weights, len(self.weights)):
            slot_of, slot_name = _slot(w.name, by_name)
            infos[w.key] = KeyInfo(
                key=w.key,
                path=f"optimizer.{w.name.removesuffix(':0').replace('/', '.')}",
                owner="optimizer",
                full_name=w.name,
                node_id=n,
                kind="optimizer",
                slot_of=slot_of,
                slot_name=slot_name,
            )
        return infos

    def close(self) -> None:
        self._h5.close()
        if self._handle is not None:
            self._handle.close()


def _attr(attrs: Any, name: str) -> str | None:
    value = attrs.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _weight_path(w: LegacyWeight, model_name: str | None) -> str:
    """``left.kernel`` for ``left/kernel:0`` (tf-keras) and ``sequential/left/kernel``
    (Keras 3's legacy writer) alike."""
    parts = w.name.removesuffix(":0").split("/")
    if model_name and len(parts) > 1 and parts[0] == model_name and parts[1] == w.layer:
        parts = parts[2:]
    elif parts[0] == w.layer:
        parts = parts[1:]
    return ".".join([w.layer, *(parts or [w.name])])


def _slot(name: str, variables: dict[str, str]) -> tuple[str | None, str | None]:
    """tf-keras names a slot ``Adam/m/left/kernel:0``: the momentum of ``left/kernel``."""
    parts = name.removesuffix(":0").split("/")
    if len(parts) >= 3:
        owner = variables.get("/".join(parts[2:]))
        if owner is not None:
            return owner, _SLOT_NAMES.get(parts[1], parts[1])
    return None, None

"""Matching a Keras 2 HDF5 file against a Keras 3 model, as Keras 3's legacy loader does
(``keras/src/legacy/saving/legacy_h5_format.py``, ``load_weights_from_hdf5_group``).

The loader pairs the file's layers that have weights with the model's layers that have
weights, by order, then each layer's weights by order (trainable weights first, then
non-trainable). A count that differs makes Keras raise part-way; a same-shaped layer swapped
in the code loads silently into the wrong place, which the file's layer names reveal.
"""

from __future__ import annotations

import re
from typing import Any

from ckptctl.errors import UsageError
from ckptctl.formats.keras_legacy import TOP_LEVEL
from ckptctl.reader import Checkpoint
from ckptctl.restoration.live import is_auto_name, var_dtype, var_label, var_shape
from ckptctl.restoration.plan import Pair, Plan, mismatch, suggest
from ckptctl.restoration.report import LayerDrift, MissingEntry, UnusedEntry


def _legacy_weights(layer: Any) -> list[Any]:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def match_legacy(
    ckpt: Checkpoint, model: Any, with_optimizer: bool, path_map: Any, by_name: bool = False
) -> Plan:
    if path_map:
        raise UsageError(
            f"--map with a Keras 2 HDF5 file ({ckpt.prefix}) is not supported",
            "Keras loads these files by the order of layers; migrate it to a checkpoint first",
        )
    if with_optimizer:
        raise UsageError(
            f"--optimizer with a Keras 2 HDF5 file ({ckpt.prefix}): Keras 3 never restores "
            "an optimizer from one",
            "restore the model's weights alone (without --optimizer)",
        )
    store = ckpt.store  # the LegacyStore: its weights in the file's order
    infos = ckpt.key_infos
    by_layer: dict[str, list[Any]] = {}
    for w in store.weights:
        if w.layer != TOP_LEVEL:
            by_layer.setdefault(w.layer, []).append(w)
    saved_layers = list(by_layer)
    live_layers: list[Any] = [layer for layer in model.layers if _legacy_weights(layer)]
    if by_name:
        # load_weights(by_name=True): each saved layer into the model's layer of that name;
        # the model's other layers keep what they have, so they are missing here.
        named = {str(layer.name): layer for layer in live_layers}
        rest = [layer for layer in live_layers if str(layer.name) not in by_layer]
        live_layers = [named.get(name) for name in saved_layers] + rest
        saved_layers = saved_layers + [""] * len(rest)
    pairs: list[Pair] = []
    unused: list[UnusedEntry] = []
    missing: list[MissingEntry] = []
    mismatched = []
    drifted: list[LayerDrift] = []
    renamed: list[LayerDrift] = []
    in_model = {str(layer.name) for layer in live_layers if layer is not None}
    count_reason = None
    if not by_name and len(saved_layers) != len(live_layers):
        count_reason = (
            f"the file has {len(saved_layers)} layers with weights, the model "
            f"{len(live_layers)}: Keras 3 pairs them by order and would refuse to load"
        )
    for k in range(max(len(saved_layers), len(live_layers))):
        saved = by_layer.get(saved_layers[k], []) if k < len(saved_layers) else []
        layer = live_layers[k] if k < len(live_layers) else None
        variables = _legacy_weights(layer) if layer is not None else []
        if saved and layer is not None and _drifted(saved_layers[k], layer):
            moved = saved_layers[k] in in_model  # else renamed: loaded in its place
            (drifted if moved else renamed).append(
                LayerDrift(saved_layers[k], saved_layers[k], layer.name)
            )
        reason = count_reason
        if saved and layer is not None and len(saved) != len(variables):
            reason = (
                f"layer #{k} ({saved_layers[k]} in the file, {layer.name} in the model) has "
                f"{len(saved)} saved weights, the model's {len(variables)}"
            )
        for i in range(max(len(saved), len(variables))):
            w = saved[i] if i < len(saved) else None
            var = variables[i] if i < len(variables) else None
            if w is not None and var is not None:
                entry, path = ckpt.entry(w.key), infos[w.key].path
                if entry.shape != var_shape(var) or entry.dtype != var_dtype(var):
                    mismatched.append(mismatch(entry, path, var))
                else:
                    pairs.append(Pair(entry, path, var))
            elif w is not None:
                e = ckpt.entry(w.key)
                unused.append(
                    UnusedEntry(w.key, infos[w.key].path, list(e.shape), e.dtype, reason=reason)
                )
            elif var is not None:
                missing.append(
                    MissingEntry(
                        var_label(var), list(var_shape(var)), var_dtype(var), reason=reason
                    )
                )
    _top_level(ckpt, store, model, pairs, unused, missing)
    not_requested = [w.key for w in store.optimizer_weights]
    suggest(unused, missing)
    return Plan(
        pairs,
        unused,
        missing,
        mismatched,
        not_requested,
        drifted=drifted,
        renamed=renamed,
        assign_by_ckptctl=True,
    )


def _top_level(
    ckpt: Checkpoint,
    store: Any,
    model: Any,
    pairs: list[Pair],
    unused: list[UnusedEntry],
    missing: list[MissingEntry],
) -> None:
    """Weights the model holds itself (``top_level_model_weights``), by order."""
    saved = [w for w in store.weights if w.layer == TOP_LEVEL]
    own = _own_weights(model)
    for i in range(max(len(saved), len(own))):
        w = saved[i] if i < len(saved) else None
        var = own[i] if i < len(own) else None
        if w is not None and var is not None:
            pairs.append(Pair(ckpt.entry(w.key), ckpt.key_infos[w.key].path, var))
        elif w is not None:
            e = ckpt.entry(w.key)
            unused.append(UnusedEntry(w.key, ckpt.key_infos[w.key].path, list(e.shape), e.dtype))
        elif var is not None:
            missing.append(MissingEntry(var_label(var), list(var_shape(var)), var_dtype(var)))


def _own_weights(model: Any) -> list[Any]:
    """The weights a model holds itself, not through its layers, in the order the legacy
    format saves them as ``top_level_model_weights``: trainable, then not. Keras 3 keeps them
    as ``_trainable_variables``, tf-keras (Keras 2) as ``_trainable_weights``."""
    for trainable, other in (
        ("_trainable_variables", "_non_trainable_variables"),
        ("_trainable_weights", "_non_trainable_weights"),
    ):
        if hasattr(model, trainable) and hasattr(model, other):
            return [*getattr(model, trainable), *getattr(model, other)]
    return []


def _drifted(saved: str, layer: Any) -> bool:
    """A layer name the user gave that changed; Keras's numbered names do not count."""
    live = str(layer.name)
    if live == saved:
        return False
    base = _snake(type(layer).__name__)
    return not (is_auto_name(saved, base) or is_auto_name(live, base))


def _snake(name: str) -> str:
    """The base of the names Keras gives a layer class (``keras.src.utils.naming``'s
    ``to_snake_case``): ``Conv2D`` -> ``conv2d``, ``LSTM`` -> ``lstm``,
    ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()

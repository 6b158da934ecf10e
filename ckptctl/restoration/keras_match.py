"""Matching a Keras 3 weights file (``.weights.h5``, ``.weights.json``, ``.keras``) against
the live model, predicting what Keras's own ``load_weights`` would do.

Keras walks the model's attributes and reads each layer's variables by position from
``<path>/vars/<i>``. Rather than reimplement that walk, the live model is saved by Keras's own
writer into a temporary file outside the checkpoint's directory: its datasets are exactly the
paths, shapes and dtypes ``load_weights`` will ask the source file for. The two files are then
compared: datasets only in the source are unused, only in the live file missing, on both with
another shape or dtype mismatched. The proof after loading saves the live model once more and
compares every dataset with the source bit for bit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckptctl.chunks import CHUNK_BYTES
from ckptctl.errors import CheckpointError, ModelError, UsageError
from ckptctl.formats.keras_h5 import KerasStore
from ckptctl.loader import one_line, user_traceback
from ckptctl.names import natural_order
from ckptctl.reader import Checkpoint, Entry
from ckptctl.restoration.checks import streams_equal
from ckptctl.restoration.live import (
    is_auto_name,
    is_rng_state,
    live_graph,
    var_dtype,
    var_label,
    var_shape,
)
from ckptctl.restoration.plan import Pair, Plan, suggest
from ckptctl.restoration.report import (
    LayerDrift,
    MismatchedEntry,
    MissingEntry,
    UnusedEntry,
    ValueCheck,
)

_COUNTER_RE = re.compile(r"_\d+$")


@dataclass
class KerasLive:
    """The live model as Keras would save it."""

    store: KerasStore
    entries: dict[str, Entry]


def attach_optimizer(model: Any, optimizer: Any, name: str = "optimizer") -> None:
    """Give the model the optimizer as its attribute ``name``, as ``compile()`` would (as
    ``model.optimizer``), so that Keras and TensorFlow save and load it with the model."""
    try:
        setattr(model, name, optimizer)
    except Exception as e:
        raise ModelError(f"the model does not accept an optimizer ({one_line(e)})") from e


def save_live(model: Any, path: Path, label: str) -> KerasLive:
    """Save ``model`` with Keras's own ``save_weights`` to ``path`` and open it."""
    try:
        model.save_weights(str(path))
    except Exception as e:
        raise ModelError(
            f"{label}: Keras could not save the model's weights ({one_line(e)})",
            "the traceback above shows where",
            user_traceback=user_traceback(e),
        ) from e
    store = KerasStore(path, "weights-h5")
    return KerasLive(store, {e.key: e for e in store.entries()})


NOT_SAVED_BY_KERAS = (
    "a tf.Variable, not a Keras weight: Keras's save_weights and .keras files leave it out, "
    "and load_weights never sets it; create it with self.add_weight(...), or save and "
    "restore the model with tf.train.Checkpoint"
)


def unsaved_variables(model: Any, keras: Any) -> list[MissingEntry]:
    """The model's variables no Keras file holds: the ``tf.Variable`` objects it tracks
    (TensorFlow's checkpoints save them, as the model's state) that are not Keras weights.
    Keras's writer skips them without a word, so the live file cannot show them missing."""
    graph, variables = live_graph(model)
    paths = graph.node_paths()
    return [
        MissingEntry(
            (paths.dotted(nid) if nid in paths else "") or var_label(var),
            list(var_shape(var)),
            var_dtype(var),
            reason=NOT_SAVED_BY_KERAS,
        )
        for nid, var in variables.items()
        if not isinstance(var, keras.Variable) and not is_rng_state(var)
    ]


def match_keras(
    ckpt: Checkpoint,
    live: KerasLive,
    with_optimizer: bool,
    path_map: Any = None,
    unsaved: Sequence[MissingEntry] = (),
) -> Plan:
    """The plan Keras's ``load_weights`` would carry out, found without loading anything;
    ``unsaved`` are the model's variables Keras does not save (:func:`unsaved_variables`),
    missing whatever the file holds."""
    if path_map:
        raise UsageError(
            f"--map with a Keras weights file ({ckpt.prefix}) is not supported",
            "Keras loads by attribute path: rename the attribute back, or migrate through a "
            "TensorFlow checkpoint",
        )
    infos = ckpt.key_infos
    source = {e.key: e for e in ckpt.entries}
    pairs: list[Pair] = []
    unused: list[UnusedEntry] = []
    mismatched: list[MismatchedEntry] = []
    not_requested: list[str] = []
    for key, entry in source.items():
        kind = infos[key].kind if key in infos else "model"
        if kind == "optimizer" and not with_optimizer:
            not_requested.append(key)
            continue
        path = _dotted(key)
        other = live.entries.get(key)
        if other is None:
            unused.append(UnusedEntry(key, path, list(entry.shape), entry.dtype, kind=kind))
        elif (other.shape, other.dtype) != (entry.shape, entry.dtype):
            mismatched.append(
                MismatchedEntry(
                    key=key,
                    path=path,
                    checkpoint_shape=list(entry.shape),
                    model_shape=list(other.shape),
                    checkpoint_dtype=entry.dtype,
                    model_dtype=other.dtype,
                    reason=_slot_reason(key, kind),
                )
            )
        else:
            pairs.append(Pair(entry, path, None))
    missing = [
        MissingEntry(
            _dotted(key),
            list(e.shape),
            e.dtype,
            kind="optimizer" if key.startswith("optimizer/") else "model",
            reason=_missing_reason(key, source),
        )
        for key, e in live.entries.items()
        if key not in source
    ]
    missing += unsaved
    _optimizer_count(ckpt, source, live, with_optimizer, unused, missing)
    suggest(unused, missing)
    drifted, renamed = layer_drift(infos, live.store.layer_names(), set(source))
    not_requested.sort(key=natural_order)  # optimizer/vars/2 before optimizer/vars/10
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


def _dotted(key: str) -> str:
    return key.replace("/", ".")


def _slot_reason(key: str, kind: str) -> str | None:
    if kind != "optimizer":
        return None
    return (
        "optimizer variables load by position: the live optimizer's variable at this "
        "position has another shape (the model's trainable variables changed order or shape)"
    )


def _missing_reason(key: str, source: dict[str, Entry]) -> str | None:
    if key.startswith("optimizer/"):
        return None
    group = key.rsplit("/vars/", 1)[0] + "/vars/"
    if not any(k.startswith(group) for k in source):
        return None
    return "the file has fewer variables for this layer than the model"


def _optimizer_count(
    ckpt: Checkpoint,
    source: dict[str, Entry],
    live: KerasLive,
    with_optimizer: bool,
    unused: list[UnusedEntry],
    missing: list[MissingEntry],
) -> None:
    """Keras skips an optimizer whose variable count differs, with only a warning, and keeps
    fresh state (Adam restarts from zero moments): a failure here, already listed as unused
    or missing values; this says why on each of them."""
    if not with_optimizer:
        return
    saved = sum(k.startswith("optimizer/") for k in source)
    built = sum(k.startswith("optimizer/") for k in live.entries)
    if saved == built:
        return
    why = (
        f"the file's optimizer has {saved} variables, the one --optimizer made {built}: Keras "
        "would skip loading the optimizer with only a warning, and train on from fresh state; "
        "pass the optimizer the file was saved with (--optimizer MODULE:FACTORY for one with "
        "arguments, such as SGD with momentum)"
    )
    entries: list[UnusedEntry | MissingEntry] = [*missing, *unused]
    for entry in entries:
        if entry.kind == "optimizer":
            entry.reason = why


def layer_drift(
    infos: dict[str, Any], live_names: dict[str, str], source_keys: set[str]
) -> tuple[list[LayerDrift], list[LayerDrift]]:
    """Sequential and functional layers are stored by a class-name counter (``layers/dense_1``),
    so two same-shaped layers swapped in the code load into each other without an error. The
    file records each layer's name: a name given by the user that changed is drift where the
    saved name is a layer's of the model elsewhere (it moved), and a rename where it is no
    layer's (Keras loads it into the renamed layer, in its place): (drifted, renamed)."""
    saved_names: dict[str, str] = {}
    for key in source_keys:
        info = infos.get(key)
        if info is not None and info.layer_name and "/vars/" in key:
            saved_names.setdefault(key.rsplit("/vars/", 1)[0], info.layer_name)
    drifted: list[LayerDrift] = []
    renamed: list[LayerDrift] = []
    in_model = set(live_names.values())
    for group, saved in sorted(saved_names.items()):
        if not _by_counter(group):
            continue  # loaded by attribute name (a subclassed model's, a custom layer's)
        live = live_names.get(group)
        if live is None or live == saved:
            continue
        base = _COUNTER_RE.sub("", group.rsplit("/", 1)[-1])
        if is_auto_name(saved, base) or is_auto_name(live, base):
            continue  # Keras numbered it; nothing the user named moved
        (drifted if saved in in_model else renamed).append(LayerDrift(group, saved, live))
    return drifted, renamed


def _by_counter(group: str) -> bool:
    """Whether Keras stores the layer at ``group`` by a class-name counter: a child of a
    Sequential or functional model's ``layers`` list (``layers/dense_1``, and
    ``layers/sequential/layers/dense`` when nested). The layers a custom layer or a subclassed
    model holds as attributes (``layers/block/bn``) are stored by attribute name, and Keras's
    names for them (``batch_normalization_3``) change from one instance to the next."""
    parts = group.split("/")
    return len(parts) >= 2 and parts[-2] == "layers"


def load_into(model: Any, ckpt: Checkpoint, label: str, with_optimizer: bool = True) -> None:
    """Keras's own ``load_weights``, once the plan says it will do what it should.

    Without ``with_optimizer``, the optimizer state in the file is not requested, and Keras's
    warning that it skipped it ("Skipping variable loading for optimizer") says nothing new."""
    try:
        with warnings.catch_warnings():
            if not with_optimizer:
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(str(ckpt.location.prefix))
    except Exception as e:
        raise CheckpointError(
            f"{ckpt.prefix}: Keras's load_weights failed after matching: {one_line(e)}",
            "run again with --debug for the traceback, and report it",
        ) from e


def check_keras_values(ckpt: Checkpoint, model: Any, pairs: list[Pair], path: Path) -> ValueCheck:
    """Save the restored model again and compare each paired value with the source file."""
    live = save_live(model, path, "the restored model")
    try:
        check = ValueCheck()
        for p in pairs:
            check.checked += 1
            key = p.entry.key
            got = live.entries.get(key)
            if got is None or not streams_equal(
                p.entry, ckpt.read_chunks(key, CHUNK_BYTES), got,
                live.store.read_chunks(key, CHUNK_BYTES),
            ):  # fmt: skip
                check.differing.append(p.path)
        return check
    finally:
        live.store.close()

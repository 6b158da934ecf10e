"""The live side: the object graph TensorFlow would write for the user's objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ckptctl import _tf
from ckptctl.errors import ModelError, UsageError
from ckptctl.loader import construct, one_line, parse_spec, resolve_factory, source_file, user_code
from ckptctl.objgraph import VARIABLE_VALUE, Attribute, Node, ObjectGraph

RNG_VARIABLE_NAMES = frozenset({"seed_generator_state"})
"""The variable Keras 3's ``SeedGenerator`` keeps its state in (Dropout, random layers)."""


def is_variable(obj: Any) -> bool:
    return hasattr(obj, "assign") and hasattr(obj, "shape") and hasattr(obj, "dtype")


def var_dtype(var: Any) -> str:
    dt = var.dtype
    return str(getattr(dt, "name", dt))


def var_shape(var: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in var.shape)


def var_label(var: Any) -> str:
    return getattr(var, "path", None) or str(getattr(var, "name", "?")).split(":")[0]


def is_rng_state(var: Any) -> bool:
    """Random-number state, which ``tf.train.Checkpoint`` never saves: not model state."""
    name = str(getattr(var, "name", "")).split(":")[0].rsplit("/", 1)[-1]
    return name in RNG_VARIABLE_NAMES


def variables_of(model: Any) -> list[Any]:
    """Every variable the model owns, however it holds them."""
    try:
        return list(model.variables)
    except Exception:
        return []


def _escape(name: str) -> str:
    return name.replace(".", "..").replace("/", ".S")


def live_graph(root: Any) -> tuple[ObjectGraph, dict[int, Any]]:
    """The object graph TensorFlow would write for ``root``, and its variables by node id."""
    tf = _tf.tensorflow()
    view = tf.train.TrackableView(root)
    ids: dict[int, int] = {id(root): 0}
    objects = [root]
    children: list[list[tuple[str, int]]] = [[]]
    first: list[tuple[str, ...]] = [()]
    i = 0
    while i < len(objects):
        obj = objects[i]
        for name, child in view.children(obj).items():
            if id(child) not in ids:
                ids[id(child)] = len(objects)
                objects.append(child)
                children.append([])
                first.append((*first[i], name))
            children[i].append((name, ids[id(child)]))
        i += 1
    variables: dict[int, Any] = {}
    nodes = []
    for nid, obj in enumerate(objects):
        attributes: tuple[Attribute, ...] = ()
        if nid and is_variable(obj):
            key = "/".join(_escape(p) for p in first[nid]) + "/.ATTRIBUTES/" + VARIABLE_VALUE
            attributes = (Attribute(VARIABLE_VALUE, var_label(obj), key),)
            variables[nid] = obj
        nodes.append(Node(nid, children[nid], attributes))
    return ObjectGraph(nodes), variables


def make_optimizer(optimizer: str | Callable[[], Any], model: Any) -> Any:
    """The optimizer ``--optimizer`` names, built on ``model``'s trainable variables: an
    identifier (``adam``) is made by the Keras the model is made with (tf-keras's Adam names
    its slots otherwise than Keras 3's), ``MODULE:NAME`` by the user's factory."""
    keras = _tf.keras_of(model)
    try:
        if callable(optimizer):
            with user_code(
                f"the optimizer factory {optimizer!r} raised", argv0=source_file(optimizer)
            ):
                opt = optimizer()
        elif ":" in optimizer:
            opt = construct(optimizer, resolve_factory(parse_spec(optimizer)), {})
        else:
            opt = keras.optimizers.get(optimizer)
    except ModelError:
        raise
    except (ValueError, TypeError) as e:
        raise UsageError(
            f"--optimizer {optimizer!r}: not a Keras optimizer ({one_line(e)})",
            "use an identifier such as adam or sgd, or MODULE:NAME",
        ) from e
    try:
        opt.build(model.trainable_variables)
    except Exception as e:
        raise ModelError(
            f"--optimizer {optimizer!r}: could not be built on the model's variables "
            f"({one_line(e)})"
        ) from e
    return opt


class NameCounters:
    """Keras's counters of the names it makes up for layers (``dense``, ``dense_1``), as they
    were before the first instance of a model was made. :meth:`rewind` before each instance
    makes every instance from the same counts, so the second gets the first one's names, as a
    fresh process would give them: a Keras 2 file loaded ``--by-name`` pairs layers by them."""

    def __init__(self) -> None:
        self._saved: list[Callable[[], None]] | None = None

    def rewind(self) -> None:
        """The first time, note the counters; after that, set them back to what was noted."""
        if self._saved is None:
            self._saved = _name_counters()
        else:
            for restore in self._saved:
                restore()


def _name_counters() -> list[Callable[[], None]]:
    """A function per Keras loaded (Keras 3; tf-keras when imported) that sets its name
    counters back to what they are now."""
    import collections
    import sys

    out: list[Callable[[], None]] = []
    try:
        from keras.src.backend.common import global_state

        uids = global_state.get_global_attribute("object_name_uids")
        kept = dict(uids) if uids is not None else {}
        out.append(
            lambda: global_state.set_global_attribute(
                "object_name_uids", collections.defaultdict(int, kept)
            )
        )
    except (ImportError, AttributeError):  # another Keras: its names go as they go
        pass
    module = sys.modules.get("tf_keras.src.backend")
    if module is not None and hasattr(module, "PER_GRAPH_OBJECT_NAME_UIDS"):
        graphs = {g: dict(d) for g, d in module.PER_GRAPH_OBJECT_NAME_UIDS.items()}
        observed = set(module.OBSERVED_NAMES)

        def restore_tf_keras() -> None:
            module.PER_GRAPH_OBJECT_NAME_UIDS.clear()
            for g, d in graphs.items():
                module.PER_GRAPH_OBJECT_NAME_UIDS[g] = collections.defaultdict(int, d)
            module.OBSERVED_NAMES.clear()
            module.OBSERVED_NAMES.update(observed)

        out.append(restore_tf_keras)
    return out


def is_auto_name(name: str, base: str) -> bool:
    """Whether ``name`` is one Keras made up from ``base`` (``dense``, ``dense_3``): a change
    between such names is Keras's counter, not a layer the user renamed."""
    return name == base or re.fullmatch(rf"{re.escape(base)}_\d+", name) is not None

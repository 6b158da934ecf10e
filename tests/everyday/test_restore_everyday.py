"""``ckptctl restore`` of models trained with ``compile()`` and ``fit()``, unchanged.

Every checkpoint here restores with plain TensorFlow: a fresh model, built, restored with
``tf.train.Checkpoint(<key>=model[, <optimizer key>=optimizer]).restore(...)``, holds every
value the trained model held (the model-only layout restores the optimizer through
``model.compile(optimizer=...)``, as the compiled model tracked it). The one exception is
``ListNet`` without its optimizer (see below). So each report must be clean: nothing unused,
missing or mismatched, every value and output equal, and ``matched`` the number of values the
live model (and its optimizer) held.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.everyday.helpers import restore, summary
from tests.everyday.writers import KERAS_LAYOUTS, MODEL_KEY, Written

CASES = [
    ("convnet", "guide"),
    ("convnet", "netopt"),
    ("convnet", "model_only"),
    ("sequential_cnn", "save"),
    ("sequential_cnn", "write"),
    ("attention", "write"),
    ("recurrent", "save"),
    ("mixed_net", "save"),
    ("functional_blocks", "save"),
    *(
        (fixture, layout)
        for fixture in (
            "convnet",
            "sequential_cnn",
            "functional_blocks",
            "attention",
            "recurrent",
            "mixed_net",
        )
        for layout in KERAS_LAYOUTS
    ),
]
"""(fixture, layout) of every unchanged model's checkpoint and Keras file."""

OPTIMIZER = {"mixed_net": "tests.everyday.models:loss_scale_adam"}
"""``--optimizer`` per fixture; default ``adam`` (the identifier given to ``compile``).
``MixedNet``'s ``compile(optimizer="adam")`` under ``mixed_float16`` made a
``LossScaleOptimizer``, whose state (``inner_optimizer``, ``dynamic_scale``, ...) plain Adam
has no place for."""


def written(request: pytest.FixtureRequest, fixture: str) -> Written:
    value: Written = request.getfixturevalue(fixture)
    return value


def restore_case(w: Written, layout: str, with_optimizer: bool, fixture: str) -> Any:
    extra = ("--optimizer", OPTIMIZER.get(fixture, "adam")) if with_optimizer else ()
    return restore(str(w.paths[layout]), w.spec, *extra)


@pytest.mark.parametrize("with_optimizer", [False, True], ids=["model", "with-optimizer"])
@pytest.mark.parametrize(("fixture", "layout"), CASES, ids=[f"{f}-{lay}" for f, lay in CASES])
def test_unchanged_model_restores_and_verifies(
    request: pytest.FixtureRequest, fixture: str, layout: str, with_optimizer: bool
) -> None:
    w = written(request, fixture)
    code, doc, err = restore_case(w, layout, with_optimizer, fixture)
    why = summary(code, doc, err)
    assert code == 0, why
    assert doc["ok"] is True, why
    assert doc["key"] == MODEL_KEY[layout], why
    assert doc["unused"] == [], why
    assert [m for m in doc["missing"] if not m.get("accepted")] == [], why
    assert doc["mismatched"] == [], why
    assert doc["values"]["differing"] == [], why
    assert doc["outputs"]["equal"] is True, why
    optimizer_values = w.keras_optimizer_values if layout in KERAS_LAYOUTS else w.optimizer_values
    expected = w.model_values + (optimizer_values if with_optimizer else 0)
    assert doc["matched"] == expected, why


RNG_CASES = [c for c in CASES if c[0] != "mixed_net" and c[1] not in KERAS_LAYOUTS]
"""The models holding random-number state (a ``SeedGenerator``): Dropout, and the recurrent
layers' own dropout seed, in TensorFlow checkpoints (Keras's files and its live model's file
alike leave it out)."""


@pytest.mark.parametrize(("fixture", "layout"), RNG_CASES, ids=[f"{f}-{x}" for f, x in RNG_CASES])
def test_random_number_state_is_listed_as_not_checkpointed(
    request: pytest.FixtureRequest, fixture: str, layout: str
) -> None:
    """``tf.train.Checkpoint`` never saves a ``SeedGenerator``'s state (it is no TensorFlow
    trackable): the report lists it under ``not_checkpointed``, never under ``missing``."""
    w = written(request, fixture)
    assert w.rng_state, "the model holds no random-number state: the case tests nothing"
    code, doc, err = restore_case(w, layout, False, fixture)
    why = summary(code, doc, err)
    assert not [m for m in doc.get("missing", []) if "seed_generator" in m["path"]], why
    listed = doc.get("not_checkpointed")
    assert listed is not None, f"no not_checkpointed field; {why}"
    assert len(listed) == len(w.rng_state), why
    assert sorted((e["shape"], e["dtype"]) for e in listed) == sorted(
        (shape, dtype) for _, shape, dtype in w.rng_state
    ), listed
    for e in listed:
        assert e["reason"] == "random-number state", e
        assert "seed_generator" in e["path"], e
    assert code == 0, why


def test_model_without_random_state_lists_nothing_as_not_checkpointed(
    mixed_net: Written,
) -> None:
    code, doc, err = restore_case(mixed_net, "save", False, "mixed_net")
    assert doc.get("not_checkpointed") == [], summary(code, doc, err)


# ---------------------------------------------------------------- layers in a Python list


LIST_LAYER_SHAPES = [([4, 8], "float32"), ([8], "float32"), ([8, 3], "float32"), ([3], "float32")]
"""``ListNet.stack``'s kernels and biases: Dense 8 on 4 pooled channels, then Dense 3."""


def test_list_layers_without_optimizer_are_missing_with_a_reason(list_net: Written) -> None:
    """Keras 3 does not track ``self.stack = [Dense, Dense]`` under the model: the checkpoint
    reaches those layers only through ``optimizer._trainable_variables``, so restoring the model
    alone (as ``tf.train.Checkpoint(model=m).restore`` does) leaves them fresh."""
    code, doc, err = restore(str(list_net.paths["save"]), list_net.spec)
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    assert doc["unused"] == [], why
    assert doc["mismatched"] == [], why
    assert sorted((m["shape"], m["dtype"]) for m in doc["missing"]) == sorted(LIST_LAYER_SHAPES), (
        why
    )
    for m in doc["missing"]:
        assert "reason" in m, f"missing entry without a reason: {m}"
        assert "list or dict" in (m["reason"] or ""), m
    assert doc["matched"] == 2, why  # the Conv2D's kernel and bias


@pytest.mark.parametrize("layout", ["save", "model_only"])
def test_list_layers_restore_through_the_optimizer_alias(list_net: Written, layout: str) -> None:
    """With the optimizer, its ``_trainable_variables`` list holds the list layers' values and
    TensorFlow restores them through it (checked with plain TensorFlow: all six variables)."""
    code, doc, err = restore(str(list_net.paths[layout]), list_net.spec, "--optimizer", "adam")
    why = summary(code, doc, err)
    assert code == 0, why
    assert doc["ok"] is True, why
    assert doc["unused"] == [] and doc["missing"] == [] and doc["mismatched"] == [], why
    assert doc["values"]["differing"] == [], why
    assert doc["outputs"]["equal"] is True, why
    assert doc["matched"] == list_net.model_values + list_net.optimizer_values, why


# ---------------------------------------------------------------- the optimizer under another name


def test_optimizer_key_names_the_optimizers_child(convnet: Written) -> None:
    """``Checkpoint(net=m, opt=m.optimizer)``: ``--optimizer-key opt`` says where it is."""
    code, doc, err = restore(
        str(convnet.paths["netopt"]), convnet.spec, "--optimizer", "adam", "--optimizer-key", "opt"
    )
    why = summary(code, doc, err)
    assert code == 0, why
    assert doc["ok"] is True and doc["unused"] == [] and doc["missing"] == [], why
    assert doc["mismatched"] == [] and doc["values"]["differing"] == [], why
    assert doc["matched"] == convnet.model_values + convnet.optimizer_values, why

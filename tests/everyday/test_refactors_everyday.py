"""Refactors of ``ConvNet`` restored against the original's guide-layout checkpoint.

Each expected report was worked out from what TensorFlow itself does with the same code
(``tf.train.Checkpoint(net=model).restore(...)`` into the built, changed model):

- ``fc1`` renamed ``hidden``: restores 8 of 10 values, ``hidden`` stays fresh;
- ``out`` widened to 5 units: raises "Received incompatible tensor with shape (8, 3) when
  attempting to restore variable with shape (8, 5)" part-way through;
- ``fc2`` added: restores all 10 values, ``fc2`` stays fresh;
- ``fc1`` and ``out`` moved into ``head``: restores 6 of 10 values, ``head``'s 4 stay fresh;
- Adam -> AdamW: every one of AdamW's 18 variables gets the value at the same position
  (``_variables.N``), each the moment of the same model variable;
- Adam -> SGD(momentum=0.9): raises part-way ("Received incompatible tensor with shape
  (3, 3, 1, 4) when attempting to restore variable with shape (4,)"): SGD's ``_variables``
  list holds one slot per variable where Adam's holds two, so by position Adam's velocity of
  the first kernel lands on SGD's momentum of the first bias.
"""

from __future__ import annotations

from typing import Any

from tests.everyday.helpers import entries, key_of, restore, summary
from tests.everyday.writers import Written

MODELS = "tests.everyday.models"


def guide_restore(convnet: Written, model: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    return restore(str(convnet.paths["guide"]), f"{MODELS}:{model}", *extra)


def test_renamed_layer(convnet: Written) -> None:
    code, doc, err = guide_restore(convnet, "ConvNetRenamed")
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    assert entries(doc, "unused", "key", "path", "shape", "dtype", "suggestion") == [
        (key_of("net.fc1._kernel"), "net.fc1._kernel", (4, 8), "float32", "net.hidden._kernel"),
        (key_of("net.fc1.bias"), "net.fc1.bias", (8,), "float32", "net.hidden.bias"),
    ], why
    assert entries(doc, "missing", "path", "shape", "dtype", "suggestion") == [
        ("net.hidden._kernel", (4, 8), "float32", "net.fc1._kernel"),
        ("net.hidden.bias", (8,), "float32", "net.fc1.bias"),
    ], why
    assert doc["mismatched"] == [], why


def test_widened_layer(convnet: Written) -> None:
    code, doc, err = guide_restore(convnet, "ConvNetWider")
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    fields = ("key", "path", "checkpoint_shape", "model_shape", "checkpoint_dtype", "model_dtype")
    assert entries(doc, "mismatched", *fields) == [
        (key_of("net.out._kernel"), "net.out._kernel", (8, 3), (8, 5), "float32", "float32"),
        (key_of("net.out.bias"), "net.out.bias", (3,), (5,), "float32", "float32"),
    ], why
    assert doc["unused"] == [], why
    assert doc["missing"] == [], why


def test_added_layer(convnet: Written) -> None:
    code, doc, err = guide_restore(convnet, "ConvNetDeeper")
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    assert entries(doc, "missing", "path", "shape", "dtype", "suggestion") == [
        ("net.fc2._kernel", (8, 8), "float32", None),
        ("net.fc2.bias", (8,), "float32", None),
    ], why
    assert doc["unused"] == [], why
    assert doc["mismatched"] == [], why
    assert doc["matched"] == convnet.model_values, why


def test_two_layers_moved_into_a_block(convnet: Written) -> None:
    code, doc, err = guide_restore(convnet, "ConvNetRegrouped")
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    assert entries(doc, "unused", "path", "shape", "suggestion") == [
        ("net.fc1._kernel", (4, 8), "net.head.fc1._kernel"),
        ("net.fc1.bias", (8,), "net.head.fc1.bias"),
        ("net.out._kernel", (8, 3), "net.head.out._kernel"),
        ("net.out.bias", (3,), "net.head.out.bias"),
    ], why
    assert entries(doc, "missing", "path", "shape", "suggestion") == [
        ("net.head.fc1._kernel", (4, 8), "net.fc1._kernel"),
        ("net.head.fc1.bias", (8,), "net.fc1.bias"),
        ("net.head.out._kernel", (8, 3), "net.out._kernel"),
        ("net.head.out.bias", (3,), "net.out.bias"),
    ], why
    assert doc["mismatched"] == [], why
    assert doc["matched"] == 6, why


def test_adam_to_adamw_restores(convnet: Written) -> None:
    """AdamW is Adam with decoupled weight decay: the same state (iterations, learning rate,
    a momentum and a velocity per trainable variable, in the same order)."""
    code, doc, err = guide_restore(convnet, "ConvNet", "--optimizer", "adamw")
    why = summary(code, doc, err)
    assert code == 0, why
    assert doc["ok"] is True, why
    assert doc["unused"] == [] and doc["missing"] == [] and doc["mismatched"] == [], why
    assert doc["values"]["differing"] == [], why
    assert doc["outputs"]["equal"] is True, why
    assert doc["matched"] == convnet.model_values + 2 + 2 * convnet.trainable, why


def test_adam_to_sgd_with_momentum_reports_where_each_slot_would_land(convnet: Written) -> None:
    """Keras 3 restores an optimizer's ``_variables`` by position, so SGD(momentum)'s
    momentum for variable k takes Adam's ``_variables.(2 + k)``, which alternates Adam's
    momentums and velocities (TensorFlow's own restore fails part-way on the first shape
    that differs). Only position 2 (the first momentum) lands on its own kind and variable;
    positions 3 to 9 land on another variable's momentum, and Adam's ``_variables.10`` to
    ``17`` have no position in SGD at all."""
    code, doc, err = guide_restore(convnet, "ConvNet", "--optimizer", f"{MODELS}:sgd_momentum")
    why = summary(code, doc, err)
    assert code == 1, why
    assert doc["ok"] is False, why
    n_sgd = 2 + convnet.trainable  # iterations, learning rate, one momentum per variable
    key = "optimizer/_variables/{}/.ATTRIBUTES/VARIABLE_VALUE".format
    assert sorted(u["key"] for u in doc["unused"]) == sorted(
        key(n) for n in range(n_sgd, 2 + 2 * convnet.trainable)
    ), why
    assert doc["missing"] == [], why
    assert sorted(m["key"] for m in doc["mismatched"]) == sorted(key(n) for n in range(3, n_sgd))
    for m in doc["mismatched"]:
        assert m["reason"] is not None and "would be restored as the momentum of" in m["reason"]
        kind = "momentum" if int(m["path"].rsplit(".", 1)[-1]) % 2 == 0 else "velocity"
        assert m["reason"].startswith(f"holds the {kind} of "), m
    assert doc["values"]["checked"] == 0, why

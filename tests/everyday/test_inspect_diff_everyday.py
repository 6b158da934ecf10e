"""``ckptctl inspect --json`` and ``ckptctl diff --model-only --json`` of compiled models.

A compiled Keras 3 model tracks its optimizer (``net.optimizer``), and the optimizer tracks
the model's trainable variables (``optimizer._trainable_variables.N``). TensorFlow keys each
value by its shortest path from the root, so a nested block's kernel is stored under
``optimizer/_trainable_variables/0/...``. The values are still the model's: ``inspect`` must
say so, and ``diff --model-only`` must compare them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.everyday.helpers import run
from tests.everyday.writers import MODEL_KEY, Written

TRAINABLE = [
    "net.block.conv._kernel",
    "net.block.conv.bias",
    "net.block.bn.gamma",
    "net.block.bn.beta",
    "net.fc1._kernel",
    "net.fc1.bias",
    "net.out._kernel",
    "net.out.bias",
]
"""``ConvNet``'s trainable variables in ``model.trainable_variables`` order (the optimizer's)."""

GUIDE_MODEL_PATHS = sorted([*TRAINABLE, "net.block.bn.moving_mean", "net.block.bn.moving_variance"])
"""Every value ``ConvNet`` stores in the guide layout, by object path."""

CASES = [
    ("convnet", "guide"),
    ("convnet", "netopt"),
    ("convnet", "model_only"),
    ("sequential_cnn", "save"),
    ("sequential_cnn", "write"),
    ("attention", "write"),
    ("recurrent", "save"),
    ("mixed_net", "save"),
]
IDS = [f"{f}-{layout}" for f, layout in CASES]


def inspect_json(path: Any) -> dict[str, Any]:
    code, doc, err = run("inspect", path)
    assert code == 0, err
    return doc


def model_values(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The values inspect attributes to the model: owner KEY, not a slot, not under the
    compiled model's own ``KEY.optimizer``."""
    return [
        v
        for v in doc["variables"]
        if v["owner"] == key
        and v["slot_of"] is None
        and not (v["path"] or "").startswith(f"{key}.optimizer.")
    ]


def test_inspect_guide_attributes_every_model_value_to_net(convnet: Written) -> None:
    doc = inspect_json(convnet.paths["guide"])
    owned = sorted(v["path"] for v in doc["variables"] if v["owner"] == "net")
    assert owned == GUIDE_MODEL_PATHS, [(v["path"], v["owner"]) for v in doc["variables"]]
    aliases = [v["path"] for v in doc["variables"] if "_trainable_variables" in (v["path"] or "")]
    assert aliases == [], "values named by the optimizer's alias instead of the model's path"


def test_inspect_guide_slots_name_the_model_variable(convnet: Written) -> None:
    """Adam's ``_variables.N``: N = 2 + 2i is the momentum and 3 + 2i the velocity of the
    i-th trainable variable."""
    doc = inspect_json(convnet.paths["guide"])
    slots = {v["path"]: (v["slot_of"], v["slot_name"]) for v in doc["variables"] if v["slot_of"]}
    expected = {}
    for i, path in enumerate(TRAINABLE):
        expected[f"optimizer._variables.{2 + 2 * i}"] = (path, "momentum")
        expected[f"optimizer._variables.{3 + 2 * i}"] = (path, "velocity")
    assert slots == expected


@pytest.mark.parametrize(("fixture", "layout"), CASES, ids=IDS)
def test_inspect_model_values_are_owned_by_the_model(
    request: pytest.FixtureRequest, fixture: str, layout: str
) -> None:
    w: Written = request.getfixturevalue(fixture)
    key = MODEL_KEY[layout]
    doc = inspect_json(w.paths[layout])
    owned = model_values(doc, key)
    table = [(v["path"], v["owner"], v["slot_of"]) for v in doc["variables"]]
    assert len(owned) == w.model_values, table
    assert all(v["path"].startswith(f"{key}.") for v in owned), table
    slots = [v for v in doc["variables"] if v["slot_of"] is not None]
    assert len(slots) == 2 * w.trainable, table  # Adam: a momentum and a velocity each
    for v in slots:
        assert v["slot_of"].startswith(f"{key}."), v
        assert "_trainable_variables" not in v["slot_of"], v


# ---------------------------------------------------------------- diff --model-only


@pytest.mark.parametrize(
    ("fixture", "layout"), [*CASES, ("list_net", "save")], ids=[*IDS, "list_net-save"]
)
def test_diff_against_itself_compares_every_model_value(
    request: pytest.FixtureRequest, fixture: str, layout: str
) -> None:
    """``compared`` is the live model's ``len(model.variables)`` minus its random-number
    state: no optimizer value, no ``step`` or ``save_counter``, and no model value left out
    because TensorFlow keyed it under the optimizer (``ListNet``'s list layers are only
    there)."""
    w: Written = request.getfixturevalue(fixture)
    path = w.paths[layout]
    code, doc, err = run("diff", path, path, "--model-only")
    assert code == 0, err
    assert doc["equal"] is True, doc
    assert doc["only_in_a"] == [] and doc["only_in_b"] == [] and doc["changed"] == [], doc
    assert doc["compared"] == w.model_values, doc


def test_diff_of_two_guide_steps_lists_every_model_value_as_changed(convnet: Written) -> None:
    """A training epoch changes every weight and BatchNormalization's moving statistics: all
    ten model values must be listed as changed, the nested block's too."""
    guide = convnet.paths["guide"]
    code, doc, err = run("diff", guide / "ckpt-1", guide / "ckpt-2", "--model-only")
    assert code == 1, err
    assert doc["only_in_a"] == [] and doc["only_in_b"] == [], doc
    changed = sorted(c["path"] for c in doc["changed"] if c["path"] != "step")
    assert changed == GUIDE_MODEL_PATHS, [c["path"] for c in doc["changed"]]
    assert all(c["kind"] == "values" for c in doc["changed"]), doc["changed"]

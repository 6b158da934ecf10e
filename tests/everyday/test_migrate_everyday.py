"""``ckptctl migrate`` of compiled models' checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.everyday.helpers import run, summary
from tests.everyday.writers import Written

STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"


def test_migrate_of_the_guide_layout_keeps_step(convnet: Written, tmp_path: Path) -> None:
    """The guide's ``step`` counter is training state beside the model and optimizer: a
    migrated checkpoint that drops it restarts the training loop's count."""
    import tensorflow as tf

    src = convnet.paths["guide"]
    out = tmp_path / "migrated"
    code, doc, err = run("migrate", src, "-o", out, "--model", convnet.spec, "--optimizer", "adam")
    assert code == 0, summary(code, doc.get("restore", doc), err)
    stored = tf.train.load_checkpoint(str(src)).get_tensor(STEP_KEY)
    assert int(stored) == 3  # tf.Variable(1), plus one after each of two epochs
    migrated = tf.train.load_checkpoint(str(out))
    assert migrated.has_tensor(STEP_KEY), sorted(migrated.get_variable_to_shape_map())
    assert np.array_equal(migrated.get_tensor(STEP_KEY), stored)


def test_migrate_of_a_model_with_dropout(sequential_cnn: Written, tmp_path: Path) -> None:
    """Dropout's random-number state is in no checkpoint: it must not stop a migration."""
    out = tmp_path / "migrated"
    code, doc, err = run(
        "migrate",
        sequential_cnn.paths["save"],
        "-o",
        out,
        "--model",
        sequential_cnn.spec,
        "--optimizer",
        "adam",
    )
    assert code == 0, summary(code, doc.get("restore", doc), err)
    assert (out / "checkpoint").is_file()


@pytest.mark.parametrize("layout", ["save", "weights_h5", "keras"])
def test_migrate_into_a_factory_that_compiles(
    sequential_cnn: Written, tmp_path: Path, layout: str
) -> None:
    """A factory that compiles its model gives it an optimizer of its own. The migrated
    checkpoint holds the restored optimizer once, tracked by the model as compile() tracks
    it, not also the factory's unrestored one; a fresh compiled model restores it whole."""
    import tensorflow as tf

    spec = "tests.everyday.models:make_sequential_cnn_compiled"
    out = tmp_path / "migrated"
    src = sequential_cnn.paths[layout]
    code, doc, err = run("migrate", src, "-o", out, "--model", spec, "--optimizer", "adam")
    assert code == 0, summary(code, doc.get("restore", doc), err)
    migrated = tf.train.load_checkpoint(str(out))
    counters = [k for k in migrated.get_variable_to_shape_map() if "_iterations/" in k]
    assert len(counters) == 1, counters
    assert int(migrated.get_tensor(counters[0])) > 0  # the trained count, not a new one's 0

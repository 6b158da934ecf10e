"""``ckptctl migrate`` of compiled models' checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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

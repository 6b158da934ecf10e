"""Session fixtures: real TensorFlow checkpoints, written once per test session when first used.

TensorFlow is imported only inside the fixtures that need it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.checkpoints import (
    EXTERNAL_FIXTURES,
    copy_checkpoint_dir,
    skip_without_external_fixtures,
    write_all_dtypes,
    write_keras2_checkpoint,
    write_name_based,
    write_saved_model,
    write_sharded,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Run in GitHub Actions, the suite's restores and diffs must not write into the real job summary.
os.environ.pop("GITHUB_STEP_SUMMARY", None)


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OUT directory of `sample_models.train.train_all(OUT, steps=3)` under Keras 3, in a
    fresh Keras session (as `make demo` trains them).

    Holds `my_model/`, `custom_model/` and `versioned_model/`, each a `CheckpointManager`
    directory with a `checkpoint` state file and three checkpoints.
    """
    import tensorflow as tf

    from sample_models.train import train_all

    # Keras names a model after its class and the instances made before it (`my_model_4`):
    # start its counters afresh, so the checkpoints' full names (`my_model/kernel`, as in the
    # README) do not depend on which tests made models before this fixture first ran.
    tf.keras.backend.clear_session()
    out = tmp_path_factory.mktemp("samples")
    train_all(out, steps=3)
    return out


@pytest.fixture(scope="session")
def name_based_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a TF1 name-based checkpoint (`tests.checkpoints.write_name_based`)."""
    return write_name_based(tmp_path_factory.mktemp("name_based"))


@pytest.fixture(scope="session")
def sharded_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of an object-based checkpoint in four data shards (`write_sharded`)."""
    return write_sharded(tmp_path_factory.mktemp("sharded"))


@pytest.fixture(scope="session")
def saved_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SavedModel directory of a small `tf.Module` (`write_saved_model`)."""
    return write_saved_model(tmp_path_factory.mktemp("saved_model"))


@pytest.fixture(scope="session")
def dtypes_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prefix of a checkpoint with one variable per dtype (`write_all_dtypes`)."""
    return write_all_dtypes(tmp_path_factory.mktemp("dtypes"))


@pytest.fixture(scope="session")
def keras2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`CheckpointManager` directory of `my_model` trained under Keras 2 in a subprocess."""
    return write_keras2_checkpoint(tmp_path_factory.mktemp("keras2"))


@pytest.fixture(scope="session")
def external_fixtures() -> Path:
    """`../shared/fixtures/external`; the test is skipped when that directory is absent (and
    fails in CI, where it must be present)."""
    skip_without_external_fixtures()
    return EXTERNAL_FIXTURES


@pytest.fixture
def broken_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """Factory: `broken_copy(src_dir)` copies a checkpoint directory into a fresh tmp dir.

    The copy keeps the source directory's name and is returned, ready for a breakage helper
    from `tests.checkpoints`; every call makes a new copy.
    """
    counter = itertools.count()

    def copy(src_dir: Path) -> Path:
        return copy_checkpoint_dir(src_dir, tmp_path / f"copy{next(counter)}" / src_dir.name)

    return copy


# ---------------------------------------------------------------- restore: model zoo checkpoints


@pytest.fixture(scope="session")
def zoo_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Factory: `zoo_ckpt(name)` -> checkpoint directory of a `tests.models.zoo` model.

    NAME is a key of `zoo.TRAINED` (trained 2 steps with Adam, saved as
    `Checkpoint(model=..., optimizer=...)`), or `mixed` (`MixedPrecisionModel` with
    `make_loss_scale_optimizer`). Each is written once per session, on first request.
    """
    base = tmp_path_factory.mktemp("zoo")
    written: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in written:
            from tests.models import writers, zoo

            if name == "mixed":
                written[name] = writers.write_trained(
                    base / name,
                    zoo.MixedPrecisionModel,
                    [(2, zoo.FEATURES)],
                    optimizer=zoo.make_loss_scale_optimizer,
                )
            else:
                factory, shapes, dtype = zoo.TRAINED[name]
                written[name] = writers.write_trained(base / name, factory, shapes, dtype)
        return written[name]

    return get


@pytest.fixture(scope="session")
def root_model_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Keras 3 checkpoints whose root object is a `zoo.NestedModel` (no `model` child).

    `write`: prefix from `tf.train.Checkpoint(root=model).write(...)` (no `save_counter`);
    `save`: prefix from `tf.train.Checkpoint(root=model).save(...)` (with `save_counter`).
    """
    import tensorflow as tf

    from tests.models import writers, zoo

    base = tmp_path_factory.mktemp("root_model")
    written = writers.write_root_model(base / "write", zoo.NestedModel, [(2, zoo.FEATURES)])
    tf.keras.utils.set_random_seed(0)
    model = zoo.NestedModel()
    writers.train(
        model, tf.keras.optimizers.Adam(1e-2), writers.batch([(2, zoo.FEATURES)], "float32")
    )
    saved = Path(tf.train.Checkpoint(root=model).save(str(base / "save" / "root")))
    return {"write": written, "save": saved}


@pytest.fixture(scope="session")
def mirrored_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Checkpoint directory of `zoo.MirroredModel` trained under a two-CPU `MirroredStrategy`."""
    from tests.checkpoints import write_mirrored_checkpoint

    return write_mirrored_checkpoint(tmp_path_factory.mktemp("mirrored"))


@pytest.fixture(scope="session")
def keras2_save_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tf-keras `save_weights` checkpoints: `subclassed/weights` and `sequential/weights`."""
    from tests.checkpoints import write_keras2_save_weights

    return write_keras2_save_weights(tmp_path_factory.mktemp("keras2_save_weights"))


@pytest.fixture(scope="session")
def long_names_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Prefixes of `tests.models.wide.LongNamesNet` checkpoints with long nested paths and a
    4-D conv kernel: `first`, `second` (one more epoch), `nonfinite` (a NaN and an Inf)."""
    from tests.checkpoints import write_long_names

    return write_long_names(tmp_path_factory.mktemp("long_names"))


@pytest.fixture(scope="session")
def fitted_convnet_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Keras 3 model compiled and fitted (nested block, Dropout, Adam slots), written as
    ``tf.train.Checkpoint(net=..., optimizer=...)``: the prefix."""
    from tests.everyday import writers

    return writers.write_convnet(tmp_path_factory.mktemp("convnet") / "convnet").paths["netopt"]

"""Session fixtures: the everyday models, trained with ``fit()`` and written once per session.

Each fixture trains one model (on first use) and returns a ``writers.Written``: the
checkpoint of each layout it was written in, and what the live model held. Everything is
written under ``tmp_path_factory``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.everyday.writers import Written


@pytest.fixture(scope="session")
def everyday_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("everyday")


@pytest.fixture(scope="session")
def convnet(everyday_dir: Path) -> Written:
    """``ConvNet`` (nested block, Dropout): ``guide`` (``ckpt-1``, ``ckpt-2``), ``netopt``,
    ``model_only``."""
    from tests.everyday import writers

    return writers.write_convnet(everyday_dir / "convnet")


@pytest.fixture(scope="session")
def sequential_cnn(everyday_dir: Path) -> Written:
    """``make_sequential_cnn`` (Conv2D, BatchNormalization, Dropout): ``save`` and ``write``."""
    from tests.everyday import models, writers

    return writers.write_fitted(
        everyday_dir / "sequential",
        "make_sequential_cnn",
        models.make_sequential_cnn,
        "image",
        ["save", "write"],
    )


@pytest.fixture(scope="session")
def attention(everyday_dir: Path) -> Written:
    """``make_functional_attention`` (Embedding, MultiHeadAttention, LayerNormalization, GRU):
    ``write``."""
    from tests.everyday import models, writers

    return writers.write_fitted(
        everyday_dir / "attention",
        "make_functional_attention",
        models.make_functional_attention,
        "tokens",
        ["write"],
    )


@pytest.fixture(scope="session")
def functional_blocks(everyday_dir: Path) -> Written:
    """``make_functional_blocks`` (a custom block and a nested Sequential in a functional
    model): ``save``."""
    from tests.everyday import models, writers

    return writers.write_fitted(
        everyday_dir / "functional_blocks",
        "make_functional_blocks",
        models.make_functional_blocks,
        "image",
        ["save"],
    )


@pytest.fixture(scope="session")
def recurrent(everyday_dir: Path) -> Written:
    """``RecurrentNet`` (Embedding, LSTM), trained by a custom loop: ``save``."""
    from tests.everyday import writers

    return writers.write_recurrent(everyday_dir / "recurrent")


@pytest.fixture(scope="session")
def list_net(everyday_dir: Path) -> Written:
    """``ListNet`` (Dense layers in a Python list): ``save`` and ``model_only``."""
    from tests.everyday import models, writers

    return writers.write_fitted(
        everyday_dir / "list", "ListNet", models.ListNet, "image", ["save", "model_only"]
    )


@pytest.fixture(scope="session")
def mixed_net(everyday_dir: Path) -> Written:
    """``MixedNet`` trained under ``mixed_float16`` (a ``LossScaleOptimizer``): ``save``."""
    from tests.everyday import writers

    return writers.write_mixed(everyday_dir / "mixed")

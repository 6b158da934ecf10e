"""Train the sample models briefly and write their checkpoints.

Usage::

    python -m sample_models.train --out DIR [--steps N] [--seed S] [--only NAME ...]

Each model gets its own directory under ``DIR`` holding one checkpoint per training step
(at most three are kept) plus the ``checkpoint`` state file.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from ckptctl import _tf

if __name__ == "__main__":
    # Run as a script (make demo): say what the silent seconds of TensorFlow's import are.
    print("loading TensorFlow (the first time, this takes a while) ...", flush=True)

# Through ckptctl's loader, which keeps TensorFlow's C++ start-up log off the terminal; the
# models below import TensorFlow too, so they come after.
tf = _tf.tensorflow()

from .models import (  # noqa: E402
    INPUT_FEATURES,
    MODEL_VERSION,
    OUTPUT_UNITS,
    CustomModel,
    MyModel,
    MyVersionedModel,
)

BATCH_SIZE = 32
"""Number of examples in the fixed regression task."""

MAX_TO_KEEP = 3
"""How many checkpoints each ``CheckpointManager`` keeps."""

MODEL_FACTORIES: dict[str, Callable[[], tf.keras.Model]] = {
    "my_model": MyModel,
    "custom_model": CustomModel,
    "versioned_model": MyVersionedModel,
}
"""Model name -> constructor, in training order. Each model is written to ``OUT/<name>``."""


def _checkpoint_name(name: str) -> str:
    """File-name prefix for ``name``'s checkpoints."""
    if name == "versioned_model":
        timestamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        return f"model_{MODEL_VERSION}_{timestamp}"
    return "ckpt"


def _regression_task(seed: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A fixed random regression task: inputs (32, 20) and targets (32, 10)."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(BATCH_SIZE, INPUT_FEATURES)).astype(np.float32)
    targets = rng.normal(size=(BATCH_SIZE, OUTPUT_UNITS)).astype(np.float32)
    return tf.constant(inputs), tf.constant(targets)


def train_one(
    name: str,
    directory: Path,
    steps: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Train model ``name`` for ``steps`` steps, saving a checkpoint after each into ``directory``.

    An existing non-empty ``directory`` is deleted first. Returns the latest checkpoint's path
    prefix (for example ``directory/ckpt-3``). ``progress`` is called with a line after each
    step.
    """
    if name not in MODEL_FACTORIES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_FACTORIES)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if directory.is_dir() and any(directory.iterdir()):
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)

    tf.keras.utils.set_random_seed(seed)
    model = MODEL_FACTORIES[name]()
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-2)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(
        ckpt, str(directory), max_to_keep=MAX_TO_KEEP, checkpoint_name=_checkpoint_name(name)
    )

    inputs, targets = _regression_task(seed)
    for step in range(1, steps + 1):
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            loss = tf.reduce_mean(tf.square(predictions - targets))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(list(zip(gradients, model.trainable_variables, strict=True)))
        saved = manager.save()
        if progress is not None:
            progress(f"  {name}: step {step}/{steps}, loss {float(loss):.4f}, saved {saved}")

    latest = manager.latest_checkpoint
    if latest is None:  # pragma: no cover - manager.save() always records a checkpoint
        raise RuntimeError(f"no checkpoint was written for {name}")
    return Path(latest)


def train_all(
    out: Path,
    steps: int = 3,
    seed: int = 0,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Train the sample models and write their checkpoints under ``out``.

    ``only`` restricts training to the named models (see :data:`MODEL_FACTORIES`). Returns
    ``{name: checkpoint directory}`` and prints one summary line per model; ``progress`` gets
    a line for each training step.
    """
    names = list(MODEL_FACTORIES) if only is None else list(dict.fromkeys(only))
    unknown = [n for n in names if n not in MODEL_FACTORIES]
    if unknown:
        raise ValueError(
            f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_FACTORIES)}"
        )

    written: dict[str, Path] = {}
    for name in names:
        directory = out / name
        if progress is not None:
            progress(f"training {name} ({steps} steps, Adam) ...")
        latest = train_one(name, directory, steps=steps, seed=seed, progress=progress)
        state = tf.train.get_checkpoint_state(str(directory))
        count = len(state.all_model_checkpoint_paths) if state is not None else 0
        noun = "checkpoint" if count == 1 else "checkpoints"
        print(f"wrote {name}: {count} {noun} in {directory} (latest {latest.name})", flush=True)
        written[name] = directory
    return written


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sample_models.train",
        description="Train the sample models briefly and write their checkpoints.",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write one subdirectory per model"
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="training steps (one checkpoint each; default 3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        choices=list(MODEL_FACTORIES),
        metavar="NAME",
        help=f"train only these models ({', '.join(MODEL_FACTORIES)}); may be repeated",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _build_parser().parse_args(argv)
    if args.steps < 1:
        _build_parser().error("--steps must be at least 1")
    train_all(
        args.out,
        steps=args.steps,
        seed=args.seed,
        only=args.only,
        progress=lambda line: print(line, flush=True),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The one place TensorFlow is imported.

Importing TensorFlow costs seconds and hundreds of MiB, and prints C++ log lines to stderr
before Python can configure anything. Every module that needs it calls :func:`tensorflow`
inside the function that needs it, never at module level.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from ckptctl.errors import TensorFlowMissingError

_debug = False


def set_debug(flag: bool) -> None:
    """With debug on, TensorFlow's own log output is not silenced."""
    global _debug
    _debug = flag


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Silence file descriptor 2 itself: TensorFlow's C++ logs bypass ``sys.stderr``."""
    if _debug:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow() -> Any:
    """Import and return the ``tensorflow`` module, quietly, or raise TensorFlowMissingError."""
    loaded = sys.modules.get("tensorflow")
    if loaded is not None:
        return loaded
    if not _debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    try:
        with _stderr_silenced():
            import tensorflow as tf
    except ImportError as e:
        raise TensorFlowMissingError(str(e)) from e
    if not _debug:
        _quiet_python_loggers()
    return tf


def _quiet_python_loggers() -> None:
    import logging

    for name in ("tensorflow", "absl", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with contextlib.suppress(Exception):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    with contextlib.suppress(Exception):
        tf = sys.modules["tensorflow"]
        tf.get_logger().setLevel(logging.ERROR)
        tf.autograph.set_verbosity(0)


def keras() -> Any:
    """The Keras TensorFlow uses: Keras 3, or tf-keras when ``TF_USE_LEGACY_KERAS=1``."""
    return tensorflow().keras


def keras_of(model: Any) -> Any:
    """The Keras ``model`` is made with: tf-keras for a model of its classes (a user's code
    may import ``tf_keras`` itself, whatever ``TF_USE_LEGACY_KERAS`` says), else
    :func:`keras`."""
    if any(c.__module__.split(".", 1)[0] == "tf_keras" for c in type(model).__mro__):
        import tf_keras

        return tf_keras
    return keras()

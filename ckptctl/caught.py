"""Warnings raised while ckptctl runs a user's model, kept for the report.

Building a user's model can make Keras or TensorFlow warn (``build() was called on layer
...``). Printed bare on stderr, such a line has no context; caught here, it goes into the
report's JSON (``warnings``) and one line under the table that names the model.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CaughtWarning:
    """One warning: its category (``UserWarning``), its text, and where it was raised
    (``origin``: the top-level package of that file, ``keras``, else the file's name)."""

    category: str
    message: str
    origin: str
    filename: str
    lineno: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def origin_of(filename: str) -> str:
    """``keras`` for ``.../site-packages/keras/src/layers/layer.py``; else the file's name."""
    parts = filename.replace(os.sep, "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts and parts.index(marker) + 1 < len(parts):
            return parts[parts.index(marker) + 1].removesuffix(".py")
    return os.path.basename(filename)


_FOR_DEVELOPERS = (DeprecationWarning, PendingDeprecationWarning)


def _installed(filename: str) -> bool:
    parts = filename.replace(os.sep, "/").split("/")
    return "site-packages" in parts or "dist-packages" in parts


@contextlib.contextmanager
def catching_warnings() -> Iterator[list[CaughtWarning]]:
    """Collect every warning raised inside the block (each once) instead of printing it.

    As Python's own defaults do, deprecation warnings that an installed package (Keras,
    TensorFlow, numpy) raises about itself are left out: the model's author cannot act on
    them. Those raised in the user's own files are kept."""
    caught: list[CaughtWarning] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("default")
        try:
            yield caught
        finally:
            seen = set()
            for r in records:
                if issubclass(r.category, _FOR_DEVELOPERS) and _installed(r.filename):
                    continue
                item = CaughtWarning(
                    r.category.__name__,
                    str(r.message),
                    origin_of(r.filename),
                    r.filename,
                    r.lineno,
                )
                if (item.category, item.message, item.filename, item.lineno) not in seen:
                    seen.add((item.category, item.message, item.filename, item.lineno))
                    caught.append(item)

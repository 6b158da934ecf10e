"""What a Keras file's name and first bytes say it is: all that locating a path needs of the
Keras formats, without importing their reader (:mod:`ckptctl.formats.keras_h5`)."""

from __future__ import annotations

from typing import Literal

from ckptctl.storage import AnyPath

KerasSource = Literal["weights-h5", "weights-json", "keras-archive"]
KERAS_SOURCES: tuple[KerasSource, ...] = ("weights-h5", "weights-json", "keras-archive")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def source_of(path: AnyPath) -> KerasSource | None:
    """The Keras file a name says ``path`` is, if any."""
    name = path.name
    if name.endswith(".weights.h5"):
        return "weights-h5"
    if name.endswith(".weights.json"):
        return "weights-json"
    if name.endswith(".keras"):
        return "keras-archive"
    return None

"""ckptctl's C extensions, where the install could build them.

:data:`scan` (``ckptctl/_scan.c``) decodes the index entries and object-graph nodes of a
listing; it takes only the encoding TensorFlow writes and hands anything else to the Python
decoders, which are the reference (``tests/test_scan.py``).

:data:`kernels` (``ckptctl/_kernels.c``) checksums (crc32c) and reduces (float32 statistics)
the chunks of large values without holding the GIL, so that two threads share the work of
one value (``tests/test_kernels.py`` holds them to google-crc32c and numpy).

Each is None where it was not built (no C compiler) or where the environment sets
``CKPTCTL_PURE_PYTHON``: Python and its libraries then do the same work, with the same
results.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE_PYTHON_ENV = "CKPTCTL_PURE_PYTHON"


def _extension(name: str) -> ModuleType | None:
    """``ckptctl.<name>``, or None where it was not built or ``CKPTCTL_PURE_PYTHON`` is set."""
    if os.environ.get(PURE_PYTHON_ENV):
        return None
    try:
        return importlib.import_module(f"ckptctl.{name}")
    except ImportError:  # not built: Python and its libraries do the work
        return None


scan = _extension("_scan")
kernels = _extension("_kernels")

HARDWARE_CRC32C = bool(kernels is not None and kernels.HARDWARE_CRC32C)
"""The kernels' crc32c runs on the CPU's crc32 instruction (faster than google-crc32c's, and
without the GIL); elsewhere google-crc32c's is used where the GIL does not matter."""

VECTOR_STATS = bool(kernels is not None and kernels.VECTOR_STATS)
"""The kernels' float32 statistics run on vector instructions (AVX2): faster than numpy's
passes; without them numpy's are."""

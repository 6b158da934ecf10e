"""ckptctl's C decoders (``ckptctl/_scan.c``): the index entries and object-graph nodes of a
listing, decoded in C where the install could build them.

:data:`scan` is the module, or None where it was not built (no C compiler) or where the
environment sets ``CKPTCTL_PURE_PYTHON``: the Python decoders then read everything. Both give
the same results; the C decoders take only the encoding TensorFlow writes and hand anything
else to the Python ones, which are the reference (``tests/test_scan.py``).
"""

from __future__ import annotations

import os
from types import ModuleType

PURE_PYTHON_ENV = "CKPTCTL_PURE_PYTHON"

scan: ModuleType | None = None
if not os.environ.get(PURE_PYTHON_ENV):
    try:
        from ckptctl import _scan as scan
    except ImportError:  # not built: the Python decoders read everything
        scan = None

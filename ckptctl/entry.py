"""One stored value as an index describes it: the type every format module returns.

It lives apart from :mod:`ckptctl.reader` so that the format modules, which the reader
imports, need not import the reader back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True, unsafe_hash=True)
class Entry:
    """One stored value, as the index describes it. Read-only by convention, not frozen: a
    frozen dataclass sets each field through ``object.__setattr__``, three times slower to
    build, and a listing builds one per value."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int | None

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def is_numeric(self) -> bool:
        return self.dtype not in ("string", "variant", "resource")

"""Attributes renamed for clarity: the old Python names keep working, with a
DeprecationWarning, and the JSON documents keep the names their schemas give."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any


def deprecated_alias(old: str, new: str) -> Any:
    """A read-only property ``old`` that warns and returns the attribute ``new``."""

    def get(self: Any) -> Any:
        warnings.warn(
            f"{type(self).__name__}.{old} is now .{new}", DeprecationWarning, stacklevel=2
        )
        return getattr(self, new)

    return property(get, doc=f"Deprecated: use ``{new}``.")


def json_names(doc: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``doc`` with its keys renamed by ``names`` (Python name -> JSON name), in order."""
    return {names.get(k, k): v for k, v in doc.items()}

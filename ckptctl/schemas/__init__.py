"""JSON Schemas (draft 2020-12) of the documents `--json` prints: inspect, restore, diff, trend.

Each schema requires the fields the README documents as the contract, with their types, and
allows any other field (``additionalProperties`` is open), so a document with more fields than
today's still validates::

    import jsonschema
    from ckptctl.schemas import load_schema

    jsonschema.validate(document, load_schema("restore"))
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ckptctl.errors import UsageError

_SUFFIX = ".schema.json"


def names() -> list[str]:
    """The names :func:`load_schema` accepts, e.g. ``["diff", "inspect", "restore"]``."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[: -len(_SUFFIX)] for f in files if f.name.endswith(_SUFFIX))


def load_schema(name: str) -> dict[str, Any]:
    """The schema of one command's JSON document: ``"inspect"`` (or ``"inspect.schema.json"``).

    Each call returns a fresh dict, so callers may modify it.
    """
    stem = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    available = names()
    if stem not in available:
        raise UsageError(f"no JSON schema named {name!r}", f"available: {', '.join(available)}")
    text = resources.files(__name__).joinpath(stem + _SUFFIX).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

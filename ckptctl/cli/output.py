"""Printing JSON documents: no Rich, so `--json` runs never import it."""

from __future__ import annotations

import sys
from dataclasses import asdict, is_dataclass
from typing import Any

_PRETTY_LIMIT = 200_000  # characters: smaller documents are indented for people to read


def print_json(doc: Any) -> None:
    import json

    if is_dataclass(doc) and not isinstance(doc, type):
        doc = asdict(doc)
    text = json.dumps(doc, default=str)  # the C encoder: fast on thousands of values
    if len(text) < _PRETTY_LIMIT:
        text = json.dumps(doc, indent=2, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()

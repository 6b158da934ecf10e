"""Ordering names that come from a file: a hostile checkpoint must not crash the reader."""

from __future__ import annotations


def digits_order(digits: str) -> tuple[int, str]:
    """A sort key ordering decimal strings (``"2"``, ``"10"``, ``"007"``) by value without
    ``int()``, which refuses strings of more than 4,300 digits."""
    stripped = digits.lstrip("0")
    return len(stripped), stripped

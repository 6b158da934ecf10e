"""Ordering names that come from a file: a hostile checkpoint must not crash the reader."""

from __future__ import annotations

import re


def digits_order(digits: str) -> tuple[int, str]:
    """A sort key ordering decimal strings (``"2"``, ``"10"``, ``"007"``) by value without
    ``int()``, which refuses strings of more than 4,300 digits."""
    stripped = digits.lstrip("0")
    return len(stripped), stripped


def natural_order(name: str) -> list[tuple[int, str]]:
    """A sort key putting ``vars/2`` before ``vars/10``: each run of digits by its value
    (:func:`digits_order`), each other run as text."""
    key: list[tuple[int, str]] = []
    for run in _RUNS.findall(name):
        key.append(digits_order(run) if "0" <= run[0] <= "9" else (-1, run))
    return key


_RUNS = re.compile(r"[0-9]+|[^0-9]+")

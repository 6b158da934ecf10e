"""Fold table rows that differ only in numbered path parts: ``blocks.{0..11}.kernel``."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUM = re.compile(r"(?<![^./])\d+(?![^./])")


def _pattern(cell: str) -> tuple[str, list[int]]:
    """Mask the numbered parts of a path; other cells (counts, shapes) must match exactly."""
    if "." not in cell and "/" not in cell:
        return cell.replace("#", "##"), []
    return _NUM.sub("#", cell.replace("#", "##")), [int(n) for n in _NUM.findall(cell)]


def _span(values: list[int]) -> str:
    uniq = sorted(set(values))
    if len(uniq) > 2 and uniq == list(range(uniq[0], uniq[-1] + 1)):
        return f"{{{uniq[0]}..{uniq[-1]}}}"
    return "{" + ",".join(str(v) for v in uniq) + "}"


def _render(pattern: str, columns: list[list[int]]) -> str:
    parts = re.split(r"(?<!#)#(?!#)", pattern)
    out = parts[0]
    for i, rest in enumerate(parts[1:]):
        values = columns[i]
        out += (str(values[0]) if len(set(values)) == 1 else _span(values)) + rest
    return out.replace("##", "#")


def fold_rows(rows: Sequence[Sequence[str]], min_group: int = 3) -> list[list[str]]:
    """Merge rows whose cells are equal once numbers are masked, keeping first-seen order."""
    groups: dict[tuple[str, ...], list[list[list[int]]]] = {}
    for row in rows:
        patterns = [_pattern(cell) for cell in row]
        key = tuple(p for p, _ in patterns)
        groups.setdefault(key, []).append([nums for _, nums in patterns])
    out: list[list[str]] = []
    for key, members in groups.items():
        if len(members) < min_group:
            out += [
                [_render(p, [[n] for n in nums]) for p, nums in zip(key, m, strict=True)]
                for m in members
            ]
            continue
        folded = []
        for c, pattern in enumerate(key):
            columns = [list(col) for col in zip(*(m[c] for m in members), strict=True)]
            folded.append(_render(pattern, columns))
        out.append(folded)
    return out

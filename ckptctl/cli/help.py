"""How ``--help`` reads: plain placeholders and option names never broken across lines.

Typer writes a required argument as ``{CHECKPOINT}`` in the usage line, and Click's text
wrapper breaks words at hyphens (``--fail-`` / ``on-nonfinite``). The command and group
classes here write ``ckptctl inspect [OPTIONS] CHECKPOINT`` and wrap only at spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from typer._click.formatting import HelpFormatter
from typer.core import TyperCommand, TyperGroup

_NO_BREAK = "\u2011"  # a non-breaking hyphen: the wrapper does not split words at it


class _Formatter(HelpFormatter):
    """Click's formatter, with hyphens protected from the wrapper and restored after it."""

    def _protected(self, write: Any, *args: Any, **kwargs: Any) -> None:
        start = len(self.buffer)
        write(*args, **kwargs)
        self.buffer[start:] = [part.replace(_NO_BREAK, "-") for part in self.buffer[start:]]

    def write_text(self, text: str) -> None:
        self._protected(super().write_text, text.replace("-", _NO_BREAK))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        protected = [(first, second.replace("-", _NO_BREAK)) for first, second in rows]
        self._protected(super().write_dl, protected, col_max, col_spacing)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        self._protected(super().write_usage, prog, args.replace("-", _NO_BREAK), prefix)


class _Context(typer.Context):
    formatter_class = _Formatter


def _plain(piece: str) -> str:
    """``{CHECKPOINT}`` -> ``CHECKPOINT``: a required argument needs no mark in the usage."""
    return piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece


class Command(TyperCommand):
    context_class = _Context

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [_plain(piece) for piece in super().collect_usage_pieces(ctx)]


class Group(TyperGroup):
    context_class = _Context

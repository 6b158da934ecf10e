"""The options of a restore, one typed set shared by ``restore``, ``migrate``, the CLI and
:mod:`ckptctl.testing`."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ckptctl.errors import UsageError

PathLike = str | os.PathLike[str]

INPUT_DTYPES = (
    "float32",
    "float16",
    "bfloat16",
    "float64",
    "int32",
    "int64",
    "int16",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
)
"""What ``--input-dtype`` takes: the dtypes random inputs are made in."""

RENAMED = {"save_golden_to": "save_golden", "input_shape": "input_shapes"}
"""Earlier names of options, still accepted (with a DeprecationWarning)."""


@dataclass(frozen=True)
class RestoreOptions:
    """Each field is the CLI option of the same name (``input_shapes`` is ``--input-shape``,
    repeated; ``maps`` is ``--map``, repeated)."""

    model_args: dict[str, Any] = field(default_factory=dict)
    input_shapes: Sequence[Sequence[int]] | None = None
    input_dtype: str = "float32"
    input_range: tuple[int, int] = (0, 10)
    key: str | None = None
    optimizer: str | Callable[[], Any] | None = None
    optimizer_key: str | None = None
    partial: bool = False
    seed: int = 0
    batches: int = 3
    atol: float = 0.0
    rtol: float = 0.0
    save_golden: PathLike | None = None
    golden: PathLike | None = None
    maps: Sequence[str] = ()
    allow_unused: Sequence[str] = ()
    allow_missing: Sequence[str] = ()
    allow_file: PathLike | None = None
    by_name: bool = False
    """Keras 2 HDF5 files: pair layers by name, as ``load_weights(by_name=True)``, not order."""

    def __post_init__(self) -> None:
        if self.batches < 1:
            raise UsageError("--batches must be at least 1")
        if self.input_dtype not in INPUT_DTYPES:
            close = difflib.get_close_matches(self.input_dtype, INPUT_DTYPES, n=1)
            raise UsageError(
                f"--input-dtype {self.input_dtype}: not a dtype",
                (f"did you mean {close[0]}? " if close else "")
                + f"one of {', '.join(INPUT_DTYPES)}",
            )
        for shape in self.input_shapes or ():
            if not shape or any(d < 1 for d in shape):
                text = ",".join(str(d) for d in shape)
                raise UsageError(f"--input-shape {text!r}: expected positive integers like 4,20")
        low, high = self.input_range
        if high <= low:
            raise UsageError(f"--input-range {low},{high}: HIGH must be greater than LOW")

    def accepted_patterns(self) -> tuple[list[str], list[str]]:
        """``--allow-unused`` and ``--allow-missing`` patterns, with the allow file's."""
        unused, missing = list(self.allow_unused), list(self.allow_missing)
        if self.allow_file is not None:
            file_unused, file_missing = read_allow_file(self.allow_file)
            unused += file_unused
            missing += file_missing
        return unused, missing


OPTION_NAMES = frozenset(f.name for f in fields(RestoreOptions))


def make_options(options: RestoreOptions | None = None, **kwargs: Any) -> RestoreOptions:
    """``options`` with ``kwargs`` (option names, or their earlier names) applied."""
    for old, new in RENAMED.items():
        if old in kwargs:
            warnings.warn(f"{old}= is now {new}=", DeprecationWarning, stacklevel=3)
            value = kwargs.pop(old)
            if old == "input_shape" and value is not None:
                value = [value] if value and isinstance(value[0], int) else value
            kwargs.setdefault(new, value)
    unknown = set(kwargs) - OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown restore option(s): {', '.join(sorted(unknown))}")
    if "model_args" in kwargs and kwargs["model_args"] is None:
        kwargs["model_args"] = {}
    base = options if options is not None else RestoreOptions()
    return replace(base, **kwargs)


def read_allow_file(path: PathLike) -> tuple[list[str], list[str]]:
    """``unused: PATTERN`` / ``missing: PATTERN`` lines (``#`` comments) of a baseline file."""
    unused: list[str] = []
    missing: list[str] = []
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"--allow-file {path}: cannot read it ({e.strerror})") from e
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, sep, pattern = line.partition(":")
        if not sep or kind.strip() not in ("unused", "missing") or not pattern.strip():
            raise UsageError(
                f"{path}:{n}: expected 'unused: PATTERN' or 'missing: PATTERN', got {raw!r}"
            )
        (unused if kind.strip() == "unused" else missing).append(pattern.strip())
    return unused, missing

"""What ``restore`` found and proved: :class:`RestoreReport` and its parts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ckptctl._renamed import deprecated_alias, json_names

RNG_STATE = "random-number state"
"""Why a value is not checkpointed: Keras keeps a ``SeedGenerator``'s state (Dropout, random
augmentation layers) in a variable that ``tf.train.Checkpoint`` never saves."""


@dataclass
class UnusedEntry:
    key: str
    path: str | None
    shape: list[int]
    dtype: str
    suggestion: str | None = None
    accepted: bool = False
    kind: str = "model"
    reason: str | None = None


@dataclass
class MissingEntry:
    path: str
    shape: list[int]
    dtype: str
    suggestion: str | None = None
    accepted: bool = False
    kind: str = "model"
    reason: str | None = None


@dataclass
class NotCheckpointed:
    """A model variable no checkpoint holds by design; listed, never a failure."""

    path: str
    shape: list[int]
    dtype: str
    reason: str = RNG_STATE


@dataclass
class LayerDrift:
    """A Keras file's layer group saved from one layer and about to load into another: in
    ``drifted``, a layer of the model that has another place in the file (two swapped); in
    ``renamed``, one whose name is nowhere in the file (a rename, listed, not a failure)."""

    group: str
    saved: str
    model: str


@dataclass
class MismatchedEntry:
    key: str
    path: str
    checkpoint_shape: list[int]
    model_shape: list[int]
    checkpoint_dtype: str
    model_dtype: str
    reason: str | None = None


@dataclass
class MappedEntry:
    """A value placed by a ``--map`` rule (or, for slots, by the variable it belongs to)."""

    key: str
    path: str
    model_path: str
    rule: str


@dataclass
class ValueCheck:
    checked: int = 0
    differing: list[str] = field(default_factory=list)


@dataclass
class GoldenCheck:
    file: str
    equal: bool
    max_abs_diff: float


@dataclass
class OutputCheck:
    batches: int = 0
    equal: bool = False
    max_abs_diff: float = 0.0
    finite: bool = True
    ran: bool = False
    golden: GoldenCheck | None = None
    detail: str | None = None
    comparable: bool = True
    """False when the outputs hold no tensors (``None``, a Python number): not compared."""
    stacked: bool = False
    """True when the batches were stacked and fed to each instance in one call."""


JSON_NAMES = {"root_child": "key", "naming": "format"}
"""Fields whose JSON name (the schema's) is not their Python name."""


@dataclass
class RestoreReport:
    ok: bool
    checkpoint: str
    model: str
    root_child: str
    """The child of the checkpoint's root holding the model (``.`` for the root itself); not a
    checkpoint key. JSON ``key``."""
    input_shapes: list[list[int]]
    matched: int
    unused: list[UnusedEntry]
    missing: list[MissingEntry]
    mismatched: list[MismatchedEntry]
    values: ValueCheck
    outputs: OutputCheck
    naming: str = "object-graph"
    """How the checkpoint names its values (:data:`ckptctl.reader.Naming`); JSON ``format``."""
    input_dtype: str = "float32"
    input_dtypes: list[str] = field(default_factory=list)
    optimizer: str | None = None
    optimizer_key: str | None = None
    partial: bool = False
    restored: int = 0
    not_requested: list[str] = field(default_factory=list)
    not_checkpointed: list[NotCheckpointed] = field(default_factory=list)
    stopped: str | None = None
    saved_golden: str | None = None
    maps: list[str] = field(default_factory=list)
    mapped: list[MappedEntry] = field(default_factory=list)
    suggested_maps: list[str] = field(default_factory=list)
    drifted: list[LayerDrift] = field(default_factory=list)
    renamed: list[LayerDrift] = field(default_factory=list)

    key = deprecated_alias("key", "root_child")
    format = deprecated_alias("format", "naming")

    def to_dict(self) -> dict[str, Any]:
        return json_names(asdict(self), JSON_NAMES)

    @property
    def problems(self) -> bool:
        return bool(
            any(not u.accepted for u in self.unused)
            or any(not m.accepted for m in self.missing)
            or self.mismatched
            or self.drifted
        )

    def counts(self) -> dict[str, int]:
        """Leftovers that fail the check, and those accepted: one headline for every view."""
        return {
            "unused": sum(not u.accepted for u in self.unused),
            "missing": sum(not m.accepted for m in self.missing),
            "mismatched": len(self.mismatched),
            "drifted": len(self.drifted),
            "accepted": sum(u.accepted for u in self.unused)
            + sum(m.accepted for m in self.missing),
        }

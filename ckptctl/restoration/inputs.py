"""The inputs a model is built and checked with: shapes, dtypes, random batches."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ckptctl import _tf
from ckptctl.errors import ModelError, UsageError
from ckptctl.loader import ModelSpec, source_file, user_code
from ckptctl.objgraph import KeyInfo
from ckptctl.reader import Checkpoint


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError as e:
        raise UsageError(f"--input-shape {text!r}: expected integers like 4,20") from e
    if not dims or any(d < 1 for d in dims):
        raise UsageError(f"--input-shape {text!r}: expected positive integers like 4,20")
    return dims


def declared_inputs(model: Any, dtype: str) -> list[InputSpec] | None:
    """Input shapes the model declares: a ``ckptctl_input_shapes`` hook, or Keras inputs."""
    hook = getattr(model, "ckptctl_input_shapes", None)
    if hook is not None:
        if callable(hook):
            with user_code("ckptctl_input_shapes() raised", argv0=source_file(model)):
                shapes = hook()
        else:
            shapes = hook
        if shapes and isinstance(shapes[0], int):
            shapes = [shapes]
        dtypes = getattr(model, "ckptctl_input_dtypes", None) or [dtype] * len(shapes)
        return [
            InputSpec(tuple(int(d) for d in s), str(t)) for s, t in zip(shapes, dtypes, strict=True)
        ]
    try:
        inputs = model.inputs
    except Exception:
        return None
    if not inputs:
        return None
    specs = []
    for tensor in inputs:
        shape = tuple(2 if d is None else int(d) for d in tensor.shape)
        dt = getattr(tensor, "dtype", dtype)
        specs.append(InputSpec(shape, getattr(dt, "name", str(dt))))
    return specs


def proposed_shape(ckpt: Checkpoint, scope: tuple[str, ...]) -> str | None:
    """A guess at ``--input-shape`` from the model's first kernel, saying how it was made:
    the first, in the graph's order, whose input size no other kernel puts out (a head
    tracked before the nested blocks that feed it is not taken for the input layer)."""
    kernels: list[tuple[KeyInfo, tuple[int, ...]]] = []
    for info in sorted(ckpt.key_infos.values(), key=lambda i: (i.node_id, i.key)):
        if info.kind != "model" or not _in_scope(info, scope):
            continue
        shape = tuple(ckpt.entry(info.key).shape)
        if len(shape) in (2, 3, 4):
            kernels.append((info, shape))
    if not kernels:
        return None
    outputs = {shape[-1] for _, shape in kernels}
    first = next(
        (k for k in kernels if _is_embedding(k[0]) or _input_size(k[1]) not in outputs),
        kernels[0],
    )
    return _proposal(*first)


def _is_embedding(info: KeyInfo) -> bool:
    return info.path.rsplit(".", 1)[-1].lstrip("_") == "embeddings"


def _input_size(shape: tuple[int, ...]) -> int:
    """The size a kernel takes in: Dense [in, out], Conv1D [k, in, out], Conv2D [h, w, in, out]."""
    return shape[{2: 0, 3: 1, 4: 2}[len(shape)]]


def _proposal(info: KeyInfo, shape: tuple[int, ...]) -> str:
    if len(shape) == 2 and _is_embedding(info):
        return (
            f"4,16 --input-dtype int32 (a guess: {info.path} is {list(shape)}, an "
            f"Embedding's table, so token ids below {shape[0]}; the 16 steps are arbitrary)"
        )
    if len(shape) == 2:
        return (
            f"4,{shape[0]} (a guess: {info.path} is {list(shape)}, so a Dense input of "
            f"{shape[0]} features)"
        )
    if len(shape) == 4:
        return (
            f"4,32,32,{shape[2]} (a guess: {info.path} is {list(shape)}, so "
            f"{shape[2]} input channel(s); the 32x32 image size is arbitrary)"
        )
    return (
        f"4,16,{shape[1]} (a guess: {info.path} is {list(shape)}, so {shape[1]} "
        "features per step; the 16 steps are arbitrary)"
    )


def _in_scope(info: KeyInfo, scope: tuple[str, ...]) -> bool:
    return tuple(info.path.split(".")[: len(scope)]) == scope


def make_batches(
    specs: Sequence[InputSpec], seed: int, count: int, value_range: tuple[int, int]
) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        batch = []
        for s in specs:
            dt = np.dtype(s.dtype) if s.dtype != "bfloat16" else np.dtype("float32")
            if dt.kind in "iu":
                batch.append(rng.integers(value_range[0], value_range[1], s.shape).astype(dt))
            elif dt.kind == "b":
                batch.append(rng.integers(0, 2, s.shape).astype(bool))
            else:
                batch.append(rng.standard_normal(s.shape).astype(dt))
        batches.append(batch)
    return batches


def call_model(
    model: Any, batch: list[np.ndarray], what: str | None = None, hint: str | None = None
) -> Any:
    """The model's outputs on ``batch`` (``training=False`` where it takes it). Whatever its
    code raises is a ``ModelError`` whose message starts with ``what``."""
    tf = _tf.tensorflow()
    tensors = [tf.convert_to_tensor(x) for x in batch]
    x = tensors[0] if len(tensors) == 1 else tensors
    if what is None:
        shapes = " and ".join(str(tuple(t.shape)) for t in batch)
        what = f"the model raised when called on an input of shape {shapes}:"
    with user_code(what, hint, argv0=source_file(model)):
        try:
            return model(x, training=False)
        except TypeError as e:
            if "training" not in str(e):
                raise
            return model(x)


def build_model(model: Any, spec: ModelSpec | str, batch: list[np.ndarray]) -> None:
    shapes = " and ".join(str(tuple(x.shape)) for x in batch)
    try:
        call_model(
            model,
            batch,
            f"{spec} raised when called on an input of shape {shapes}:",
            "the traceback above shows where; if the shape is wrong, pass the one the model "
            "expects with --input-shape (and --input-dtype)",
        )
    except ModelError as e:
        bound = _index_bound(e.__cause__)
        if bound is None or not any(x.dtype.kind in "iu" for x in batch):
            raise
        raise ModelError(
            e.message,
            f"the random integer inputs hold indices past the {bound} rows of an embedding or "
            f"lookup in the model: pass --input-range 0,{bound}",
            user_traceback=e.user_traceback,
        ) from e.__cause__


_OUT_OF_RANGE = re.compile(r"indices\[[0-9,]*\] = -?[0-9]+ is not in \[0, ([0-9]+)\)")
"""TensorFlow's error for a gather (an Embedding's lookup) past the table's rows."""


def _index_bound(error: BaseException | None) -> int | None:
    """The number of rows a gather took, when ``error`` is an index past them."""
    found = _OUT_OF_RANGE.search(str(error)) if error is not None else None
    rows = int(found.group(1)) if found else 0
    return rows or None


def input_specs(
    model: Any,
    shapes: Sequence[Sequence[int]] | None,
    dtype: str,
    ckpt: Checkpoint,
    scope: tuple[str, ...],
    label: str,
) -> list[InputSpec]:
    if shapes:
        return [InputSpec(tuple(int(d) for d in s), dtype) for s in shapes]
    declared = declared_inputs(model, dtype)
    if declared:
        return declared
    proposal = proposed_shape(ckpt, scope) if ckpt.naming == "object-graph" else None
    raise UsageError(
        f"{label} declares no input shape: pass --input-shape (repeat it for several inputs)",
        f"e.g. --input-shape {proposal}"
        if proposal
        else "or give the model class a ckptctl_input_shapes attribute, e.g. [(4, 20)]",
    )

"""The proof after assignment: every restored value, the outputs, golden files."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ckptctl import _tf, speedups
from ckptctl.chunks import CHUNK_BYTES, split_flat
from ckptctl.compare import compare_arrays, identical_streams
from ckptctl.errors import CheckpointError, ModelError, UsageError
from ckptctl.positional import PositionalChunks, map_chunks
from ckptctl.reader import Checkpoint, Entry
from ckptctl.restoration.inputs import call_model
from ckptctl.restoration.plan import Pair
from ckptctl.restoration.report import OutputCheck, ValueCheck


def check_values(ckpt: Checkpoint, pairs: list[Pair]) -> ValueCheck:
    """Every restored variable against the stored tensor, streamed in chunks: bit for bit
    (:func:`ckptctl.compare.identical_streams`)."""
    check = ValueCheck()
    for p in pairs:
        live = live_value(p.var)
        check.checked += 1
        if not stored_equals(ckpt, p.entry.key, live):
            check.differing.append(p.path)
    return check


def live_value(var: Any) -> np.ndarray:
    """A variable's value as a numpy array: a read-only view of the tensor TensorFlow reads
    (``var.numpy()`` copies it, 0.3 s a GiB); ``var.numpy()`` for what is not a TensorFlow
    or Keras variable."""
    tf = _tf.tensorflow()
    try:
        return np.asarray(tf.convert_to_tensor(var))
    except (TypeError, ValueError):
        return np.asarray(var.numpy())


def stored_equals(ckpt: Checkpoint, key: str, live: np.ndarray) -> bool:
    """Whether ``live`` holds the value stored at ``key`` bit for bit (same shape and dtype)."""
    entry = ckpt.entry(key)
    if tuple(entry.shape) != live.shape or not _same_dtype(entry.dtype, live.dtype):
        return False
    kernels = speedups.kernels
    if kernels is not None and live.dtype != object and live.nbytes > CHUNK_BYTES:
        chunks = ckpt.positional_chunks(key, CHUNK_BYTES)
        if chunks is not None:
            return _same_by_position(chunks, live, kernels)
    return identical_streams(ckpt.read_chunks(key, CHUNK_BYTES), split_flat(live, CHUNK_BYTES))


def _same_by_position(chunks: PositionalChunks, live: np.ndarray, kernels: ModuleType) -> bool:
    """A value of several chunks against ``live``, chunk by chunk on two threads, each
    chunk's bytes against the same bytes of ``live`` (``memcmp``, without the GIL); every
    chunk is read, and the value's crc32c checked."""
    flat = np.ascontiguousarray(live).reshape(-1).view(np.uint8).data
    size = chunks.step * chunks.itemsize

    def same(index: int, view: memoryview) -> bool:
        start = index * size
        return bool(kernels.same_bytes(view, flat[start : start + len(view)]))

    return all(map_chunks(chunks, same))


def streams_equal(
    a: Entry, chunks_a: Iterable[np.ndarray], b: Entry, chunks_b: Iterable[np.ndarray]
) -> bool:
    """Whether two stored values (their entries, and their chunks) are bit-for-bit copies, of
    the same shape and dtype."""
    if (a.shape, a.dtype) != (b.shape, b.dtype):
        return False
    return identical_streams(chunks_a, chunks_b)


def _same_dtype(stored: str, live: np.dtype[Any]) -> bool:
    if stored == "string":
        return live.kind in "OSU"
    return stored == str(live.name)


class NotTensors(Exception):
    """The model's outputs hold something other than tensors: nothing that can be compared."""


_PYTHON_SCALARS = (bool, int, float, complex, str, bytes)


def _not_a_tensor(leaf: Any, where: str) -> str | None:
    """Why ``leaf`` (one output) cannot be compared, or None when it is a tensor."""
    if leaf is None:
        return f"{where} None: nothing to compare (does call() return its output?)"
    if isinstance(leaf, _PYTHON_SCALARS):
        return (
            f"{where} a Python {type(leaf).__name__} ({str(leaf)[:40]}), not a tensor: "
            "it cannot show whether the restored values are used"
        )
    if isinstance(leaf, (np.ndarray, np.generic)) or _tf.tensorflow().is_tensor(leaf):
        return None
    return f"{where} a {type(leaf).__module__}.{type(leaf).__name__}, not a tensor"


def flatten_outputs(outputs: Any) -> list[np.ndarray]:
    """The model's outputs as numpy arrays, element by element of tuples, lists and dicts.

    A ``tf.SparseTensor`` becomes its structure (indices and dense shape, compared exactly)
    and its values; a ``tf.RaggedTensor`` its row splits (exactly) and its flat values. Raises
    :class:`NotTensors` when an output is not a tensor (``None``, a Python number) or there
    are none: outputs that cannot depend on the restored values prove nothing.
    """
    tf = _tf.tensorflow()
    leaves = tf.nest.flatten(outputs)  # composite tensors stay whole
    if not leaves:
        raise NotTensors("the model returned no tensors (an empty structure): nothing to compare")
    arrays: list[np.ndarray] = []
    for i, leaf in enumerate(leaves):
        where = "the model returned" if len(leaves) == 1 else f"output {i} of the model is"
        if isinstance(leaf, tf.SparseTensor):
            leaf = tf.sparse.reorder(leaf)
            arrays.append(_structure("sparse", leaf.indices, leaf.dense_shape))
            arrays.append(np.asarray(leaf.values))
        elif isinstance(leaf, tf.RaggedTensor):
            arrays.append(_structure("ragged", *leaf.nested_row_splits))
            arrays.append(np.asarray(leaf.flat_values))
        else:
            problem = _not_a_tensor(leaf, where)
            if problem is not None:
                raise NotTensors(problem)
            arrays.append(np.asarray(leaf))
    return arrays


def _structure(kind: str, *parts: Any) -> np.ndarray:
    """A composite tensor's layout as one string, compared exactly (and stored in golden
    files without pickling)."""
    return np.array(json.dumps({kind: [np.asarray(p).tolist() for p in parts]}))


def compare_outputs(
    a: list[np.ndarray], b: list[np.ndarray], atol: float, rtol: float
) -> tuple[bool, float, bool]:
    """(equal, max |a-b|, all finite), under :mod:`ckptctl.compare`'s rule: numbers under the
    tolerances; bools, strings and structure exactly. A count or shape that differs is not
    equal, infinitely far."""
    if len(a) != len(b):
        return False, math.inf, True
    equal, worst, finite = True, 0.0, True
    for x, y in zip(a, b, strict=True):
        if x.dtype.kind in "fc":
            finite = finite and bool(np.isfinite(x).all() and np.isfinite(y).all())
        result = compare_arrays(x, y, atol=atol, rtol=rtol)
        equal = equal and result.equal
        if result.max_abs_diff is not None:
            worst = max(worst, result.max_abs_diff)
    return equal, worst, finite


STACK_BYTES = 1 << 20
"""Random batches that hold at most this many bytes in all are stacked into one call."""


class BatchCalls:
    """How both instances are called on the random batches: each the same way.

    Batches of at most :data:`STACK_BYTES` in all, each input of rank 1 or more, are stacked
    along their first axis and fed in one call, when ``stack`` allows (not while recording a
    golden file, whose outputs are the ones of each batch alone). A model whose cost is reading
    its weights (a wide Dense, a big embedding) then reads them once, not once a batch. Both
    instances see the same stacked input, so the comparison is as strict. The first instance
    decides: where the stacked call raises or warns (a model built for one batch size), every
    batch gets a call of its own, and the second instance is called the same way, the stacked
    call included (its result and warnings discarded), so that a model whose state its calls
    change is called alike.
    """

    def __init__(self, batches: list[list[np.ndarray]], stack: bool) -> None:
        self.batches = batches
        self._inputs = _stacked(batches) if stack else None
        self.stacked: bool | None = None if self._inputs is not None else False
        """Whether the batches were fed in one call (None until the first instance ran)."""

    def outputs(self, model: Any) -> list[list[np.ndarray]] | str:
        """The model's flattened outputs (one list for the stacked call, else one a batch), or
        why they cannot be compared."""
        try:
            if self._inputs is not None:
                if self.stacked is None:
                    result = _quiet_call(model, self._inputs)
                    self.stacked = result is not None
                    if result is not None:
                        return [flatten_outputs(result)]
                elif self.stacked:
                    return [flatten_outputs(call_model(model, self._inputs))]
                else:
                    _quiet_call(model, self._inputs)  # as the first instance was called
            return [flatten_outputs(call_model(model, batch)) for batch in self.batches]
        except NotTensors as e:
            return str(e)


def _stacked(batches: list[list[np.ndarray]]) -> list[np.ndarray] | None:
    """The batches' inputs stacked along their first axis, or None where that is not worth it
    or not possible (one batch, too many bytes, an input of rank 0)."""
    if len(batches) < 2 or sum(x.nbytes for b in batches for x in b) > STACK_BYTES:
        return None
    if any(x.ndim == 0 for b in batches for x in b):
        return None
    return [np.concatenate(inputs) for inputs in zip(*batches, strict=True)]


def _quiet_call(model: Any, batch: list[np.ndarray]) -> Any:
    """The model's outputs on ``batch``, or None when its call raised or warned (either
    discarded: the batches are then called one by one, and say it themselves)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outputs = call_model(model, batch)
        except ModelError:
            return None
    return None if caught else outputs


def check_outputs(
    outs_a: list[list[np.ndarray]] | str,
    outs_b: list[list[np.ndarray]] | str,
    batches: int,
    atol: float,
    rtol: float,
) -> OutputCheck:
    """Two instances' outputs on the same ``batches`` batches (from :meth:`BatchCalls.outputs`),
    compared call by call."""
    check = OutputCheck(batches=batches, ran=True, equal=True)
    for out in (outs_a, outs_b):
        if isinstance(out, str):
            check.equal, check.comparable, check.detail = False, False, out
            return check
    assert isinstance(outs_a, list) and isinstance(outs_b, list)
    for out_a, out_b in zip(outs_a, outs_b, strict=True):
        equal, worst, finite = compare_outputs(out_a, out_b, atol, rtol)
        check.equal = check.equal and equal
        check.finite = check.finite and finite
        check.max_abs_diff = max(check.max_abs_diff, worst)
    if not check.finite:
        check.detail = "the model's outputs contain NaN or Inf"
    elif not check.equal:
        check.detail = (
            "two restored instances disagree: some state is not restored from the checkpoint"
        )
    return check


def save_golden(
    path: Path, batches: list[list[np.ndarray]], outputs: list[list[np.ndarray]]
) -> None:
    arrays: dict[str, np.ndarray] = {}
    for b, (inputs, outs) in enumerate(zip(batches, outputs, strict=True)):
        for i, x in enumerate(inputs):
            arrays[f"input_{b}_{i}"] = x
        for j, y in enumerate(outs):
            arrays[f"output_{b}_{j}"] = y
    meta = {"batches": len(batches), "inputs": len(batches[0]), "outputs": len(outputs[0])}
    arrays["meta"] = np.array(json.dumps(meta))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_golden(path: Path) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            batches = [
                [data[f"input_{b}_{i}"] for i in range(meta["inputs"])]
                for b in range(meta["batches"])
            ]
            outputs = [
                [data[f"output_{b}_{j}"] for j in range(meta["outputs"])]
                for b in range(meta["batches"])
            ]
    except FileNotFoundError as e:
        raise UsageError(f"--golden {path}: no such file") from e
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"{path}: not a golden file written by --save-golden ({e})",
            "record one with: ckptctl restore CHECKPOINT --model ... --save-golden FILE.npz",
        ) from e
    return batches, outputs

"""The proof after assignment: every restored value, the outputs, golden files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ckptctl import _tf
from ckptctl.errors import CheckpointError, UsageError
from ckptctl.reader import Checkpoint
from ckptctl.restoration.inputs import call_model
from ckptctl.restoration.plan import Pair
from ckptctl.restoration.report import OutputCheck, ValueCheck


def check_values(ckpt: Checkpoint, pairs: list[Pair]) -> ValueCheck:
    check = ValueCheck()
    for p in pairs:
        stored = ckpt.read(p.entry.key)
        live = np.asarray(p.var.numpy())
        check.checked += 1
        same = stored.shape == live.shape and stored.dtype == live.dtype
        if not same or stored.tobytes() != live.tobytes():
            check.differing.append(p.path)
    return check


def flatten_outputs(outputs: Any) -> list[np.ndarray]:
    tf = _tf.tensorflow()
    return [np.asarray(t) for t in tf.nest.flatten(outputs)]


def compare_outputs(
    a: list[np.ndarray], b: list[np.ndarray], atol: float, rtol: float
) -> tuple[bool, float, bool]:
    """(equal, max |a-b|, all finite)."""
    if len(a) != len(b):
        return False, float("inf"), True
    equal, worst, finite = True, 0.0, True
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape:
            return False, float("inf"), finite
        if x.dtype.kind in "fc":
            finite = finite and bool(np.isfinite(x).all() and np.isfinite(y).all())
        if x.dtype.kind in "fciub" and x.size:
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        if atol == 0 and rtol == 0:
            equal = equal and np.array_equal(x, y)
        else:
            equal = equal and bool(np.allclose(x, y, atol=atol, rtol=rtol, equal_nan=False))
    return equal, worst, finite


def check_outputs(
    a: Any, b: Any, batches: list[list[np.ndarray]], atol: float, rtol: float
) -> OutputCheck:
    check = OutputCheck(batches=len(batches), ran=True, equal=True)
    for batch in batches:
        out_a = flatten_outputs(call_model(a, batch))
        out_b = flatten_outputs(call_model(b, batch))
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

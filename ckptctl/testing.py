"""Assertions for test suites: a checkpoint restores into a model; two checkpoints are equal.

::

    from ckptctl.testing import assert_restores

    def test_release_checkpoint_restores():
        assert_restores("ckpts/release-1.4", "mypkg.model:Net", input_shapes=[(8, 128)],
                        golden="tests/golden/net.npz")

The keyword arguments are :func:`ckptctl.restore`'s, named as the CLI's options
(``input_shapes``, ``save_golden``, ``maps``, ``allow_file``, ...). The earlier names
``input_shape`` and ``save_golden_to`` still work for a release, with a ``DeprecationWarning``.

A failed check raises ``AssertionError`` whose message is the report as ``ckptctl restore``
prints it (plain text), so the test's failure names what does not fit. An input that cannot be
read or used (a missing checkpoint, a model that does not import) raises the ``CkptctlError``
unchanged. Importing this module imports neither TensorFlow nor typer or rich: the message
comes from :mod:`ckptctl.summary`, not from the CLI's renderer.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ckptctl.errors import UsageError
from ckptctl.junit import diff_cases, restore_cases
from ckptctl.summary import diff_verdict, restore_text

if TYPE_CHECKING:
    from ckptctl.diffing import DiffReport
    from ckptctl.restoration import RestoreReport

Shape = str | Sequence[int]
"""``(4, 20)``, ``[4, 20]`` or ``"4,20"``: batch first."""

RENAMED = {"input_shape": "input_shapes", "save_golden_to": "save_golden"}
"""Earlier keyword names of :func:`assert_restores`, accepted with a DeprecationWarning."""

RENDER_WIDTH = 100


def assert_restores(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    *,
    input_shapes: Sequence[Shape] | None = None,
    golden: str | os.PathLike[str] | None = None,
    **options: Any,
) -> RestoreReport:
    """Restore ``checkpoint`` into ``model`` and return the report if every check passed.

    ``input_shapes``: one shape per input (``[(8, 128)]``, or ``["8,128"]``), as
    ``--input-shape`` repeated; without it, the model's declared inputs are used. ``golden``
    replays a file recorded with ``save_golden``. Other ``options`` go to
    :func:`ckptctl.restore` as they are (``optimizer``, ``key``, ``model_args``, ``atol``,
    ``rtol``, ``seed``, ``batches``, ``input_dtype``, ``partial``, ``save_golden``, ``maps``,
    ``allow_unused``, ``allow_missing``, ``allow_file``, ...). ``input_shape`` (one shape) and
    ``save_golden_to`` are the earlier names, deprecated.

    Raises ``AssertionError`` with the rendered report when a check fails, and
    ``CkptctlError`` when an input cannot be read or used.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    from ckptctl.restoration import restore

    input_shape = None
    for old, new in RENAMED.items():
        if old in options:
            warnings.warn(
                f"assert_restores({old}=...) is now {new}=...", DeprecationWarning, stacklevel=2
            )
            value = options.pop(old)
            if old == "input_shape":
                input_shape = value
            elif new in options:
                raise UsageError(f"pass {new} or {old}, not both")
            else:
                options[new] = value
    report = restore(
        checkpoint,
        model,
        input_shapes=_shapes(input_shape, input_shapes),
        golden=golden,
        **options,
    )
    if not report.ok:
        raise AssertionError(restore_failure_message(report))
    return report


def assert_checkpoints_equal(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    **options: Any,
) -> DiffReport:
    """Compare two checkpoints value by value and return the report if they are equal.

    Equal means the same values on both sides, each within ``|a - b| <= atol + rtol * |b|``
    (default: exactly). Other ``options`` go to :func:`ckptctl.diff` (``filter``,
    ``model_only``, ...). Raises ``AssertionError`` listing what changed and what is on one
    side only, and ``CkptctlError`` when a checkpoint cannot be read.
    """
    __tracebackhide__ = True
    from ckptctl.diffing import diff

    report = diff(a, b, atol=atol, rtol=rtol, **options)
    if not report.equal:
        raise AssertionError(diff_failure_message(report))
    return report


def restore_failure_message(report: RestoreReport) -> str:
    """A first line naming the failed checks, then the report as ``ckptctl restore`` shows it."""
    failed = [
        f"{case.name}: {case.failure.splitlines()[0]}"
        for case in restore_cases(report)
        if case.failure is not None
    ]
    head = f"{report.model} does not restore {report.checkpoint}"
    if failed:
        head += " (" + "; ".join(failed) + ")"
    return f"{head}\n\n{render_restore_text(report)}"


def render_restore_text(report: RestoreReport) -> str:
    """The report as ``ckptctl restore`` shows it, as plain text ``RENDER_WIDTH`` wide."""
    return restore_text(report, RENDER_WIDTH)


def diff_failure_message(report: DiffReport) -> str:
    """A summary line, both prefixes, then every changed value and every value on one side."""
    lines = [
        diff_verdict(report).text,
        f"A: {report.a}",
        f"B: {report.b}",
    ]
    for case in diff_cases(report):
        if case.failure is not None:
            summary, *entries = case.failure.splitlines()
            lines += ["", summary, *(f"  {e}" for e in entries)]
    return "\n".join(lines)


def _shapes(
    input_shape: Shape | None, input_shapes: Sequence[Shape] | None
) -> list[tuple[int, ...]] | None:
    if input_shape is not None and input_shapes is not None:
        raise UsageError("pass input_shape or input_shapes, not both")
    if input_shape is not None:
        return [_shape(input_shape)]
    if input_shapes is not None:
        if isinstance(input_shapes, str) or all(isinstance(d, int) for d in input_shapes):
            return [_shape(cast(Shape, input_shapes))]  # one shape, for the only input
        return [_shape(s) for s in input_shapes]
    return None


def _shape(shape: Shape) -> tuple[int, ...]:
    from ckptctl.restoration import parse_shape

    if isinstance(shape, str):
        return parse_shape(shape.strip().strip("()[]"))
    return tuple(int(d) for d in shape)

"""JUnit XML for CI systems that show test results: one test case per check of a report.

A restore report (:func:`restore_junit`) becomes one test suite whose cases are the checks, in
the order the flow runs them:

* ``structure``: every model variable has its value and every value is taken; the failure
  lists each unused, missing and mismatched entry on its own line, with shapes, dtypes and the
  likely match, and each layer-name drift (a Keras file's layers swapped). Entries accepted
  with ``--allow-unused`` / ``--allow-missing`` are no failure: they are listed in the case's
  ``system-out``, marked ``(accepted)``;
* ``values``: every restored variable equals the checkpoint bit for bit; the failure lists the
  paths that differ;
* ``outputs``: two independently initialised, restored instances give equal, finite outputs;
  the failure gives the largest difference and what it means;
* ``golden``: only when a golden file was replayed: the outputs match the recorded ones.

``values`` and ``outputs`` are skipped when the flow stopped before them (something did not fit
and nothing was assigned), with the reason as the skip message.

A diff report (:func:`diff_junit`) always has the same three cases, ``only_in_a``,
``only_in_b`` and ``changed``, whatever the checkpoints hold, so a CI's history of these test
names stays comparable from run to run; each failure lists its values one per line.

Files are written atomically: a temporary file in the target's directory, then
``os.replace``, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ckptctl.outputs import write_atomically
from ckptctl.summary import plural

if TYPE_CHECKING:
    from ckptctl.diffing import ChangedValue, DiffReport, OnlyIn
    from ckptctl.restoration import MissingEntry, RestoreReport, UnusedEntry

RESTORE_CLASSNAME = "ckptctl.restore"
DIFF_CLASSNAME = "ckptctl.diff"

# Characters XML 1.0 cannot hold at all, not even as character references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Case:
    """One test case.

    It failed when ``failure`` is set (its first line is the summary, the rest the details of
    what failed), was skipped when ``skipped`` is set (the reason), and could not run when
    ``error`` is set. ``details`` goes to the case's ``system-out`` whatever the outcome.
    """

    name: str
    failure: str | None
    details: str = ""
    skipped: str | None = None
    error: str | None = None


# ---------------------------------------------------------------- writing


def write_junit(
    suite_name: str,
    cases: Sequence[Case],
    path: str | os.PathLike[str],
    *,
    classname: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Write ``cases`` as one test suite to ``path``, atomically, creating its directory.

    Every case gets ``classname`` (default: ``suite_name``). Raises ``UsageError`` when the
    file cannot be written.
    """
    data = junit_xml(suite_name, cases, classname=classname, properties=properties)
    write_atomically(path, data)


def junit_xml(
    suite_name: str,
    cases: Sequence[Case],
    *,
    classname: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> bytes:
    """The JUnit XML document (UTF-8, with declaration) :func:`write_junit` writes."""
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(c.failure is not None for c in cases)),
        "errors": str(sum(c.error is not None for c in cases)),
        "skipped": str(sum(c.skipped is not None for c in cases)),
    }
    root = ET.Element("testsuites", {"name": "ckptctl", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _xml_text(suite_name), **counts})
    if properties:
        props = ET.SubElement(suite, "properties")
        for name, value in properties.items():
            ET.SubElement(props, "property", {"name": _xml_text(name), "value": _xml_text(value)})
    for case in cases:
        _add_case(suite, case, classname or suite_name)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _add_case(suite: ET.Element, case: Case, classname: str) -> None:
    element = ET.SubElement(
        suite, "testcase", {"classname": _xml_text(classname), "name": _xml_text(case.name)}
    )
    if case.skipped is not None:
        ET.SubElement(element, "skipped", {"message": _xml_text(case.skipped)})
    for tag, text in (("error", case.error), ("failure", case.failure)):
        if text is not None:
            outcome = ET.SubElement(element, tag, {"message": _xml_text(_first_line(text))})
            outcome.text = _xml_text(text)
    if case.details:
        ET.SubElement(element, "system-out").text = _xml_text(case.details)


def _xml_text(text: str) -> str:
    """``text`` with the characters XML cannot hold (NUL, most controls) spelled out."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


# ---------------------------------------------------------------- restore


def restore_junit(report: RestoreReport, path: str | os.PathLike[str]) -> None:
    """Write ``report``'s checks as JUnit XML: see the module docstring for the cases."""
    write_junit(
        f"ckptctl restore {report.model}",
        restore_cases(report),
        path,
        classname=RESTORE_CLASSNAME,
        properties=restore_properties(report),
    )


def restore_properties(report: RestoreReport) -> dict[str, str]:
    props = {
        "checkpoint": report.checkpoint,
        "model": report.model,
        "key": report.root_child,
        "format": report.naming,
        "input_shapes": " ".join(shape_text(s) for s in report.input_shapes),
        "input_dtype": report.input_dtype,
    }
    if report.optimizer is not None:
        props["optimizer"] = report.optimizer
    if report.partial:
        props["partial"] = "true"
    return props


def restore_cases(report: RestoreReport) -> list[Case]:
    """The checks of a restore, as test cases: structure, values, outputs[, golden]."""
    cases = [_structure_case(report), _values_case(report), _outputs_case(report)]
    golden = _golden_case(report)
    if golden is not None:
        cases.append(golden)
    return cases


def shape_text(shape: Sequence[int]) -> str:
    """``[20, 16]``; ``[]`` for a scalar."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def structure_lines(report: RestoreReport) -> list[str]:
    """One line per failing structure entry: each unused and missing entry not accepted by
    ``--allow-unused`` / ``--allow-missing``, each mismatched one, with shapes and the likely
    match, and each layer-name drift. Accepted entries are :func:`accepted_lines`."""
    lines = [_unused_line(u) for u in report.unused if not u.accepted]
    lines += [_missing_line(m) for m in report.missing if not m.accepted]
    for x in report.mismatched:
        line = (
            f"{x.path} is mismatched: checkpoint {shape_text(x.checkpoint_shape)} "
            f"{x.checkpoint_dtype}, model {shape_text(x.model_shape)} {x.model_dtype}"
        )
        if x.reason:
            line += f"; {x.reason}"
        lines.append(line)
    lines += [
        f"{d.group} was saved from layer '{d.saved}' and would load into '{d.model}': "
        f"'{d.saved}' is another layer of the model (layers swapped or reordered)"
        for d in report.drifted
    ]
    return lines


def accepted_lines(report: RestoreReport) -> list[str]:
    """One line per unused or missing entry the user accepted: listed, never a failure."""
    lines = [_unused_line(u) for u in report.unused if u.accepted]
    return lines + [_missing_line(m) for m in report.missing if m.accepted]


def _unused_line(u: UnusedEntry) -> str:
    line = (
        f"{u.path or u.key} {shape_text(u.shape)} {u.dtype} is unused"
        f"{' (accepted)' if u.accepted else ''}: "
        "the checkpoint holds it, nothing in the model takes it"
    )
    if u.suggestion:
        line += f" (likely match in the model: {u.suggestion})"
    if u.reason:
        line += f"; {u.reason}"
    return line


def _missing_line(m: MissingEntry) -> str:
    line = (
        f"{m.path} {shape_text(m.shape)} {m.dtype} is missing"
        f"{' (accepted)' if m.accepted else ''}: the checkpoint has no value for it"
    )
    if m.suggestion:
        line += f" (likely match in the checkpoint: {m.suggestion})"
    if m.reason:
        line += f"; {m.reason}"
    return line


def _structure_case(report: RestoreReport) -> Case:
    details = f"{plural(report.matched, 'value')} matched"
    accepted = accepted_lines(report)
    if accepted:
        details += f"\n{len(accepted)} accepted (--allow-unused, --allow-missing, --allow-file):"
        details += "".join(f"\n  {line}" for line in accepted)
    if report.not_requested:
        details += f"\n{len(report.not_requested)} not requested (outside what was restored):"
        details += "".join(f"\n  {key}" for key in report.not_requested)
    if not report.problems:
        return Case("structure", None, details)
    counts = [
        f"{len(items)} {word}"
        for word, items in (
            ("unused", [u for u in report.unused if not u.accepted]),
            ("missing", [m for m in report.missing if not m.accepted]),
            ("mismatched", report.mismatched),
            ("drifted", report.drifted),
        )
        if items
    ]
    summary = ", ".join(counts)
    if not report.partial:
        summary += "; nothing was assigned"
    return Case("structure", "\n".join([summary, *structure_lines(report)]), details)


def _values_case(report: RestoreReport) -> Case:
    v = report.values
    if report.stopped:
        return Case("values", None, skipped=report.stopped)
    if v.differing:
        summary = f"{len(v.differing)} of {v.checked} restored values differ from the checkpoint"
        return Case("values", "\n".join([summary, *v.differing]))
    return Case("values", None, f"{v.checked} restored, each equal to the checkpoint bit for bit")


def _outputs_case(report: RestoreReport) -> Case:
    o = report.outputs
    if not o.ran:
        return Case("outputs", None, skipped=report.stopped or "the outputs were not compared")
    compared = f"{o.batches} random batches through two restored instances"
    if o.equal and o.finite:
        return Case("outputs", None, f"{compared}: equal")
    if not o.finite:
        summary = "the outputs contain NaN or Inf"
    else:
        summary = f"two restored instances give different outputs: max |diff| {o.max_abs_diff:.6g}"
    lines = [summary, compared]
    if o.detail and o.detail != summary:
        lines.append(o.detail)
    return Case("outputs", "\n".join(lines))


def _golden_case(report: RestoreReport) -> Case | None:
    g = report.outputs.golden
    if g is None:
        return None
    if g.equal:
        return Case("golden", None, f"outputs equal to the ones recorded in {g.file}")
    return Case(
        "golden",
        f"outputs differ from the ones recorded in {g.file}: max |diff| {g.max_abs_diff:.6g}",
    )


# ---------------------------------------------------------------- diff


def diff_junit(report: DiffReport, path: str | os.PathLike[str]) -> None:
    """Write ``report`` as JUnit XML: cases only_in_a, only_in_b and changed."""
    write_junit(
        "ckptctl diff",
        diff_cases(report),
        path,
        classname=DIFF_CLASSNAME,
        properties=diff_properties(report),
    )


def diff_properties(report: DiffReport) -> dict[str, str]:
    props = {"a": report.a, "b": report.b, "atol": f"{report.atol:g}", "rtol": f"{report.rtol:g}"}
    if report.filter is not None:
        props["filter"] = report.filter
    if report.model_only:
        props["model_only"] = "true"
    return props


def diff_cases(report: DiffReport) -> list[Case]:
    """The comparison as test cases: only_in_a, only_in_b, changed."""
    cases = []
    for name, side, other, prefix, values in (
        ("only_in_a", "A", "B", report.a, report.only_in_a),
        ("only_in_b", "B", "A", report.b, report.only_in_b),
    ):
        if values:
            summary = f"{plural(len(values), 'value')} only in {side} ({prefix})"
            cases.append(Case(name, "\n".join([summary, *(only_line(v) for v in values)])))
        else:
            cases.append(Case(name, None, f"every value of {side} is also in {other}"))
    tolerances = f"atol={report.atol:g}, rtol={report.rtol:g}"
    compared = f"{report.unchanged} unchanged of {report.compared} compared ({tolerances})"
    if report.changed:
        summary = f"{plural(len(report.changed), 'value')} changed ({tolerances})"
        lines = [summary, *(changed_line(c) for c in report.changed)]
        cases.append(Case("changed", "\n".join(lines), compared))
    else:
        cases.append(Case("changed", None, compared))
    return cases


def only_line(v: OnlyIn) -> str:
    return f"{v.path or v.key} {shape_text(v.shape)} {v.dtype}"


def changed_line(c: ChangedValue) -> str:
    """``model.dense1._kernel [20, 16] float32: max |diff| 0.012, ..., 45 of 320 differ``."""
    label = c.path or c.key
    if c.kind == "values":
        text = f"{label} {shape_text(c.a_shape)} {c.a_dtype}: "
        if c.max_abs_diff is not None:
            text += f"max |diff| {c.max_abs_diff:.6g}, max rel {c.max_rel_diff or 0.0:.6g}, "
        text += f"{c.num_differing} of {c.num_elements} differ"
        if c.nan_mismatch:
            text += f", {c.nan_mismatch} NaN in one side only"
    else:
        text = (
            f"{label}: {c.kind} changed, {shape_text(c.a_shape)} {c.a_dtype} -> "
            f"{shape_text(c.b_shape)} {c.b_dtype}"
        )
    b_label = c.b_path or c.b_key
    if b_label != label:
        text += f" (B: {b_label})"
    return text


# ---------------------------------------------------------------- errors


def error_junit(command: str, error: BaseException, path: str | os.PathLike[str]) -> None:
    """A suite with one errored case, for a run that raised before it had a report.

    ``command`` is ``restore`` or ``diff``; the case is named after it and holds the error's
    message (and hint, for a ``CkptctlError``).
    """
    write_junit(
        f"ckptctl {command}",
        [Case(command, None, error=str(error) or type(error).__name__)],
        path,
        classname=f"ckptctl.{command}",
    )

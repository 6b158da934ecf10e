"""JUnit XML and GitHub Actions annotations of real restore and diff reports."""

from __future__ import annotations

import dataclasses
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ckptctl.github as gha
from ckptctl.diffing import DiffReport, diff
from ckptctl.errors import CheckpointError, UsageError
from ckptctl.github import (
    emit,
    escape_data,
    escape_property,
    github_annotations,
    workflow_command,
)
from ckptctl.junit import (
    Case,
    diff_junit,
    error_junit,
    restore_junit,
    write_junit,
)
from ckptctl.restoration import GoldenCheck, MissingEntry, RestoreReport, ValueCheck, restore

MY_MODEL = "sample_models.models:MyModel"
RENAMED = "sample_models.broken:RenamedModel"
SHAPES = [(4, 20)]


@pytest.fixture(scope="module")
def ok_report(samples_dir: Path) -> RestoreReport:
    report = restore(samples_dir / "my_model", MY_MODEL, input_shapes=SHAPES)
    assert report.ok
    return report


@pytest.fixture(scope="module")
def renamed_report(samples_dir: Path) -> RestoreReport:
    report = restore(samples_dir / "my_model", RENAMED, input_shapes=SHAPES)
    assert not report.ok and report.stopped
    return report


@pytest.fixture(scope="module")
def random_state_report(samples_dir: Path) -> RestoreReport:
    model = "sample_models.broken:RandomStateModel"
    report = restore(samples_dir / "my_model", model, input_shapes=SHAPES)
    assert not report.outputs.equal
    return report


@pytest.fixture(scope="module")
def changed_diff(samples_dir: Path) -> DiffReport:
    return diff(samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model")


def written(tmp_path: Path, write: Callable[[Any, Path], None], report: object) -> ET.Element:
    path = tmp_path / "junit.xml"
    write(report, path)
    return ET.parse(path).getroot()


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {c.attrib["name"]: c for c in root.iter("testcase")}


def counts(element: ET.Element) -> dict[str, str]:
    return {k: element.attrib[k] for k in ("tests", "failures", "errors", "skipped")}


# ---------------------------------------------------------------- restore_junit


def test_a_verified_restore_passes_every_case(tmp_path: Path, ok_report: RestoreReport) -> None:
    root = written(tmp_path, restore_junit, ok_report)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.attrib["name"] == f"ckptctl restore {MY_MODEL}"
    expected = {"tests": "3", "failures": "0", "errors": "0", "skipped": "0"}
    assert counts(root) == counts(suite) == expected
    assert list(cases(root)) == ["structure", "values", "outputs"]
    assert {c.attrib["classname"] for c in root.iter("testcase")} == {"ckptctl.restore"}
    assert not list(root.iter("failure"))
    props = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert props["checkpoint"] == ok_report.checkpoint
    assert props["model"] == MY_MODEL
    assert props["input_shapes"] == "[4, 20]"
    out = cases(root)["values"].findtext("system-out")
    assert out == "4 restored, each equal to the checkpoint bit for bit"


def test_a_renamed_layer_fails_structure_and_skips_the_rest(
    tmp_path: Path, renamed_report: RestoreReport
) -> None:
    root = written(tmp_path, restore_junit, renamed_report)
    assert counts(root) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "2"}
    by_name = cases(root)
    failure = by_name["structure"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "2 unused, 2 missing; nothing was assigned"
    lines = (failure.text or "").splitlines()
    assert lines[0] == failure.attrib["message"]
    assert lines[1:] == [
        "model.dense1._kernel [20, 16] float32 is unused: the checkpoint holds it, nothing in "
        "the model takes it (likely match in the model: model.encoder._kernel)",
        "model.dense1.bias [16] float32 is unused: the checkpoint holds it, nothing in "
        "the model takes it (likely match in the model: model.encoder.bias)",
        "model.encoder._kernel [20, 16] float32 is missing: the checkpoint has no value for it "
        "(likely match in the checkpoint: model.dense1._kernel)",
        "model.encoder.bias [16] float32 is missing: the checkpoint has no value for it "
        "(likely match in the checkpoint: model.dense1.bias)",
    ]
    for name in ("values", "outputs"):
        skipped = by_name[name].find("skipped")
        assert skipped is not None
        assert skipped.attrib["message"] == renamed_report.stopped
    out = by_name["structure"].findtext("system-out") or ""
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in out.splitlines()[2]


def test_mismatched_entries_name_both_shapes(tmp_path: Path, samples_dir: Path) -> None:
    report = restore(
        samples_dir / "my_model",
        "sample_models.broken:WidenedModel",
        input_shapes=SHAPES,
        partial=True,
    )
    root = written(tmp_path, restore_junit, report)
    failure = cases(root)["structure"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "3 mismatched"
    assert (
        "model.dense1._kernel is mismatched: checkpoint [20, 16] float32, model [20, 24] float32"
        in (failure.text or "")
    )
    assert root.attrib["skipped"] == "0", "--partial runs the later checks"


def test_outputs_that_differ_fail_the_outputs_case(
    tmp_path: Path, random_state_report: RestoreReport
) -> None:
    root = written(tmp_path, restore_junit, random_state_report)
    assert counts(root) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "0"}
    failure = cases(root)["outputs"].find("failure")
    assert failure is not None
    diff_text = f"{random_state_report.outputs.max_abs_diff:.6g}"
    assert failure.attrib["message"] == (
        f"two restored instances give different outputs: max |diff| {diff_text}"
    )
    assert "some state is not restored from the checkpoint" in (failure.text or "")


def test_differing_values_and_golden_are_cases(tmp_path: Path, ok_report: RestoreReport) -> None:
    report = dataclasses.replace(
        ok_report,
        ok=False,
        values=ValueCheck(checked=4, differing=["model.dense1.bias"]),
        outputs=dataclasses.replace(
            ok_report.outputs, golden=GoldenCheck("golden/net.npz", equal=False, max_abs_diff=0.5)
        ),
    )
    root = written(tmp_path, restore_junit, report)
    assert list(cases(root)) == ["structure", "values", "outputs", "golden"]
    assert root.attrib["failures"] == "2"
    values = cases(root)["values"].find("failure")
    assert values is not None
    assert (values.text or "").splitlines() == [
        "1 of 4 restored values differ from the checkpoint",
        "model.dense1.bias",
    ]
    golden = cases(root)["golden"].find("failure")
    assert golden is not None
    assert golden.attrib["message"] == (
        "outputs differ from the ones recorded in golden/net.npz: max |diff| 0.5"
    )


# ---------------------------------------------------------------- write_junit


def test_write_junit_counts_and_escapes(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "nested" / "junit.xml"
    write_junit(
        "suite <&>",
        [
            Case("passes", None, "fine"),
            Case("fails", 'a < b & "c"\nsecond line'),
            Case("skipped", None, skipped="not run"),
            Case("errors", None, error="boom"),
            Case("controls", "NUL \x00 and ESC \x1b[31m"),
        ],
        path,
        properties={"checkpoint": "a&b"},
    )
    root = ET.parse(path).getroot()
    assert counts(root) == {"tests": "5", "failures": "2", "errors": "1", "skipped": "1"}
    by_name = cases(root)
    assert {c.attrib["classname"] for c in by_name.values()} == {"suite <&>"}
    fails = by_name["fails"].find("failure")
    assert fails is not None
    assert fails.attrib["message"] == 'a < b & "c"'
    assert fails.text == 'a < b & "c"\nsecond line'
    controls = by_name["controls"].find("failure")
    assert controls is not None
    assert controls.text == "NUL \\x00 and ESC \\x1b[31m"
    error = by_name["errors"].find("error")
    assert error is not None and error.attrib["message"] == "boom"
    prop = root.find("testsuite/properties/property")
    assert prop is not None and prop.attrib == {"name": "checkpoint", "value": "a&b"}
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_write_junit_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old")
    write_junit("s", [Case("a", None)], path)
    assert ET.parse(path).getroot().attrib["tests"] == "1"
    assert sorted(os.listdir(tmp_path)) == ["junit.xml"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_unwritable_target_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "a_directory"
    target.mkdir()
    with pytest.raises(UsageError, match="cannot write"):
        write_junit("s", [Case("a", None)], target)
    assert os.listdir(tmp_path) == ["a_directory"]
    assert os.listdir(target) == []


def test_error_junit_reports_an_error_case(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    error_junit("restore", CheckpointError("no checkpoint at x", "pass a directory"), path)
    root = ET.parse(path).getroot()
    assert counts(root) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    case = root.find("testsuite/testcase")
    assert case is not None and case.attrib["classname"] == "ckptctl.restore"
    error = case.find("error")
    assert error is not None
    assert error.attrib["message"] == "no checkpoint at x"
    assert error.text == "no checkpoint at x\npass a directory"


# ---------------------------------------------------------------- diff_junit


def test_diff_junit_of_changed_values(tmp_path: Path, changed_diff: DiffReport) -> None:
    root = written(tmp_path, diff_junit, changed_diff)
    assert list(cases(root)) == ["only_in_a", "only_in_b", "changed"]
    assert counts(root) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "0"}
    assert {c.attrib["classname"] for c in root.iter("testcase")} == {"ckptctl.diff"}
    failure = cases(root)["changed"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "14 values changed (atol=0, rtol=0)"
    lines = (failure.text or "").splitlines()[1:]
    assert len(lines) == 14
    assert any(
        line.startswith("model.dense1._kernel [20, 16] float32: max |diff| ") for line in lines
    )
    assert cases(root)["changed"].findtext("system-out") == (
        "1 unchanged of 15 compared (atol=0, rtol=0)"
    )
    assert cases(root)["only_in_a"].findtext("system-out") == "every value of A is also in B"


def test_diff_junit_of_values_on_one_side(tmp_path: Path, samples_dir: Path) -> None:
    report = diff(samples_dir / "my_model", samples_dir / "custom_model", model_only=True)
    root = written(tmp_path, diff_junit, report)
    assert counts(root) == {"tests": "3", "failures": "2", "errors": "0", "skipped": "0"}
    only_a = cases(root)["only_in_a"].find("failure")
    assert only_a is not None
    assert (only_a.text or "").splitlines() == [
        f"4 values only in A ({report.a})",
        "model.dense1._kernel [20, 16] float32",
        "model.dense1.bias [16] float32",
        "model.dense2._kernel [16, 10] float32",
        "model.dense2.bias [10] float32",
    ]
    assert cases(root)["changed"].find("failure") is None


# ---------------------------------------------------------------- annotations


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command split and unescaped the way GitHub's runner does it."""
    assert line.startswith("::")
    head, _, message = line[2:].partition("::")
    command, _, props_text = head.partition(" ")
    props = {}
    for pair in props_text.split(",") if props_text else []:
        name, _, value = pair.partition("=")
        props[name] = (
            value.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
        )
    unescaped = message.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
    return command, props, unescaped


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext%3A a%2C b"
    assert escape_data("%0A") == "%250A", "an escape sequence in the text stays literal"
    line = workflow_command("error", "two\nlines", title="a:b,c", file=None)
    assert line == "::error title=a%3Ab%2Cc::two%0Alines"
    assert workflow_command("notice", "plain") == "::notice::plain"


def test_a_renamed_layer_gives_one_error_per_entry(renamed_report: RestoreReport) -> None:
    lines = github_annotations(renamed_report)
    assert len(lines) == 4
    parsed = [parse_command(line) for line in lines]
    assert {command for command, _, _ in parsed} == {"error"}
    assert {props["title"] for _, props, _ in parsed} == {f"ckptctl restore {RENAMED}"}
    assert lines[0].startswith(
        "::error title=ckptctl restore sample_models.broken%3ARenamedModel::"
    )
    _, _, first = parsed[0]
    assert first == (
        "model.dense1._kernel [20, 16] float32 is unused: the checkpoint holds it, nothing in the "
        "model takes it (likely match in the model: model.encoder._kernel)\n"
        f"checkpoint {renamed_report.checkpoint}"
    )
    assert parsed[2][2].startswith("model.encoder._kernel [20, 16] float32 is missing")
    assert all("\n" not in line and "\r" not in line for line in lines)


def test_a_verified_restore_has_no_annotations(ok_report: RestoreReport) -> None:
    assert github_annotations(ok_report) == []


def test_outputs_annotation(random_state_report: RestoreReport) -> None:
    (line,) = github_annotations(random_state_report)
    _, _, message = parse_command(line)
    assert message.startswith("two restored instances give different outputs (max |diff| ")
    assert "some state is not restored from the checkpoint" in message


def test_hostile_text_cannot_break_out_of_its_annotation(renamed_report: RestoreReport) -> None:
    path = "model.odd%0A\r\n::warning::injected,title=x"
    report = dataclasses.replace(
        renamed_report,
        model="pkg.mod:Net,v2",
        unused=[],
        missing=[MissingEntry(path=path, shape=[2], dtype="float32", suggestion=None)],
    )
    (line,) = github_annotations(report)
    assert "\n" not in line and "\r" not in line
    command, props, message = parse_command(line)
    assert command == "error"
    assert props == {"title": "ckptctl restore pkg.mod:Net,v2"}
    assert message.startswith(f"{path} [2] float32 is missing")


def test_annotations_are_capped(renamed_report: RestoreReport) -> None:
    missing = [MissingEntry(f"model.layer{i}.bias", [4], "float32") for i in range(15)]
    report = dataclasses.replace(renamed_report, unused=[], missing=missing)
    lines = github_annotations(report)
    assert len(lines) == gha.DEFAULT_LIMIT == 10
    assert parse_command(lines[8])[2].startswith("model.layer8.bias")
    assert parse_command(lines[9])[2] == "... and 6 more problems: see the job's log"
    assert len(github_annotations(report, limit=20)) == 15


def test_diff_annotations(changed_diff: DiffReport, samples_dir: Path) -> None:
    lines = github_annotations(changed_diff)
    assert len(lines) == 10
    command, props, message = parse_command(lines[0])
    assert (command, props) == ("error", {"title": "ckptctl diff"})
    assert message.startswith("changed: ")
    assert message.endswith(f"\nA {changed_diff.a}\nB {changed_diff.b}")
    only = diff(samples_dir / "my_model", samples_dir / "custom_model", model_only=True)
    messages = [parse_command(line)[2] for line in github_annotations(only)]
    assert messages[0].startswith("only in A: model.dense1._kernel [20, 16] float32\n")
    assert messages[4].startswith("only in B: ")
    equal = diff(samples_dir / "my_model", samples_dir / "my_model" / "ckpt-3")
    assert github_annotations(equal) == []


def test_emit_writes_only_in_github_actions(
    monkeypatch: pytest.MonkeyPatch, renamed_report: RestoreReport
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert not gha.enabled()
    stream = io.StringIO()
    assert emit(renamed_report, stream) == 0
    assert stream.getvalue() == ""

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert gha.enabled()
    assert emit(renamed_report, stream) == 4
    assert stream.getvalue().splitlines() == github_annotations(renamed_report)

    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert not gha.enabled()


# ---------------------------------------------------------------- accepted leftovers


def accepted_renamed(report: RestoreReport) -> RestoreReport:
    """The renamed report with its unused values accepted (as `--allow-unused 'model.dense1.*'`)."""
    return dataclasses.replace(
        report, unused=[dataclasses.replace(u, accepted=True) for u in report.unused]
    )


def test_accepted_entries_are_listed_in_system_out_not_as_failures(
    tmp_path: Path, renamed_report: RestoreReport
) -> None:
    root = written(tmp_path, restore_junit, accepted_renamed(renamed_report))
    failure = cases(root)["structure"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "2 missing; nothing was assigned"
    assert [
        line.split(" is ")[1].split(":")[0] for line in (failure.text or "").splitlines()[1:]
    ] == [
        "missing",
        "missing",
    ]
    out = (cases(root)["structure"].findtext("system-out") or "").splitlines()
    assert out[1:4] == [
        "2 accepted (--allow-unused, --allow-missing, --allow-file):",
        "  model.dense1._kernel [20, 16] float32 is unused (accepted): the checkpoint holds it, "
        "nothing in the model takes it (likely match in the model: model.encoder._kernel)",
        "  model.dense1.bias [16] float32 is unused (accepted): the checkpoint holds it, "
        "nothing in the model takes it (likely match in the model: model.encoder.bias)",
    ]


def test_accepted_entries_are_notices(renamed_report: RestoreReport) -> None:
    parsed = [parse_command(line) for line in github_annotations(accepted_renamed(renamed_report))]
    assert [command for command, _, _ in parsed] == ["error", "error", "notice", "notice"]
    assert parsed[2][2].startswith("model.dense1._kernel [20, 16] float32 is unused (accepted): ")


def test_notices_are_capped_apart_from_errors(renamed_report: RestoreReport) -> None:
    missing = [
        MissingEntry(f"model.layer{i}.bias", [4], "float32", accepted=True) for i in range(12)
    ]
    report = dataclasses.replace(renamed_report, unused=[], missing=missing, ok=True)
    parsed = [parse_command(line) for line in github_annotations(report)]
    assert [command for command, _, _ in parsed] == ["notice"] * 10
    assert parsed[9][2] == "... and 3 more accepted leftovers: see the job's log"

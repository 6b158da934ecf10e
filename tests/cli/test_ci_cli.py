"""README "ckptctl in CI", end to end through the CLI: `--junit-xml`, `GITHUB_ACTIONS=true`
and accepted leftovers (`--allow-unused`, `--allow-missing`, `--allow-file`).

Each run is one `CliRunner` invocation; what it wrote (the JUnit file, the annotations on
stderr, the one JSON document on stdout) is compared with the exact expected content.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.checkpoints import SHARDED_NUM_ELEMENTS
from tests.test_diff import write_sharded_variant

MY_MODEL = "sample_models.models:MyModel"
EXTRA_HEAD = "sample_models.broken:ExtraHeadModel"
RENAMED = "sample_models.broken:RenamedModel"
SHAPE = ["--input-shape", "4,20"]
ENV: dict[str, str | None] = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_STEP_SUMMARY": None,
    "CKPTCTL_DEBUG": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "COLUMNS": None,
}
UNUSED = "the checkpoint holds it, nothing in the model takes it"
MISSING = "the checkpoint has no value for it"
ACCEPTED_HEADER = "accepted (--allow-unused, --allow-missing, --allow-file):"

Case = tuple[str, list[tuple[str, str | None, str | None]]]
"""A testcase as (name, [(child tag, its message attribute, its text), ...])."""


def run(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ckptctl raised {result.exception!r}\n{result.stderr}")
    return result


def junit_cases(path: Path, classname: str) -> list[Case]:
    """Every testcase of the file; each must carry `classname`."""
    root = ET.parse(path).getroot()
    cases: list[Case] = []
    for case in root.iter("testcase"):
        assert case.attrib["classname"] == classname
        children = [(c.tag, c.attrib.get("message"), c.text) for c in case]
        cases.append((case.attrib["name"], children))
    return cases


def junit_counts(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {k: root.attrib[k] for k in ("tests", "failures", "errors", "skipped")}


def annotations(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("::")]


def one_json_document(result: Result) -> dict[str, Any]:
    doc = json.loads(result.stdout)  # anything else on stdout makes this raise
    assert isinstance(doc, dict)
    assert result.stdout.strip().startswith("{") and result.stdout.strip().endswith("}")
    return doc


def escaped(text: str) -> str:
    """A workflow command's message as the runner reads it (see ckptctl.github)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow(kind: str, title: str, *lines: str | Path) -> str:
    """`::kind title=TITLE::` and the lines, joined by newlines and escaped."""
    return f"::{kind} title={title}::{escaped(chr(10).join(map(str, lines)))}"


@pytest.fixture(scope="module")
def extra_head_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`Checkpoint(model=ExtraHeadModel()).write(...)`: MyModel's values plus `model.head.*`."""
    import numpy as np
    import tensorflow as tf

    from sample_models.broken import ExtraHeadModel

    model = ExtraHeadModel()
    model(np.zeros((4, 20), np.float32))
    directory = tmp_path_factory.mktemp("extra_head")
    return Path(tf.train.Checkpoint(model=model).write(str(directory / "ckpt")))


# ---------------------------------------------------------------- accepted leftovers


def head_unused(accepted: bool) -> list[str]:
    mark = " (accepted)" if accepted else ""
    return [
        f"model.head._kernel [16, 3] float32 is unused{mark}: {UNUSED}",
        f"model.head.bias [3] float32 is unused{mark}: {UNUSED}",
    ]


PASSING_VALUES_AND_OUTPUTS: list[Case] = [
    ("values", [("system-out", None, "4 restored, each equal to the checkpoint bit for bit")]),
    ("outputs", [("system-out", None, "3 random batches through two restored instances: equal")]),
]


@pytest.mark.parametrize("how", ["--allow-unused", "--allow-file"])
def test_accepted_unused_values_pass_and_are_listed_as_accepted(
    extra_head_ckpt: Path, tmp_path: Path, how: str
) -> None:
    """Only accepted leftovers: exit 0, no failure in the JUnit file, a `::notice` (not an
    `::error`) per accepted value, and stdout still exactly one JSON document."""
    if how == "--allow-file":
        allow = tmp_path / "allow.txt"
        allow.write_text("# the head is new in this version\nunused: model.head.*\n")
        accept = ["--allow-file", str(allow)]
    else:
        accept = ["--allow-unused", "model.head.*"]
    xml = tmp_path / "reports" / "restore.xml"
    result = run(
        "restore", extra_head_ckpt, "-m", MY_MODEL, *SHAPE, *accept, "--junit-xml", xml, "--json"
    )
    assert result.exit_code == 0, result.output

    doc = one_json_document(result)
    assert doc["ok"] is True
    assert [(u["path"], u["accepted"]) for u in doc["unused"]] == [
        ("model.head._kernel", True),
        ("model.head.bias", True),
    ]

    assert junit_counts(xml) == {"tests": "3", "failures": "0", "errors": "0", "skipped": "0"}
    structure_out = "\n".join(
        ["4 values matched", f"2 {ACCEPTED_HEADER}", *(f"  {x}" for x in head_unused(True))]
    )
    assert junit_cases(xml, "ckptctl.restore") == [
        ("structure", [("system-out", None, structure_out)]),
        *PASSING_VALUES_AND_OUTPUTS,
    ]

    title = "ckptctl restore sample_models.models%3AMyModel"
    assert annotations(result.stderr) == [
        workflow("notice", title, line, f"checkpoint {extra_head_ckpt}")
        for line in head_unused(True)
    ]
    assert result.stderr.splitlines() == annotations(result.stderr), "nothing else on stderr"


def test_accepted_missing_variables_pass(samples_dir: Path, tmp_path: Path) -> None:
    """`--allow-missing`: the new head has no value; accepted, the restore verifies."""
    xml = tmp_path / "restore.xml"
    result = run(
        "restore",
        samples_dir / "my_model",
        "-m",
        EXTRA_HEAD,
        *SHAPE,
        "--allow-missing",
        "model.head.*",
        "--junit-xml",
        xml,
    )
    assert result.exit_code == 0, result.output
    assert "Restored and verified." in result.stdout
    assert "model.head._kernel (accepted)" in result.stdout
    (structure, *_), counts = junit_cases(xml, "ckptctl.restore"), junit_counts(xml)
    assert counts["failures"] == "0"
    ((tag, _, text),) = structure[1]
    assert tag == "system-out"
    assert (text or "").splitlines()[:4] == [
        "4 values matched",
        f"2 {ACCEPTED_HEADER}",
        f"  model.head._kernel [16, 3] float32 is missing (accepted): {MISSING}",
        f"  model.head.bias [3] float32 is missing (accepted): {MISSING}",
    ]
    assert [line.split("::")[1].split(" ")[0] for line in annotations(result.stderr)] == [
        "notice",
        "notice",
    ]


def test_accepted_and_failing_leftovers_are_told_apart(samples_dir: Path, tmp_path: Path) -> None:
    """A renamed layer with only its old values accepted: the new variables still fail; the
    failure and the `::error` lines name only them, the accepted values are notices."""
    xml = tmp_path / "restore.xml"
    ckpt = samples_dir / "my_model" / "ckpt-3"
    result = run(
        "restore",
        samples_dir / "my_model",
        "-m",
        RENAMED,
        *SHAPE,
        "--allow-unused",
        "model.dense1.*",
        "--junit-xml",
        xml,
        "--json",
    )
    assert result.exit_code == 1, result.output
    doc = one_json_document(result)
    assert doc["ok"] is False
    assert [u["accepted"] for u in doc["unused"]] == [True, True]
    assert [m["accepted"] for m in doc["missing"]] == [False, False]

    accepted = [
        f"model.dense1._kernel [20, 16] float32 is unused (accepted): {UNUSED} "
        "(likely match in the model: model.encoder._kernel)",
        f"model.dense1.bias [16] float32 is unused (accepted): {UNUSED} "
        "(likely match in the model: model.encoder.bias)",
    ]
    failing = [
        f"model.encoder._kernel [20, 16] float32 is missing: {MISSING} "
        "(likely match in the checkpoint: model.dense1._kernel)",
        f"model.encoder.bias [16] float32 is missing: {MISSING} "
        "(likely match in the checkpoint: model.dense1.bias)",
    ]
    not_requested = doc["not_requested"]
    assert not_requested[0] == "save_counter/.ATTRIBUTES/VARIABLE_VALUE"
    structure_out = "\n".join(
        [
            "2 values matched",
            f"2 {ACCEPTED_HEADER}",
            *(f"  {x}" for x in accepted),
            f"{len(not_requested)} not requested (outside what was restored):",
            *(f"  {key}" for key in not_requested),
        ]
    )
    summary = "2 missing; nothing was assigned"
    stopped = doc["stopped"]
    assert junit_counts(xml) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "2"}
    assert junit_cases(xml, "ckptctl.restore") == [
        (
            "structure",
            [
                ("failure", summary, "\n".join([summary, *failing])),
                ("system-out", None, structure_out),
            ],
        ),
        ("values", [("skipped", stopped, None)]),
        ("outputs", [("skipped", stopped, None)]),
    ]

    title = "ckptctl restore sample_models.broken%3ARenamedModel"
    assert annotations(result.stderr) == [
        *(workflow("error", title, x, f"checkpoint {ckpt}") for x in failing),
        *(workflow("notice", title, x, f"checkpoint {ckpt}") for x in accepted),
    ]


def test_without_github_actions_there_are_no_annotations(extra_head_ckpt: Path) -> None:
    result = run(
        "restore",
        extra_head_ckpt,
        "-m",
        MY_MODEL,
        *SHAPE,
        "--allow-unused",
        "model.head.*",
        env={"GITHUB_ACTIONS": None},
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_the_same_leftovers_unaccepted_fail(extra_head_ckpt: Path, tmp_path: Path) -> None:
    """The control: without `--allow-unused` the head's values fail the structure check."""
    xml = tmp_path / "restore.xml"
    result = run("restore", extra_head_ckpt, "-m", MY_MODEL, *SHAPE, "--junit-xml", xml)
    assert result.exit_code == 1, result.output
    summary = "2 unused; nothing was assigned"
    (structure, *_) = junit_cases(xml, "ckptctl.restore")
    assert structure == (
        "structure",
        [
            ("failure", summary, "\n".join([summary, *head_unused(False)])),
            ("system-out", None, "4 values matched"),
        ],
    )
    assert [line.split("::")[1].split(" ")[0] for line in annotations(result.stderr)] == [
        "error",
        "error",
    ]


# ---------------------------------------------------------------- diff


def test_diff_junit_and_annotations(sharded_ckpt: Path, tmp_path: Path) -> None:
    """One value changed in one element: the changed case fails naming it, an `::error` says
    the same, and `--json` keeps stdout to the document."""
    variant = write_sharded_variant(tmp_path / "variant")
    xml = tmp_path / "diff.xml"
    result = run("diff", sharded_ckpt, variant, "--junit-xml", xml, "--json")
    assert result.exit_code == 1, result.output
    doc = one_json_document(result)
    assert [c["path"] for c in doc["changed"]] == ["c"]

    b = 2 * 10_000.0 + 100 + 0.25  # element 100 of `c`, changed by 0.25
    line = (
        f"c [{SHARDED_NUM_ELEMENTS}] float32: max |diff| 0.25, max rel {0.25 / b:.6g}, "
        f"1 of {SHARDED_NUM_ELEMENTS} differ"
    )
    summary = "1 value changed (atol=0, rtol=0)"
    assert junit_counts(xml) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "0"}
    assert junit_cases(xml, "ckptctl.diff") == [
        ("only_in_a", [("system-out", None, "every value of A is also in B")]),
        ("only_in_b", [("system-out", None, "every value of B is also in A")]),
        (
            "changed",
            [
                ("failure", summary, f"{summary}\n{line}"),
                ("system-out", None, "3 unchanged of 4 compared (atol=0, rtol=0)"),
            ],
        ),
    ]
    assert result.stderr.splitlines() == [
        workflow("error", "ckptctl diff", f"changed: {line}", f"A {sharded_ckpt}", f"B {variant}")
    ]


def test_diff_of_equal_checkpoints_passes_without_annotations(
    sharded_ckpt: Path, tmp_path: Path
) -> None:
    xml = tmp_path / "diff.xml"
    result = run("diff", sharded_ckpt, sharded_ckpt, "--junit-xml", xml)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert junit_counts(xml) == {"tests": "3", "failures": "0", "errors": "0", "skipped": "0"}
    assert [name for name, _ in junit_cases(xml, "ckptctl.diff")] == [
        "only_in_a",
        "only_in_b",
        "changed",
    ]


# ---------------------------------------------------------------- runs that cannot start


@pytest.mark.parametrize("command", ["restore", "diff"])
def test_an_unreadable_checkpoint_is_one_errored_testcase(
    samples_dir: Path, tmp_path: Path, command: str
) -> None:
    absent = tmp_path / "absent"
    xml = tmp_path / "out" / f"{command}.xml"
    if command == "restore":
        args: list[str | Path] = ["restore", absent, "-m", MY_MODEL, *SHAPE]
    else:
        args = ["diff", absent, samples_dir / "my_model"]
    result = run(*args, "--junit-xml", xml, "--json")
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    message = f"{absent}: no such file or directory"
    hint = (
        "pass a checkpoint directory, a prefix (DIR/ckpt-3), its .index or .data-* file, "
        "a SavedModel directory, or a Keras .weights.h5, .weights.json or .keras file"
    )
    assert junit_counts(xml) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    assert junit_cases(xml, f"ckptctl.{command}") == [
        (command, [("error", message, f"{message}\n{hint}")])
    ]
    assert result.stderr.splitlines() == [
        f"error: {message}",
        f"  {hint}",
        workflow("error", f"ckptctl {command}", message),
    ]


def test_a_model_that_does_not_import_is_one_errored_testcase(
    samples_dir: Path, tmp_path: Path
) -> None:
    xml = tmp_path / "restore.xml"
    result = run("restore", samples_dir / "my_model", "-m", "no_such_package:Net", *SHAPE,
                 "--junit-xml", xml)  # fmt: skip
    assert result.exit_code == 3, result.output
    ((name, children),) = junit_cases(xml, "ckptctl.restore")
    ((tag, message, _),) = children
    assert (name, tag) == ("restore", "error")
    assert message == (
        f"--model no_such_package:Net: no module named 'no_such_package' "
        f"(searched {Path.cwd()} and sys.path)"
    )
    assert annotations(result.stderr) == [workflow("error", "ckptctl restore", message)]


# ---------------------------------------------------------------- Markdown: job summary, --markdown


def test_restore_appends_its_summary_and_writes_the_same_markdown(
    samples_dir: Path, tmp_path: Path
) -> None:
    """In GitHub Actions the report is appended to $GITHUB_STEP_SUMMARY (after what earlier
    steps wrote there), and `--markdown FILE` holds the same text: the verdict first, then
    the checks, then the unused and missing tables with their likely matches."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    markdown = tmp_path / "reports" / "restore.md"
    result = run("restore", samples_dir / "my_model", "-m", RENAMED, *SHAPE,
                 "--markdown", markdown, env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.exit_code == 1, result.output
    text = markdown.read_text()
    assert summary.read_text() == "earlier step\n" + text
    lines = text.splitlines()
    assert lines[0] == (
        f"### ❌ ckptctl restore `{RENAMED}`: "
        "Not restored: the checkpoint does not fit the model; nothing was assigned."
    )
    assert f"- **Checkpoint** `{samples_dir / 'my_model' / 'ckpt-3'}`" in lines
    assert "| ❌ structure | 2 unused, 2 missing |" in lines
    assert "| ➖ values | skipped: nothing was assigned |" in lines  # noqa: RUF001
    unused = lines.index("#### Unused: in the checkpoint, taken by nothing in the model")
    assert lines[unused + 2 : unused + 6] == [
        "| checkpoint path | shape | dtype | likely match in the model |",
        "| --- | --- | --- | --- |",
        "| `model.dense1._kernel` | [20, 16] | float32 | `model.encoder._kernel` |",
        "| `model.dense1.bias` | [16] | float32 | `model.encoder.bias` |",
    ]
    assert "If the paths were renamed on purpose, restore with: `--map 'dense1=encoder'`" in lines


def test_a_restore_that_verifies_says_so_in_the_summary(samples_dir: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    result = run("restore", samples_dir / "my_model", "-m", MY_MODEL, *SHAPE,
                 env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = summary.read_text().splitlines()
    assert lines[0] == f"### ✅ ckptctl restore `{MY_MODEL}`: Restored and verified."
    assert not any(line.startswith("####") for line in lines)  # no tables of problems


def test_diff_markdown_lists_the_changed_values(samples_dir: Path, tmp_path: Path) -> None:
    markdown = tmp_path / "diff.md"
    d = samples_dir / "my_model"
    result = run("diff", d / "ckpt-2", d / "ckpt-3", "--model-only", "--markdown", markdown,
                 env={"GITHUB_ACTIONS": None})  # fmt: skip
    assert result.exit_code == 1
    lines = markdown.read_text().splitlines()
    assert (
        lines[0] == "### ❌ ckptctl diff: A and B differ: 4 changed, 0 unchanged (atol=0, rtol=0)"
    )
    start = lines.index("#### Changed (4)")
    assert lines[start + 2 : start + 4] == [
        "| path or key | shape | max abs | max rel | differ |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    rows = [line.split(" | ") for line in lines[start + 4 : start + 8]]
    assert sorted(r[0].strip("|` ") for r in rows) == [
        "model.dense1._kernel",
        "model.dense1.bias",
        "model.dense2._kernel",
        "model.dense2.bias",
    ]
    decimals = {len(r[2].split(".")[1]) for r in rows}
    assert len(decimals) == 1 and all("e" not in r[2] for r in rows)  # one format


def test_no_job_summary_outside_github_actions(samples_dir: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    d = samples_dir / "my_model"
    result = run("diff", d / "ckpt-2", d / "ckpt-3",
                 env={"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.exit_code == 1
    assert not summary.exists()


@pytest.mark.parametrize("command", ["restore", "diff"])
def test_markdown_is_refused_into_a_checkpoint_directory(samples_dir: Path, command: str) -> None:
    d = samples_dir / "my_model"
    into = d / "report.md"
    args: list[str | Path] = (
        ["restore", d, "-m", MY_MODEL, *SHAPE] if command == "restore" else ["diff", d, d]
    )
    result = run(*args, "--markdown", into)
    assert result.exit_code == 2, result.output
    assert "--markdown" in result.stderr and "refusing to write into" in result.stderr
    assert not into.exists()


def test_a_run_that_could_not_start_is_in_the_summary(samples_dir: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    markdown = tmp_path / "diff.md"
    absent = tmp_path / "absent"
    result = run("diff", absent, samples_dir / "my_model", "--markdown", markdown,
                 env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.exit_code == 3
    assert summary.read_text() == markdown.read_text()
    lines = markdown.read_text().splitlines()
    assert lines[:4] == [
        "### ⚠️ ckptctl diff could not run",
        "",
        "```text",
        f"{absent}: no such file or directory",
    ]

"""What a person sees: the installed `ckptctl` in a pseudo-terminal 80 and 120 columns wide.

Each command runs as a shell runs it: stdout and stderr are terminals of that size (no
COLUMNS in the environment, colours on), on checkpoints of a model with long nested paths and
a 4-D conv kernel (`tests.models.wide`). Every line fits, no path or key is split inside a
name (a path wider than its column takes a line of its own, folded after a `.` only if wider
than the terminal), numbers keep their units, and the verdict columns are there.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from tests.checkpoints import PROJECT_ROOT

CKPTCTL = str(Path(sys.executable).with_name("ckptctl"))
WIDTHS = [80, 120]
RENAMED = "tests.models.wide:RenamedHeadNet"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class Shown:
    code: int
    stdout: str
    stderr: str
    raw_stdout: bytes = b""
    raw_stderr: bytes = b""
    """What the terminal received, colour codes and all."""

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def _open_pty(width: int) -> tuple[int, int]:
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    return main, child


def in_terminal(width: int, *args: str | Path) -> Shown:
    """Run ``ckptctl ARGS`` with stdout and stderr on terminals ``width`` columns wide; the
    text each shows, without colour codes."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.update(TERM="xterm-256color", CKPTCTL_DEBUG="", PYTHONPATH=str(PROJECT_ROOT))
    out_main, out_child = _open_pty(width)
    err_main, err_child = _open_pty(width)
    proc = subprocess.Popen(
        [CKPTCTL, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=out_child,
        stderr=err_child,
        env=env,
        cwd=PROJECT_ROOT,
    )
    os.close(out_child)
    os.close(err_child)
    received = {out_main: b"", err_main: b""}
    open_fds = [out_main, err_main]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError(f"ckptctl {args} printed nothing for 120 s")
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed its end
                data = b""
            if data:
                received[fd] += data
            else:
                open_fds.remove(fd)
                os.close(fd)
    code = proc.wait(timeout=120)

    def text(raw: bytes) -> str:
        plain = _ANSI.sub("", raw.decode("utf-8").replace("\r\n", "\n"))
        return "\n".join(line.split("\r")[-1] for line in plain.split("\n"))

    out, err = received[out_main], received[err_main]
    return Shown(code, text(out), text(err), out, err)


def assert_fits(shown: Shown, width: int) -> None:
    too_wide = [line for line in shown.lines if len(line) > width]
    assert too_wide == [], "\n".join(too_wide)
    trailing = [line for line in shown.lines if line != line.rstrip()]
    assert trailing == [], trailing


def unfolded(lines: list[str]) -> str:
    """The text with folded paths joined again: a line ending in `.` or `/` continues on the
    next one (after its indentation)."""
    out = ""
    for line in lines:
        out += line.lstrip() if out.endswith((".", "/")) else "\n" + line
    return out


def assert_whole(path: str, shown: Shown) -> None:
    """``path`` is shown whole: on one line, or folded after a `.` or `/`."""
    assert path in unfolded(shown.lines), f"{path} is not shown whole:\n{shown.stdout}"


def json_of(*args: str | Path) -> dict:
    result = CliRunner().invoke(app, [*map(str, args), "--json"])
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def inspect_doc(long_names_ckpts: dict[str, Path]) -> dict:
    return json_of("inspect", long_names_ckpts["second"])


@pytest.mark.parametrize("width", WIDTHS)
def test_inspect(long_names_ckpts: dict[str, Path], inspect_doc: dict, width: int) -> None:
    shown = in_terminal(width, "inspect", long_names_ckpts["second"])
    assert shown.code == 0, shown.stderr
    assert_fits(shown, width)
    header = next(line for line in shown.lines if line.startswith("object path"))
    assert header.split()[-4:] == ["dtype", "shape", "elements", "bytes"]
    for v in inspect_doc["variables"]:
        assert_whole(v["path"], shown)
        if v["slot_of"]:
            assert_whole(f"{v['slot_name']} of {v['slot_of']}", shown)
    assert "…" not in shown.stdout  # nothing needed eliding
    # The 4-D kernel's row keeps its numbers with their units, and its slots' rows too.
    kernel = [line for line in shown.lines if "[3, 3, 3, 64]" in line]
    assert len(kernel) == 3
    assert all(line.split()[-4:] == ["64]", "1,728", "6.8", "KiB"] for line in kernel)
    small = [line for line in shown.lines if line.endswith(" 40 B")]
    assert len(small) == 3  # the head's bias and its two slots: small values stay


def tree_aliases(node: dict) -> list[str]:
    out = []
    for child in node["children"]:
        out += ([child["alias_of"]] if child["alias_of"] else []) + tree_aliases(child)
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_inspect_tree(long_names_ckpts: dict[str, Path], width: int) -> None:
    """Aliases deep in the tree (the optimizer's list of a nested layer's variables) keep
    their paths whole: folded after a `.` under the branch, never inside a name."""
    shown = in_terminal(width, "inspect", long_names_ckpts["second"], "--tree")
    assert shown.code == 0, shown.stderr
    assert_fits(shown, width)
    branches = [re.sub(r"^[│├└─ ]*", "", line) for line in shown.lines]
    aliases = tree_aliases(json_of("inspect", long_names_ckpts["second"], "--tree")["tree"])
    assert len(aliases) > 10
    for alias in aliases:
        assert alias in unfolded(branches), alias


@pytest.mark.parametrize("width", WIDTHS)
def test_inspect_stats_keeps_the_nan_inf_column(
    long_names_ckpts: dict[str, Path], width: int
) -> None:
    checkpoint = long_names_ckpts["nonfinite"]
    shown = in_terminal(width, "inspect", checkpoint, "--stats", "--fail-on-nonfinite")
    assert shown.code == 1
    assert "2 NaN or Inf values in 1 tensor" in shown.stderr.replace("\n", " ")
    assert_fits(shown, width)
    header = next(line for line in shown.lines if line.startswith("object path"))
    assert header.split()[2:] == ["min", "max", "mean", "std", "zeros", "NaN/Inf"]
    doc = json_of("inspect", checkpoint, "--stats")
    for v in doc["variables"]:
        assert_whole(v["path"], shown)
    lines = shown.lines
    at = next(i for i, line in enumerate(lines) if line.startswith("net.bn1.moving_variance"))
    row = lines[at + 1] if lines[at] == "net.bn1.moving_variance" else lines[at]  # own line
    assert row.split()[-2:] == ["0%", "1/1"], row  # one NaN, one Inf
    others = [line for line in lines if line.endswith("%        0")]
    assert len(others) == len(doc["variables"]) - 1  # every other value: none


@pytest.mark.parametrize("width", WIDTHS)
def test_diff(long_names_ckpts: dict[str, Path], width: int) -> None:
    a, b = long_names_ckpts["first"], long_names_ckpts["second"]
    shown = in_terminal(width, "diff", a, b)
    assert shown.code == 1
    assert_fits(shown, width)
    header = next(line for line in shown.lines if line.startswith("path or key"))
    assert header.split() == ["path", "or", "key", "shape", "max", "abs", "max", "rel", "differ"]
    doc = json_of("diff", a, b)
    for c in doc["changed"]:
        assert_whole(c["path"], shown)
    counts = [line.split()[-1] for line in shown.lines if re.search(r"\d/[\d,]+$", line)]
    assert "1,728/1,728" in counts
    assert len(counts) == len(doc["changed"])
    # One number format per column: every max abs with the same exponent notation or decimals.
    cells = [line.split()[-3] for line in shown.lines if re.search(r"\d/[\d,]+$", line)]
    styles = {("e" in c, len(c.split(".")[-1]) if "." in c else 0) for c in cells if c != "0"}
    assert len(styles) == 1, cells


@pytest.mark.parametrize("width", WIDTHS)
def test_restore_keeps_keys_whole_and_the_keras_warning_in_the_report(
    long_names_ckpts: dict[str, Path], width: int
) -> None:
    checkpoint = long_names_ckpts["second"]
    shown = in_terminal(width, "restore", checkpoint, "--model", RENAMED, "--key", "net")
    assert shown.code == 1, shown.stderr
    assert_fits(shown, width)
    unused = shown.lines.index("Unused: in the checkpoint, taken by nothing in the model")
    rows = shown.lines[unused + 3 : unused + 5]
    assert [r.split()[0] for r in rows] == [
        "net.classification_head._kernel",
        "net.classification_head.bias",
    ]
    assert [r.split()[-1] for r in rows] == ["net.head._kernel", "net.head.bias"]
    assert "UserWarning" not in shown.stderr and "warnings.warn" not in shown.stderr
    (warning,) = [line for line in shown.lines if "UserWarning" in line]
    assert warning.startswith("keras UserWarning while running RenamedHeadNet: `build()` was")
    assert shown.lines.index(warning) < unused  # under the header that names the model
    doc = json_of("restore", checkpoint, "--model", RENAMED, "--key", "net")
    (caught,) = doc["warnings"]
    assert caught["category"] == "UserWarning" and caught["origin"] == "keras"
    assert "renamed_head_net" in caught["message"]


def test_a_ci_log_holds_the_whole_warning(long_names_ckpts: dict[str, Path]) -> None:
    """Off a terminal (a CI log) a caught warning is printed whole, wrapped to the width: a
    log is read after the fact, with no --json beside it."""
    from tests.fresh import run_ckptctl

    checkpoint = long_names_ckpts["second"]
    env = {**os.environ, "COLUMNS": "80", "CI": "true"}
    result = run_ckptctl("restore", str(checkpoint), "--model", RENAMED, "--key", "net", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "UserWarning" in line)
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1  # the warning's wrapped lines
    shown = " ".join(" ".join(lines[start:end]).split())
    assert shown.startswith("keras UserWarning while running RenamedHeadNet: `build()` was")
    assert shown.endswith("Make sure to implement a proper `build()` method."), shown
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]


@pytest.mark.parametrize("width", WIDTHS)
def test_restore_with_long_paths_on_both_sides(
    long_names_ckpts: dict[str, Path], width: int
) -> None:
    """A renamed backbone: every unused value and its likely match, every missing variable
    and its likely match, is shown whole, none elided."""
    checkpoint = long_names_ckpts["second"]
    model = "tests.models.wide:RenamedBackboneNet"
    shown = in_terminal(width, "restore", checkpoint, "--model", model, "--key", "net")
    assert shown.code == 1, shown.stderr
    assert_fits(shown, width)
    assert "…" not in "\n".join(line for line in shown.lines if "UserWarning" not in line)
    doc = json_of("restore", checkpoint, "--model", model, "--key", "net")
    assert len(doc["unused"]) == len(doc["missing"]) == 6
    for entry in doc["unused"] + doc["missing"]:
        assert_whole(entry["path"], shown)
        assert_whole(entry["suggestion"], shown)


@pytest.mark.parametrize("width", WIDTHS)
def test_help(width: int) -> None:
    shown = in_terminal(width, "inspect", "--help")
    assert shown.code == 0
    assert_fits(shown, width)
    assert shown.lines[0] == "Usage: ckptctl inspect [OPTIONS] CHECKPOINT..."
    # The description, the option and the example name it, each time whole on its line.
    assert sum("--fail-on-nonfinite" in line for line in shown.lines) == 3
    assert not any(line.endswith(("--fail-", "-on-", "--fail")) for line in shown.lines)
    diff_help = in_terminal(width, "diff", "--help")
    assert diff_help.lines[0] == "Usage: ckptctl diff [OPTIONS] A B"
    for command in ("restore", "diff", "migrate"):
        text = in_terminal(width, command, "--help").stdout
        assert not re.search(r"<(float|int|str)\w* ?\w*>|\{\w+\}", text), command
        assert "Examples:" in text


def test_piped_output_has_no_trailing_spaces(long_names_ckpts: dict[str, Path]) -> None:
    """Off a terminal (a pipe, a CI log) Rich pads every table line; ckptctl strips that."""
    for args in (
        ["inspect", long_names_ckpts["second"]],
        ["inspect", long_names_ckpts["second"], "--stats"],
        ["diff", long_names_ckpts["first"], long_names_ckpts["second"]],
    ):
        result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": None})
        padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
        assert padded == [], args


# ------------------------------------------------------- `ckptctl --help` without Typer


def _typer_help(columns: int) -> str:
    """`--help` as the Typer application itself prints it, in a process of its own."""
    code = (
        "import sys; sys.argv = ['ckptctl', '--help']\nfrom ckptctl.cli.commands import app\napp()"
    )
    env = {**os.environ, "COLUMNS": str(columns)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("columns", [80, 200])
def test_the_stored_top_level_help_is_what_typer_prints(columns: int) -> None:
    from ckptctl.cli.root_help import TEXT

    printed = _typer_help(columns)
    assert printed == TEXT, f"ckptctl/cli/root_help.py should hold:\n{printed}"


@pytest.mark.parametrize(("columns", "typer_imported"), [(80, False), (120, False), (60, True)])
def test_top_level_help_imports_typer_only_where_it_lays_help_out_narrower(
    columns: int, typer_imported: bool
) -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(str('typer' in sys.modules)))\n"
        "sys.argv = ['ckptctl', '--help']\n"
        "from ckptctl.cli.app import main\n"
        "main()"
    )
    env = {**os.environ, "COLUMNS": str(columns)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == str(typer_imported)
    assert result.stdout == _typer_help(columns)

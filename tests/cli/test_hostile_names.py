"""Names from a crafted checkpoint cannot drive the terminal.

Object-graph names are whatever the file says: an escape sequence (`\\x1b[2J` clears the
screen), a NUL, a bell, a newline that would fake a row, a right-to-left override that shows
text in another order. Wherever ckptctl prints a name (tables, `--tree`, `--stats`, `diff`,
error messages, GitHub annotations, Markdown) it shows these as escapes (`\\x1b`, `\\n`,
`\\u202e`); `--json` keeps the real names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from ckptctl.layout import printable
from tests.cli.test_terminal import in_terminal

NAMES = {
    "clear\x1b[2Jscreen": [1.0, 2.0],
    "fake\nline": [3.0],
    "nul\x00bell\x07": [4.0],
    "rtl\u202eevil": [5.0],
}
SHOWN = ["clear\\x1b[2Jscreen", "fake\\nline", "nul\\x00bell\\x07", "rtl\\u202eevil"]
_RICH_OWN = re.compile(rb"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[1A")
"""What Rich itself sends: colours, and the progress bar's hide/show cursor, clear line and
line up. Not, say, ``\x1b[2J`` (clear the screen)."""
_UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]|\xe2\x80[\xa8\xa9\xaa-\xae]")


def _write(prefix: Path, bump: float = 0.0) -> Path:
    import tensorflow as tf

    module = tf.Module()
    for name, value in NAMES.items():
        setattr(module, name, tf.Variable([v + bump for v in value]))
    return Path(tf.train.Checkpoint(net=module).write(str(prefix)))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    return _write(root / "a" / "ckpt"), _write(root / "b" / "ckpt", bump=1.0)


def assert_safe(raw: bytes) -> None:
    """Among the bytes a terminal acts on, nothing but newlines, carriage returns and what
    Rich itself sends."""
    bare = _RICH_OWN.sub(b"", raw)
    assert b"\x1b" not in bare, bare
    assert _UNSAFE.search(bare) is None, bare


def test_printable_escapes_controls_and_reordering() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("x\ny\tz\r") == "x\\ny\\tz\\r"
    assert printable("a\x00\x7f\x9b\u2028\u202e\u2066") == "a\\x00\\x7f\\x9b\\u2028\\u202e\\u2066"
    assert printable("two\nlines", keep_newlines=True) == "two\nlines"
    assert printable("modèle ✓ 模型") == "modèle ✓ 模型"


@pytest.mark.parametrize(
    "args",
    [["inspect"], ["inspect", "--tree"], ["inspect", "--stats", "--hist"], ["diff"]],
    ids=["table", "tree", "stats", "diff"],
)
def test_terminal_gets_escapes_not_controls(hostile: tuple[Path, Path], args: list[str]) -> None:
    a, b = hostile
    paths = [a, b] if args == ["diff"] else [a]
    shown = in_terminal(120, args[0], *paths, *args[1:])
    assert shown.code == (1 if args == ["diff"] else 0), shown.stderr
    assert_safe(shown.raw_stdout)
    assert_safe(shown.raw_stderr)
    for name in SHOWN:
        assert name in shown.stdout
    # The newline in a name does not start a row of its own.
    assert not any(line.strip().startswith("line") for line in shown.lines)


def test_piped_output_and_json(hostile: tuple[Path, Path]) -> None:
    a, _ = hostile
    runner = CliRunner()
    piped = runner.invoke(app, ["inspect", str(a)], env={"COLUMNS": "200"})
    assert piped.exit_code == 0, piped.output
    assert_safe(piped.stdout_bytes)
    rows = [line for line in piped.stdout.splitlines() if line.startswith("net.")]
    assert [row.split()[0] for row in rows] == [f"net.{name}" for name in SHOWN]

    doc = json.loads(runner.invoke(app, ["inspect", str(a), "--json"]).stdout)
    assert sorted(v["path"] for v in doc["variables"]) == sorted(f"net.{n}" for n in NAMES)


def test_github_annotations_and_markdown(hostile: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = hostile
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(
        app,
        ["diff", str(a), str(b)],
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert "::error" in result.stderr
    assert_safe(result.stderr_bytes)
    assert_safe(result.stdout_bytes)
    written = summary.read_bytes()
    assert_safe(written)
    assert b"clear\\\\x1b\\[2Jscreen" in written or b"clear\\x1b[2Jscreen" in written


def test_error_naming_a_control_character(tmp_path: Path) -> None:
    """A state file naming a prefix with a NUL and an escape in it: the error says which,
    as escapes."""
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt\\000\\033[2J-3"\n')
    shown = in_terminal(80, "inspect", tmp_path)
    assert shown.code == 3, shown.stdout
    assert_safe(shown.raw_stderr)
    assert "ckpt\\x00\\x1b[2J-3" in shown.stderr


@pytest.fixture(scope="module")
def hostile_many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The hostile names among 450 others: past the row count where output skips Rich."""
    import tensorflow as tf

    out = []
    for bump in (0.0, 1.0):
        module = tf.Module()
        for name, value in NAMES.items():
            setattr(module, name, tf.Variable([v + bump for v in value]))
        module.pad = [tf.Variable([float(i) + bump]) for i in range(450)]
        prefix = tmp_path_factory.mktemp("hostile_many") / "ckpt"
        out.append(Path(tf.train.Checkpoint(net=module).write(str(prefix))))
    return out[0], out[1]


@pytest.mark.parametrize(
    "args",
    [["inspect", "--tree"], ["inspect", "--stats"], ["diff"]],
    ids=["tree", "stats", "diff"],
)
def test_hundreds_of_rows_written_without_rich_get_escapes_too(
    hostile_many: tuple[Path, Path], args: list[str]
) -> None:
    a, b = hostile_many
    paths = [a, b] if args == ["diff"] else [a]
    shown = in_terminal(120, args[0], *paths, *args[1:])
    assert shown.code == (1 if args == ["diff"] else 0), shown.stderr
    assert_safe(shown.raw_stdout)
    for name in SHOWN:
        assert name in shown.stdout
    assert "pad" in shown.stdout
    assert not any(line.strip().startswith("line") for line in shown.lines)

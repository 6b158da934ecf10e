"""``ckptctl inspect CHECKPOINT...`` with no option that takes a value runs without Typer, and
says exactly what the Typer command says: the same stdout, stderr and exit code, for good and
bad paths, with every such flag."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ckptctl.cli.app import _plain_inspect
from ckptctl.cli.plain import WRITE_LINES, write_text
from tests.fresh import run_fresh, run_python

THROUGH_MAIN = "from ckptctl.cli.app import main; main()"
THROUGH_TYPER = "import sys; from ckptctl.cli.commands import app; app(prog_name='ckptctl')"


def _run(entry: str, args: list[str]) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CKPTCTL_DEBUG"}
    env["COLUMNS"] = "100"
    proc = run_python(entry, *args, env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["inspect", "a"], (["a"], set())),
        (["inspect", "a", "b"], (["a", "b"], set())),
        (["inspect", "a", "--json"], (["a"], {"--json"})),
        (["inspect", "--stats", "a", "--hist"], (["a"], {"--stats", "--hist"})),
        (
            ["inspect", "a", "--tree", "--no-verify", "--debug"],
            (["a"], {"--tree", "--no-verify", "--debug"}),
        ),
        (["inspect", "a", "--fail-on-nonfinite"], (["a"], {"--fail-on-nonfinite"})),
        (["inspect"], None),
        (["inspect", "--json"], None),
        (["inspect", "a", "--filter", "x*"], None),
        (["inspect", "a", "--filter=x*"], None),
        (["inspect", "a", "--backend", "tf"], None),
        (["inspect", "a", "--stat"], None),
        (["inspect", "--", "a"], None),
        (["inspect", "-a"], None),
        (["inspect", ""], None),
        (["inspect", "a", "--help"], None),
        (["inspect", "a", "-h"], None),
        (["diff", "a", "b"], None),
        (["a", "inspect"], None),
    ],
)
def test_only_unambiguous_command_lines_skip_typer(
    args: list[str], expected: tuple[list[str], set[str]] | None
) -> None:
    assert _plain_inspect(args) == expected


@pytest.fixture(scope="module")
def nan_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.w = tf.Variable([1.0, float("nan"), 3.0])
    module.b = tf.Variable([0.0, 2.0])
    return Path(tf.train.Checkpoint(model=module).write(str(tmp_path_factory.mktemp("nan") / "c")))


def test_plain_inspect_needs_neither_typer_nor_numpy(samples_dir: Path) -> None:
    """Nor Rich, off a terminal (here a StringIO): the text is written without it."""
    out = run_fresh(
        """
        import contextlib, io, json, sys
        from ckptctl.cli.app import main
        results = []
        for args in (sys.argv[1:2], [*sys.argv[1:2], "--json"], sys.argv[1:3]):
            sys.argv = ["ckptctl", "inspect", *args]
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main()
                except SystemExit as e:
                    results.append([e.code, len(out.getvalue()) > 0])
        loaded = sorted({m.split(".")[0] for m in sys.modules}
                        & {"typer", "click", "numpy", "tensorflow", "h5py", "rich"})
        print(json.dumps({"results": results, "loaded": loaded}))
        """,
        str(samples_dir / "my_model"),
        str(samples_dir / "my_model" / "ckpt-2"),
    )
    assert out == {"results": [[0, True], [0, True], [0, True]], "loaded": []}


def test_plain_inspect_says_what_the_typer_command_says(
    samples_dir: Path, dtypes_ckpt: Path, nan_ckpt: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ckpt.index").write_bytes(b"not an index")
    model = str(samples_dir / "my_model")
    cases = [
        [model],
        [model, "--json"],
        ["--json", str(dtypes_ckpt)],
        [model, str(dtypes_ckpt)],
        [str(tmp_path / "missing")],
        [str(broken / "ckpt")],
        [model, str(tmp_path / "missing")],
        [model, model, "--json"],
        [model, "--stats", "--hist"],
        ["--tree", model, "--no-verify"],
        [str(dtypes_ckpt), "--stats", "--json"],
        [str(nan_ckpt), "--fail-on-nonfinite"],
        [str(nan_ckpt), "--stats", "--fail-on-nonfinite", "--json"],
        [str(broken / "ckpt"), "--debug"],
    ]
    codes = []
    for case in cases:
        fast = _run(THROUGH_MAIN, ["inspect", *case])
        typer = _run(THROUGH_TYPER, ["inspect", *case])
        assert fast == typer, case
        if "--debug" not in case:
            assert "Traceback" not in fast[2]
        codes.append(fast[0])
    assert codes == [0, 0, 0, 0, 3, 3, 3, 2, 0, 0, 0, 1, 1, 3]


@pytest.mark.parametrize(
    "options",
    [{}, {"stats": True}, {"stats": True, "hist": True}, {"filter": "*dense1*"}, {"filter": "x"}],
)
def test_off_a_terminal_the_text_is_the_rich_renderers(
    samples_dir: Path, keras2_dir: Path, nan_ckpt: Path, options: dict[str, object]
) -> None:
    """What a pipe gets without Rich is, byte for byte, what the Rich renderer prints off a
    terminal: the header, notes, the slot lines (Keras 2 slots' full names among them), the
    statistics table with its NaN, the filter's line."""
    import contextlib
    import io

    from ckptctl.cli.plain import print_plain_inspect
    from ckptctl.cli.render import render_inspect, stdout_console
    from ckptctl.inspection import inspect

    for ckpt in (samples_dir / "my_model", keras2_dir, nan_ckpt):
        report = inspect(ckpt, **options)  # type: ignore[arg-type]
        plain, rich = io.StringIO(), io.StringIO()
        print_plain_inspect(report, plain)
        with contextlib.redirect_stdout(rich):
            render_inspect(report, stdout_console())
        assert plain.getvalue() == rich.getvalue(), ckpt
        assert "─" in plain.getvalue() or "match" in plain.getvalue()


@pytest.mark.parametrize(
    "count", [0, 1, WRITE_LINES - 1, WRITE_LINES, WRITE_LINES + 1, 3 * WRITE_LINES]
)
def test_lines_written_a_few_thousand_at_a_time_are_the_lines_joined(count: int) -> None:
    lines = [f"row {i}" for i in range(count)]
    out = io.StringIO()
    write_text(out, lines)
    assert out.getvalue() == "".join(f"{line}\n" for line in lines)

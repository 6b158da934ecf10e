"""Write docs/CLI.md, the command-line reference, from each command's own ``--help``.

``make docs`` runs it; ``python docs/cli_reference.py --check`` exits 1 when docs/CLI.md is not
what it would write. The help is Click's own, at a fixed width of 80 columns and without
colour, so the reference is the same on every machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).with_name("CLI.md")
WIDTH = 80
HEADER = """\
# ckptctl command-line reference

Each command's `--help`, as `ckptctl COMMAND --help` prints it at 80 columns. Written by
`make docs` (`docs/cli_reference.py`) from the code itself: do not edit it by hand.
"""


def help_text(*command: str) -> str:
    """``ckptctl COMMAND --help`` as it prints in a terminal :data:`WIDTH` columns wide."""
    from typer.testing import CliRunner

    from ckptctl.cli.app import app

    result = CliRunner().invoke(
        app,
        [*command, "--help"],
        prog_name="ckptctl",
        env={"NO_COLOR": "1", "COLUMNS": str(WIDTH)},
        color=False,
        terminal_width=WIDTH - 2,  # what Click wraps at in a terminal WIDTH columns wide
        max_content_width=WIDTH,
    )
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip() + "\n"


def reference() -> str:
    """The whole of docs/CLI.md: ``ckptctl --help``, then each command's."""
    import typer

    from ckptctl.cli.app import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    sections = [HEADER, "## ckptctl\n\n```text\n" + help_text() + "```\n"]
    for name in group.commands:
        sections.append(f"## ckptctl {name}\n\n```text\n{help_text(name)}```\n")
    return "\n".join(sections)


def main(argv: list[str]) -> int:
    text = reference()
    if argv == ["--check"]:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python docs/cli_reference.py [--check]", file=sys.stderr)
        return 2
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run the ckptctl CLI exactly as the ``ckptctl`` console script does, then record whether
TensorFlow was imported.

Usage: ``python bench/_ckptctl.py ARG...`` (the arguments of ``ckptctl``). When the
environment variable ``CKPTCTL_BENCH_TF_MARKER`` names a file, ``yes`` or ``no`` is written to
it at exit, after the command has run: whether any ``tensorflow`` module was in
``sys.modules``. The check runs in a ``finally`` block, so it also covers the ``SystemExit``
that Typer raises to set the exit code.
"""

from __future__ import annotations

import os
import sys

MARKER_ENV = "CKPTCTL_BENCH_TF_MARKER"


def _tensorflow_imported() -> bool:
    """Whether ``tensorflow`` or any of its submodules has been imported in this process."""
    return any(name == "tensorflow" or name.startswith("tensorflow.") for name in sys.modules)


def main() -> None:
    """Run ``ckptctl.cli.app:main`` with this script's arguments; write the marker file."""
    sys.argv[0] = "ckptctl"
    try:
        from ckptctl.cli.app import main as ckptctl_main

        ckptctl_main()
    finally:
        marker = os.environ.get(MARKER_ENV)
        if marker:
            with open(marker, "w") as f:
                f.write("yes" if _tensorflow_imported() else "no")


if __name__ == "__main__":
    main()

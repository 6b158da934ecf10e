"""Run the ckptctl CLI exactly as the ``ckptctl`` console script does, then record whether
TensorFlow was imported.

Usage: ``python bench/_ckptctl.py ARG...`` (the arguments of ``ckptctl``). When the
environment variable ``CKPTCTL_BENCH_TF_MARKER`` names a file, ``yes`` or ``no`` is written to
it at exit, after the command has run: whether any ``tensorflow`` module was in
``sys.modules``. The check is an exit function (``atexit``), so it runs whichever way the
command ends: by ``SystemExit``, or by the quick end :func:`ckptctl.cli.app.run` takes
after TensorFlow.
"""

from __future__ import annotations

import os
import sys

MARKER_ENV = "CKPTCTL_BENCH_TF_MARKER"


def _tensorflow_imported() -> bool:
    """Whether ``tensorflow`` or any of its submodules has been imported in this process."""
    return any(name == "tensorflow" or name.startswith("tensorflow.") for name in sys.modules)


def _write_marker() -> None:
    marker = os.environ.get(MARKER_ENV)
    if marker:
        with open(marker, "w") as f:
            f.write("yes" if _tensorflow_imported() else "no")


def main() -> None:
    """Run ``ckptctl.cli.app:run`` (the console script) with this script's arguments; write
    the marker file."""
    import atexit

    sys.argv[0] = "ckptctl"
    atexit.register(_write_marker)
    from ckptctl.cli.app import run

    run()


if __name__ == "__main__":
    main()

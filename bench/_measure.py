"""Run one command and report its wall time and peak memory as one JSON line on stdout.

Usage: ``python bench/_measure.py [--stdout FILE] -- CMD [ARG...]``.

The command runs as this process's only child, its stdout going to ``FILE`` (default: the null
device) and its stderr passed through. After waiting for it, ``ru_maxrss`` of
``RUSAGE_CHILDREN`` is the peak resident set size of that child (the kernel keeps the largest
among waited-for children, and there is just one; it includes any children the command itself
waited for). Use a fresh wrapper process for every measurement, or the maximum carries over.

Printed: ``{"seconds": wall time from spawn to exit, "max_rss_mib": peak RSS in MiB,
"returncode": the command's exit status}``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def measure(cmd: list[str], stdout_path: str) -> dict[str, float | int]:
    """Run ``cmd`` to completion; return its wall time, peak RSS (MiB) and return code."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=out, check=False)
        seconds = time.perf_counter() - start
    max_rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {
        "seconds": seconds,
        "max_rss_mib": max_rss_kib / 1024,
        "returncode": proc.returncode,
    }


def main(argv: list[str]) -> int:
    """Parse ``[--stdout FILE] -- CMD...``, measure CMD and print the JSON line."""
    stdout_path = "/dev/null"
    if argv[:1] == ["--stdout"] and len(argv) >= 2:
        stdout_path, argv = argv[1], argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        print("usage: _measure.py [--stdout FILE] -- CMD [ARG...]", file=sys.stderr)
        return 2
    print(json.dumps(measure(argv[1:], stdout_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

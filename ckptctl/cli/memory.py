"""Keep freed chunk buffers in the process (glibc) instead of returning them to the kernel.

Streaming a large value allocates and frees a few MiB per chunk. glibc serves allocations that
large with mmap and hands them back on free (or trims the heap), so every chunk faults its
pages in again: a 2 GiB diff spends most of its time in the kernel (1.7 million page faults,
against 9,000 with this). Only the command-line entry point does this; the library leaves the
host process's allocator alone.
"""

from __future__ import annotations

import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit systems
_TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return  # not glibc (musl, ...): nothing to tune
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)

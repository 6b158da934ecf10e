"""The C kernels (``ckptctl/_kernels.c``) against the libraries they stand in for: crc32c against
google-crc32c, float32 statistics against numpy in float64."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import threading
import time
from pathlib import Path
from types import ModuleType

import google_crc32c
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckptctl import speedups

needs_kernels = pytest.mark.skipif(
    speedups.kernels is None, reason="the C kernels are off (not built, or CKPTCTL_PURE_PYTHON)"
)


@pytest.fixture
def kernels() -> ModuleType:
    if speedups.kernels is None:
        pytest.skip("the C kernels are off (not built, or CKPTCTL_PURE_PYTHON set)")
    return speedups.kernels


def test_built_where_a_compiler_is() -> None:
    """The extension is optional, so a failed build would pass silently: where this machine
    has the compiler and headers Python was built with, it must have been built."""
    cc = (sysconfig.get_config_var("CC") or "").split()
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not cc or shutil.which(cc[0]) is None or not headers.exists():
        pytest.skip("no C compiler or Python headers here")
    if os.environ.get(speedups.PURE_PYTHON_ENV):
        pytest.skip("CKPTCTL_PURE_PYTHON is set")
    assert speedups.kernels is not None


# Lengths around every boundary of the three-run path (3 x 4,096 bytes), the 8-byte steps and
# the GIL threshold (64 KiB).
LENGTHS = [0, 1, 7, 8, 9, 15, 4095, 12287, 12288, 12289, 12295, 65535, 65536, 65537, 1 << 20]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("start", [0, 1, 3])
@pytest.mark.parametrize("crc", [0, 0xFFFFFFFF, 0x1234ABCD])
def test_crc32c_equals_google_crc32c(kernels: ModuleType, n: int, start: int, crc: int) -> None:
    """At any length and alignment, from any starting crc; the table path too."""
    data = np.random.default_rng(n + start).integers(0, 256, n + start, dtype=np.uint8)
    view = memoryview(data)[start:]
    expected = google_crc32c.extend(crc, bytes(view))
    assert kernels.crc32c(view, crc) == expected
    assert kernels.crc32c(bytes(view), crc) == expected
    assert kernels.crc32c_table(view, crc) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40_000), st.integers(0, 2**32 - 1))
def test_crc32c_of_random_bytes(data: bytes, crc: int) -> None:
    if speedups.kernels is None:
        pytest.skip("the C kernels are off")
    assert speedups.kernels.crc32c(data, crc) == google_crc32c.extend(crc, data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=30_000), st.binary(max_size=30_000))
def test_crc32c_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    if speedups.kernels is None:
        pytest.skip("the C kernels are off")
    k = speedups.kernels
    assert k.crc32c_combine(k.crc32c(a), k.crc32c(b), len(b)) == google_crc32c.value(a + b)


def test_crc32c_of_a_float_array_is_that_of_its_bytes(kernels: ModuleType) -> None:
    x = np.random.default_rng(1).standard_normal(100_003).astype(np.float32)
    assert kernels.crc32c(x) == google_crc32c.value(x.tobytes())


def test_crc32c_refuses_what_it_cannot_read_whole(kernels: ModuleType) -> None:
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernels.crc32c(np.zeros((4, 4), np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="32 bits"):
        kernels.crc32c(b"x", 2**32)
    with pytest.raises(ValueError, match="32 bits"):
        kernels.crc32c_combine(2**32, 0, 1)


@pytest.mark.parametrize("kernel", ["crc32c", "f32_stats"])
def test_kernels_release_the_gil(kernels: ModuleType, kernel: str) -> None:
    """Another thread runs Python code while a large buffer is read. The switch interval is
    made long, so this thread keeps the GIL but where a call lets it go; the other thread
    gives it back on every step."""
    data = np.zeros(256 << 20, np.uint8 if kernel == "crc32c" else np.float32)
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    interval = sys.getswitchinterval()
    other = threading.Thread(target=tick)
    other.start()
    sys.setswitchinterval(30)
    try:
        time.sleep(0.01)
        before = ticks
        getattr(kernels, kernel)(data)
        during = ticks - before
    finally:
        sys.setswitchinterval(interval)
        done.set()
        other.join()
    assert during > 0


def _reference(x: np.ndarray, centre: float = 0.0) -> tuple[float, float, int, float, float]:
    d = x.astype(np.float64) - np.float64(np.float32(centre))
    return float(x.min()), float(x.max()), int(np.count_nonzero(x == 0)), d.sum(), (d * d).sum()


@pytest.mark.parametrize("n", [1, 15, 16, 1023, 1024, 1025, 4096 + 17, 300_001])
@pytest.mark.parametrize("centre", [0.0, -40.25])
def test_f32_stats_equal_numpy_in_float64(kernels: ModuleType, n: int, centre: float) -> None:
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 0.5 - 40.0).astype(np.float32)
    x[:: max(1, n // 7)] = 0.0
    n_, lo, hi, zeros, total, squares = kernels.f32_stats(x, centre)
    ref_lo, ref_hi, ref_zeros, ref_total, ref_squares = _reference(x, centre)
    assert (n_, lo, hi, zeros) == (n, ref_lo, ref_hi, ref_zeros)
    # the error of a sum is relative to the sum of magnitudes
    scale = float(np.abs(x.astype(np.float64) - centre).sum())
    assert total == pytest.approx(ref_total, abs=1e-6 * scale + 1e-12)
    assert squares == pytest.approx(ref_squares, rel=1e-6)


def test_f32_stats_extremes_and_signed_zeros(kernels: ModuleType) -> None:
    """Where the minimum or maximum is the first element, the last, or one in the tail; -0.0
    counts as a zero."""
    x = np.zeros(3000, np.float32)
    x[0], x[-1], x[2050] = -3.0, 7.0, -0.0
    assert kernels.f32_stats(x)[:4] == (3000, -3.0, 7.0, 2998)
    y = np.arange(1, 2049, dtype=np.float32)
    assert kernels.f32_stats(y)[:4] == (2048, 1.0, 2048.0, 0)
    assert kernels.f32_stats(y[::-1].copy())[:4] == (2048, 1.0, 2048.0, 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 1500, 2999])
def test_f32_stats_sums_are_not_finite_where_an_element_is_not(
    kernels: ModuleType, bad: float, where: int
) -> None:
    x = np.ones(3000, np.float32)
    x[where] = bad
    _, _, _, _, total, squares = kernels.f32_stats(x)
    assert not (np.isfinite(total) and np.isfinite(squares))


def test_f32_stats_of_nothing_and_of_other_types(kernels: ModuleType) -> None:
    n, _, _, zeros, total, squares = kernels.f32_stats(np.zeros(0, np.float32))
    assert (n, zeros, total, squares) == (0, 0, 0.0, 0.0)
    for other in (np.zeros(8, np.float64), np.zeros(8, np.int32), b"\0" * 32):
        with pytest.raises(TypeError, match="float32"):
            kernels.f32_stats(other)
    with pytest.raises(TypeError, match="float32"):
        kernels.f32_stats(np.zeros(8, ">f4"))

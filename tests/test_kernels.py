"""The C kernels (``ckptctl/_kernels.c``) against the libraries they stand in for: crc32c against
google-crc32c, float32 statistics against numpy in float64; and the chunks read by position
on two threads (:mod:`ckptctl.positional`) against the chunks read in turn."""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import google_crc32c
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckptctl import speedups
from ckptctl.chunks import CHUNK_BYTES
from ckptctl.errors import CheckpointError
from ckptctl.reader import open_checkpoint
from tests.fresh import run_python

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


@pytest.mark.parametrize("n", LENGTHS)
def test_same_bytes_is_equality_of_the_bytes(kernels: ModuleType, n: int) -> None:
    """Equal buffers, the same with one byte flipped (first, middle, last), and buffers of
    other lengths; buffers of any format (float32 against its bytes)."""
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    assert kernels.same_bytes(data, data.copy()) is True
    assert kernels.same_bytes(data, bytes(data)) is True
    for at in {0, n // 2, n - 1} if n else set():
        other = data.copy()
        other[at] ^= 0x80
        assert kernels.same_bytes(data, other) is False
    assert kernels.same_bytes(data, bytes(data) + b"\0") is False
    if n:
        assert kernels.same_bytes(data[1:], data[:-1]) is (len(set(data.tolist())) <= 1)
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    assert kernels.same_bytes(x, x.tobytes()) is True
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernels.same_bytes(np.zeros((4, 4), np.uint8)[:, ::2], b"\0" * 8)


@pytest.mark.parametrize("kernel", ["crc32c", "f32_stats", "same_bytes"])
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
        getattr(kernels, kernel)(*([data, data.copy()] if kernel == "same_bytes" else [data]))
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


# -- chunks read by position ------------------------------------------------------------


@pytest.fixture(scope="module")
def one_value(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    import tensorflow as tf

    value = np.random.default_rng(5).standard_normal(250_003).astype(np.float32)
    module = tf.Module()
    module.w = tf.Variable(value)
    directory = tmp_path_factory.mktemp("positional")
    return Path(tf.train.Checkpoint(m=module).write(str(directory / "ckpt"))), value


KEY = "m/w/.ATTRIBUTES/VARIABLE_VALUE"


@needs_kernels
def test_chunks_in_any_order_are_the_chunks_in_turn(one_value: tuple[Path, np.ndarray]) -> None:
    """Read last to first, on two threads at once: the same chunks as read_chunks, and the
    value's checksum holds."""
    prefix, value = one_value
    with open_checkpoint(prefix) as ckpt:
        chunks = ckpt.positional_chunks(KEY, 40_000)
        assert chunks is not None and len(chunks) == 26
        in_turn = [c.copy() for c in ckpt.read_chunks(KEY, 40_000)]
        got: dict[int, np.ndarray] = {}

        def read(indices: range) -> None:
            out = chunks.buffer()
            for i in indices:
                got[i] = np.frombuffer(chunks.read(i, out), np.float32).copy()

        threads = [threading.Thread(target=read, args=(range(i, -1, -2),)) for i in (25, 24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        chunks.check()
    assert sorted(got) == list(range(26))
    for i, chunk in enumerate(in_turn):
        np.testing.assert_array_equal(got[i], chunk)
    np.testing.assert_array_equal(np.concatenate([got[i] for i in range(26)]), value)


@needs_kernels
def test_a_chunk_left_unread_is_not_a_passed_check(one_value: tuple[Path, np.ndarray]) -> None:
    prefix, _ = one_value
    with open_checkpoint(prefix) as ckpt:
        chunks = ckpt.positional_chunks(KEY, 400_000)
        assert chunks is not None
        chunks.read(0, chunks.buffer())
        with pytest.raises(RuntimeError, match="chunk 1 of 3 was not read"):
            chunks.check()


@needs_kernels
def test_a_flipped_byte_fails_the_check_after_the_last_chunk(
    one_value: tuple[Path, np.ndarray], broken_copy: Callable[[Path], Path]
) -> None:
    prefix, value = one_value
    directory = broken_copy(prefix.parent)
    (shard,) = directory.glob(f"{prefix.name}.data-*")
    data = bytearray(shard.read_bytes())
    data[bytes(data).index(value.tobytes()) + 500_000] ^= 0x01
    shard.write_bytes(bytes(data))
    with open_checkpoint(directory / prefix.name) as ckpt:
        chunks = ckpt.positional_chunks(KEY, 100_000)
        assert chunks is not None
        out = chunks.buffer()
        for i in range(len(chunks)):
            chunks.read(i, out)
        with pytest.raises(CheckpointError, match=r"data-00000-of-00001: corrupt \(value m/w"):
            chunks.check()
    with open_checkpoint(directory / prefix.name, verify=False) as ckpt:
        chunks = ckpt.positional_chunks(KEY, 100_000)
        assert chunks is not None
        out = chunks.buffer()
        for i in range(len(chunks)):
            chunks.read(i, out)
        chunks.check()  # not asked to verify


@needs_kernels
def test_a_shard_cut_short_after_opening_names_the_file(
    one_value: tuple[Path, np.ndarray], broken_copy: Callable[[Path], Path]
) -> None:
    prefix, _ = one_value
    directory = broken_copy(prefix.parent)
    (shard,) = directory.glob(f"{prefix.name}.data-*")
    with open_checkpoint(directory / prefix.name) as ckpt:
        chunks = ckpt.positional_chunks(KEY, 100_000)
        assert chunks is not None
        os.truncate(shard, 300_000)
        out = chunks.buffer()
        chunks.read(0, out)
        with pytest.raises(CheckpointError, match=r"data-00000-of-00001: .*value m/w"):
            chunks.read(len(chunks) - 1, out)


def test_stats_are_the_same_without_the_kernels(one_value: tuple[Path, np.ndarray]) -> None:
    """CKPTCTL_PURE_PYTHON: numpy reduces and google-crc32c checksums the chunks read in
    turn; the statistics agree with the kernels' to float32 rounding of the sums."""
    prefix, _ = one_value
    code = f"""
import json
from ckptctl import speedups
from ckptctl.chunks import CHUNK_BYTES
from ckptctl.reader import open_checkpoint
from ckptctl.stats import value_stats
with open_checkpoint({str(prefix)!r}) as ckpt:
    st = value_stats(ckpt, ckpt.entry({KEY!r}), chunk_bytes=65536)
    chunks = ckpt.positional_chunks({KEY!r}, 65536)
print(json.dumps([speedups.kernels is None, chunks is None, st.min, st.max, st.mean, st.std]))
"""
    env = {k: v for k, v in os.environ.items() if k != speedups.PURE_PYTHON_ENV}
    runs = [run_python(code, env=e) for e in ({**env, speedups.PURE_PYTHON_ENV: "1"}, env)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    pure, fast = (json.loads(r.stdout) for r in runs)
    assert pure[:2] == [True, True]
    assert fast[:2] == [speedups.kernels is None] * 2
    assert pure[2:4] == fast[2:4]
    assert pure[4] == pytest.approx(fast[4], abs=1e-6)
    assert pure[5] == pytest.approx(fast[5], rel=1e-6)


@pytest.fixture(scope="module")
def chunked_value(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """One float32 value of 3.5 of restore's 2 MiB chunks."""
    import tensorflow as tf

    value = np.random.default_rng(6).standard_normal(7 << 18).astype(np.float32)
    module = tf.Module()
    module.w = tf.Variable(value.reshape(-1, 512))
    directory = tmp_path_factory.mktemp("restore-check")
    return Path(tf.train.Checkpoint(m=module).write(str(directory / "ckpt"))), value


@needs_kernels
def test_a_restored_value_of_several_chunks_is_compared_by_position(
    chunked_value: tuple[Path, np.ndarray], broken_copy: Callable[[Path], Path]
) -> None:
    """restore's bit-for-bit check of a big value, on two threads by position: equal where
    every byte is, unequal where one element of any chunk differs (the last, shorter one
    too), and a damaged file raises its error rather than passing or failing the check."""
    from ckptctl.restoration.checks import stored_equals

    prefix, value = chunked_value
    live = value.reshape(-1, 512)
    with open_checkpoint(prefix) as ckpt:
        assert len(ckpt.positional_chunks(KEY, CHUNK_BYTES) or []) == 4
        assert stored_equals(ckpt, KEY, live) is True
        for at in (0, (1 << 19) + 3, value.size - 1):
            changed = live.copy()
            changed.reshape(-1)[at] = np.nextafter(changed.reshape(-1)[at], np.float32(np.inf))
            assert stored_equals(ckpt, KEY, changed) is False
        assert stored_equals(ckpt, KEY, live.reshape(512, -1)) is False  # another shape
    directory = broken_copy(prefix.parent)
    (shard,) = directory.glob(f"{prefix.name}.data-*")
    data = bytearray(shard.read_bytes())
    data[bytes(data).index(value.tobytes()) + 5_000_000] ^= 0x01
    shard.write_bytes(bytes(data))
    with (
        open_checkpoint(directory / prefix.name) as ckpt,
        pytest.raises(CheckpointError, match=r"corrupt \(value m/w"),
    ):
        stored_equals(ckpt, KEY, live)

"""Bounded memory: every reader hands a value over in chunks of at most the bound asked for,
in order, single-row values (a 1x1 convolution kernel) included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ckptctl
from ckptctl.chunks import CHUNK_BYTES, ChunkBuffers, flat_slabs

# A (1, 1, C, K) kernel has one row: reading "rows at a time" reads it whole.
ONE_ROW = np.arange(1 * 1 * 48 * 40, dtype=np.float32).reshape(1, 1, 48, 40) - 900.5
VALUES = {
    "one_row": ONE_ROW,
    "wide": np.arange(3 * 700, dtype=np.float64).reshape(3, 700),
    "ints": np.arange(-50, 50, dtype=np.int64),
    "flags": np.array([[True, False, True]] * 5),
    "half": np.linspace(-4, 4, 90, dtype=np.float16).reshape(1, 90),
    "scalar": np.array(2.5, np.float32),
}
BOUNDS = [1, 7, 64, 1000, 5000, CHUNK_BYTES]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same values in every format ckptctl reads natively."""
    import tensorflow as tf

    d = tmp_path_factory.mktemp("chunks")
    out: dict[str, Path] = {}
    ckpt = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in VALUES.items()})
    out["bundle"] = Path(ckpt.write(str(d / "bundle" / "ckpt")))

    keras = tf.keras
    conv = keras.Sequential([keras.Input((5, 5, 48)), keras.layers.Conv2D(40, 1)])
    conv.layers[0].kernel.assign(ONE_ROW)
    out["weights-h5"] = d / "conv.weights.h5"
    conv.save_weights(str(out["weights-h5"]))
    out["legacy-h5"] = d / "conv.h5"
    conv.save(str(out["legacy-h5"]))

    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        for name, value in VALUES.items():
            tf1.get_variable(name, initializer=tf.constant(value))
        saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V1, save_relative_paths=True)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            (d / "v1").mkdir()
            out["tf-v1"] = Path(saver.save(sess, str(d / "v1" / "model.ckpt")))
    return out


CASES = [("bundle", "native"), ("bundle", "tf"), ("weights-h5", "auto"), ("legacy-h5", "auto"),
         ("tf-v1", "auto")]  # fmt: skip


@pytest.mark.parametrize(("name", "backend"), CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_every_chunk_is_within_its_bound(files: dict[str, Path], name: str, backend: str) -> None:
    with ckptctl.open_checkpoint(files[name], backend=backend) as ckpt:  # type: ignore[arg-type]
        numeric = [e for e in ckpt.entries if e.is_numeric and e.num_elements]
        assert any(len(e.shape) > 1 and e.shape[0] == 1 and e.num_elements > 1 for e in numeric)
        for e in numeric:
            whole = ckpt.read(e.key)
            for max_bytes in BOUNDS:
                chunks = list(ckpt.read_chunks(e.key, max_bytes))
                bound = max(max_bytes, whole.itemsize)  # at least one element per chunk
                assert [c for c in chunks if c.nbytes > bound] == [], (e.key, max_bytes)
                assert all(c.ndim == 1 for c in chunks)
                assert np.concatenate(chunks).tobytes() == whole.tobytes(), (e.key, max_bytes)


def test_a_one_row_value_is_cut_along_its_last_axes(files: dict[str, Path]) -> None:
    """The Keras store's 1x1 kernel, 7,680 bytes in one row, asked for in chunks of 1,000
    bytes: six runs of the last axis (240 float32 elements, 960 bytes) at a time."""
    with ckptctl.open_checkpoint(files["weights-h5"]) as ckpt:
        (kernel,) = [e for e in ckpt.entries if e.shape == (1, 1, 48, 40)]
        sizes = [c.size for c in ckpt.read_chunks(kernel.key, 1000)]
    assert sizes == [240] * 8
    assert sum(sizes) == ONE_ROW.size


@pytest.mark.parametrize(
    ("shape", "itemsize", "max_bytes", "expected"),
    [
        ((1, 1, 4, 5), 4, 40, [(0, 0, slice(0, 2)), (0, 0, slice(2, 4))]),
        ((2, 3), 8, 1000, [(slice(0, 2),)]),
        ((2, 3), 8, 16, [(0, slice(0, 2)), (0, slice(2, 3)), (1, slice(0, 2)), (1, slice(2, 3))]),
        ((4, 3), 4, 24, [(slice(0, 2),), (slice(2, 4),)]),
        ((3,), 4, 1, [(slice(0, 1),), (slice(1, 2),), (slice(2, 3),)]),
        ((), 4, 1, [()]),
    ],
)
def test_flat_slabs(
    shape: tuple[int, ...], itemsize: int, max_bytes: int, expected: list[tuple[object, ...]]
) -> None:
    assert list(flat_slabs(shape, itemsize, max_bytes)) == expected


def test_a_chunk_buffer_is_reused_only_once_nothing_refers_to_it() -> None:
    buffers = ChunkBuffers(6, np.dtype(np.float32), keep=2)
    first = buffers.take(6)
    first[:] = 1.0
    second = buffers.take(6)  # ``first`` is still held
    assert not np.shares_memory(first, second)
    view = first[2:]
    address = first.__array_interface__["data"][0]
    del first
    third = buffers.take(6)  # a view of ``first`` is still held
    assert not np.shares_memory(view, third)
    assert view.tolist() == [1.0] * 4
    del view, second
    fourth = buffers.take(4)  # the last, shorter chunk: the start of a free buffer
    assert fourth.shape == (4,)
    assert fourth.__array_interface__["data"][0] == address


def test_chunks_kept_by_the_caller_keep_their_values(files: dict[str, Path]) -> None:
    """Chunks are read into reused buffers, but never into one the caller still holds."""
    with ckptctl.open_checkpoint(files["bundle"], backend="native") as ckpt:
        (e,) = [e for e in ckpt.entries if e.key.startswith("wide/")]
        kept = list(ckpt.read_chunks(e.key, 64))
        views = [c[1:] for c in ckpt.read_chunks(e.key, 64)]
    assert len(kept) == 3 * 700 * 8 // 64 + 1
    assert np.concatenate(kept).tolist() == VALUES["wide"].reshape(-1).tolist()
    assert np.concatenate(views).tolist() == [x for c in kept for x in c[1:].tolist()]

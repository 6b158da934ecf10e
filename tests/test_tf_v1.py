"""TF1 V1 checkpoints (``Saver(write_version=V1)``: one SSTable of ``SavedTensorSlices``) and
partitioned variables, read without TensorFlow and compared with TensorFlow's own reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import ckptctl
from ckptctl.cli.app import app
from tests.fresh import run_fresh

VALUES: dict[str, Any] = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5,
    "dense/bias": np.array([1.5, -2.0, 3.25, 0.0], np.float32),
    "counts": np.array([-3, 0, 2**40], np.int64),
    "small": np.array([-7, 9], np.int32),
    "half": np.array([1.5, -0.25], np.float16),
    "double": np.array([[1e-300, -2.5]], np.float64),
    "flags": np.array([True, False, True]),
    "global_step": np.int64(42),
}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _write(directory: Path, version: Any) -> Path:
    import tensorflow as tf

    tf1 = tf.compat.v1
    directory.mkdir(parents=True)
    with tf.Graph().as_default():
        for name, value in VALUES.items():
            tf1.get_variable(name, initializer=tf.constant(value))
        tf1.get_variable(
            "emb",
            shape=[10, 3],
            initializer=tf1.random_normal_initializer(seed=1),
            partitioner=tf1.fixed_size_partitioner(3),
        )
        saver = tf1.train.Saver(write_version=version, save_relative_paths=True)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            return Path(saver.save(sess, str(directory / "model.ckpt")))


@pytest.fixture(scope="session")
def v1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tensorflow as tf

    d = tmp_path_factory.mktemp("tf_v1")
    return {
        "v1": _write(d / "v1", tf.compat.v1.train.SaverDef.V1),
        "v2": _write(d / "v2", tf.compat.v1.train.SaverDef.V2),
    }


def test_every_value_equals_tensorflows_reading(v1: dict[str, Path]) -> None:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(v1["v1"]))
    shapes = reader.get_variable_to_shape_map()
    with ckptctl.open_checkpoint(v1["v1"]) as ckpt:
        assert (ckpt.naming, ckpt.location.source, ckpt.backend_name) == (
            "name-based",
            "checkpoint-v1",
            "native",
        )
        assert {e.key: list(e.shape) for e in ckpt.entries} == shapes
        for key in shapes:
            got = ckpt.read(key)
            if key in VALUES:
                want = np.asarray(VALUES[key])
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), key
            try:
                theirs = reader.get_tensor(key)
            except (tf.errors.UnimplementedError, NotImplementedError):
                continue  # TensorFlow's V1 reader has no decoder for some dtypes (float16)
            assert got.dtype == theirs.dtype and got.tobytes() == theirs.tobytes(), key
        assert [c.size for c in ckpt.read_chunks("emb", 16)] == [4] * 7 + [2]


def test_partitioned_variable_is_stitched(v1: dict[str, Path]) -> None:
    """`emb` was saved as three slices ([0:4], [4:7], [7:10]); one [10, 3] value comes back."""
    with ckptctl.open_checkpoint(v1["v1"]) as ckpt:
        assert ckpt.entry("emb").shape == (10, 3)
        assert ckpt.read("emb").shape == (10, 3)


def test_a_directory_whose_state_file_names_a_v1_file(v1: dict[str, Path]) -> None:
    result = invoke("inspect", v1["v1"].parent, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["source"]) == ("name-based", "checkpoint-v1")
    assert sorted(v["key"] for v in doc["variables"]) == sorted([*VALUES, "emb"])


def test_diff_against_the_v2_save_of_the_same_values(v1: dict[str, Path]) -> None:
    result = invoke("diff", v1["v1"], v1["v2"], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unchanged"] == len(VALUES) + 1


def test_stats_without_tensorflow(v1: dict[str, Path]) -> None:
    out = run_fresh(
        """
        import json, sys
        import ckptctl
        report = ckptctl.inspect(sys.argv[1], stats=True)
        kernel = next(v for v in report.variables if v.key == "dense/kernel")
        print(json.dumps({"tf": "tensorflow" in sys.modules,
                          "min": kernel.stats.min, "max": kernel.stats.max}))
        """,
        str(v1["v1"]),
    )
    assert out == {"tf": False, "min": -5.5, "max": 5.5}


def test_restore_by_name(v1: dict[str, Path]) -> None:
    """A Keras 3 model whose variables carry the TF1 names restores from the V1 file."""
    from ckptctl.restoration import restore

    others = [k for k in [*VALUES, "emb"] if not k.startswith("dense/") and k != "global_step"]
    refused = restore(v1["v1"], _tf1_named_model, input_shapes=[(2, 3)])
    assert refused.ok is False
    assert sorted(u.key for u in refused.unused) == sorted(others)
    assert refused.not_requested == ["global_step"]  # training state, not the model's
    report = restore(v1["v1"], _tf1_named_model, input_shapes=[(2, 3)], allow_unused=others)
    assert report.ok, (report.missing, report.mismatched, report.outputs, report.stopped)
    assert (report.matched, report.values.checked, report.values.differing) == (2, 2, [])


def _tf1_named_model() -> Any:
    import tensorflow as tf

    class Dense(tf.keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = tf.keras.layers.Dense(4, name="dense")

        def call(self, x: Any, training: bool = False) -> Any:
            return self.dense(x)

    return Dense()


def test_broken_v1_file_is_one_line(v1: dict[str, Path], tmp_path: Path) -> None:
    data = v1["v1"].read_bytes()
    broken = tmp_path / "model.ckpt"
    broken.write_bytes(data[:40] + b"\x00" * 40 + data[80:])
    result = invoke("inspect", broken)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert str(broken) in result.stderr

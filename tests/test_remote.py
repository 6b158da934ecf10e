"""Schemes only TensorFlow implements go through `tf.io.gfile`: its in-memory `ram://` file
system (inspect, diff and restore through the Python API). Object storage through fsspec is
tested against a real S3 API server in `tests/remote/`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import ckptctl
from ckptctl.cli.app import app
from ckptctl.errors import CheckpointError

MY_MODEL = "sample_models.models:MyModel"


@pytest.fixture(scope="module")
def ram_run() -> dict[str, Any]:
    """A CheckpointManager directory on ram:// with two checkpoints of the sample MyModel."""
    import keras
    import tensorflow as tf

    from sample_models.models import MyModel

    model = MyModel()
    model(np.zeros((2, 20), np.float32))
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    directory = f"ram://ckptctl-{uuid.uuid4().hex}/run"
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=optimizer), directory, max_to_keep=3
    )
    manager.save()
    model.dense1.bias.assign_add(tf.ones_like(model.dense1.bias))
    manager.save()
    return {"dir": directory, "bias": model.dense1.bias.numpy()}


def test_inspect_a_ram_directory(ram_run: dict[str, Any]) -> None:
    report = ckptctl.inspect(ram_run["dir"])
    assert report.checkpoint == f"{ram_run['dir']}/ckpt-2"
    assert report.naming == "object-graph"
    assert report.total_params == 1521
    assert report.total_bytes > 0
    paths = {v.path for v in report.variables}
    assert "model.dense1._kernel" in paths
    bias = next(v for v in report.variables if v.path == "model.dense1.bias")
    with ckptctl.open_checkpoint(ram_run["dir"]) as ckpt:
        assert ckpt.backend_name == "tf"
        np.testing.assert_array_equal(ckpt.read(bias.key), ram_run["bias"])


def test_inspect_stats_and_prefix_forms_through_the_cli(ram_run: dict[str, Any]) -> None:
    runner = CliRunner()
    for path in (f"{ram_run['dir']}/ckpt-1", f"{ram_run['dir']}/ckpt-1.index"):
        result = runner.invoke(app, ["inspect", path, "--stats", "--json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["checkpoint"] == f"{ram_run['dir']}/ckpt-1"
        assert all(v["stats"]["count"] == v["num_elements"] for v in doc["variables"])


def test_diff_on_ram(ram_run: dict[str, Any]) -> None:
    report = ckptctl.diff(f"{ram_run['dir']}/ckpt-1", f"{ram_run['dir']}/ckpt-2")
    assert not report.equal
    assert {c.path for c in report.changed} == {"model.dense1.bias", "save_counter"}
    bias = next(c for c in report.changed if c.path == "model.dense1.bias")
    assert bias.max_abs_diff == pytest.approx(1.0)
    assert ckptctl.diff(ram_run["dir"], f"{ram_run['dir']}/ckpt-2").equal


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_restore_from_ram(ram_run: dict[str, Any], optimizer: str | None) -> None:
    report = ckptctl.restore(ram_run["dir"], MY_MODEL, input_shapes=[(4, 20)], optimizer=optimizer)
    assert report.ok, report.to_dict()
    assert report.checkpoint == f"{ram_run['dir']}/ckpt-2"
    assert report.matched == (14 if optimizer else 4)
    assert report.values.checked == report.matched


def test_a_missing_remote_path_is_a_clean_error(ram_run: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError) as err:
        ckptctl.inspect(f"{ram_run['dir']}/ckpt-9")
    assert err.value.message.startswith(f"{ram_run['dir']}/ckpt-9")
    result = CliRunner().invoke(app, ["inspect", "ram://nowhere-at-all"])
    assert result.exit_code == 3
    assert "ram://nowhere-at-all" in result.stderr
    assert "Traceback" not in result.output


def test_the_native_reader_refuses_remote_paths_clearly(ram_run: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError) as err:
        ckptctl.open_checkpoint(ram_run["dir"], backend="native")
    assert "the TensorFlow-free reader does not read this scheme" in err.value.message

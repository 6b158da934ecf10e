"""``ckptctl trend``: a real run with a frozen layer and a value gone NaN at the last step."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's layout, four saves: `frozen` is left out of training (trainable=False),
    and `head.bias` is set to NaN before the last save."""
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(5)

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = keras.layers.Dense(6, activation="relu")
            self.frozen = keras.layers.Dense(5, trainable=False)
            self.head = keras.layers.Dense(2)

        def call(self, x: Any, training: bool = False) -> Any:
            return self.head(self.frozen(self.hidden(x)))

    net = Net()
    net.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 4), np.float32), rng.random((32, 2), np.float32)
    d = tmp_path_factory.mktemp("trend")
    ckpt = tf.train.Checkpoint(step=tf.Variable(0), optimizer=net.optimizer, net=net)
    manager = tf.train.CheckpointManager(ckpt, str(d / "run"), max_to_keep=5)
    for i in range(4):
        net.fit(x, y, batch_size=8, epochs=1, verbose=0)
        ckpt.step.assign_add(10)
        if i == 3:
            net.head.bias.assign([math.nan, 1.0])
        manager.save()
    return d / "run"


def test_trend_names_the_frozen_layer_and_the_nan(run_dir: Path) -> None:
    result = invoke("trend", run_dir, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["steps"] == [10, 20, 30, 40]
    assert [Path(c).name for c in doc["checkpoints"]] == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]
    assert doc["never_changed"] == ["net.frozen"]
    assert doc["nonfinite"] == [{"path": "net.head.bias", "first_step": 40}]
    assert {v["path"] for v in doc["values"]} == {
        f"net.{layer}.{w}" for layer in ("hidden", "frozen", "head") for w in ("_kernel", "bias")
    }


def test_relative_changes_equal_numpys(run_dir: Path) -> None:
    import tensorflow as tf

    doc = json.loads(invoke("trend", run_dir, "--json").stdout)
    readers = [tf.train.load_checkpoint(c) for c in doc["checkpoints"]]
    for v in doc["values"]:
        arrays = [r.get_tensor(v["key"]).astype(np.float64) for r in readers]
        assert v["rel_change"][0] is None
        for i in range(1, len(arrays)):
            a, b = arrays[i], arrays[i - 1]
            change, before = float(np.linalg.norm(a - b)), float(np.linalg.norm(b))
            # No change is no change, even of a value that is all zeros (numpy's 0 / 0).
            want = 0.0 if change == 0 else change / before
            got = v["rel_change"][i]
            if math.isnan(want):
                assert got == "nan", v["path"]
            else:
                assert got == pytest.approx(want, rel=1e-12), (v["path"], i)
        finite = [a[np.isfinite(a)] for a in arrays]
        assert v["norm"] == pytest.approx([float(np.linalg.norm(f)) for f in finite], rel=1e-12)
        assert v["nan"] == [int(np.isnan(a).sum()) for a in arrays]


def test_all_includes_the_optimizer_and_counters(run_dir: Path) -> None:
    doc = json.loads(invoke("trend", run_dir, "--json", "--all").stdout)
    paths = {v["path"] for v in doc["values"]}
    assert "optimizer._iterations" in paths and "step" in paths


def test_table_and_filter(run_dir: Path) -> None:
    result = invoke("trend", run_dir, "--filter", "net.frozen.*")
    assert result.exit_code == 1
    assert "never changed" in result.stdout
    assert "net.hidden" not in result.stdout


def test_a_healthy_run_exits_0(run_dir: Path) -> None:
    assert invoke("trend", run_dir, "--filter", "net.hidden.*").exit_code == 0


def test_one_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    import tensorflow as tf

    tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path), 2).save()
    result = invoke("trend", tmp_path)
    assert result.exit_code == 2
    assert "a trend needs two or more" in result.stderr


def test_trend_follows_the_schema(run_dir: Path) -> None:
    from tests.test_schemas import assert_valid

    assert_valid(json.loads(invoke("trend", run_dir, "--json").stdout), "trend")


def test_html_page_is_self_contained(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    page = tmp_path / "trend.html"
    result = invoke("trend", run_dir, "--html", page)
    assert result.exit_code == 1, result.output
    text = page.read_text()
    assert "net.frozen" in text and "net.head.bias" in text
    # No script or style from the network: Plotly's own script is inside the page.
    assert '<script src="http' not in text and '<link href="http' not in text
    assert len(text) > 1_000_000
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium to render the page in")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         f"--screenshot={shot}", "--window-size=1000,800", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_html_into_the_run_directory_is_refused(run_dir: Path) -> None:
    result = invoke("trend", run_dir, "--html", run_dir / "t.html")
    assert result.exit_code == 2
    assert not (run_dir / "t.html").exists()


def test_a_directory_of_keras_weight_files(tmp_path: Path) -> None:
    import tensorflow as tf

    from tests.models import keras3

    m = keras3.sequential()
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(2)
    saver = tf.keras.callbacks.ModelCheckpoint(
        str(tmp_path / "e{epoch:02d}.weights.h5"), save_weights_only=True
    )
    m.fit(rng.random((16, 6)), rng.random((16, 4)), epochs=3, verbose=0, callbacks=[saver])
    result = invoke("trend", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [Path(c).name for c in doc["checkpoints"]] == [
        "e01.weights.h5",
        "e02.weights.h5",
        "e03.weights.h5",
    ]
    assert doc["steps"] == [1, 2, 3]
    assert doc["never_changed"] == [] and doc["nonfinite"] == []

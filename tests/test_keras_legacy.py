"""Keras 2 HDF5 files (``.h5``): written by tf-keras (in a subprocess, Keras 2) and by Keras 3's
own legacy writer, read without TensorFlow, restored into the Keras 3 model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.checkpoints import PROJECT_ROOT

MODELS = "tests.models.keras3"
SEQ = f"{MODELS}:sequential"

KERAS2_WRITER = """
import sys
import numpy as np
import tensorflow as tf
keras = tf.keras
out = sys.argv[1]
keras.utils.set_random_seed(1)
m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="left"),
                      keras.layers.Dense(4, name="right"), keras.layers.BatchNormalization()])
m.compile(optimizer="adam", loss="mse")
m.fit(np.random.rand(16, 6), np.random.rand(16, 4), epochs=1, verbose=0)
m.save(out + "/whole.h5")
m.save_weights(out + "/weights.h5")


class Sub(keras.Model):
    def __init__(self):
        super().__init__()
        self.encode = keras.layers.Dense(5, activation="relu")
        self.norm = keras.layers.BatchNormalization()
        self.out = keras.layers.Dense(2)

    def call(self, x, training=False):
        return self.out(self.norm(self.encode(x), training=training))


s = Sub()
s.compile(optimizer="sgd", loss="mse")
s.fit(np.random.rand(16, 3), np.random.rand(16, 2), epochs=1, verbose=0)
s.save_weights(out + "/subclassed.h5")
a = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
                      keras.layers.Reshape((36, 4)), keras.layers.LSTM(4), keras.layers.Dense(2)])
a.compile(optimizer="adam", loss="mse")
a.fit(np.random.rand(8, 8, 8, 1), np.random.rand(8, 2), epochs=1, verbose=0)
a.save_weights(out + "/auto.h5")
import tf_keras
print(tf_keras.__version__)
"""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("legacy_h5")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS2_WRITER), str(d)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("2."), result.stdout
    import tensorflow as tf

    from tests.models import keras3

    m = keras3.sequential()
    m.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    m.fit(rng.random((16, 6)), rng.random((16, 4)), epochs=1, verbose=0)
    m.save(str(d / "keras3.h5"))
    assert tf.keras.version().startswith("3.")
    # The same weights file with its layer list split the way Keras splits a list too long for
    # one HDF5 attribute (layer_names0, layer_names1, ...).
    chunked = d / "chunked.h5"
    chunked.write_bytes((d / "weights.h5").read_bytes())
    with h5py.File(chunked, "r+") as f:
        names = list(f.attrs["layer_names"])
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = names[:2]
        f.attrs["layer_names1"] = names[2:]
    return {
        "subclassed": d / "subclassed.h5",
        "auto": d / "auto.h5",
        "whole": d / "whole.h5",
        "weights": d / "weights.h5",
        "keras3": d / "keras3.h5",
        "chunked": chunked,
    }


def listing(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    """The file's weights as Keras's loader reads them: layer by layer, in weight_names order."""
    out = []
    with h5py.File(path, "r") as f:
        root = f.get("model_weights", f)
        prefix = "model_weights/" if "model_weights" in f else ""
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for w in root[layer].attrs["weight_names"]:
                w = w.decode() if isinstance(w, bytes) else w
                out.append((f"{prefix}{layer}/{w}", tuple(root[layer][w].shape)))
    return out


@pytest.mark.parametrize("name", ["whole", "weights", "keras3"])
def test_inspect_lists_the_weights_in_the_loaders_order(legacy: dict[str, Path], name: str) -> None:
    result = invoke("inspect", legacy[name], "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["source"]) == ("keras-legacy", "h5")
    model = [(v["key"], tuple(v["shape"])) for v in doc["variables"] if v["kind"] == "model"]
    assert model == listing(legacy[name])
    # The batch norm's name is Keras's own, numbered by how many were made before it.
    assert doc["layers"][:2] == ["left", "right"]
    assert doc["layers"][2].startswith("batch_normalization")
    assert len(doc["layers"]) == 3
    assert doc["keras_backend"] == "tensorflow"
    assert doc["keras_version"].startswith("3." if name == "keras3" else "2.")
    if name != "weights":
        assert doc["class_name"] == "Sequential"
        assert any(v["kind"] == "optimizer" for v in doc["variables"])
    paths = [v["path"] for v in doc["variables"] if v["kind"] == "model"]
    assert paths[:2] == ["left.kernel", "left.bias"]


def test_tf_keras_slots_name_their_variable(legacy: dict[str, Path]) -> None:
    doc = json.loads(invoke("inspect", legacy["whole"], "--json").stdout)
    slots = {
        v["full_name"]: (v["slot_of"], v["slot_name"]) for v in doc["variables"] if v["slot_of"]
    }
    assert slots["Adam/m/left/kernel:0"] == ("left.kernel", "momentum")
    assert slots["Adam/v/right/bias:0"] == ("right.bias", "velocity")
    model = sum(v["kind"] == "model" for v in doc["variables"])
    assert len(slots) == 2 * (model - 2)  # two slots per trainable weight (not BN's moving stats)


def test_chunked_layer_names_read_alike(legacy: dict[str, Path]) -> None:
    a = json.loads(invoke("inspect", legacy["weights"], "--json").stdout)
    b = json.loads(invoke("inspect", legacy["chunked"], "--json").stdout)
    assert [v["key"] for v in a["variables"]] == [v["key"] for v in b["variables"]]
    assert b["layers"] == a["layers"]


def test_whole_model_and_weights_file_diff_equal(legacy: dict[str, Path]) -> None:
    result = invoke("diff", legacy["whole"], legacy["weights"], "--model-only", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unchanged"] == len(listing(legacy["weights"]))


@pytest.mark.parametrize("name", ["whole", "weights", "keras3", "chunked"])
def test_keras3_model_restores_keras2_files(legacy: dict[str, Path], name: str) -> None:
    result = invoke("restore", legacy[name], "--model", SEQ, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["ok"], d["matched"], d["unused"], d["missing"]) == (
        True,
        len(listing(legacy["weights"])),
        [],
        [],
    )
    assert d["values"]["differing"] == [] and d["outputs"]["equal"] is True


def test_layers_keras_named_are_no_drift(legacy: dict[str, Path]) -> None:
    """Layers left to Keras to name (``conv2d``, ``lstm`` in the file) have other numbers in
    each live instance (``conv2d_7``): Keras's counter, not a layer the user renamed."""
    result = invoke("restore", legacy["auto"], "--model", f"{MODELS}:auto_named", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["drifted"], d["unused"], d["missing"], d["mismatched"]) == ([], [], [], [])
    assert d["matched"] == 7 and d["values"]["differing"] == []


def test_by_name_pairs_keras_named_layers_in_every_instance(tmp_path: Path) -> None:
    """``--by-name`` pairs layers by the names Keras made up (``conv2d``, ``lstm``), as a
    fresh process gives them: the second instance ckptctl makes gets the first one's names,
    not ``conv2d_1``, so it matches the file as the first did. File and restore each in a
    fresh process, as a user's training and ckptctl are."""
    from tests.fresh import run_ckptctl, run_python

    path = tmp_path / "auto.h5"
    writer = (
        "import sys, numpy as np\n"
        "from tests.models import keras3\n"
        "m = keras3.auto_named()\n"
        "m.compile(optimizer='adam', loss='mse')\n"
        "m.fit(np.random.rand(8, 8, 8, 1), np.random.rand(8, 2), epochs=1, verbose=0)\n"
        "m.save(sys.argv[1])\n"
    )
    written = run_python(writer, str(path))
    assert written.returncode == 0, written.stderr[-2000:]
    result = run_ckptctl(
        "restore", str(path), "--model", f"{MODELS}:auto_named", "--by-name", "--json"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    d = json.loads(result.stdout)
    assert (d["unused"], d["missing"], d["mismatched"]) == ([], [], [])
    assert d["matched"] == 7 and d["values"]["differing"] == []


def test_a_renamed_layer_is_listed_not_drift(legacy: dict[str, Path]) -> None:
    """`right` renamed `head` (a name nowhere in the file): loaded by order, in its place."""
    result = invoke("restore", legacy["weights"], "--model", f"{MODELS}:renamed", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["drifted"] == []
    assert d["renamed"] == [{"group": "right", "saved": "right", "model": "head"}]
    assert d["values"]["differing"] == [] and d["values"]["checked"] > 0


def test_swapped_layers_are_drift(legacy: dict[str, Path]) -> None:
    d = json.loads(
        invoke("restore", legacy["weights"], "--model", f"{MODELS}:swapped", "--json").stdout
    )
    assert d["drifted"] == [
        {"group": "left", "saved": "left", "model": "right"},
        {"group": "right", "saved": "right", "model": "left"},
    ]
    assert d["ok"] is False


def test_widened_layer_is_mismatched(legacy: dict[str, Path]) -> None:
    d = json.loads(
        invoke("restore", legacy["weights"], "--model", f"{MODELS}:widened", "--json").stdout
    )
    assert [(m["path"], m["checkpoint_shape"], m["model_shape"]) for m in d["mismatched"]] == [
        ("left.kernel", [6, 4], [6, 5]),
        ("left.bias", [4], [5]),
        ("right.kernel", [4, 4], [5, 4]),
    ]


def test_optimizer_from_a_keras2_file_is_a_usage_error(legacy: dict[str, Path]) -> None:
    result = invoke("restore", legacy["whole"], "--model", SEQ, "--optimizer", "adam")
    assert result.exit_code == 2
    assert "never restores an optimizer" in result.stderr


def test_migrate_keras2_file_to_weights_h5(legacy: dict[str, Path], tmp_path: Path) -> None:
    from tests.models import keras3

    dst = tmp_path / "m.weights.h5"
    result = invoke("migrate", legacy["whole"], "-o", dst, "--model", SEQ)
    assert result.exit_code == 0, result.output
    fresh: Any = keras3.sequential()
    fresh.load_weights(str(dst))
    with h5py.File(legacy["whole"], "r") as f:
        np.testing.assert_array_equal(
            fresh.layers[0].kernel.numpy(), f["model_weights/left/left/kernel:0"][()]
        )


def test_broken_h5_is_one_line(tmp_path: Path, legacy: dict[str, Path]) -> None:
    cut = tmp_path / "cut.h5"
    cut.write_bytes(legacy["whole"].read_bytes()[:3000])
    result = invoke("inspect", cut)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert str(cut) in result.stderr
    assert 1 <= len(result.stderr.strip().splitlines()) <= 2


def test_documents_of_keras_files_follow_the_schemas(legacy: dict[str, Path]) -> None:
    from tests.test_schemas import assert_valid

    for path in (legacy["whole"], legacy["keras3"]):
        assert_valid(json.loads(invoke("inspect", path, "--json", "--stats").stdout), "inspect")
        assert_valid(
            json.loads(invoke("restore", path, "--model", SEQ, "--json").stdout), "restore"
        )
    assert_valid(
        json.loads(invoke("diff", legacy["whole"], legacy["weights"], "--json").stdout), "diff"
    )


def test_by_name_pairs_layers_by_name(legacy: dict[str, Path]) -> None:
    """With --by-name the swapped model's `left` takes the saved `left`: same name, other
    shape (the model's `left` is now second), so mismatched rather than drift."""
    d = json.loads(
        invoke(
            "restore", legacy["weights"], "--model", f"{MODELS}:swapped", "--by-name", "--json"
        ).stdout
    )
    assert d["drifted"] == []
    assert [(m["path"], m["checkpoint_shape"], m["model_shape"]) for m in d["mismatched"]] == [
        ("left.kernel", [6, 4], [4, 4]),
        ("right.kernel", [4, 4], [6, 4]),
    ]
    # The batch norm's name is Keras's own, numbered per process: by name it matches nothing,
    # which is what load_weights(by_name=True) would do too (it would keep fresh statistics).
    same = json.loads(
        invoke("restore", legacy["weights"], "--model", SEQ, "--by-name", "--json").stdout
    )
    assert same["ok"] is False
    assert [u["path"] for u in same["unused"]] == [
        "batch_normalization.gamma",
        "batch_normalization.beta",
        "batch_normalization.moving_mean",
        "batch_normalization.moving_variance",
    ]
    assert same["matched"] == 4 and same["mismatched"] == []


def test_by_name_is_for_keras2_files_only(tmp_path: Path) -> None:
    import tensorflow as tf

    from tests.models import keras3

    m = keras3.sequential()
    m.save_weights(str(tmp_path / "m.weights.h5"))
    result = invoke("restore", tmp_path / "m.weights.h5", "--model", SEQ, "--by-name")
    assert result.exit_code == 2
    assert "not a Keras 2 HDF5 file" in result.stderr
    assert tf is not None


def subclassed() -> Any:
    import tensorflow as tf

    keras = tf.keras

    class Sub(keras.Model):
        ckptctl_input_shapes: ClassVar[list[tuple[int, int]]] = [(4, 3)]

        def __init__(self) -> None:
            super().__init__()
            self.encode = keras.layers.Dense(5, activation="relu")
            self.norm = keras.layers.BatchNormalization()
            self.out = keras.layers.Dense(2)

        def call(self, x: Any, training: bool = False) -> Any:
            return self.out(self.norm(self.encode(x), training=training))

    return Sub()


def test_tf_keras_subclassed_weights_restore_into_keras3(legacy: dict[str, Path]) -> None:
    """A subclassed model's save_weights("w.h5") from tf-keras: layers by order, then each
    layer's weights by order (BatchNormalization's moving statistics after gamma and beta)."""
    result = invoke(
        "restore", legacy["subclassed"], "--model", "tests.test_keras_legacy:subclassed", "--json"
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["matched"], d["values"]["checked"], d["outputs"]["equal"]) == (8, 8, True)
    listing_keys = [k for k, _ in listing(legacy["subclassed"])]
    assert len(listing_keys) == 8


TF_KERAS_MODEL = """
import tf_keras


def sequential():
    return tf_keras.Sequential(
        [
            tf_keras.Input((6,)),
            tf_keras.layers.Dense(4, name="left"),
            tf_keras.layers.Dense(4, name="right"),
            tf_keras.layers.BatchNormalization(),
        ]
    )
"""


@pytest.mark.parametrize("name", ["weights", "whole"])
def test_keras2_file_restores_into_the_tf_keras_model_that_wrote_it(
    legacy: dict[str, Path], tmp_path: Path, name: str
) -> None:
    """A model written with tf_keras itself (Keras 2 keeps a model's own weights as
    `_trainable_weights`, not Keras 3's `_trainable_variables`) restores its own file."""
    from tests.fresh import run_ckptctl

    module = tmp_path / "k2model.py"
    module.write_text(TF_KERAS_MODEL)
    result = run_ckptctl("restore", str(legacy[name]), "--model", f"{module}:sequential", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["values"]["differing"] == []
    assert doc["values"]["checked"] == 8  # two Dense (kernel, bias), BatchNorm (four)


def test_a_keras2_file_under_a_keras3_name_is_read_as_keras2(
    legacy: dict[str, Path], tmp_path: Path
) -> None:
    """Keras 2's save_weights writes its HDF5 layout whatever the name: a `.weights.h5` in that
    layout is listed (and restored) as the Keras 2 file it is."""
    renamed = tmp_path / "old.weights.h5"
    renamed.write_bytes(legacy["weights"].read_bytes())
    doc = json.loads(invoke("inspect", renamed, "--json").stdout)
    assert (doc["format"], doc["source"]) == ("keras-legacy", "h5")
    assert (
        doc["variables"]
        == json.loads(invoke("inspect", legacy["weights"], "--json").stdout)["variables"]
    )


@pytest.mark.parametrize("groups", [["data"], ["layers/dense/kernel"]])
def test_an_hdf5_file_of_no_keras_layout_is_refused(tmp_path: Path, groups: list[str]) -> None:
    """An HDF5 file named .weights.h5 whose datasets are no layer's vars/N (a plain h5py
    file, or one with a `layers` group of other datasets) is not listed as Keras weights."""
    path = tmp_path / "plain.weights.h5"
    with h5py.File(path, "w") as f:
        for name in groups:
            f[name] = np.arange(10.0)
    result = invoke("inspect", path)
    assert result.exit_code == 3, result.output
    assert str(path) in result.output and "Keras" in result.output
    assert "Traceback" not in result.output


def test_diff_of_a_keras2_and_a_keras3_file_names_both(
    legacy: dict[str, Path], tmp_path: Path
) -> None:
    """A Keras 2 .h5 against a Keras 3 .weights.h5: the notes name the Keras 2 file as what
    it is (not a TensorFlow checkpoint), and through the model say that no optimizer is
    restored from it, not to pass --optimizer."""
    from tests.models import keras3

    other = tmp_path / "k3.weights.h5"
    model = keras3.sequential()
    model(np.zeros((2, 6), np.float32))
    model.save_weights(str(other))
    apart = json.loads(invoke("diff", legacy["weights"], other, "--json").stdout)
    assert any("one side is a Keras 2 HDF5 file" in n for n in apart["notes"]), apart["notes"]
    through = invoke("diff", legacy["weights"], other, "--model", f"{MODELS}:sequential", "--json")
    doc = json.loads(through.stdout)
    assert doc["a_format"] == "keras-legacy", {k: v for k, v in doc.items() if "format" in k}
    assert any("restores no optimizer from a Keras 2 HDF5 file" in n for n in doc["notes"])
    assert not any("pass --optimizer" in n for n in doc["notes"])

"""Keras 3's own files: ``.weights.h5``, sharded ``.weights.json``, ``.keras`` archives.

Every file is written by Keras 3 in this test session from models compiled and trained with
``fit()``; h5py's own listing and Keras's own ``load_weights`` are the references.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner, Result

import ckptctl
from ckptctl.cli.app import app
from ckptctl.errors import CheckpointError
from ckptctl.restoration.keras_match import NOT_SAVED_BY_KERAS
from tests.checkpoints import h5_listing, tree_digest
from tests.fresh import run_fresh

MODELS = "tests.models.keras3"
CONV = f"{MODELS}:ConvNet"
SEQ = f"{MODELS}:sequential"
FUNC = f"{MODELS}:functional"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def kfiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Keras files of models trained with fit(): name -> path."""
    import tensorflow as tf

    from tests.models import keras3

    keras = tf.keras
    keras.utils.set_random_seed(3)
    d = tmp_path_factory.mktemp("keras_files")
    rng = np.random.default_rng(0)
    images, labels = rng.random((8, 8, 8, 1), np.float32), rng.integers(0, 5, 8)
    flat, targets = rng.random((16, 6), np.float32), rng.random((16, 4), np.float32)

    conv = keras3.ConvNet()
    conv.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    conv.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    conv.save_weights(str(d / "conv.weights.h5"))
    tf.train.Checkpoint(model=conv, optimizer=conv.optimizer).save(str(d / "conv_tf" / "ckpt"))

    seq = keras3.sequential()
    seq.compile(optimizer=keras3.sgd_momentum(), loss="mse")
    seq.fit(flat, targets, batch_size=8, epochs=1, verbose=0)
    seq.save_weights(str(d / "seq.weights.h5"))
    seq.save(str(d / "seq.keras"))
    (d / "sharded").mkdir()
    seq.save_weights(str(d / "sharded" / "seq.weights.json"), max_shard_size=0.0000004)
    seq.fit(flat, targets, batch_size=8, epochs=1, verbose=0)
    seq.save_weights(str(d / "seq_later.weights.h5"))

    func = keras3.functional()
    func.compile(optimizer="adam", loss="mse")
    func.fit(flat, targets[:, :3], batch_size=8, epochs=1, verbose=0)
    func.save_weights(str(d / "func.weights.h5"))

    inner = keras3.nested()
    inner.compile(optimizer="adam", loss="mse")
    inner.fit(flat, targets[:, :2], batch_size=8, epochs=1, verbose=0)
    inner.save_weights(str(d / "nested.weights.h5"))

    scaled = keras3.Scaled()
    scaled.compile(optimizer="adam", loss="mse")
    scaled.fit(flat, targets, batch_size=8, epochs=1, verbose=0)
    scaled.offset.assign(tf.fill([4], 0.7))
    scaled.save_weights(str(d / "scaled.weights.h5"))
    scaled.save(str(d / "scaled.keras"))
    tf.train.Checkpoint(model=scaled).write(str(d / "scaled_tf" / "ckpt"))

    run = keras3.sequential()
    run.compile(optimizer="sgd", loss="mse")
    saver = keras.callbacks.ModelCheckpoint(
        str(d / "run" / "e{epoch:02d}.weights.h5"), save_weights_only=True
    )
    (d / "run").mkdir()
    run.fit(flat, targets, batch_size=8, epochs=3, verbose=0, callbacks=[saver])
    return {
        "conv": d / "conv.weights.h5",
        "conv_tf": d / "conv_tf",
        "seq": d / "seq.weights.h5",
        "seq_later": d / "seq_later.weights.h5",
        "archive": d / "seq.keras",
        "sharded": d / "sharded" / "seq.weights.json",
        "func": d / "func.weights.h5",
        "nested": d / "nested.weights.h5",
        "scaled": d / "scaled.weights.h5",
        "scaled_archive": d / "scaled.keras",
        "scaled_tf": d / "scaled_tf",
        "run": d / "run",
    }


# ---------------------------------------------------------------- inspect


@pytest.mark.parametrize("name", ["conv", "seq", "func"])
def test_inspect_lists_what_h5py_lists(kfiles: dict[str, Path], name: str) -> None:
    path = kfiles[name]
    doc = as_json(invoke("inspect", path, "--json"))
    assert (doc["format"], doc["source"]) == ("keras", "weights-h5")
    got = {v["key"]: (tuple(v["shape"]), v["dtype"]) for v in doc["variables"]}
    assert got == h5_listing(path)
    for v in doc["variables"]:
        assert not v["key"].startswith("/")
        assert v["path"] == v["key"].replace("/", ".")
        assert v["kind"] == ("optimizer" if v["key"].startswith("optimizer/") else "model")


def test_inspect_owner_and_layer_names(kfiles: dict[str, Path]) -> None:
    doc = as_json(invoke("inspect", kfiles["seq"], "--json"))
    rows = {v["key"]: (v["owner"], v["layer_name"]) for v in doc["variables"]}
    assert rows["layers/dense/vars/0"] == ("layers.dense", "left")
    assert rows["layers/dense_1/vars/1"] == ("layers.dense_1", "right")
    owner, name = rows["optimizer/vars/0"]
    assert owner == "optimizer" and name is not None and name.startswith("sgd")
    conv = as_json(invoke("inspect", kfiles["conv"], "--json"))
    owners = {v["key"]: v["owner"] for v in conv["variables"]}
    assert owners["block/conv/vars/0"] == "block"
    assert owners["fc/vars/1"] == "fc"


def test_inspect_keras_archive_in_place(kfiles: dict[str, Path]) -> None:
    """A .keras archive is read where it is: nothing is extracted next to it."""
    archive = kfiles["archive"]
    before = tree_digest(archive.parent)
    doc = as_json(invoke("inspect", archive, "--json"))
    assert tree_digest(archive.parent) == before
    assert (doc["format"], doc["source"], doc["class_name"]) == (
        "keras",
        "keras-archive",
        "Sequential",
    )
    with zipfile.ZipFile(archive) as z:
        meta = json.loads(z.read("metadata.json"))
        z.extract("model.weights.h5", archive.parent.parent / "extracted")
    assert (doc["keras_version"], doc["date_saved"]) == (meta["keras_version"], meta["date_saved"])
    extracted = h5_listing(archive.parent.parent / "extracted" / "model.weights.h5")
    assert {v["key"]: (tuple(v["shape"]), v["dtype"]) for v in doc["variables"]} == extracted
    table = invoke("inspect", archive)
    assert "model Sequential, saved by Keras" in table.stdout


def test_sharded_weights_json_lists_every_shard(kfiles: dict[str, Path]) -> None:
    index = kfiles["sharded"]
    shards = sorted(index.parent.glob("seq_*.weights.h5"))
    assert len(shards) > 1  # the shard size is small enough to split the file
    doc = as_json(invoke("inspect", index, "--json"))
    assert (doc["source"], doc["shards"]) == ("weights-json", len(shards))
    union: dict[str, Any] = {}
    for s in shards:
        union.update(h5_listing(s))
    assert {v["key"]: (tuple(v["shape"]), v["dtype"]) for v in doc["variables"]} == union
    assert doc["total_bytes"] == index.stat().st_size + sum(s.stat().st_size for s in shards)


def test_stats_equal_numpy_over_h5py(kfiles: dict[str, Path]) -> None:
    doc = as_json(invoke("inspect", kfiles["conv"], "--stats", "--json"))
    with h5py.File(kfiles["conv"], "r") as f:
        for v in doc["variables"]:
            value = np.asarray(f[v["key"]][()], np.float64)
            st = v["stats"]
            assert st["count"] == value.size
            if value.size and v["dtype"].startswith("float"):
                assert st["min"] == pytest.approx(value.min())
                assert st["max"] == pytest.approx(value.max())
                assert st["mean"] == pytest.approx(value.mean(), abs=1e-7)
                assert (st["nan"], st["inf"]) == (0, 0)


def test_stats_table_heads_keras_paths_as_the_listing_does(kfiles: dict[str, Path]) -> None:
    """A Keras file's values are named by layer path: `--stats` heads that column as the
    listing does, not as a TF1 checkpoint's keys."""
    heads = []
    for extra in ([], ["--stats"]):
        lines = invoke("inspect", kfiles["conv"], *extra).output.splitlines()
        heads.append(next(line for line in lines if line.startswith(("object path", "key"))))
    assert [h.split("  ")[0] for h in heads] == ["object path", "object path"]


def test_header_counts_shards_only_of_formats_that_have_them(kfiles: dict[str, Path]) -> None:
    """One .weights.h5 is one file: its header names no shards; a sharded .weights.json
    names its count."""

    def format_line(path: Path) -> str:
        lines = invoke("inspect", path).output.splitlines()
        return next(line for line in lines if line.startswith("Format"))

    assert "shard" not in format_line(kfiles["conv"])
    shards = len(list(kfiles["sharded"].parent.glob("seq_*.weights.h5")))
    assert f"(.weights.json), {shards} shards, " in format_line(kfiles["sharded"])


def test_directory_of_modelcheckpoint_files_reads_the_newest(kfiles: dict[str, Path]) -> None:
    doc = as_json(invoke("inspect", kfiles["run"], "--json"))
    assert Path(doc["checkpoint"]).name == "e03.weights.h5"
    assert doc["other_checkpoints"] == ["e01.weights.h5", "e02.weights.h5"]
    assert "using the newest, e03.weights.h5" in doc["note"]


def test_inspect_of_keras_files_imports_no_tensorflow(kfiles: dict[str, Path]) -> None:
    loaded = run_fresh(
        """
        import json, sys
        from ckptctl.cli.app import main
        sys.argv = ["ckptctl", "inspect", sys.argv[1], "--json"]
        try:
            main()
        except SystemExit:
            pass
        heavy = ("tensorflow", "keras", "tf_keras")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """,
        str(kfiles["archive"]),
    )
    assert loaded == []


# ---------------------------------------------------------------- diff


def test_diff_of_one_model_in_three_files_is_equal(kfiles: dict[str, Path]) -> None:
    for other in ("archive", "sharded"):
        result = invoke("diff", kfiles["seq"], kfiles[other], "--json")
        assert result.exit_code == 0, result.output
        assert as_json(result)["unchanged"] == len(h5_listing(kfiles["seq"]))


def test_diff_of_two_training_steps(kfiles: dict[str, Path]) -> None:
    result = invoke("diff", kfiles["seq"], kfiles["seq_later"], "--json", "--model-only")
    assert result.exit_code == 1, result.output
    doc = as_json(result)
    changed = {c["key"] for c in doc["changed"]}
    # One more epoch moves every trainable variable and the batch norm's moving statistics.
    assert changed == {k for k in h5_listing(kfiles["seq"]) if not k.startswith("optimizer/")}


# ---------------------------------------------------------------- broken files


def _one_error(result: Result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    for w in words:
        assert w in result.stderr


def test_broken_keras_files_exit_3(kfiles: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "cut.weights.h5"
    truncated.write_bytes(kfiles["seq"].read_bytes()[:2000])
    _one_error(invoke("inspect", truncated), 3, str(truncated))
    garbage = tmp_path / "junk.weights.h5"
    garbage.write_bytes(os.urandom(4096))
    _one_error(invoke("inspect", garbage), 3, str(garbage), "not an HDF5 file")
    not_zip = tmp_path / "m.keras"
    not_zip.write_text("hello")
    _one_error(invoke("inspect", not_zip), 3, str(not_zip), "not a zip")
    cut_archive = tmp_path / "cut.keras"
    cut_archive.write_bytes(kfiles["archive"].read_bytes()[:3000])
    _one_error(invoke("inspect", cut_archive), 3, str(cut_archive), "cut short or damaged")
    empty_zip = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("metadata.json", "{}")
    _one_error(invoke("inspect", empty_zip), 3, str(empty_zip), "model.weights.h5")


def test_missing_shard_is_named(kfiles: dict[str, Path], tmp_path: Path) -> None:
    src = kfiles["sharded"].parent
    copy = tmp_path / "sharded"
    copy.mkdir()
    for f in src.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    victim = sorted(copy.glob("seq_*.weights.h5"))[-1]
    victim.unlink()
    result = invoke("inspect", copy / "seq.weights.json", "--stats")
    assert result.exit_code == 3, result.output
    assert f"{victim}: missing" in result.output


# ---------------------------------------------------------------- restore


@pytest.mark.parametrize(
    ("name", "model", "optimizer"),
    [
        ("conv", CONV, None),
        ("conv", CONV, "adam"),
        ("seq", SEQ, None),
        ("seq", SEQ, f"{MODELS}:sgd_momentum"),
        ("archive", SEQ, None),
        ("sharded", SEQ, None),
        ("func", FUNC, "adam"),
    ],
)
def test_unchanged_model_restores(
    kfiles: dict[str, Path], name: str, model: str, optimizer: str | None
) -> None:
    args = ["restore", kfiles[name], "--model", model, "--json"]
    if optimizer:
        args += ["--optimizer", optimizer]
    before = tree_digest(kfiles[name].parent)
    result = invoke(*args)
    assert tree_digest(kfiles[name].parent) == before
    assert result.exit_code == 0, result.output
    d = as_json(result)
    listing = h5_listing(kfiles["seq"] if name in ("archive", "sharded") else kfiles[name])
    wanted = [k for k in listing if optimizer or not k.startswith("optimizer/")]
    assert (d["ok"], d["format"], d["matched"]) == (True, "keras", len(wanted))
    assert (d["unused"], d["missing"], d["mismatched"], d["drifted"]) == ([], [], [], [])
    assert d["values"] == {"checked": len(wanted), "differing": []}
    assert d["outputs"]["equal"] is True
    # Left out, in the order of the optimizer's list: optimizer/vars/2 before vars/10.
    left_out = sorted(
        (k for k in listing if k not in wanted),
        key=lambda k: [int(p) if p.isdigit() else p for p in k.split("/")],
    )
    assert d["not_requested"] == left_out
    # Nothing to warn of: Keras's "Skipping variable loading for optimizer" when the optimizer
    # was not asked for, or a deprecation inside Keras, is not the user's to act on.
    assert d["warnings"] == [], d["warnings"]


@pytest.mark.parametrize("name", ["scaled", "scaled_archive"])
def test_a_tf_variable_keras_does_not_save_is_missing(kfiles: dict[str, Path], name: str) -> None:
    """Keras's files leave a plain tf.Variable out and load_weights leaves it as built (both
    instances start it equal, so the outputs agree): missing, with why and what to do. The
    TensorFlow checkpoint of the same model holds it and restores."""
    result = invoke("restore", kfiles[name], "--model", f"{MODELS}:Scaled", "--json")
    assert result.exit_code == 1, result.output
    d = as_json(result)
    assert [(m["path"], m["shape"], m["reason"]) for m in d["missing"]] == [
        ("offset", [4], NOT_SAVED_BY_KERAS)
    ]
    assert (d["unused"], d["mismatched"]) == ([], [])
    assert (
        "self.add_weight" in invoke("restore", kfiles[name], "--model", f"{MODELS}:Scaled").output
    )
    from_tf = invoke("restore", kfiles["scaled_tf"], "--model", f"{MODELS}:Scaled", "--json")
    assert from_tf.exit_code == 0, from_tf.output


def test_swapped_layers_are_layer_name_drift(kfiles: dict[str, Path]) -> None:
    """Keras would load `left`'s weights into `right` without a word: ckptctl fails."""
    result = invoke("restore", kfiles["seq"], "--model", f"{MODELS}:swapped", "--json")
    assert result.exit_code == 1, result.output
    d = as_json(result)
    assert d["drifted"] == [
        {"group": "layers/dense", "saved": "left", "model": "right"},
        {"group": "layers/dense_1", "saved": "right", "model": "left"},
    ]
    assert (d["unused"], d["missing"], d["mismatched"]) == ([], [], [])
    assert d["values"]["checked"] == 0


def test_swapped_layers_fail_every_ci_output(
    kfiles: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drift fails the run: the JUnit failure and the GitHub annotations name each layer."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    junit = tmp_path / "r.xml"
    result = invoke("restore", kfiles["seq"], "--model", f"{MODELS}:swapped", "--junit-xml", junit)
    assert result.exit_code == 1, result.output
    failure = ET.parse(junit).find(".//testcase[@name='structure']/failure")
    assert failure is not None
    assert failure.get("message") == "2 drifted; nothing was assigned"
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error")]
    assert len(errors) == 2, result.stderr
    assert "layers/dense was saved from layer 'left' and would load into 'right'" in errors[0]


def test_a_renamed_layer_is_listed_and_loads_in_its_place(kfiles: dict[str, Path]) -> None:
    """A layer renamed in the code (`right` is now `head`, a name nowhere in the file) loads
    in its place, as Keras's load_weights loads it: listed, not a failure."""
    result = invoke("restore", kfiles["seq"], "--model", f"{MODELS}:renamed", "--json")
    assert result.exit_code == 0, result.output
    d = as_json(result)
    assert d["drifted"] == []
    assert d["renamed"] == [{"group": "layers/dense_1", "saved": "right", "model": "head"}]
    assert d["values"]["differing"] == [] and d["values"]["checked"] > 0
    table = invoke("restore", kfiles["seq"], "--model", f"{MODELS}:renamed").output
    assert "Renamed layers: loaded in their place" in table
    assert "layers/dense_1" in table and "head" in table


def test_swapped_layers_of_a_nested_sequential_are_drift(kfiles: dict[str, Path]) -> None:
    """A Sequential inside a functional model stores its layers by class-name counter too."""
    result = invoke("restore", kfiles["nested"], "--model", f"{MODELS}:nested_swapped", "--json")
    assert result.exit_code == 1, result.output
    assert as_json(result)["drifted"] == [
        {"group": "layers/sequential/layers/dense", "saved": "left", "model": "right"},
        {"group": "layers/sequential/layers/dense_1", "saved": "right", "model": "left"},
    ]
    unchanged = invoke("restore", kfiles["nested"], "--model", f"{MODELS}:nested", "--json")
    assert unchanged.exit_code == 0, unchanged.output


def test_a_second_instance_unlike_the_first_is_an_error(kfiles: dict[str, Path]) -> None:
    """A model whose second instance differs from its first (here it comes out swapped)
    is named as such, not restored into and not reported as the checkpoint's problem."""
    from ckptctl.errors import ModelError
    from tests.models import keras3

    builds = iter([keras3.sequential, keras3.swapped])
    with pytest.raises(ModelError) as caught:
        ckptctl.restore(kfiles["seq"], lambda: next(builds)())
    message = caught.value.message
    assert "a second instance of" in message, message
    assert "does not match the file as the first did" in message, message
    assert "layers/dense named right (the file: left)" in message, message
    assert caught.value.exit_code == 3


def test_one_reason_of_many_mismatched_rows_is_said_once(kfiles: dict[str, Path]) -> None:
    """A widened layer shifts the optimizer's variables, which load by position: each gets
    the same reason, printed once under the table with how many rows it is for."""
    result = invoke("restore", kfiles["seq"], "--model", f"{MODELS}:widened", "--optimizer", "adam")
    assert result.exit_code == 1, result.output
    doc = as_json(
        invoke("restore", kfiles["seq"], "--model", f"{MODELS}:widened", "--optimizer", "adam",
               "--json")
    )  # fmt: skip
    slots = [m for m in doc["mismatched"] if m["reason"]]
    assert len(slots) >= 2, doc["mismatched"]
    assert result.output.count("load by position") == 1, result.output
    assert f"{len(slots)} of them: optimizer variables load by position" in " ".join(
        result.output.split()
    )


def test_widened_layer_is_mismatched(kfiles: dict[str, Path]) -> None:
    d = as_json(invoke("restore", kfiles["seq"], "--model", f"{MODELS}:widened", "--json"))
    assert [(m["key"], m["checkpoint_shape"], m["model_shape"]) for m in d["mismatched"]] == [
        ("layers/dense/vars/0", [6, 4], [6, 5]),
        ("layers/dense/vars/1", [4], [5]),
        ("layers/dense_1/vars/0", [4, 4], [5, 4]),
    ]
    assert d["ok"] is False


def test_added_layer_is_missing(kfiles: dict[str, Path]) -> None:
    """Keras: "Layer 'dense' expected 2 variables, but received 0 variables during loading"."""
    result = invoke("restore", kfiles["conv"], "--model", f"{MODELS}:ConvNetWithHead", "--json")
    assert result.exit_code == 1, result.output
    d = as_json(result)
    assert [(m["path"], m["shape"]) for m in d["missing"]] == [
        ("head.vars.0", [5, 2]),
        ("head.vars.1", [2]),
    ]
    assert d["unused"] == []


def test_optimizer_count_mismatch_fails(kfiles: dict[str, Path]) -> None:
    """Keras only warns "Skipping variable loading for optimizer" and Adam starts from zero:
    restoring the SGD file's optimizer into Adam is a failure that says so."""
    result = invoke("restore", kfiles["seq"], "--model", SEQ, "--optimizer", "adam", "--json")
    assert result.exit_code == 1, result.output
    d = as_json(result)
    assert d["missing"] and all(m["kind"] == "optimizer" for m in d["missing"])
    assert all("Keras would skip loading the optimizer" in m["reason"] for m in d["missing"])
    saved = sum(k.startswith("optimizer/") for k in h5_listing(kfiles["seq"]))
    assert f"the file's optimizer has {saved} variables" in d["missing"][0]["reason"]
    assert "pass the optimizer the file was saved with" in d["missing"][0]["reason"]


# ---------------------------------------------------------------- migrate


def test_migrate_checkpoint_to_weights_file(kfiles: dict[str, Path], tmp_path: Path) -> None:
    import tensorflow as tf

    from tests.models import keras3

    dst = tmp_path / "new" / "conv.weights.h5"
    result = invoke("migrate", kfiles["conv_tf"], "-o", dst, "--model", CONV, "--optimizer", "adam")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dst.parent.iterdir()) == ["conv.weights.h5"]
    fresh = keras3.ConvNet()
    fresh(np.zeros((2, 8, 8, 1), np.float32))
    fresh.load_weights(str(dst))
    reader = tf.train.load_checkpoint(str(kfiles["conv_tf"]))
    np.testing.assert_array_equal(
        fresh.fc.kernel.numpy(), reader.get_tensor("model/fc/_kernel/.ATTRIBUTES/VARIABLE_VALUE")
    )
    nested = fresh.block.conv.kernel.numpy()
    shapes = reader.get_variable_to_shape_map()
    assert any(
        tuple(shape) == nested.shape and np.array_equal(reader.get_tensor(k), nested)
        for k, shape in shapes.items()
    )


def test_migrate_weights_file_to_checkpoint(kfiles: dict[str, Path], tmp_path: Path) -> None:
    import tensorflow as tf

    from tests.models import keras3

    dst = tmp_path / "ckpts"
    result = invoke("migrate", kfiles["seq"], "-o", dst, "--model", SEQ)
    assert result.exit_code == 0, result.output
    fresh = keras3.sequential()
    tf.train.Checkpoint(model=fresh).restore(tf.train.latest_checkpoint(str(dst))).assert_consumed()
    with h5py.File(kfiles["seq"], "r") as f:
        np.testing.assert_array_equal(fresh.layers[0].kernel.numpy(), f["layers/dense/vars/0"][()])


def test_reading_an_unknown_value_is_a_ckptctl_error(kfiles: dict[str, Path]) -> None:
    with ckptctl.open_checkpoint(kfiles["seq"]) as ckpt, pytest.raises(CheckpointError):
        ckpt.read("layers/nothing/vars/0")


def test_diff_of_a_checkpoint_and_a_weights_file_through_the_model(kfiles: dict[str, Path]) -> None:
    """The same trained state, saved by tf.train.Checkpoint and by save_weights: equal through
    the model, nothing paired without it."""
    through = invoke(
        "diff", kfiles["conv_tf"], kfiles["conv"], "--model", CONV, "--optimizer", "adam", "--json"
    )
    assert through.exit_code == 0, through.output
    doc = as_json(through)
    assert (doc["unchanged"], doc["only_in_a"], doc["only_in_b"]) == (
        len(h5_listing(kfiles["conv"])),
        [],
        [],
    )
    assert any("restored into" in n for n in doc["notes"])
    apart = invoke("diff", kfiles["conv_tf"], kfiles["conv"], "--json")
    assert apart.exit_code == 1
    assert as_json(apart)["unchanged"] == 0
    assert any("pass --model" in n for n in as_json(apart)["notes"])


def test_diff_through_the_model_without_optimizer_compares_the_models(
    kfiles: dict[str, Path], tmp_path: Path
) -> None:
    """Without --optimizer only the model is restored: the Keras side's optimizer values have
    nothing to pair with. The two are compared as models, which a note says (not 'only in
    B' for a state the other side was never asked to restore); a changed value still fails."""
    through = invoke("diff", kfiles["conv_tf"], kfiles["conv"], "--model", CONV, "--json")
    assert through.exit_code == 0, through.output
    doc = as_json(through)
    model_values = [k for k in h5_listing(kfiles["conv"]) if not k.startswith("optimizer/")]
    assert (doc["unchanged"], doc["only_in_a"], doc["only_in_b"]) == (len(model_values), [], [])
    assert any("the optimizer was not restored" in n for n in doc["notes"])
    assert doc["model_only"] is True
    text = invoke("diff", kfiles["conv_tf"], kfiles["conv"], "--model", CONV).output
    assert "pass --optimizer" in text and "(--model-only)" not in text
    changed = tmp_path / "changed.weights.h5"
    changed.write_bytes(kfiles["conv"].read_bytes())
    with h5py.File(changed, "r+") as f:
        f[model_values[0]][...] = f[model_values[0]][()] + 1
    later = invoke("diff", kfiles["conv_tf"], changed, "--model", CONV, "--json")
    assert later.exit_code == 1, later.output
    assert [c["key"] for c in as_json(later)["changed"]] == [model_values[0]]


def test_values_on_one_side_are_listed_numbers_by_value(kfiles: dict[str, Path]) -> None:
    """`optimizer.vars.2` before `optimizer.vars.10`, as `inspect` lists them."""
    doc = as_json(invoke("diff", kfiles["conv_tf"], kfiles["conv"], "--json"))
    slots = [v["path"] or v["key"] for v in doc["only_in_b"] if "optimizer" in v["key"]]
    numbers = [int(p.rsplit(".", 1)[-1]) for p in slots]
    assert max(numbers) >= 10 and numbers == sorted(numbers), slots


def test_a_renamed_attribute_is_named_without_a_map_that_does_not_apply(
    kfiles: dict[str, Path],
) -> None:
    """Keras loads a weights file by path and takes no --map: the verdict names the rename
    and the way that loads the file (the old name), not a --map rule it would refuse."""
    result = invoke("restore", kfiles["conv"], "--model", f"{MODELS}:ConvNetRenamed")
    assert result.exit_code == 1, result.output
    assert "fc=classifier" in result.output and "give them their old names" in result.output
    assert "restore with: --map" not in result.output


def test_documents_of_keras_files_follow_the_schemas(kfiles: dict[str, Path]) -> None:
    from tests.test_schemas import assert_valid

    for name in ("conv", "archive", "sharded"):
        assert_valid(as_json(invoke("inspect", kfiles[name], "--json", "--stats")), "inspect")
    assert_valid(
        as_json(invoke("restore", kfiles["seq"], "--model", f"{MODELS}:swapped", "--json")),
        "restore",
    )
    assert_valid(as_json(invoke("diff", kfiles["seq"], kfiles["seq_later"], "--json")), "diff")


def test_data_stored_outside_the_file_is_refused(tmp_path: Path) -> None:
    """A crafted weights file whose dataset points at another file (HDF5 external storage)
    would make a reader read that file: ckptctl refuses it."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 16)
    crafted = tmp_path / "crafted.weights.h5"
    with h5py.File(crafted, "w") as f:
        f.create_group("vars").attrs["name"] = "m"
        f.create_dataset(
            "layers/dense/vars/0", shape=(4,), dtype="f4", external=[(str(secret), 0, 16)]
        )
    result = invoke("inspect", crafted)
    assert result.exit_code == 3, result.output
    assert "keeps its data outside the file" in result.stderr

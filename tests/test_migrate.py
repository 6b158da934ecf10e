"""`ckptctl migrate`: rewrite a checkpoint in the model's current structure, proven equal.

Every run goes through `migrate_cli`, which also proves the source directory was left byte for
byte unchanged. What was written is checked independently of ckptctl's own verification: in a
fresh Python process, plain TensorFlow restores it with `assert_consumed()` into a built model
and a built Adam, and every value and Adam slot is compared with the source checkpoint's value
for the same variable (slots identified through `KeyInfo.slot_of` / `slot_name`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import ckptctl
from ckptctl.cli.app import app
from ckptctl.errors import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    CheckpointError,
)
from ckptctl.migration import migrate
from tests.checkpoints import (
    PROJECT_ROOT,
    copy_checkpoint_dir,
    flip_data_byte,
    tree_digest,
    truncate_index,
)

MY_MODEL = "sample_models.models:MyModel"
RENAMED = "sample_models.broken:RenamedModel"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
LAYER_ATTRS = [("dense1", "kernel"), ("dense1", "bias"), ("dense2", "kernel"), ("dense2", "bias")]


# ---------------------------------------------------------------- helpers


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def migrate_cli(source: Path, *args: str) -> Result:
    """`ckptctl migrate SOURCE ARGS`, asserting that SOURCE's directory is left unchanged."""
    directory = source if source.is_dir() else source.parent
    before = tree_digest(directory)
    result = invoke("migrate", str(source), *args)
    assert tree_digest(directory) == before, "migrate changed the source directory"
    return result


def staging_leftovers(parent: Path) -> list[str]:
    """Temporary directories of `migrate` (`.DST.ckptctl-*`, `.DST.old-*`) left in `parent`."""
    return sorted(p.name for p in parent.iterdir() if ".ckptctl-" in p.name or ".old-" in p.name)


def values_by_path(checkpoint: Path) -> dict[str, np.ndarray]:
    """Object path -> stored value of every value that is not an optimizer slot."""
    with ckptctl.open_checkpoint(checkpoint) as ckpt:
        return {
            info.path: ckpt.read(key)
            for key, info in ckpt.key_infos.items()
            if info.slot_of is None and key in ckpt
        }


def slots_by_owner(checkpoint: Path) -> dict[tuple[str, str], np.ndarray]:
    """(path of the variable the slot belongs to, slot name) -> stored slot value."""
    with ckptctl.open_checkpoint(checkpoint) as ckpt:
        return {
            (str(info.slot_of), str(info.slot_name)): ckpt.read(key)
            for key, info in ckpt.key_infos.items()
            if info.slot_of is not None
        }


FRESH_RESTORE = """
import json, sys
import numpy as np
import tensorflow as tf
from ckptctl.loader import parse_spec, resolve_factory

spec, directory, layers, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
model = resolve_factory(parse_spec(spec))()
model(np.zeros((4, 20), np.float32))
optimizer = tf.keras.optimizers.Adam()
optimizer.build(model.trainable_variables)
prefix = tf.train.latest_checkpoint(directory)
tf.train.Checkpoint(model=model, optimizer=optimizer).restore(prefix).assert_consumed()
arrays = {"iterations": optimizer.iterations.numpy(), "prefix": np.array(prefix)}
for layer in layers:
    for attr in ("kernel", "bias"):
        var = getattr(getattr(model, layer), attr)
        index = optimizer._get_variable_index(var)
        arrays[f"{layer}.{attr}"] = var.numpy()
        arrays[f"{layer}.{attr}.momentum"] = optimizer._momentums[index].numpy()
        arrays[f"{layer}.{attr}.velocity"] = optimizer._velocities[index].numpy()
np.savez(out, **arrays)
"""
"""Run as `python -c FRESH_RESTORE SPEC DIR LAYERS OUT.npz`: restore DIR's latest checkpoint
into a built model and a built Keras 3 Adam with `assert_consumed()`, and save each variable
of LAYERS with its momentum and velocity (found by the variable, not by position)."""


def fresh_restore(spec: str, directory: Path, layers: list[str], out: Path) -> dict[str, Any]:
    """FRESH_RESTORE in a new Keras 3 process; the arrays it saved, by name."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_RESTORE, spec, str(directory), json.dumps(layers), str(out)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def assert_fresh_restore_equals_source(
    fresh: dict[str, Any],
    source: Path,
    live_to_source: dict[str, str],
    slot_names: tuple[str, str],
) -> None:
    """Each restored variable, momentum and velocity equals the source's value for the same
    variable; `slot_names` are the source's names for momentum and velocity."""
    stored = values_by_path(source)
    slots = slots_by_owner(source)
    for live, path in live_to_source.items():
        np.testing.assert_array_equal(fresh[live], stored[path], err_msg=live)
        for kind, name in zip(("momentum", "velocity"), slot_names, strict=True):
            np.testing.assert_array_equal(
                fresh[f"{live}.{kind}"], slots[(path, name)], err_msg=f"{kind} of {live}"
            )
        assert not np.array_equal(fresh[f"{live}.momentum"], fresh[f"{live}.velocity"])
    assert int(fresh["iterations"]) == int(stored["optimizer._iterations"])


def assert_written_checkpoint(dst: Path) -> None:
    """DST holds exactly a `checkpoint` state file and one single-shard `ckpt-1`."""
    names = sorted(p.name for p in dst.iterdir())
    assert names == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    assert 'model_checkpoint_path: "ckpt-1"' in (dst / "checkpoint").read_text()


# ---------------------------------------------------------------- a renamed layer, with Adam


RENAMED_TO_SOURCE = {
    "encoder.kernel": "model.dense1._kernel",
    "encoder.bias": "model.dense1.bias",
    "dense2.kernel": "model.dense2._kernel",
    "dense2.bias": "model.dense2.bias",
}
"""RenamedModel variable -> the object path of its value in a `MyModel` checkpoint."""


@pytest.fixture(scope="module")
def renamed_migration(
    samples_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    """`migrate samples/my_model -o DST --model RenamedModel --map dense1=encoder --optimizer
    adam --json`, run once for this module."""
    dst = tmp_path_factory.mktemp("renamed_migration") / "migrated"
    result = migrate_cli(
        samples_dir / "my_model",
        "-o",
        str(dst),
        "--model",
        RENAMED,
        "--input-shape",
        "4,20",
        "--map",
        "dense1=encoder",
        "--optimizer",
        "adam",
        "--json",
    )
    return result, dst


def test_renamed_migration_exits_0_and_writes_ckpt_1(
    renamed_migration: tuple[Result, Path], samples_dir: Path
) -> None:
    result, dst = renamed_migration
    assert result.exit_code == EXIT_OK, result.output
    assert_written_checkpoint(dst)
    assert staging_leftovers(dst.parent) == []
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["verified"] is True
    assert doc["destination"] == str(dst)
    assert doc["written"] == str(dst / "ckpt-1")
    assert doc["source"] == str(samples_dir / "my_model" / "ckpt-3")
    assert doc["model"] == RENAMED
    assert doc["key"] == "model"
    assert doc["values"] == 14
    assert doc["restore"]["ok"] is True
    assert doc["restore"]["maps"] == ["dense1=encoder"]
    assert [m["model_path"] for m in doc["restore"]["mapped"]] == [
        "model.encoder._kernel",
        "model.encoder.bias",
    ]


def test_renamed_migration_restores_in_a_fresh_process(
    renamed_migration: tuple[Result, Path], samples_dir: Path, tmp_path: Path
) -> None:
    """Plain TensorFlow, no ckptctl: assert_consumed() passes on a built RenamedModel and Adam,
    and every value and slot is the source's value for the same variable."""
    result, dst = renamed_migration
    assert result.exit_code == EXIT_OK, result.output
    fresh = fresh_restore(RENAMED, dst, ["encoder", "dense2"], tmp_path / "fresh.npz")
    assert str(fresh["prefix"]) == str(dst / "ckpt-1")
    assert_fresh_restore_equals_source(
        fresh, samples_dir / "my_model", RENAMED_TO_SOURCE, ("momentum", "velocity")
    )
    assert int(fresh["iterations"]) == 3


def test_renamed_migration_stores_the_new_paths(
    renamed_migration: tuple[Result, Path], samples_dir: Path
) -> None:
    """The written checkpoint holds the model under its new names only, and its slots belong
    to the variables they belonged to in the source."""
    result, dst = renamed_migration
    assert result.exit_code == EXIT_OK, result.output
    written = values_by_path(dst)
    assert sorted(p for p in written if p.startswith("model.")) == [
        "model.dense2._kernel",
        "model.dense2.bias",
        "model.encoder._kernel",
        "model.encoder.bias",
    ]
    source_slots = slots_by_owner(samples_dir / "my_model")
    written_slots = slots_by_owner(dst)
    rename = {
        "model.encoder._kernel": "model.dense1._kernel",
        "model.encoder.bias": "model.dense1.bias",
    }
    assert len(written_slots) == len(source_slots) == 8
    for (owner, name), value in written_slots.items():
        np.testing.assert_array_equal(value, source_slots[(rename.get(owner, owner), name)])


def test_renamed_migration_human_output(samples_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "migrated"
    result = migrate_cli(
        samples_dir / "my_model",
        "-o",
        str(dst),
        "--model",
        RENAMED,
        "--input-shape",
        "4,20",
        "--map",
        "dense1=encoder",
    )
    assert result.exit_code == EXIT_OK, result.output
    assert "dense1=encoder" in result.stdout
    assert f"Migrated: 4 values written to {dst / 'ckpt-1'}" in result.stdout
    assert result.stderr == ""
    assert_written_checkpoint(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["migrated"]


# ---------------------------------------------------------------- Keras 2 -> Keras 3


K3_TO_K2 = {f"{layer}.{attr}": f"model.{layer}.{attr}" for layer, attr in LAYER_ATTRS}
"""MyModel variable -> its object path in a Keras 2 (tf-keras) checkpoint."""


@pytest.fixture(scope="module")
def keras2_migration(
    keras2_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    dst = tmp_path_factory.mktemp("keras2_migration") / "keras3"
    result = migrate_cli(
        keras2_dir,
        "-o",
        str(dst),
        "--model",
        MY_MODEL,
        "--input-shape",
        "4,20",
        "--map",
        "keras2",
        "--optimizer",
        "adam",
    )
    return result, dst


def test_keras2_migration_then_restores_without_map(keras2_migration: tuple[Result, Path]) -> None:
    """After migrating, a plain Keras 3 restore needs no --map: everything matches by path."""
    result, dst = keras2_migration
    assert result.exit_code == EXIT_OK, result.output
    assert_written_checkpoint(dst)
    plain = invoke(
        "restore",
        str(dst),
        "--model",
        MY_MODEL,
        "--input-shape",
        "4,20",
        "--optimizer",
        "adam",
        "--json",
    )
    assert plain.exit_code == EXIT_OK, plain.output
    doc = json.loads(plain.stdout)
    assert doc["ok"] is True
    assert doc["matched"] == 14
    assert doc["maps"] == []
    assert doc["mapped"] == []
    assert doc["unused"] == doc["missing"] == doc["mismatched"] == []


def test_keras2_migration_restores_in_a_fresh_process(
    keras2_migration: tuple[Result, Path], keras2_dir: Path, tmp_path: Path
) -> None:
    """Each Keras 3 momentum/velocity is the Keras 2 m/v of the same variable."""
    result, dst = keras2_migration
    assert result.exit_code == EXIT_OK, result.output
    fresh = fresh_restore(MY_MODEL, dst, ["dense1", "dense2"], tmp_path / "fresh.npz")
    assert_fresh_restore_equals_source(fresh, keras2_dir, K3_TO_K2, ("m", "v"))
    assert int(fresh["iterations"]) == 2


# ---------------------------------------------------------------- refusals


@pytest.fixture
def my_model_copy(samples_dir: Path, tmp_path: Path) -> Path:
    """A private copy of samples/my_model at tmp_path/parent/my_model."""
    return copy_checkpoint_dir(samples_dir / "my_model", tmp_path / "parent" / "my_model")


def renamed_args(dst: Path, *extra: str) -> list[str]:
    return ["-o", str(dst), "--model", RENAMED, "--input-shape", "4,20", *extra]


MAP = ["--map", "dense1=encoder"]


def test_destination_inside_source_is_refused(my_model_copy: Path) -> None:
    dst = my_model_copy / "migrated"
    result = migrate_cli(my_model_copy, *renamed_args(dst, *MAP))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "refusing to write into or over the checkpoint's directory" in result.stderr
    assert not dst.exists()
    assert result.stdout == ""


@pytest.mark.parametrize("force", [False, True])
def test_destination_equal_to_source_is_refused(my_model_copy: Path, force: bool) -> None:
    extra = [*MAP, "--force"] if force else MAP
    result = migrate_cli(my_model_copy, *renamed_args(my_model_copy, *extra))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "refusing to write into or over the checkpoint's" in result.stderr


def test_destination_above_source_is_refused_even_with_force(my_model_copy: Path) -> None:
    """--force on the source's parent would replace the source itself."""
    parent = my_model_copy.parent
    before = tree_digest(parent)
    result = migrate_cli(my_model_copy, *renamed_args(parent, *MAP, "--force"))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "refusing to write into or over the checkpoint's" in result.stderr
    assert tree_digest(parent) == before


def test_destination_given_by_a_prefix_inside_source_is_refused(my_model_copy: Path) -> None:
    """The source given as a prefix (`DIR/ckpt-2`): its directory is still off limits."""
    dst = my_model_copy / "sub"
    result = migrate_cli(my_model_copy / "ckpt-2", *renamed_args(dst, *MAP))
    assert result.exit_code == EXIT_USAGE, result.output
    assert not dst.exists()


def test_existing_destination_needs_force(samples_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "keep.txt").write_text("old")
    refused = migrate_cli(samples_dir / "my_model", *renamed_args(dst, *MAP))
    assert refused.exit_code == EXIT_USAGE, refused.output
    assert "already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert sorted(p.name for p in dst.iterdir()) == ["keep.txt"]

    replaced = migrate_cli(samples_dir / "my_model", *renamed_args(dst, *MAP, "--force"))
    assert replaced.exit_code == EXIT_OK, replaced.output
    assert_written_checkpoint(dst)  # keep.txt is gone: replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert staging_leftovers(tmp_path) == []


def test_missing_parents_of_destination_are_created(samples_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "absent" / "deeper" / "out"
    result = migrate_cli(samples_dir / "my_model", *renamed_args(dst, *MAP))
    assert result.exit_code == EXIT_OK, result.output
    assert_written_checkpoint(dst)


def test_parents_created_for_a_failed_migration_are_removed(
    samples_dir: Path, tmp_path: Path
) -> None:
    """Nothing is left behind when the restore does not verify: not even the parents."""
    dst = tmp_path / "absent" / "out"
    result = migrate_cli(
        samples_dir / "my_model", "-o", str(dst), "--model", RENAMED, "--input-shape", "4,20"
    )
    assert result.exit_code == EXIT_PROBLEM, result.output
    assert list(tmp_path.iterdir()) == []


def test_failing_restore_exits_1_and_writes_nothing(samples_dir: Path, tmp_path: Path) -> None:
    """RenamedModel without --map does not restore: exit 1, DST never created."""
    dst = tmp_path / "out"
    result = migrate_cli(samples_dir / "my_model", *renamed_args(dst, "--optimizer", "adam"))
    assert result.exit_code == EXIT_PROBLEM, result.output
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == []
    assert "model.encoder._kernel" in result.stdout


def test_failing_restore_with_force_keeps_the_old_destination(
    samples_dir: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "keep.txt").write_text("old")
    result = migrate_cli(samples_dir / "my_model", *renamed_args(dst, "--force", "--json"))
    assert result.exit_code == EXIT_PROBLEM, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["written"] is None
    assert doc["detail"] == "the restore did not verify: nothing was written"
    assert sorted(p.name for p in dst.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_missing_source_exits_3(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = invoke("migrate", str(tmp_path / "absent"), *renamed_args(dst, *MAP))
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert "no such file or directory" in result.stderr
    assert not dst.exists()


def test_corrupt_source_exits_3(my_model_copy: Path, tmp_path: Path) -> None:
    truncate_index(my_model_copy / "ckpt-3")
    dst = tmp_path / "out"
    result = migrate_cli(my_model_copy, *renamed_args(dst, *MAP))
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert "Traceback" not in result.stderr
    assert not dst.exists()
    assert staging_leftovers(tmp_path) == []


# ---------------------------------------------------------------- rename-only (TF1 name-based)


def name_based_values(prefix: Path) -> dict[str, np.ndarray]:
    with ckptctl.open_checkpoint(prefix) as ckpt:
        assert ckpt.naming == "name-based"
        return {e.key: ckpt.read(e.key) for e in ckpt.entries}


def assert_same_value(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def test_rename_only_migration(name_based_ckpt: Path, tmp_path: Path) -> None:
    dst = tmp_path / "renamed"
    result = migrate_cli(name_based_ckpt, "-o", str(dst), "--map", "^dense/=encoder/", "--json")
    assert result.exit_code == EXIT_OK, result.output
    assert_written_checkpoint(dst)
    assert staging_leftovers(tmp_path) == []
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["verified"] is True
    assert doc["model"] is None
    assert doc["values"] == 3
    assert doc["renamed"] == [
        {"key": "dense/bias", "new_key": "encoder/bias", "rule": "^dense/=encoder/"},
        {"key": "dense/kernel", "new_key": "encoder/kernel", "rule": "^dense/=encoder/"},
        {"key": "global_step", "new_key": "global_step", "rule": None},
    ]
    old = name_based_values(name_based_ckpt)
    new = name_based_values(dst / "ckpt-1")
    rename = {"dense/kernel": "encoder/kernel", "dense/bias": "encoder/bias"}
    assert sorted(new) == sorted(rename.get(k, k) for k in old)
    for key, value in old.items():
        assert_same_value(new[rename.get(key, key)], value)
    assert new["global_step"].dtype == np.int64


def test_rename_only_rules_apply_in_order(name_based_ckpt: Path, tmp_path: Path) -> None:
    dst = tmp_path / "renamed"
    result = migrate_cli(
        name_based_ckpt,
        "-o",
        str(dst),
        "--map",
        "^dense/=encoder/",
        "--map",
        "^encoder/kernel$=encoder/w",
        "--json",
    )
    assert result.exit_code == EXIT_OK, result.output
    renamed = {r["key"]: (r["new_key"], r["rule"]) for r in json.loads(result.stdout)["renamed"]}
    assert renamed["dense/kernel"] == ("encoder/w", "^dense/=encoder/, ^encoder/kernel$=encoder/w")
    assert renamed["dense/bias"] == ("encoder/bias", "^dense/=encoder/")
    new = name_based_values(dst / "ckpt-1")
    assert sorted(new) == ["encoder/bias", "encoder/w", "global_step"]
    assert_same_value(new["encoder/w"], name_based_values(name_based_ckpt)["dense/kernel"])


def test_object_based_source_without_model_exits_2(samples_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = migrate_cli(samples_dir / "my_model", "-o", str(dst), "--map", "dense1=encoder")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "an object-based checkpoint is migrated through its model" in result.stderr
    assert "--model" in result.stderr
    assert not dst.exists()


def test_rename_only_without_rules_exits_2(name_based_ckpt: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    result = migrate_cli(name_based_ckpt, "-o", str(dst))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "pass --map" in result.stderr
    assert not dst.exists()


@pytest.mark.parametrize(
    ("rules", "messages"),
    [
        pytest.param(
            ["^dense/=encoder/", "nothing=x"], ["--map 'nothing=x' matches no key"], id="nothing"
        ),
        pytest.param(
            ["kernel=bias"],
            ["--map places both dense/bias and dense/kernel onto dense/bias"],
            id="two-onto-one",
        ),
        pytest.param(["(dense=x"], ["is not a regular expression"], id="regex"),
    ],
)
def test_rename_only_bad_rules_exit_2(
    name_based_ckpt: Path, tmp_path: Path, rules: list[str], messages: list[str]
) -> None:
    dst = tmp_path / "out"
    args = [a for rule in rules for a in ("--map", rule)]
    result = migrate_cli(name_based_ckpt, "-o", str(dst), *args)
    assert result.exit_code == EXIT_USAGE, result.output
    for message in messages:
        assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_rename_only_redundant_rule_exits_2(name_based_ckpt: Path, tmp_path: Path) -> None:
    """After `^dense/=encoder/` no key contains `dense/`: the second rule matches nothing."""
    dst = tmp_path / "out"
    result = migrate_cli(
        name_based_ckpt, "-o", str(dst), "--map", "^dense/=encoder/", "--map", "dense/=encoder/"
    )
    assert result.exit_code == EXIT_USAGE, result.output
    assert "--map 'dense/=encoder/' matches no key" in result.stderr
    assert not dst.exists()


# ---------------------------------------------------------------- failures after staging


_AUDIT_SINKS: list[list[str]] = []
"""Lists receiving the path of every `os.mkdir` in this process while a test uses them."""
_INSTALLED: list[Any] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "os.mkdir" and _AUDIT_SINKS:
        for sink in _AUDIT_SINKS:
            sink.append(os.fsdecode(args[0]))


@pytest.fixture
def created_dirs() -> Iterator[list[str]]:
    """Every directory this process creates while the test runs (seen through the `os.mkdir`
    audit event, which `tempfile.mkdtemp` raises), to prove a staging directory existed before
    it was cleaned up. The hook is installed on first use and stays, idle, afterwards."""
    if _audit not in _INSTALLED:
        sys.addaudithook(_audit)
        _INSTALLED.append(_audit)
    seen: list[str] = []
    _AUDIT_SINKS.append(seen)
    try:
        yield seen
    finally:
        _AUDIT_SINKS.remove(seen)


def test_unreadable_value_after_staging_leaves_nothing(
    name_based_ckpt: Path, tmp_path: Path, created_dirs: list[str]
) -> None:
    """Rename-only reads the values after the staging directory exists: a corrupt value fails
    there (exit 3), and neither DST nor the staging directory remains."""
    source = copy_checkpoint_dir(name_based_ckpt.parent, tmp_path / "src")
    flip_data_byte(source / name_based_ckpt.name)
    out = tmp_path / "out"
    out.mkdir()
    dst = out / "dst"
    result = migrate_cli(source / name_based_ckpt.name, "-o", str(dst), "--map", "^dense/=encoder/")
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert "fails its checksum" in result.stderr
    staged = [Path(d).name for d in created_dirs if Path(d).parent == out]
    assert len(staged) == 1 and staged[0].startswith(".dst.ckptctl-"), created_dirs
    assert list(out.iterdir()) == []


def test_verification_failure_after_staging_leaves_nothing(
    samples_dir: Path, tmp_path: Path, created_dirs: list[str]
) -> None:
    """A model whose code changes after the restore (its third construction, the fresh model
    that checks the written checkpoint, has another activation): the written checkpoint
    restores completely but gives other outputs, so migrate raises, and neither DST nor the
    staging directory remains, and an existing DST under --force is kept."""
    from sample_models.models import MyModel

    calls: list[int] = []

    def drifting_model() -> Any:
        calls.append(1)
        model = MyModel()
        if len(calls) >= 3:
            model.dense1.activation = lambda x: x  # linear instead of ReLU
        return model

    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("old")
    before = tree_digest(samples_dir / "my_model")
    with pytest.raises(CheckpointError) as err:
        migrate(
            samples_dir / "my_model",
            dst,
            drifting_model,
            input_shapes=[(4, 20)],
            optimizer="adam",
            force=True,
        )
    assert "gives other outputs" in err.value.message
    assert len(calls) == 3
    assert tree_digest(samples_dir / "my_model") == before
    staged = [Path(d).name for d in created_dirs if Path(d).parent == tmp_path]
    assert [n for n in staged if n.startswith(".")] == staged[-1:], created_dirs
    assert staged[-1].startswith(".dst.ckptctl-"), created_dirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]
    assert sorted(p.name for p in dst.iterdir()) == ["keep.txt"]


def test_same_model_migrates_through_the_python_api(samples_dir: Path, tmp_path: Path) -> None:
    """The control for the test above: the unchanged model migrates and calls its factory
    three times (two restore instances and the fresh verifying one)."""
    from sample_models.models import MyModel

    calls: list[int] = []

    def model() -> Any:
        calls.append(1)
        return MyModel()

    before = tree_digest(samples_dir / "my_model")
    report = migrate(
        samples_dir / "my_model", tmp_path / "dst", model, input_shapes=[(4, 20)], optimizer="adam"
    )
    assert tree_digest(samples_dir / "my_model") == before
    assert report.ok is True
    assert report.verified is True
    assert report.values == 14
    assert len(calls) == 3
    assert_written_checkpoint(tmp_path / "dst")


def test_destination_permissions_follow_the_umask(name_based_ckpt: Path, tmp_path: Path) -> None:
    """The staging directory is made private by mkdtemp; once in place, DST has the mode of
    an ordinary new directory."""
    dst = tmp_path / "renamed"
    result = migrate_cli(name_based_ckpt, "-o", str(dst), "--map", "^dense/=encoder/")
    assert result.exit_code == EXIT_OK, result.output
    umask = os.umask(0)
    os.umask(umask)
    assert dst.stat().st_mode & 0o777 == 0o777 & ~umask

"""ckptctl never writes into a checkpoint's directory (README, "Exit codes").

Every command runs, with a representative set of options and every path form (directory,
prefix, `.index` file, `.data-*` shard, SavedModel directory), against private copies of the
session checkpoints. Around each run, every checkpoint directory is snapshotted: each entry's
kind, size, mode and mtime, each file's sha256, and each directory's listing and mtime (a
temporary file created and removed again still changes its directory's mtime). The snapshot
must be identical afterwards. Outputs the user asks for (`--save-golden`, `--junit-xml`,
`migrate -o`) go to a directory outside the checkpoints, which must then hold exactly the
requested files: no temporary file is left beside them.

Outputs aimed INTO a checkpoint's directory are refused (exit 2) with nothing written.

Command lines are written as strings whose `{placeholders}` name the copies (see `Paths.words`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.checkpoints import PROJECT_ROOT, copy_checkpoint_dir

ENV = {"GITHUB_ACTIONS": None, "CKPTCTL_DEBUG": None}
"""Unset for every run: GitHub annotations or debug output would change what stderr holds."""

AFFINE_MODEL = '''
"""A tf.Module shaped like `tests.checkpoints.write_saved_model`'s: w (3, 2) and b (2,)."""
import tensorflow as tf


class Affine(tf.Module):
    ckptctl_input_shapes = [(4, 3)]

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.random.normal((3, 2)))
        self.b = tf.Variable(tf.zeros((2,)))

    def __call__(self, x, training=False):
        return tf.matmul(x, self.w) + self.b
'''


@dataclass(frozen=True)
class Paths:
    """Private copies of the session checkpoints, and a scratch area outside all of them."""

    my_model: Path  # CheckpointManager directory (state file, ckpt-1..3), trained with Adam
    name_based: Path  # directory of a TF1 name-based checkpoint (prefix `model.ckpt`)
    sharded: Path  # directory of a four-shard object-based checkpoint (prefix `sharded`)
    saved_model: Path  # SavedModel directory
    models: Path  # model files written for these tests (outside the checkpoints)
    out_root: Path  # parent of the per-test output directories

    def checkpoint_dirs(self) -> list[Path]:
        return [self.my_model, self.name_based, self.sharded, self.saved_model]

    def words(self, command: str, out: Path, **more: Path) -> list[str]:
        """`command` split on whitespace, each word's placeholders filled in (`more` adds
        placeholders)."""
        names: dict[str, object] = {
            **more,
            "dir": self.my_model,
            "prefix": self.my_model / "ckpt-3",
            "ckpt1": self.my_model / "ckpt-1",
            "index": self.my_model / "ckpt-3.index",
            "data": self.my_model / "ckpt-3.data-00000-of-00001",
            "nb": self.name_based,
            "sharded": self.sharded,
            "sm": self.saved_model,
            "out": out,
            "my_model": "sample_models.models:MyModel",
            "renamed": "sample_models.broken:RenamedModel",
            "affine": f"{self.models / 'affine.py'}:Affine",
        }
        return [word.format(**names) for word in command.split()]


@pytest.fixture(scope="module")
def paths(
    tmp_path_factory: pytest.TempPathFactory,
    samples_dir: Path,
    name_based_ckpt: Path,
    sharded_ckpt: Path,
    saved_model_dir: Path,
) -> Paths:
    """Copies made once for this module, so a broken guarantee cannot damage the fixtures."""
    base = tmp_path_factory.mktemp("readonly")
    ckpts = base / "ckpts"
    models = base / "models"
    models.mkdir()
    (models / "affine.py").write_text(AFFINE_MODEL)
    (base / "out").mkdir()
    return Paths(
        my_model=copy_checkpoint_dir(samples_dir / "my_model", ckpts / "my_model"),
        name_based=copy_checkpoint_dir(name_based_ckpt.parent, ckpts / "name_based"),
        sharded=copy_checkpoint_dir(sharded_ckpt.parent, ckpts / "sharded"),
        saved_model=copy_checkpoint_dir(saved_model_dir, ckpts / "saved_model"),
        models=models,
        out_root=base / "out",
    )


@pytest.fixture
def out(paths: Paths, request: pytest.FixtureRequest) -> Path:
    """An empty directory outside every checkpoint directory, for this test's outputs."""
    directory = paths.out_root / hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    directory.mkdir()
    return directory


Snapshot = dict[str, tuple[object, ...]]


def snapshot(directory: Path) -> Snapshot:
    """Relative path -> (kind, size, mode, mtime_ns, sha256 | sorted listing) of every entry."""
    entries: Snapshot = {}
    for root, dirnames, filenames in os.walk(directory):
        for name in [".", *dirnames, *filenames]:
            path = Path(root) / name
            st = path.lstat()
            rel = str(path.relative_to(directory))
            if path.is_symlink():
                entries[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[rel] = ("dir", st.st_mode, st.st_mtime_ns, tuple(sorted(os.listdir(path))))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries[rel] = ("file", st.st_size, st.st_mode, st.st_mtime_ns, digest)
    return entries


def assert_same(directory: Path, before: Snapshot) -> None:
    after = snapshot(directory)
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not added and not changed, f"{directory} changed: added {added}, changed {changed}"


@pytest.fixture
def unchanged(paths: Paths) -> Iterator[None]:
    """Fails the test if any checkpoint directory changed in any way while it ran."""
    before = {d: snapshot(d) for d in paths.checkpoint_dirs()}
    yield
    for directory, old in before.items():
        assert_same(directory, old)


def invoke(words: list[str]) -> Result:
    return CliRunner(env=ENV).invoke(app, words)


def outputs_named(words: list[str], out: Path) -> list[str]:
    """Names of the files the command line asks to write into `out`."""
    return sorted(Path(w).name for w in words if Path(w).parent == out)


def run_case(paths: Paths, out: Path, command: str, code: int) -> Result:
    words = paths.words(command, out)
    result = invoke(words)
    assert result.exit_code == code, result.output
    assert sorted(os.listdir(out)) == outputs_named(words, out), "unexpected files in the output"
    return result


def cases(table: list[tuple[str, str, int]]) -> list[object]:
    return [pytest.param(command, code, id=name) for name, command, code in table]


# ---------------------------------------------------------------- inspect and diff

INSPECT_AND_DIFF = [
    ("dir", "inspect {dir}", 0),
    ("prefix --tree", "inspect {prefix} --tree", 0),
    ("index --stats --hist", "inspect {index} --stats --hist", 0),
    ("data --json", "inspect {data} --json", 0),
    ("--filter", "inspect {dir} --filter model.*", 0),
    ("--backend tf --stats", "inspect {prefix} --backend tf --stats --hist", 0),
    ("--backend native --no-verify", "inspect {dir} --backend native --stats --no-verify", 0),
    ("--fail-on-nonfinite", "inspect {dir} --fail-on-nonfinite", 0),
    ("SavedModel --stats --json", "inspect {sm} --stats --json", 0),
    ("name-based --backend tf", "inspect {nb} --backend tf --stats", 0),
    ("sharded --stats", "inspect {sharded}/sharded --stats --tree", 0),
    ("diff dir prefix", "diff {dir} {dir}/ckpt-2", 1),
    ("diff index data --json", "diff {index} {data} --json", 0),
    ("diff --junit-xml", "diff {ckpt1} {prefix} --junit-xml {out}/diff.xml", 1),
    ("diff --model-only --filter", "diff {dir} {prefix} --model-only -f model.*", 0),
    ("diff --atol --rtol", "diff {ckpt1} {dir} --atol 1 --rtol 1 --json", 0),
    ("diff SavedModel sharded", "diff {sm} {sharded} --junit-xml {out}/d.xml", 1),
    ("diff name-based", "diff {nb}/model.ckpt.index {nb}", 0),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("command", "code"), cases(INSPECT_AND_DIFF))
def test_inspect_and_diff_write_nothing(paths: Paths, out: Path, command: str, code: int) -> None:
    """Reading a checkpoint, its index alone or all its values, leaves its directory untouched."""
    run_case(paths, out, command, code)


# ---------------------------------------------------------------- restore

SHAPE = "--input-shape 4,20"
RESTORES = [
    ("dir --optimizer adam", f"restore {{dir}} -m {{my_model}} {SHAPE} --optimizer adam", 0),
    ("prefix --partial", f"restore {{prefix}} -m {{renamed}} {SHAPE} --partial", 1),
    ("index --json", f"restore {{index}} -m {{my_model}} {SHAPE} --json", 0),
    ("data --junit-xml", f"restore {{data}} -m {{my_model}} {SHAPE} --junit-xml {{out}}/r.xml", 0),
    ("renamed", f"restore {{dir}} -m {{renamed}} {SHAPE} --junit-xml {{out}}/r.xml --json", 1),
    ("renamed --optimizer", f"restore {{dir}} -m {{renamed}} {SHAPE} --optimizer adam", 1),
    ("--map", f"restore {{dir}} -m {{renamed}} {SHAPE} --map dense1=encoder --optimizer adam", 0),
    ("SavedModel", "restore {sm} -m {affine} --json", 0),
    ("SavedModel --partial", "restore {sm}/variables/variables.index -m {affine} --partial", 0),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("command", "code"), cases(RESTORES))
def test_restore_writes_nothing(paths: Paths, out: Path, command: str, code: int) -> None:
    """Restoring (TensorFlow's restore, ckptctl's own assignment, or a failed match) only reads."""
    run_case(paths, out, command, code)


@pytest.mark.usefixtures("unchanged")
def test_save_golden_outside_then_replay(paths: Paths, out: Path) -> None:
    """`--save-golden` writes exactly the requested file; `--golden` replays it; neither
    touches the checkpoint."""
    run_case(paths, out, f"restore {{dir}} -m {{my_model}} {SHAPE} --save-golden {{out}}/g.npz", 0)
    replay = f"restore {{prefix}} -m {{my_model}} {SHAPE} --golden {{out}}/g.npz --optimizer adam"
    run_case(paths, out, replay, 0)
    assert os.listdir(out) == ["g.npz"]


def test_golden_replay_without_input_shape_as_the_readme_shows(paths: Paths, out: Path) -> None:
    run_case(paths, out, f"restore {{dir}} -m {{my_model}} {SHAPE} --save-golden {{out}}/g.npz", 0)
    run_case(paths, out, "restore {dir} -m {my_model} --golden {out}/g.npz", 0)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("{dir}", "{dir}/golden.npz", id="beside the checkpoint"),
        pytest.param("{dir}", "{index}", id="over the index"),
        pytest.param("{dir}", "{dir}/../my_model/golden.npz", id="through .."),
        pytest.param("{prefix}", "{dir}/golden.npz", id="prefix given"),
        pytest.param("{sm}", "{sm}/variables/golden.npz", id="SavedModel variables"),
        pytest.param(
            "{dir}",
            "{dir}/sub/golden.npz",
            id="subdirectory of the checkpoint directory",
        ),
        pytest.param(
            "{sm}",
            "{sm}/golden.npz",
            id="SavedModel directory",
        ),
    ],
)
def test_save_golden_into_a_checkpoint_directory_is_refused(
    paths: Paths, out: Path, source: str, target: str
) -> None:
    """`--save-golden` aimed into the checkpoint's directory tree: exit 2, nothing written."""
    directory = paths.saved_model if source == "{sm}" else paths.my_model
    model = "{affine}" if source == "{sm}" else f"{{my_model}} {SHAPE}"
    sub = paths.my_model / "sub"
    sub.mkdir()  # a directory the user may have made there; removed again below
    try:
        before = snapshot(directory)
        result = invoke(paths.words(f"restore {source} -m {model} --save-golden {target}", out))
        after = snapshot(directory)
    finally:
        shutil.rmtree(sub)
        (paths.saved_model / "golden.npz").unlink(missing_ok=True)
    assert result.exit_code == 2, result.output
    assert "refusing to write into or over the checkpoint's directory" in result.stderr
    assert after == before


@pytest.mark.parametrize(
    "command",
    [f"restore {{dir}} -m {{my_model}} {SHAPE}", "diff {dir} {ckpt1}"],
    ids=["restore", "diff"],
)
def test_junit_xml_into_a_checkpoint_directory_is_refused(
    paths: Paths, out: Path, command: str
) -> None:
    """`--junit-xml` aimed into the checkpoint's directory is refused like `--save-golden`."""
    before = snapshot(paths.my_model)
    try:
        result = invoke(paths.words(f"{command} --junit-xml {{dir}}/report.xml", out))
        after = snapshot(paths.my_model)
    finally:
        (paths.my_model / "report.xml").unlink(missing_ok=True)
    assert result.exit_code == 2, result.output
    assert after == before


# ---------------------------------------------------------------- migrate

MIGRATES = [
    (
        "dir --optimizer",
        f"migrate {{dir}} -o {{out}}/dst -m {{my_model}} {SHAPE} --optimizer adam",
        0,
    ),
    (
        "index --map",
        f"migrate {{index}} -o {{out}}/dst -m {{renamed}} {SHAPE} --map dense1=encoder",
        0,
    ),
    ("data, does not fit", f"migrate {{data}} -o {{out}}/dst -m {{renamed}} {SHAPE}", 1),
    ("name-based rename", "migrate {nb} -o {out}/dst --map dense=layer --json", 0),
    ("SavedModel", "migrate {sm} -o {out}/dst -m {affine}", 0),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("command", "code"), cases(MIGRATES))
def test_migrate_writes_only_its_destination(
    paths: Paths, out: Path, command: str, code: int
) -> None:
    """`migrate -o DST` writes DST (exit 0) or nothing at all (exit 1), never the source."""
    result = invoke(paths.words(command, out))
    assert result.exit_code == code, result.output
    assert os.listdir(out) == (["dst"] if code == 0 else [])


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("{dir}", "{dir}", id="the source directory"),
        pytest.param("{prefix}", "{dir}/migrated", id="inside the source directory"),
        pytest.param("{dir}", "{dir}/..", id="over the source's parent"),
        pytest.param("{sm}", "{sm}/variables/migrated", id="inside SavedModel variables"),
        pytest.param(
            "{sm}",
            "{sm}/migrated",
            id="inside the SavedModel directory",
        ),
    ],
)
def test_migrate_refuses_to_write_into_the_source(
    paths: Paths, out: Path, source: str, target: str
) -> None:
    """`migrate` refuses (exit 2), even with `--force`, any DST in or over the source's
    directory; nothing is written."""
    directories = paths.checkpoint_dirs()
    before = {d: snapshot(d) for d in directories}
    model = "{affine}" if source == "{sm}" else f"{{my_model}} {SHAPE}"
    try:
        result = invoke(paths.words(f"migrate {source} -o {target} -m {model} --force", out))
        after = {d: snapshot(d) for d in directories}
    finally:
        shutil.rmtree(paths.saved_model / "migrated", ignore_errors=True)
    assert result.exit_code == 2, result.output
    assert "refusing to write into or over the checkpoint's" in result.stderr
    assert after == before


@pytest.mark.usefixtures("unchanged")
def test_migrate_refuses_an_existing_destination(paths: Paths, out: Path) -> None:
    """An existing DST without `--force`: exit 2, DST left exactly as it was."""
    (out / "dst").mkdir()
    (out / "dst" / "keep.txt").write_text("mine")
    before = snapshot(out)
    result = invoke(paths.words(f"migrate {{dir}} -o {{out}}/dst -m {{my_model}} {SHAPE}", out))
    assert result.exit_code == 2, result.output
    assert "already exists" in result.stderr
    assert snapshot(out) == before


# ---------------------------------------------------------------- the real process


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "command",
    [
        "inspect {dir} --stats --hist",
        "diff {sharded} {sharded}/sharded.index --junit-xml {out}/d.xml",
        f"restore {{dir}} -m {{my_model}} {SHAPE} --optimizer adam --save-golden {{out}}/g.npz "
        "--junit-xml {out}/r.xml",
    ],
    ids=["inspect", "diff", "restore"],
)
def test_a_fresh_process_writes_nothing(paths: Paths, out: Path, command: str) -> None:
    """`python -m ckptctl` in its own process (TensorFlow's import and C++ runtime included)."""
    words = paths.words(command, out)
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    result = subprocess.run(
        [sys.executable, "-m", "ckptctl", *words],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == outputs_named(words, out)


def test_the_snapshot_sees_a_file_that_came_and_went(tmp_path: Path) -> None:
    """The snapshot is sensitive enough: a temporary file created and removed is noticed."""
    (tmp_path / "ckpt.index").write_bytes(b"x")
    os.utime(tmp_path, ns=(0, 0))
    before = snapshot(tmp_path)
    (tmp_path / ".tmp").write_bytes(b"")
    (tmp_path / ".tmp").unlink()
    assert snapshot(tmp_path) != before


# ---------------------------------------------------------------- unreadable and redirected


@dataclass(frozen=True)
class Odd:
    """Checkpoint directories that cannot be read, or whose state file leads elsewhere."""

    stale: Path  # a copy of my_model whose state file names a deleted prefix (ckpt-3)
    pointing: Path  # only a state file, naming my_model's ckpt-3 by its absolute path
    pointing_up: Path  # only a state file, naming ../my_model/ckpt-2

    def names(self) -> dict[str, Path]:
        return {"stale": self.stale, "pointing": self.pointing, "up": self.pointing_up}


@pytest.fixture(scope="module")
def odd(paths: Paths) -> Odd:
    from tests.checkpoints import state_file_names_deleted_prefix

    base = paths.my_model.parent
    stale = copy_checkpoint_dir(paths.my_model, base / "stale")
    state_file_names_deleted_prefix(stale)
    pointing = base / "pointing"
    pointing.mkdir()
    (pointing / "checkpoint").write_text(f'model_checkpoint_path: "{paths.my_model / "ckpt-3"}"\n')
    up = base / "pointing_up"
    up.mkdir()
    (up / "checkpoint").write_text('model_checkpoint_path: "../my_model/ckpt-2"\n')
    return Odd(stale, pointing, up)


@pytest.mark.parametrize(
    "command",
    [
        "diff {stale} {stale} --junit-xml {stale}/report.xml",
        "diff {dir} {stale}/ckpt-3 --junit-xml {stale}/report.xml",
        f"restore {{stale}} -m {{my_model}} {SHAPE} --junit-xml {{stale}}/report.xml",
        f"restore {{stale}}/ckpt-3.index -m {{my_model}} {SHAPE} --junit-xml {{stale}}/r.xml",
    ],
    ids=["diff", "diff of a deleted prefix", "restore", "restore of a deleted index"],
)
def test_reports_into_an_unreadable_checkpoints_directory_are_refused(
    paths: Paths, odd: Odd, out: Path, command: str
) -> None:
    """Whether or not the checkpoint can be read, its directory is never written into."""
    before = snapshot(odd.stale)
    result = invoke(paths.words(command, out, **odd.names()))
    assert result.exit_code == 2, result.output
    assert f"refusing to write into or over the checkpoint's directory {odd.stale}" in result.stderr
    assert_same(odd.stale, before)


@pytest.mark.parametrize("source", ["pointing", "up"])
@pytest.mark.parametrize(
    ("command", "words"),
    [
        (
            f"restore {{src}} -m {{my_model}} {SHAPE} --junit-xml {{src}}/r.xml",
            "refusing to write into or over the checkpoint's directory",
        ),
        (
            f"restore {{src}} -m {{my_model}} {SHAPE} --save-golden {{src}}/g.npz",
            "refusing to write into or over the checkpoint's directory",
        ),
        (
            "diff {src} {dir} --junit-xml {src}/d.xml",
            "refusing to write into or over the checkpoint's",
        ),
        (
            f"migrate {{src}} -o {{src}}/migrated -m {{my_model}} {SHAPE}",
            "refusing to write into or over the checkpoint's directory",
        ),
    ],
    ids=["--junit-xml", "--save-golden", "diff --junit-xml", "migrate -o"],
)
def test_outputs_into_a_directory_whose_state_file_leads_elsewhere_are_refused(
    paths: Paths, odd: Odd, out: Path, source: str, command: str, words: str
) -> None:
    """A state file naming /elsewhere/ckpt-3 or ../x/ckpt-3 does not move the protection away
    from the directory the user named: both are protected."""
    directory = odd.names()[source]
    before = {d: snapshot(d) for d in (directory, paths.my_model)}
    result = invoke(paths.words(command, out, src=directory))
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert str(directory) in result.stderr
    for d, old in before.items():
        assert_same(d, old)


def test_inspect_notes_a_state_file_leading_outside_its_directory(
    paths: Paths, odd: Odd, out: Path
) -> None:
    result = invoke(paths.words("inspect {up} --json", out, **odd.names()))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert f"leads outside {odd.pointing_up}" in doc["note"]
    table = invoke(paths.words("inspect {up}", out, **odd.names()))
    assert f"note: {odd.pointing_up / 'checkpoint'} leads outside" in table.stdout

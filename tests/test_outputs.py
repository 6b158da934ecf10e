"""Every output a user can aim goes through `ckptctl.outputs`: aimed into (or over) a
checkpoint's directory, it is refused with exit 2 and one message, and nothing is written.

The directories protected are the checkpoint's own and the one the user named, when a
`checkpoint` state file leads elsewhere; both stay protected when the checkpoint cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from ckptctl.errors import EXIT_USAGE
from ckptctl.outputs import (
    ProtectedOutputError,
    protected_directories,
    refuse_outputs_into_checkpoints,
)
from tests.checkpoints import copy_checkpoint_dir, state_file_names_deleted_prefix
from tests.test_readonly import Snapshot, snapshot

SHAPE = "--input-shape 4,20"
MY_MODEL = "sample_models.models:MyModel"


class Dirs(NamedTuple):
    good: Path  # a copy of my_model (state file, ckpt-1..3)
    stale: Path  # a copy whose state file names a deleted prefix: it cannot be read
    pointing: Path  # only a state file, naming ../good/ckpt-2
    elsewhere: Path  # outside every checkpoint


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Dirs:
    base = tmp_path_factory.mktemp("outputs")
    good = copy_checkpoint_dir(samples_dir / "my_model", base / "good")
    stale = copy_checkpoint_dir(samples_dir / "my_model", base / "stale")
    state_file_names_deleted_prefix(stale)
    pointing = base / "pointing"
    pointing.mkdir()
    (pointing / "checkpoint").write_text('model_checkpoint_path: "../good/ckpt-2"\n')
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Dirs(good, stale, pointing, elsewhere)


COMMANDS = {
    "restore --junit-xml": f"restore {{src}} -m {MY_MODEL} {SHAPE} --junit-xml {{out}}/r.xml",
    "restore --markdown": f"restore {{src}} -m {MY_MODEL} {SHAPE} --markdown {{out}}/r.md",
    "restore --save-golden": f"restore {{src}} -m {MY_MODEL} {SHAPE} --save-golden {{out}}/g.npz",
    "diff --junit-xml": "diff {src} {src}/ckpt-1 --junit-xml {out}/d.xml",
    "diff --markdown": "diff {src} {src}/ckpt-1 --markdown {out}/d.md",
    "migrate -o": f"migrate {{src}} -o {{out}}/migrated -m {MY_MODEL} {SHAPE} --force",
    "trend --html": "trend {src} --html {out}/t.html",
}
OPTION = {name: name.split()[1] for name in COMMANDS}


def run(command: str, **names: Path) -> tuple[int, str]:
    words = [w.format(**names) for w in command.split()]
    result = CliRunner(env={"GITHUB_ACTIONS": None, "CKPTCTL_DEBUG": None}).invoke(app, words)
    return result.exit_code, result.stderr


def snapshots(d: Dirs) -> dict[Path, Snapshot]:
    return {p: snapshot(p) for p in d}


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("source", ["good", "stale", "pointing"])
def test_an_output_into_the_named_directory_is_refused(dirs: Dirs, name: str, source: str) -> None:
    """Into the directory the user named, readable or not, or whose state file leads away."""
    src = getattr(dirs, source)
    before = snapshots(dirs)
    code, stderr = run(COMMANDS[name], src=src, out=src)
    assert code == EXIT_USAGE, stderr
    assert (
        f"{OPTION[name]} {src}/" in stderr
        and f"refusing to write into or over the checkpoint's directory {src}\n" in stderr
    )
    assert snapshots(dirs) == before


@pytest.mark.parametrize("name", ["restore --junit-xml", "diff --markdown", "migrate -o"])
def test_an_output_into_the_directory_a_state_file_leads_to_is_refused(
    dirs: Dirs, name: str
) -> None:
    """`pointing`'s state file leads to `good`: `good` is protected as well."""
    before = snapshots(dirs)
    code, stderr = run(COMMANDS[name], src=dirs.pointing, out=dirs.good)
    assert code == EXIT_USAGE, stderr
    assert f"refusing to write into or over the checkpoint's directory {dirs.good}\n" in stderr
    assert snapshots(dirs) == before


def test_an_output_over_the_checkpoint_directory_is_refused(dirs: Dirs) -> None:
    """A report path that is the checkpoint's parent would replace the checkpoint."""
    before = snapshots(dirs)
    command = f"restore {{src}} -m {MY_MODEL} {SHAPE} --junit-xml {{out}}"
    code, stderr = run(command, src=dirs.good, out=dirs.good.parent)
    assert code == EXIT_USAGE, stderr
    assert f"refusing to write into or over the checkpoint's directory {dirs.good}\n" in stderr
    assert snapshots(dirs) == before


def test_protected_directories_of_each_kind_of_source(dirs: Dirs, tmp_path: Path) -> None:
    assert protected_directories(dirs.good) == (dirs.good,)
    assert protected_directories(dirs.stale / "ckpt-3.index") == (dirs.stale,)
    assert protected_directories(dirs.pointing) == (dirs.good, dirs.pointing)
    assert protected_directories(tmp_path / "typo") == ()
    assert protected_directories("gs://bucket/ckpt-1") == ()


def test_the_library_raises_one_error_type(dirs: Dirs) -> None:
    from ckptctl.migration import migrate
    from ckptctl.restoration import restore

    with pytest.raises(ProtectedOutputError) as golden:
        restore(dirs.good, MY_MODEL, input_shapes=[(4, 20)], save_golden=dirs.good / "g.npz")
    with pytest.raises(ProtectedOutputError) as migrated:
        migrate(dirs.stale, dirs.stale / "sub", MY_MODEL, input_shapes=[(4, 20)])
    with pytest.raises(ProtectedOutputError) as report:
        refuse_outputs_into_checkpoints(
            {"--junit-xml": dirs.good / "r.xml", "--markdown": None}, dirs.good
        )
    assert (golden.value.option, golden.value.directory) == ("--save-golden", dirs.good)
    assert (migrated.value.option, migrated.value.directory) == ("-o", dirs.stale)
    assert report.value.exit_code == EXIT_USAGE
    refuse_outputs_into_checkpoints(
        {"--junit-xml": dirs.elsewhere / "r.xml"}, dirs.good, dirs.pointing
    )

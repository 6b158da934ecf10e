"""`ckptctl.locate`: every path form a user may type resolves to the right prefix.

`locate` itself is pure Python; only the fixtures that write checkpoints use TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ckptctl.errors import EXIT_UNREADABLE, CheckpointError
from ckptctl.location import Location, locate
from tests.checkpoints import (
    PROJECT_ROOT,
    data_shards,
    index_file,
    state_file_names_deleted_prefix,
)

BrokenCopy = Callable[[Path], Path]


def _locate_error(path: str | Path) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        locate(path)
    assert info.value.exit_code == EXIT_UNREADABLE == 3
    return info.value


def _assert_prefix(loc: Location, prefix: Path) -> None:
    assert loc.prefix == prefix
    assert loc.index_file == index_file(prefix)
    assert loc.data_files == tuple(data_shards(prefix))
    assert loc.index_file.is_file()


# --- checkpoint directories -------------------------------------------------------------------


def test_manager_directory_resolves_to_latest_and_lists_the_others(samples_dir: Path) -> None:
    directory = samples_dir / "my_model"
    loc = locate(directory)
    _assert_prefix(loc, directory / "ckpt-3")
    assert loc.source == "checkpoint"
    assert loc.others == ("ckpt-1", "ckpt-2")
    assert loc.state_file == directory / "checkpoint"
    assert loc.note is None
    assert loc.declared_shards == 1


def test_path_given_as_str_is_accepted(samples_dir: Path) -> None:
    assert locate(str(samples_dir / "my_model")).prefix == samples_dir / "my_model" / "ckpt-3"


@pytest.mark.parametrize("name", ["my_model", "custom_model"])
def test_every_sample_directory_resolves_to_its_third_checkpoint(
    samples_dir: Path, name: str
) -> None:
    loc = locate(samples_dir / name)
    _assert_prefix(loc, samples_dir / name / "ckpt-3")


def test_versioned_sample_resolves_to_its_latest_versioned_prefix(samples_dir: Path) -> None:
    directory = samples_dir / "versioned_model"
    loc = locate(directory)
    assert loc.prefix.parent == directory
    assert loc.prefix.name.startswith("model_v1_")
    assert loc.prefix.name.endswith("-3")
    assert [o.rsplit("-", 1)[1] for o in loc.others] == ["1", "2"]
    assert all(o.startswith("model_v1_") for o in loc.others)
    assert loc.state_file == directory / "checkpoint"


def test_directory_without_state_file_takes_the_newest_prefix_and_says_so(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    (directory / "checkpoint").unlink()
    loc = locate(directory)
    _assert_prefix(loc, directory / "ckpt-3")
    assert loc.state_file is None
    assert loc.others == ("ckpt-1", "ckpt-2")
    assert loc.note is not None
    assert "ckpt-3" in loc.note
    assert "state file" in loc.note


def test_newest_prefix_is_chosen_by_save_number_not_by_name(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    """`ckpt-10` is newer than `ckpt-9`, although it sorts before it as text."""
    directory = broken_copy(samples_dir / "my_model")
    (directory / "checkpoint").unlink()
    for old, new in (("ckpt-3", "ckpt-9"), ("ckpt-1", "ckpt-10")):
        for f in directory.glob(f"{old}.*"):
            f.rename(directory / f.name.replace(old, new, 1))
    loc = locate(directory)
    assert loc.prefix == directory / "ckpt-10"
    assert loc.others == ("ckpt-2", "ckpt-9")


def test_state_file_with_absolute_paths_is_followed(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    (directory / "checkpoint").write_text(
        f'model_checkpoint_path: "{directory / "ckpt-2"}"\n'
        f'all_model_checkpoint_paths: "{directory / "ckpt-1"}"\n'
        f'all_model_checkpoint_paths: "{directory / "ckpt-2"}"\n'
    )
    loc = locate(directory)
    _assert_prefix(loc, directory / "ckpt-2")
    assert loc.others == ("ckpt-1",)


# --- files and prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_prefix_resolves_to_itself(samples_dir: Path, n: int) -> None:
    prefix = samples_dir / "my_model" / f"ckpt-{n}"
    loc = locate(prefix)
    _assert_prefix(loc, prefix)
    assert loc.others == ()
    assert loc.state_file is None
    assert loc.note is None


def test_index_file_resolves_to_its_prefix(samples_dir: Path) -> None:
    prefix = samples_dir / "my_model" / "ckpt-2"
    _assert_prefix(locate(index_file(prefix)), prefix)


def test_data_file_resolves_to_its_prefix(samples_dir: Path) -> None:
    prefix = samples_dir / "my_model" / "ckpt-2"
    data = prefix.parent / "ckpt-2.data-00000-of-00001"
    assert data.is_file()
    _assert_prefix(locate(data), prefix)


def test_any_data_shard_of_a_sharded_checkpoint_resolves_to_its_prefix(sharded_ckpt: Path) -> None:
    shards = data_shards(sharded_ckpt)
    for shard in shards:
        loc = locate(shard)
        _assert_prefix(loc, sharded_ckpt)
        assert loc.declared_shards == len(shards)


def test_state_file_itself_resolves_like_its_directory(samples_dir: Path) -> None:
    directory = samples_dir / "my_model"
    assert locate(directory / "checkpoint") == locate(directory)


def test_name_based_prefix_and_directory(name_based_ckpt: Path) -> None:
    _assert_prefix(locate(name_based_ckpt), name_based_ckpt)
    loc = locate(name_based_ckpt.parent)
    _assert_prefix(loc, name_based_ckpt)
    assert loc.source == "checkpoint"


# --- SavedModel -------------------------------------------------------------------------------


def test_saved_model_directory_resolves_to_its_variables(saved_model_dir: Path) -> None:
    loc = locate(saved_model_dir)
    _assert_prefix(loc, saved_model_dir / "variables" / "variables")
    assert loc.source == "saved_model"


@pytest.mark.parametrize(
    "relative", ["saved_model.pb", "variables", "variables/variables", "variables/variables.index"]
)
def test_paths_inside_a_saved_model_are_saved_model_sources(
    saved_model_dir: Path, relative: str
) -> None:
    loc = locate(saved_model_dir / relative)
    assert loc.prefix == saved_model_dir / "variables" / "variables"
    assert loc.source == "saved_model"


def test_saved_model_without_variables_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    err = _locate_error(tmp_path)
    assert str(tmp_path) in err.message
    assert "variables" in err.message


@pytest.mark.parametrize(
    "name", ["saved_model_half_plus_two_cpu", "saved_model_half_plus_two_tf2_cpu"]
)
def test_external_version_directory(external_fixtures: Path, name: str) -> None:
    version = external_fixtures / name / "00000123"
    loc = locate(version)
    _assert_prefix(loc, version / "variables" / "variables")
    assert loc.source == "saved_model"
    assert loc.note is None


@pytest.mark.parametrize(
    "name", ["saved_model_half_plus_two_cpu", "saved_model_half_plus_two_tf2_cpu"]
)
def test_external_parent_of_numbered_versions_picks_the_highest_with_a_note(
    external_fixtures: Path, name: str
) -> None:
    parent = external_fixtures / name
    loc = locate(parent)
    _assert_prefix(loc, parent / "00000123" / "variables" / "variables")
    assert loc.source == "saved_model"
    assert loc.note is not None
    assert "00000123" in loc.note


def test_highest_numbered_saved_model_version_wins(saved_model_dir: Path, tmp_path: Path) -> None:
    """Versions compare as numbers: 10 is newer than 9."""
    export = tmp_path / "export"
    for version in ("9", "10", "2"):
        shutil.copytree(saved_model_dir, export / version)
    (export / "not-a-version").mkdir()
    loc = locate(export)
    assert loc.prefix == export / "10" / "variables" / "variables"
    assert loc.others == ("2", "9")
    assert loc.note is not None
    assert "10" in loc.note


# --- errors -----------------------------------------------------------------------------------


def test_nonexistent_path(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "ckpt-1"
    err = _locate_error(missing)
    assert str(missing) in err.message
    assert "no such file" in err.message


def test_missing_prefix_beside_real_checkpoints_hints_at_them(samples_dir: Path) -> None:
    missing = samples_dir / "my_model" / "ckpt-9"
    err = _locate_error(missing)
    assert str(missing) in err.message
    assert err.hint is not None
    for name in ("ckpt-1", "ckpt-2", "ckpt-3"):
        assert name in err.hint


def test_empty_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _locate_error(empty)
    assert str(empty) in err.message
    assert "empty" in err.message
    assert err.hint


def test_directory_without_checkpoints_names_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "model.h5").write_bytes(b"\x89HDF")
    err = _locate_error(tmp_path)
    assert str(tmp_path) in err.message
    assert "notes.txt" in err.message


def test_non_checkpoint_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    err = _locate_error(text)
    assert str(text) in err.message
    assert "not a checkpoint" in err.message
    assert err.hint


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "ckpt-1"
    link.symlink_to(tmp_path / "gone")
    err = _locate_error(link)
    assert str(link) in err.message


def test_state_file_naming_a_deleted_prefix(samples_dir: Path, broken_copy: BrokenCopy) -> None:
    directory = broken_copy(samples_dir / "my_model")
    state_file_names_deleted_prefix(directory)
    err = _locate_error(directory)
    assert str(directory / "checkpoint") in err.message
    assert "ckpt-3" in err.message
    assert "does not exist" in err.message
    assert err.hint is not None
    assert "ckpt-1" in err.hint
    assert "ckpt-2" in err.hint
    assert "ckpt-3" not in err.hint


def test_state_file_naming_a_deleted_prefix_with_nothing_left(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    directory = broken_copy(samples_dir / "my_model")
    for f in directory.iterdir():
        if f.name != "checkpoint":
            f.unlink()
    err = _locate_error(directory)
    assert "ckpt-3" in err.message
    assert err.hint is not None
    assert "no checkpoint" in err.hint


def test_directory_named_like_an_index_is_not_taken_for_a_checkpoint(tmp_path: Path) -> None:
    """`x.index` is a directory: locating the prefix `x` must say so, not claim `x` is absent."""
    (tmp_path / "x.index").mkdir()
    err = _locate_error(tmp_path / "x")
    assert str(tmp_path / "x") in err.message
    assert "x.index" in err.message
    assert "no such file" not in err.message


def test_locate_never_writes(samples_dir: Path) -> None:
    directory = samples_dir / "my_model"
    before = sorted(os.listdir(directory))
    locate(directory)
    locate(directory / "ckpt-1")
    assert sorted(os.listdir(directory)) == before


def test_package_level_locate_stays_the_function() -> None:
    """`ckptctl.locate` (in `ckptctl.__all__`) stays callable however often it is looked up and
    whatever was imported before: the `ckptctl.locate` submodule must not replace it."""
    code = textwrap.dedent(
        """
        import json
        import ckptctl
        first = ckptctl.locate
        second = ckptctl.locate
        import ckptctl.inspection
        third = ckptctl.locate
        print(json.dumps([repr(first), repr(second), repr(third)]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for found in json.loads(result.stdout):
        assert found.startswith("<function locate"), found


# --- state files: how TensorFlow writes and reads them ------------------------------------------


def _state_file(directory: Path, *lines: str) -> Path:
    """A `checkpoint` state file of exactly these lines, written as bytes (UTF-8)."""
    state = directory / "checkpoint"
    state.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return state


@pytest.fixture(scope="module")
def accented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CheckpointManager directory with `checkpoint_name="modèle"` (two saves)."""
    import tensorflow as tf

    directory = tmp_path_factory.mktemp("accented")
    ckpt = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    manager = tf.train.CheckpointManager(ckpt, str(directory), 3, checkpoint_name="modèle")
    manager.save()
    manager.save()
    return directory


@pytest.mark.parametrize("written", ["as TensorFlow writes it", "octal escapes"])
def test_a_non_ascii_checkpoint_name_resolves_as_tensorflow_reads_it(
    accented: Path, tmp_path: Path, written: str
) -> None:
    """TensorFlow writes `modèle` raw (UTF-8); older protobufs wrote `mod\\303\\250le`. Both are
    the same name, which TensorFlow and ckptctl both find."""
    import tensorflow as tf

    directory = tmp_path / "copy"
    shutil.copytree(accented, directory)
    if written == "octal escapes":
        text = (directory / "checkpoint").read_text(encoding="utf-8")
        (directory / "checkpoint").write_text(text.replace("è", "\\303\\250"), encoding="ascii")
    assert tf.train.latest_checkpoint(str(directory)) == str(directory / "modèle-2")
    loc = locate(directory)
    _assert_prefix(loc, directory / "modèle-2")
    assert loc.others == ("modèle-1",)


@pytest.mark.parametrize(
    "raw",
    [
        "ckpt-3",
        "mod\\303\\250le-3",
        "modèle-3",
        "a\\x41\\x4a-3",
        "\\101\\102-3",
        'say \\"hi\\"-3',
        "back\\\\slash-3",
        "tab\\there-3",
        "q\\?-3",  # an unknown escape: kept as written
        "\\xe8\\xa8-3",  # bytes that are not UTF-8 on their own: protobuf refuses them too
    ],
)
def test_state_file_strings_decode_as_protobufs_text_format(tmp_path: Path, raw: str) -> None:
    """The same string as TensorFlow's own parser (protobuf's text format) reads, or an error
    where that parser refuses it."""
    from google.protobuf import text_format
    from tensorflow.python.checkpoint.checkpoint_management import CheckpointState

    from ckptctl.location import read_state_file

    state = _state_file(tmp_path, f'model_checkpoint_path: "{raw}"')
    try:
        expected: str | None = text_format.Parse(
            state.read_text(encoding="utf-8"), CheckpointState()
        ).model_checkpoint_path
    except (text_format.ParseError, UnicodeDecodeError):
        expected = None
    if expected is None:
        with pytest.raises(CheckpointError, match="line 1"):
            read_state_file(state)
    else:
        assert read_state_file(state) == (expected, [])


def test_unicode_escapes_in_a_state_file_are_utf8(tmp_path: Path) -> None:
    from ckptctl.location import read_state_file

    state = _state_file(tmp_path, 'model_checkpoint_path: "mod\\u00e8le-\\U0001F600"')
    assert read_state_file(state) == ("modèle-\U0001f600", [])


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("ckpt-3\\x", "\\x without hex digits"),
        ("ckpt-3\\777", "exceeds a byte"),
        ("ckpt\\000-3", "NUL character"),
    ],
)
def test_a_state_file_tensorflow_cannot_read_is_a_clear_error(
    tmp_path: Path, raw: str, words: str
) -> None:
    state = _state_file(tmp_path, f'model_checkpoint_path: "{raw}"')
    err = _locate_error(tmp_path)
    assert f"{state}, line 1" in err.message
    assert words in err.message


def test_kept_checkpoints_are_listed_once(samples_dir: Path, broken_copy: BrokenCopy) -> None:
    from ckptctl.location import read_state_file

    directory = broken_copy(samples_dir / "my_model")
    lines = ['model_checkpoint_path: "ckpt-3"', *['all_model_checkpoint_paths: "ckpt-2"'] * 50_000]
    state = _state_file(directory, *lines, 'all_model_checkpoint_paths: "ckpt-1"')
    assert read_state_file(state) == ("ckpt-3", ["ckpt-2", "ckpt-1"])
    assert locate(directory).others == ("ckpt-2", "ckpt-1")


def test_a_huge_state_file_is_refused_without_reading_it(
    samples_dir: Path, broken_copy: BrokenCopy
) -> None:
    """2,000,000 lines (about 80 MB) once took 82 s; at most a few MiB are read now."""
    directory = broken_copy(samples_dir / "my_model")
    line = b'all_model_checkpoint_paths: "ckpt-2"\n'
    (directory / "checkpoint").write_bytes(b'model_checkpoint_path: "ckpt-3"\n' + line * 2_000_000)
    err = _locate_error(directory)
    assert str(directory / "checkpoint") in err.message
    assert "larger than 4 MiB" in err.message
    assert err.hint is not None and "prefix" in err.hint


def test_a_state_file_leading_outside_its_directory_is_noted(
    samples_dir: Path, tmp_path: Path
) -> None:
    pointing = tmp_path / "pointing"
    pointing.mkdir()
    target = samples_dir / "my_model" / "ckpt-2"
    _state_file(pointing, f'model_checkpoint_path: "{target}"')
    loc = locate(pointing)
    assert loc.prefix == target
    assert loc.note is not None and f"leads outside {pointing}" in loc.note
    from ckptctl.outputs import location_directories

    assert location_directories(loc) == (samples_dir / "my_model", pointing)

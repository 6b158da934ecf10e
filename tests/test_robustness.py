"""Every command against every broken input: one clear error, the documented exit code.

README, "Exit codes": errors are one or two lines on stderr (what is wrong, which file, what to
do), never a traceback unless `--debug`; 3 means an input could not be read, 2 a usage error.
Here each of `inspect`, `inspect --stats`, `diff` (broken on the A side and on the B side),
`restore` and `migrate` meets each broken input (a missing path, an empty directory, a state
file naming a deleted checkpoint, a truncated or garbage `.index`, a text file, a missing,
truncated or corrupted data shard, a directory named like an `.index`, a symlink loop, an index
declaring a huge tensor, unreadable files), and each must name the offending path.

Also: broken model code (`--model path/to/file.py:Name`) is reported as the user's, with the
user's traceback; Ctrl-C exits 130 with one line and leaves nothing behind; output off a
terminal, or with `NO_COLOR`, holds no colour escape codes; `--debug` shows the traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ckptctl.cli.app import app
from tests.checkpoints import (
    PROJECT_ROOT,
    copy_checkpoint_dir,
    data_shards,
    delete_data_shard,
    flip_data_byte,
    garbage_index,
    index_file,
    state_file_names_deleted_prefix,
    truncate_data,
    truncate_index,
)
from tests.test_bundle import encode_table, table_of

MY_MODEL = ["-m", "sample_models.models:MyModel", "--input-shape", "4,20"]
CLEAN_ENV: dict[str, str | None] = {
    "GITHUB_ACTIONS": None,
    "CKPTCTL_DEBUG": None,
    "NO_COLOR": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}
"""Unset for every run: GitHub annotations or debug output would add lines to stderr, and
Rich's FORCE_COLOR / TTY_* variables would make a pipe look like a terminal."""

PYTHON_TRACEBACK = "Traceback (most recent call last)"
USER_TRACEBACK = "Traceback (your code):"


@dataclass
class Outcome:
    """What one run printed and returned."""

    code: int
    stdout: str
    stderr: str


def run_in_process(args: list[str], env: dict[str, str | None] | None = None) -> Outcome:
    result = CliRunner(env={**CLEAN_ENV, **(env or {})}).invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ckptctl {args} raised {result.exception!r}") from result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    return {**env, **extra}


def error_part(stderr: str) -> list[str]:
    """The lines of stderr from the `error:` line on (a user traceback may come before it)."""
    lines = stderr.rstrip("\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(starts) == 1, f"expected exactly one 'error:' line in:\n{stderr}"
    return lines[starts[0] :]


def assert_one_error(out: Outcome, code: int, named: str | Path, listing: bool = False) -> None:
    """Exit `code`, no Python traceback, and (unless 0) a one- or two-line message on stderr
    that names `named`. stdout is empty unless the command may list the index (`listing`)."""
    assert out.code == code, f"exit {out.code}, expected {code}\n{out.stdout}\n{out.stderr}"
    assert PYTHON_TRACEBACK not in out.stdout + out.stderr
    if code == 0:
        assert out.stderr == ""
        return
    message = error_part(out.stderr)
    assert len(message) <= 2, f"more than two lines:\n{out.stderr}"
    assert str(named) in "\n".join(message), f"{named} not named in:\n{out.stderr}"
    assert "internal error" not in out.stderr
    if not listing:
        assert out.stdout == ""


# ---------------------------------------------------------------- broken inputs


def huge_tensor(prefix: Path, consistent_size: bool) -> None:
    """Rewrite the index so `model/dense1/_kernel` declares shape [10**12, 10**6] (float32).

    With `consistent_size`, its byte size says 4e18 too (so its bytes run far past the end of
    the data shard); otherwise the size stays 1280 and the index contradicts itself.
    """
    from tensorflow.core.protobuf import tensor_bundle_pb2

    entries = []
    for key, value in table_of(prefix):
        if key == b"model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE":
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            del entry.shape.dim[:]
            entry.shape.dim.add(size=10**12)
            entry.shape.dim.add(size=10**6)
            if consistent_size:
                entry.size = 4 * 10**18
            value = entry.SerializeToString()
        entries.append((key, value))
    index_file(prefix).write_bytes(encode_table(entries))


@dataclass(frozen=True)
class Broken:
    path: Path  # what is passed on the command line
    named: Path  # what the error message must name
    listing: bool = False  # `inspect` may list the index on stdout before the error


def _copy_and(
    breakage: Callable[[Path], None], named: str = "shard", pass_prefix: bool = False
) -> Callable[[Path, Path], Broken]:
    """A case that copies `my_model` to DIR and applies `breakage` to its latest prefix; the
    message must name that prefix's first data shard (`inspect` lists the index first) or its
    index. The directory is passed, or with `pass_prefix` the prefix."""

    def make(good: Path, directory: Path) -> Broken:
        copy_checkpoint_dir(good, directory)
        prefix = directory / "ckpt-3"
        shard = data_shards(prefix)[0]
        breakage(prefix)
        path = prefix if pass_prefix else directory
        if named == "index":
            return Broken(path, index_file(prefix))
        return Broken(path, shard, listing=True)

    return make


def _deleted_latest(prefix: Path) -> None:
    state_file_names_deleted_prefix(prefix.parent)


def _index_is_a_directory(prefix: Path) -> None:
    index_file(prefix).unlink()
    index_file(prefix).mkdir()


def _absent(good: Path, directory: Path) -> Broken:
    return Broken(directory, directory)


def _empty_dir(good: Path, directory: Path) -> Broken:
    directory.mkdir()
    return Broken(directory, directory)


def _text_file(good: Path, directory: Path) -> Broken:
    directory.mkdir()
    (directory / "notes.txt").write_text("not a checkpoint\n")
    return Broken(directory / "notes.txt", directory / "notes.txt")


def _empty_index(good: Path, directory: Path) -> Broken:
    copy_checkpoint_dir(good, directory)
    index_file(directory / "ckpt-3").write_bytes(b"")
    return Broken(directory / "ckpt-3.index", directory / "ckpt-3.index")


def _symlink_loop(good: Path, directory: Path) -> Broken:
    directory.mkdir()
    (directory / "a").symlink_to(directory / "b")
    (directory / "b").symlink_to(directory / "a")
    return Broken(directory / "a", directory / "a")


def _state_file_says(text: bytes) -> Callable[[Path, Path], Broken]:
    """A copy of `my_model` whose `checkpoint` state file holds `text`, which TensorFlow
    cannot read: the message must name the state file."""

    def make(good: Path, directory: Path) -> Broken:
        copy_checkpoint_dir(good, directory)
        (directory / "checkpoint").write_bytes(text)
        return Broken(directory, directory / "checkpoint")

    return make


BREAKAGES: dict[str, Callable[[Path, Path], Broken]] = {
    "absent": _absent,
    "empty_dir": _empty_dir,
    "deleted_prefix": _copy_and(_deleted_latest, named="index"),
    "truncated_index": _copy_and(truncate_index, named="index"),
    "garbage_index": _copy_and(garbage_index, named="index"),
    "empty_index": _empty_index,
    "text_file": _text_file,
    "missing_shard": _copy_and(delete_data_shard),
    "truncated_shard": _copy_and(truncate_data),
    "flipped_byte": _copy_and(flip_data_byte),
    "index_is_a_directory": _copy_and(_index_is_a_directory, named="index", pass_prefix=True),
    "symlink_loop": _symlink_loop,
    "huge_tensor": _copy_and(lambda prefix: huge_tensor(prefix, consistent_size=True)),
    "huge_tensor_bad_size": _copy_and(
        lambda prefix: huge_tensor(prefix, consistent_size=False), named="index"
    ),
    "state_file_bad_escape": _state_file_says(b'model_checkpoint_path: "ckpt-3\\x"\n'),
    "state_file_nul": _state_file_says(b'model_checkpoint_path: "ckpt\\000\x1b[2J-3"\n'),
    "state_file_huge": _state_file_says(
        b'model_checkpoint_path: "ckpt-3"\n' + b'all_model_checkpoint_paths: "ckpt-2"\n' * 200_000
    ),
}


@pytest.fixture(scope="module")
def good(samples_dir: Path) -> Path:
    return samples_dir / "my_model"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, good: Path) -> dict[str, Broken]:
    """Every broken input, made once for this module from copies of `my_model`."""
    base = tmp_path_factory.mktemp("broken")
    return {name: make(good, base / name) for name, make in BREAKAGES.items()}


COMMANDS = ["inspect", "inspect --stats", "diff A", "diff B", "restore", "migrate"]


def command_line(command: str, path: Path, good: Path, dst: Path) -> list[str]:
    return {
        "inspect": ["inspect", str(path)],
        "inspect --stats": ["inspect", "--stats", "--hist", str(path)],
        "diff A": ["diff", str(path), str(good)],
        "diff B": ["diff", str(good), str(path)],
        "restore": ["restore", str(path), *MY_MODEL],
        "migrate": ["migrate", str(path), "-o", str(dst), *MY_MODEL],
    }[command]


def expected_code(case: str, command: str) -> int:
    # Without --stats only the index is read, so a flipped byte inside a value goes unseen.
    return 0 if (case, command) == ("flipped_byte", "inspect") else 3


@pytest.mark.parametrize(
    ("case", "command"),
    [
        pytest.param(case, command, id=f"{case}-{command}")
        for case in BREAKAGES
        for command in COMMANDS
    ],
)
def test_broken_input_gives_one_clear_error(
    broken: dict[str, Broken], good: Path, tmp_path: Path, case: str, command: str
) -> None:
    """Exit 3 (0 for `inspect` of a flipped byte), one message naming the file, no traceback;
    `inspect` lists a readable index first; `migrate` creates neither DST nor a temporary
    directory beside it."""
    b = broken[case]
    dst = tmp_path / "dst"
    out = run_in_process(command_line(command, b.path, good, dst))
    code = expected_code(case, command)
    listing = b.listing and command.startswith("inspect")
    assert_one_error(out, code, b.named, listing=listing)
    assert "\x00" not in out.stderr and "\x1b" not in out.stderr  # escaped, never raw
    if listing and command == "inspect":  # the index was readable: what it holds is listed
        assert "model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in out.stdout
    assert os.listdir(tmp_path) == []


def test_inspect_json_of_a_missing_shard_lists_the_index(broken: dict[str, Broken]) -> None:
    """`inspect --json`: one document listing the index, with `error` naming the shard; exit 3."""
    b = broken["missing_shard"]
    out = run_in_process(["inspect", "--json", str(b.path)])
    assert out.code == 3
    doc = json.loads(out.stdout)
    assert str(b.named) in doc["error"]
    assert doc["error_hint"]
    assert len(doc["variables"]) == doc["total_values"] > 0


@pytest.mark.parametrize("flag", ["--debug", "CKPTCTL_DEBUG=1"])
def test_debug_shows_the_traceback(broken: dict[str, Broken], flag: str) -> None:
    """With `--debug` (or CKPTCTL_DEBUG=1) the traceback comes with the message."""
    b = broken["truncated_index"]
    args = ["inspect", str(b.path)]
    if flag == "--debug":
        out = run_in_process([*args, "--debug"])
    else:
        out = run_in_process(args, env={"CKPTCTL_DEBUG": "1"})
    assert out.code == 3
    assert PYTHON_TRACEBACK in out.stderr
    assert f"error: {b.named}: corrupt (not a readable checkpoint index: " in out.stderr


def test_save_golden_into_a_missing_directory_is_a_usage_error(good: Path, tmp_path: Path) -> None:
    """An output path whose directory does not exist: exit 2, one message naming it."""
    golden = tmp_path / "absent" / "g.npz"
    out = run_in_process(["restore", str(good), *MY_MODEL, "--save-golden", str(golden)])
    assert_one_error(out, 2, golden)


# ---------------------------------------------------------------- permissions

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def _drop_file_capabilities() -> None:
    """In the child, before exec: give up root's power to ignore file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], None] | None:
    """`preexec_fn` under which chmod 000 denies reading; skips when that cannot be had.

    Root ignores file permissions (CAP_DAC_OVERRIDE); as root, the child processes drop that
    capability from their bounding set before exec, and a probe proves it works.
    """
    if os.geteuid() != 0:
        return None
    probe = tmp_path_factory.mktemp("probe") / "secret"
    probe.write_text("x")
    probe.chmod(0)
    try:
        result = subprocess.run(
            ["cat", str(probe)], preexec_fn=_drop_file_capabilities, capture_output=True
        )
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE ({e})")
    if result.returncode == 0:
        pytest.skip("running as root and chmod 000 still reads: permissions cannot be tested")
    return _drop_file_capabilities


@contextlib.contextmanager
def chmod_000(path: Path) -> Iterator[None]:
    mode = path.stat().st_mode
    path.chmod(0)
    try:
        yield
    finally:
        path.chmod(mode)


@pytest.mark.parametrize("command", ["inspect", "diff A", "diff B", "restore", "migrate"])
@pytest.mark.parametrize(
    "what",
    [
        "index",
        "data",
        "directory",
        "directory, prefix given",
    ],
)
def test_permission_denied(
    unprivileged: Callable[[], None] | None,
    good: Path,
    tmp_path: Path,
    what: str,
    command: str,
) -> None:
    """An unreadable `.index`, data shard or directory: exit 3, one message naming it."""
    directory = copy_checkpoint_dir(good, tmp_path / "ckpt")
    prefix = directory / "ckpt-3"
    target = {"index": index_file(prefix), "data": data_shards(prefix)[0]}.get(what, directory)
    path = prefix if what.endswith("prefix given") else directory
    dst = tmp_path / "out" / "dst"
    dst.parent.mkdir()
    with chmod_000(target):
        result = subprocess.run(
            [sys.executable, "-m", "ckptctl", *command_line(command, path, good, dst)],
            preexec_fn=unprivileged,
            cwd=PROJECT_ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    out = Outcome(result.returncode, result.stdout, result.stderr)
    assert_one_error(out, 3, target, listing=what == "data" and command == "inspect")
    assert "Permission denied" in out.stderr
    assert os.listdir(dst.parent) == []


# ---------------------------------------------------------------- broken model code

MODELS = {
    "call_raises.py": '''
import tensorflow as tf


def helper_that_fails(x):
    raise RuntimeError("boom in the user's call")


class Net(tf.keras.Model):
    """MyModel's layers, but calling it raises."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)

    def call(self, x, training=False):
        helper_that_fails(x)
        return self.dense2(self.dense1(x))


class BadInit(tf.keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        raise ValueError("the constructor says no")


def not_a_model():
    return 42


NOT_CALLABLE = 3
''',
    "syntax_error.py": "import tensorflow as tf\n\ndef oops(:\n    pass\n",
    "import_error.py": "import tensorflow as tf\nimport no_such_dependency_of_the_model\n",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("user_models")
    for name, source in MODELS.items():
        (directory / name).write_text(source)
    return directory


@dataclass(frozen=True)
class ModelCase:
    spec: str  # FILE:NAME relative to the models directory
    code: int
    words: str  # what the error line must also say
    raised: str | None = None  # the user's exception line the user's traceback must end with


MODEL_CASES = {
    "call raises": ModelCase("call_raises.py:Net", 3, "boom in the user's call", "RuntimeError"),
    "constructor raises": ModelCase(
        "call_raises.py:BadInit", 3, "the constructor says no", "ValueError"
    ),
    "syntax error": ModelCase("syntax_error.py:Net", 3, "SyntaxError", "SyntaxError"),
    "import error": ModelCase(
        "import_error.py:Net", 3, "no_such_dependency_of_the_model", "ModuleNotFoundError"
    ),
    "no such name": ModelCase("call_raises.py:Missing", 3, "has no attribute 'Missing'"),
    "not callable": ModelCase("call_raises.py:NOT_CALLABLE", 3, "not a class or function"),
    "not a model": ModelCase("call_raises.py:not_a_model", 3, "not a Keras model or tf.Module"),
    "no such file": ModelCase("absent.py:Net", 3, "no such file"),
}


def run_model(command: str, models: Path, spec: str, good: Path, tmp_path: Path) -> Outcome:
    args = ["-m", str(models / spec), "--input-shape", "4,20"]
    if command == "restore":
        return run_in_process(["restore", str(good), *args])
    return run_in_process(["migrate", str(good), "-o", str(tmp_path / "dst"), *args])


@pytest.mark.parametrize("command", ["restore", "migrate"])
@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_broken_model_code_gives_one_clear_error(
    models: Path, good: Path, tmp_path: Path, case: str, command: str
) -> None:
    """Exit 3 and one message naming the model file and what went wrong; nothing written."""
    c = MODEL_CASES[case]
    out = run_model(command, models, c.spec, good, tmp_path)
    file = str(models / c.spec.split(":")[0])
    assert_one_error(out, c.code, file)
    assert c.words in "\n".join(error_part(out.stderr))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "case",
    [
        "call raises",
        "constructor raises",
        "syntax error",
        "import error",
    ],
)
def test_the_users_traceback_is_shown_as_theirs(
    models: Path, good: Path, tmp_path: Path, case: str
) -> None:
    """When the user's code raised: `Traceback (your code):` with their file and exception,
    then the one `error:` message."""
    c = MODEL_CASES[case]
    out = run_model("restore", models, c.spec, good, tmp_path)
    assert out.code == c.code
    traceback_part = out.stderr.split("error: ", 1)[0]
    assert traceback_part.startswith(USER_TRACEBACK), out.stderr
    assert str(models / c.spec.split(":")[0]) in traceback_part
    assert traceback_part.rstrip().splitlines()[-1].startswith(str(c.raised))
    assert PYTHON_TRACEBACK not in out.stderr


@pytest.mark.parametrize(
    "case",
    [
        "constructor raises",
        "syntax error",
        "import error",
    ],
)
def test_the_users_traceback_holds_only_their_frames(
    models: Path, good: Path, tmp_path: Path, case: str
) -> None:
    """The frames under `Traceback (your code):` are all in the user's own file."""
    c = MODEL_CASES[case]
    out = run_model("restore", models, c.spec, good, tmp_path)
    frames = [ln for ln in out.stderr.splitlines() if ln.startswith('  File "')]
    assert frames
    assert all(ln.startswith(f'  File "{models}') for ln in frames), out.stderr


# ---------------------------------------------------------------- Ctrl-C

SLOW_MODEL = '''
"""MyModel's layers; each call touches $CKPTCTL_TEST_MARKER, then sleeps $CKPTCTL_TEST_SLEEP."""
import os
import time
from pathlib import Path

import tensorflow as tf


class Slow(tf.keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)

    def call(self, x, training=False):
        Path(os.environ["CKPTCTL_TEST_MARKER"]).touch()
        time.sleep(float(os.environ["CKPTCTL_TEST_SLEEP"]))
        return self.dense2(self.dense1(x))
'''


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 90
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"exited {process.returncode} before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def staging_dirs(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".ckptctl-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize(
    ("command", "moment"),
    [
        ("restore", "while checking outputs"),
        ("migrate", "while verifying the source"),
        ("migrate", "while writing DST"),
    ],
)
def test_ctrl_c_exits_130_and_leaves_nothing(
    good: Path, tmp_path: Path, command: str, moment: str
) -> None:
    """SIGINT mid-run: exit 130, one line `interrupted`, no traceback; no golden file, no
    DST and no `.DST.ckptctl-*` staging directory left."""
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    marker = tmp_path / "called"
    out = tmp_path / "out"
    out.mkdir()
    dst = out / "dst"
    args = ["-m", f"{model}:Slow", "--input-shape", "4,20"]
    if command == "restore":
        args += ["--batches", "200", "--save-golden", str(out / "g.npz")]
    else:
        args += ["--batches", "10", "-o", str(dst)]
    sleep = "0.05" if command == "restore" else "0.1"
    process = subprocess.Popen(
        [sys.executable, "-m", "ckptctl", command, str(good), *args],
        cwd=PROJECT_ROOT,
        env=subprocess_env(CKPTCTL_TEST_MARKER=str(marker), CKPTCTL_TEST_SLEEP=sleep),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if moment == "while writing DST":
            wait_for(lambda: bool(staging_dirs(out)), process, "the staging directory")
        else:
            wait_for(marker.exists, process, "the model's first call")
            time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip() == "interrupted"
    assert stdout == ""
    assert os.listdir(out) == []


# ---------------------------------------------------------------- colour


COLOUR_RUN_CODES = {
    "inspect": 0,
    "inspect --tree": 0,
    "inspect --stats --hist": 0,
    "inspect error": 3,
    "diff": 1,
    "diff error": 3,
    "restore fails": 1,
    "restore error": 3,
}
"""The documented exit code of each run of `runs_to_colour`: a crash (internal error, 3) must
not pass for a run that should exit 0 or 1."""


def assert_documented_outcome(
    name: str, out: Outcome, good: Path, broken: dict[str, Broken]
) -> None:
    """Each colour run ends as documented: its exit code, and its message or its verdict."""
    assert out.code == COLOUR_RUN_CODES[name], (
        f"{name}: exit {out.code}\n{out.stdout}\n{out.stderr}"
    )
    assert "internal error" not in out.stderr
    if name == "inspect error":
        assert_one_error(out, 3, broken["truncated_shard"].named, listing=True)
    elif name == "diff error":
        assert_one_error(out, 3, broken["flipped_byte"].named)
        assert "checksum" in out.stderr
    elif name == "restore error":
        assert_one_error(out, 3, broken["garbage_index"].named)
    else:
        assert out.stderr == "", f"{name}: {out.stderr}"
    if name == "diff":
        assert "A and B differ: 14 changed, 1 unchanged (atol=0, rtol=0)" in out.stdout
    if name == "restore fails":
        assert "Not restored: the checkpoint does not fit the model" in out.stdout
    if name == "inspect --stats --hist":
        assert "NaN/Inf" in out.stdout and "model.dense1._kernel" in out.stdout


def runs_to_colour(good: Path, broken: dict[str, Broken]) -> dict[str, list[str]]:
    return {
        "inspect": ["inspect", str(good)],
        "inspect --tree": ["inspect", "--tree", str(good)],
        "inspect --stats --hist": ["inspect", "--stats", "--hist", str(good)],
        "inspect error": ["inspect", str(broken["truncated_shard"].path)],
        "diff": ["diff", str(good / "ckpt-1"), str(good)],
        "diff error": ["diff", str(good), str(broken["flipped_byte"].path)],
        "restore fails": [
            "restore",
            str(good),
            *("-m", "sample_models.broken:RenamedModel", "--input-shape", "4,20"),
        ],
        "restore error": ["restore", str(broken["garbage_index"].path), *MY_MODEL],
    }


@pytest.mark.parametrize("no_color", [None, "1"], ids=["default", "NO_COLOR=1"])
def test_no_escape_codes_off_a_terminal_in_process(
    good: Path, broken: dict[str, Broken], no_color: str | None
) -> None:
    """Through CliRunner (not a terminal): no ANSI escape in stdout or stderr."""
    for name, args in runs_to_colour(good, broken).items():
        out = run_in_process(args, env={"NO_COLOR": no_color})
        assert "\x1b" not in out.stdout + out.stderr, name
        assert_documented_outcome(name, out, good, broken)


@pytest.mark.parametrize("name", ["inspect --stats --hist", "inspect error", "diff"])
def test_no_escape_codes_in_pipes(good: Path, broken: dict[str, Broken], name: str) -> None:
    """A real process writing to pipes (a CI log): no ANSI escape, whatever TERM says."""
    args = runs_to_colour(good, broken)[name]
    result = subprocess.run(
        [sys.executable, "-m", "ckptctl", *args],
        cwd=PROJECT_ROOT,
        env=subprocess_env(TERM="xterm-256color"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "\x1b" not in result.stdout + result.stderr
    out = Outcome(result.returncode, result.stdout, result.stderr)
    assert_documented_outcome(name, out, good, broken)


SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def colour_codes(output: bytes) -> set[str]:
    """The SGR parameters in `output` that set a colour (30-38, 40-48, 90-97, 100-107)."""
    found = set()
    for params in SGR.findall(output):
        for p in params.decode().split(";"):
            if p and (30 <= int(p) <= 38 or 40 <= int(p) <= 48 or 90 <= int(p) <= 107):
                found.add(p)
    return found


def run_on_a_terminal(args: list[str], **env: str) -> tuple[int, bytes]:
    """Run ckptctl with stdin, stdout and stderr on a pseudo-terminal; return code and output."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ckptctl", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=PROJECT_ROOT,
        env=subprocess_env(TERM="xterm-256color", COLUMNS="200", **env),
    )
    os.close(slave)
    output = b""
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        while chunk := os.read(master, 65536):
            output += chunk
    os.close(master)
    return process.wait(timeout=120), output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a Linux pseudo-terminal")
@pytest.mark.parametrize("name", ["inspect", "inspect error"])
def test_no_color_is_honoured_on_a_terminal(
    good: Path, broken: dict[str, Broken], name: str
) -> None:
    """On a terminal ckptctl colours its output, and `NO_COLOR=1` takes every colour away
    (bold and dim are not colours, and cursor control for the progress bar may stay)."""
    args = runs_to_colour(good, broken)[name]
    code, coloured = run_on_a_terminal(args)
    assert code == COLOUR_RUN_CODES[name], coloured
    assert colour_codes(coloured), "expected colours on a terminal (the control case)"
    code_no_color, plain = run_on_a_terminal(args, NO_COLOR="1")
    assert code_no_color == code
    assert colour_codes(plain) == set(), plain


# ---------------------------------------------------------------- careless model code

CARELESS = '''
"""MyModel's layers (so my_model's checkpoint restores), each class careless in its own way."""
import sys

import tensorflow as tf

print("careless.py is being imported")


class Net(tf.keras.Model):
    ckptctl_input_shapes = [(4, 20)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(16, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)

    def call(self, x, training=False):
        return self.dense2(self.dense1(x))


class ExitsInInit(Net):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        sys.exit(0)


class ExitsInCall(Net):
    def call(self, x, training=False):
        sys.exit(0)


class Stop(BaseException):
    pass


class RaisesBaseException(Net):
    def call(self, x, training=False):
        raise Stop("a BaseException of the model's own")


class CtrlCInCall(Net):
    def call(self, x, training=False):
        raise KeyboardInterrupt


class CtrlCMadeSystemError(Net):
    """What CPython raises when Ctrl-C lands in Python code that C code called (TensorFlow's
    nest.flatten importing a module): a SystemError caused by the KeyboardInterrupt."""

    def call(self, x, training=False):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise SystemError(
                "<built-in function __import__> returned a result with an exception set"
            ) from e


class CtrlCSwallowed(Net):
    """Ctrl-C pressed while a library catches it and raises its own error in its place."""

    def call(self, x, training=False):
        import os
        import signal

        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000_000):
                pass
        except KeyboardInterrupt:
            raise RuntimeError("the operation was cancelled") from None
        return super().call(x)


def exiting_optimizer():
    sys.exit(0)


class Prints(Net):
    def __init__(self, **kwargs):
        print("constructing Prints")
        super().__init__(**kwargs)

    def call(self, x, training=False):
        print("calling Prints")
        tf.print("tf.print to stdout", output_stream=sys.stdout)
        return super().call(x)


class ReturnsNone(Net):
    def call(self, x, training=False):
        super().call(x)


class ReturnsInt(Net):
    def call(self, x, training=False):
        super().call(x)
        return 3


class ReturnsNothing(Net):
    def call(self, x, training=False):
        super().call(x)
        return {}


class ReturnsNoneInATuple(Net):
    def call(self, x, training=False):
        return super().call(x), None


class ReturnsSparse(Net):
    def call(self, x, training=False):
        return tf.sparse.from_dense(tf.nn.relu(super().call(x)))


class ReturnsRagged(Net):
    def call(self, x, training=False):
        y = super().call(x)
        return tf.RaggedTensor.from_row_lengths(tf.reshape(y, [-1]), [5, 15, 10, 10])


_instances = []


class SparseDiffers(ReturnsSparse):
    """Each instance adds its own number: two instances never agree."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _instances.append(self)
        self.number = float(len(_instances))

    def call(self, x, training=False):
        return tf.sparse.from_dense(tf.nn.relu(Net.call(self, x)) + self.number)


class RaggedDiffers(Net):
    """Each instance splits its rows differently: two instances never agree."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _instances.append(self)
        self.first = 5 + len(_instances) % 2

    def call(self, x, training=False):
        y = tf.reshape(super().call(x), [-1])
        return tf.RaggedTensor.from_row_lengths(y, [self.first, 20 - self.first, 10, 10])
'''

EXITS_AT_IMPORT = "import sys\n\nsys.exit(0)\n"

ARGPARSE_AT_IMPORT = '''
"""A training script that parses its command line at import, then defines the model."""
import argparse

import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--units", type=int, default=16)
args = parser.parse_args()


class Net(tf.keras.Model):
    ckptctl_input_shapes = [(4, 20)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = tf.keras.layers.Dense(args.units, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)

    def call(self, x, training=False):
        return self.dense2(self.dense1(x))
'''

ARGPARSE_REQUIRED = """
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
args = parser.parse_args()
"""


@pytest.fixture(scope="module")
def careless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("careless")
    for name, source in {
        "careless.py": CARELESS,
        "exits_at_import.py": EXITS_AT_IMPORT,
        "train.py": ARGPARSE_AT_IMPORT,
        "train_required.py": ARGPARSE_REQUIRED,
    }.items():
        (directory / name).write_text(source)
    return directory


EXITING = {
    "sys.exit in __init__": ("careless.py:ExitsInInit", [], "SystemExit: 0"),
    "sys.exit in call": ("careless.py:ExitsInCall", [], "SystemExit: 0"),
    "a BaseException": ("careless.py:RaisesBaseException", [], "Stop: a BaseException"),
    "sys.exit at import": ("exits_at_import.py:Net", [], "SystemExit: 0"),
    "sys.exit in the optimizer factory": (
        "careless.py:Net",
        ["--optimizer", "{careless}/careless.py:exiting_optimizer"],
        "SystemExit: 0",
    ),
}


def careless_command(
    command: str, careless: Path, spec: str, good: Path, tmp_path: Path, *extra: str
) -> list[str]:
    """`restore`, `migrate` or `diff --model` of my_model through the model `spec`."""
    file, _, name = spec.partition(":")
    model = ["-m", f"{careless / file}:{name}", *(e.format(careless=careless) for e in extra)]
    if command == "restore":
        return ["restore", str(good), *model]
    if command == "migrate":
        return ["migrate", str(good), "-o", str(tmp_path / "dst"), *model]
    weights = keras_weights_of(good, careless, tmp_path)
    return ["diff", str(good), str(weights), *model]


def keras_weights_of(good: Path, careless: Path, tmp_path: Path) -> Path:
    """my_model's checkpoint as a Keras weights file (migrated through the careful Net)."""
    weights = tmp_path / "keras" / "my_model.weights.h5"
    if not weights.exists():
        out = run_in_process(
            ["migrate", str(good), "-o", str(weights), "-m", f"{careless / 'careless.py'}:Net"]
        )
        assert out.code == 0, out.stderr
    return weights


@pytest.mark.parametrize("command", ["restore", "migrate"])
@pytest.mark.parametrize("case", list(EXITING))
def test_user_code_that_exits_is_the_users_failure(
    careless: Path, good: Path, tmp_path: Path, case: str, command: str
) -> None:
    """`sys.exit(0)` (or any BaseException) in the model's import, constructor, call or
    optimizer factory: exit 3 with the user's traceback, never exit 0 with nothing printed."""
    spec, extra, raised = EXITING[case]
    out = run_in_process(careless_command(command, careless, spec, good, tmp_path, *extra))
    assert out.code == 3, f"exit {out.code}\n{out.stdout}\n{out.stderr}"
    traceback_part = out.stderr.split("error: ", 1)[0]
    assert USER_TRACEBACK in traceback_part, out.stderr
    assert traceback_part.rstrip().splitlines()[-1].startswith(raised)
    assert raised in "\n".join(error_part(out.stderr))
    assert PYTHON_TRACEBACK not in out.stderr
    assert "internal error" not in out.stderr
    assert not (tmp_path / "dst").exists()


@pytest.mark.parametrize("model", ["CtrlCInCall", "CtrlCMadeSystemError"])
def test_ctrl_c_raised_in_the_models_call_exits_130(
    careless: Path, good: Path, tmp_path: Path, model: str
) -> None:
    out = run_in_process(
        careless_command("restore", careless, f"careless.py:{model}", good, tmp_path)
    )
    assert out.code == 130, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "interrupted"
    assert PYTHON_TRACEBACK not in out.stderr


def test_ctrl_c_whose_exception_a_library_replaced_still_exits_130(
    careless: Path, good: Path, tmp_path: Path
) -> None:
    """The SIGINT is remembered, whatever error comes out of the code it landed in."""
    args = careless_command("restore", careless, "careless.py:CtrlCSwallowed", good, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ckptctl", *args],
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "interrupted"
    assert "cancelled" not in result.stderr


@pytest.mark.parametrize("command", ["restore", "migrate", "diff"])
def test_what_the_model_prints_goes_to_stderr(
    careless: Path, good: Path, tmp_path: Path, command: str
) -> None:
    """print() at import, in __init__ and in call: `--json` still prints exactly one JSON
    document on stdout; the model's lines are on stderr."""
    args = careless_command(command, careless, "careless.py:Prints", good, tmp_path, "--json")
    out = run_in_process(args)
    assert out.code == 0, out.stderr
    json.loads(out.stdout)  # the whole of stdout is one document
    assert "calling Prints" in out.stderr
    assert "constructing Prints" in out.stderr


def test_what_the_model_prints_goes_to_stderr_in_a_real_process(
    careless: Path, good: Path, tmp_path: Path
) -> None:
    """Also what reaches file descriptor 1 directly (`tf.print(output_stream=sys.stdout)`)."""
    args = careless_command("restore", careless, "careless.py:Prints", good, tmp_path, "--json")
    result = subprocess.run(
        [sys.executable, "-m", "ckptctl", *args],
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert "careless.py is being imported" in result.stderr
    assert "tf.print to stdout" in result.stderr


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("careless.py:ReturnsNone", "the model returned None"),
        ("careless.py:ReturnsInt", "the model returned a Python int (3), not a tensor"),
        ("careless.py:ReturnsNothing", "the model returned no tensors"),
        ("careless.py:ReturnsNoneInATuple", "output 1 of the model is None"),
    ],
)
def test_outputs_that_are_not_tensors_fail_the_output_check(
    careless: Path, good: Path, tmp_path: Path, spec: str, reason: str
) -> None:
    """Outputs that cannot depend on the restored values do not pass as "equal"."""
    out = run_in_process(careless_command("restore", careless, spec, good, tmp_path, "--json"))
    assert out.code == 1, out.stderr
    outputs = json.loads(out.stdout)["outputs"]
    assert outputs["equal"] is False
    assert outputs["comparable"] is False
    assert reason in outputs["detail"]
    table = run_in_process(careless_command("restore", careless, spec, good, tmp_path))
    assert table.code == 1
    assert f"not compared: {reason}" in table.stdout


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("careless.py:ReturnsSparse", 0),
        ("careless.py:ReturnsRagged", 0),
        ("careless.py:SparseDiffers", 1),
        ("careless.py:RaggedDiffers", 1),
    ],
)
def test_sparse_and_ragged_outputs_are_compared(
    careless: Path, good: Path, tmp_path: Path, spec: str, code: int
) -> None:
    """A tf.SparseTensor or tf.RaggedTensor output: equal when two restored instances agree,
    a failure naming the difference when they do not; golden files record them too."""
    golden = tmp_path / "g.npz"
    extra = ["--json"] + (["--save-golden", str(golden)] if code == 0 else [])
    out = run_in_process(careless_command("restore", careless, spec, good, tmp_path, *extra))
    assert out.code == code, out.stderr
    assert "internal error" not in out.stderr
    outputs = json.loads(out.stdout)["outputs"]
    assert outputs["equal"] is (code == 0)
    if code == 1:
        assert "two restored instances disagree" in outputs["detail"]
        return
    replay = careless_command("restore", careless, spec, good, tmp_path, "--golden", str(golden))
    assert run_in_process(replay).code == 0


def test_a_script_parsing_its_command_line_at_import_sees_none(
    careless: Path, good: Path, tmp_path: Path
) -> None:
    """argparse at import parses `[the module's path]`, not ckptctl's own command line."""
    out = run_in_process(careless_command("restore", careless, "train.py:Net", good, tmp_path))
    assert out.code == 0, out.stderr


def test_a_scripts_argparse_error_at_import_is_framed_as_the_modules(
    careless: Path, good: Path, tmp_path: Path
) -> None:
    """A required argument the script's argparse misses: its usage names the script, not
    ckptctl, and the error says the module exited while being imported."""
    script = careless / "train_required.py"
    out = run_in_process(
        careless_command("restore", careless, "train_required.py:Net", good, tmp_path)
    )
    assert out.code == 3
    assert "usage: train_required.py [-h] --data DATA" in out.stderr
    assert "usage: ckptctl" not in out.stderr
    message = "\n".join(error_part(out.stderr))
    assert f"importing {script} raised SystemExit: 2" in message
    assert "exited while being imported" in message
    assert USER_TRACEBACK in out.stderr


# ---------------------------------------------------------------- migrate: where it cannot write


def _limit_file_size() -> None:
    """In the child: files may grow to 1 KiB, and writing past that fails with EFBIG (as a
    full disk fails with ENOSPC) instead of killing the process."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def _run_migrate(args: list[str], preexec_fn: Callable[[], None] | None) -> Outcome:
    result = subprocess.run(
        [sys.executable, "-m", "ckptctl", "migrate", *args],
        preexec_fn=preexec_fn,
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


@pytest.mark.parametrize("dst", ["dst", "dst.weights.h5"], ids=["directory", "weights file"])
def test_migrate_into_a_read_only_directory_is_a_clear_error(
    unprivileged: Callable[[], None] | None, good: Path, tmp_path: Path, dst: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with chmod_000(out):
        out.chmod(0o555)
        result = _run_migrate([str(good), "-o", str(out / dst), *MY_MODEL], unprivileged)
    assert_one_error(result, 3, out / dst)
    assert "cannot write the migrated checkpoint (Permission denied)" in result.stderr
    assert os.listdir(out) == []


def test_migrate_onto_a_disk_that_refuses_the_write_is_a_clear_error(
    good: Path, tmp_path: Path
) -> None:
    """TensorFlow's own save fails (EFBIG here; ENOSPC on a full disk takes the same path):
    one message with the system's words, and no staging directory left behind."""
    out = tmp_path / "out"
    out.mkdir()
    result = _run_migrate([str(good), "-o", str(out / "dst"), *MY_MODEL], _limit_file_size)
    assert_one_error(result, 3, out / "dst")
    assert "cannot write the migrated checkpoint (File too large)" in result.stderr
    assert os.listdir(out) == []


@pytest.mark.parametrize("dst", [".", ".."])
def test_migrate_over_the_current_directory_is_refused(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dst: str
) -> None:
    """`-o . --force` would replace the directory the user stands in: exit 2, and no
    `..old-XXXX` directory left behind."""
    here = tmp_path / "parent" / "here"
    here.mkdir(parents=True)
    (here / "keep.txt").write_text("mine")
    monkeypatch.chdir(here)
    out = run_in_process(["migrate", str(good), "-o", dst, "--force", *MY_MODEL])
    assert_one_error(out, 2, f"-o {dst}")
    assert "refusing to replace the current directory" in out.stderr
    assert sorted(os.listdir(here)) == ["keep.txt"]
    assert os.listdir(here.parent) == ["here"]
    assert os.listdir(tmp_path) == ["parent"]


# ---------------------------------------------------------------- odd object graphs


def write_module_chain(prefix: Path, depth: int) -> Path:
    """`Checkpoint(model=m0)` where m0.c is m1, m1.c is m2, ... `depth` tf.Modules deep; the
    last holds `v`, a float32 [2]."""
    import tensorflow as tf

    root = node = tf.Module()
    for _ in range(depth):
        node.c = tf.Module()
        node = node.c
    node.v = tf.Variable([1.0, 2.0])
    return Path(tf.train.Checkpoint(model=root).write(str(prefix)))


def write_graph_chain(prefix: Path, depth: int) -> Path:
    """The same chain's object graph, written with TensorFlow's own proto and SaveV2 (TensorFlow's
    Checkpoint.write takes 45 s on 20,000 levels: its own path building is quadratic)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.nodes.add().children.add(node_id=1, local_name="model")
    for i in range(1, depth + 1):
        graph.nodes.add().children.add(node_id=i + 1, local_name="c")
    key = "model/deep/.ATTRIBUTES/VARIABLE_VALUE"
    graph.nodes.add().attributes.add(name="VARIABLE_VALUE", full_name="v", checkpoint_key=key)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=["_CHECKPOINTABLE_OBJECT_GRAPH", key],
        shape_and_slices=["", ""],
        tensors=[tf.constant(graph.SerializeToString()), tf.constant([1.0, 2.0])],
    )
    return prefix


def write_huge_list_index(prefix: Path) -> Path:
    """A module whose tracked `_trainable_variables` dict has a 5,000-digit key: a list-like
    child name beyond Python's int-string limit (4,300 digits)."""
    import tensorflow as tf

    module = tf.Module()
    module._trainable_variables = {"0": tf.Variable(1.0), "1" * 5000: tf.Variable(2.0)}
    return Path(tf.train.Checkpoint(model=module).write(str(prefix)))


@pytest.fixture(scope="module")
def odd_graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("odd_graphs")
    return {
        "3,000 modules deep": write_module_chain(base / "modules" / "ckpt", 3000),
        "20,000 levels deep": write_graph_chain(base / "levels" / "ckpt", 20_000),
        "5,000-digit child name": write_huge_list_index(base / "digits" / "ckpt"),
    }


@pytest.mark.parametrize(
    "args",
    [
        ["inspect"],
        ["inspect", "--tree"],
        ["inspect", "--json"],
        ["inspect", "--tree", "--json"],
        ["inspect", "--stats"],
        ["diff", "{path}"],
    ],
    ids=lambda a: " ".join(a),
)
@pytest.mark.parametrize(
    "case", ["3,000 modules deep", "20,000 levels deep", "5,000-digit child name"]
)
def test_odd_object_graphs_are_read(
    odd_graphs: dict[str, Path], case: str, args: list[str]
) -> None:
    """A graph thousands of levels deep (walked iteratively, in linear time) or with a child
    name no int() accepts: every view works, no RecursionError, no internal error."""
    path = odd_graphs[case]
    out = run_in_process([*(a.format(path=path) for a in args), str(path)])
    assert out.code == 0, out.stderr
    assert out.stderr == ""
    if "--json" in args:
        doc = json.loads(out.stdout)
        if case != "5,000-digit child name":
            # modules: model.c.c...c.v; the proto's chain holds its value on the last node
            leaf = ["c"] * 3000 + ["v"] if case.startswith("3") else ["c"] * 20_000
            assert [v["path"] for v in doc["variables"]] == [".".join(["model", *leaf])]
        if "--tree" in args and case != "5,000-digit child name":
            assert "levels deep: the tree shows 100" in doc["tree_note"]
    elif "--tree" in args and case != "5,000-digit child name":
        assert "note: the object graph is" in out.stdout
        assert "deeper levels not shown" in out.stdout


# ---------------------------------------------------------------- a checkpoint being written

SAVER = '''
"""Save into DIR every 0.2 s for SECONDS with CheckpointManager(max_to_keep=2)."""
import sys
import time

import tensorflow as tf

directory, seconds = sys.argv[1], float(sys.argv[2])
module = tf.Module()
module.w = tf.Variable(tf.zeros([64, 64]))
module.b = tf.Variable(tf.zeros([64]))
manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=module), directory, max_to_keep=2)
manager.save()
print("saving", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    module.w.assign_add(tf.ones([64, 64]))
    manager.save()
    time.sleep(0.2)
'''


def test_a_directory_being_saved_into_is_read_whole(tmp_path: Path) -> None:
    """While a CheckpointManager saves every 0.2 s and deletes all but the newest two, every
    `inspect`, `inspect --stats` and `diff` reads one whole checkpoint: never "....index: no
    such file" (the prefix resolved, then deleted before it was opened)."""
    saver = tmp_path / "saver.py"
    saver.write_text(SAVER)
    directory = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, str(saver), str(directory), "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=subprocess_env(),
    )
    failures: list[str] = []
    runs = 0
    try:
        assert process.stdout is not None and process.stdout.readline() == "saving\n"
        while process.poll() is None:
            for args in (["inspect"], ["inspect", "--stats", "--json"], ["diff", str(directory)]):
                out = run_in_process([*args, str(directory)])
                runs += 1
                if out.code not in ((0, 1) if args[0] == "diff" else (0,)) or out.stderr:
                    failures.append(f"{args}: exit {out.code}: {out.stderr}")
    finally:
        process.kill()
        process.wait()
    assert runs > 20
    assert failures == []


@pytest.fixture
def manager_dir(tmp_path: Path) -> tuple[Path, Callable[[], None]]:
    """A CheckpointManager directory (max_to_keep=1, latest ckpt-1) and its `save()`."""
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable([1.0, 2.0, 3.0])
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=module), str(tmp_path / "run"), max_to_keep=1
    )

    def save() -> None:
        module.v.assign_add([1.0, 1.0, 1.0])
        manager.save()

    manager.save()
    return tmp_path / "run", save


@pytest.mark.parametrize("command", ["inspect", "inspect --stats", "diff"])
def test_a_prefix_deleted_between_resolving_and_opening_is_resolved_again(
    manager_dir: tuple[Path, Callable[[], None]],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """The manager saves ckpt-2 (deleting ckpt-1) right after ckpt-1 was resolved: ckptctl
    reads ckpt-2, whole."""
    from ckptctl import reader

    directory, save = manager_dir
    real_open = reader.open_location
    saves = iter([save])

    def open_after_a_save(*args: object, **kwargs: object) -> reader.Checkpoint:
        next(saves, lambda: None)()
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "open_location", open_after_a_save)
    args = {"inspect": ["inspect", "--json"], "inspect --stats": ["inspect", "--stats", "--json"]}
    out = run_in_process([*args.get(command, ["diff", str(directory), "--json"]), str(directory)])
    assert out.code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc.get("checkpoint") or doc["b"]) == str(directory / "ckpt-2")
    assert not (directory / "ckpt-1.index").exists()


def test_a_prefix_deleted_every_time_says_it_was_removed_while_being_read(
    manager_dir: tuple[Path, Callable[[], None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ckptctl import reader

    directory, save = manager_dir
    real_open = reader.open_location

    def open_after_a_save(*args: object, **kwargs: object) -> reader.Checkpoint:
        save()
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "open_location", open_after_a_save)
    out = run_in_process(["inspect", str(directory)])
    assert_one_error(out, 3, directory)
    assert "removed while being read" in out.stderr


def test_a_checkpoint_deleted_after_it_was_opened_is_read_from_its_open_files(
    manager_dir: tuple[Path, Callable[[], None]],
) -> None:
    """Its index read and its shards open, the checkpoint stays readable as a whole."""
    import ckptctl

    directory, save = manager_dir
    with ckptctl.open_checkpoint(directory) as ckpt:
        save()  # deletes ckpt-1, which is open
        assert not (directory / "ckpt-1.index").exists()
        assert ckpt.prefix == str(directory / "ckpt-1")
        assert ckpt.file_problems() == []
        assert ckpt.read("model/v/.ATTRIBUTES/VARIABLE_VALUE").tolist() == [1.0, 2.0, 3.0]

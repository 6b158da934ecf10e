"""Checkpoints in object storage: every command on ``s3://`` URLs against a real S3 API server.

The answers must be the local ones, path for path; ``inspect`` must read an index, not the
data behind it; and what goes wrong (a missing object or bucket, wrong credentials, no
server) must be one or two lines and exit 3.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from ckptctl.cli.app import app
from tests.fresh import run_python
from tests.remote.conftest import BUCKET, S3Server, free_port, upload

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODELS = "tests.models.keras3"
SEQ = f"{MODELS}:sequential"
BIG_VALUES = 16 << 20
"""Elements of the large checkpoints' one big value: 64 MiB of float32."""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def as_json(result: Result) -> Any:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def same_text(result: Result, local: str | Path, remote: str) -> str:
    """The output of a local run as the remote run must print it: paths become URLs."""
    return result.stdout.replace(str(local), remote)


@pytest.fixture(scope="session")
def remote_run(s3_server: S3Server, samples_dir: Path) -> tuple[Path, str]:
    """A CheckpointManager directory (state file, three checkpoints), locally and in S3."""
    local = samples_dir / "my_model"
    return local, upload(s3_server, local, "samples/my_model")


@pytest.fixture(scope="session")
def remote_saved_model(s3_server: S3Server, saved_model_dir: Path) -> tuple[Path, str]:
    return saved_model_dir, upload(s3_server, saved_model_dir, "saved_model")


@pytest.fixture(scope="session")
def keras_files(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A trained Sequential model's .weights.h5, .keras and sharded .weights.json."""
    import tensorflow as tf

    from tests.models import keras3

    tf.keras.utils.set_random_seed(5)
    d = tmp_path_factory.mktemp("remote_keras")
    rng = np.random.default_rng(0)
    flat, targets = rng.random((16, 6), np.float32), rng.random((16, 4), np.float32)
    seq = keras3.sequential()
    seq.compile(optimizer=keras3.sgd_momentum(), loss="mse")
    seq.fit(flat, targets, batch_size=8, epochs=1, verbose=0)
    seq.save_weights(str(d / "seq.weights.h5"))
    seq.save(str(d / "seq.keras"))
    (d / "sharded").mkdir()
    seq.save_weights(str(d / "sharded" / "seq.weights.json"), max_shard_size=0.0000004)
    return d, upload(s3_server, d, "keras")


@pytest.fixture(scope="session")
def large(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A checkpoint whose data shard is 64 MiB, and a .weights.h5 with a 64 MiB kernel,
    beside small ones: ``big/ckpt-1`` and ``big/dense.weights.h5``."""
    import tensorflow as tf

    d = tmp_path_factory.mktemp("remote_big")
    values = np.random.default_rng(1).random(BIG_VALUES, np.float32)
    small = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    tf.train.Checkpoint(big=tf.Variable(values), small=small).save(str(d / "ckpt"))
    model = tf.keras.Sequential([tf.keras.Input((4096,)), tf.keras.layers.Dense(4096)])
    model.save_weights(str(d / "dense.weights.h5"))
    return d, upload(s3_server, d, "big")


# ------------------------------------------------------------------ the same answers


@pytest.mark.parametrize(
    "form",
    ["", "/ckpt-2", "/ckpt-2.index", "/ckpt-2.data-00000-of-00001", "/checkpoint"],
    ids=["state-file-dir", "prefix", "index", "data", "state-file"],
)
def test_inspect_answers_as_for_the_local_copy(
    s3_env: S3Server, remote_run: tuple[Path, str], form: str
) -> None:
    local, url = remote_run
    for extra in ([], ["--stats"], ["--tree"]):
        here = invoke("inspect", f"{local}{form}", "--json", *extra)
        there = invoke("inspect", f"{url}{form}", "--json", *extra)
        assert there.exit_code == here.exit_code == 0, there.output
        assert json.loads(there.stdout) == json.loads(same_text(here, local, url))
    table = invoke("inspect", url)
    assert table.exit_code == 0, table.output
    assert table.stdout == same_text(invoke("inspect", local), local, url)


def test_a_state_file_directory_resolves_to_its_latest(
    s3_env: S3Server, remote_run: tuple[Path, str]
) -> None:
    _, url = remote_run
    doc = as_json(invoke("inspect", url, "--json"))
    assert doc["checkpoint"] == f"{url}/ckpt-3"
    assert doc["format"] == "object-graph"


@pytest.mark.parametrize("form", ["", "/variables", "/variables/variables.index"])
def test_inspect_of_a_saved_model(
    s3_env: S3Server, remote_saved_model: tuple[Path, str], form: str
) -> None:
    local, url = remote_saved_model
    here = invoke("inspect", f"{local}{form}", "--json", "--stats")
    there = invoke("inspect", f"{url}{form}", "--json", "--stats")
    assert there.exit_code == here.exit_code == 0, there.output
    assert json.loads(there.stdout) == json.loads(same_text(here, local, url))
    assert json.loads(there.stdout)["checkpoint"] == f"{url}/variables/variables"


@pytest.mark.parametrize("name", ["seq.weights.h5", "seq.keras", "sharded/seq.weights.json"])
def test_inspect_of_keras_files(s3_env: S3Server, keras_files: tuple[Path, str], name: str) -> None:
    local, url = keras_files
    for extra in ([], ["--stats"]):
        here = invoke("inspect", local / name, "--json", *extra)
        there = invoke("inspect", f"{url}/{name}", "--json", *extra)
        assert there.exit_code == here.exit_code == 0, there.output
        assert json.loads(there.stdout) == json.loads(same_text(here, local, url))


def test_diff_of_remote_against_local(s3_env: S3Server, remote_run: tuple[Path, str]) -> None:
    local, url = remote_run
    same = invoke("diff", f"{url}/ckpt-3", local / "ckpt-3", "--json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["equal"] is True
    here = invoke("diff", local / "ckpt-1", local / "ckpt-3", "--json")
    there = invoke("diff", f"{url}/ckpt-1", local / "ckpt-3", "--json")
    assert there.exit_code == here.exit_code == 1, there.output
    expected = json.loads(here.stdout)
    expected["a"] = f"{url}/ckpt-1"
    assert json.loads(there.stdout) == expected
    assert expected["changed"], "ckpt-1 and ckpt-3 differ"


def test_diff_of_two_remote_keras_files(s3_env: S3Server, keras_files: tuple[Path, str]) -> None:
    _, url = keras_files
    result = invoke("diff", f"{url}/seq.weights.h5", f"{url}/seq.keras", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["equal"] is True


def test_the_library_reads_the_same_values(s3_env: S3Server, remote_run: tuple[Path, str]) -> None:
    import ckptctl

    local, url = remote_run
    with ckptctl.open_checkpoint(url) as there, ckptctl.open_checkpoint(local) as here:
        assert there.backend_name == "native"
        assert [e.key for e in there.entries] == [e.key for e in here.entries]
        for e in here.entries:
            np.testing.assert_array_equal(there.read(e.key), here.read(e.key))
            chunks = list(there.read_chunks(e.key, max_bytes=64))
            np.testing.assert_array_equal(np.concatenate(chunks), here.read(e.key).reshape(-1))


# ------------------------------------------------------------------ what is read


def served(server: S3Server, *args: str) -> tuple[Any, int]:
    """The JSON a command printed, and how many bytes the server sent meanwhile."""
    before = server.proxy.served
    doc = as_json(invoke(*args, "--json"))
    return doc, server.proxy.served - before


def test_inspect_reads_the_index_and_not_the_data(
    s3_env: S3Server, large: tuple[Path, str]
) -> None:
    local, url = large
    data = local / "ckpt-1.data-00000-of-00001"
    assert data.stat().st_size > BIG_VALUES * 4
    doc, inspected = served(s3_env, "inspect", f"{url}/ckpt-1")
    assert doc["total_bytes"] == data.stat().st_size + (local / "ckpt-1.index").stat().st_size
    assert inspected < 64 << 10, inspected
    _, with_stats = served(s3_env, "inspect", f"{url}/ckpt-1", "--stats")
    assert with_stats > BIG_VALUES * 4  # the counter sees the data when it is read


def test_inspect_of_a_large_weights_file_reads_its_metadata(
    s3_env: S3Server, large: tuple[Path, str]
) -> None:
    local, url = large
    assert (local / "dense.weights.h5").stat().st_size > BIG_VALUES * 4
    doc, inspected = served(s3_env, "inspect", f"{url}/dense.weights.h5")
    assert doc["total_params"] == 4096 * 4096 + 4096
    assert inspected < 1 << 20, inspected


def test_stats_stream_the_large_value_with_its_checksum(
    s3_env: S3Server, large: tuple[Path, str]
) -> None:
    local, url = large
    here = invoke("inspect", local / "ckpt-1", "--json", "--stats")
    there = invoke("inspect", f"{url}/ckpt-1", "--json", "--stats")
    assert json.loads(there.stdout) == json.loads(same_text(here, local, url))


# ------------------------------------------------------------------ errors


def one_error(result: Result) -> str:
    """The error a failed command printed: exit 3, one or two lines, no traceback."""
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    return result.stderr


def test_a_missing_object(s3_env: S3Server, remote_run: tuple[Path, str]) -> None:
    _, url = remote_run
    err = one_error(invoke("inspect", f"{url}/ckpt-9"))
    assert f"{url}/ckpt-9: no such file or directory" in err
    assert "ckpt-1, ckpt-2, ckpt-3" in err  # what is there instead


def test_a_missing_bucket(s3_env: S3Server) -> None:
    err = one_error(invoke("inspect", "s3://no-such-bucket-here/run/ckpt-1"))
    assert "no such bucket 'no-such-bucket-here'" in err


def test_wrong_credentials(
    s3_env: S3Server, remote_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = remote_run
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    err = one_error(invoke("inspect", url))
    assert f"{url}: access denied" in err
    assert "AWS_ACCESS_KEY_ID" in err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
    assert "access denied" in one_error(invoke("inspect", f"{url}/ckpt-2.index"))


def test_an_unreachable_endpoint(s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    err = one_error(invoke("inspect", f"s3://{BUCKET}/samples/my_model"))
    assert "cannot connect to the storage" in err
    assert "AWS_ENDPOINT_URL" in err


def test_a_missing_data_shard_is_reported_as_locally(
    s3_env: S3Server, remote_run: tuple[Path, str], tmp_path: Path
) -> None:
    local, _ = remote_run
    (tmp_path / "ckpt-2.index").write_bytes((local / "ckpt-2.index").read_bytes())
    url = upload(s3_env, tmp_path, "shardless")
    for extra in ([], ["--stats"]):
        here = invoke("inspect", tmp_path / "ckpt-2", *extra)
        there = invoke("inspect", f"{url}/ckpt-2", *extra)
        assert (there.exit_code, there.stdout) == (here.exit_code, same_text(here, tmp_path, url))
        assert there.stderr == here.stderr.replace(str(tmp_path), url)
    assert f"{url}/ckpt-2.data-00000-of-00001: missing (" in there.stderr
    assert there.exit_code == 3


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ckptctl ARGS`` in a process of its own, with ``env`` as its whole environment."""
    return run_python("from ckptctl.cli.app import main; main()", *args, env=env)


def clean_env(server: S3Server, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CKPTCTL_"))}
    return {**env, **server.env(**overrides)}


def test_without_the_extra_the_message_names_the_pip_command(s3_env: S3Server) -> None:
    code = "import sys; sys.modules['s3fs'] = None\nfrom ckptctl.cli.app import main; main()"
    result = run_python(code, "inspect", f"s3://{BUCKET}/samples/my_model", env=clean_env(s3_env))
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: s3://{BUCKET}/samples/my_model: reading s3:// needs ckptctl's 's3' extra; "
        "install it with: pip install 'ckptctl[s3]'"
    ]


def test_inspect_of_s3_imports_no_tensorflow(
    s3_env: S3Server, remote_run: tuple[Path, str]
) -> None:
    _, url = remote_run
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from ckptctl.cli.app import app\n"
        "r = CliRunner().invoke(app, ['inspect', sys.argv[1], '--stats', '--json'])\n"
        "print(json.dumps({'code': r.exit_code, 'tf': 'tensorflow' in sys.modules,\n"
        "                  'keras': 'keras' in sys.modules}))\n"
    )
    result = run_python(code, url, env=clean_env(s3_env))
    assert json.loads(result.stdout.splitlines()[-1]) == {"code": 0, "tf": False, "keras": False}


# ------------------------------------------------------------------ restore and migrate


def staged_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("ckptctl-staged-"))


def test_restore_from_s3(s3_env: S3Server, remote_run: tuple[Path, str], tmp_path: Path) -> None:
    local, url = remote_run
    args = ["restore", "--model", "sample_models.models:MyModel", "--input-shape", "4,20"]
    args += ["--optimizer", "adam", "--json"]
    env = clean_env(s3_env, TMPDIR=str(tmp_path))
    there = run_cli(args[0], url, *args[1:], env=env)
    assert there.returncode == 0, there.stderr
    doc = json.loads(there.stdout)
    assert doc["ok"] is True
    assert doc["checkpoint"] == f"{url}/ckpt-3"
    here = json.loads(run_cli(args[0], str(local), *args[1:], env=env).stdout)
    assert (doc["matched"], doc["values"]) == (here["matched"], here["values"])
    assert staged_dirs(tmp_path) == []


def test_restore_of_a_remote_keras_file(s3_env: S3Server, keras_files: tuple[Path, str]) -> None:
    _, url = keras_files
    for name in ("seq.weights.h5", "seq.keras"):
        doc = as_json(invoke("restore", f"{url}/{name}", "--model", SEQ, "--json"))
        assert (doc["ok"], doc["format"], doc["checkpoint"]) == (True, "keras", f"{url}/{name}")
        assert doc["outputs"]["equal"] is True


def test_a_failed_restore_leaves_no_copy(
    s3_env: S3Server, remote_run: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = remote_run
    env = clean_env(s3_env, TMPDIR=str(tmp_path))
    result = run_cli("restore", url, "--model", "sample_models.models:NoSuchModel", env=env)
    assert result.returncode == 3, result.stderr
    assert "NoSuchModel" in result.stderr
    assert staged_dirs(tmp_path) == []


def test_migrate_from_s3(s3_env: S3Server, remote_run: tuple[Path, str], tmp_path: Path) -> None:
    import ckptctl

    local, url = remote_run
    out = tmp_path / "migrated"
    args = ["--model", "sample_models.models:MyModel", "--input-shape", "4,20"]
    doc = as_json(invoke("migrate", url, "-o", out, *args, "--optimizer", "adam", "--json"))
    assert doc["ok"] is True, doc
    assert doc["source"] == f"{url}/ckpt-3"
    report = ckptctl.diff(out, local / "ckpt-3", model_only=True)
    assert report.equal, report.to_dict()
    assert report.unchanged > 0


def test_migrate_to_s3_is_a_usage_error(s3_env: S3Server, remote_run: tuple[Path, str]) -> None:
    _, url = remote_run
    result = invoke("migrate", url, "-o", f"s3://{BUCKET}/migrated", "--model", "x:Y")
    assert result.exit_code == 2, result.output
    assert f"-o s3://{BUCKET}/migrated: migrate writes a local directory only" in result.stderr
    assert "Traceback" not in result.output


def test_trend_and_several_checkpoints_at_urls(
    s3_env: S3Server, remote_run: tuple[Path, str]
) -> None:
    local, url = remote_run
    here = invoke("trend", local, "--json")
    there = invoke("trend", url, "--json")
    assert there.exit_code == here.exit_code == 0, there.output
    assert json.loads(there.stdout) == json.loads(same_text(here, local, url))
    both = invoke("inspect", f"{url}/ckpt-1", local / "ckpt-2")
    assert both.exit_code == 0, both.output
    assert f"{url}/ckpt-1" in both.stdout
    assert str(local / "ckpt-2") in both.stdout

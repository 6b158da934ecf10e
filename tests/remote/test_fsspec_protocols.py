"""Any protocol fsspec implements is read as ``s3://`` is: here fsspec's own ``memory://``.
And a scheme whose implementation is not installed names the extra that installs it."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ckptctl
from ckptctl.cli.app import app
from ckptctl.errors import CheckpointError
from ckptctl.storage import uses_fsspec


@pytest.fixture
def in_memory(samples_dir: Path) -> Iterator[tuple[Path, str]]:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/ckptctl-{uuid.uuid4().hex}/my_model"
    local = samples_dir / "my_model"
    for f in local.iterdir():
        fs.pipe_file(f"{root}/{f.name}", f.read_bytes())
    yield local, f"memory:/{root}"
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


def test_memory_urls_answer_as_the_local_copy(in_memory: tuple[Path, str]) -> None:
    local, url = in_memory
    runner = CliRunner()
    for form in ("", "/ckpt-2", "/ckpt-2.index"):
        here = runner.invoke(app, ["inspect", f"{local}{form}", "--json", "--stats"])
        there = runner.invoke(app, ["inspect", f"{url}{form}", "--json", "--stats"])
        assert there.exit_code == 0, there.output
        assert json.loads(there.stdout) == json.loads(here.stdout.replace(str(local), url))
    assert ckptctl.diff(url, local).equal


def test_tensorflow_only_schemes_stay_with_gfile() -> None:
    assert uses_fsspec("s3://bucket/x") is True
    assert uses_fsspec("memory://x") is True
    assert uses_fsspec("ram://x") is False
    assert uses_fsspec("no-such-scheme://x") is False


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_gs_without_gcsfs_names_the_extra() -> None:
    with pytest.raises(CheckpointError) as err:
        ckptctl.inspect("gs://some-bucket/run")
    assert str(err.value) == (
        "gs://some-bucket/run: reading gs:// needs ckptctl's 'gcs' extra; "
        "install it with: pip install 'ckptctl[gcs]'"
    )

"""Run ckptctl's CLI in-process (``typer.testing.CliRunner``) and read its ``--json`` output."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ckptctl.cli.app import app

KERAS_ADAM_SLOTS = ("momentum", "velocity")


def key_of(path: str) -> str:
    """The checkpoint key of a value at object path ``path`` (``net.fc1._kernel``)."""
    return path.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE"


def run(*args: str | Path) -> tuple[int, dict[str, Any], str]:
    """``ckptctl ARGS --json``: exit code, the parsed document (``{}`` if none), stderr."""
    result = CliRunner().invoke(app, [*map(str, args), "--json"])
    out = result.stdout.strip()
    doc = json.loads(out) if out.startswith("{") else {}
    return result.exit_code, doc, result.stderr


@cache
def restore(checkpoint: str, model: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    """``ckptctl restore CHECKPOINT --model MODEL EXTRA --json``, run once per session for the
    same arguments (restore writes nothing, so tests asserting different parts of one report
    share it). Do not mutate the returned document."""
    return run("restore", checkpoint, "--model", model, *extra)


def summary(code: int, doc: dict[str, Any], stderr: str = "") -> str:
    """The parts of a restore report that explain a failure, for assertion messages."""
    if not doc:
        return f"exit {code}, no JSON; stderr: {stderr.strip()}"
    parts = [f"exit {code}", f"ok={doc.get('ok')}", f"matched={doc.get('matched')}"]
    for name in ("unused", "missing", "mismatched", "not_checkpointed"):
        entries = doc.get(name)
        if entries:
            shown = [e.get("path") or e.get("key") for e in entries]
            parts.append(f"{name}={shown}")
    values = doc.get("values") or {}
    if values.get("differing"):
        parts.append(f"differing={values['differing']}")
    outputs = doc.get("outputs") or {}
    parts.append(f"outputs.equal={outputs.get('equal')}")
    if doc.get("stopped"):
        parts.append(f"stopped={doc['stopped']}")
    if stderr.strip():
        parts.append(f"stderr={stderr.strip()[:300]}")
    return "; ".join(parts)


def entries(doc: dict[str, Any], name: str, *fields: str) -> list[tuple[Any, ...]]:
    """``doc[name]`` as sorted tuples of ``fields`` (lists made tuples), for exact comparison."""

    def plain(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    return sorted((tuple(plain(e.get(f)) for f in fields) for e in doc.get(name, [])), key=repr)

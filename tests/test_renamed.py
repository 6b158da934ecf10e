"""Names that said the wrong thing were renamed: `naming` (how a checkpoint names its values,
not its file format) and `root_child` (a child of the checkpoint's root, not a checkpoint key).
The old Python names still work, with a DeprecationWarning; the JSON documents keep the names
their schemas give."""

from __future__ import annotations

from pathlib import Path

import pytest

import ckptctl
from ckptctl.migration import MigrateReport
from ckptctl.restoration import OutputCheck, RestoreReport, ValueCheck


def restore_report() -> RestoreReport:
    return RestoreReport(
        ok=True,
        checkpoint="ckpts/ckpt-3",
        model="pkg.model:Net",
        root_child="model",
        input_shapes=[[4, 20]],
        matched=4,
        unused=[],
        missing=[],
        mismatched=[],
        values=ValueCheck(),
        outputs=OutputCheck(),
        naming="name-based",
    )


def test_checkpoint_and_inspect_report_name_their_naming(samples_dir: Path) -> None:
    prefix = samples_dir / "my_model" / "ckpt-3"
    with ckptctl.open_checkpoint(prefix) as ckpt:
        assert ckpt.naming == "object-graph"
        with pytest.warns(DeprecationWarning, match=r"Checkpoint\.format is now \.naming"):
            assert ckpt.format == "object-graph"
    report = ckptctl.inspect(prefix)
    with pytest.warns(DeprecationWarning, match=r"InspectReport\.format is now \.naming"):
        assert report.format == report.naming == "object-graph"
    doc = report.to_dict()
    assert doc["format"] == "object-graph" and "naming" not in doc
    assert list(doc)[:3] == ["checkpoint", "format", "source"]


def test_diff_report_keeps_a_format_and_b_format_in_json(samples_dir: Path) -> None:
    report = ckptctl.diff(samples_dir / "my_model" / "ckpt-1", samples_dir / "my_model" / "ckpt-2")
    with pytest.warns(DeprecationWarning, match=r"DiffReport\.a_format is now \.a_naming"):
        assert report.a_format == "object-graph"
    doc = report.to_dict()
    assert (doc["a_format"], doc["b_format"]) == ("object-graph", "object-graph")
    assert not {"a_naming", "b_naming"} & set(doc)


def test_restore_and_migrate_reports_keep_key_and_format_in_json() -> None:
    report = restore_report()
    with pytest.warns(DeprecationWarning, match=r"RestoreReport\.key is now \.root_child"):
        assert report.key == "model"
    with pytest.warns(DeprecationWarning, match=r"RestoreReport\.format is now \.naming"):
        assert report.format == "name-based"
    doc = report.to_dict()
    assert list(doc)[:4] == ["ok", "checkpoint", "model", "key"]
    assert (doc["key"], doc["format"]) == ("model", "name-based")
    assert not {"root_child", "naming"} & set(doc)

    migrated = MigrateReport(True, "src", "dst", "dst/ckpt-1", "pkg.model:Net", "model")
    migrated.restore = report
    with pytest.warns(DeprecationWarning, match=r"MigrateReport\.key is now \.root_child"):
        assert migrated.key == "model"
    mdoc = migrated.to_dict()
    assert mdoc["key"] == "model" and "root_child" not in mdoc
    assert mdoc["restore"] == doc

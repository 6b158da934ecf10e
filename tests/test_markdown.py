"""`ckptctl.markdown`: the CI summary folds numbered paths as the terminal does, cuts long
tables saying how many rows are left, and escapes what Markdown would read as markup."""

from __future__ import annotations

from ckptctl.caught import CaughtWarning
from ckptctl.diffing import ChangedValue, DiffReport, OnlyIn
from ckptctl.markdown import MAX_ROWS, diff_markdown, escape, warnings_markdown


def report(only_in_a: list[OnlyIn], changed: list[ChangedValue]) -> DiffReport:
    return DiffReport(
        a="runs/a/ckpt-1",
        b="runs/b/ckpt-1",
        a_naming="object-graph",
        b_naming="object-graph",
        equal=False,
        atol=0.0,
        rtol=0.0,
        only_in_a=only_in_a,
        only_in_b=[],
        changed=changed,
        unchanged=0,
        compared=len(changed),
        a_values=len(only_in_a) + len(changed),
        b_values=len(changed),
    )


def changed(path: str, max_abs: float) -> ChangedValue:
    key = path.replace(".", "/") + "/.ATTRIBUTES/VARIABLE_VALUE"
    return ChangedValue(
        key, path, [4], [4], "float32", "float32", max_abs, 0.5, "values", 4, 4, 0, key, path,
        "key",
    )  # fmt: skip


def test_numbered_paths_fold_as_in_the_terminal() -> None:
    only = [OnlyIn(f"k{i}", f"model.layers.{i}.kernel", [8, 8], "float32") for i in range(12)]
    lines = diff_markdown(report(only, [])).splitlines()
    start = lines.index("#### Only in A (12)")
    assert lines[start + 2 :] == [
        "| path or key | shape | dtype |",
        "| --- | --- | --- |",
        "| `model.layers.{0..11}.kernel` | [8, 8] | float32 |",
    ]


def test_long_tables_are_cut_and_say_how_many_rows_are_left() -> None:
    many = [changed(f"model.dense_{i}.bias", 1.0 / (i + 1)) for i in range(MAX_ROWS + 20)]
    lines = diff_markdown(report([], many)).splitlines()
    rows = [line for line in lines if line.startswith("| `model.dense_")]
    assert len(rows) == MAX_ROWS
    assert lines[-1] == "… and 20 more rows: see the job's log or `--json`."
    assert lines[0] == (
        f"### ❌ ckptctl diff: A and B differ: {MAX_ROWS + 20} changed, 0 unchanged "
        "(atol=0, rtol=0)"
    )


def test_markup_is_escaped() -> None:
    assert escape("a|b *c* _d_ <e> `f`") == "a\\|b \\*c\\* \\_d\\_ \\<e\\> \\`f\\`"
    (line,) = [
        x
        for x in warnings_markdown(
            "pkg:Net", [CaughtWarning("UserWarning", "`build()` on <net>", "keras", "f.py", 1)]
        )
        if x.startswith("- ")
    ]
    assert line == "- UserWarning (keras): \\`build()\\` on \\<net\\>"

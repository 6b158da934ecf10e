"""`ckptctl.layout`: paths fold only between names, numbers keep one format per column, and
tables fit the width they are laid out for."""

from __future__ import annotations

import pytest

from ckptctl.layout import (
    Cell,
    ColumnSpec,
    Table,
    fit_widths,
    fold_path,
    number_column,
    plain,
    table_lines,
    text_lines,
    wrap_words,
)

LONG = "net.feature_extractor_backbone.residual_stage_three_bottleneck.bn1.moving_variance"
KEY = "net/optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize("width", [100, 80, 40, 34])
def test_fold_path_breaks_only_after_a_dot(width: int) -> None:
    lines = fold_path(LONG, width)
    assert all(len(line) <= width for line in lines)
    assert all(line.endswith(".") for line in lines[:-1])
    assert all(line.startswith("  ") and not line.startswith("   ") for line in lines[1:])
    assert "".join(line.strip() for line in lines) == LONG


def test_fold_path_keys_break_after_a_slash() -> None:
    lines = fold_path(KEY, 30)
    assert lines == ["net/optimizer/", "  _trainable_variables/0/.", "  ATTRIBUTES/VARIABLE_VALUE"]


def test_a_name_wider_than_the_line_is_elided_in_the_middle() -> None:
    name = "residual_stage_three_bottleneck."
    lines = fold_path("net." + name + "conv", 20)
    assert lines == ["net.", "  residual…ttleneck.", "  conv"]
    assert all(len(line) <= 20 for line in lines)


def test_fold_path_keeps_indentation_and_continues_deeper() -> None:
    assert fold_path("   momentum of net.a_long_name.b", 20) == [
        "   momentum of net.",
        "     a_long_name.b",
    ]


def test_wrap_words_folds_long_words_as_paths() -> None:
    text = f"1 of 4 differ from the checkpoint: {LONG}, net.b"
    lines = wrap_words(text, 40)
    assert all(len(line) <= 40 for line in lines)
    assert LONG in "".join(line.strip() if line.startswith(" ") else line for line in lines)


def test_number_column_one_format_per_column() -> None:
    assert number_column([0.01, 0.00984, None, float("inf"), 0.0]) == [
        "0.01000",
        "0.00984",
        "-",
        "inf",
        "0",
    ]
    assert number_column([1.84e19, 2.5e-7]) == ["1.84e+19", "2.50e-07"]
    assert number_column([2.0, 3.0, 0.0]) == ["2", "3", "0"]
    assert number_column([None], "") == [""]


def test_fit_widths_shrinks_flexible_columns_then_drops() -> None:
    path, shape, count = (
        ColumnSpec(60, 20, True),
        ColumnSpec(13, 13, False, 1),
        ColumnSpec(8, 8, False),
    )
    assert fit_widths([path, shape, count], 100) == [60, 13, 8]
    assert fit_widths([path, shape, count], 60) == [35, 13, 8]
    assert fit_widths([path, shape, count], 40) == [30, None, 8]  # shape goes first


def test_table_lines_fit_and_a_long_path_takes_its_own_line() -> None:
    """The path column is as wide as the paths that fit; a wider one takes its own line
    (folded after a dot, as it is wider than the table), the row's cells under it."""
    table = Table(
        "Changed (2)",
        ["path or key", "shape", "max abs", "differ"],
        [["net.bn1.gamma", "[64]", "0.00100", "64/64"], [LONG, "[64]", "0.00984", "1/64\n1 NaN"]],
        ["B: other.path", None],
        right=(2, 3),
    )
    assert [plain(line) for line in table_lines(table, 60)] == [
        "Changed (2)",
        "path or key    shape  max abs  differ",
        "-------------  -----  -------  ------",
        "net.bn1.gamma  [64]   0.00100   64/64",
        "  B: other.path",
        "net.feature_extractor_backbone.",
        "  residual_stage_three_bottleneck.bn1.moving_variance",
        "               [64]   0.00984    1/64",
        "                                1 NaN",
    ]


def test_a_column_left_out_is_named() -> None:
    """Too narrow for every column: dtype (dropped first) goes, and a line says so."""
    table = Table(
        "",
        ["path", "shape", "dtype", "NaN/Inf"],
        [["a.b.c.d.e.f.g.h", "[3, 3, 3, 64]", "float32", "0"]],
        drop=(0, 2, 1, 0),
        right=(3,),
        min_widths=(20,),
    )
    assert [plain(line) for line in table_lines(table, 40)] == [
        "path             shape          NaN/Inf",
        "---------------  -------------  -------",
        "a.b.c.d.e.f.g.h  [3, 3, 3, 64]        0",
        "(left out to fit 40 columns: dtype;",
        "--json has every field)",
    ]


def _mixed_table() -> Table:
    """Rows of every kind: plain text, a slot under its path, a path too wide for its column,
    a cell of two lines, and a column with a role of its own."""
    rows: list[list[Cell]] = [
        ["model.dense.kernel", "model/dense/kernel", "float32", "[4, 8]", "32"],
        [
            [("optimizer.m", None), ("   m of model.dense.kernel", "slot")],
            "optimizer/m",
            "float32",
            "[4, 8]",
            "32",
        ],
        ["model." + ".".join(f"block_{i}" for i in range(12)), "k", "int64", "[]", "1"],
        ["model.b", "two\nlines", "float16", "[3]", "3"],
    ]
    return Table(
        "",
        ["object path", "checkpoint key", "dtype", "shape", "elements"],
        rows,
        kinds=("path", "path", "fixed", "fixed", "fixed"),
        right=(4,),
        column_roles=(None, "dim"),
        row_roles=[None, None, "bad", None],
    )


@pytest.mark.parametrize("width", [40, 60, 80, 120, 250])
def test_plain_text_is_the_same_whether_styled_or_not(width: int) -> None:
    """``styled=False`` lays a row out in one format call; the text must not change."""
    table = _mixed_table()
    styled = [plain(line) for line in table_lines(table, width)]
    unstyled = [plain(line) for line in table_lines(table, width, styled=False)]
    assert unstyled == styled
    if width >= 80:
        assert all(len(line) <= width for line in styled)


def test_a_slot_line_goes_under_its_row_across_the_table() -> None:
    table = Table(
        "",
        ["object path", "dtype"],
        [[[("optimizer.m", None), ("   m of model.w", "slot")], "float32"], ["model.w", "int8"]],
    )
    lines = table_lines(table, 80)
    assert [plain(line) for line in lines] == [
        "object path  dtype",
        "-----------  -------",
        "optimizer.m  float32",
        "   m of model.w",
        "model.w      int8",
    ]
    assert lines[3] == [("   m of model.w", "slot")]


def _slots_table() -> Table:
    """An inspect table's usual rows: plain paths, and slots with their variable under them."""
    rows: list[list[Cell]] = []
    for i in range(4):
        rows.append([f"model.dense_{i}.kernel", f"model/dense_{i}/kernel", "float32", "[4]"])
        for slot in ("m", "v"):
            rows.append(
                [
                    [
                        (f"optimizer.{slot}_{i}", None),
                        (f"   {slot} of model.dense_{i}.kernel", "slot"),
                    ],
                    f"optimizer/{slot}_{i}",
                    "float32",
                    "[4]",
                ]
            )
    return Table(
        "",
        ["object path", "checkpoint key", "dtype", "shape"],
        rows,
        kinds=("path", "path", "fixed", "fixed"),
        column_roles=(None, "dim"),
        row_roles=[None, "bad"] * 6,
        sections=[2, 5],
    )


@pytest.mark.parametrize("width", [30, 50, 80, 120])
def test_slot_rows_laid_out_in_bulk_read_as_row_by_row(width: int) -> None:
    """Unstyled, rows whose first cells are slots are formatted in bulk: the same text as the
    styled layout, row by row, and the slot lines keep their role."""
    table = _slots_table()
    styled = table_lines(table, width)
    unstyled = table_lines(table, width, styled=False)
    assert [plain(line) for line in unstyled] == [plain(line) for line in styled]
    assert text_lines(table, width) == [plain(line) for line in styled]
    assert ("   m of model.dense_0.kernel", "slot") in [p for line in unstyled for p in line]

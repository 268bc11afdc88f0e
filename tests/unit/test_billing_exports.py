"""CSV exports never carry a formula into the cashier's spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from hospital.billing.exports import csv_text, safe_cell


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")', "|cmd", "%0A"],
)
def test_formula_like_cells_are_neutralised(value: str) -> None:
    assert safe_cell(value).startswith("'")


@pytest.mark.parametrize("value", ["12.00", "挂号费", "HQ2026", "", "a=b"])
def test_ordinary_cells_are_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_csv_has_a_bom_and_safe_cells() -> None:
    text = csv_text(["Time", "Transaction"], [["10:00", "=cmd|' /C calc'!A0"], ["10:01", "普通"]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][1].startswith("'=")
    assert rows[2][1] == "普通"

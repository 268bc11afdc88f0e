"""Patients find a department by Chinese name, English name or pinyin initials."""

from __future__ import annotations

import pytest

from scheduling.finding import department_matches, pinyin_initials


def test_pinyin_initials_of_a_chinese_name() -> None:
    assert pinyin_initials("内科") == "nk"
    assert pinyin_initials("心血管内科") == "xxgnk"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("内", True),
        ("内科", True),
        ("nk", True),
        ("NK", True),
        ("n", True),
        ("medicine", True),
        ("Internal Med", True),
        ("外科", False),
        ("wk", False),
        ("kn", False),
    ],
)
def test_department_search(query: str, expected: bool) -> None:
    assert department_matches(query, "内科", "Internal Medicine", "nk") is expected


def test_initials_are_worked_out_when_not_stored() -> None:
    assert department_matches("ek", "儿科", "Paediatrics")
